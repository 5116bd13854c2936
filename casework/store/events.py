"""The case history: append-only audit events."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Event:
    """One event to append, for writers that append several at once."""

    case_id: int
    actor: Actor
    kind: str
    from_status: str | None = None
    to_status: str | None = None
    changes: dict[str, Any] | None = None
    reason: str | None = None
    public: bool = False


async def insert_events(conn: asyncpg.Connection, events: list[Event]) -> None:
    """Append several events in one pipelined round trip."""
    await conn.executemany(
        "INSERT INTO case_events (case_id, actor_kind, actor_id, actor_name, kind, from_status, to_status,"
        " changes, reason, public) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [(e.case_id, e.actor.kind, e.actor.id, e.actor.name, e.kind, e.from_status, e.to_status, e.changes or {},
          e.reason, e.public) for e in events],
    )
