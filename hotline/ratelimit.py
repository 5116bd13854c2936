"""Per-client request limits on public intake, status lookups, staff sign-in and Open311 posts.

One middleware matches (method, route pattern), so no view changes. Counters live in Redis, shared
by every web process: a fixed window per class and client address, started by the client's first
request, counted and timed in one round trip (a Lua script: INCR, PEXPIRE on the first hit, PTTL).
When Redis is unreachable every request is let through and that is logged once per outage: a
citizen's report is never refused for want of a counter.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import web
from aiohttp.typedefs import Middleware
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from hotline.settings import Settings
from kernel.http import SERVICES, Handler, error_response

log = logging.getLogger(__name__)

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# (method, route pattern) -> limit class. The patterns are aiohttp's canonical resource paths.
ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/reports"): "intake",
    ("POST", "/report"): "intake",
    ("GET", "/api/v1/reports/{code}"): "lookup",
    ("HEAD", "/api/v1/reports/{code}"): "lookup",
    ("GET", "/track/{code}"): "lookup",
    ("HEAD", "/track/{code}"): "lookup",
    ("POST", "/api/v1/session"): "login",
    ("POST", "/open311/v2/requests.{format}"): "open311",
}
# Pages a browser shows: they get a small HTML page rather than JSON.
PAGES = frozenset({"/report", "/track/{code}"})
KEY_PREFIX = "hotline:ratelimit"
# A Redis that hangs must not hold intake up either.
REDIS_TIMEOUT_SECONDS = 0.5

_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""
_SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()

_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Quá nhiều yêu cầu / Too many requests</title></head>
<body><h1>Quá nhiều yêu cầu</h1><p>Bạn đã gửi quá nhiều yêu cầu. Vui lòng thử lại sau {seconds} giây.</p>
<p lang="en">Too many requests. Please try again in {seconds} seconds.</p></body></html>
"""


@dataclass(frozen=True)
class Limit:
    name: str
    requests: int
    window_seconds: int


def limits(settings: Settings) -> dict[str, Limit]:
    """The limit classes the settings turn on, by name."""
    if not settings.rate_limits_enabled:
        return {}
    found = {}
    for name in ("intake", "lookup", "login", "open311"):
        requests = getattr(settings, f"rate_limit_{name}_requests")
        window = getattr(settings, f"rate_limit_{name}_window_seconds")
        if requests > 0 and window > 0:
            found[name] = Limit(name, requests, window)
    return found


def _parse(text: str | None) -> IPAddress | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("["):  # [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_key(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address a request is counted against.

    The peer, unless the peer is a trusted proxy: then X-Forwarded-For is read from the right (the hop
    our own proxy added) past any further trusted proxies, stopping at the first address that is not
    one. Reading its left end instead would let a client pick its own key by sending the header. IPv6
    clients are counted per /64, the block one subscriber usually holds.
    """
    address = _parse(peer)
    if address is None:
        return "unknown"
    if forwarded_for and _trusted(address, trusted):
        for hop in reversed(forwarded_for.split(",")):
            parsed = _parse(hop)
            if parsed is None:
                break
            address = parsed
            if not _trusted(parsed, trusted):
                break
    if isinstance(address, IPv6Address):
        return str(IPv6Network((address, 64), strict=False))
    return str(address)


def _trusted(address: IPAddress, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


class RateLimiter:
    """Counts requests per class and client in Redis; fails open when Redis does not answer."""

    def __init__(self, settings: Settings) -> None:
        self.limits = limits(settings)
        self.trusted = [ip_network(p, strict=False) for p in settings.trusted_proxies]
        self._redis_down = False

    async def hit(self, redis: Redis, limit: Limit, client: str) -> int | None:
        """Count one request; return the seconds to wait when it is over the limit, else None."""
        key = f"{KEY_PREFIX}:{limit.name}:{client}"
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                count, ttl_ms = await _run_script(redis, key, limit.window_seconds * 1000)
        except (RedisError, OSError, TimeoutError) as e:
            if not self._redis_down:
                log.warning("rate limits off while Redis is unreachable (%s)", type(e).__name__)
                self._redis_down = True
            return None
        if self._redis_down:
            log.info("Redis reachable again: rate limits back on")
            self._redis_down = False
        if int(count) <= limit.requests:
            return None
        ttl_ms = int(ttl_ms)
        return max(1, math.ceil(ttl_ms / 1000)) if ttl_ms > 0 else limit.window_seconds


async def _run_script(redis: Redis, key: str, window_ms: int) -> tuple[int, int]:
    try:
        return await redis.evalsha(_SCRIPT_SHA, 1, key, window_ms)
    except NoScriptError:
        return await redis.eval(_SCRIPT, 1, key, window_ms)


def too_many_requests(limit: Limit, seconds: int, *, page: bool) -> web.Response:
    """429 with Retry-After: the JSON error for APIs, a short bilingual page for browser pages."""
    if page:
        response = web.Response(text=_PAGE.format(seconds=seconds), status=429, content_type="text/html",
                                charset="utf-8")
    else:
        response = error_response("rate_limited", 429, {
            "limit": limit.name, "requests": limit.requests, "window_seconds": limit.window_seconds,
            "retry_after": seconds,
        })
    response.headers["Retry-After"] = str(seconds)
    return response


def rate_limit_middleware(settings: Settings) -> Middleware:
    """The middleware enforcing the settings' limits on the routes in ROUTES."""
    limiter = RateLimiter(settings)

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        pattern = resource.canonical if resource is not None else None
        limit = limiter.limits.get(ROUTES.get((request.method, pattern), ""))
        if limit is None:
            return await handler(request)
        client = client_key(request.remote, request.headers.get("X-Forwarded-For"), limiter.trusted)
        seconds = await limiter.hit(request.config_dict[SERVICES].redis, limit, client)
        if seconds is None:
            return await handler(request)
        log.info("rate limited: %s", limit.name)  # not the address: that is personal data
        return too_many_requests(limit, seconds, page=pattern in PAGES)

    return rate_limit
