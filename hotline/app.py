"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import casework.auth
import casework.views
import channels.web.views
import hotline.openapi
import integrations.open311.views
import integrations.procedures.views
import routing.views
from casework import store
from hotline import ratelimit
from hotline.services import Services
from hotline.settings import Settings, split_host_port
from kernel import logs, metrics
from kernel.actors import Role
from kernel.auth import STAFF_AUTHENTICATOR, staff_actor
from kernel.http import RETRY_AFTER, SERVICES, error_middleware, json_response, retry_later

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    """Check the database and Redis; 503 when either is down."""
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
    healthy = all(v == "ok" for v in checks.values())
    response = json_response({"status": "ok" if healthy else "unhealthy", "checks": checks},
                             status=200 if healthy else 503)
    return response if healthy else retry_later(request, response)


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
        worker_task = None
        worker = None
        if with_worker:
            from hotline.worker import build_worker

            worker = build_worker(settings, services)
            worker_task = asyncio.create_task(worker.async_run())
        yield
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
    casework.views.setup(app)
    routing.views.setup(app)
    integrations.open311.views.setup(app)
    integrations.procedures.views.setup(app)
    hotline.openapi.setup(app)
    return app
