#!/usr/bin/env python
"""Console benchmark: the inbox, the map and the dashboard over a million cases.

What it measures
    The console's reads, through the same functions its pages call: ``console.store.inbox`` (each queue,
    the filters, keyset pages deep into a list, search with and without diacritics: the page folds what staff
    type with ``kernel.text.fold`` and so does this bench), ``casework.store.list_cases`` (the staff API's
    list), ``console.map.map_data`` and ``console.dashboard.dashboard_data``. Each query runs ``--repeat``
    times (default 60) on one connection, with its parameters drawn afresh each time (a ward, a field, a
    unit, a page), after a few warm-up runs; it prints p50, p95, p99 and max in milliseconds and whether
    p95 is under the target (50 ms).
    The map of all units and the dashboard read the open-case counters of migration 0017 (rollups kept by
    triggers); they are timed twice: as polled (the deltas already folded) and right after 20 open cases
    changed (untimed) so that the read folds their 40 deltas first. At the end the counters are compared with
    a fresh count of the cases, and the plans of the map's points queries are printed (index-only scans).
    This is a benchmark that prints numbers, not a test: it never fails on a slow result.

Where the data goes
    A fresh database ``bench_console_<random>`` on the PostgreSQL server named by ``--database-url`` or
    DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres; its server is used for CREATE and
    DROP DATABASE, so the role needs CREATEDB and, for the fast load, superuser to switch triggers off),
    migrated with ``hotline.db.migrate``, dropped at the end (also on an error or Ctrl-C). ``--keep`` keeps
    it and prints its name; ``--reuse NAME`` runs the queries on a kept one without loading again.

The data
    ``--cases`` cases (default 1,000,000), generated in the database with INSERT ... SELECT generate_series
    (the notification triggers off while loading: session_replication_role = replica; the secondary
    indexes dropped and rebuilt from their own definitions; the counters counted again, as the triggers that
    keep them were off; then VACUUM ANALYZE). Ids grow with time over the
    last year, the newest at the start of the run. Statuses as a working hotline has them (most closed or
    answered; 16 % open: triage, forwarded, in progress, reopened, received), 7 channels, 15 fields, the 168
    real ward codes with a point for 70 % of the cases, 40 units, 300 staff of whom 60 are online and hold
    the assigned cases, deadlines at risk or overdue for a fifth of the open ones, a few paused. Texts are
    short Vietnamese reports from templates, half of them typed without diacritics (as citizens do), folded
    into search_text after the tracking code as intake does; tracking codes have intake's shape (ten digits,
    the last a Damm check digit: ``code(i)``), so a code typed in the search box takes the unique index as it
    does in service. One case in ten has a message.

Usage
    .venv/bin/python bench/console.py                          # 1,000,000 cases, 60 runs per query
    .venv/bin/python bench/console.py --cases 100000 --repeat 30
    .venv/bin/python bench/console.py --keep                   # then --reuse bench_console_xxxx
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.scratch import local_database as _database  # noqa: E402
from bench.scratch import nearest_rank as _pct  # noqa: E402
from casework import codes  # noqa: E402
from casework.store import cases as casework_cases  # noqa: E402
from console import dashboard, wards  # noqa: E402
from console import map as console_map  # noqa: E402
from console.store import InboxFilter, inbox  # noqa: E402
from console.store import map as map_store  # noqa: E402
from hotline.db import create_pool, migrate  # noqa: E402
from kernel.cases import OPEN_SQL  # noqa: E402
from kernel.text import fold  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_P95_MS = 50.0
PAGE = 50
UNITS = 40
STAFF, ONLINE = 300, 60
CHANNELS = ["web", "sms", "voice", "telegram", "email", "chat", "open311"]
FIELDS = ["admin_procedures", "urban_infrastructure", "traffic", "public_transport", "water_supply",
          "drainage_flooding", "electricity", "public_lighting", "trees", "environment", "noise", "urban_order",
          "security", "telecom", "health"]
# status, weight (per mille): a year of a working hotline, mostly finished
STATUSES = [("closed", 560), ("answered", 150), ("rejected", 40), ("duplicate", 90), ("in_progress", 70),
            ("forwarded", 50), ("triage", 20), ("reopened", 15), ("received", 5)]
TEXTS = [
    "Đường {s} ngập sâu sau mưa, xe chết máy", "Hẻm {n} {s} ngập nước vào nhà", "Mất nắp cống trước số {n} {s}",
    "Cây xanh trước số {n} {s} bị đổ chắn đường", "Đèn đường trên {s} không sáng mấy ngày nay",
    "Mất điện khu vực {s} từ sáng", "Ổ gà lớn trên {s} gần số {n}", "Kẹt xe nghiêm trọng trên {s}",
    "Mất nước sinh hoạt ở hẻm {n} {s}", "Karaoke số {n} {s} hát ồn đến khuya",
    "Rác tập kết trái phép đầu hẻm {n} {s}, bốc mùi", "Vỉa hè {s} bị lấn chiếm buôn bán",
    "Đua xe trái phép trên {s} ban đêm", "Nhà chờ xe buýt trên {s} bị hỏng mái", "Cáp viễn thông võng thấp trên {s}",
    "Hồ sơ nộp ở phường trễ hẹn, tôi ở số {n} {s}", "Ổ dịch sốt xuất huyết hẻm {n} {s}",
]
STREETS = ["Lê Lợi", "Nguyễn Huệ", "Trần Hưng Đạo", "Hai Bà Trưng", "Điện Biên Phủ", "Cách Mạng Tháng Tám",
           "Võ Văn Tần", "Pasteur", "Nam Kỳ Khởi Nghĩa", "Lý Thường Kiệt", "Phan Xích Long", "Nguyễn Thị Minh Khai",
           "Xô Viết Nghệ Tĩnh", "Phạm Văn Đồng", "Huỳnh Tấn Phát", "Lê Văn Sỹ", "Nguyễn Văn Linh", "Âu Cơ"]
SEARCHES = [("ngập nước", "ngap nuoc"), ("mất điện", "mat dien"), ("đèn đường", "den duong"),
            ("Nguyễn Huệ", "nguyen hue"), ("karaoke", "karaoke"), ("cây đổ", "cay do"), ("ổ gà", "o ga"),
            ("xe buýt", "xe buyt")]


def code(i: int) -> str:
    """The tracking code of the i-th generated case: ten digits as intake draws them, distinct for each i."""
    body = str(10 ** 8 + (i * 7919) % (9 * 10 ** 8))  # 7919 is prime to 9e8: a permutation
    return body + codes.check_digit(body)


def _texts(rng: random.Random, n: int = 600) -> tuple[list[str], list[str]]:
    """Report texts, half without diacritics, and their folded search text."""
    texts, folded = [], []
    for i in range(n):
        text = rng.choice(TEXTS).format(s=rng.choice(STREETS), n=rng.randrange(1, 400))
        if i % 2:
            text = fold(text)  # typed without diacritics
        texts.append(text)
        folded.append(fold(text))
    return texts, folded


async def load(conn: asyncpg.Connection, n: int, now: datetime, seed: int = 1022) -> float:
    """Fill the database; return the seconds it took."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    ward_codes = sorted(wards.wards())
    texts, folded = _texts(rng)
    units = [f"unit-{i:02d}" for i in range(UNITS)]
    await conn.executemany("INSERT INTO departments (code, name_vi, name_en, kind) VALUES ($1, $2, $3, 'department')",
                           [(u, f"Đơn vị {i}", f"Unit {i}", ) for i, u in enumerate(units)])
    await conn.execute(
        "INSERT INTO staff_users (username, display_name, role, department, available, capacity)"
        " SELECT 'staff' || i, 'Cán bộ ' || i, CASE WHEN i % 3 = 0 THEN 'agent' ELSE 'department' END,"
        " CASE WHEN i % 3 = 0 THEN NULL ELSE ($1::text[])[1 + i % $2] END, i <= $3, 15"
        " FROM generate_series(1, $4) i", units, UNITS, ONLINE, STAFF)
    cumulative, total = [], 0
    for status, weight in STATUSES:
        total += weight
        cumulative.append((status, total))
    status_case = "CASE " + " ".join(f"WHEN r.s < {c} THEN '{s}'" for s, c in cumulative[:-1]) + \
        f" ELSE '{cumulative[-1][0]}' END"
    indexes = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases'"
                               " AND indexname NOT IN ('cases_pkey', 'cases_tracking_code_key')")
    async with conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # no NOTIFY per row while loading
        for ix in indexes:
            await conn.execute(f'DROP INDEX "{ix["indexname"]}"')
        await conn.execute(
            f"""
            INSERT INTO cases (tracking_code, status, channel, description, search_text, locale, field, urgent,
                               address, lat, lon, ward_code, department, created_at, updated_at, processed_at,
                               forwarded_at, accepted_at, sla_state, assignee, clock_paused_at, due_at)
            SELECT g.code, st.status,
                   ($1::text[])[1 + (i * 7) % array_length($1::text[], 1)],
                   ($2::text[])[1 + r.t], g.code || ' ' || ($3::text[])[1 + r.t], 'vi',
                   CASE WHEN r.f < 15 THEN ($4::text[])[1 + r.f] END, r.u < 0.04,
                   CASE WHEN r.p < 0.7
                        THEN 'Số ' || (i % 400) || ' ' || ($5::text[])[1 + i % array_length($5::text[], 1)] END,
                   CASE WHEN r.p < 0.7 THEN 10.55 + r.y * 0.6 END, CASE WHEN r.p < 0.7 THEN 106.45 + r.x * 0.6 END,
                   CASE WHEN r.w < 0.92 THEN ($6::text[])[1 + (r.w * 10000)::int % array_length($6::text[], 1)] END,
                   CASE WHEN st.status NOT IN ('received', 'triage') THEN ($7::text[])[1 + (i * 13) % {UNITS}] END,
                   c.at, c.at, c.at,
                   CASE WHEN st.status NOT IN ('received', 'triage') THEN c.at + (r.m * interval '20 minutes') END,
                   CASE WHEN st.status NOT IN ('received', 'triage', 'forwarded') THEN c.at + interval '1 hour' END,
                   CASE WHEN st.status IN ('forwarded', 'in_progress', 'reopened', 'triage')
                        THEN CASE WHEN r.d < 0.1 THEN 'overdue' WHEN r.d < 0.2 THEN 'at_risk' ELSE 'ok' END
                        ELSE 'ok' END,
                   CASE WHEN st.status IN ('in_progress', 'reopened', 'triage') AND r.d > 0.3 THEN 1 + 3 * (i % 20) END,
                   CASE WHEN st.status = 'in_progress' AND r.d > 0.97 THEN c.at + interval '2 hours' END,
                   CASE WHEN st.status IN ('forwarded', 'in_progress', 'reopened', 'triage')
                        THEN c.at + interval '5 days' END
            FROM unnest($10::text[]) WITH ORDINALITY g(code, i)  -- ordinality: no O(n) array subscript per row
            CROSS JOIN LATERAL (SELECT $9::timestamptz - ($8::int - i) * interval '31.5 seconds' AS at) c
            CROSS JOIN LATERAL (SELECT (random() * 1000)::int AS s, (random() * 599)::int AS t,
                                       (random() * 16)::int AS f, random() AS u, random() AS p, random() AS x,
                                       random() AS y, random() AS w, random() AS m, random() AS d, i AS k) r
            CROSS JOIN LATERAL (SELECT {status_case} AS status) st
            """,
            CHANNELS, texts, folded, FIELDS, STREETS, ward_codes, units, n, now, [code(i) for i in range(1, n + 1)])
        await conn.execute(
            "INSERT INTO messages (case_id, direction, channel, provider_message_id, text, created_at)"
            " SELECT c.id, 'in', c.channel, 'bench:' || c.id, c.description, c.created_at"
            " FROM cases c WHERE c.id % 10 = 0")
        for ix in indexes:
            await conn.execute(ix["indexdef"])
        await conn.execute("SELECT console_rebuild_open_counts()")  # the triggers were off while loading
    await conn.execute("VACUUM ANALYZE cases")
    await conn.execute("VACUUM ANALYZE messages")
    await conn.execute("VACUUM ANALYZE staff_users")
    return time.perf_counter() - t0


