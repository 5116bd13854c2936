"""Assigning a unit's open cases to its people: FIFO queue, least-loaded eligible person, backfill."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from casework import store
from casework.models import SYSTEM
from routing.assignment import Person, choose_assignee

log = logging.getLogger(__name__)


async def backfill(pool: asyncpg.Pool, unit: str | None) -> list[tuple[int, int]]:
    """Give the unit's waiting cases, oldest first, to whoever can take them; return (case, person) pairs.

    `unit` None is the 1022 centre's triage queue, worked by agents. One run per unit at a time.
    """
    assigned: list[tuple[int, int]] = []
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_assignment(conn, unit)
        people = {p.id: p for p in await _people(conn, unit)}
        if not people:
            return assigned
        for case in await store.waiting_cases(conn, unit):
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
    rows = await store.assignable_people(conn, unit)
    return [Person(id=r["id"], load=r["load"], capacity=r["capacity"], available=r["available"],
                   fields=frozenset(r["fields"]) if r["fields"] is not None else None,
                   languages=frozenset(r["languages"]), last_assigned_at=r["last_assigned_at"]) for r in rows]


async def set_presence(pool: asyncpg.Pool, user_id: int, available: bool, *, call_at: str | None = None) -> str | None:
    """Mark a person available or away (and where they take calls: "" clears it); returns their unit to backfill."""
    async with pool.acquire() as conn:
        row = await store.set_presence(conn, user_id, available, call_at)
    return row["department"] if row and row["role"] == "department" else None


async def agents_on_call(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """The centre's agents on duty who take calls: id, name and phone number or SIP address, most recent first."""
    async with pool.acquire() as conn:
        return [dict(r) for r in await store.agents_on_call(conn)]
