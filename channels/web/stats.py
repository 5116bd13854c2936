"""Public statistics: monthly intake by field and ward, and the on-time rate of each unit, aggregates only.

    GET /thong-ke                 the page in Vietnamese (?month=2026-11; ?lang=en goes to /stats)
    GET /stats                    the page in English
    GET /thong-ke/data.json       the same figures as JSON (/stats/data.json too)
    GET /thong-ke/wards.geojson   the 168 wards' boundaries (public administrative data), for the map

Nothing here names a case, a code, a text, a point or a person: only counts and rates of the city's month
(casework.reports: 12:00 on the 25th to 12:00 on the 25th). Wards (and units: a ward's People's Committee
is one) with 1 to 4 reports are hidden, and when only one is, the next smallest too, so that no hidden count
follows from the total by subtraction; counts by field are city-wide and given in full. A unit's on-time
rate is shown once it has handled MIN_HANDLED cases, with its 95 % Wilson interval.

The figures of a month are computed once and kept in Redis: a closed month for a day (it changes only after
`hotline report rebuild`), the month in progress for five minutes. Responses carry an ETag and are public
and cacheable for as long as the stored copy lives; a matching If-None-Match is a 304 without a database call.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import json
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from redis.exceptions import RedisError

from casework.reports import periods, sla
from casework.reports.periods import Period
from channels.web.i18n import STRINGS
from integrations.geocoding import geojson
from kernel.errors import BadRequest, HotlineError
from kernel.http import SERVICES, json_dumps
from kernel.inputs import query_text
from kernel.time import LOCAL_TZ

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
PATHS = {"vi": "/thong-ke", "en": "/stats"}
MONTHS_BACK = 12  # the closed months offered, besides the one in progress
SMALL = 5  # a ward with fewer reports than this (but some) is not shown
MIN_HANDLED = sla.MIN_HANDLED  # a unit's on-time rate is shown from this many handled cases
CLOSED_TTL = 24 * 3600
OPEN_TTL = 5 * 60
GEOJSON_MAX_AGE = 24 * 3600
RENDERED_KEPT = 64  # pages kept rendered in each process (13 months x 2 languages, and room for the next)
KEY = "hotline:stats:public:v1:{label}"
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
)


def _page_version() -> str:
    """Part of the page's ETag: a new template or new words make a new page from the same figures."""
    digest = hashlib.blake2b(digest_size=6)
    for name in ("base.html", "stats.html"):
        digest.update((HERE / "templates" / name).read_bytes())
    digest.update(json.dumps(STRINGS, sort_keys=True).encode())
    return digest.hexdigest()


PAGE_VERSION = _page_version()


class NoBoundaries(HotlineError):
    code = "no_boundaries"
    http_status = 503


# ---- the figures (pure) ----

def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95 % by default); None without observations."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def hidden_cells(counts: Mapping[str | None, int], small: int = SMALL) -> set[str | None]:
    """The cells not to publish: those with 1 to small-1, and, when that is only one, the next smallest too.

    One hidden cell alone would follow from the published total minus the others; two hide each other.
    """
    hidden = {key for key, n in counts.items() if 0 < n < small}
    if len(hidden) == 1:
        shown = sorted((n, key is None, key or "") for key, n in counts.items() if n >= small)
        if shown:
            _, unknown, code = shown[0]
            hidden.add(None if unknown else code)
    return hidden


