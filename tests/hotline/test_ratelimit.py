"""Rate limits: per class and client, decided locally, synced to Redis in batches, 429 with Retry-After, fail open."""

import asyncio
import logging
from ipaddress import ip_network

import pytest
from redis.asyncio import Redis

from hotline.app import create_app
from hotline.ratelimit import BATCH_KEYS, EXPIRY_MARGIN_MS, RATE_LIMITER, RateLimiter, client_key, limits
from kernel.http import SERVICES

REPORT = {"text": "Cống thoát nước trước nhà số 12 Lê Lợi bị nghẹt, nước tràn lên đường"}
LOCAL = ["127.0.0.1"]
LOOKUP = "/api/v1/reports/1234567890"  # a code that is no case's: 400 or 404 when let through
# Thirty seconds into a 60-second window: a test never straddles two windows.
WINDOW = 30_000_000
NOW = WINDOW * 60 + 30.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _low(settings, **limits_):
    """The test settings with small limits: `intake=2` means 2 requests per 60-second window."""
    update = {"rate_limit_sync_seconds": 3600.0}  # no sync in the background: a test flushes when it means to
    for name, requests in limits_.items():
        update[f"rate_limit_{name}_requests"] = requests
        update[f"rate_limit_{name}_window_seconds"] = 60
    return settings.model_copy(update=update)


async def _client(aiohttp_client, settings, clock=None):
    client = await aiohttp_client(create_app(settings))
    if settings.rate_limits_enabled:
        client.app[RATE_LIMITER].clock = clock or Clock()
    return client


def _key(name, client="127.0.0.1", window=WINDOW):
    return f"hotline:ratelimit:{name}:{window}:{client}"


async def _stored(settings, key):
    r = Redis.from_url(settings.redis_url)
    try:
        value = await r.get(key)
        return int(value) if value is not None else None
    finally:
        await r.aclose()


async def _assert_limited(resp, name, requests, retry_after=30):
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) == retry_after
    assert await resp.json() == {"error": "rate_limited", "detail": {
        "limit": name, "requests": requests, "window_seconds": 60, "retry_after": retry_after}}


async def test_public_intake_is_limited_per_client(aiohttp_client, settings):
    client = await _client(aiohttp_client, _low(settings, intake=2))
    for _ in range(2):
        assert (await client.post("/api/v1/reports", json=REPORT)).status == 201
    await _assert_limited(await client.post("/api/v1/reports", json=REPORT), "intake", 2)
    assert await client.app[SERVICES].pool.fetchval("SELECT count(*) FROM cases") == 2
    # The form shares the intake count and gets a short page in Vietnamese and English.
    resp = await client.post("/report", data={"text": "x"})
    assert resp.status == 429 and resp.content_type == "text/html" and "Retry-After" in resp.headers
    page = await resp.text()
    assert "Quá nhiều yêu cầu" in page and "Too many requests" in page


async def test_status_lookups_share_one_limit_against_code_guessing(aiohttp_client, settings):
    client = await _client(aiohttp_client, _low(settings, lookup=3))
    for path in ("/api/v1/reports/1234567890", "/track/1234567890", "/api/v1/reports/1111111111"):
        assert (await client.get(path)).status in (400, 404)
    await _assert_limited(await client.get("/api/v1/reports/2222222222"), "lookup", 3)
    resp = await client.get("/track/2222222222")
    assert resp.status == 429 and resp.content_type == "text/html"
    # Other routes are not counted.
    assert (await client.get("/healthz")).status == 200


async def test_sign_in_and_open311_posts_are_limited(aiohttp_client, settings):
    client = await _client(aiohttp_client, _low(settings, login=2, open311=1))
    for _ in range(2):
        resp = await client.post("/api/v1/session", json={"username": "x", "password": "y"})
        assert resp.status == 401
    await _assert_limited(await client.post("/api/v1/session", json={"username": "x", "password": "y"}), "login", 2)
    assert (await client.post("/open311/v2/requests.json", data={"api_key": "nope"})).status != 429
    await _assert_limited(await client.post("/open311/v2/requests.xml", data={"api_key": "nope"}), "open311", 1)
    # Reading Open311 is not limited.
    assert (await client.get("/open311/v2/services.json")).status == 200
    # The console's sign-in form shares the sign-in limit: a page, not JSON.
    refused = await client.post("/console/login", data={"username": "x", "password": "y"})
    assert refused.status == 429 and refused.headers["Retry-After"]
    assert refused.content_type == "text/html"


async def test_clients_behind_a_trusted_proxy_are_counted_apart(aiohttp_client, settings):
    client = await _client(aiohttp_client, _low(settings, intake=1).model_copy(update={"trusted_proxies": LOCAL}))
    first = {"X-Forwarded-For": "203.0.113.7"}
    assert (await client.post("/api/v1/reports", json=REPORT, headers=first)).status == 201
    assert (await client.post("/api/v1/reports", json=REPORT, headers=first)).status == 429
    # A client cannot pick a fresh key by sending its own header: the proxy's hop is the one read.
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    assert (await client.post("/api/v1/reports", json=REPORT, headers=spoofed)).status == 429
    assert (await client.post("/api/v1/reports", json=REPORT, headers={"X-Forwarded-For": "203.0.113.8"})).status == 201


