"""The arq worker: its functions, cron jobs and start-up, registered explicitly."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.worker import Worker, func

from hotline import escalation, pipeline, queue
from hotline.services import Services, redis_settings
from hotline.settings import Settings


def _every(seconds: int) -> set[int]:
    return set(range(0, 60, max(1, min(seconds, 60))))


def worker_functions(settings: Settings) -> list:
    tries = settings.job_max_tries + 1
    return [
        func(pipeline.process_case, name=queue.PROCESS_CASE, keep_result=0, max_tries=tries),
        func(pipeline.send_message, name=queue.SEND_MESSAGE, keep_result=0, max_tries=tries,
             timeout=settings.send_timeout_seconds),
    ]


def build_worker(settings: Settings, services: Services | None = None, **overrides: Any) -> Worker:
    """Build a worker; with services given it shares them (one process serving web and jobs)."""
    owned = services is None

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["services"] = services if services is not None else await Services.start(settings)
        # Whatever arrived while no worker ran (demo data, an outage) is queued at once, not in a minute.
        await pipeline.sweep(ctx, older_than=0)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if owned and "services" in ctx:
            await ctx["services"].close()

    options: dict[str, Any] = dict(
        functions=worker_functions(settings),
        cron_jobs=[
            cron(pipeline.sweep, name="sweep", second=_every(settings.sweep_interval_seconds),
                 run_at_startup=True, unique=True, timeout=120),
            cron(escalation.escalate, name="escalate", second={5}, unique=True, timeout=120),
        ],
        on_startup=startup,
        on_shutdown=shutdown,
        queue_name=settings.queue_name,
        keep_result=0,
        max_jobs=20,
        poll_delay=0.05,
        job_timeout=120,
        handle_signals=False,
    )
    # The worker always opens its own Redis connection: Worker.close() closes the pool it holds.
    options["redis_settings"] = redis_settings(settings)
    options.update(overrides)
    return Worker(**options)
