"""The admin API under /api/v1/admin/: units, routing rules, SLA policies and the calendar (admin only).

Every change applies to the next routing decision without a restart: the hub's router snapshot
reloads when these tables change.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kernel.actors import Role
from kernel.auth import staff_actor
from kernel.cases import FIELD_CODES
from kernel.errors import BadRequest, NotFound, Unprocessable
from kernel.http import SERVICES, json_response, parse_body, read_json
from kernel.inputs import INT_MAX, query_text, whole_number
from routing import CaseFacts
from routing import store as routing_store
from routing.rules import WARD_UNIT

MAX_BODY = 64 * 1024
UnitKind = Literal["department", "agency", "utility", "telecom", "ward", "hotline"]


_body = parse_body


def _row(record) -> dict[str, Any]:  # noqa: ANN001 - an asyncpg record
    return dict(record)


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_vi: str = Field(min_length=1, max_length=300)
    name_en: str = Field(min_length=1, max_length=300)
    kind: UnitKind
    ward_code: str | None = Field(default=None, max_length=10)
    accept_minutes: int = Field(default=240, ge=5, le=60 * 24 * 30)
    notes: str | None = Field(default=None, max_length=2000)
    active: bool = True


class UnitPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_vi: str | None = Field(default=None, min_length=1, max_length=300)
    name_en: str | None = Field(default=None, min_length=1, max_length=300)
    kind: UnitKind | None = None
    accept_minutes: int | None = Field(default=None, ge=5, le=60 * 24 * 30)
    notes: str | None = Field(default=None, max_length=2000)
    active: bool | None = None


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: int = Field(default=50, ge=-1000, le=1000)
    field: str | None = None
    ward_codes: list[str] | None = Field(default=None, max_length=200)
    urgent: bool | None = None
    channel: str | None = Field(default=None, max_length=32)
    keywords: list[str] | None = Field(default=None, max_length=50)
    department: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=500)
    active: bool = True


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str | None = None
    priority: Literal["normal", "urgent"]
    forward_minutes: int = Field(ge=1, le=60 * 24 * 30)
    first_response_minutes: int = Field(ge=1, le=60 * 24 * 90)
    resolution_minutes: int = Field(ge=1, le=60 * 24 * 365)
    calendar: Literal["business", "24x7"]
    source: str = Field(default="", max_length=500)
    active: bool = True


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    working: bool
    note: str = Field(default="", max_length=300)


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    ward_code: str | None = None
    urgent: bool = False
    channel: str = "web"
    text: str = ""


async def _admin(request: web.Request) -> None:
    await staff_actor(request, Role.ADMIN)


def _check_field(value: str | None) -> None:
    if value is not None and value not in FIELD_CODES:
        raise BadRequest({"field": "field", "message": "unknown field code"})


async def _check_rule_target(conn, department: str) -> None:  # noqa: ANN001
    if department != WARD_UNIT and not await routing_store.unit_exists(conn, department):
        raise Unprocessable({"field": "department", "message": "unknown unit (or '@ward' for the case's ward)"})


async def _listing(request: web.Request, fetch) -> web.Response:  # noqa: ANN001 - conn -> awaitable rows
    await _admin(request)
    async with request.app[SERVICES].pool.acquire() as conn:
        rows = await fetch(conn)
    return json_response({"items": [_row(r) for r in rows]})


async def list_units(request: web.Request) -> web.Response:
    kind = query_text(request.query, "kind")
    return await _listing(request, lambda conn: routing_store.list_units(conn, kind))


async def put_unit(request: web.Request) -> web.Response:
    await _admin(request)
    code = _unit_code(request)
    body = _body(UnitIn, await read_json(request, MAX_BODY))
    async with request.app[SERVICES].pool.acquire() as conn:
        row = await routing_store.upsert_unit(conn, code, body.model_dump())
    return json_response(_row(row))


def _unit_code(request: web.Request) -> str:
    return unit_code(request.match_info["code"])


def unit_code(code: str) -> str:
    """A unit code from a path: letters, digits and dashes, at most 64; 400 otherwise."""
    if not code or len(code) > 64 or not code.replace("-", "").isalnum():
        raise BadRequest({"field": "code", "message": "letters, digits and dashes"})
    return code


async def patch_unit(request: web.Request) -> web.Response:
    await _admin(request)
    code = _unit_code(request)
    body = _body(UnitPatch, await read_json(request, MAX_BODY))
    values = body.model_dump(exclude_unset=True)
    if not values:
        raise BadRequest({"field": None, "message": "nothing to change"})
    _no_nulls(values, nullable={"notes"})
    async with request.app[SERVICES].pool.acquire() as conn:
        row = await routing_store.update_row(conn, "departments", "code", code, values, routing_store.UNIT_COLUMNS)
    if row is None:
        raise NotFound("no such unit")
    return json_response(_row(row))


async def list_rules(request: web.Request) -> web.Response:
    return await _listing(request, routing_store.list_rules)


async def create_rule(request: web.Request) -> web.Response:
    await _admin(request)
    body = _body(RuleIn, await read_json(request, MAX_BODY))
    _check_field(body.field)
    async with request.app[SERVICES].pool.acquire() as conn:
        await _check_rule_target(conn, body.department)
        row = await routing_store.insert_row(conn, "routing_rules", body.model_dump(), routing_store.RULE_COLUMNS)
    return json_response(_row(row), status=201)


def _int_id(request: web.Request) -> int:
    return row_id(request.match_info["id"])


def row_id(raw: str) -> int:
    """A rule's or a policy's id from a path: they are serial (int4); 400 otherwise."""
    return whole_number("id", raw, maximum=INT_MAX, message="not an id")


def _no_nulls(values: dict[str, Any], nullable: set[str]) -> None:
    """A partial update may clear only the columns that may be empty; `null` for another is 400, not a 500."""
    for name, value in values.items():
        if value is None and name not in nullable:
            raise BadRequest({"field": name, "message": "may not be null"}, code="invalid_body")


async def patch_rule(request: web.Request) -> web.Response:
    await _admin(request)
    values = _partial(RuleIn, await read_json(request, MAX_BODY))
    _check_field(values.get("field"))
    async with request.app[SERVICES].pool.acquire() as conn:
        if "department" in values:
            await _check_rule_target(conn, values["department"])
        row = await routing_store.update_row(conn, "routing_rules", "id", _int_id(request), values,
                                             routing_store.RULE_COLUMNS)
    if row is None:
        raise NotFound("no such rule")
    return json_response(_row(row))


def _partial(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Validate only the keys given, with the full model's rules."""
    unknown = set(data) - set(model.model_fields)
    if unknown:
        raise BadRequest({"field": sorted(unknown)[0], "message": "unknown key"})
    if not data:
        raise BadRequest({"field": None, "message": "nothing to change"})
    values = {}
    for name, value in data.items():
        try:
            checked = model.__pydantic_validator__.validate_assignment(model.model_construct(), name, value)
        except ValidationError as e:
            raise BadRequest({"field": name, "message": e.errors()[0]["msg"]}, code="invalid_body") from None
        values[name] = getattr(checked, name)  # as validated: "5" for an int column would fail in the driver
    return values


