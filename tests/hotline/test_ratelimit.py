"""Rate limits: per class and client address, counted in Redis, 429 with Retry-After, open when Redis is down."""

import logging
from ipaddress import ip_network

import pytest
from redis.asyncio import Redis

from hotline.app import create_app
from hotline.ratelimit import client_key, limits
from kernel.http import SERVICES

REPORT = {"text": "Cống thoát nước trước nhà số 12 Lê Lợi bị nghẹt, nước tràn lên đường"}
LOCAL = ["127.0.0.1"]


def _low(settings, **limits_):
    """The test settings with small limits: `intake=2` means 2 requests per 60-second window."""
    update = {}
    for name, requests in limits_.items():
        update[f"rate_limit_{name}_requests"] = requests
        update[f"rate_limit_{name}_window_seconds"] = 60
    return settings.model_copy(update=update)


async def _assert_limited(resp, name, requests):
    assert resp.status == 429
    retry_after = int(resp.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert await resp.json() == {"error": "rate_limited", "detail": {
        "limit": name, "requests": requests, "window_seconds": 60, "retry_after": retry_after}}


async def test_public_intake_is_limited_per_client(aiohttp_client, settings):
    client = await aiohttp_client(create_app(_low(settings, intake=2)))
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
    client = await aiohttp_client(create_app(_low(settings, lookup=3)))
    for path in ("/api/v1/reports/1234567890", "/track/1234567890", "/api/v1/reports/1111111111"):
        assert (await client.get(path)).status in (400, 404)
    await _assert_limited(await client.get("/api/v1/reports/2222222222"), "lookup", 3)
    resp = await client.get("/track/2222222222")
    assert resp.status == 429 and resp.content_type == "text/html"
    # Other routes are not counted.
    assert (await client.get("/healthz")).status == 200


async def test_sign_in_and_open311_posts_are_limited(aiohttp_client, settings):
    client = await aiohttp_client(create_app(_low(settings, login=2, open311=1)))
    for _ in range(2):
        resp = await client.post("/api/v1/session", json={"username": "x", "password": "y"})
        assert resp.status == 401
    await _assert_limited(await client.post("/api/v1/session", json={"username": "x", "password": "y"}), "login", 2)
    assert (await client.post("/open311/v2/requests.json", data={"api_key": "nope"})).status != 429
    await _assert_limited(await client.post("/open311/v2/requests.xml", data={"api_key": "nope"}), "open311", 1)
    # Reading Open311 is not limited.
    assert (await client.get("/open311/v2/services.json")).status == 200


async def test_clients_behind_a_trusted_proxy_are_counted_apart(aiohttp_client, settings):
    client = await aiohttp_client(create_app(_low(settings, intake=1).model_copy(update={"trusted_proxies": LOCAL})))
    first = {"X-Forwarded-For": "203.0.113.7"}
    assert (await client.post("/api/v1/reports", json=REPORT, headers=first)).status == 201
    assert (await client.post("/api/v1/reports", json=REPORT, headers=first)).status == 429
    # A client cannot pick a fresh key by sending its own header: the proxy's hop is the one read.
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    assert (await client.post("/api/v1/reports", json=REPORT, headers=spoofed)).status == 429
    assert (await client.post("/api/v1/reports", json=REPORT, headers={"X-Forwarded-For": "203.0.113.8"})).status == 201


async def test_the_header_is_ignored_when_the_peer_is_not_a_trusted_proxy(aiohttp_client, settings):
    client = await aiohttp_client(create_app(_low(settings, intake=1)))
    assert (await client.post("/api/v1/reports", json=REPORT, headers={"X-Forwarded-For": "203.0.113.7"})).status == 201
    assert (await client.post("/api/v1/reports", json=REPORT, headers={"X-Forwarded-For": "203.0.113.8"})).status == 429


async def test_several_web_processes_share_the_counters(aiohttp_client, settings):
    low = _low(settings, intake=2)
    one, two = await aiohttp_client(create_app(low)), await aiohttp_client(create_app(low))
    assert (await one.post("/api/v1/reports", json=REPORT)).status == 201
    assert (await two.post("/api/v1/reports", json=REPORT)).status == 201
    assert (await one.post("/api/v1/reports", json=REPORT)).status == 429
    assert (await two.post("/api/v1/reports", json=REPORT)).status == 429


async def test_intake_goes_on_when_redis_is_down_and_that_is_logged_once(aiohttp_client, settings, caplog):
    client = await aiohttp_client(create_app(_low(settings, intake=1)))
    services = client.app[SERVICES]
    real = services.redis
    services.redis = Redis(host="127.0.0.1", port=1)  # nothing listens on port 1
    try:
        with caplog.at_level(logging.INFO, logger="hotline.ratelimit"):
            for _ in range(3):
                assert (await client.post("/api/v1/reports", json=REPORT)).status == 201
            warnings = [r for r in caplog.records if r.name == "hotline.ratelimit" and r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "Redis" in warnings[0].getMessage()
    finally:
        await services.redis.aclose()
        services.redis = real
    assert await services.pool.fetchval("SELECT count(*) FROM cases") == 3
    # Back on as soon as Redis answers again.
    assert (await client.post("/api/v1/reports", json=REPORT)).status == 201
    assert (await client.post("/api/v1/reports", json=REPORT)).status == 429


async def test_a_setting_turns_them_all_off(aiohttp_client, settings):
    client = await aiohttp_client(create_app(_low(settings, intake=1).model_copy(
        update={"rate_limits_enabled": False})))
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
