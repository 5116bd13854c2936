"""The console's reads: the inbox's queues over the cases table (casework's columns), the units list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from casework.store.cases import Where, fetch_newest, filter_cases
from kernel.cases import OPEN_SQL

QUEUES = ("triage", "mine", "unit", "at_risk", "overdue", "waiting", "open", "all")


@dataclass(frozen=True, slots=True)
class InboxFilter:
    queue: str = "all"
    status: str | None = None
    field: str | None = None
    department: str | None = None
    ward: str | None = None
    channel: str | None = None
    urgent: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None  # folded already (no diacritics, lower case)


async def inbox(conn: asyncpg.Connection, flt: InboxFilter, *, me: int | None, scope_department: str | None,
                after: int | None = None, ids: list[int] | None = None, limit: int = 50) -> list[asyncpg.Record]:
    """A page of the inbox, newest first, keyset-paged on the id; `ids` keeps only those (live refreshes)."""
    where = Where()
    queue = flt.queue
    if queue == "triage":
        where.add("c.status IN ('received', 'triage', 'rejected', 'reopened')")
    elif queue == "mine":
        where.add("c.assignee = ?", me)
    elif queue == "unit":
        if scope_department is None:
            where.add("false")  # staff without a unit have no "my unit" queue
    elif queue in ("at_risk", "overdue"):
        where.add(f"c.sla_state = ? AND c.status IN {OPEN_SQL}", queue)
    elif queue == "waiting":
        where.add(f"c.clock_paused_at IS NOT NULL AND c.status IN {OPEN_SQL}")
    elif queue == "open":  # what the map counts
        where.add(f"c.status IN {OPEN_SQL}")
    filter_cases(where, flt, scope_department=scope_department, after=after)
    if ids is not None:
        where.add("c.id = ANY(?::bigint[])", ids)
    return await fetch_newest(conn, where.clauses, where.args, flt.text, limit)  # the search as the staff API's list


async def departments(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT code, name_vi, name_en FROM departments ORDER BY name_vi")


async def departments_of(conn: asyncpg.Connection, case_ids: list[int]) -> dict[int, str | None]:
    """Each case's unit, for telling which live clients may hear of it."""
    rows = await conn.fetch("SELECT id, department FROM cases WHERE id = ANY($1::bigint[])", case_ids)
    return {r["id"]: r["department"] for r in rows}


async def staff_names(conn: asyncpg.Connection, ids: list[int]) -> dict[int, str]:
    rows = await conn.fetch("SELECT id, display_name FROM staff_users WHERE id = ANY($1::bigint[])", ids)
    return {r["id"]: r["display_name"] for r in rows}


async def tracking_codes(conn: asyncpg.Connection, case_ids: list[int], *,
                         scope_department: str | None = None) -> dict[int, str]:
    """The tracking codes of these cases by id (a timeline names linked cases), with a scope only the unit's."""
    rows = await conn.fetch("SELECT id, tracking_code FROM cases WHERE id = ANY($1::bigint[])"
                            " AND ($2::text IS NULL OR department = $2)", case_ids, scope_department)
    return {r["id"]: r["tracking_code"] for r in rows}


async def duplicates_of(conn: asyncpg.Connection, case_id: int) -> list[asyncpg.Record]:
    """The cases marked as duplicates of this one."""
    return await conn.fetch("SELECT id, tracking_code, status, duplicate_score, created_at FROM cases"
                            " WHERE duplicate_of = $1 ORDER BY id", case_id)


async def sender_names(conn: asyncpg.Connection, case_id: int) -> dict[int, str]:
    """The name each inbound message gave (a report's name field, a chat's display name), by message id."""
    rows = await conn.fetch("SELECT id, display_name FROM messages WHERE case_id = $1 AND direction = 'in'"
                            " AND display_name IS NOT NULL ORDER BY id", case_id)
    return {r["id"]: r["display_name"] for r in rows}


async def notify(conn: asyncpg.Connection, channel: str, payload: str) -> None:
    """NOTIFY every web process listening on `channel` (sent at commit)."""
    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)


async def is_available(conn: asyncpg.Connection, user_id: int) -> bool:
    return bool(await conn.fetchval("SELECT available FROM staff_users WHERE id = $1", user_id))
