"""The migrator and the chores' locks hold nothing past their transaction, so a pooler cannot strand them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from hotline import db
from tests.conftest import _with_database


@pytest.fixture
async def empty_dsn(server_dsn: str) -> AsyncIterator[str]:
    name = f"hotline_db_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _advisory_locks(conn: asyncpg.Connection) -> list[int]:
    rows = await conn.fetch("SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND database ="
                            " (SELECT oid FROM pg_database WHERE datname = current_database())")
    return sorted(r["objid"] for r in rows)


async def test_concurrent_migrators_apply_each_migration_once(empty_dsn: str) -> None:
    pools = [await db.create_pool(empty_dsn, min_size=1, max_size=1) for _ in range(3)]
    try:
        results = await asyncio.gather(*(db.migrate(p) for p in pools))
        names = [p.name for p in db.migration_files()]
        assert sorted(results, key=len) == [[], [], names]
        async with pools[0].acquire() as conn:
            rows = await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")
            assert [r["name"] for r in rows] == names
            assert await _advisory_locks(conn) == []
    finally:
        for p in pools:
            await p.close()


async def test_a_failing_migration_lands_none_of_the_run_and_names_the_file(empty_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int PRIMARY KEY);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE bad (id int REFERENCES nowhere (id));")
    pool = await db.create_pool(empty_dsn, min_size=1, max_size=1)
    try:
        with pytest.raises(db.MigrationError, match="0002_bad.sql"):
            await db.migrate(pool, tmp_path)
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT to_regclass('good')") is None
            assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None  # a first run
            assert await _advisory_locks(conn) == []
        (tmp_path / "0002_bad.sql").write_text("CREATE TABLE bad (id int REFERENCES good (id));")
        assert await db.migrate(pool, tmp_path) == ["0001_good.sql", "0002_bad.sql"]
        assert await db.migrate(pool, tmp_path) == []
    finally:
        await pool.close()


async def test_exclusive_is_refused_while_held_and_released_even_on_error(empty_dsn: str) -> None:
    pool = await db.create_pool(empty_dsn, min_size=1, max_size=3)
    try:
        async with pool.acquire() as a, pool.acquire() as b, pool.acquire() as watcher:
            async with db.exclusive(a, 77) as held:
                assert held
                async with db.exclusive(b, 77) as other:
                    assert not other
                async with db.exclusive(b, 78) as different_key:
                    assert different_key
                assert await _advisory_locks(watcher) == [77]
            assert await _advisory_locks(watcher) == []
            with pytest.raises(RuntimeError):
                async with db.exclusive(a, 77) as held:
                    assert held
                    raise RuntimeError("the chore failed")
            assert await _advisory_locks(watcher) == []
            # The connection is usable again: no transaction was left open on it.
            assert not a.is_in_transaction()
            async with db.exclusive(b, 77) as held:
                assert held
    finally:
        await pool.close()


async def test_keepalive_startup_parameters_can_be_turned_off_for_a_pooler(empty_dsn: str) -> None:
    if "host=/" in empty_dsn or "%2F" in empty_dsn:
        pytest.skip("keepalives are not reported on a Unix socket")
    on = await db.create_pool(empty_dsn, min_size=1, max_size=1)
    off = await db.create_pool(empty_dsn, min_size=1, max_size=1, keepalives=False)
    try:
        assert await on.fetchval("SHOW tcp_keepalives_idle") == "60"
        default = await off.fetchval("SELECT boot_val FROM pg_settings WHERE name = 'tcp_keepalives_idle'")
        assert await off.fetchval("SELECT source FROM pg_settings WHERE name = 'tcp_keepalives_idle'") != "client"
        assert default is not None
        assert await on.fetchval("SELECT source FROM pg_settings WHERE name = 'tcp_keepalives_idle'") == "client"
    finally:
        await on.close()
        await off.close()
