"""The staff API under /api/v1/cases: list, read, move, reply, note, reclassify."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from casework import actions, assignment, staff, store
from casework.auth import SESSION_COOKIE, staff_actor
from casework.models import FIELDS, Actor, Role, Status
from kernel.errors import BadRequest, NotFound, Unauthorized
from kernel.http import SERVICES, error_response, json_response, parse_body, read_json
from kernel.text import fold
from kernel.time import LOCAL_TZ

log = logging.getLogger(__name__)

ALL_STAFF = (Role.AGENT, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
EDITORS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
MAX_BODY = 64 * 1024


def case_json(case: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": case["id"],
        "tracking_code": case["tracking_code"],
        "status": case["status"],
        "channel": case["channel"],
        "field": case["field"],
        "confidence": case["confidence"],
        "classifier_version": case["classifier_version"],
        "urgent": case["urgent"],
        "language": case["language"],
        "description": case["description"],
        "entities": case["entities"],
        "address": case["address"],
        "lat": case["lat"],
        "lon": case["lon"],
        "ward_code": case["ward_code"],
        "geocode_confidence": case["geocode_confidence"],
        "department": case["department"],
        "department_name": case["department_name_vi"],
        "routing_reason": case["routing_reason"],
        "due_at": case["due_at"],
        "deadline_reason": case["deadline_reason"],
        "duplicate_of": case["duplicate_of"],
        "duplicate_score": case["duplicate_score"],
        "priority": case["priority"],
        "sla_state": case["sla_state"],
        "clock_paused": case["clock_paused_at"] is not None,
        "forwarded_at": case["forwarded_at"],
        "accepted_at": case["accepted_at"],
        "first_response_at": case["first_response_at"],
        "resolved_at": case["resolved_at"],
        "assignee": case["assignee"],
        "procedure_suggestions": case["procedure_suggestions"],
        "processed_at": case["processed_at"],
        "created_at": case["created_at"],
        "updated_at": case["updated_at"],
    }


_body = parse_body


# Row ids are PostgreSQL bigints; a longer number, or a Unicode digit ("²", "٣") that str.isdigit()
# accepts and int() or the database does not, is refused before any lookup.
MAX_ID = 2**63 - 1


def _row_id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_ID:
        raise BadRequest({"field": name, "message": "not an id: a whole number from 0 to 2^63-1"})
    return int(raw)


def _case_id(request: web.Request) -> int:
    return _row_id(request, "case_id")


def _cursor_encode(case: asyncpg.Record) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": case["id"]}).encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded.encode()))["before"])
    except (ValueError, TypeError, KeyError) as e:
        raise BadRequest({"field": "cursor", "message": "not a cursor from this API"}) from e


def _date(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest({"field": name, "message": "use an ISO 8601 date or time"}) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value


async def list_cases(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    q = request.query
    status = q.get("status")
    if status is not None and status not in Status.__members__.values():
        raise BadRequest({"field": "status", "message": "unknown status"})
    if q.get("field") is not None and q["field"] not in FIELDS:
        raise BadRequest({"field": "field", "message": "unknown field code"})
    try:
        limit = min(max(int(q.get("limit", "50")), 1), 200)
    except ValueError:
        raise BadRequest({"field": "limit", "message": "a number from 1 to 200"}) from None
    urgent = {"true": True, "false": False}.get(q.get("urgent", ""), None)
    flt = store.CaseFilter(
        status=status, field=q.get("field"), department=q.get("department"), ward=q.get("ward"),
        channel=q.get("channel"), since=_date(request, "from"), until=_date(request, "to"),
        text=fold(q["q"]) if q.get("q") else None, urgent=urgent,
    )
    after = _cursor_decode(q["cursor"]) if q.get("cursor") else None
    scope = actor.department if actor.is_department else None
    async with request.app[SERVICES].pool.acquire() as conn:
        rows = await store.list_cases(conn, flt, scope_department=scope, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response({
        "items": [case_json(r) for r in rows],
        "next_cursor": _cursor_encode(rows[-1]) if more and rows else None,
    })


def _event_json(e: asyncpg.Record) -> dict[str, Any]:
    return {k: e[k] for k in ("id", "at", "actor_kind", "actor_id", "actor_name", "kind", "from_status",
                              "to_status", "changes", "reason", "public")}


def _message_json(m: asyncpg.Record) -> dict[str, Any]:
    return {k: m[k] for k in ("id", "direction", "channel", "kind", "text", "status", "created_at", "sent_at",
                              "author_id", "sender", "recipient", "error")} | {"attachments": m["files"]}


async def get_case(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    found = await actions.get_case(request.app[SERVICES].pool, _case_id(request), actor)
    body = case_json(found["case"])
    body["citizen"] = found["citizen"]
    body["messages"] = [_message_json(m) for m in found["messages"]]
    body["events"] = [_event_json(e) for e in found["events"]]
    return json_response(body)


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status
    reason: str | None = Field(default=None, max_length=2000)
    duplicate_of: int | None = None
    department: str | None = None


def _request_key(request: web.Request, data: dict[str, Any]) -> actions.RequestKey | None:
    """The request's Idempotency-Key with a hash of its path and body; None when it sent none."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not (1 <= len(key) <= 200) or not key.isascii() or not key.isprintable():
        raise BadRequest({"field": "Idempotency-Key", "message": "1 to 200 printable ASCII characters"})
    digest = hashlib.sha256(f"{request.path}\n{json.dumps(data, sort_keys=True)}".encode()).hexdigest()
    return actions.RequestKey(key, digest)


