"""The asyncpg pool and the migration runner."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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


# Seconds a request waits for a connection before it gives up (503): with the server down, asyncpg's
# acquire would otherwise wait for a connect timeout per try, a minute by default.
DEFAULT_ACQUIRE_TIMEOUT = 5.0


class Pool(asyncpg.Pool):
    """asyncpg's pool whose acquire() times out after `acquire_timeout` seconds unless told otherwise.

    Every `pool.acquire()`, and the pool's own fetch/execute shortcuts, wait at most that long, so no
    view has to pass a timeout. Broken connections are replaced on the next acquire, so a restarted
    server is used again without restarting the hotline.
    """

    __slots__ = ("acquire_timeout",)

    def __init__(self, *args: Any, acquire_timeout: float | None = DEFAULT_ACQUIRE_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


# A worker's claims are row locks on its connection: if its machine drops off the network, the server
# frees them when TCP keepalive gives up. Linux's defaults take 2 h 11 min; these take 2 minutes.
# (Ignored on Unix sockets, where a dead peer is seen at once.) PgBouncer refuses startup parameters
# it does not know, so behind a pooler they are turned off (HOTLINE_DB_KEEPALIVES=false) and the
# pooler's own tcp_keepalive settings take their place.
KEEPALIVES = {"tcp_keepalives_idle": "60", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "6"}


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10, attempts: int = 40,
                      acquire_timeout: float | None = DEFAULT_ACQUIRE_TIMEOUT, keepalives: bool = True) -> Pool:
    """Open a pool, retrying while the server is still starting (an embedded one after a crash, say)."""
    for attempt in range(attempts):
        try:
            # asyncpg.create_pool takes no pool class; these are its defaults, with our init and reset.
            return await Pool(
                dsn, min_size=min_size, max_size=max_size, max_queries=50000,
                max_inactive_connection_lifetime=300.0, init=_init_connection, reset=_keep_session,
                loop=None, connection_class=asyncpg.Connection, record_class=asyncpg.Record,
                command_timeout=60, timeout=acquire_timeout or 60, acquire_timeout=acquire_timeout,
                server_settings=KEEPALIVES if keepalives else {},
            )
        except (OSError, asyncpg.CannotConnectNowError) as e:
            if attempt == attempts - 1:
                raise
            log.warning("database not ready (%s), retrying", type(e).__name__)
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(p for p in directory.glob("*.sql") if p.name[:4].isdigit())


# The migrator's advisory lock key.
MIGRATION_LOCK = 1022


@contextlib.asynccontextmanager
async def exclusive(conn: asyncpg.Connection, key: int, *, wait: bool = False) -> AsyncIterator[bool]:
    """Hold the advisory lock `key` for the block, inside a transaction on `conn`; yield whether it is held.

    The lock is transaction-scoped, so it ends with the transaction whatever happens: through a
    transaction-mode pooler (PgBouncer) a session lock could be taken on one server connection and
    "unlocked" on another, and stay held. Without `wait`, someone else holding it yields False at once.
    """
    async with conn.transaction():
        if wait:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", key)
            yield True
        else:
            yield bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", key))


async def migrate(pool: asyncpg.Pool, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations not yet applied, all in one transaction; return their names.

    One migrator at a time (a transaction-scoped advisory lock, safe behind a pooler); a failing
    migration leaves the schema as it was before the run, so a release's migrations land together
    or not at all. (So none may use a statement that cannot run in a transaction, such as
    CREATE INDEX CONCURRENTLY.)
    """
    async with pool.acquire() as conn:
        async with exclusive(conn, MIGRATION_LOCK, wait=True):
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            applied = [path for path in migration_files(directory) if path.name not in done]
            for path in applied:
                async with conn.transaction():  # a savepoint: the error names the file
                    try:
                        await conn.execute(path.read_text(encoding="utf-8"))
                    except asyncpg.PostgresError as e:
                        raise MigrationError(f"migration {path.name} failed: {type(e).__name__}") from e
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
    for path in applied:
        log.info("applied migration %s", path.name)
    return [path.name for path in applied]


class MigrationError(RuntimeError):
    """A migration failed; none of the run's migrations were applied."""


async def notify(conn: asyncpg.Connection, channel: str, payload: str) -> None:
    """Send a NOTIFY on a channel (workers LISTEN for wake-ups)."""
    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)
