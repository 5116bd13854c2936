"""The statistics API: GET /api/v1/stats/sla and /api/v1/stats/dti (supervisors, admins, and a unit for itself).

JSON by default; `format=csv|xlsx|pdf` (and `lang=vi|en`) gives the same figures as a download
(casework/reports/exports.py), named after the period.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from multidict import MultiMapping

from casework.auth import staff_actor
from casework.models import Actor, Role
from casework.reports import exports, periods, sla
from kernel.errors import BadRequest, Forbidden
from kernel.http import SERVICES, json_response
from kernel.inputs import query_text

READERS = (Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
SLA_PARAMS = frozenset({"from", "to", "month", "by", "unit", "format", "lang"})
DTI_PARAMS = frozenset({"quarter", "unit", "format", "lang"})
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


def _download(data: bytes, fmt: str, name: str) -> web.Response:
    return web.Response(body=data, headers={"Content-Type": exports.MEDIA_TYPES[fmt],
                                            "Content-Disposition": f'attachment; filename="{name}"'})


async def sla_stats(request: web.Request) -> web.Response:
    """GET /api/v1/stats/sla?from=&to= | month=, by=, unit=, format=json|csv|xlsx|pdf, lang=vi|en: the SLA report."""
    actor = await staff_actor(request, *READERS)
    q = _query(request.query, SLA_PARAMS)
    services = request.app[SERVICES]
    now = services.clock()
    period = periods.sla_period(month=q.get("month"), date_from=q.get("from"), date_to=q.get("to"), now=now)
    by = sla.check_group(q.get("by", "unit"))
    fmt, lang = exports.check_format(q.get("format", "json")), exports.check_lang(q.get("lang", "vi"))
    unit = await _unit(request, actor, q.get("unit"))
    router = await services.current_router()
    days = services.settings.legal_answer_days
    report = await sla.sla_report(services.pool, period, by, unit=unit, clock=router.calendar, now=now,
                                  legal_answer_days=days)
    if fmt == "json":
        return json_response(report.as_dict())
    channels = None
    if fmt == "pdf" and by != "channel":  # the PDF's intake-by-channel chart
        channels = await sla.sla_report(services.pool, period, "channel", unit=unit, clock=router.calendar,
                                        now=now, legal_answer_days=days, refresh=False)
    data = await asyncio.to_thread(exports.sla_export, report, fmt, lang=lang, channels=channels)
    return _download(data, fmt, exports.filename("sla", period, fmt, by=by, unit=unit))


async def dti_stats(request: web.Request) -> web.Response:
    """GET /api/v1/stats/dti?quarter=2026-Q4&unit=&format=&lang=: the DTI figures, the city first, then each unit."""
    actor = await staff_actor(request, *READERS)
    q = _query(request.query, DTI_PARAMS)
    services = request.app[SERVICES]
    now = services.clock()
    period = periods.dti_period(quarter_text=q.get("quarter"), now=now)
    fmt, lang = exports.check_format(q.get("format", "json")), exports.check_lang(q.get("lang", "vi"))
    unit = await _unit(request, actor, q.get("unit"))
    router = await services.current_router()
    rows = await sla.dti_report(services.pool, period, unit=unit, clock=router.calendar, now=now,
                                legal_answer_days=services.settings.legal_answer_days)
    if fmt == "json":
        return json_response(exports.dti_dict(rows, period, computed_at=now, unit=unit))
    data = await asyncio.to_thread(exports.dti_export, rows, period, fmt, computed_at=now, unit=unit, lang=lang)
    return _download(data, fmt, exports.filename("dti", period, fmt, unit=unit))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/stats/sla", sla_stats)
    app.router.add_get("/api/v1/stats/dti", dti_stats)
