"""Moving a case through its life: status, transfer, assignment, the SLA clock (pause, resume), duplicate links."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from casework import actions, assignment, store
from casework.auth import staff_actor
from casework.models import Status
from casework.views.cases import fresh_case
from casework.views.inputs import ALL_STAFF, EDITORS, MAX_BODY, MAX_ID, Code, Reason, path_case_id, request_key
from kernel.http import SERVICES, parse_body, read_json


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status
    reason: Reason | None = None
    duplicate_of: int | None = Field(default=None, ge=1, le=MAX_ID)  # a case id: bigint
    duplicate_of_code: str | None = Field(default=None, min_length=1, max_length=40)  # its tracking code
    department: Code | None = None


async def change_status(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    data = await read_json(request, MAX_BODY)
    body = parse_body(StatusIn, data)
    services = request.app[SERVICES]
    case_id = path_case_id(request)
    deadline = await _deadline(request, case_id) if body.status is Status.FORWARDED else None
    notices = await actions.change_status(services.pool, case_id, body.status, actor, reason=body.reason,
                                          duplicate_of=body.duplicate_of, duplicate_of_code=body.duplicate_of_code,
                                          department=body.department,
                                          deadline=deadline, request=request_key(request, data), now=services.clock())
    await services.jobs.send(*notices)
    return await fresh_case(request, case_id, actor)


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
                            priority="urgent" if case["urgent"] else "normal", reason_en=deadline.explanation_en)


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    department: Code
    reason: Reason = Field(min_length=1)


async def transfer(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    body = parse_body(TransferIn, await read_json(request, MAX_BODY))
    case_id = path_case_id(request)
    await actions.transfer(request.app[SERVICES].pool, case_id, actor, body.department, body.reason,
                           deadline=await _deadline(request, case_id))
    return await fresh_case(request, case_id, actor)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason | None = None


async def pause(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    body = parse_body(ReasonIn, await read_json(request, MAX_BODY))
    case_id = path_case_id(request)
    await actions.pause_clock(request.app[SERVICES].pool, case_id, actor, body.reason or "",
                              now=request.app[SERVICES].clock())
    return await fresh_case(request, case_id, actor)


async def resume(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    if request.body_exists:  # no body is needed; one that is sent must still be a proper one
        parse_body(ReasonIn, await read_json(request, MAX_BODY))
    case_id = path_case_id(request)
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
        return actions.Deadline(found.due_at, found.explanation_vi, reason_en=found.explanation_en) if found else None

    await actions.resume_clock(services.pool, case_id, actor, deadline_after, now=services.clock())
    return await fresh_case(request, case_id, actor)


async def confirm_duplicate(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *EDITORS)
    case_id = path_case_id(request)
    await actions.confirm_duplicate(request.app[SERVICES].pool, case_id, actor)
    return await fresh_case(request, case_id, actor)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: int | None = Field(ge=1, le=MAX_ID)  # a staff user's id; null: back to the queue
    reason: Reason | None = None


async def assign(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    data = await read_json(request, MAX_BODY)
    body = parse_body(AssignIn, data)
    services = request.app[SERVICES]
    case_id = path_case_id(request)
    await assignment.assign(services.pool, case_id, actor, body.assignee, reason=body.reason,
                            request=request_key(request, data), now=services.clock())
    return await fresh_case(request, case_id, actor)


class UnlinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason = Field(min_length=1)


async def unlink_duplicate(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *EDITORS)
    data = await read_json(request, MAX_BODY)
    body = parse_body(UnlinkIn, data)
    services = request.app[SERVICES]
    case_id = path_case_id(request)
    unit = await _unit_for(request, case_id)
    deadline = await _deadline(request, case_id) if unit else None
    notices = await actions.unlink_duplicate(services.pool, case_id, actor, body.reason, department=unit,
                                             deadline=deadline, request=request_key(request, data),
                                             now=services.clock())
    await services.jobs.send(*notices)
    return await fresh_case(request, case_id, actor)


async def _unit_for(request: web.Request, case_id: int) -> str | None:
    """The unit a case goes back to: the one it had, else where the routing rules send it now (None: triage)."""
    from routing import CaseFacts

    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
    if case is None:
        return None
    if case["department"]:
        return case["department"]
    router = await services.current_router()
    facts = CaseFacts(field=case["field"], ward_code=case["ward_code"], urgent=case["urgent"], channel=case["channel"],
                      text=case["description"], opened_at=case["created_at"])
    decision = router.route(facts, now=services.clock())
    return decision.department if decision is not None else None
