"""The case history: append-only audit events."""

from __future__ import annotations

from typing import Any

import asyncpg

from casework.models import Actor


async def case_events(conn: asyncpg.Connection, case_id: int, *, public_only: bool = False) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, at, actor_kind, actor_id, actor_name, kind, from_status, to_status, changes, reason, public"
        " FROM case_events WHERE case_id = $1" + (" AND public" if public_only else "") + " ORDER BY id",
        case_id,
    )


async def insert_event(
    conn: asyncpg.Connection,
    case_id: int,
    actor: Actor,
    kind: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    changes: dict[str, Any] | None = None,
    reason: str | None = None,
    public: bool = False,
) -> None:
    await conn.execute(
        "INSERT INTO case_events (case_id, actor_kind, actor_id, actor_name, kind, from_status, to_status,"
        " changes, reason, public) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        case_id, actor.kind, actor.id, actor.name, kind, from_status, to_status, changes or {}, reason, public,
    )
