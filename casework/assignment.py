"""Assigning a unit's open cases to its people: FIFO queue, least-loaded eligible person, backfill."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg

from casework import store
from casework.models import SYSTEM
from kernel.cases import OPEN_STATUSES
from routing.assignment import Person, choose_assignee

log = logging.getLogger(__name__)



async def backfill(pool: asyncpg.Pool, unit: str | None) -> list[tuple[int, int]]:
    """Give the unit's waiting cases, oldest first, to whoever can take them; return (case, person) pairs.

    `unit` None is the 1022 centre's triage queue, worked by agents. One run per unit at a time.
    """
    assigned: list[tuple[int, int]] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 1022))", f"assign:{unit or '1022'}")
        people = {p.id: p for p in await _people(conn, unit)}
        if not people:
            return assigned
        for case in await _waiting(conn, unit):
            person = choose_assignee(people.values(), case["field"], case["language"])
            if person is None:
                continue  # nobody can take this one now; a later case may fit someone (another field)
            now = datetime.now(UTC)
            await store.update_case(conn, case["id"], {"assignee": person.id, "assigned_at": now})
            await store.insert_event(conn, case["id"], SYSTEM, "assigned", changes={"assignee": person.id})
            people[person.id] = replace(person, load=person.load + 1, last_assigned_at=now)
            assigned.append((case["id"], person.id))
    if assigned:
        log.info("assigned %s case(s) in unit %s", len(assigned), unit or "1022")
    return assigned


async def _people(conn: asyncpg.Connection, unit: str | None) -> list[Person]:
    role_clause = "u.role = 'department' AND u.department = $1" if unit else "u.role = 'agent' AND $1::text IS NULL"
    rows = await conn.fetch(
        "SELECT u.id, u.capacity, u.available, u.fields, u.languages,"
        " (SELECT count(*) FROM cases c WHERE c.assignee = u.id AND c.status = ANY($2)) AS load,"
        " (SELECT max(c.assigned_at) FROM cases c WHERE c.assignee = u.id) AS last_assigned_at"
        f" FROM staff_users u WHERE u.active AND {role_clause}",
        unit, list(OPEN_STATUSES),
    )
    return [Person(id=r["id"], load=r["load"], capacity=r["capacity"], available=r["available"],
                   fields=frozenset(r["fields"]) if r["fields"] is not None else None,
                   languages=frozenset(r["languages"]), last_assigned_at=r["last_assigned_at"]) for r in rows]


async def _waiting(conn: asyncpg.Connection, unit: str | None) -> list[asyncpg.Record]:
    if unit:
        return await conn.fetch(
            "SELECT id, field, language FROM cases WHERE department = $1 AND assignee IS NULL"
            " AND status IN ('forwarded', 'in_progress') ORDER BY forwarded_at NULLS LAST, id LIMIT 500", unit)
    return await conn.fetch(
        "SELECT id, field, language FROM cases WHERE status IN ('triage', 'reopened') AND assignee IS NULL"
        " ORDER BY created_at, id LIMIT 500")


async def set_presence(pool: asyncpg.Pool, user_id: int, available: bool) -> str | None:
    """Mark a person available or away; returns their unit so the caller can backfill it."""
    row = await pool.fetchrow(
        "UPDATE staff_users SET available = $2, last_seen_at = now() WHERE id = $1 RETURNING role, department",
        user_id, available)
    return row["department"] if row and row["role"] == "department" else None