async def test_the_header_is_ignored_when_the_peer_is_not_a_trusted_proxy(aiohttp_client, settings):
    client = await _client(aiohttp_client, _low(settings, intake=1))
    assert (await client.post("/api/v1/reports", json=REPORT, headers={"X-Forwarded-For": "203.0.113.7"})).status == 201
    assert (await client.post("/api/v1/reports", json=REPORT, headers={"X-Forwarded-For": "203.0.113.8"})).status == 429


async def test_refused_requests_cost_no_redis_and_a_sync_stores_the_count(aiohttp_client, settings):
    client = await _client(aiohttp_client, _low(settings, lookup=2))
    statuses = [(await client.get(LOOKUP)).status for _ in range(5)]
    assert [status == 429 for status in statuses] == [False, False, True, True, True]
    assert await _stored(settings, _key("lookup")) is None  # decided here, not sent yet
    await client.app[RATE_LIMITER].flush()
    assert await _stored(settings, _key("lookup")) == 2
    r = Redis.from_url(settings.redis_url)
    ttl_ms = await r.pttl(_key("lookup"))
    await r.aclose()
    assert 0 < ttl_ms <= 30_000 + EXPIRY_MARGIN_MS  # the key ends with its window


async def test_two_web_processes_enforce_one_limit_within_the_documented_overshoot(aiohttp_client, settings):
    low = _low(settings, lookup=5)
    one, two = await _client(aiohttp_client, low), await _client(aiohttp_client, low)
    admitted = []
    for _ in range(3):  # each round: 2 hits on each process, then each syncs once
        for process in (one, two):
            for _ in range(2):
                admitted.append((await process.get(LOOKUP)).status != 429)
        for process in (one, two):
            await process.app[RATE_LIMITER].flush()
    # Round 1: all 4 through. Round 2: one knows 2 and lets 2 through, two knows 4 and lets 1 through.
    # Round 3: both know the count is over: everything refused.
    assert admitted == [True] * 4 + [True, True, True, False] + [False] * 4
    hits_per_sync = 2
    assert 5 <= sum(admitted) <= 5 + 2 * hits_per_sync  # limit + processes x hits between two syncs
    assert await _stored(settings, _key("lookup")) == sum(admitted)
    retry = await one.get(LOOKUP)
    assert retry.status == 429 and retry.headers["Retry-After"] == "30"


