#!/usr/bin/env python
"""Reports benchmark: the monthly SLA report over two million cases and their event logs.

What it measures
    The reports as the API, the console and the CLI compute them: ``casework.reports.sla.sla_report`` (all
    four groupings: unit, field, channel, ward) for the city's month (12:00 on the 25th to 12:00 on the 25th,
    Vietnam time: the last one closed before the data ends), for the twelve city months ending there, and for
    everything loaded; and ``dti_report`` for the last closed quarter. Each runs ``--repeat`` times (default
    10) after a warm-up, with report_pending empty (the worker keeps the facts current: the steady state),
    and prints p50, p95 and max in milliseconds (target: the month under 1 s). Then the month by unit once
    more, each run right after 1,000 cases were queued for a new computation (a busy moment: the report
    computes them first), and the plan of the month's aggregate (EXPLAIN ANALYZE, BUFFERS).
    Before the reports, the projection that feeds them. All cases are projected in batches of ids (the
    event query of ``casework.reports.store.refresh_facts``, ``facts_from_events``, the upsert of
    ``store._save``, without report_pending). Then ``refresh_facts`` itself, the real function the worker's
    chores and every report run, on ``--sample`` random cases (default 20,000) queued again: cases and events
    per second, the cost of keeping case_facts current; the first 2,000 of them must come out equal to their
    bulk facts (the mismatches are printed: 0). Then with every case pending, as ``hotline report rebuild``
    leaves it: eight batches, and the plans of refresh_facts's delete of the pending rows it read, custom and
    generic, with report_pending never analyzed (as migration 0019's backfill leaves it), analyzed nearly
    empty, and analyzed full.
    This is a benchmark that prints numbers, not a test: it never fails on a slow result.

Where the data goes
    A fresh database ``bench_reports_<random>`` on the PostgreSQL server named by ``--database-url`` or
    DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres; its server is used for CREATE and
    DROP DATABASE, so the role needs CREATEDB and, for the fast load, superuser to switch triggers off),
    migrated with ``hotline.db.migrate``, dropped at the end (also on an error or Ctrl-C). ``--keep`` keeps
    it and prints its name; ``--reuse NAME`` runs the reports on a kept one without loading again (with
    ``--projection``, the projection's timings too).

The data
    ``--cases`` cases (default 2,000,000) received over the two years before the run (ids grow with time, one
    case every ~32 s, so a city month holds 1/24 of them), each with the event log the real writers leave
    (hotline/pipeline.py, casework/actions.py, casework/ratings.py), generated in the database with
    INSERT ... SELECT generate_series from a plan drawn once per case (``setseed``: the same data every run),
    the triggers off while loading (session_replication_role = replica) and the event log inserted in time
    order, as a hotline writes it. A case's history: received (7 channels, voice most), classified (15 fields,
    a few common ones most; 3% unclassified go to triage) and geocoded (the 168 real ward codes of
    routing/data/wards.csv, 92% located), then either a duplicate (6%), or routed at once with its deadline
    (``due_at`` in the routed event: 3 hours 24/7 for the 3% urgent, else 5, 10 or 15 working days as the
    default policies say, approximated in calendar days), or triaged (10%) and forwarded by an agent minutes
    to hours later; the units are the shipped ones (routing.store.seed: 17 city units and the 168 ward
    People's Committees). Then: rejected back to triage and forwarded again (2%), accepted, transferred to
    another unit without a new deadline (5%: the report falls back to the cases row), paused while waiting for
    the citizen and resumed with the deadline moved (8%), an interim reply (40%), answered (82% on time, 18%
    late, 1.5% never), rated (30%, 1-5 stars or "not solved"; 80% of "not solved" reopen and are answered
    again), corrected by hand (2% a new field), closed a week after the answer (65%). Events due after the
    run's start are not written, so the newest cases are open. About 9 events a case.

Usage
    .venv/bin/python bench/reports.py                          # 2,000,000 cases, 10 runs per report
    .venv/bin/python bench/reports.py --cases 200000 --repeat 5
    .venv/bin/python bench/reports.py --keep                   # then --reuse bench_reports_xxxx [--projection]
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
from casework.reports import sla  # noqa: E402
from casework.reports import store as reports_store  # noqa: E402
from casework.reports.facts import facts_from_events  # noqa: E402
from casework.reports.periods import Period, current_month, current_quarter, monthly, quarter  # noqa: E402
from hotline.db import create_pool, migrate  # noqa: E402
from routing import store as routing_store  # noqa: E402
from routing.calendar import BusinessCalendar, load_overrides  # noqa: E402
from routing.sla import SEVERAL_AGENCIES, TECHNICAL_INFRASTRUCTURE, default_policies  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_MONTH_MS = 1000.0
SPAN_DAYS = 730
SAMPLE = 20_000  # cases projected through refresh_facts on their own, to time the projection
BUSY = 1_000  # cases pending before each run of the busy-moment report
CHECK = 2_000  # of the sample: facts from the bulk projection compared with refresh_facts's
BULK_BATCH = 2_000  # cases per transaction when projecting everything
WARDS_CSV = ROOT / "routing" / "data" / "wards.csv"

# channel, weight: a city hotline is still mostly phone calls
CHANNELS = [("voice", 38), ("web", 20), ("sms", 10), ("chat", 10), ("email", 8), ("telegram", 8), ("open311", 6)]
# field, weight, the units it goes to (three slots, drawn evenly), the share that goes to the ward's committee
FIELDS: list[tuple[str, int, tuple[str, str, str], float]] = [
    ("urban_order", 16, ("so-xay-dung", "cong-an-tp", "so-xay-dung"), 0.75),
    ("traffic", 12, ("so-xay-dung", "cong-an-tp", "ttqlhtkt"), 0.2),
    ("drainage_flooding", 10, ("thoat-nuoc", "thoat-nuoc", "ttqlhtkt"), 0.2),
    ("urban_infrastructure", 10, ("ttqlhtkt", "so-xay-dung", "ttqlhtkt"), 0.3),
    ("environment", 9, ("so-nong-nghiep-moi-truong", "so-nong-nghiep-moi-truong", "cong-an-tp"), 0.6),
    ("noise", 8, ("cong-an-tp", "so-van-hoa-the-thao", "cong-an-tp"), 0.7),
    ("admin_procedures", 7, ("ttphcc", "ttphcc", "so-xay-dung"), 0.5),
    ("electricity", 6, ("evn-hcmc", "evn-hcmc", "evn-hcmc"), 0.0),
    ("water_supply", 5, ("sawaco", "sawaco", "sawaco"), 0.0),
    ("public_lighting", 4, ("chieu-sang", "chieu-sang", "chieu-sang"), 0.0),
    ("trees", 4, ("cay-xanh", "cay-xanh", "cay-xanh"), 0.1),
    ("security", 3, ("cong-an-tp", "cong-an-tp", "cong-an-tp"), 0.3),
    ("public_transport", 2, ("ttqlgtcc", "ttqlgtcc", "so-xay-dung"), 0.0),
    ("telecom", 2, ("viettel-hcm", "vnpt-hcm", "mobifone-hcm"), 0.0),
    ("health", 2, ("so-y-te", "so-y-te", "so-y-te"), 0.2),
]
OTHER_UNITS = ["so-xay-dung", "so-nong-nghiep-moi-truong", "so-y-te", "so-khoa-hoc-cong-nghe", "so-van-hoa-the-thao",
               "cong-an-tp", "ttphcc", "ttqlhtkt", "ttqlgtcc", "evn-hcmc", "sawaco", "thoat-nuoc", "cay-xanh",
               "chieu-sang", "viettel-hcm", "vnpt-hcm", "mobifone-hcm"]
# rating, weight (None: "not solved" without a score)
RATINGS = [(5, 42), (4, 23), (3, 13), (2, 9), (1, 8), (None, 5)]


def _pick(draw: str, weights: list[float]) -> str:
    """A SQL CASE giving the 1-based index the uniform draw `draw` falls on, with these weights."""
    total, acc, parts = sum(weights), 0.0, []
    for i, w in enumerate(weights[:-1], 1):
        acc += w / total
        parts.append(f"WHEN {draw} < {acc:.6f} THEN {i}")
    return f"CASE {' '.join(parts)} ELSE {len(weights)} END"


def _days(field: str) -> int:
    """Working days to resolve a normal case of `field` (routing.sla.default_policies)."""
    return 5 if field in TECHNICAL_INFRASTRUCTURE else 15 if field in SEVERAL_AGENCIES else 10


def ward_codes() -> list[str]:
    with WARDS_CSV.open(encoding="utf-8") as f:
        return [line.split(",", 1)[0] for line in f.read().splitlines()[1:] if line]


def calendar(now: datetime) -> BusinessCalendar:
    """The router's business calendar, built for every year the data and its deadlines reach."""
    return BusinessCalendar.vietnam(range(now.year - 3, now.year + 2), load_overrides())