def publish(by_field: sla.SlaReport, by_ward: sla.SlaReport, by_unit: sla.SlaReport, *, closed: bool,
            ward_names: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The public figures of one month: counts and rates only, small ward and unit counts hidden."""
    total = by_unit.total
    wards = {f.key: f.received for f in by_ward.rows if f.received}
    hidden = hidden_cells(wards)
    ward_rows = []
    for key, n in sorted(wards.items(), key=lambda item: (item[0] in hidden, -item[1], item[0] or "")):
        if key is None:
            continue
        name_vi, name_en = ward_names.get(key, (key, key))
        ward_rows.append({"key": key, "name_vi": name_vi, "name_en": name_en,
                          "received": None if key in hidden else n})
    # A ward's People's Committee is a unit too: its count would give its ward's away, so units follow the rule.
    unit_rows = [f for f in by_unit.rows if f.key is not None]  # the 1022 centre's own: in the total only
    hidden_units = hidden_cells({f.key: f.received for f in unit_rows if f.received})
    units = []
    for f in unit_rows:
        rated = f.handled >= MIN_HANDLED and f.on_time_rate is not None
        interval = wilson(f.handled_on_time, f.handled_on_time + f.handled_late) if rated else None
        name_vi, name_en = by_unit.names.get(f.key, (f.key or "", f.key or ""))
        secret = f.key in hidden_units
        units.append({"key": f.key, "name_vi": name_vi, "name_en": name_en,
                      "received": None if secret else f.received, "handled": None if secret else f.handled,
                      "on_time_rate": f.on_time_rate if rated else None,
                      "low": interval[0] if interval else None, "high": interval[1] if interval else None})
    units.sort(key=lambda u: (u["handled"] is None, -(u["handled"] or 0), -(u["received"] or 0), u["key"]))
    fields = [{"key": f.key, "name_vi": by_field.names.get(f.key, sla.NO_FIELD)[0],
               "name_en": by_field.names.get(f.key, sla.NO_FIELD)[1], "received": f.received}
              for f in by_field.rows if f.received]
    period = by_unit.period
    return {
        "period": {"label": period.label, "start": period.start, "end": period.end},
        "closed": closed, "as_of": by_unit.as_of,
        "rules": {"small": SMALL, "min_handled": MIN_HANDLED},
        "total": {"received": total.received, "handled": total.handled, "on_time_rate": total.on_time_rate,
                  "forward_rule_rate": total.forward_rule_rate, "online_share": total.online_share},
        "fields": fields,
        "wards": ward_rows,
        "ward_unknown": None if None in hidden else wards.get(None, 0),
        "wards_hidden": len([k for k in hidden if k is not None]),
        "wards_without_reports": len([code for code in ward_names if code not in wards]),
        "units": units,
    }


async def compute(services: Any, period: Period, now: datetime) -> dict[str, Any]:
    """Three groupings of the SLA report (the facts refreshed once), reduced to what may be published."""
    router = await services.current_router()
    days = services.settings.legal_answer_days
    reports = {}
    for n, by in enumerate(("unit", "field", "ward")):
        reports[by] = await sla.sla_report(services.pool, period, by, clock=router.calendar, now=now,
                                           legal_answer_days=days, refresh=n == 0)
    return publish(reports["field"], reports["ward"], reports["unit"], closed=now >= period.end,
                   ward_names=geojson.ward_names())


# ---- the months offered ----

def month_choices(now: datetime) -> list[Period]:
    """The month in progress, then the MONTHS_BACK closed months before it, newest first."""
    return periods.recent_months(now, MONTHS_BACK + 1)


def pick_month(raw: str | None, now: datetime) -> Period:
    """The month asked for (one of month_choices), by default the last closed one; 400 naming `month`."""
    choices = month_choices(now)
    if raw is None or raw == "":
        return choices[1]
    for period in choices:
        if period.label == raw:
            return period
    raise BadRequest({"field": "month", "message": f"the month in progress or one of the {MONTHS_BACK} before it,"
                                                   " written YYYY-MM"})


# ---- the cache ----

@dataclass(frozen=True, slots=True)
class Figures:
    body: bytes  # the JSON document
    digest: str
    max_age: int


_building: dict[str, asyncio.Lock] = {}


async def figures(services: Any, period: Period, now: datetime) -> Figures:
    """The month's figures from Redis, or computed (once per process at a time) and stored there."""
    key = KEY.format(label=period.label)
    found = await _cached(services, key)
    if found is not None:
        return found
    lock = _building.setdefault(key, asyncio.Lock())
    async with lock:
        found = await _cached(services, key)
        if found is not None:
            return found
        body = json_dumps(await compute(services, period, now)).encode()
        ttl = CLOSED_TTL if now >= period.end else OPEN_TTL
        try:
            await services.redis.set(key, body, ex=ttl)
        except RedisError as e:  # the page is still served, computed each time until Redis is back
            log.warning("public statistics: cannot cache %s (%s)", period.label, type(e).__name__)
        return Figures(body, _digest(body), ttl)


async def _cached(services: Any, key: str) -> Figures | None:
    try:
        async with services.redis.pipeline(transaction=False) as pipe:
            body, ttl = await pipe.get(key).ttl(key).execute()
    except RedisError as e:
        log.warning("public statistics: cache unreadable (%s)", type(e).__name__)
        return None
    if body is None:
        return None
    return Figures(body, _digest(body), max(0, ttl))


async def forget(redis: Any) -> int:
    """Drop every stored month (after `hotline report rebuild`): the next visit computes them again."""
    keys = [key async for key in redis.scan_iter(match=KEY.format(label="*"), count=100)]
    return int(await redis.delete(*keys)) if keys else 0


def _digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def _fresh(request: web.Request, etag: str) -> bool:
    """Whether the client's If-None-Match holds this ETag (weak comparison, as RFC 9110 asks for GET)."""
    sent = request.headers.get("If-None-Match")
    if not sent:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in sent.split(",")]
    return "*" in tags or etag in tags


def _cacheable(response: web.StreamResponse, etag: str, max_age: int) -> web.StreamResponse:
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _not_modified(etag: str, max_age: int) -> web.StreamResponse:
    return _cacheable(web.Response(status=304), etag, max_age)


# ---- the page ----

