"""The map's and the dashboard's data endpoints on a real database: scoping, counts, today's numbers."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from shapely.geometry import shape

from console import dashboard, wards
from console import map as console_map
from kernel.http import SERVICES
from kernel.time import FixedClock
from tests.conftest import auth
from tests.integrations.geocoding.conftest import needs_polygons

# 09:00 in Hồ Chí Minh City on 3 December 2026; the Vietnamese day began at 17:00 UTC the day before.
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
DAY_START = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
BEN_THANH, SAI_GON = "26743", "26740"


@pytest.fixture
async def console_client(aiohttp_client, settings):
    """The app as served; the map and dashboard routes registered by console.views, or here until it does."""
    from hotline.app import create_app

    app = create_app(settings)
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    if "/console/map/data.json" not in paths:
        console_map.setup(app)
    if "/console/dashboard/data.json" not in paths:
        dashboard.setup(app)
    client = await aiohttp_client(app)
    client.app[SERVICES].clock = FixedClock(NOW)
    return client


async def add_case(pool, n: int, *, status: str = "triage", department: str | None = None, ward: str | None = None,
                   lat: float | None = None, lon: float | None = None, channel: str = "web", field: str | None = None,
                   created_at: datetime = NOW, forwarded_after: timedelta | None = None, sla_state: str = "ok",
                   assignee: int | None = None, accepted: bool = False) -> int:
    return await pool.fetchval(
        "INSERT INTO cases (tracking_code, status, channel, description, search_text, department, ward_code, lat, lon,"
        " field, created_at, forwarded_at, sla_state, assignee, accepted_at)"
        " VALUES ($1, $2, $3, 'Ngập nước', 'ngap nuoc', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        f"HCM-TEST-{n:05d}", status, channel, department, ward, lat, lon, field, created_at,
        created_at + forwarded_after if forwarded_after is not None else None, sla_state, assignee,
        created_at if accepted else None,
    )


async def test_map_counts_open_cases_per_ward_and_scopes_a_unit(console_client, pool, tokens):
    a = await add_case(pool, 1, status="forwarded", department="so-xay-dung", ward=BEN_THANH, lat=10.772, lon=106.698)
    await add_case(pool, 2, status="in_progress", department="so-xay-dung", ward=BEN_THANH)
    b = await add_case(pool, 3, status="triage", department="evn-hcmc", ward=SAI_GON, lat=10.776, lon=106.702)
    await add_case(pool, 4, status="closed", department="so-xay-dung", ward=BEN_THANH, lat=10.77, lon=106.69)
    await add_case(pool, 5, status="received")

    everyone = await console_client.get("/console/map/data.json", headers=auth(tokens["supervisor"]))
    assert everyone.status == 200
    body = await everyone.json()
    assert body["open"] == 4 and body["without_ward"] == 1
    assert [(w["ward"], w["open"]) for w in body["wards"]] == [(BEN_THANH, 2), (SAI_GON, 1)]
    assert body["wards"][0]["name"] == "Phường Bến Thành"
    assert [p["id"] for p in body["points"]] == [b, a]  # open, with a point, newest first

    unit = await (await console_client.get("/console/map/data.json?unit=evn-hcmc",
                                           headers=auth(tokens["department"]))).json()
    assert unit["scope"]["unit"] == "so-xay-dung"  # a unit's staff cannot look at another unit
    assert [p["id"] for p in unit["points"]] == [a]
    assert [(w["ward"], w["open"]) for w in unit["wards"]] == [(BEN_THANH, 2)]

    picked = await (await console_client.get("/console/map/data.json?unit=evn-hcmc",
                                             headers=auth(tokens["agent"]))).json()
    assert [p["id"] for p in picked["points"]] == [b] and picked["open"] == 1


async def test_map_data_needs_a_signed_in_staff_member(console_client):
    response = await console_client.get("/console/map/data.json")
    assert response.status == 401


@needs_polygons  # the ward boundaries come from the shared admin-units data beside the repository
async def test_wards_geojson_has_the_168_wards_with_valid_geometry(console_client, tokens):
    response = await console_client.get("/console/wards.geojson", headers=auth(tokens["department"]))
    assert response.status == 200
    assert response.content_type == "application/geo+json"
    body = json.loads(await response.read())
    features = body["features"]
    assert len(features) == 168
    assert len({f["properties"]["code"] for f in features}) == 168
    geometries = [shape(f["geometry"]) for f in features]
    assert all(g.is_valid and not g.is_empty and g.geom_type in ("Polygon", "MultiPolygon") for g in geometries)
    ben_thanh = next(g for f, g in zip(features, geometries, strict=True) if f["properties"]["code"] == BEN_THANH)
    assert ben_thanh.contains(shapely.Point(106.698, 10.772))  # Chợ Bến Thành
    assert 150_000 < len(await response.read()) < 1_500_000  # light enough for a browser, still 168 shapes


@needs_polygons  # the ward boundaries come from the shared admin-units data beside the repository
async def test_wards_layer_is_built_once_and_gzips():
    first = await wards.ward_layer()
    assert await wards.ward_layer() is first
    assert json.loads(gzip.decompress(first.gzipped)) == json.loads(first.body)


async def test_dashboard_counts_queues_deadlines_and_staff_load(console_client, pool, tokens):
    agent_id = await pool.fetchval("UPDATE staff_users SET available = true, capacity = 5 WHERE username = 'agent'"
                                   " RETURNING id")
    await add_case(pool, 1, status="triage", sla_state="at_risk", assignee=agent_id)
    await add_case(pool, 2, status="forwarded", department="so-xay-dung", sla_state="overdue")
    await add_case(pool, 3, status="forwarded", department="so-xay-dung", accepted=True, sla_state="overdue")
    await add_case(pool, 4, status="in_progress", department="evn-hcmc", sla_state="at_risk", assignee=agent_id)
    await add_case(pool, 5, status="reopened", department="evn-hcmc")
    await add_case(pool, 6, status="closed", department="evn-hcmc", sla_state="overdue", assignee=agent_id)

    response = await console_client.get("/console/dashboard/data.json", headers=auth(tokens["supervisor"]))
    assert response.status == 200
    body = await response.json()
    assert body["queues"] == {"triage": 1, "forwarded_not_accepted": 1, "in_progress": 1, "reopened": 1,
                              "received": 0}
    assert [(s["username"], s["open"], s["capacity"]) for s in body["staff"]] == [("agent", 2, 5)]
    deadlines = {d["unit"]: (d["at_risk"], d["overdue"], d["open"]) for d in body["deadlines"]}
    assert deadlines == {"so-xay-dung": (0, 2, 2), "evn-hcmc": (1, 0, 2), None: (1, 0, 1)}
    assert body["deadlines"][0]["unit"] == "so-xay-dung"  # the most overdue first


async def test_dashboard_today_and_the_five_minute_rule_on_the_injected_clock(console_client, pool, tokens):
    await add_case(pool, 1, channel="sms", field="drainage", created_at=DAY_START,  # 00:00 today in Vietnam
                   forwarded_after=timedelta(minutes=4, seconds=59))
    await add_case(pool, 2, channel="sms", field="drainage", created_at=NOW - timedelta(hours=1),
                   forwarded_after=timedelta(minutes=5))
    await add_case(pool, 3, channel="web", field="electricity", created_at=NOW - timedelta(minutes=30),
                   forwarded_after=timedelta(minutes=5, seconds=1))
    await add_case(pool, 4, channel="voice", created_at=NOW)  # not forwarded yet
    await add_case(pool, 5, channel="web", field="drainage", created_at=DAY_START - timedelta(seconds=1),
                   forwarded_after=timedelta(minutes=1))  # 23:59:59 yesterday in Vietnam

    body = await (await console_client.get("/console/dashboard/data.json", headers=auth(tokens["admin"]))).json()
    assert body["day"] == "2026-12-03"
    today = body["today"]
    assert today["total"] == 4
    assert today["by_channel"] == [{"channel": "sms", "count": 2}, {"channel": "voice", "count": 1},
                                   {"channel": "web", "count": 1}]
    assert today["by_field"] == [{"field": "drainage", "count": 2}, {"field": "electricity", "count": 1},
                                 {"field": None, "count": 1}]
    assert today["forwarding"] == {"within_minutes": 5, "within": 2, "later": 1, "not_forwarded": 1, "share": 0.5}

    console_client.app[SERVICES].clock.advance(days=1)  # tomorrow nothing has come in yet
    tomorrow = await (await console_client.get("/console/dashboard/data.json", headers=auth(tokens["admin"]))).json()
    assert tomorrow["today"]["total"] == 0 and tomorrow["today"]["forwarding"]["share"] is None


@pytest.mark.parametrize("who", ["agent", "department"])
async def test_dashboard_is_for_supervisors_and_admins(console_client, tokens, who):
    response = await console_client.get("/console/dashboard/data.json", headers=auth(tokens[who]))
    assert response.status == 403


def test_local_day_is_vietnams_calendar_day():
    day = dashboard.local_day(datetime(2026, 12, 2, 16, 59, 59, tzinfo=UTC))
    assert day.date == "2026-12-02" and day.end == DAY_START


async def sign_in(client, who: str) -> None:
    response = await client.post("/api/v1/session", json={"username": who, "password": f"{who}-secret"})
    assert response.status in (200, 201)


async def test_map_page_is_served_with_vendored_leaflet_and_no_tiles(console_client, tokens):
    await sign_in(console_client, "department")
    response = await console_client.get("/console/map?lang=en")
    assert response.status == 200
    html = await response.text()
    assert 'data-testid="map-canvas"' in html
    assert 'data-data-url="/console/map/data.json?unit=so-xay-dung"' in html  # the unit's own cases
    assert "/console/static/vendor/leaflet-1.9.4/leaflet.js" in html and "http" not in html.split("<body", 1)[1]
    script = await console_client.get("/console/static/vendor/leaflet-1.9.4/leaflet.js")
    assert script.status == 200 and b"Leaflet 1.9.4" in await script.read()


async def test_dashboard_page_shows_the_numbers_as_tables(console_client, pool, tokens):
    await add_case(pool, 1, channel="sms", field="drainage", forwarded_after=timedelta(minutes=2))
    await add_case(pool, 2, channel="web", field="drainage")
    await sign_in(console_client, "supervisor")
    response = await console_client.get("/console/dashboard")
    assert response.status == 200
    html = await response.text()
    assert 'data-testid="dashboard"' in html and "Chuyển trong 5 phút" in html
    assert '<p class="big" data-testid="dashboard-rule">50 %</p>' in html
    assert "chart.js-4.4.7/chart.umd.js" in html


async def test_dashboard_page_refuses_an_agent_and_sends_strangers_to_sign_in(console_client, tokens):
    stranger = await console_client.get("/console/dashboard", allow_redirects=False)
    assert stranger.status == 303 and stranger.headers["Location"].startswith("/console/login")
    await sign_in(console_client, "agent")
    assert (await console_client.get("/console/dashboard")).status == 403