async def delete_rule(request: web.Request) -> web.Response:
    """Rules are retired, not deleted: decisions already taken name them."""
    await _admin(request)
    async with request.app[SERVICES].pool.acquire() as conn:
        row = await routing_store.update_row(conn, "routing_rules", "id", _int_id(request), {"active": False},
                                             routing_store.RULE_COLUMNS)
    if row is None:
        raise NotFound("no such rule")
    return json_response(_row(row))


async def list_policies(request: web.Request) -> web.Response:
    return await _listing(request, routing_store.list_policies)


async def create_policy(request: web.Request) -> web.Response:
    await _admin(request)
    body = _body(PolicyIn, await read_json(request, MAX_BODY))
    _check_field(body.field)
    async with request.app[SERVICES].pool.acquire() as conn:
        try:
            row = await routing_store.insert_row(conn, "sla_policies", body.model_dump(), routing_store.POLICY_COLUMNS)
        except asyncpg.UniqueViolationError:
            raise Unprocessable({"field": "field", "message": "a policy for this field and priority exists"}) from None
    return json_response(_row(row), status=201)


async def patch_policy(request: web.Request) -> web.Response:
    await _admin(request)
    values = _partial(PolicyIn, await read_json(request, MAX_BODY))
    _check_field(values.get("field"))
    policy_id = _int_id(request)
    async with request.app[SERVICES].pool.acquire() as conn:
        try:
            row = await routing_store.update_row(conn, "sla_policies", "id", policy_id, values,
                                                 routing_store.POLICY_COLUMNS)
        except asyncpg.UniqueViolationError:
            raise Unprocessable({"field": "field", "message": "a policy for this field and priority exists"}) from None
    if row is None:
        raise NotFound("no such policy")
    return json_response(_row(row))


