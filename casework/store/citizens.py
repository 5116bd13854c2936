"""Citizens and their identities (phone, email, chat ids), linked to cases."""

from __future__ import annotations

from typing import Any

import asyncpg


async def link_citizen(conn: asyncpg.Connection, case_id: int) -> int | None:
    return await conn.fetchval("SELECT link_citizen($1)", case_id)


async def citizen_address(conn: asyncpg.Connection, citizen_id: int | None, kind: str) -> str | None:
    if citizen_id is None:
        return None
    return await conn.fetchval(
        "SELECT value FROM citizen_identities WHERE citizen_id = $1 AND kind = $2 ORDER BY id LIMIT 1",
        citizen_id, kind,
    )


async def citizen(conn: asyncpg.Connection, citizen_id: int | None) -> dict[str, Any] | None:
    if citizen_id is None:
        return None
    row = await conn.fetchrow("SELECT id, display_name, locale FROM citizens WHERE id = $1", citizen_id)
    if row is None:
        return None
    idents = await conn.fetch(
        "SELECT kind, value FROM citizen_identities WHERE citizen_id = $1 ORDER BY id", citizen_id
    )
    return {
        "id": row["id"], "name": row["display_name"], "locale": row["locale"],
        "identities": [{"kind": r["kind"], "value": r["value"]} for r in idents],
    }