# One row per case: every draw and every moment of its history (NULL: it does not happen). Moments are
# chained, each after the one before, so the events up to any instant are a prefix of the history.
PLAN_SQL = """
CREATE UNLOGGED TABLE bench_plan AS
SELECT b.*, c.*, d.*, e.*, f.*, g.*, h.*, i.*, j.*, k.*, l.*, m.*, n.*, o.*, q.*, r.*, z.*
FROM (
    SELECT s AS id,
           $2::timestamptz - make_interval(days => $3) + ((s - 0.5) * 86400.0 * $3 / $1) * interval '1 second' AS t0,
           random() AS r_ch, random() AS r_f, random() AS r_cls, random() AS r_urg, random() AS r_w, random() AS r_w2,
           random() AS r_dup, random() AS r_tri, random() AS r_u, random() AS r_u2, random() AS r_proc,
           random() AS r_fwd, random() AS r_rej, random() AS r_rej2, random() AS r_acc, random() AS r_tr,
           random() AS r_tr2, random() AS r_p, random() AS r_p2, random() AS r_p3, random() AS r_open,
           random() AS r_late, random() AS r_res, random() AS r_int, random() AS r_int2, random() AS r_close,
           random() AS r_rate, random() AS r_rt, random() AS r_stars, random() AS r_reo, random() AS r_res2,
           random() AS r_fc, random() AS r_fc2
    FROM generate_series(1, $1) s OFFSET 0
) b
-- Each step a LATERAL subquery kept apart (OFFSET 0): flattened, every use of a moment would copy the
-- whole expression of the moments before it, and the plan would grow exponentially.
CROSS JOIN LATERAL (
    SELECT ($4::text[])[{channel}] AS channel, {field} AS fi, r_cls < 0.97 AS classified,
           CASE WHEN r_w < 0.92 THEN ($9::text[])[1 + floor(array_length($9::text[], 1) * power(r_w2, 1.3))::int]
           END AS ward,
           id > 1 AND r_dup < 0.06 AS dup,
           t0 + (5 + 85 * r_proc) * interval '1 second' AS t_proc
    OFFSET 0
) c
CROSS JOIN LATERAL (
    SELECT CASE WHEN classified THEN ($5::text[])[fi] END AS field,
           classified AND r_urg < 0.03 AS urgent,
           NOT dup AND (NOT classified OR r_tri < 0.10) AS triage,
           CASE WHEN ward IS NOT NULL AND r_u < ($7::float8[])[fi] THEN 'ubnd-' || ward
                ELSE ($6::text[])[(fi - 1) * 3 + 1 + floor(r_u2 * 3)::int] END AS unit,
           CASE WHEN NOT dup AND r_rej < 0.02
                THEN ($10::text[])[1 + floor(r_rej2 * array_length($10::text[], 1))::int] END AS unit2,
           ($10::text[])[1 + floor(r_tr2 * array_length($10::text[], 1))::int] AS unit3_draw,
           greatest(1, id - 1 - floor(r_u * 3000)::int) AS parent
    OFFSET 0
) d
CROSS JOIN LATERAL (
    SELECT CASE WHEN urgent THEN interval '3 hours' ELSE ceil(($8::int[])[fi] * 1.4) * interval '1 day' END AS budget,
           CASE WHEN dup THEN NULL
                WHEN triage THEN t_proc + (1 + 120 * r_fwd ^ 3) * interval '1 minute'
                ELSE t_proc END AS t_fwd,
           unit2 IS NOT NULL AS rejected,
           NOT dup AND NOT urgent AND r_tr < 0.05 AS transferred,
           NOT dup AND NOT urgent AND r_p < 0.08 AS paused
    OFFSET 0
) e
CROSS JOIN LATERAL (
    SELECT t_fwd + budget AS due1,
           CASE WHEN rejected THEN t_fwd + (60 + 300 * r_rej2) * interval '1 minute' END AS t_rej
    OFFSET 0
) f
CROSS JOIN LATERAL (SELECT t_rej + (10 + 110 * r_rej) * interval '1 minute' AS t_fwd2 OFFSET 0) g
CROSS JOIN LATERAL (
    SELECT coalesce(t_fwd2, t_fwd) AS f_last, coalesce(t_fwd2 + budget, due1) AS due_b,
           coalesce(t_fwd2, t_fwd) + CASE WHEN urgent THEN (2 + 20 * r_acc) * interval '1 minute'
                                          ELSE (10 + 1430 * r_acc ^ 2) * interval '1 minute' END AS t_acc
    OFFSET 0
) h
CROSS JOIN LATERAL (
    SELECT CASE WHEN transferred THEN t_acc + (120 + 2760 * r_tr2) * interval '1 minute' END AS t_tr,
           CASE WHEN transferred THEN
                CASE WHEN unit3_draw <> coalesce(unit2, unit) THEN unit3_draw
                     WHEN unit3_draw = 'so-xay-dung' THEN 'ttqlhtkt' ELSE 'so-xay-dung' END END AS unit3
    OFFSET 0
) i
CROSS JOIN LATERAL (SELECT t_tr + (30 + 330 * r_tr) * interval '1 minute' AS t_acc2 OFFSET 0) j
CROSS JOIN LATERAL (
    SELECT CASE WHEN paused THEN coalesce(t_acc2, t_acc) + (60 + 1380 * r_p2) * interval '1 minute' END AS t_pause,
           (120 + 9960 * r_p3 ^ 2) * interval '1 minute' AS pause_len
    OFFSET 0
) k
CROSS JOIN LATERAL (
    SELECT t_pause + pause_len AS t_resume,
           CASE WHEN paused THEN due_b + pause_len ELSE due_b END AS due_f,
           coalesce(t_pause + pause_len, t_acc2, t_acc) AS w_start
    OFFSET 0
) l
CROSS JOIN LATERAL (
    SELECT CASE WHEN dup OR r_open < 0.015 THEN NULL
                WHEN r_late < 0.18 THEN greatest(due_f, w_start) + (due_f - f_last) * (0.02 + 0.8 * r_res)
                ELSE w_start + greatest(due_f - w_start, interval '30 minutes') * (0.05 + 0.9 * r_res) END AS t_res
    OFFSET 0
) m
CROSS JOIN LATERAL (
    SELECT CASE WHEN NOT dup AND r_int < 0.4
                THEN w_start + coalesce(t_res - w_start, interval '2 days') * (0.2 + 0.5 * r_int2) END AS t_int,
           CASE WHEN t_res IS NOT NULL AND r_rate < 0.3
                THEN t_res + (60 + 4260 * r_rt) * interval '1 minute' END AS t_rate,
           {stars} AS stars
    OFFSET 0
) n
CROSS JOIN LATERAL (
    SELECT nullif(($11::int[])[stars], 0) AS rating,
           coalesce(($11::int[])[stars] >= 4 OR (($11::int[])[stars] = 3 AND r_rt < 0.5), false) AS solved
    OFFSET 0
) o
CROSS JOIN LATERAL (
    SELECT CASE WHEN t_rate IS NOT NULL AND NOT solved AND r_reo < 0.8 THEN t_rate END AS t_reo OFFSET 0
) q
CROSS JOIN LATERAL (SELECT t_reo + (1440 + 5760 * r_res2) * interval '1 minute' AS t_res2 OFFSET 0) r
CROSS JOIN LATERAL (
    SELECT CASE WHEN coalesce(t_res2, t_res) IS NOT NULL AND r_close < 0.65
                THEN coalesce(t_res2, t_res) + interval '7 days' END AS t_close,
           CASE WHEN NOT dup AND classified AND r_fc < 0.02 THEN t_proc + (5 + 60 * r_fc2) * interval '1 minute'
           END AS t_fc,
           ($5::text[])[1 + (fi + floor(r_fc2 * 13)::int) % 15] AS field2
    OFFSET 0
) z
"""

