"""The reports' SQL: refreshing the case_facts projection from the event log, and the aggregate query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import asyncpg

from casework.reports.facts import CaseFacts, facts_from_events
from routing.calendar import Clock

# Refreshes run one at a time (a transaction-scoped advisory lock): a report waits for the worker's
# batch instead of computing the same cases beside it.
REFRESH_LOCK = 1022_0011
# The worker's chores take at most this many cases a round, so a backlog (after the migration, a
# rebuild) never holds up the sweeper and escalation; reports themselves compute all that is pending.
CHORE_CASES = 10_000
# The only keys of an event's changes the projection reads: nothing else (a note's text, a classifier's
# alternatives) is loaded.
FACT_KEYS = ["channel", "field", "ward_code", "department", "due_at", "rating", "solved"]
COLUMNS = [f.name for f in fields(CaseFacts)]
ONLINE_CHANNELS = ("web", "chat", "telegram", "email", "open311", "zalo")
GROUP_COLUMNS = {"unit": "unit", "field": "field", "channel": "channel", "ward": "ward_code"}


async def refresh_facts(pool: asyncpg.Pool, clock: Clock, *, limit: int = 500, max_cases: int | None = None) -> int:
    """Compute the facts of every case with new events (or `max_cases` of them), `limit` per transaction.

    Returns how many cases were computed. Each batch loads its cases' events, upserts their facts and
    deletes exactly the pending rows of the events it read, in one transaction: an event committed
    meanwhile keeps its own row and is read by the next batch. A stale computation never overwrites a
    fresher one (it read fewer events).
    """
    done = after = 0
    while max_cases is None or done < max_cases:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", REFRESH_LOCK)
            # Keyset over the case ids: the batches done are left behind with their deleted rows (a
            # pass over the queue stays linear); cases marked again meanwhile wait for the next call.
            case_ids = [r["case_id"] for r in await conn.fetch(
                "SELECT DISTINCT case_id FROM report_pending WHERE case_id > $1 ORDER BY case_id LIMIT $2",
                after, limit)]
            if not case_ids:
                return done
            after = case_ids[-1]
            cases = await conn.fetch("SELECT id, created_at, channel, due_at FROM cases WHERE id = ANY($1)", case_ids)
            events = await conn.fetch(
                "SELECT e.case_id, e.id, e.at, e.kind, e.from_status, e.to_status,"
                " coalesce((SELECT jsonb_object_agg(c.key, c.value) FROM jsonb_each(e.changes) c"
                "           WHERE c.key = ANY($2::text[])), '{}'::jsonb) AS changes"
                " FROM case_events e WHERE e.case_id = ANY($1) ORDER BY e.case_id, e.id",
                case_ids, FACT_KEYS)
            by_case: dict[int, list[asyncpg.Record]] = {}
            for event in events:
                by_case.setdefault(event["case_id"], []).append(event)
            await _save(conn, [facts_from_events(case, by_case.get(case["id"], []), clock) for case in cases])
            seen = [(case_id, 0) for case_id in case_ids] + [(e["case_id"], e["id"]) for e in events]
            await conn.execute(
                "DELETE FROM report_pending p USING unnest($1::bigint[], $2::bigint[]) AS seen (case_id, event_id)"
                " WHERE p.case_id = seen.case_id AND p.event_id = seen.event_id",
                [c for c, _ in seen], [e for _, e in seen])
            done += len(case_ids)
    return done


async def _save(conn: asyncpg.Connection, rows: Sequence[CaseFacts]) -> None:
    names = ", ".join(COLUMNS)
    marks = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "case_id")
    await conn.executemany(
        f"INSERT INTO case_facts ({names}) VALUES ({marks}) ON CONFLICT (case_id) DO UPDATE SET {updates},"
        " refreshed_at = now() WHERE case_facts.event_count <= EXCLUDED.event_count",
        [tuple(getattr(r, c) for c in COLUMNS) for r in rows])


async def queue_all(pool: asyncpg.Pool) -> int:
    """Mark every case for a new computation (after a calendar change); return how many cases there are."""
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO report_pending (case_id, event_id) SELECT id, 0 FROM cases"
                           " ON CONFLICT DO NOTHING")
        # Statistics for the backlog just queued: without them the refresh's delete plans badly (seconds a batch).
        await conn.execute("ANALYZE report_pending")
        return await conn.fetchval("SELECT count(*) FROM cases")


async def pending_count(pool: asyncpg.Pool) -> int:
    """Cases waiting for their facts to be computed again."""
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(DISTINCT case_id) FROM report_pending")


def _durations(name: str, moment: str) -> str:
    """The aggregates of one duration (clock and working minutes from receipt to `moment`) over live cases."""
    clock = f"(extract(epoch FROM (f.{moment} - f.received_at)) / 60)::float8"
    work = f"f.{name}_work_min"
    keep = f"FILTER (WHERE f.live AND f.{moment} < $3)"
    return (f"count(*) {keep} AS {name}_count,"
            f" percentile_cont(0.5) WITHIN GROUP (ORDER BY {clock}) {keep} AS {name}_median_clock,"
            f" percentile_cont(0.9) WITHIN GROUP (ORDER BY {clock}) {keep} AS {name}_p90_clock,"
            f" percentile_cont(0.5) WITHIN GROUP (ORDER BY {work}) {keep} AS {name}_median_work,"
            f" percentile_cont(0.9) WITHIN GROUP (ORDER BY {work}) {keep} AS {name}_p90_work,"
            f" avg({clock}) {keep} AS {name}_mean_clock,"
            f" avg({work}) {keep} AS {name}_mean_work")


def aggregate_sql(by: str) -> str:
    """One query for a period: a row per group of `by` and the total row (GROUPING SETS).

    $1, $2: the period's start and end (receipt times counted); $3: the instant figures are taken at
    (the period's end, or now if sooner); $4: one unit only (NULL: all); $5: the legal limit in working
    minutes; $6: the forwarding rule in minutes.
    """
    key = GROUP_COLUMNS[by]
    online = ", ".join(f"'{c}'" for c in ONLINE_CHANNELS)
    return f"""
        WITH f AS (
            SELECT f.*, f.{key} AS key,
                   NOT coalesce(f.duplicate_at < $3, false) AS live,
                   coalesce(f.resolved_at < $3, false) AS handled
            FROM case_facts f
            WHERE f.received_at >= $1 AND f.received_at < $2 AND ($4::text IS NULL OR f.unit = $4)
        )
        SELECT GROUPING(f.key) = 1 AS is_total, f.key,
            count(*) FILTER (WHERE NOT f.live) AS duplicates,
            count(*) FILTER (WHERE f.live) AS received,
            count(*) FILTER (WHERE f.live AND f.handled) AS handled,
            count(*) FILTER (WHERE f.live AND f.handled AND f.resolved_at <= f.due_at) AS handled_on_time,
            count(*) FILTER (WHERE f.live AND f.handled AND f.resolved_at > f.due_at) AS handled_late,
            count(*) FILTER (WHERE f.live AND NOT f.handled AND f.due_at < $3) AS overdue_open,
            count(*) FILTER (WHERE f.live AND f.due_at IS NULL) AS no_deadline,
            count(*) FILTER (WHERE f.live AND f.forwarded_at < $3) AS forwarded,
            count(*) FILTER (WHERE f.live AND f.forwarded_at < $3
                             AND f.forwarded_at - f.received_at <= make_interval(mins => $6)) AS forwarded_within,
            {_durations("forward", "forwarded_at")},
            {_durations("response", "first_response_at")},
            {_durations("resolution", "resolved_at")},
            count(*) FILTER (WHERE f.live AND f.reopened_at < $3) AS reopened,
            count(*) FILTER (WHERE f.live AND f.rated_at < $3) AS ratings,
            count(*) FILTER (WHERE f.live AND f.rated_at < $3 AND f.rating IS NOT NULL) AS rated_numbers,
            (avg(f.rating) FILTER (WHERE f.live AND f.rated_at < $3))::float8 AS rating_mean,
            count(*) FILTER (WHERE f.live AND f.rated_at < $3 AND f.rating >= 4) AS satisfied,
            count(*) FILTER (WHERE f.live AND f.rated_at < $3 AND f.solved IS NOT NULL) AS solved_answers,
            count(*) FILTER (WHERE f.live AND f.rated_at < $3 AND f.solved) AS solved,
            count(*) FILTER (WHERE f.live AND f.channel IN ({online})) AS online,
            count(*) FILTER (WHERE f.live AND f.handled AND f.resolution_work_min <= $5) AS within_legal
        FROM f
        GROUP BY GROUPING SETS ((f.key), ())
    """


async def aggregate(pool: asyncpg.Pool, by: str, start: datetime, end: datetime, as_of: datetime,
                    unit: str | None, legal_work_min: float, forward_minutes: int) -> list[asyncpg.Record]:
    """Run the aggregate query: the group rows and the total row (`is_total`)."""
    async with pool.acquire() as conn:
        return await conn.fetch(aggregate_sql(by), start, end, as_of, unit, float(legal_work_min), forward_minutes)


async def unit_names(pool: asyncpg.Pool, codes: list[str]) -> dict[str, tuple[str, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT code, name_vi, name_en FROM departments WHERE code = ANY($1)", codes)
    return {r["code"]: (r["name_vi"], r["name_en"]) for r in rows}


async def ward_names(pool: asyncpg.Pool, codes: list[str]) -> dict[str, tuple[str, str]]:
    """Wards by their People's Committee's names (the units table holds one per ward)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT DISTINCT ON (ward_code) ward_code, name_vi, name_en FROM departments"
                                " WHERE kind = 'ward' AND ward_code = ANY($1) ORDER BY ward_code, code", codes)
    return {r["ward_code"]: (r["name_vi"], r["name_en"]) for r in rows}


def facts_row(row: Any) -> dict[str, Any]:
    """A case_facts row as a plain dict (tests and tools)."""
    return {c: row[c] for c in COLUMNS}


async def case_facts(pool: asyncpg.Pool, case_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The stored facts of these cases, by case id."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {', '.join(COLUMNS)} FROM case_facts WHERE case_id = ANY($1)", case_ids)
    return {r["case_id"]: facts_row(r) for r in rows}
