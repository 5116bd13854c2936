"""PostgreSQL stopped for real: every endpoint answers 503 with Retry-After, never 500, never a false 201.

The test runs its own embedded PostgreSQL (a throw-away data folder), stops it with pg_ctl while the app
is serving, and starts it again: the same process must then store reports again, with no restart.
Every request and every wait is bounded, so a regression fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis

from casework import actions as case_actions
from casework import staff
from casework.intake import InboundEvent
from hotline.db import create_pool, migrate
from hotline.settings import Settings
from integrations.open311 import actions as open311_actions
from integrations.open311.models import JURISDICTION_ID
from kernel.http import SERVICES
from tests.servers import OwnPostgres, own_postgres

RETRY_AFTER = 7
REQUEST_TIMEOUT = 20  # seconds: far above the 1 s acquire timeout, far below a hang
WORDS = "Zanthorium quibblestone"  # in the report only, so the server log can be searched for them


@pytest.fixture(scope="module")
def embedded() -> Iterator[OwnPostgres]:
    """A PostgreSQL of this module's own, stopped and removed at the end."""
    with own_postgres("hotline-outage-") as server:
        yield server


@pytest.fixture
async def outage_settings(embedded: OwnPostgres, redis_url: str, tmp_path) -> AsyncIterator[Settings]:
    pool = await create_pool(embedded.dsn, min_size=1, max_size=2)
    await migrate(pool)
    await pool.execute("TRUNCATE cases, messages, case_events, citizens, citizen_identities, open311_requests,"
                       " open311_clients, staff_users, api_tokens RESTART IDENTITY CASCADE")
    await pool.close()
    r = aioredis.from_url(redis_url)
    await r.flushdb()
    await r.aclose()
    yield Settings(database_url=embedded.dsn, redis_url=redis_url, var_dir=tmp_path / "var",
                   public_base_url="http://hotline.test", db_pool_min=1, db_pool_max=4, classifier_model="none",
                   geocoder="none", intake_enqueue="inline", rate_limits_enabled=False,
                   db_acquire_timeout_seconds=1, retry_after_seconds=RETRY_AFTER, healthz_require_worker=False)


@pytest.fixture
async def outage_client(aiohttp_client, outage_settings: Settings):
    from hotline.app import create_app

    return await aiohttp_client(create_app(outage_settings))


async def _request(client, method: str, path: str, **kwargs) -> tuple[int, dict[str, str], str]:
    async with asyncio.timeout(REQUEST_TIMEOUT):
        resp = await client.request(method, path, allow_redirects=False, **kwargs)
        return resp.status, dict(resp.headers), await resp.text()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def _report(client, text: str) -> tuple[int, str | None]:
    status, _, body = await _request(client, "POST", "/api/v1/reports", json={"text": text})
    code = re.search(r'"tracking_code": "(\d+)"', body)
    return status, code.group(1) if code else None


async def _wait_healthy(client) -> None:
    for _ in range(200):  # 0.1 s apart: 20 s at most
        status, _, _ = await _request(client, "GET", "/healthz")
        if status == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the app did not see the database again")


async def test_a_stopped_database_gives_503_with_retry_after_everywhere_and_recovery_needs_no_restart(
        embedded: OwnPostgres, outage_client):
    client = outage_client
    pool = client.server.app[SERVICES].pool
    await staff.create_user(pool, "agent", role="agent", department=None, password="agent-secret")
    token = await staff.issue_token(pool, "agent")
    staff_headers = {"Authorization": f"Bearer {token}"}
    api_key = await open311_actions.create_client(pool, "fixmycity")
    status, code = await _report(client, f"Đèn đường hỏng trước số 5 Lê Lợi {WORDS}")
    assert status == 201 and code
    case_id = await pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    form_html = (await _request(client, "GET", "/"))[2]
    multipart = aiohttp.FormData(default_to_multipart=True)
    multipart.add_field("text", "Cây đổ trên đường Hai Bà Trưng")
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    open311_form = {"api_key": api_key, "jurisdiction_id": JURISDICTION_ID, "service_code": "urban_infrastructure",
                    "description": "Ổ gà giữa đường Nguyễn Huệ"}

    # Reports keep coming while the server stops: each answer is a stored 201 or a 503, nothing else.
    stopped = asyncio.Event()
    during: list[tuple[int, str | None]] = []

    async def citizen(n: int) -> None:
        for i in range(200):
            during.append(await _report(client, f"Nước ngập đường số {n}-{i}"))
            if stopped.is_set() and i >= 3:
                return

    citizens = [asyncio.create_task(citizen(n)) for n in range(4)]
    await asyncio.sleep(0.05)
    await asyncio.to_thread(embedded.stop)
    stopped.set()
    async with asyncio.timeout(120):
        await asyncio.gather(*citizens)
    assert {status for status, _ in during} <= {201, 503}, during
    assert during[-1][0] == 503

    checks = [
        ("GET", "/healthz", {}, "json"),
        ("POST", "/api/v1/reports", {"json": {"text": "Rác thải chất đống ở chợ Bến Thành"}}, "json"),
        ("POST", "/api/v1/reports", {"data": multipart}, "json"),
        ("GET", f"/api/v1/reports/{code}", {}, "json"),
        ("GET", f"/track/{code}", {"headers": browser}, "html"),
        ("POST", "/report", {"headers": browser,  # the CSRF cookie came with the form
                             "data": {"csrf_token": _csrf(form_html), "text": "Cống nghẹt ở Quận 3"}}, "html"),
        ("POST", "/api/v1/session", {"json": {"username": "agent", "password": "agent-secret"}}, "json"),
        ("GET", "/api/v1/cases", {"headers": staff_headers}, "json"),
        ("GET", f"/api/v1/cases/{case_id}", {"headers": staff_headers}, "json"),
        ("POST", f"/api/v1/cases/{case_id}/replies", {"headers": staff_headers, "json": {"text": "Đã chuyển"}}, "json"),
        ("GET", "/open311/v2/requests.json", {}, "open311"),
        ("GET", f"/open311/v2/requests/{code}.xml", {}, "open311"),
        ("POST", "/open311/v2/requests.json", {"data": open311_form}, "open311"),
    ]
    for method, path, kwargs, kind in checks:
        status, headers, body = await _request(client, method, path, **kwargs)
        assert (status, headers.get("Retry-After")) == (503, str(RETRY_AFTER)), (method, path, status, body)
        if kind == "json" and path != "/healthz":
            assert '"error": "service_unavailable"' in body, (path, body)
        elif kind == "html":
            assert headers["Content-Type"].startswith("text/html")
            assert "Vui lòng thử lại" in body and "Please try" in body, body
        elif kind == "open311":
            assert '"code": 503' in body or "<code>503</code>" in body, (path, body)

    await asyncio.to_thread(embedded.start)
    await _wait_healthy(client)
    status, new_code = await _report(client, "Vỉa hè bị lấn chiếm trên đường Lý Tự Trọng")
    assert status == 201
    status, _, body = await _request(client, "GET", "/api/v1/cases", headers=staff_headers)
    assert status == 200 and new_code in body
    stored = {r["tracking_code"] for r in await pool.fetch("SELECT tracking_code FROM cases")}
    assert {c for s, c in during if s == 201} <= stored  # no 201 without its case
    assert new_code in stored


