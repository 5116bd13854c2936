"""Dead letters: cases given up, outbox messages failed for good, queued jobs out of tries; and their replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg


async def gave_up_cases(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Cases automatic processing gave up on (they went to people with the last error kept), newest first."""
    return await conn.fetch(
        "SELECT id, id AS case_id, tracking_code, status, process_attempts AS tries, process_error AS error,"
        " processed_at AS failed_at FROM cases WHERE processed_at IS NOT NULL AND process_error IS NOT NULL"
        " ORDER BY id DESC LIMIT $1",
        limit,
    )


async def failed_messages(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Outbox messages failed for good (refused by the provider, or out of tries), newest first."""
    return await conn.fetch(
        "SELECT m.id, m.case_id, c.tracking_code, m.channel, m.kind, m.attempts AS tries, m.error,"
        " m.claimed_at AS failed_at FROM messages m LEFT JOIN cases c ON c.id = m.case_id"
        " WHERE m.direction = 'out' AND m.status = 'failed' ORDER BY m.id DESC LIMIT $1",
        limit,
    )


async def failed_jobs(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Queued jobs out of tries and not replayed yet, newest first."""
    return await conn.fetch(
        "SELECT id, job_id, function, kwargs, tries, error, failed_at FROM failed_jobs WHERE replayed_at IS NULL"
        " ORDER BY id DESC LIMIT $1",
        limit,
    )


async def insert_failed_job(conn: asyncpg.Connection, *, job_id: str, function: str, kwargs: dict[str, Any],
                            tries: int, error: str, failed_at: datetime) -> int:
    return await conn.fetchval(
        "INSERT INTO failed_jobs (job_id, function, kwargs, tries, error, failed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        job_id, function, kwargs, tries, error, failed_at,
    )


async def lock_failed_job(conn: asyncpg.Connection, failed_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, job_id, function, kwargs, tries, error, replayed_at FROM failed_jobs WHERE id = $1 FOR UPDATE",
        failed_id,
    )


async def mark_job_replayed(conn: asyncpg.Connection, failed_id: int, at: datetime, by: int | None) -> None:
    await conn.execute("UPDATE failed_jobs SET replayed_at = $2, replayed_by = $3 WHERE id = $1", failed_id, at, by)


async def case_process_attempts(conn: asyncpg.Connection, case_id: int) -> int | None:
    return await conn.fetchval("SELECT process_attempts FROM cases WHERE id = $1", case_id)


async def staff_events(conn: asyncpg.Connection, case_id: int, *, ignoring: Sequence[str] = ()) -> int:
    """How many events staff wrote on a case, leaving out the kinds named (replays are not decisions)."""
    return await conn.fetchval(
        "SELECT count(*) FROM case_events WHERE case_id = $1 AND actor_kind = 'staff' AND kind <> ALL($2::text[])",
        case_id, list(ignoring),
    )


async def lock_outbound(conn: asyncpg.Connection, message_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, case_id, channel, kind, direction, status, attempts, error FROM messages WHERE id = $1"
        " FOR UPDATE",
        message_id,
    )


async def requeue_outbound(conn: asyncpg.Connection, message_id: int) -> None:
    """Send a failed message again from the start: queued, due now, no tries counted."""
    await conn.execute(
        "UPDATE messages SET status = 'queued', attempts = 0, error = NULL, next_attempt_at = NULL,"
        " claimed_at = NULL WHERE id = $1",
        message_id,
    )


async def message_case_id(conn: asyncpg.Connection, message_id: int) -> int | None:
    return await conn.fetchval("SELECT case_id FROM messages WHERE id = $1", message_id)


async def case_exists(conn: asyncpg.Connection, case_id: int) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM cases WHERE id = $1", case_id))


async def active_admin(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    """An active admin by user name (who a replay from the command line is done as)."""
    return await conn.fetchrow(
        "SELECT id, display_name, role, department FROM staff_users WHERE username = $1 AND active"
        " AND role = 'admin'",
        username,
    )
