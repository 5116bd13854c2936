"""The report page: the SLA figures of a period grouped by unit, field, channel or ward, and a quarter's DTI figures.

    GET /console/reports?month=2026-11 | from=2026-11-01&to=2026-11-30, by=unit|field|channel|ward, unit=,
                         quarter=2026-Q4

Supervisors and admins see every unit (and may pick one); a unit's staff see their own unit's cases only,
as the statistics API shows them. The figures are casework.reports' (sla_report, dti_report: formulas in
docs/metrics.md) on the router's calendar and the injected clock; the downloads are the API's exports.
A bad parameter shows the form again with what is wrong (400), never a 500.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping

from casework.reports import exports, periods, sla
from casework.reports.periods import Period
from console import store
from console.auth import forbidden_page, page_actor
from console.i18n import t
from console.render import duration, lang_of, render
from kernel.actors import Actor, Role
from kernel.errors import BadRequest
from kernel.http import SERVICES
from kernel.inputs import query_text

ROLES = (Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
MONTHS_OFFERED = 13  # the month in progress and the twelve before it
QUARTERS_OFFERED = 8
CHART_GROUPS = 20  # the charts show the groups with the most cases; the table has them all
MAX_PARAM = 64
DOWNLOADS = tuple(f for f in exports.FORMATS if f != "json")


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What the form asked for, as given (to fill the form again) and as read."""

    month: str
    date_from: str
    date_to: str
    by: str
    unit: str | None
    quarter: str
    period: Period | None = None
    dti_period: Period | None = None


def _text(query: MultiMapping[str], name: str) -> str:
    """A query value, '' when absent; too long, NUL or a lone surrogate is a 400 naming it."""
    return (query_text(query, name, MAX_PARAM) or "").strip()


def month_choices(now: datetime) -> list[Period]:
    """The city month in progress, then the ones before it, newest first."""
    return periods.recent_months(now, MONTHS_OFFERED)


def quarter_choices(now: datetime) -> list[Period]:
    return periods.recent_quarters(now, QUARTERS_OFFERED)


def parse(query: MultiMapping[str], now: datetime, actor: Actor) -> tuple[ReportQuery, list[str]]:
    """Read the form; the fields that are wrong, each named once ('month', 'dates', 'by', 'unit', 'quarter')."""
    wrong: list[str] = []

    def read(name: str) -> str:
        try:
            return _text(query, name)
        except BadRequest:
            wrong.append("dates" if name in ("from", "to") else name)
            return ""

    month, date_from, date_to = read("month"), read("from"), read("to")
    by = read("by") or ("field" if actor.is_department else "unit")
    unit = actor.department if actor.is_department else (read("unit") or None)
    quarter = read("quarter")
    period = dti = None
    try:
        if date_from or date_to:  # the dates win over the month the select keeps
            period = periods.sla_period(date_from=date_from or None, date_to=date_to or None, now=now)
        else:
            period = periods.sla_period(month=month or None, now=now)
    except BadRequest:
        wrong.append("dates" if date_from or date_to else "month")
    if by not in sla.GROUPS:
        wrong.append("by")
    try:
        dti = periods.dti_period(quarter_text=quarter or None, now=now)
    except BadRequest:
        wrong.append("quarter")
    asked = ReportQuery(month, date_from, date_to, by, unit, quarter, period, dti)
    return asked, list(dict.fromkeys(wrong))


