"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import casework.auth
import casework.reports.views
import casework.views
import channels.telegram.views
import channels.twilio.views
import channels.web.stats
import channels.web.views
import console.views
import hotline.openapi
import hotline.ops_views
import integrations.open311.views
import integrations.procedures.views
import routing.views
from casework import store
from hotline import ratelimit
from hotline import store as hotline_store
from hotline.services import Services
from hotline.settings import Settings, split_host_port
from kernel import logs, metrics
from kernel.actors import Role
from kernel.auth import STAFF_AUTHENTICATOR, staff_actor
from kernel.http import RETRY_AFTER, SERVICES, error_middleware, json_response, retry_later

log = logging.getLogger(__name__)

# The worker running inside this process (`hotline serve` without --no-worker), for /healthz and /metrics.
WORKER = web.AppKey("worker", object)


async def healthz(request: web.Request) -> web.Response:
    """Check the database, Redis and the workers; 503 when any of them is down."""
    services: Services = request.app[SERVICES]
    checks: dict[str, str] = {}
    try:
        async with services.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")
        checks["database"] = "ok"
    except Exception as e:  # any failure means unhealthy; the type is enough to act on
        checks["database"] = f"error: {type(e).__name__}"
    try:
        await asyncio.wait_for(services.redis.ping(), 2)
        checks["redis"] = "ok"
    except Exception as e:
        checks["redis"] = f"error: {type(e).__name__}"
    body: dict[str, Any] = {"checks": checks}
    worker = request.app.get(WORKER)
    if worker is not None or services.settings.healthz_require_worker:
        checks["worker"], body["worker"] = await _worker_health(services, worker)
    healthy = all(v == "ok" for v in checks.values())
    response = json_response({"status": "ok" if healthy else "unhealthy", **body}, status=200 if healthy else 503)
    return response if healthy else retry_later(request, response)


async def _worker_health(services: Services, worker: Any) -> tuple[str, dict[str, Any]]:
    """This process's own loops (a loop with no round for too long is stalled), and whether any worker is alive.

    "no worker alive" counts only with `healthz_require_worker`: no heartbeat anywhere within
    `worker_alive_seconds` means reports are stored but nobody processes them.
    """
    settings = services.settings
    now = services.clock()
    problems: list[str] = []
    detail: dict[str, Any] = {}
    if worker is not None and worker.started_at is not None:
        states = worker.loop_states(now)
        detail["loops"] = {name: {"last_round_seconds_ago": round(s.age, 3), "stalled": s.stalled, "error": s.error}
                           for name, s in states.items()}
        stalled = [name for name, s in states.items() if s.stalled]
        if stalled:
            problems.append("stalled: " + ", ".join(stalled))
    try:
        async with services.pool.acquire(timeout=2) as conn:
            alive = await hotline_store.live_workers(conn, now - timedelta(seconds=settings.worker_alive_seconds))
            freshest = alive[0]["beat_at"] if alive else await hotline_store.freshest_beat(conn)
        detail["alive"] = len(alive)
        detail["freshest_heartbeat_seconds_ago"] = (
            round(max(0.0, (now - freshest).total_seconds()), 3) if freshest is not None else None)
        if not alive and settings.healthz_require_worker:
            problems.append("no worker alive")
    except Exception as e:  # the database check above says why; here only that heartbeats are unknown
        detail["heartbeats"] = f"error: {type(e).__name__}"
        if settings.healthz_require_worker:
            problems.append(f"heartbeats unknown ({type(e).__name__})")
    return ("; ".join(problems) or "ok"), detail


async def metrics_view(request: web.Request) -> web.Response:
    """GET /metrics on the main address: admins only (the open copy is on `metrics_listen`)."""
    await staff_actor(request, Role.ADMIN)
    return await open_metrics_view(request)


async def open_metrics_view(request: web.Request) -> web.Response:
    services: Services = request.app[SERVICES]
    with contextlib.suppress(Exception):  # a scrape during an outage shows the last known depths
        async with services.pool.acquire(timeout=2) as conn:
            metrics.QUEUE_DEPTH.set(await store.unprocessed_count(conn))
            metrics.OUTBOX_DEPTH.set(await store.outbox_waiting(conn))
            now = services.clock()
            alive = await hotline_store.live_workers(
                conn, now - timedelta(seconds=services.settings.worker_alive_seconds))
            metrics.set_workers(now, [(row["id"], row["loops"]) for row in alive])
    response = web.Response(body=generate_latest(metrics.REGISTRY))
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


async def start_metrics_listener(listen: str, services: Services) -> web.AppRunner:
    """Serve /metrics without authentication on a second, private address (host:port)."""
    app = web.Application()
    app[SERVICES] = services
    app.router.add_get("/metrics", open_metrics_view)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = split_host_port(listen)
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    log.info("metrics served on %s", listen)
    return runner


def create_app(settings: Settings, *, with_worker: bool = False) -> web.Application:
    """Build the web app; with_worker also runs the arq worker inside this process."""
    logs.install()
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.max_multipart_bytes)
    if settings.rate_limits_enabled:
        ratelimit.setup(app, settings)
    app[STAFF_AUTHENTICATOR] = casework.auth.authenticate
    app[RETRY_AFTER] = settings.retry_after_seconds

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        services = await Services.start(settings, processing=with_worker)
        services.pool.acquire_timeout = settings.db_acquire_timeout_seconds  # hotline.db.Pool: views never hang
        app[SERVICES] = services
        metrics_runner = None
        if settings.metrics_listen:
            try:
                metrics_runner = await start_metrics_listener(settings.metrics_listen, services)
            except OSError:
                await services.close()
                raise
        mail_listener = None
        if settings.smtp_listen:  # mail delivered straight to us; an inner worker leaves the port to us
            from channels.email.inbound import start_smtp_listener

            try:
                mail_listener = await start_smtp_listener(services)
            except OSError:
                if metrics_runner is not None:
                    await metrics_runner.cleanup()
                await services.close()
                raise
        worker_task = None
        worker = None
        if with_worker:
            from hotline.worker import build_worker

            worker = build_worker(settings, services, smtp_listener=False)
            app[WORKER] = worker
            worker_task = asyncio.create_task(worker.async_run())
        yield
        if mail_listener is not None:
            await mail_listener.close()
        if worker is not None and worker_task is not None:
            await worker.close()
            worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker_task
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        await services.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    channels.web.views.setup(app)
    channels.web.stats.setup(app)
    channels.twilio.views.setup(app)
    channels.telegram.views.setup(app)
    casework.views.setup(app)
    casework.reports.views.setup(app)
    routing.views.setup(app)
    integrations.open311.views.setup(app)
    integrations.procedures.views.setup(app)
    hotline.openapi.setup(app)
    hotline.ops_views.setup(app)
    console.views.setup(app)
    return app
