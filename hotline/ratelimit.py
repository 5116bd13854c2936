"""Per-client request limits on public intake, status lookups, staff sign-in and Open311 posts.

One middleware matches (method, route resource), so no view changes. Windows are fixed and aligned on
the clock (window number = time // window length), so every web process agrees on them without
asking. A request is decided locally, with no I/O: the class and client's count as Redis last
reported it, plus this process's hits since then, must stay within the limit. Each process flushes
its new hits to Redis in the background: at most every `rate_limit_sync_seconds` (50 ms), sooner
when many clients are waiting, one Lua call (INCRBY and PEXPIRE per key) for every key that
changed, which answers each key's count over all processes. Refused requests are not sent: they
would only push a count that is already over.

Overshoot: a process learns the other processes' hits only when it syncs, and it syncs a key at
most one sync interval (plus Redis round trips) after that key's first new hit. Once a client's
requests let through reach the limit, all of them are in Redis within one such interval, and every
process knows within a second one. So within one window a client gets at most
limit + processes x (the requests one process takes from that client in two sync intervals, plus
round trips) through: with 4 processes and 50 ms, a client sending 100 requests a second spread over
them gets about 10 past its limit. One process alone never lets more than the limit through. The
processes' clocks must agree to well under a window, as NTP keeps them.

When Redis is unreachable or slower than REDIS_TIMEOUT_SECONDS every request is let through, and that
is logged once per outage: a citizen's report is never refused for want of a counter, and no request
ever waits on Redis. The hits of a failed flush are dropped (counting them twice would be worse than
not at all); each window has its own key, so a failure touches no later window.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_urldispatcher import AbstractResource
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
    ("POST", "/track/{code}/rate"): "lookup",
    ("POST", "/api/v1/session"): "login",
    ("POST", "/console/login"): "login",
    ("POST", "/open311/v2/requests.{format}"): "open311",
}
# Pages a browser shows: they get a small HTML page rather than JSON.
PAGES = frozenset({"/report", "/track/{code}", "/track/{code}/rate", "/console/login"})
KEY_PREFIX = "hotline:ratelimit"
# A Redis that hangs must not keep the limits on stale counts for long either.
REDIS_TIMEOUT_SECONDS = 0.5
# While Redis is down, try again at most this often.
RETRY_SECONDS = 1.0
# Keys per Lua call; a flush starts at once when this many are waiting.
BATCH_KEYS = 500
# A key outlives its window by this much, for clocks slightly apart.
EXPIRY_MARGIN_MS = 5000
# Counts of windows that have ended are forgotten this often.
SWEEP_SECONDS = 10.0
# Distinct (peer, X-Forwarded-For) pairs whose client key is remembered.
CLIENT_CACHE = 4096

# KEYS: one per counter; ARGV: increment, then milliseconds to live, for each. Returns each count.
_SCRIPT = """
local counts = {}
for i = 1, #KEYS do
  counts[i] = redis.call('INCRBY', KEYS[i], ARGV[2 * i - 1])
  redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
end
return counts
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


class _Count:
    """One class and client's count in one window, as this process knows it."""

    __slots__ = ("key", "limit", "window", "synced", "sending", "pending", "dirty")

    def __init__(self, limit: Limit, client: str, window: int) -> None:
        self.key = f"{KEY_PREFIX}:{limit.name}:{window}:{client}"
        self.limit = limit
        self.window = window
        self.synced = 0  # the count over all processes at the last sync, this process's hits included
        self.sending = 0  # hits in the flush under way
        self.pending = 0  # hits since
        self.dirty = False


