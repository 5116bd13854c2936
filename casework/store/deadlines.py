"""Deadlines: cases under a deadline, clock pauses, unaccepted forwards and the notices sent."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from kernel.cases import OPEN_SQL


async def cases_under_deadline(conn: asyncpg.Connection, limit: int = 5000) -> list[asyncpg.Record]:
    """Open cases with a deadline that are not yet marked overdue, oldest deadline first."""
    return await conn.fetch(
        "SELECT c.id, c.tracking_code, c.field, c.urgent, c.channel, c.description, c.created_at, c.due_at,"
        " c.sla_state, c.department, c.clock_paused_at FROM cases c"
        f" WHERE c.due_at IS NOT NULL AND c.status IN {OPEN_SQL}"
        " AND c.sla_state <> 'overdue' ORDER BY c.due_at LIMIT $1",
        limit,
    )


async def case_pauses(conn: asyncpg.Connection, case_ids: list[int]) -> dict[int, list[tuple]]:
    rows = await conn.fetch(
        "SELECT case_id, started_at, ended_at FROM case_pauses WHERE case_id = ANY($1) ORDER BY id", case_ids)
    out: dict[int, list[tuple]] = {}
    for r in rows:
        out.setdefault(r["case_id"], []).append((r["started_at"], r["ended_at"]))
    return out


async def unaccepted_cases(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Forwarded cases their unit has neither accepted nor rejected within its acceptance window."""
    return await conn.fetch(
        "SELECT c.id, c.tracking_code, c.department, c.forwarded_at, d.accept_minutes, d.name_vi FROM cases c"
        " JOIN departments d ON d.code = c.department"
        " WHERE c.status = 'forwarded' AND c.accepted_at IS NULL AND c.forwarded_at IS NOT NULL"
        " AND c.forwarded_at + make_interval(mins => d.accept_minutes) <= $1",
        now,
    )


async def notify(conn: asyncpg.Connection, *, case_id: int, audience: str, department: str | None, kind: str,
                 deadline: datetime | None, message: str) -> bool:
    """Record a notice once per case, audience, kind and deadline; False when it was already sent."""
    status = await conn.execute(
        "INSERT INTO notifications (case_id, audience, department, kind, deadline, message)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        case_id, audience, department, kind, deadline, message,
    )
    return status.endswith(" 1")


async def notifications(conn: asyncpg.Connection, *, department: str | None, supervisors: bool,
                        limit: int = 100) -> list[asyncpg.Record]:
    if supervisors:
        return await conn.fetch(
            "SELECT * FROM notifications WHERE audience = 'supervisors' ORDER BY id DESC LIMIT $1", limit)
    return await conn.fetch(
        "SELECT * FROM notifications WHERE audience = 'unit' AND department = $1 ORDER BY id DESC LIMIT $2",
        department, limit)


async def start_pause(conn: asyncpg.Connection, case_id: int, at: datetime, reason: str) -> None:
    await conn.execute("INSERT INTO case_pauses (case_id, started_at, reason) VALUES ($1, $2, $3)", case_id, at, reason)


async def end_pause(conn: asyncpg.Connection, case_id: int, at: datetime) -> None:
    await conn.execute("UPDATE case_pauses SET ended_at = $2 WHERE case_id = $1 AND ended_at IS NULL", case_id, at)


async def pauses_of(conn: asyncpg.Connection, case_id: int) -> list[tuple]:
    rows = await conn.fetch("SELECT started_at, ended_at FROM case_pauses WHERE case_id = $1 ORDER BY id", case_id)
    return [(r["started_at"], r["ended_at"]) for r in rows]


async def bump_paused(conn: asyncpg.Connection, case_id: int, seconds: int) -> None:
    await conn.execute("UPDATE cases SET paused_seconds = paused_seconds + $2 WHERE id = $1", case_id, seconds)