async def change_status(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    data = await read_json(request, MAX_BODY)
    body = _body(StatusIn, data)
    services = request.app[SERVICES]
    case_id = _case_id(request)
    deadline = await _deadline(request, case_id) if body.status is Status.FORWARDED else None
    await actions.change_status(services.pool, case_id, body.status, actor, reason=body.reason,
                                duplicate_of=body.duplicate_of, department=body.department, deadline=deadline,
                                request=_request_key(request, data), now=services.clock())
    return await _fresh(request, case_id, actor)


async def _deadline(request: web.Request, case_id: int, pauses: list | None = None) -> actions.Deadline | None:
    """The case's resolution deadline under the current SLA policies (routing computes, casework stores)."""
    from routing import CaseFacts

    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
        if case is None:
            return None
        if pauses is None:
            pauses = await store.pauses_of(conn, case_id)
    router = await services.current_router()
    facts = CaseFacts(field=case["field"], ward_code=case["ward_code"], urgent=case["urgent"], channel=case["channel"],
                      text=case["description"], opened_at=case["created_at"], pauses=tuple(pauses))
    deadline = router.deadline(facts, now=services.clock())
    if deadline is None:
        return None
    return actions.Deadline(due_at=deadline.due_at, reason=deadline.explanation_vi,
                            priority="urgent" if case["urgent"] else "normal")


def _code(value: str) -> str:
    if not value or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("a code: no spaces or control characters")
    return value


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; other control characters are dropped by kernel.text.clean.
    if "\x00" in value:
        raise ValueError("no NUL characters")
    return value


# Unit, field and ward codes, and reasons, as staff bodies carry them (lengths before the checks, so a
# too-long value is told as such).
Code = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_code)]
WardCode = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_code)]
Reason = Annotated[str, Field(max_length=2000), AfterValidator(_text)]


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    department: Code
    reason: Reason = Field(min_length=1)