def number(value: float | None, lang: str, digits: int = 0) -> str:
    """1.234,5 (vi) / 1,234.5 (en); a dash for no value."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text


def percent(value: float | None, lang: str) -> str:
    if value is None:
        return "–"
    text = number(value * 100, lang, 1)
    return f"{text} %" if lang == "vi" else f"{text}%"


def work_hours(minutes: float | None, lang: str) -> str:
    """Working minutes as working hours: 12,5 giờ (12.5 h)."""
    if minutes is None:
        return "–"
    return f"{number(minutes / 60, lang, 1)} {'giờ' if lang == 'vi' else 'h'}"


def clock_time(minutes: float | None, lang: str) -> str:
    """Clock minutes as days, hours and minutes."""
    if minutes is None:
        return "–"
    return duration(minutes * 60, lang)


def _raw(value: float | None) -> str:
    """A figure for a data attribute (the charts and the tests read it): '' for none."""
    if value is None:
        return ""
    return str(value) if not isinstance(value, float) or math.isfinite(value) else ""


def _link(base: str, **params: str | None) -> str:
    return base + "?" + urlencode({k: v for k, v in params.items() if v})


def downloads(asked: ReportQuery, lang: str) -> dict[str, list[tuple[str, str]]]:
    """The API's exports of the same figures: (format, address) for the SLA report and the DTI quarter."""
    assert asked.period is not None and asked.dti_period is not None
    if asked.date_from or asked.date_to:
        when = {"from": asked.date_from, "to": asked.date_to}
    else:
        when = {"month": asked.period.label}
    sla_links = [(fmt, _link("/api/v1/stats/sla", **when, by=asked.by, unit=asked.unit, format=fmt, lang=lang))
                 for fmt in DOWNLOADS]
    sla_links.append(("json", _link("/api/v1/stats/sla", **when, by=asked.by, unit=asked.unit)))
    dti_links = [(fmt, _link("/api/v1/stats/dti", quarter=asked.dti_period.label, unit=asked.unit, format=fmt,
                             lang=lang)) for fmt in DOWNLOADS]
    dti_links.append(("json", _link("/api/v1/stats/dti", quarter=asked.dti_period.label, unit=asked.unit)))
    return {"sla": sla_links, "dti": dti_links}


def row_view(f: sla.Figures, name: str, lang: str) -> dict[str, Any]:
    """One group's figures as the table shows them, with the raw numbers for the charts."""
    return {
        "key": f.key, "name": name, "figures": f,
        "raw": {"received": f.received, "handled": f.handled, "on_time_rate": _raw(f.on_time_rate)},
        "on_time_rate": percent(f.on_time_rate, lang), "forward_rule_rate": percent(f.forward_rule_rate, lang),
        "median_work": work_hours(f.resolution.median_work_min, lang),
        "reopen_rate": percent(f.reopen_rate, lang),
        "rating_mean": number(f.rating_mean, lang, 2) if f.rating_mean is not None else "–",
    }


def cards(total: sla.Figures, lang: str) -> list[dict[str, Any]]:
    """The total's key numbers: (figure name, label, value shown, raw value, detail line)."""
    res = total.resolution
    with_deadline = total.handled_on_time + total.handled_late

    def say(key: str, **kw: Any) -> str:
        return t(key, lang).format(**kw)

    return [
        {"figure": "received", "label": say("rep_received"), "value": number(total.received, lang),
         "raw": total.received, "detail": say("rep_duplicates", n=number(total.duplicates, lang))},
        {"figure": "handled", "label": say("rep_handled"), "value": number(total.handled, lang),
         "raw": total.handled, "detail": say("rep_in_progress_n", n=number(total.in_progress, lang))},
        {"figure": "on_time_rate", "label": say("rep_on_time"), "value": percent(total.on_time_rate, lang),
         "raw": _raw(total.on_time_rate),
         "detail": say("rep_on_time_detail", n=number(total.handled_on_time, lang), of=number(with_deadline, lang))},
        {"figure": "overdue", "label": say("rep_overdue"), "value": number(total.overdue, lang), "raw": total.overdue,
         "detail": say("rep_overdue_detail", open=number(total.overdue_open, lang),
                       late=number(total.handled_late, lang))},
        {"figure": "in_progress", "label": say("rep_in_progress"), "value": number(total.in_progress, lang),
         "raw": total.in_progress, "detail": say("rep_no_deadline", n=number(total.no_deadline, lang))},
        {"figure": "forward_rule_rate", "label": say("rep_forward_rule"),
         "value": percent(total.forward_rule_rate, lang), "raw": _raw(total.forward_rule_rate),
         "detail": say("rep_forward_detail", n=number(total.forwarded_within_5min, lang),
                       of=number(total.forwarded, lang))},
        {"figure": "resolution_work", "label": say("rep_resolution_work"),
         "value": f"{work_hours(res.median_work_min, lang)} / {work_hours(res.p90_work_min, lang)}",
         "raw": _raw(res.median_work_min), "detail": say("rep_resolution_n", n=number(res.count, lang))},
        {"figure": "resolution_clock", "label": say("rep_resolution_clock"),
         "value": f"{clock_time(res.median_clock_min, lang)} / {clock_time(res.p90_clock_min, lang)}",
         "raw": _raw(res.median_clock_min), "detail": say("rep_resolution_n", n=number(res.count, lang))},
        {"figure": "reopen_rate", "label": say("rep_reopen"), "value": percent(total.reopen_rate, lang),
         "raw": _raw(total.reopen_rate), "detail": say("rep_reopen_detail", n=number(total.reopened, lang))},
        {"figure": "satisfied_share", "label": say("rep_satisfaction"), "value": percent(total.satisfied_share, lang),
         "raw": _raw(total.satisfied_share),
         "detail": say("rep_satisfaction_detail", mean=number(total.rating_mean, lang, 2),
                       n=number(total.ratings, lang))},
        {"figure": "within_legal_rate", "label": say("rep_legal"), "value": percent(total.within_legal_rate, lang),
         "raw": _raw(total.within_legal_rate),
         "detail": say("rep_legal_detail", n=number(total.within_legal_limit, lang))},
    ]


