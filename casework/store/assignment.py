"""Who can take a unit's cases and which cases wait for someone, for the assignment queue."""

from __future__ import annotations

import asyncpg

from kernel.cases import OPEN_STATUSES


async def lock_assignment(conn: asyncpg.Connection, unit: str | None) -> None:
    """Hold the unit's assignment lock until the transaction ends: one backfill per unit at a time."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 1022))", f"assign:{unit or '1022'}")


async def assignable_people(conn: asyncpg.Connection, unit: str | None) -> list[asyncpg.Record]:
    """The unit's active people (the centre's agents for None), with their open load and last assignment."""
    role_clause = "u.role = 'department' AND u.department = $1" if unit else "u.role = 'agent' AND $1::text IS NULL"
    return await conn.fetch(
        "SELECT u.id, u.display_name, u.capacity, u.available, u.fields, u.languages,"
        " (SELECT count(*) FROM cases c WHERE c.assignee = u.id AND c.status = ANY($2)) AS load,"
        " (SELECT max(c.assigned_at) FROM cases c WHERE c.assignee = u.id) AS last_assigned_at"
        f" FROM staff_users u WHERE u.active AND {role_clause}",
        unit, list(OPEN_STATUSES),
    )


async def staff_member(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    """A staff user's name, role, unit and whether they are active: who a case may be given to."""
    return await conn.fetchrow(
        "SELECT id, display_name, role, department, active FROM staff_users WHERE id = $1", user_id)


async def waiting_cases(conn: asyncpg.Connection, unit: str | None) -> list[asyncpg.Record]:
    """The unit's unassigned cases (the centre's triage queue for None), oldest first."""
    if unit:
        return await conn.fetch(
            "SELECT id, field, language FROM cases WHERE department = $1 AND assignee IS NULL"
            " AND status IN ('forwarded', 'in_progress') ORDER BY forwarded_at NULLS LAST, id LIMIT 500", unit)
    return await conn.fetch(
        "SELECT id, field, language FROM cases WHERE status IN ('triage', 'reopened') AND assignee IS NULL"
        " ORDER BY created_at, id LIMIT 500")


async def set_presence(conn: asyncpg.Connection, user_id: int, available: bool,
                       call_at: str | None = None) -> asyncpg.Record | None:
    """Mark a person available or away (`call_at`: their phone or SIP address; "" clears it, None keeps it).

    Their role and unit, or None when there is no such person.
    """
    return await conn.fetchrow(
        "UPDATE staff_users SET available = $2, last_seen_at = now(),"
        " phone = CASE WHEN $3::text IS NULL THEN phone ELSE nullif($3, '') END"
        " WHERE id = $1 RETURNING role, department",
        user_id, available, call_at)


async def agents_on_call(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The centre's agents on duty (available) who take calls, at a phone number or SIP address."""
    return await conn.fetch(
        "SELECT id, display_name, phone FROM staff_users"
        " WHERE active AND available AND role = 'agent' AND phone IS NOT NULL"
        " ORDER BY last_seen_at DESC NULLS LAST, id")
