"""The map's and the dashboard's data endpoints on a real database: scoping, counts, today's numbers."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from shapely.geometry import shape

from console import dashboard, wards
from console import map as console_map
from console.store import dashboard as board_store
from console.store import map as map_store
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


# The open-case counters of migration 0017: rollups kept by triggers, read with the deltas not yet folded in.
OPEN = ("received", "triage", "forwarded", "in_progress", "reopened")
STATUSES = (*OPEN, "answered", "closed", "duplicate")
UNITS = (None, "so-xay-dung", "evn-hcmc", "ubnd-ben-thanh")
WARDS = (None, BEN_THANH, SAI_GON)
FIELDS = (None, "drainage", "electricity")
SLA_STATES = ("ok", "at_risk", "overdue")


async def assert_counters_exact(conn) -> None:
    """The map's counts (all units; all fields and each one), the dashboard's groups and each available person's
    open cases equal a fresh count."""
    for field in FIELDS[1:] + (None,):
        fresh = await conn.fetch(
            "SELECT ward_code, count(*) AS open FROM cases WHERE status = ANY($1::text[])"
            " AND ($2::text IS NULL OR field = $2) GROUP BY ward_code ORDER BY ward_code", list(OPEN), field)
        kept = await map_store.open_counts_by_ward(conn, None, field)
        assert [tuple(r) for r in kept] == [tuple(r) for r in fresh], field
    fresh_groups = await conn.fetch(
        "SELECT department, status, sla_state, accepted_at IS NULL AS unaccepted, count(*) AS n FROM cases"
        " WHERE status = ANY($1::text[]) GROUP BY 1, 2, 3, 4", list(OPEN))
    kept_groups = await board_store.open_groups(conn)
    key = ("department", "status", "sla_state", "unaccepted", "n")
    assert sorted((tuple(r[k] for k in key) for r in kept_groups), key=repr) == \
        sorted((tuple(r) for r in fresh_groups), key=repr)
    fresh_load = await conn.fetch(
        "SELECT u.id, count(c.id) AS open FROM staff_users u LEFT JOIN cases c ON c.assignee = u.id"
        " AND c.status = ANY($1::text[]) WHERE u.active AND u.available GROUP BY u.id ORDER BY u.id", list(OPEN))
    kept_load = sorted((r["id"], r["open"]) for r in await board_store.available_staff(conn))
    assert kept_load == [tuple(r) for r in fresh_load]


async def test_open_counters_equal_a_fresh_count_through_every_kind_of_change(pool, units):
    rng = random.Random(1022)  # a fixed sequence: the same 300 changes on every run
    people = [await pool.fetchval("INSERT INTO staff_users (username, display_name, role, available)"
                                  " VALUES ($1, $1, 'agent', true) RETURNING id", f"agent-{i}") for i in range(3)]
    async with pool.acquire() as conn:
        ids: list[int] = []
        for step in range(300):
            op = rng.choice(["insert", "insert", "update", "update", "update", "bulk", "delete", "rollback", "fold"])
            if op == "insert" or not ids:
                ids.append(await add_case(pool, step, status=rng.choice(STATUSES), department=rng.choice(UNITS),
                                          ward=rng.choice(WARDS), field=rng.choice(FIELDS),
                                          sla_state=rng.choice(SLA_STATES), accepted=rng.random() < 0.3,
                                          assignee=rng.choice([None, *people])))
            elif op == "update":
                column, value = rng.choice([("status", STATUSES), ("department", UNITS), ("ward_code", WARDS),
                                            ("field", FIELDS), ("sla_state", SLA_STATES),
                                            ("accepted_at", (None, NOW)), ("assignee", (None, *people)),
                                            ("description", ("Cống mất nắp",))])
                await conn.execute(f"UPDATE cases SET {column} = $2 WHERE id = $1", rng.choice(ids),
                                   rng.choice(value))
            elif op == "bulk":  # one statement over many rows, as the escalation job moves deadlines
                await conn.execute("UPDATE cases SET sla_state = $1, status = CASE WHEN id % 3 = 0 THEN $2"
                                   " ELSE status END WHERE id % $3 = 0", rng.choice(SLA_STATES),
                                   rng.choice(STATUSES), rng.randint(2, 5))
            elif op == "delete":
                await conn.execute("DELETE FROM cases WHERE id = $1", ids.pop(rng.randrange(len(ids))))
            elif op == "rollback":  # a change that never commits leaves no delta behind
                tx = conn.transaction()
                await tx.start()
                await conn.execute("UPDATE cases SET status = 'closed', department = NULL WHERE id = ANY($1::bigint[])",
                                   ids)
                await tx.rollback()
            else:
                await conn.execute("SELECT console_fold_open_counts()")
            if step % 10 == 9:
                await assert_counters_exact(conn)
        await assert_counters_exact(conn)
        assert await conn.fetchval("SELECT count(*) FROM console_open_deltas") == 0  # the reads folded them
        assert await conn.fetchval("SELECT count(*) FROM console_open_wards WHERE n <= 0") == 0
        assert await conn.fetchval("SELECT count(*) FROM console_open_assignees") > 0  # the load was counted


async def test_open_counters_read_each_snapshot_exactly_while_others_write_and_fold(pool, units):
    await add_case(pool, 1, status="triage", ward=BEN_THANH)
    async with pool.acquire() as reader, pool.acquire() as writer:
        await assert_counters_exact(reader)
        async with writer.transaction():  # not committed yet: the reader neither sees the change nor its deltas
            await writer.execute("UPDATE cases SET status = 'closed'")
            await add_case(writer, 2, status="forwarded", department="evn-hcmc", ward=SAI_GON)
            await assert_counters_exact(reader)
            assert [(r["ward_code"], r["open"]) for r in await map_store.open_counts_by_ward(reader, None, None)] \
                == [(BEN_THANH, 1)]
        assert [(r["ward_code"], r["open"]) for r in await map_store.open_counts_by_ward(reader, None, None)] \
            == [(SAI_GON, 1)]
        await add_case(pool, 3, status="received")
        async with writer.transaction():  # a fold under way elsewhere: this read skips folding and adds the deltas
            await writer.execute("SELECT pg_advisory_xact_lock(10220017)")
            assert await reader.fetchval("SELECT console_fold_open_counts()") == 0
            assert await reader.fetchval("SELECT count(*) FROM console_open_deltas") > 0
            await assert_counters_exact(reader)
            assert (await map_data_open(reader)) == 2
        await assert_counters_exact(reader)


async def map_data_open(conn) -> int:
    return (await console_map.map_data(conn, console_map.MapScope()))["open"]


async def test_open_counters_are_emptied_with_the_cases_and_rebuilt_after_a_load_without_triggers(pool, units):
    agent_id = await pool.fetchval("INSERT INTO staff_users (username, display_name, role, available)"
                                   " VALUES ('agent', 'Agent', 'agent', true) RETURNING id")
    await add_case(pool, 1, status="triage", ward=BEN_THANH, assignee=agent_id)
    await pool.execute("SELECT console_fold_open_counts()")
    assert await pool.fetchval("SELECT n FROM console_open_assignees WHERE assignee = $1", agent_id) == 1
    await pool.execute("TRUNCATE cases CASCADE")
    assert await pool.fetchval("SELECT (SELECT count(*) FROM console_open_wards)"
                               " + (SELECT count(*) FROM console_open_units)"
                               " + (SELECT count(*) FROM console_open_assignees)"
                               " + (SELECT count(*) FROM console_open_deltas)") == 0
    async with pool.acquire() as conn:
        async with conn.transaction():  # as bench/console.py loads: the triggers off
            await conn.execute("SET LOCAL session_replication_role = replica")
            await add_case(conn, 2, status="forwarded", department="so-xay-dung", ward=SAI_GON, field="drainage",
                           assignee=agent_id)
            await add_case(conn, 3, status="closed", ward=SAI_GON)
        assert await map_data_open(conn) == 0  # what the counters cannot know
        await conn.execute("SELECT console_rebuild_open_counts()")
        assert await map_data_open(conn) == 1
        await assert_counters_exact(conn)
