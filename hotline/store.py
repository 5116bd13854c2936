"""SQL of the composition root's own table: the workers' heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def beat(conn: asyncpg.Connection, *, worker_id: str, host: str, pid: int, started_at: datetime,
               at: datetime, loops: dict[str, Any]) -> None:
    """Record that a worker is alive now, with the state of its loops."""
    await conn.execute(
        "INSERT INTO workers (id, host, pid, started_at, beat_at, loops) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at, loops = excluded.loops",
        worker_id, host, pid, started_at, at, loops,
    )


async def forget_workers(conn: asyncpg.Connection, beaten_before: datetime) -> int:
    """Delete the rows of workers silent since before `beaten_before` (they died without saying so)."""
    status = await conn.execute("DELETE FROM workers WHERE beat_at < $1", beaten_before)
    return int(status.split()[-1])


async def forget_worker(conn: asyncpg.Connection, worker_id: str) -> None:
    await conn.execute("DELETE FROM workers WHERE id = $1", worker_id)


async def live_workers(conn: asyncpg.Connection, beaten_since: datetime) -> list[asyncpg.Record]:
    """The workers whose last heartbeat is at or after `beaten_since`, freshest first."""
    return await conn.fetch(
        "SELECT id, host, pid, started_at, beat_at, loops FROM workers WHERE beat_at >= $1 ORDER BY beat_at DESC",
        beaten_since,
    )


async def freshest_beat(conn: asyncpg.Connection) -> datetime | None:
    return await conn.fetchval("SELECT max(beat_at) FROM workers")
