"""Case histories written straight into cases and case_events, with the times a test chooses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg


@dataclass
class History:
    """One case's row and its events, in order; `at` of each event is what the test says."""

    received: datetime
    channel: str = "web"
    row: dict[str, Any] = field(default_factory=dict)  # extra cases columns (due_at, department, ...)
    events: list[tuple[datetime, str, str | None, str | None, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.add(self.received, "received", to_status="received", channel=self.channel)

    def add(self, at: datetime, kind: str, *, from_status: str | None = None, to_status: str | None = None,
            **changes: Any) -> History:
        self.events.append((at, kind, from_status, to_status, changes))
        return self

    def move(self, at: datetime, target: str, **changes: Any) -> History:
        return self.add(at, "status", to_status=target, **changes)

    def route(self, at: datetime, unit: str, due: datetime | None, field_code: str = "trees") -> History:
        """What the pipeline writes for a case it forwards."""
        self.add(at, "classified", field=field_code)
        self.add(at, "routed", department=unit, due_at=due.isoformat() if due else None)
        return self.move(at, "forwarded")

    def minutes(self, n: float) -> datetime:
        return self.received + timedelta(minutes=n)


async def insert(pool: asyncpg.Pool, histories: list[History]) -> list[int]:
    """Insert the histories (cases rows, then their events); return the case ids in the same order."""
    ids = []
    async with pool.acquire() as conn, conn.transaction():
        for n, h in enumerate(histories):
            extra = dict(h.row)
            columns = ["tracking_code", "channel", "description", "search_text", "created_at", *extra]
            values = [f"{n + 1:010d}", h.channel, "phản ánh thử", "thu", h.received, *extra.values()]
            marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
            ids.append(await conn.fetchval(
                f"INSERT INTO cases ({', '.join(columns)}) VALUES ({marks}) RETURNING id", *values))
        await conn.executemany(
            "INSERT INTO case_events (case_id, at, actor_kind, actor_name, kind, from_status, to_status, changes)"
            " VALUES ($1, $2, 'system', 'system', $3, $4, $5, $6::text::jsonb)",
            [(case_id, at, kind, before, after, json.dumps(changes))
             for case_id, h in zip(ids, histories, strict=True) for at, kind, before, after, changes in h.events])
    return ids
