"""The case resource of the staff API: list with filters and cursors, read one, correct its facts."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict

from casework import actions, assignment, store
from casework.auth import staff_actor
from casework.models import FIELDS, Actor, Status
from casework.views.inputs import ALL_STAFF, EDITORS, MAX_BODY, Code, Reason, WardCode, path_case_id
from kernel.errors import BadRequest
from kernel.http import SERVICES, json_response, parse_body, read_json
from kernel.inputs import BIGINT_MAX, instant, loads_json, query_text
from kernel.text import fold


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
        "routing_reason_en": case["routing_reason_en"],
        "due_at": case["due_at"],
        "deadline_reason": case["deadline_reason"],
        "deadline_reason_en": case["deadline_reason_en"],
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


def _cursor_encode(case: asyncpg.Record) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": case["id"]}).encode()).decode().rstrip("=")


MAX_CURSOR = 64  # ours are about 30 characters


def _cursor_decode(cursor: str) -> int:
    """The case id a cursor of ours points before; 400 for anything else (1e400, past bigint, "[[[…")."""
    refused = BadRequest({"field": "cursor", "message": "not a cursor from this API"})
    if len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise refused
    try:
        data = loads_json(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, BadRequest):
        raise refused from None
    before = data.get("before") if isinstance(data, dict) else None
    if type(before) is not int or not 0 < before <= BIGINT_MAX:
        raise refused
    return before


def _date(query: Mapping[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    return instant(name, raw) if raw else None


@dataclass(frozen=True, slots=True)
class CaseQuery:
    """What GET /api/v1/cases asks for: the filter, the cursor's case id and the page size."""

    filter: store.CaseFilter
    after: int | None
    limit: int


def case_query(q: Mapping[str, str]) -> CaseQuery:
    """Validate the list's query string; 400 naming the parameter at fault."""
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
    text = query_text(q, "q")
    flt = store.CaseFilter(
        status=status, field=q.get("field"), department=query_text(q, "department"), ward=query_text(q, "ward"),
        channel=query_text(q, "channel"), since=_date(q, "from"), until=_date(q, "to"),
        text=fold(text) if text else None, urgent=urgent,
    )
    return CaseQuery(flt, _cursor_decode(q["cursor"]) if q.get("cursor") else None, limit)


async def list_cases(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    query = case_query(request.query)
    flt, after, limit = query.filter, query.after, query.limit
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
                              "author_id", "sender", "recipient", "error", "provider_status", "provider_error",
                              "segments")} | {"attachments": m["files"]}


async def get_case(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    found = await actions.get_case(request.app[SERVICES].pool, path_case_id(request), actor)
    body = case_json(found["case"])
    body["citizen"] = found["citizen"]
    body["messages"] = [_message_json(m) for m in found["messages"]]
    body["events"] = [_event_json(e) for e in found["events"]]
    return json_response(body)


class CaseUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: Code | None = None
    ward_code: WardCode | None = None
    department: Code | None = None
    reason: Reason | None = None


async def update_case(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *EDITORS)
    data = await read_json(request, MAX_BODY)
    body = parse_body(CaseUpdateIn, data)
    changes = {k: getattr(body, k) for k in ("field", "ward_code", "department") if k in data}
    if not changes:
        raise BadRequest({"field": None, "message": "nothing to change: give field, ward_code or department"})
    case_id = path_case_id(request)
    await actions.update_case(request.app[SERVICES].pool, case_id, actor, changes, reason=body.reason)
    return await fresh_case(request, case_id, actor)


async def fresh_case(request: web.Request, case_id: int, actor: Actor) -> web.Response:
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
