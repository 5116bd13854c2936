"""Staff idempotency keys: a retried request returns the first one's result."""

from __future__ import annotations

from typing import Any

import asyncpg


async def claim_request(conn: asyncpg.Connection, actor_id: int, key: str, *, action: str, case_id: int,
                        request_hash: str) -> asyncpg.Record | None:
    """Claim an idempotency key inside the caller's transaction; the earlier request's row if it was used.

    A concurrent request with the same key waits on the primary key until the first one commits
    (then sees its row) or rolls back (then claims the key itself).
    """
    claimed = await conn.fetchval(
        "INSERT INTO staff_requests (actor_id, idempotency_key, action, case_id, request_hash)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
        actor_id, key, action, case_id, request_hash,
    )
    if claimed:
        return None
    return await conn.fetchrow(
        "SELECT action, case_id, request_hash, result FROM staff_requests WHERE actor_id = $1 AND idempotency_key = $2",
        actor_id, key,
    )


async def finish_request(conn: asyncpg.Connection, actor_id: int, key: str, result: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE staff_requests SET result = $3 WHERE actor_id = $1 AND idempotency_key = $2", actor_id, key, result)