async def test_a_payload_jsonb_would_refuse_is_stored_cleaned_and_leaves_no_text_in_the_server_log(
        embedded: OwnPostgres, outage_client):
    client = outage_client
    pool = client.server.app[SERVICES].pool
    log_before = embedded.log.stat().st_size if embedded.log.exists() else 0
    body = json.dumps({"text": f"Ống nước vỡ {WORDS} ở hẻm 12\x00", "note": "\ud800 bồn\x00chứa",
                       "x\udfff": [1, "\x00"]})
    assert "\\u0000" in body and "\\ud800" in body  # JSON escapes, as a client sends them
    resp = await client.post("/api/v1/reports", data=body.encode(), headers={"Content-Type": "application/json"})
    assert resp.status == 201, await resp.text()
    raw = await pool.fetchval("SELECT raw FROM messages ORDER BY id DESC LIMIT 1")
    assert raw == {"text": f"Ống nước vỡ {WORDS} ở hẻm 12", "note": "\ufffd bồnchứa", "x\ufffd": [1, ""]}

    # The old failure path itself, below any parser that might clean first: the action is handed raw NULs.
    result = await case_actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id="auto:outage-raw", text=f"Cột điện nghiêng {WORDS}",
        raw={"text": f"Cột điện nghiêng {WORDS}\x00", "extra": ["\ud800", float("nan")]}))
    raw = await pool.fetchval("SELECT raw FROM messages WHERE id = $1", result.message_id)
    assert raw == {"text": f"Cột điện nghiêng {WORDS}", "extra": ["\ufffd", None]}

    with embedded.log.open("rb") as f:
        f.seek(log_before)
        server_log = f.read().decode("utf-8", "replace")
    assert "Zanthorium" not in server_log and "JSON data" not in server_log, server_log


async def test_the_pool_gives_up_waiting_for_a_connection_after_the_acquire_timeout(outage_settings: Settings):
    pool = await create_pool(outage_settings.database_url or "", min_size=1, max_size=1, acquire_timeout=0.2)
    try:
        async with pool.acquire():
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    await pool.fetchval("SELECT 1")  # the only connection is taken
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()
    assert isinstance(pool, asyncpg.Pool)


def _raised(error: BaseException, *, cause: BaseException | None = None) -> BaseException:
    try:
        raise error from cause
    except BaseException as e:  # noqa: BLE001 - the test wants the raised object with its links
        return e


@pytest.mark.parametrize("error, outage", [
    (ConnectionRefusedError(111, "refused"), True),
    (FileNotFoundError(2, "no socket"), True),
    (TimeoutError(), True),  # the pool's acquire timeout
    (asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle of operation"), True),
    (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True),
    (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), True),
    (asyncpg.exceptions.TooManyConnectionsError("too many clients"), True),
    (asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"), True),
    (asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"), True),
    (ExceptionGroup("several", [ValueError("x"), ConnectionResetError()]), True),
    (_raised(RuntimeError("wrapped"), cause=ConnectionResetError()), True),
    (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), False),
    (asyncpg.exceptions.InternalClientError("unexpected codec"), False),
    (asyncpg.UniqueViolationError("duplicate key"), False),
    (asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape sequence"), False),
    (ValueError("a bug"), False),
    (KeyError("a bug"), False),
])
def test_outages_are_told_from_bugs(error, outage):
    from kernel.outage import is_outage

    assert is_outage(error) is outage