def _day(request: web.Request) -> date:
    return calendar_day(request.match_info["day"])


def calendar_day(raw: str) -> date:
    """A calendar day from a path, YYYY-MM-DD; 400 otherwise."""
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest({"field": "day", "message": "use YYYY-MM-DD"}) from None


async def list_calendar(request: web.Request) -> web.Response:
    return await _listing(request, routing_store.list_overrides)


async def put_calendar_day(request: web.Request) -> web.Response:
    await _admin(request)
    body = _body(OverrideIn, await read_json(request, MAX_BODY))
    day = _day(request)
    async with request.app[SERVICES].pool.acquire() as conn:
        await routing_store.set_override(conn, day, body.working, body.note)
    return json_response({"day": day, "working": body.working, "note": body.note})


async def delete_calendar_day(request: web.Request) -> web.Response:
    await _admin(request)
    async with request.app[SERVICES].pool.acquire() as conn:
        if not await routing_store.delete_override(conn, _day(request)):
            raise NotFound("no override on that day")
    return web.Response(status=204)


async def preview(request: web.Request) -> web.Response:
    """Where would a case go now, and by when: the decision and its explanation, without a case."""
    await staff_actor(request, Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
    body = _body(PreviewIn, await read_json(request, MAX_BODY))
    _check_field(body.field)
    services = request.app[SERVICES]
    router = await services.current_router()
    now = services.clock()
    decision = router.route(CaseFacts(field=body.field, ward_code=body.ward_code, urgent=body.urgent,
                                      channel=body.channel, text=body.text, opened_at=now), now=now)
    if decision is None:
        return json_response({"department": None,
                              "reason": "Không có quy tắc nào áp dụng: cán bộ sẽ chuyển phản ánh này",
                              "reason_en": "No rule applies: a person routes this case"})
    return json_response({"department": decision.department, "reason": decision.reason_vi,
                          "reason_en": decision.reason_en, "due_at": decision.due_at,
                          "deadline_reason": decision.deadline_reason,
                          "deadline_reason_en": decision.deadline_reason_en, "rule": decision.rule_id})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/admin/units", list_units)
    r.add_put("/api/v1/admin/units/{code}", put_unit)
    r.add_patch("/api/v1/admin/units/{code}", patch_unit)
    r.add_get("/api/v1/admin/rules", list_rules)
    r.add_post("/api/v1/admin/rules", create_rule)
    r.add_patch("/api/v1/admin/rules/{id}", patch_rule)
    r.add_delete("/api/v1/admin/rules/{id}", delete_rule)
    r.add_get("/api/v1/admin/policies", list_policies)
    r.add_post("/api/v1/admin/policies", create_policy)
    r.add_patch("/api/v1/admin/policies/{id}", patch_policy)
    r.add_get("/api/v1/admin/calendar", list_calendar)
    r.add_put("/api/v1/admin/calendar/{day}", put_calendar_day)
    r.add_delete("/api/v1/admin/calendar/{day}", delete_calendar_day)
    r.add_post("/api/v1/routing/preview", preview)