async def transfer(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    body = _body(TransferIn, await read_json(request, MAX_BODY))
    case_id = _case_id(request)
    await actions.transfer(request.app[SERVICES].pool, case_id, actor, body.department, body.reason,
                           deadline=await _deadline(request, case_id))
    return await _fresh(request, case_id, actor)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason | None = None


async def pause(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    body = _body(ReasonIn, await read_json(request, MAX_BODY))
    case_id = _case_id(request)
    await actions.pause_clock(request.app[SERVICES].pool, case_id, actor, body.reason or "",
                              now=request.app[SERVICES].clock())
    return await _fresh(request, case_id, actor)


async def resume(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    if request.body_exists:  # no body is needed; one that is sent must still be a proper one
        _body(ReasonIn, await read_json(request, MAX_BODY))
    case_id = _case_id(request)
    services = request.app[SERVICES]
    from routing import CaseFacts

    async with services.pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
    router = await services.current_router()

    def deadline_after(pauses: list) -> actions.Deadline | None:
        if case is None or case["due_at"] is None:
            return None
        facts = CaseFacts(field=case["field"], ward_code=case["ward_code"], urgent=case["urgent"],
                          channel=case["channel"], text=case["description"], opened_at=case["created_at"],
                          pauses=tuple(pauses))
        found = router.deadline(facts, now=services.clock())
        return actions.Deadline(found.due_at, found.explanation_vi) if found else None

    await actions.resume_clock(services.pool, case_id, actor, deadline_after, now=services.clock())
    return await _fresh(request, case_id, actor)


async def confirm_duplicate(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *EDITORS)
    case_id = _case_id(request)
    await actions.confirm_duplicate(request.app[SERVICES].pool, case_id, actor)
    return await _fresh(request, case_id, actor)


async def my_notifications(request: web.Request) -> web.Response:
    actor = await staff_actor(request, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
    async with request.app[SERVICES].pool.acquire() as conn:
        rows = await store.notifications(conn, department=actor.department, supervisors=not actor.is_department)
    return json_response({"items": [dict(r) for r in rows]})


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=10_000)
    final: bool = False


async def reply(request: web.Request) -> web.Response:
    """Queue a reply; the send is requested after the commit and never fails the request (the sweeper backs it)."""
    actor = await staff_actor(request, *ALL_STAFF)
    data = await read_json(request, MAX_BODY)
    body = _body(TextIn, data)
    services = request.app[SERVICES]
    case_id = _case_id(request)
    message_ids = await actions.reply(services.pool, case_id, actor, body.text, final=body.final,
                                      request=_request_key(request, data), now=services.clock())
    await services.jobs.send(*message_ids)
    return json_response({"message_id": message_ids[0], "notices": message_ids[1:], "status": "queued"}, status=201)


async def add_note(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    data = await read_json(request, MAX_BODY)
    body = _body(TextIn, data)
    await actions.add_note(request.app[SERVICES].pool, _case_id(request), actor, body.text,
                           request=_request_key(request, data))
    return json_response({"status": "noted"}, status=201)


class CaseUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: Code | None = None
    ward_code: WardCode | None = None
    department: Code | None = None
    reason: Reason | None = None


async def update_case(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *EDITORS)
    data = await read_json(request, MAX_BODY)
    body = _body(CaseUpdateIn, data)
    changes = {k: getattr(body, k) for k in ("field", "ward_code", "department") if k in data}
    if not changes:
        raise BadRequest({"field": None, "message": "nothing to change: give field, ward_code or department"})
    case_id = _case_id(request)
    await actions.update_case(request.app[SERVICES].pool, case_id, actor, changes, reason=body.reason)
    return await _fresh(request, case_id, actor)


async def _fresh(request: web.Request, case_id: int, actor: Actor) -> web.Response:
    """Answer with the case as it is now, after giving waiting cases to whoever has room."""
    pool = request.app[SERVICES].pool
    async with pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
    await assignment.backfill(pool, None)
    if case["department"]:
        await assignment.backfill(pool, case["department"])
    async with pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
    return json_response(case_json(case))


class PresenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    available: bool


async def presence(request: web.Request) -> web.Response:
    """Staff say they are available (or away); available people get waiting cases at once."""
    actor = await staff_actor(request, Role.AGENT, Role.DEPARTMENT)
    body = _body(PresenceIn, await read_json(request, MAX_BODY))
    pool = request.app[SERVICES].pool
    unit = await assignment.set_presence(pool, actor.id, body.available)
    assigned = await assignment.backfill(pool, unit) if body.available else []
    return json_response({"available": body.available, "assigned": [case for case, who in assigned if who == actor.id]})


async def attachment(request: web.Request) -> web.Response:
    """An attachment of a case the actor may see; another unit's is as missing as a wrong id (no existence leak)."""
    actor = await staff_actor(request, *ALL_STAFF)
    attachment_id = _row_id(request, "attachment_id")
    scope = actor.department if actor.is_department else None
    async with request.app[SERVICES].pool.acquire() as conn:
        row = await store.attachment(conn, attachment_id, scope_department=scope)
    if row is None:
        raise NotFound("no such attachment")
    return web.Response(body=row["data"], content_type=row["content_type"], headers={
        "Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff",
    })


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=500)


async def login(request: web.Request) -> web.Response:
    """POST /api/v1/session: sign in; 429 with Retry-After while the user name is locked out."""
    body = _body(LoginIn, await read_json(request, MAX_BODY))
    services = request.app[SERVICES]
    settings = services.settings
    policy = staff.LockoutPolicy(settings.login_max_failures, settings.login_failure_window_seconds,
                                 settings.login_lockout_seconds)
    try:
        session = await staff.login(services.pool, body.username, body.password, settings.session_ttl_hours,
                                    policy=policy)
    except staff.LoginLocked as e:
        response = error_response(e.code, e.http_status, e.detail)
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    if session is None:
        raise Unauthorized("wrong user name or password")
    token, csrf = session
    response = json_response({"csrf_token": csrf})
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict",
                        secure=services.settings.public_url.startswith("https"),
                        max_age=services.settings.session_ttl_hours * 3600)
    return response


async def logout(request: web.Request) -> web.Response:
    await staff_actor(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await staff.logout(request.app[SERVICES].pool, token)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE)
    return response


async def me(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    return json_response({"id": actor.id, "name": actor.name, "role": actor.role, "department": actor.department})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/cases", list_cases)
    r.add_get("/api/v1/cases/{case_id}", get_case)
    r.add_patch("/api/v1/cases/{case_id}", update_case)
    r.add_post("/api/v1/cases/{case_id}/status", change_status)
    r.add_post("/api/v1/cases/{case_id}/replies", reply)
    r.add_post("/api/v1/cases/{case_id}/notes", add_note)
    r.add_post("/api/v1/cases/{case_id}/transfer", transfer)
    r.add_post("/api/v1/cases/{case_id}/pause", pause)
    r.add_post("/api/v1/cases/{case_id}/resume", resume)
    r.add_post("/api/v1/cases/{case_id}/duplicate/confirm", confirm_duplicate)
    r.add_get("/api/v1/notifications", my_notifications)
    r.add_put("/api/v1/me/presence", presence)
    r.add_get("/api/v1/attachments/{attachment_id}", attachment)
    r.add_post("/api/v1/session", login)
    r.add_delete("/api/v1/session", logout)
    r.add_get("/api/v1/me", me)