async def page(request: web.Request) -> web.Response:
    """GET /console/reports: the form, the key numbers, charts, the ranking, the full table, downloads, DTI."""
    found = await page_actor(request, *ROLES)
    actor = found.actor
    services = request.config_dict[SERVICES]
    lang = lang_of(request)
    now = services.clock()
    asked, wrong = parse(request.query, now, actor)
    if actor.is_department and request.query.get("unit") not in (None, "", actor.department):
        raise forbidden_page(request)
    index = 0 if lang == "vi" else 1
    async with services.pool.acquire() as conn:
        unit_names = {u["code"]: (u["name_vi"], u["name_en"]) for u in await store.departments(conn)}
    if asked.unit is not None and asked.unit not in unit_names:
        wrong.append("unit")
    context: dict[str, Any] = {
        "actor": actor, "csrf_token": found.csrf_token, "asked": asked, "wrong": wrong,
        "months": month_choices(now), "quarters": quarter_choices(now), "groups": sla.GROUPS,
        "units": [] if actor.is_department else [(code, names[index]) for code, names in unit_names.items()],
        "scope_name": unit_names.get(asked.unit, (asked.unit, asked.unit))[index] if asked.unit else None,
        "report": None, "dti": [],
    }
    if wrong:
        return render(request, "reports.html", status=400, **context)
    assert asked.period is not None and asked.dti_period is not None
    router = await services.current_router()
    days = services.settings.legal_answer_days
    report = await sla.sla_report(services.pool, asked.period, asked.by, unit=asked.unit, clock=router.calendar,
                                  now=now, legal_answer_days=days)
    dti = await sla.dti_report(services.pool, asked.dti_period, unit=asked.unit, clock=router.calendar, now=now,
                               legal_answer_days=days, refresh=False)
    def name(key: str | None) -> str:
        return report.names.get(key, (key or "", key or ""))[index]

    ranking = report.ranking if report.ranking is not None and asked.unit is None else None
    context.update(
        report=report, cards=cards(report.total, lang), rows=[row_view(f, name(f.key), lang) for f in report.rows],
        total_row=row_view(report.total, t("rep_total", lang), lang), chart_groups=CHART_GROUPS, ranking=ranking,
        ranked_name=name, percent=lambda v: percent(v, lang), number=lambda v, d=0: number(v, lang, d),
        work_hours=lambda v: work_hours(v, lang), downloads=downloads(asked, lang),
        dti=[(d, d.name_vi if lang == "vi" else d.name_en) for d in dti],
        as_of=report.as_of, in_progress=report.as_of < asked.period.end,
    )
    return render(request, "reports.html", **context)


def setup(app: web.Application) -> None:
    app.router.add_get("/console/reports", page)
