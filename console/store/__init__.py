"""The console's reads: the inbox's queues over the cases table (casework's columns), the units list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from casework.store.cases import fetch_newest
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
    where: list[str] = []
    args: list[Any] = []

    def add(clause: str, *values: Any) -> None:
        for value in values:
            args.append(value)
            clause = clause.replace("?", f"${len(args)}", 1)
        where.append(clause)

    if scope_department is not None:
        add("c.department = ?", scope_department)
    queue = flt.queue
    if queue == "triage":
        where.append("c.status IN ('received', 'triage', 'rejected', 'reopened')")
    elif queue == "mine":
        add("c.assignee = ?", me)
    elif queue == "unit":
        if scope_department is None:
            where.append("false")  # staff without a unit have no "my unit" queue
    elif queue in ("at_risk", "overdue"):
        add(f"c.sla_state = ? AND c.status IN {OPEN_SQL}", queue)
    elif queue == "waiting":
        where.append(f"c.clock_paused_at IS NOT NULL AND c.status IN {OPEN_SQL}")
    elif queue == "open":  # what the map counts
        where.append(f"c.status IN {OPEN_SQL}")
    for column in ("status", "field", "department", "channel"):
        value = getattr(flt, column)
        if value is not None:
            add(f"c.{column} = ?", value)
    if flt.ward is not None:
        add("c.ward_code = ?", flt.ward)
    if flt.urgent is not None:
        add("c.urgent = ?", flt.urgent)
    if flt.since is not None:
        add("c.created_at >= ?", flt.since)
    if flt.until is not None:
        add("c.created_at < ?", flt.until)
    if after is not None:
        add("c.id < ?", after)
    if ids is not None:
        add("c.id = ANY(?::bigint[])", ids)
    return await fetch_newest(conn, where, args, flt.text, limit)  # the search as the staff API's list


async def departments(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT code, name_vi, name_en FROM departments ORDER BY name_vi")


async def departments_of(conn: asyncpg.Connection, case_ids: list[int]) -> dict[int, str | None]:
    """Each case's unit, for telling which live clients may hear of it."""
    rows = await conn.fetch("SELECT id, department FROM cases WHERE id = ANY($1::bigint[])", case_ids)
    return {r["id"]: r["department"] for r in rows}


async def staff_names(conn: asyncpg.Connection, ids: list[int]) -> dict[int, str]:
    rows = await conn.fetch("SELECT id, display_name FROM staff_users WHERE id = ANY($1::bigint[])", ids)
    return {r["id"]: r["display_name"] for r in rows}


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