# The events of each plan row, as the real writers leave them (kind, actor, statuses, the changes the
# projection reads and a few it does not); NULL moments and moments after the run's start are left out.
EVENTS_SQL = """
CREATE UNLOGGED TABLE bench_events AS
SELECT p.id AS case_id, e.step, date_trunc('second', e.at) AS at, e.kind, e.actor, e.from_status, e.to_status,
       e.changes
FROM bench_plan p
CROSS JOIN LATERAL (VALUES
    (1, p.t0, 'received', 'citizen', NULL, 'received', jsonb_build_object('channel', p.channel)),
    (2, CASE WHEN p.classified THEN p.t_proc END, 'classified', 'system', NULL, NULL,
        jsonb_build_object('field', p.field, 'confidence', round((0.4 + 0.6 * p.r_fc2)::numeric, 4),
                           'urgent', p.urgent, 'model', 'bench')),
    (3, CASE WHEN p.ward IS NOT NULL THEN p.t_proc END, 'geocoded', 'system', NULL, NULL,
        jsonb_build_object('ward_code', p.ward, 'confidence', 0.9)),
    (4, CASE WHEN p.dup THEN p.t_proc END, 'duplicate_detected', 'system', NULL, NULL,
        jsonb_build_object('duplicate_of', p.parent, 'score', 0.91)),
    (5, CASE WHEN NOT p.dup AND NOT p.triage THEN p.t_proc END, 'routed', 'system', NULL, NULL,
        jsonb_build_object('department', p.unit, 'rule', 1, 'due_at', bench_iso(p.due1), 'deadline', 'bench')),
    (6, p.t_proc, 'status', 'system', 'received',
        CASE WHEN p.dup THEN 'duplicate' WHEN p.triage THEN 'triage' ELSE 'forwarded' END, '{}'::jsonb),
    (7, CASE WHEN p.triage THEN p.t_fwd END, 'status', 'staff', 'triage', 'forwarded',
        jsonb_build_object('department', jsonb_build_array(NULL, p.unit),
                           'due_at', jsonb_build_array(NULL, bench_iso(p.due1)))),
    (8, p.t_fc, 'field_corrected', 'staff', NULL, NULL,
        jsonb_build_object('field', jsonb_build_array(p.field, p.field2))),
    (9, p.t_rej, 'status', 'staff', 'forwarded', 'rejected', '{}'::jsonb),
    (10, p.t_rej, 'status', 'system', 'rejected', 'triage',
        jsonb_build_object('department', jsonb_build_array(p.unit, NULL))),
    (11, p.t_fwd2, 'status', 'staff', 'triage', 'forwarded',
        jsonb_build_object('department', jsonb_build_array(NULL, p.unit2),
                           'due_at', jsonb_build_array(bench_iso(p.due1), bench_iso(p.t_fwd2 + p.budget)))),
    (12, CASE WHEN NOT p.dup THEN p.t_acc END, 'status', 'staff', 'forwarded', 'in_progress', '{}'::jsonb),
    (13, p.t_tr, 'transferred', 'staff', 'in_progress', 'forwarded',
        jsonb_build_object('department', jsonb_build_array(coalesce(p.unit2, p.unit), p.unit3))),
    (14, p.t_acc2, 'status', 'staff', 'forwarded', 'in_progress', '{}'::jsonb),
    (15, p.t_pause, 'clock_paused', 'staff', NULL, NULL, '{}'::jsonb),
    (16, p.t_resume, 'clock_resumed', 'staff', NULL, NULL,
        jsonb_build_object('paused_seconds', round(extract(epoch FROM p.pause_len)),
                           'due_at', jsonb_build_array(bench_iso(p.due_b), bench_iso(p.due_f)))),
    (17, p.t_int, 'reply', 'staff', NULL, NULL, jsonb_build_object('message_id', 0)),
    (18, p.t_res, 'reply', 'staff', NULL, NULL, jsonb_build_object('message_id', 0)),
    (19, p.t_res, 'status', 'staff', 'in_progress', 'answered', '{}'::jsonb),
    (20, p.t_rate, 'rated', 'citizen', NULL, NULL,
        jsonb_build_object('rating', p.rating, 'solved', p.solved, 'channel', 'web', 'answer_no', 1)),
    (21, p.t_reo, 'status', 'citizen', 'answered', 'reopened', '{}'::jsonb),
    (22, p.t_res2, 'reply', 'staff', NULL, NULL, jsonb_build_object('message_id', 0)),
    (23, p.t_res2, 'status', 'staff', 'reopened', 'answered', '{}'::jsonb),
    (24, p.t_close, 'status', 'staff', 'answered', 'closed', '{}'::jsonb)
) e(step, at, kind, actor, from_status, to_status, changes)
WHERE e.at IS NOT NULL AND e.at <= $1
"""

