"""Field corrections staff made on cases: the last field a person set on each case, with its text."""

from __future__ import annotations

import asyncpg


async def field_corrections(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """One row per corrected case: its description, urgent flag and the field a person last set."""
    return await conn.fetch(
        "SELECT DISTINCT ON (e.case_id) c.description, c.urgent, e.changes -> 'field' ->> 1 AS field"
        " FROM case_events e JOIN cases c ON c.id = e.case_id"
        " WHERE e.kind = 'field_corrected' AND e.changes ? 'field'"
        " ORDER BY e.case_id, e.id DESC"
    )
