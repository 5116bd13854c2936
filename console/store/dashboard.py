"""SQL for the supervisors' dashboard: open cases by unit and state, staff on duty, today's intake."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from kernel.cases import OPEN_STATUSES


async def open_groups(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Open cases counted by unit, status, deadline state and acceptance (one index-only scan)."""
    return await conn.fetch(
        "SELECT department, status, sla_state, accepted_at IS NULL AS unaccepted, count(*) AS n FROM cases"
        " WHERE status = ANY($1::text[]) GROUP BY department, status, sla_state, accepted_at IS NULL",
        list(OPEN_STATUSES))


async def unit_names(conn: asyncpg.Connection, codes: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT code, name_vi, name_en FROM departments WHERE code = ANY($1::text[])", codes)


async def available_staff(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT u.id, u.username, u.display_name, u.role, u.department, u.capacity, u.last_seen_at"
        " FROM staff_users u WHERE u.active AND u.available ORDER BY u.department NULLS FIRST, u.display_name, u.id")


async def open_load(conn: asyncpg.Connection, user_ids: list[int]) -> dict[int, int]:
    """Open cases assigned to each of these people."""
    return dict(await conn.fetch(
        "SELECT assignee, count(*) FROM cases WHERE assignee = ANY($1::bigint[]) AND status = ANY($2::text[])"
        " GROUP BY assignee", user_ids, list(OPEN_STATUSES)))


_GROUPS = {"channel": "channel", "field": "field"}  # the only columns intake is counted by


async def intake_by(conn: asyncpg.Connection, column: str, start: datetime, end: datetime) -> list[asyncpg.Record]:
    """Cases that came in between start and end, counted by channel or by field (most first)."""
    col = _GROUPS[column]
    return await conn.fetch(
        f"SELECT {col}, count(*) AS n FROM cases WHERE created_at >= $1 AND created_at < $2"
        f" GROUP BY {col} ORDER BY count(*) DESC, {col} NULLS LAST", start, end)


async def forwarding_rule(conn: asyncpg.Connection, start: datetime, end: datetime,
                          within: timedelta) -> asyncpg.Record:
    """Of the cases that came in between start and end: forwarded within `within`, later, not yet."""
    return await conn.fetchrow(
        "SELECT count(*) AS total,"
        " count(*) FILTER (WHERE forwarded_at IS NOT NULL AND forwarded_at - created_at <= $3) AS within,"
        " count(*) FILTER (WHERE forwarded_at IS NOT NULL AND forwarded_at - created_at > $3) AS later,"
        " count(*) FILTER (WHERE forwarded_at IS NULL) AS not_forwarded"
        " FROM cases WHERE created_at >= $1 AND created_at < $2", start, end, within)