# The cases rows: the latest state the events leave (the projection reads only id, created_at, channel and
# due_at from it; the rest is there so the rows look like a hotline's).
CASES_SQL = """
INSERT INTO cases (id, tracking_code, status, channel, description, search_text, field, urgent, ward_code, department,
                   due_at, duplicate_of, priority, created_at, updated_at, processed_at, forwarded_at,
                   first_response_at, resolved_at, answers)
SELECT p.id, lpad(p.id::text, 10, '0'), s.status, p.channel, 'Phản ánh thử nghiệm', 'phan anh thu nghiem',
       CASE WHEN p.t_fc <= $1 THEN p.field2 ELSE p.field END, p.urgent, p.ward,
       CASE WHEN s.status IN ('received', 'triage', 'duplicate') THEN NULL
            WHEN p.t_tr <= $1 THEN p.unit3 WHEN p.t_fwd2 <= $1 THEN p.unit2 ELSE p.unit END,
       date_trunc('second', CASE WHEN p.t_resume <= $1 THEN p.due_f WHEN p.t_fwd2 <= $1 THEN p.t_fwd2 + p.budget
                                 WHEN p.t_fwd <= $1 THEN p.due1 END),
       CASE WHEN p.dup THEN p.parent END, CASE WHEN p.urgent THEN 'urgent' ELSE 'normal' END,
       date_trunc('second', p.t0), s.last_at, CASE WHEN p.t_proc <= $1 THEN date_trunc('second', p.t_proc) END,
       CASE WHEN p.f_last <= $1 AND s.status NOT IN ('received', 'triage', 'duplicate')
            THEN date_trunc('second', coalesce(p.t_tr, p.f_last)) END,
       CASE WHEN least(p.t_int, p.t_res) <= $1 THEN date_trunc('second', least(p.t_int, p.t_res)) END,
       CASE WHEN s.status IN ('answered', 'closed') THEN date_trunc('second', coalesce(p.t_res2, p.t_res)) END,
       coalesce((p.t_res <= $1)::int, 0) + coalesce((p.t_res2 <= $1)::int, 0)
FROM bench_plan p
JOIN (SELECT DISTINCT ON (case_id) case_id, to_status AS status, at AS last_at FROM bench_events
      WHERE to_status IS NOT NULL ORDER BY case_id, step DESC) s ON s.case_id = p.id
"""

