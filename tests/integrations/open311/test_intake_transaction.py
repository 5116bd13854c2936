"""POST requests writes its case, its note and its Open311 row in one transaction: all of them or none."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from integrations.open311.models import JURISDICTION_ID
from tests.integrations.open311.conftest import spec_error

FORM = {"jurisdiction_id": JURISDICTION_ID, "service_code": "urban_infrastructure",
        "address_string": "12 Nguyễn Huệ, phường Sài Gòn", "description": "Ổ gà lớn giữa đường Nguyễn Huệ",
        "phone": "0901 234 567"}
TABLES = ("cases", "messages", "case_events", "citizens", "citizen_identities", "open311_requests")


@contextlib.asynccontextmanager
async def refusing(pool: asyncpg.Pool, table: str, when: str) -> AsyncIterator[None]:
    """A trigger that makes inserts into `table` fail while the block runs (the test database only)."""
    await pool.execute(f"""
        CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN IF {when} THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER test_refuse BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION test_refuse();
    """)
    try:
        yield
    finally:
        await pool.execute(f"DROP TRIGGER test_refuse ON {table}; DROP FUNCTION test_refuse()")


async def _counts(pool: asyncpg.Pool) -> dict[str, int]:
    return {t: await pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


@pytest.mark.parametrize("table, when", [
    ("open311_requests", "true"),
    ("case_events", "NEW.kind = 'note'"),
])
async def test_a_failed_write_leaves_no_case_and_a_retry_makes_one(o311, api_key, pool, table, when):
    headers = {"Idempotency-Key": "app-7"}
    async with refusing(pool, table, when):
        resp = await o311.post("/open311/v2/requests.json", data={"api_key": api_key, **FORM}, headers=headers)
        await spec_error(resp, "json", 500)
    assert await _counts(pool) == dict.fromkeys(TABLES, 0)

    # The client retries with the same key: one whole request, as if the failure never happened.
    resp = await o311.post("/open311/v2/requests.json", data={"api_key": api_key, **FORM}, headers=headers)
    assert resp.status == 201, await resp.text()
    (posted,) = await resp.json()
    row = await pool.fetchrow(
        "SELECT c.id, r.token FROM cases c JOIN open311_requests r ON r.case_id = c.id"
        " WHERE c.tracking_code = $1", posted["service_request_id"])
    assert row["token"] == posted["token"]
    counts = await _counts(pool)
    assert (counts["cases"], counts["messages"], counts["open311_requests"]) == (1, 1, 1)
    notes = await pool.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1 AND kind = 'note'", row["id"])
    assert notes == 1
