"""schemathesis against the served OpenAPI document: every operation, valid and invalid requests, no 5xx.

A few dozen generated requests per operation here (repeatable, at most 60 s); bench/fuzz.py runs the same
with 10,000 per operation.
"""

from __future__ import annotations

import asyncio

from aiohttp import ClientSession

from bench.fuzz import fuzz, seed_rows
from hotline.app import create_app

EXAMPLES = 20  # per operation: half valid for the schema, half not


async def test_no_generated_request_gets_a_5xx(aiohttp_server, settings, pool):
    tokens, rows = await seed_rows(pool)
    server = await aiohttp_server(create_app(settings.model_copy(update={"rate_limits_enabled": False})))
    base_url = str(server.make_url("")).rstrip("/")
    async with ClientSession() as session, session.get(f"{base_url}/api/openapi.json") as resp:
        document = await resp.json()
    report = await asyncio.to_thread(fuzz, document, base_url, tokens, EXAMPLES, rows=rows, seed=1022,
                                     max_seconds=60)
    assert report.server_errors == []
    assert len(report.counts) == sum(
        1 for item in document["paths"].values() for m in ("get", "put", "post", "patch", "delete") if m in item)
    assert all(sum(c.values()) >= EXAMPLES // 2 for c in report.counts.values()), report.table()
