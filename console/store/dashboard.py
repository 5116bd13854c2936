"""SQL for the supervisors' dashboard: open cases by unit and state, staff on duty, today's intake."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg


async def open_groups(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Open cases counted by unit (with its names), status, deadline state and acceptance.

    From the counters of migration 0017 (exact: the rollup plus the deltas not yet folded into it).
    """
    await conn.execute("SELECT console_fold_open_counts()")
    return await conn.fetch(
        "SELECT o.department, d.name_vi, d.name_en, o.status, o.sla_state, o.unaccepted, o.n FROM ("
        " SELECT department, status, sla_state, unaccepted, sum(n)::bigint AS n FROM ("
        "  SELECT department, status, sla_state, unaccepted, n FROM console_open_units"
        "  UNION ALL SELECT department, status, sla_state, unaccepted, n FROM console_open_deltas) u"
        " GROUP BY department, status, sla_state, unaccepted HAVING sum(n) <> 0) o"
        " LEFT JOIN departments d ON d.code = o.department")


async def available_staff(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Staff who are available now, with their open assigned cases (the counters, as open_groups reads them)."""
    return await conn.fetch(
        "WITH load AS (SELECT assignee, sum(n)::bigint AS n FROM ("
        "  SELECT assignee, n FROM console_open_assignees"
        "  UNION ALL SELECT assignee, n FROM console_open_deltas WHERE assignee IS NOT NULL) a GROUP BY assignee)"
        " SELECT u.id, u.username, u.display_name, u.role, u.department, u.capacity, u.last_seen_at,"
        " coalesce(l.n, 0) AS open"
        " FROM staff_users u LEFT JOIN load l ON l.assignee = u.id"
        " WHERE u.active AND u.available ORDER BY u.department NULLS FIRST, u.display_name, u.id")


async def intake(conn: asyncpg.Connection, start: datetime, end: datetime,
                 within: timedelta) -> list[asyncpg.Record]:
    """Cases that came in between start and end in one pass: by channel (kind 'channel', most first), by field
    (kind 'field', most first) and all of them (kind 'total'), each with how many were forwarded within
    `within`, later, or not yet."""
    return await conn.fetch(
        "SELECT CASE GROUPING(channel, field) WHEN 1 THEN 'channel' WHEN 2 THEN 'field' ELSE 'total' END AS kind,"
        " channel, field, count(*) AS n,"
        " count(*) FILTER (WHERE forwarded_at IS NOT NULL AND forwarded_at - created_at <= $3) AS within,"
        " count(*) FILTER (WHERE forwarded_at IS NOT NULL AND forwarded_at - created_at > $3) AS later,"
        " count(*) FILTER (WHERE forwarded_at IS NULL) AS not_forwarded"
        " FROM cases WHERE created_at >= $1 AND created_at < $2"
        " GROUP BY GROUPING SETS ((channel), (field), ())"
        " ORDER BY GROUPING(channel, field), count(*) DESC, channel NULLS LAST, field NULLS LAST",
        start, end, within)
