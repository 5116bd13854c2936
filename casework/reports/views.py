"""The statistics API: GET /api/v1/stats/sla and /api/v1/stats/dti (supervisors, admins, and a unit for itself)."""

from __future__ import annotations

from aiohttp import web
from multidict import MultiMapping

from casework.auth import staff_actor
from casework.models import Actor, Role
from casework.reports import periods, sla
from kernel.errors import BadRequest, Forbidden
from kernel.http import SERVICES, json_response
from kernel.inputs import query_text

READERS = (Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
SLA_PARAMS = frozenset({"from", "to", "month", "by", "unit"})
DTI_PARAMS = frozenset({"quarter", "unit"})
MAX_PARAM = 64


def _query(query: MultiMapping[str], known: frozenset[str]) -> dict[str, str]:
    """The query's values, each given once and bounded; 400 naming an unknown or repeated parameter."""
    out: dict[str, str] = {}
    for name in query:
        if name not in known:
            raise BadRequest({"field": name, "message": "unknown parameter; these are known: "
                              + ", ".join(sorted(known))})
        if len(query.getall(name)) > 1:
            raise BadRequest({"field": name, "message": "give this parameter once"})
        out[name] = query_text(query, name, MAX_PARAM) or ""
    return out


async def _unit(request: web.Request, actor: Actor, asked: str | None) -> str | None:
    """The unit whose cases the caller may count: a department user's own, else the one asked for (or all)."""
    if actor.is_department:
        if asked is not None and asked != actor.department:
            raise Forbidden("a unit sees its own figures only")
        return actor.department
    if asked is not None and not await sla.unit_exists(request.app[SERVICES].pool, asked):
        raise BadRequest({"field": "unit", "message": "no such unit"})
    return asked


async def sla_stats(request: web.Request) -> web.Response:
    """GET /api/v1/stats/sla?from=&to= | month=, by=unit|field|channel|ward, unit=: the SLA report as JSON."""
    actor = await staff_actor(request, *READERS)
    q = _query(request.query, SLA_PARAMS)
    services = request.app[SERVICES]
    now = services.clock()
    period = periods.sla_period(month=q.get("month"), date_from=q.get("from"), date_to=q.get("to"), now=now)
    by = sla.check_group(q.get("by", "unit"))
    unit = await _unit(request, actor, q.get("unit"))
    router = await services.current_router()
    report = await sla.sla_report(services.pool, period, by, unit=unit, clock=router.calendar, now=now,
                                  legal_answer_days=services.settings.legal_answer_days)
    return json_response(report.as_dict())


async def dti_stats(request: web.Request) -> web.Response:
    """GET /api/v1/stats/dti?quarter=2026-Q4&unit=: the DTI responsiveness figures, the city first, then each unit."""
    actor = await staff_actor(request, *READERS)
    q = _query(request.query, DTI_PARAMS)
    services = request.app[SERVICES]
    now = services.clock()
    period = periods.dti_period(quarter_text=q.get("quarter"), now=now)
    unit = await _unit(request, actor, q.get("unit"))
    router = await services.current_router()
    rows = await sla.dti_report(services.pool, period, unit=unit, clock=router.calendar, now=now,
                                legal_answer_days=services.settings.legal_answer_days)
    return json_response({
        "period": {"label": period.label, "start": period.start, "end": period.end},
        "unit": unit, "computed_at": now, "rows": [r.as_dict() for r in rows],
    })


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/stats/sla", sla_stats)
    app.router.add_get("/api/v1/stats/dti", dti_stats)
