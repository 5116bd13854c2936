"""The asyncpg pool and the migration runner."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a connection to the pool without asyncpg's reset query (a round trip per request).

    Nothing here changes session state: no SET, LISTEN or cursors outside a transaction, and
    advisory locks are transaction-scoped (the migrator unlocks its session lock itself). asyncpg
    still rolls back any transaction left open before this runs.
    """


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10, attempts: int = 40) -> asyncpg.Pool:
    """Open a pool, retrying while the server is still starting (an embedded one after a crash, say)."""
    for attempt in range(attempts):
        try:
            return await asyncpg.create_pool(
                dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60,
                reset=_keep_session,
            )
        except (OSError, asyncpg.CannotConnectNowError) as e:
            if attempt == attempts - 1:
                raise
            log.warning("database not ready (%s), retrying", type(e).__name__)
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(p for p in directory.glob("*.sql") if p.name[:4].isdigit())


async def migrate(pool: asyncpg.Pool, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction; return their names."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        # One migrator at a time when several processes start together.
        await conn.execute("SELECT pg_advisory_lock(1022)")
        try:
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            for path in migration_files(directory):
                if path.name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text(encoding="utf-8"))
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
                log.info("applied migration %s", path.name)
                applied.append(path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(1022)")
    return applied