ISO_SQL = """
CREATE FUNCTION bench_iso(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') $$
"""


async def load(conn: asyncpg.Connection, n: int, now: datetime, seed: float = 0.1022) -> tuple[float, int]:
    """Fill the database; return the seconds it took and the number of events."""
    t0 = time.perf_counter()
    await routing_store.seed(conn, default_policies())
    fields = [f[0] for f in FIELDS]
    plan = PLAN_SQL.format(channel=_pick("r_ch", [w for _, w in CHANNELS]), field=_pick("r_f", [f[1] for f in FIELDS]),
                           stars=_pick("r_stars", [w for _, w in RATINGS]))
    slots = [unit for f in FIELDS for unit in f[2]]
    indexes = await conn.fetch(  # the secondary indexes (not those of a key): dropped and built again after
        "SELECT i.relname AS indexname, pg_get_indexdef(i.oid) AS indexdef FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " WHERE t.relname IN ('cases', 'case_events') AND t.relnamespace = 'public'::regnamespace"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)")
    await conn.execute(ISO_SQL)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")  # no trigger per row while loading
            await conn.execute("SET LOCAL work_mem = '256MB'")
            await conn.execute("SELECT setseed($1)", seed)
            await conn.execute(plan, n, now, SPAN_DAYS, [c for c, _ in CHANNELS], fields, slots,
                               [f[3] for f in FIELDS], [_days(f) for f in fields], ward_codes(), OTHER_UNITS,
                               [r or 0 for r, _ in RATINGS])
            await conn.execute(EVENTS_SQL, now)
            for ix in indexes:
                await conn.execute(f'DROP INDEX "{ix["indexname"]}"')
            await conn.execute(CASES_SQL, now)
            await conn.execute(
                "INSERT INTO case_events (case_id, at, actor_kind, actor_name, kind, from_status, to_status, changes,"
                " public) SELECT case_id, at, actor, actor, kind, from_status, to_status, changes,"
                " kind NOT IN ('classified', 'geocoded', 'duplicate_detected', 'routed', 'field_corrected', 'rated')"
                " FROM bench_events ORDER BY at, case_id, step")
            for ix in indexes:
                await conn.execute(ix["indexdef"])
            await conn.execute("SELECT setval('cases_id_seq', $1)", n)
            if await conn.fetchval("SELECT to_regproc('console_rebuild_open_counts') IS NOT NULL"):
                await conn.execute("SELECT console_rebuild_open_counts()")  # the triggers were off while loading
            events = await conn.fetchval("SELECT count(*) FROM bench_events")
            await conn.execute("DROP TABLE bench_plan, bench_events")
    finally:
        await conn.execute("DROP FUNCTION IF EXISTS bench_iso(timestamptz)")
    await conn.execute("VACUUM ANALYZE cases")
    await conn.execute("VACUUM ANALYZE case_events")
    return time.perf_counter() - t0, events