class RateLimiter:
    """Decides requests on local counts and syncs them with Redis in the background, in batches."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits(settings)
        self.trusted = [ip_network(p, strict=False) for p in settings.trusted_proxies]
        self.sync_seconds = settings.rate_limit_sync_seconds
        self.timeout = REDIS_TIMEOUT_SECONDS
        self.clock = clock  # seconds since the epoch: processes share windows through it
        self.redis: Callable[[], Redis] | None = None  # set by setup: the app's current Redis client
        self._counts: dict[tuple[str, str], _Count] = {}
        self._dirty: list[_Count] = []
        self._classes: dict[tuple[str, AbstractResource], Limit | None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._redis_down = False
        self._closed = False
        self._next_sweep = 0.0
        self.client_key = lru_cache(maxsize=CLIENT_CACHE)(self._client_key)

    def _client_key(self, peer: str | None, forwarded_for: str | None) -> str:
        return client_key(peer, forwarded_for, self.trusted)

    def limit_for(self, method: str, resource: AbstractResource) -> Limit | None:
        """The limit on a route, looked up once per (method, resource)."""
        try:
            return self._classes[method, resource]
        except KeyError:
            found = self.limits.get(ROUTES.get((method, resource.canonical), ""))
            self._classes[method, resource] = found
            return found

    def hit(self, limit: Limit, client: str) -> int | None:
        """Count one request; return the seconds to wait when it is over the limit, else None."""
        now = self.clock()
        window = int(now // limit.window_seconds)
        count = self._counts.get((limit.name, client))
        if count is None or count.window != window:
            count = self._counts[limit.name, client] = _Count(limit, client, window)
        if count.synced + count.sending + count.pending >= limit.requests and not self._redis_down:
            return max(1, math.ceil((window + 1) * limit.window_seconds - now))
        count.pending += 1
        if not count.dirty:
            count.dirty = True
            self._dirty.append(count)
            self._schedule()
        return None

    def _schedule(self) -> None:
        if self._flushing is not None or self._closed or self.redis is None:
            return  # the flush under way schedules the next one when it ends
        if len(self._dirty) >= BATCH_KEYS:
            if self._timer is not None:
                self._timer.cancel()
            self._start()
        elif self._timer is None:
            delay = max(self.sync_seconds, RETRY_SECONDS) if self._redis_down else self.sync_seconds
            self._timer = asyncio.get_running_loop().call_later(delay, self._start)

    def _start(self) -> None:
        self._timer = None
        self._flushing = asyncio.get_running_loop().create_task(self._send(), name="rate-limit-sync")

    async def _send(self) -> None:
        batch, self._dirty = self._dirty, []
        for count in batch:
            count.dirty = False
            count.sending, count.pending = count.pending, 0
        try:
            for i in range(0, len(batch), BATCH_KEYS):
                if not await self._sync(batch[i:i + BATCH_KEYS]):
                    break
        finally:
            for count in batch:  # hits Redis did not take are dropped: the request went through anyway
                count.sending = 0
            self._flushing = None
        now = self.clock()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            self._counts = {k: c for k, c in self._counts.items() if c.window == int(now // c.limit.window_seconds)}
        if self._dirty:
            self._schedule()

    async def _sync(self, batch: list[_Count]) -> bool:
        """Send one batch of hits and take each key's count back; return whether Redis answered."""
        now = self.clock()
        keys: list[str] = []
        argv: list[int] = []
        for count in batch:
            keys.append(count.key)
            ends_ms = math.ceil(((count.window + 1) * count.limit.window_seconds - now) * 1000)
            argv += [count.sending, max(1, ends_ms) + EXPIRY_MARGIN_MS]
        assert self.redis is not None
        try:
            async with asyncio.timeout(self.timeout):
                counts = await _run_script(self.redis(), keys, argv)
        except (RedisError, OSError, TimeoutError) as e:
            if not self._redis_down:
                log.warning("rate limits off while Redis is unreachable (%s)", type(e).__name__)
                self._redis_down = True
            return False
        for count, synced in zip(batch, counts, strict=True):
            count.synced = int(synced)
            count.sending = 0
        if self._redis_down:
            log.info("Redis reachable again: rate limits back on")
            self._redis_down = False
        return True

    async def flush(self) -> None:
        """Send every hit counted so far and take the counts back, after any flush under way."""
        while self._flushing is not None:
            await asyncio.shield(self._flushing)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._dirty and self.redis is not None:
            self._start()
            await asyncio.shield(self._flushing)

    async def close(self) -> None:
        """Stop syncing in the background and send the hits still counted here."""
        await self.flush()
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def _run_script(redis: Redis, keys: list[str], argv: list[int]) -> list[int]:
    try:
        return await redis.evalsha(_SCRIPT_SHA, len(keys), *keys, *argv)
    except NoScriptError:
        return await redis.eval(_SCRIPT, len(keys), *keys, *argv)


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


RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)


def rate_limit_middleware(limiter: RateLimiter) -> Middleware:
    """The middleware enforcing the limiter's limits on the routes in ROUTES."""
    by_peer = not limiter.trusted  # no proxy of ours: the header means nothing and is not even read

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        limit = limiter.limit_for(request.method, resource) if resource is not None else None
        if limit is None:
            return await handler(request)
        forwarded = None if by_peer else request.headers.get("X-Forwarded-For")
        seconds = limiter.hit(limit, limiter.client_key(request.remote, forwarded))
        if seconds is None:
            return await handler(request)
        log.info("rate limited: %s", limit.name)  # not the address: that is personal data
        return too_many_requests(limit, seconds, page=resource.canonical in PAGES)

    return rate_limit


def setup(app: web.Application, settings: Settings) -> RateLimiter:
    """Enforce the settings' limits on `app`; the limiter syncs through the app's Redis until shutdown."""
    limiter = RateLimiter(settings)
    limiter.redis = lambda: app[SERVICES].redis
    app[RATE_LIMITER] = limiter
    app.middlewares.append(rate_limit_middleware(limiter))

    async def close(_app: web.Application) -> None:
        await limiter.close()

    app.on_shutdown.append(close)  # before the services close: the last hits still reach Redis
    return limiter