async def test_intake_goes_on_when_redis_is_down_and_that_is_logged_once(aiohttp_client, settings, caplog):
    client = await _client(aiohttp_client, _low(settings, intake=1))
    limiter = client.app[RATE_LIMITER]
    services = client.app[SERVICES]
    real = services.redis
    services.redis = Redis(host="127.0.0.1", port=1)  # nothing listens on port 1
    try:
        with caplog.at_level(logging.INFO, logger="hotline.ratelimit"):
            for _ in range(3):
                assert (await client.post("/api/v1/reports", json=REPORT)).status == 201
                await limiter.flush()
            warnings = [r for r in caplog.records if r.name == "hotline.ratelimit" and r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "Redis" in warnings[0].getMessage()
    finally:
        await services.redis.aclose()
        services.redis = real
    assert await services.pool.fetchval("SELECT count(*) FROM cases") == 3
    # Back on with the first sync that Redis answers.
    assert (await client.post("/api/v1/reports", json=REPORT)).status == 201
    await limiter.flush()
    assert (await client.post("/api/v1/reports", json=REPORT)).status == 429


async def test_no_request_waits_for_a_redis_that_does_not_answer(aiohttp_client, settings, caplog):
    async def silent(reader, writer):
        await reader.read()  # takes the command, never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = await _client(aiohttp_client, _low(settings, lookup=1))
    limiter = client.app[RATE_LIMITER]
    limiter.timeout = 0.05
    services = client.app[SERVICES]
    real, services.redis = services.redis, Redis(host="127.0.0.1", port=port)
    try:
        with caplog.at_level(logging.WARNING, logger="hotline.ratelimit"):
            assert (await client.get(LOOKUP)).status != 429
            sync = asyncio.ensure_future(limiter.flush())
            # While the sync hangs, requests are decided on what is known: the second is over the limit.
            assert (await client.get(LOOKUP)).status == 429
            await sync
            assert [r.getMessage() for r in caplog.records if r.name == "hotline.ratelimit"] == [
                "rate limits off while Redis is unreachable (TimeoutError)"]
            assert (await client.get(LOOKUP)).status != 429  # open until Redis answers
    finally:
        await services.redis.aclose()
        services.redis = real
        server.close()
        await server.wait_closed()


async def test_a_failed_sync_loses_no_correctness_for_later_windows(aiohttp_client, settings):
    clock = Clock()
    low = _low(settings, intake=2)
    client = await _client(aiohttp_client, low, clock)
    other = await _client(aiohttp_client, low, clock)
    limiter = client.app[RATE_LIMITER]
    services = client.app[SERVICES]
    assert (await client.post("/api/v1/reports", json=REPORT)).status == 201
    real, services.redis = services.redis, Redis(host="127.0.0.1", port=1)
    try:
        await limiter.flush()  # fails: that hit is not counted in Redis
    finally:
        await services.redis.aclose()
        services.redis = real
    assert await _stored(settings, _key("intake")) is None

    # The next window starts clean on every process, with nothing of the failed sync in it.
    clock.now += 60
    assert (await client.post("/api/v1/reports", json=REPORT)).status == 201
    await limiter.flush()  # Redis answers again: the limits are back on
    assert (await client.post("/api/v1/reports", json=REPORT)).status == 201
    await _assert_limited(await client.post("/api/v1/reports", json=REPORT), "intake", 2, retry_after=30)
    await limiter.flush()
    assert await _stored(settings, _key("intake", window=WINDOW + 1)) == 2
    assert (await other.post("/api/v1/reports", json=REPORT)).status == 201  # the overshoot: not synced yet
    await other.app[RATE_LIMITER].flush()
    await _assert_limited(await other.post("/api/v1/reports", json=REPORT), "intake", 2, retry_after=30)
    assert await _stored(settings, _key("intake", window=WINDOW + 1)) == 3

    # And the one after that again.
    clock.now += 60
    assert (await client.post("/api/v1/reports", json=REPORT)).status == 201


async def test_a_sync_sends_every_waiting_key_in_batches(settings):
    limiter = RateLimiter(_low(settings, lookup=2), clock=Clock())
    r = Redis.from_url(settings.redis_url)
    limiter.redis = lambda: r
    limit = limiter.limits["lookup"]
    clients = [f"198.51.{i // 250}.{i % 250}" for i in range(2 * BATCH_KEYS + 10)]
    try:
        for address in clients:
            assert limiter.hit(limit, address) is None
        assert limiter.hit(limit, clients[0]) is None
        await limiter.flush()
        values = await r.mget([_key("lookup", address) for address in clients])
        assert [int(v) for v in values] == [2] + [1] * (len(clients) - 1)
        assert limiter.hit(limit, clients[0]) == 30
    finally:
        await limiter.close()
        await r.aclose()


async def test_hits_are_synced_in_the_background_and_at_shutdown(aiohttp_client, settings):
    low = _low(settings, lookup=5)
    client = await _client(aiohttp_client, low.model_copy(update={"rate_limit_sync_seconds": 0.001}))
    assert (await client.get(LOOKUP)).status != 429
    for _ in range(1000):  # no flush asked for: the background sync sends it within a few milliseconds
        if await _stored(settings, _key("lookup")) == 1:
            break
        await asyncio.sleep(0.005)
    assert await _stored(settings, _key("lookup")) == 1

    client = await _client(aiohttp_client, low)
    assert (await client.get(LOOKUP)).status != 429
    await client.close()  # a process that stops sends what it counted
    assert await _stored(settings, _key("lookup")) == 2


async def test_a_setting_turns_them_all_off(aiohttp_client, settings):
    client = await _client(aiohttp_client, _low(settings, intake=1).model_copy(update={"rate_limits_enabled": False}))
    for _ in range(3):
        assert (await client.post("/api/v1/reports", json=REPORT)).status == 201


def test_limits_come_from_the_settings_and_zero_turns_one_class_off(settings):
    found = limits(settings.model_copy(update={"rate_limit_lookup_requests": 0}))
    assert set(found) == {"intake", "login", "open311"}
    assert (found["login"].requests, found["login"].window_seconds) == (10, 60)
    assert limits(settings.model_copy(update={"rate_limits_enabled": False})) == {}


PROXIES = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]


@pytest.mark.parametrize(("peer", "forwarded", "key"), [
    ("192.0.2.1", None, "192.0.2.1"),
    ("192.0.2.1", "203.0.113.7", "192.0.2.1"),  # not a proxy of ours: its header means nothing
    ("10.0.0.2", "203.0.113.7", "203.0.113.7"),
    ("10.0.0.2", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the left part is the client's own
    ("10.0.0.2", "203.0.113.7, 10.0.0.9", "203.0.113.7"),  # two proxies of ours
    ("10.0.0.2", "10.0.0.8, 10.0.0.9", "10.0.0.8"),
    ("10.0.0.2", "junk, 203.0.113.7:5123", "203.0.113.7"),
    ("10.0.0.2", "junk", "10.0.0.2"),
    ("10.0.0.2", None, "10.0.0.2"),
    ("2001:db8:1:2:3:4:5:6", None, "2001:db8:1:2::/64"),  # an IPv6 subscriber holds a /64
    ("fd00::1", "[2001:db8::7]:443", "2001:db8::/64"),
    ("::ffff:192.0.2.1", None, "192.0.2.1"),
    (None, None, "unknown"),
])
def test_client_key(peer, forwarded, key):
    assert client_key(peer, forwarded, PROXIES) == key