def periods(now: datetime) -> dict[str, Period]:
    """The city month closed last before `now`, the twelve city months ending with it, and everything."""
    this = current_month(now)
    year, month = int(this.label[:4]), int(this.label[5:])
    last = monthly(year - 1, 12) if month == 1 else monthly(year, month - 1)
    ly, lm = int(last.label[:4]), int(last.label[5:])
    first = monthly(ly - 1, lm + 1) if lm < 12 else monthly(ly, 1)
    everything = Period(now - timedelta(days=SPAN_DAYS + 1), now + timedelta(seconds=1), "all")
    return {"month": last, "year": Period(first.start, last.end, f"{first.label}..{last.label}"), "all": everything}


def last_quarter(now: datetime) -> Period:
    q = current_quarter(now)
    year, n = int(q.label[:4]), int(q.label[-1])
    return quarter(year - 1, 4) if n == 1 else quarter(year, n - 1)


async def project_sample(pool: asyncpg.Pool, clock: BusinessCalendar, n: int, check: int = CHECK) -> None:
    """Queue `n` random cases and compute them through refresh_facts (batches of 500, its default); print the rate.

    The first `check` of them had their facts from the bulk projection: they must come out the same.
    """
    async with pool.acquire() as conn:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM cases ORDER BY random() LIMIT $1", n)]
        events = await conn.fetchval("SELECT count(*) FROM case_events WHERE case_id = ANY($1)", ids)
        await conn.execute("INSERT INTO report_pending (case_id, event_id) SELECT unnest($1::bigint[]), 0"
                           " ON CONFLICT DO NOTHING", ids)
    before = await reports_store.case_facts(pool, ids[:check])
    times = []
    while True:
        t0 = time.perf_counter()
        if not await reports_store.refresh_facts(pool, clock, max_cases=1):
            break
        times.append(time.perf_counter() - t0)
    after = await reports_store.case_facts(pool, ids[:check])
    keys = [c for c in reports_store.COLUMNS if c != "case_id"]
    mismatches = sum(1 for i in before if any(before[i][k] != after.get(i, {}).get(k) for k in keys))
    seconds = sum(times)
    print(f"projection through refresh_facts of {n:,} random cases ({events:,} events): {seconds:.1f} s,"
          f" {n / seconds:,.0f} cases/s, {events / seconds:,.0f} events/s; batches of 500: median"
          f" {statistics.median(times):.2f} s, min {min(times):.2f}, max {max(times):.2f}", flush=True)
    print(f"  {len(before):,} of them projected in bulk first: {mismatches} differ from refresh_facts's facts",
          flush=True)


