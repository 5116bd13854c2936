"""The map: open cases as points over the ward boundaries, and open cases counted per ward.

    GET /console/map                   the page (Leaflet, no tiles: the wards are the only base layer)
    GET /console/map/data.json         open cases with a point, counts per ward; a unit sees its own cases
    GET /console/wards.geojson         the 168 wards (console/wards.py), cached in memory
    GET /console/wards/{code}.geojson  one ward's outline as a Feature (the case page's small map)

Any staff role may look; a department's staff see only their unit's cases. Supervisors, admins and agents
may narrow to one unit with ?unit=, and anyone to one field with ?field=. Every figure is live: the counts of
all units come from counters kept exact by triggers (migration 0017), a unit's from its cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import asyncpg
from aiohttp import web

from console import wards
from console.store import map as map_store
from kernel.actors import Actor
from kernel.auth import staff_actor
from kernel.errors import BadRequest, HotlineError, NotFound
from kernel.http import SERVICES, json_response

MAX_POINTS = 5000  # newest first; the counts per ward cover every open case

TEXT = {
    "vi": {
        "title": "Bản đồ hồ sơ đang mở",
        "hint": "Màu của phường/xã theo số hồ sơ đang mở; chấm là hồ sơ có vị trí. Bấm vào phường/xã để xem hộp thư"
                " của phường/xã đó.",
        "scoped": "Chỉ hồ sơ của đơn vị",
        "map_label": "Bản đồ phường/xã và hồ sơ đang mở",
        "open": "Đang mở",
        "by_ward": "Hồ sơ đang mở theo phường/xã",
        "ward": "Phường/xã",
        "loading": "Đang tải bản đồ…",
        "no_boundaries": "Chưa có ranh giới phường/xã (chạy make gazetteer).",
        "truncated": "Chỉ hiện những hồ sơ mới nhất trên bản đồ; số đếm theo phường/xã là đầy đủ.",
        "noscript": "Bản đồ cần JavaScript. Hộp thư vẫn dùng được khi không có JavaScript.",
    },
    "en": {
        "title": "Map of open cases",
        "hint": "Wards are coloured by their open cases; dots are cases with a location. Click a ward to open its"
                " inbox.",
        "scoped": "Only the cases of unit",
        "map_label": "Map of wards and open cases",
        "open": "Open",
        "by_ward": "Open cases by ward",
        "ward": "Ward",
        "loading": "Loading the map…",
        "no_boundaries": "The ward boundaries are not built yet (run make gazetteer).",
        "truncated": "Only the newest cases are drawn; the counts per ward are complete.",
        "noscript": "The map needs JavaScript. The inbox works without it.",
    },
}


class ServiceUnavailable(HotlineError):
    code = "no_boundaries"
    http_status = 503


@dataclass(frozen=True, slots=True)
class MapScope:
    """Which open cases a map shows: one unit (or all), one field (or all)."""

    department: str | None = None
    field: str | None = None


def map_scope(actor: Actor, query: Any) -> MapScope:
    """A department's staff are held to their unit; others may pick one with ?unit=."""
    field = query.get("field") or None
    unit = query.get("unit") or None
    for name, value in (("field", field), ("unit", unit)):
        if value is not None and (len(value) > 64 or not value.isprintable()):
            raise BadRequest(f"{name} is not a code")
    if actor.is_department:
        unit = actor.department
    return MapScope(department=unit, field=field)


async def map_data(conn: asyncpg.Connection, scope: MapScope) -> dict[str, Any]:
    """The map's JSON: points (newest MAX_POINTS), counts per ward and the cases without a ward."""
    points = await map_store.open_points(conn, scope.department, scope.field, MAX_POINTS + 1)
    counts = await map_store.open_counts_by_ward(conn, scope.department, scope.field)
    by_ward = [{"ward": r["ward_code"], "name": wards.ward_name(r["ward_code"], "vi"),
                "name_en": wards.ward_name(r["ward_code"], "en"), "open": r["open"]}
               for r in counts if r["ward_code"] is not None]
    by_ward.sort(key=lambda w: (-w["open"], w["ward"]))
    return {
        "scope": {"unit": scope.department, "field": scope.field},
        "points": [  # unpacked in open_points' column order: half the time of a lookup by name per field
            {"id": i, "code": code, "status": status, "field": field, "urgent": urgent, "ward": ward, "lat": lat,
             "lon": lon, "sla": sla}
            for i, code, status, field, urgent, ward, lat, lon, sla in points[:MAX_POINTS]
        ],
        "points_truncated": len(points) > MAX_POINTS,
        "wards": by_ward,
        "without_ward": sum(r["open"] for r in counts if r["ward_code"] is None),
        "open": sum(r["open"] for r in counts),
    }


async def data_view(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    scope = map_scope(actor, request.query)
    async with request.app[SERVICES].pool.acquire() as conn:  # type: ignore[attr-defined]
        body = await map_data(conn, scope)
    response = json_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _geojson(request: web.Request, layer: wards.WardLayer) -> web.Response:
    """The layer's bytes, gzipped when the client takes it; kept a day by the browser (boundaries rarely move)."""
    headers = {"Cache-Control": "private, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=layer.gzipped, content_type="application/geo+json", headers=headers)
    return web.Response(body=layer.body, content_type="application/geo+json", headers=headers)


async def wards_view(request: web.Request) -> web.Response:
    await staff_actor(request)
    try:
        layer = await wards.ward_layer()
    except wards.NoBoundaries as e:
        raise ServiceUnavailable("the ward boundaries are not built (make gazetteer)") from e
    return _geojson(request, layer)


async def ward_view(request: web.Request) -> web.Response:
    await staff_actor(request)
    try:
        outline = await wards.ward_outline(request.match_info["ward_code"])
    except wards.NoBoundaries as e:
        raise ServiceUnavailable("the ward boundaries are not built (make gazetteer)") from e
    if outline is None:
        raise NotFound("no such ward")
    return _geojson(request, outline)


async def page_view(request: web.Request) -> web.Response:
    from console.auth import page_actor  # the console's core (sign-in, base template)
    from console.render import lang_of, render

    page = await page_actor(request)
    scope = map_scope(page.actor, request.query)
    query = urlencode({k: v for k, v in (("unit", scope.department), ("field", scope.field)) if v})
    return render(request, "map.html", actor=page.actor, csrf_token=page.csrf_token, s=TEXT[lang_of(request)],
                  unit=scope.department, query=f"?{query}" if query else "")


def setup(app: web.Application) -> None:
    app.router.add_get("/console/map", page_view)
    app.router.add_get("/console/map/data.json", data_view)
    app.router.add_get("/console/wards.geojson", wards_view)
    app.router.add_get("/console/wards/{ward_code}.geojson", ward_view)
