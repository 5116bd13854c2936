"""Assigning a unit's open cases to its people: FIFO queue, least-loaded eligible person, backfill."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from casework import store
from casework.actions import RequestKey, _claim, _locked_case, _remember, _Replay
from casework.models import OPEN_STATUSES, SYSTEM, Actor, Role, Status
from casework.store.assignment import staff_member
from kernel.errors import Conflict, Forbidden, Unprocessable
from kernel.text import clean
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


# A case is in its unit's queue once forwarded to it; before and after (triage, reopened) the 1022
# centre's agents work it. The same split as backfill's waiting_cases().
UNIT_QUEUE = frozenset({Status.FORWARDED, Status.IN_PROGRESS})
ASSIGNERS = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})


def queue_of(case: Mapping[str, Any]) -> str | None:
    """The unit whose queue the case is in, or None for the 1022 centre's."""
    return case["department"] if case["status"] in UNIT_QUEUE and case["department"] else None


def may_assign(actor: Actor, case: Mapping[str, Any]) -> bool:
    """Whether the actor may give this case to someone: the centre's staff any open case, a unit's its own queue."""
    if case["status"] not in OPEN_STATUSES:
        return False
    if actor.is_department:
        return actor.department is not None and queue_of(case) == actor.department
    return actor.role in ASSIGNERS


async def assign(pool: asyncpg.Pool, case_id: int, actor: Actor, assignee: int | None, *, reason: str | None = None,
                 request: RequestKey | None = None, now: datetime | None = None) -> bool:
    """Give an open case to a person of its queue, or back to the queue (None); False when nothing changed.

    A unit's case goes to that unit's active staff, a centre's case to its active agents; a department
    user assigns only in their own unit's queue. With a request key, a repeat changes nothing.
    """
    reason = clean(reason) if reason else None
    now = now or datetime.now(UTC)
    try:
        async with pool.acquire() as conn, conn.transaction():
            case = await _locked_case(conn, case_id, actor)
            await _claim(conn, actor, request, "assign", case_id)
            if case["status"] not in OPEN_STATUSES:
                raise Conflict(f"a case in {case['status']} is not assigned to anyone", code="not_assignable")
            unit = queue_of(case)
            if actor.is_department and unit != actor.department:
                raise Forbidden("the 1022 centre assigns this case")
            if actor.role not in ASSIGNERS and not actor.is_department:
                raise Forbidden("this role does not assign cases")
            if assignee is not None:
                _check_assignee(await staff_member(conn, assignee), unit)
            before = case["assignee"]
            changed = before != assignee
            if changed:
                await store.update_case(conn, case_id, {"assignee": assignee,
                                                        "assigned_at": now if assignee is not None else None})
                await store.insert_event(conn, case_id, actor, "assigned", changes={"assignee": [before, assignee]},
                                         reason=reason)
            await _remember(conn, actor, request, {"changed": changed})
    except _Replay:
        return False
    if changed:
        log.info("case %s: assignee %s -> %s by %s#%s", case_id, before, assignee, actor.kind, actor.id)
    return changed


def _check_assignee(person: Mapping[str, Any] | None, unit: str | None) -> None:
    """Refuse (422) a person who cannot take a case of this queue."""
    if person is None or not person["active"]:
        raise Unprocessable({"field": "assignee", "message": "no active staff member has this id"})
    if unit is not None and (person["role"] != Role.DEPARTMENT or person["department"] != unit):
        raise Unprocessable({"field": "assignee", "message": f"not on the staff of the case's unit ({unit})"})
    if unit is None and person["role"] != Role.AGENT:
        raise Unprocessable({"field": "assignee", "message": "the 1022 centre's cases go to its agents"})


async def candidates(pool: asyncpg.Pool, case: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Who the case may be given to, by name: id, name, open load, capacity and whether they are on duty."""
    async with pool.acquire() as conn:
        rows = await store.assignable_people(conn, queue_of(case))
    people = [{"id": r["id"], "name": r["display_name"], "load": r["load"], "capacity": r["capacity"],
               "available": r["available"]} for r in rows]
    return sorted(people, key=lambda p: (p["name"].casefold(), p["id"]))


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