async def project_all(pool: asyncpg.Pool, clock: BusinessCalendar, workers: int = 2) -> tuple[int, int, float]:
    """Compute every case's facts by ranges of ids; return cases, events and seconds.

    The projection itself (the query refresh_facts loads events with, ``facts_from_events``, the upsert of
    ``store._save``) without report_pending: under a backlog of millions of rows, refresh_facts's delete of the
    rows it read costs more than the projection (see ``backlog``). `workers` connections take turns, so the
    database works on one range while Python computes another.
    """
    t0 = time.perf_counter()
    async with pool.acquire() as conn:
        total = await conn.fetchval("SELECT max(id) FROM cases") or 0
    ranges = iter(range(1, total + 1, BULK_BATCH))
    counts = [0, 0]
    report_every = max(BULK_BATCH, total // 10 // BULK_BATCH * BULK_BATCH)

    async def work() -> None:
        for first in ranges:
            async with pool.acquire() as conn, conn.transaction():
                last = first + BULK_BATCH
                cases = await conn.fetch("SELECT id, created_at, channel, due_at FROM cases WHERE id >= $1 AND id < $2",
                                         first, last)
                events = await conn.fetch(
                    "SELECT e.case_id, e.id, e.at, e.kind, e.from_status, e.to_status,"
                    " coalesce((SELECT jsonb_object_agg(c.key, c.value) FROM jsonb_each(e.changes) c"
                    "           WHERE c.key = ANY($3::text[])), '{}'::jsonb) AS changes"
                    " FROM case_events e WHERE e.case_id >= $1 AND e.case_id < $2 ORDER BY e.case_id, e.id",
                    first, last, reports_store.FACT_KEYS)
                by_case: dict[int, list[asyncpg.Record]] = {}
                for event in events:
                    by_case.setdefault(event["case_id"], []).append(event)
                await reports_store._save(conn, [facts_from_events(c, by_case.get(c["id"], []), clock) for c in cases])
            counts[0] += len(cases)
            counts[1] += len(events)
            if counts[0] % report_every < BULK_BATCH:
                spent = time.perf_counter() - t0
                print(f"  projected {counts[0]:,} of {total:,} cases in {spent:.0f} s"
                      f" ({counts[0] / spent:,.0f} cases/s)", flush=True)

    await asyncio.gather(*(work() for _ in range(workers)))
    seconds = time.perf_counter() - t0
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM report_pending")  # every case was just computed from all its events
        await conn.execute("VACUUM ANALYZE case_facts")
        await conn.execute("VACUUM ANALYZE report_pending")
    return counts[0], counts[1], seconds


# The delete refresh_facts runs after each batch (casework/reports/store.py), on a table named in.
PENDING_DELETE = "DELETE FROM {table} WHERE case_id = ANY($1) AND (event_id = 0 OR event_id = ANY($2))"


async def _delete_ms(conn: asyncpg.Connection, table: str, mode: str, ids: list[int], events: list[int]) -> str:
    """EXPLAIN ANALYZE (rolled back) the pending delete with a custom or the generic plan: its time and scan."""
    args = f"'{{{','.join(map(str, ids))}}}', '{{{','.join(map(str, events))}}}'"  # integers only
    await conn.execute(f"PREPARE bench_delete(bigint[], bigint[]) AS {PENDING_DELETE.format(table=table)}")
    tr = conn.transaction()
    await tr.start()
    try:
        await conn.execute(f"SET LOCAL plan_cache_mode = force_{mode}_plan")
        plan = [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) EXECUTE bench_delete({args})")]
    finally:
        await tr.rollback()
        await conn.execute("DEALLOCATE bench_delete")  # PREPARE outlives a rollback
    ms = float(next(line for line in plan if line.startswith("Execution Time")).split()[2])
    scan = next(line.strip().lstrip("-> ") for line in plan[1:] if "Scan" in line).split(" on ")[0]
    return f"{mode} {ms:,.0f} ms ({scan})"


async def backlog(pool: asyncpg.Pool, clock: BusinessCalendar, batches: int = 8) -> None:
    """Time refresh_facts batches (500 cases, its default) with every case pending, as `hotline report rebuild` does.

    A batch's time depends on the plan PostgreSQL picks for its delete of the pending rows it read: custom
    plans for the first five executions on a connection, then maybe the generic plan. Both are timed
    (EXPLAIN ANALYZE, rolled back) in the three states report_pending can be in with two million rows in it:
    never analyzed (right after migration 0019's backfill), analyzed while nearly empty (a rebuild on a running
    system), analyzed with the rows in it.
    """
    total = await reports_store.queue_all(pool)
    times = []
    for _ in range(batches):
        t0 = time.perf_counter()
        await reports_store.refresh_facts(pool, clock, max_cases=1)
        times.append(time.perf_counter() - t0)
    per = sorted(times)[len(times) // 2]
    print(f"refresh_facts with all {total:,} cases pending: batches of 500 took "
          + ", ".join(f"{t:.2f}" for t in times)
          + f" s; at the median, a rebuild would take {total / 500 * per / 3600:.1f} h", flush=True)
    async with pool.acquire() as conn:
        # A temporary table is never analyzed by autovacuum: it stands for report_pending after the backfill.
        await conn.execute("CREATE TEMP TABLE pending_unanalyzed (case_id bigint NOT NULL, event_id bigint NOT NULL,"
                           " PRIMARY KEY (case_id, event_id))")
        await conn.execute("INSERT INTO pending_unanalyzed SELECT case_id, event_id FROM report_pending")
        samples = []
        for n in (500, 2000):
            ids = [r["case_id"] for r in await conn.fetch(
                "SELECT DISTINCT case_id FROM report_pending ORDER BY case_id LIMIT $1", n)]
            events = [r["id"] for r in await conn.fetch("SELECT id FROM case_events WHERE case_id = ANY($1)", ids)]
            samples.append((ids, events))
        print("  the pending delete of a batch, timed with a custom and with the generic plan:", flush=True)
        for state, table in (("never analyzed", "pending_unanalyzed"), ("as analyzed last", "report_pending"),
                             ("analyzed now", "report_pending")):
            if state == "analyzed now":
                await conn.execute("ANALYZE report_pending")
            estimate = await conn.fetchval("SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass", table)
            for ids, events in samples:
                plans = [await _delete_ms(conn, table, mode, ids, events) for mode in ("custom", "generic")]
                print(f"    {state} (planner's estimate {estimate:,} rows), {len(ids):,} cases ({len(events):,}"
                      " events): " + ", ".join(plans), flush=True)
        await conn.execute("DROP TABLE pending_unanalyzed")
        await conn.execute("DELETE FROM report_pending")
        await conn.execute("VACUUM ANALYZE report_pending")
        await conn.execute("VACUUM case_facts")


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int, setup: Callable[[], Awaitable[Any]] | None = None,
                warm: int = 1) -> list[float]:
    """Milliseconds of `repeat` runs of `fn` after `warm` untimed ones; `setup` runs untimed before each."""
    for _ in range(warm):
        if setup:
            await setup()
        await fn()
    out = []
    for _ in range(repeat):
        if setup:
            await setup()
        t0 = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def line(name: str, t: list[float], target: float | None = None) -> str:
    flag = "" if target is None else ("" if _pct(t, 95) < target else "  OVER TARGET")
    return f"{name:<44} {_pct(t, 50):9.1f} {_pct(t, 95):9.1f} {max(t):9.1f}{flag}"


async def run_reports(pool: asyncpg.Pool, clock: BusinessCalendar, now: datetime, repeat: int) -> None:
    spans = periods(now)
    async with pool.acquire() as conn:
        for name, p in spans.items():
            n = await conn.fetchval("SELECT count(*) FROM case_facts WHERE received_at >= $1 AND received_at < $2",
                                    p.start, p.end)
            print(f"{name}: {p.label} ({p.start:%Y-%m-%d %H:%M} .. {p.end:%Y-%m-%d %H:%M} UTC), {n:,} cases")
    print(f"{'report (report_pending empty)':<44} {'p50':>9} {'p95':>9} {'max':>9}  (ms; target: month < "
          f"{TARGET_MONTH_MS:g})")
    for name, p in spans.items():
        for by in sla.GROUPS:
            t = await timed(lambda p=p, by=by: sla.sla_report(pool, p, by, clock=clock, now=now), repeat)
            print(line(f"sla {name} by {by}", t, TARGET_MONTH_MS if name == "month" else None), flush=True)
    q = last_quarter(now)
    t = await timed(lambda: sla.dti_report(pool, q, clock=clock, now=now), repeat)
    print(line(f"dti {q.label}", t), flush=True)

    month = spans["month"]
    async with pool.acquire() as conn:
        recent = [r["id"] for r in await conn.fetch("SELECT id FROM cases WHERE created_at >= $1",
                                                    now - timedelta(days=30))]

    async def busy() -> None:
        async with pool.acquire() as conn:
            ids = [recent[(i * 7919) % len(recent)] for i in range(BUSY)] if len(recent) >= BUSY else recent
            await conn.execute("INSERT INTO report_pending (case_id, event_id) SELECT unnest($1::bigint[]), 0"
                               " ON CONFLICT DO NOTHING", ids)

    t = await timed(lambda: sla.sla_report(pool, month, "unit", clock=clock, now=now), repeat, setup=busy)
    print(line(f"sla month by unit, {BUSY:,} cases pending", t), flush=True)

    report = await sla.sla_report(pool, month, "unit", clock=clock, now=now)
    f = report.total
    print(f"month {month.label}: received {f.received:,}, duplicates {f.duplicates:,}, handled {f.handled:,}"
          f" (on time {f.on_time_rate or 0:.1%}), overdue open {f.overdue_open:,}, forwarded within 5 min"
          f" {f.forward_rule_rate or 0:.1%}, resolution median {f.resolution.median_work_min or 0:,.0f} working min,"
          f" reopened {f.reopened:,}, ratings {f.ratings:,} (mean {f.rating_mean or 0:.2f}), online"
          f" {f.online_share or 0:.1%}, {len(report.rows)} units, {len(report.ranking.ranked) if report.ranking else 0}"
          " ranked")
    async with pool.acquire() as conn:
        plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + reports_store.aggregate_sql("unit"), month.start,
                                month.end, min(month.end, now), None,
                                sla.legal_work_minutes(clock), sla.FORWARD_RULE_MINUTES)
    print("plan of the month's aggregate (by unit):")
    for row in plan:
        print("  " + row[0])


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--cases", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--sample", type=int, default=SAMPLE, help="cases timed through refresh_facts alone")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--reuse", default=None, help="run on a kept database instead of loading one")
    parser.add_argument("--projection", action="store_true", help="with --reuse: time the projection again")
    args = parser.parse_args(argv)

    server = args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    name = args.reuse or f"bench_reports_{uuid.uuid4().hex[:8]}"
    dsn = _database(server, name)
    admin = await asyncpg.connect(_database(server, urlsplit(server).path.lstrip("/") or "postgres"))
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        if not args.reuse:
            await admin.execute(f'CREATE DATABASE "{name}"')
            pool = await create_pool(dsn, min_size=1, max_size=2)
            await migrate(pool)
            await pool.close()
        conn = await asyncpg.connect(dsn)  # no statement timeout: the load takes minutes
        try:
            if not args.reuse:
                seconds, events = await load(conn, args.cases, now)
                print(f"loaded {args.cases:,} cases and {events:,} events in {seconds:.1f} s into {name}",
                      flush=True)
            else:
                now = await conn.fetchval("SELECT max(at) FROM case_events") + timedelta(seconds=1)
        finally:
            await conn.close()
        pool = await create_pool(dsn, min_size=1, max_size=2)  # as the app opens it (60 s statement timeout)
        try:
            clock = calendar(now)
            measure = not args.reuse or args.projection
            async with pool.acquire() as conn:
                stale = await conn.fetchval("SELECT (SELECT count(*) FROM cases) - (SELECT count(*) FROM case_facts)"
                                            " + (SELECT count(*) FROM report_pending)")
            if measure or stale:
                done, events, seconds = await project_all(pool, clock)
                print(f"projection of all {done:,} cases ({events:,} events) by ranges of {BULK_BATCH:,}:"
                      f" {seconds:.1f} s, {done / seconds:,.0f} cases/s, {events / seconds:,.0f} events/s", flush=True)
            if measure:
                await project_sample(pool, clock, args.sample)
                await backlog(pool, clock)
            async with pool.acquire() as conn:
                sizes = await conn.fetchrow(
                    "SELECT (SELECT count(*) FROM cases) AS cases, (SELECT count(*) FROM case_events) AS events,"
                    " pg_size_pretty(pg_total_relation_size('case_events')) AS events_size,"
                    " pg_size_pretty(pg_total_relation_size('case_facts')) AS facts_size,"
                    " (SELECT count(*) FROM report_pending) AS pending")
                statuses = await conn.fetch("SELECT status, count(*) AS n FROM cases GROUP BY status ORDER BY n DESC")
            print(f"{sizes['cases']:,} cases, {sizes['events']:,} events ({sizes['events_size']} with indexes),"
                  f" case_facts {sizes['facts_size']}, {sizes['pending']} pending; "
                  + ", ".join(f"{r['status']} {r['n']:,}" for r in statuses))
            await run_reports(pool, clock, now, args.repeat)
        finally:
            await pool.close()
    finally:
        if not args.keep and not args.reuse:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif args.keep:
            print(f"kept database {name}: --reuse {name}")
        await admin.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