Query = Callable[[asyncpg.Connection, random.Random], Awaitable[Any]]
CHANGES = 20  # open cases changed before each run of an "after changes" query


async def change_open_cases(conn: asyncpg.Connection, rng: random.Random, open_ids: list[int]) -> None:
    """Move CHANGES open cases' deadline state (ok <-> at risk) as the escalation job does: 2 deltas each."""
    await conn.execute(
        "UPDATE cases SET sla_state = CASE sla_state WHEN 'ok' THEN 'at_risk' WHEN 'at_risk' THEN 'ok'"
        " ELSE 'at_risk' END WHERE id = ANY($1::bigint[])", rng.sample(open_ids, CHANGES))


def queries(conn_info: dict[str, Any]) -> dict[str, Query]:
    """The console's reads, each a function of a connection and a random source (for its parameters)."""
    units, ward_codes, max_id, online = (conn_info["units"], conn_info["wards"], conn_info["max_id"],
                                         conn_info["online"])

    def unit(rng: random.Random) -> str:
        return rng.choice(units)

    def q(flt: InboxFilter, *, me: int | None = None, scope: str | None = None, after: int | None = None) -> Any:
        return lambda conn: inbox(conn, flt, me=me, scope_department=scope, after=after, limit=PAGE + 1)

    def search(text: str) -> str:
        return fold(text)

    out: dict[str, Query] = {
        "inbox all (supervisor)": lambda c, r: q(InboxFilter())(c),
        "inbox triage": lambda c, r: q(InboxFilter(queue="triage"))(c),
        "inbox mine (agent)": lambda c, r: q(InboxFilter(queue="mine"), me=r.choice(online))(c),
        "inbox unit (department)": lambda c, r: q(InboxFilter(queue="unit"), scope=unit(r))(c),
        "inbox at risk": lambda c, r: q(InboxFilter(queue="at_risk"))(c),
        "inbox overdue (department)": lambda c, r: q(InboxFilter(queue="overdue"), scope=unit(r))(c),
        "inbox waiting": lambda c, r: q(InboxFilter(queue="waiting"))(c),
        "filter status in_progress": lambda c, r: q(InboxFilter(status="in_progress"))(c),
        "filter field": lambda c, r: q(InboxFilter(field=r.choice(FIELDS)))(c),
        "filter ward": lambda c, r: q(InboxFilter(ward=r.choice(ward_codes)))(c),
        "filter ward + field": lambda c, r: q(InboxFilter(ward=r.choice(ward_codes), field=r.choice(FIELDS)))(c),
        "filter channel + urgent": lambda c, r: q(InboxFilter(channel=r.choice(CHANNELS), urgent=True))(c),
        "filter last 7 days + field": lambda c, r: q(InboxFilter(
            field=r.choice(FIELDS), since=conn_info["now"] - timedelta(days=7)))(c),
        "filter a past week (from/to)": lambda c, r: q(InboxFilter(
            since=conn_info["now"] - timedelta(days=r.randrange(30, 300)),
            until=conn_info["now"] - timedelta(days=r.randrange(23, 29))))(c),
        "keyset page deep (all)": lambda c, r: q(InboxFilter(), after=r.randrange(max_id // 10, max_id))(c),
        "keyset page deep (unit)": lambda c, r: q(InboxFilter(queue="unit"), scope=unit(r),
                                                  after=r.randrange(max_id // 10, max_id))(c),
        "keyset page deep (ward)": lambda c, r: q(InboxFilter(ward=r.choice(ward_codes)),
                                                  after=r.randrange(max_id // 2, max_id))(c),
        "search with diacritics": lambda c, r: q(InboxFilter(text=search(r.choice(SEARCHES)[0])))(c),
        "search without diacritics": lambda c, r: q(InboxFilter(text=search(r.choice(SEARCHES)[1])))(c),
        "search prefix (ngap nuo)": lambda c, r: q(InboxFilter(text=search("ngap nuo")))(c),
        "search tracking code": lambda c, r: q(InboxFilter(text=search(code(r.randrange(1, max_id)))))(c),
        "search a code's first digits": lambda c, r: q(InboxFilter(text=search(code(r.randrange(1, max_id))[:6])))(c),
        "search + unit": lambda c, r: q(InboxFilter(queue="unit", text=search(r.choice(SEARCHES)[0])),
                                        scope=unit(r))(c),
        "search + open queue (triage)": lambda c, r: q(InboxFilter(queue="triage",
                                                                   text=search(r.choice(SEARCHES)[1])))(c),
        "staff API list (casework)": lambda c, r: casework_cases.list_cases(
            c, casework_cases.CaseFilter(status="forwarded"), scope_department=None, after=None, limit=PAGE + 1),
        "map data (all)": lambda c, r: console_map.map_data(c, console_map.MapScope()),
        "map data (all, one field)": lambda c, r: console_map.map_data(c, console_map.MapScope(field=r.choice(FIELDS))),
        "map data (unit)": lambda c, r: console_map.map_data(c, console_map.MapScope(department=unit(r))),
        "map data (unit, one field)": lambda c, r: console_map.map_data(
            c, console_map.MapScope(department=unit(r), field=r.choice(FIELDS))),
        "dashboard data": lambda c, r: dashboard.dashboard_data(c, conn_info["now"]),
        # Last: they write (and leave the deadline states a little different from the load's).
        f"map data (all) after {CHANGES} changes": lambda c, r: console_map.map_data(c, console_map.MapScope()),
        f"dashboard data after {CHANGES} changes": lambda c, r: dashboard.dashboard_data(c, conn_info["now"]),
    }
    return out


def setups(conn_info: dict[str, Any]) -> dict[str, Query]:
    """What runs, untimed, before each run of a query (by name)."""
    def change(c: asyncpg.Connection, r: random.Random) -> Awaitable[None]:
        return change_open_cases(c, r, conn_info["open_ids"])

    return {f"map data (all) after {CHANGES} changes": change, f"dashboard data after {CHANGES} changes": change}


async def run_queries(conn: asyncpg.Connection, repeat: int, now: datetime,
                      seed: int = 7) -> list[tuple[str, list[float]]]:
    info = {
        "units": [r["code"] for r in await conn.fetch("SELECT code FROM departments ORDER BY code")],
        "wards": sorted(wards.wards()),
        "max_id": await conn.fetchval("SELECT max(id) FROM cases"),
        "online": [r["id"] for r in await conn.fetch("SELECT id FROM staff_users WHERE available ORDER BY id")],
        "now": now,
        "open_ids": [r["id"] for r in await conn.fetch(f"SELECT id FROM cases WHERE status IN {OPEN_SQL}")],
    }
    before = setups(info)
    results = []
    for name, fn in queries(info).items():
        rng = random.Random(f"{seed}:{name}")
        setup = before.get(name)
        for _ in range(3):
            if setup:
                await setup(conn, rng)
            await fn(conn, rng)
        timings = []
        for _ in range(repeat):
            if setup:
                await setup(conn, rng)
            t0 = time.perf_counter()
            await fn(conn, rng)
            timings.append((time.perf_counter() - t0) * 1000)
        results.append((name, timings))
    return results


async def check_counters(conn: asyncpg.Connection) -> None:
    """Print whether the open-case counters (rollup + pending deltas) equal a fresh count of the cases."""
    fresh_wards = await conn.fetch(f"SELECT ward_code, field, count(*) AS n FROM cases WHERE status IN {OPEN_SQL}"
                                   " GROUP BY ward_code, field")
    kept_wards = await conn.fetch(
        "SELECT ward_code, field, sum(n)::bigint AS n FROM (SELECT ward_code, field, n FROM console_open_wards"
        " UNION ALL SELECT ward_code, field, n FROM console_open_deltas) o GROUP BY ward_code, field"
        " HAVING sum(n) <> 0")
    fresh_units = await conn.fetch(
        "SELECT department, status, sla_state, accepted_at IS NULL AS unaccepted, count(*) AS n FROM cases"
        f" WHERE status IN {OPEN_SQL} GROUP BY department, status, sla_state, accepted_at IS NULL")
    kept_units = await conn.fetch(
        "SELECT department, status, sla_state, unaccepted, sum(n)::bigint AS n FROM (SELECT department, status,"
        " sla_state, unaccepted, n FROM console_open_units UNION ALL SELECT department, status, sla_state,"
        " unaccepted, n FROM console_open_deltas) o GROUP BY department, status, sla_state, unaccepted"
        " HAVING sum(n) <> 0")
    same = {tuple(r) for r in fresh_wards} == {tuple(r) for r in kept_wards} and \
        {tuple(r) for r in fresh_units} == {tuple(r) for r in kept_units}
    print(f"counters: {len(kept_wards):,} ward x field and {len(kept_units):,} unit x state groups;"
          f" equal to a fresh count of the cases: {'yes' if same else 'NO'}")


async def print_plans(conn: asyncpg.Connection, unit: str) -> None:
    """The plans of the map's points queries (all units, one field, one unit): index-only scans."""
    for label, department, field in (("all units", None, None), ("one field", None, FIELDS[-1]),
                                     ("one unit", unit, None)):
        where, args = map_store._where(department, field)
        plan = await conn.fetch(
            f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) SELECT c.id, c.tracking_code, c.status, c.field,"
            f" c.urgent, c.ward_code, c.lat, c.lon, c.sla_state FROM cases c WHERE {where} AND c.lat IS NOT NULL"
            f" AND c.lon IS NOT NULL ORDER BY c.id DESC LIMIT {console_map.MAX_POINTS + 1}", *args)
        lines = [r[0].strip() for r in plan]
        scan = next((line.lstrip("-> ") for line in lines if "Scan" in line), lines[0])
        took = next((line for line in lines if line.startswith("Execution Time")), "")
        print(f"map points, {label}: {scan}; {took}")


def report(results: list[tuple[str, list[float]]]) -> list[str]:
    """Print the table; return the names of the queries over the target."""
    width = max(len(n) for n, _ in results)
    print(f"{'query':<{width}}  {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  (ms; target p95 < {TARGET_P95_MS:g})")
    missed = []
    for name, t in results:
        p95 = _pct(t, 95)
        flag = "" if p95 < TARGET_P95_MS else "  MISSED"
        if flag:
            missed.append(name)
        print(f"{name:<{width}}  {_pct(t, 50):7.2f} {p95:7.2f} {_pct(t, 99):7.2f} {max(t):7.2f}{flag}")
    all_p95 = [_pct(t, 95) for _, t in results]
    print(f"{len(results)} queries, {len(results) - len(missed)} under target; median of the p95s"
          f" {statistics.median(all_p95):.2f} ms, worst {max(all_p95):.2f} ms")
    return missed


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--reuse", default=None, help="run on a kept database instead of loading one")
    args = parser.parse_args(argv)
    import os

    server = args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    name = args.reuse or f"bench_console_{uuid.uuid4().hex[:8]}"
    dsn = _database(server, name)
    admin = await asyncpg.connect(_database(server, urlsplit(server).path.lstrip("/") or "postgres"))
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        if not args.reuse:
            await admin.execute(f'CREATE DATABASE "{name}"')
            pool = await create_pool(dsn, min_size=1, max_size=2)
            await migrate(pool)
            await pool.close()
        conn = await asyncpg.connect(dsn)
        try:
            if not args.reuse:
                seconds = await load(conn, args.cases, now)
                print(f"loaded {args.cases:,} cases in {seconds:.1f} s into {name}")
            else:
                now = await conn.fetchval("SELECT max(created_at) FROM cases")
            size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('cases'))")
            counts = await conn.fetch("SELECT status, count(*) AS n FROM cases GROUP BY status ORDER BY n DESC")
            print(f"cases: {size} with indexes; " + ", ".join(f"{r['status']} {r['n']:,}" for r in counts))
            results = await run_queries(conn, args.repeat, now)
            missed = report(results)
            if missed:
                print("over the target:", ", ".join(missed))
            await check_counters(conn)
            await print_plans(conn, await conn.fetchval("SELECT min(code) FROM departments"))
        finally:
            await conn.close()
    finally:
        if not args.keep and not args.reuse:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif args.keep:
            print(f"kept database {name}: --reuse {name}")
        await admin.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