def number(value: int | None, lang: str) -> str:
    """1.234 (vi) / 1,234 (en)."""
    if value is None:
        return "–"
    text = f"{value:,}"
    return text.replace(",", ".") if lang == "vi" else text


def percent(value: float | None, lang: str) -> str:
    """66,7 % (vi) / 66.7% (en); a dash for no value."""
    if value is None:
        return "–"
    text = f"{value * 100:.1f}"
    return f"{text.replace('.', ',')} %" if lang == "vi" else f"{text}%"


def month_name(period: Period, lang: str) -> str:
    year, month = (int(part) for part in period.label.split("-"))
    return f"Tháng {month}/{year}" if lang == "vi" else f"{calendar.month_name[month]} {year}"


def span(period: Period) -> str:
    start, end = period.start.astimezone(LOCAL_TZ), period.end.astimezone(LOCAL_TZ)
    return f"{start:%H:%M %d/%m/%Y} – {end:%H:%M %d/%m/%Y}"


# Pages rendered from the stored figures, by ETag: the same figures, language and months make the same page.
_rendered: OrderedDict[str, str] = OrderedDict()


def _render(lang: str, **context: Any) -> str:
    return _templates.get_template("stats.html").render(
        lang=lang, t=STRINGS[lang], number=lambda v: number(v, lang), percent=lambda v: percent(v, lang),
        month_name=lambda p: month_name(p, lang), span=span, path=PATHS[lang], **context)


def _html(text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _month_param(request: web.Request) -> str | None:
    return query_text(request.query, "month", 16)


async def _page(request: web.Request, lang: str) -> web.StreamResponse:
    asked = request.query.get("lang")
    if asked in PATHS and asked != lang:  # one address per language, so a shared cache keeps both apart
        month = request.query.get("month", "")
        raise web.HTTPFound(PATHS[asked] + (f"?month={month}" if _MONTH.fullmatch(month) else ""))
    services = request.app[SERVICES]
    now = services.clock()
    choices = month_choices(now)
    try:
        period = pick_month(_month_param(request), now)
    except BadRequest:
        html = _render(lang, data=None, choices=choices, selected=None, error=STRINGS[lang]["stats_bad_month"])
        response = _html(html, status=400)
        response.headers["Cache-Control"] = "no-store"
        return response
    found = await figures(services, period, now)
    # The months offered move on when a month closes: the same figures then make another page.
    etag = f'"{found.digest}-{lang}-{choices[0].label}-{PAGE_VERSION}"'
    if _fresh(request, etag):
        return _not_modified(etag, found.max_age)
    html = _rendered.get(etag)
    if html is None:
        data = json.loads(found.body)
        html = _render(lang, data=data, choices=choices, selected=period, error=None,
                       fields_total=sum(f["received"] for f in data["fields"]))
        _rendered[etag] = html
        while len(_rendered) > RENDERED_KEPT:
            _rendered.popitem(last=False)
    return _cacheable(_html(html), etag, found.max_age)


async def page_vi(request: web.Request) -> web.StreamResponse:
    """GET /thong-ke: the public statistics of a month, in Vietnamese."""
    return await _page(request, "vi")


async def page_en(request: web.Request) -> web.StreamResponse:
    """GET /stats: the public statistics of a month, in English."""
    return await _page(request, "en")


async def data_json(request: web.Request) -> web.StreamResponse:
    """GET /thong-ke/data.json?month=: the figures the page shows, as JSON (names in both languages)."""
    services = request.app[SERVICES]
    now = services.clock()
    found = await figures(services, pick_month(_month_param(request), now), now)
    etag = f'"{found.digest}"'
    if _fresh(request, etag):
        return _not_modified(etag, found.max_age)
    return _cacheable(web.Response(body=found.body, content_type="application/json", charset="utf-8"), etag,
                      found.max_age)


async def ward_layer() -> geojson.WardLayer:
    try:
        return await geojson.ward_layer()  # the same layer the console draws, built once per process
    except geojson.NoBoundaries as e:
        raise NoBoundaries({"message": "the ward boundaries are not built (make gazetteer)"}) from e


async def wards_geojson(request: web.Request) -> web.StreamResponse:
    """GET /thong-ke/wards.geojson: the wards' boundaries (gzipped when the client takes it)."""
    layer = await ward_layer()
    etag = f'"{_digest(layer.body)}"'
    if _fresh(request, etag):
        return _not_modified(etag, GEOJSON_MAX_AGE)
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = web.Response(body=layer.gzipped if gzipped else layer.body, content_type="application/geo+json")
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return _cacheable(response, etag, GEOJSON_MAX_AGE)


def setup(app: web.Application) -> None:
    app.router.add_get("/thong-ke", page_vi)
    app.router.add_get("/stats", page_en)
    app.router.add_get("/thong-ke/data.json", data_json)
    app.router.add_get("/stats/data.json", data_json)
    app.router.add_get("/thong-ke/wards.geojson", wards_geojson)
