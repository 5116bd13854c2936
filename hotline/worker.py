"""The worker: processing and sending loops on PostgreSQL, the periodic chores, and arq for queued jobs.

A worker process runs
- the processing loop: claim a batch of waiting cases, process it, repeat; sleep until woken
  (PostgreSQL NOTIFY on `hotline_work`) or for `worker_poll_seconds`;
- the sending loop: the same for the outbox, so acknowledgements never wait behind processing;
- the chores: the sweeper (messages stuck in `sending`) and escalation, each run by one worker at a
  time (a PostgreSQL advisory lock), so any number of workers may run;
- an arq worker for jobs queued in Redis (replays, provider-side jobs), restarted with back-off when
  Redis goes away. Processing and sending do not need Redis at all.
Every loop survives its own failures (a database or Redis outage) and starts again with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
from arq.worker import Worker, func

from hotline import db, escalation, pipeline, queue
from hotline.services import Services, redis_settings
from hotline.settings import Settings

log = logging.getLogger(__name__)

# Advisory lock keys of the chores: one worker at a time runs each.
_SWEEP_LOCK = 1022_0001
_ESCALATE_LOCK = 1022_0002
ESCALATE_EVERY_SECONDS = 60
_MAX_BACKOFF_SECONDS = 30.0


def worker_functions(settings: Settings) -> list:
    """The jobs arq runs from Redis: one case or one message now (replays, tests, tools)."""
    tries = settings.job_max_tries + 1
    return [
        func(pipeline.process_case, name=queue.PROCESS_CASE, keep_result=0, max_tries=tries,
             timeout=settings.send_timeout_seconds),
        func(pipeline.send_message, name=queue.SEND_MESSAGE, keep_result=0, max_tries=tries,
             timeout=settings.send_timeout_seconds),
    ]


class HotlineWorker:
    """One worker: its loops, their wake-ups, their health."""

    def __init__(self, settings: Settings, services: Services | None = None, *, burst: bool = False,
                 poll_delay: float | None = None, handle_signals: bool = False, **arq_options: Any) -> None:
        self.settings = settings
        self.services = services
        self._owned = services is None
        self.burst = burst
        self.poll = poll_delay if poll_delay is not None else settings.worker_poll_seconds
        self.handle_signals = handle_signals
        self.arq_options = arq_options
        self._wake = {"process": asyncio.Event(), "send": asyncio.Event()}
        self._tasks: list[asyncio.Task] = []
        self._stopping = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._arq: Worker | None = None
        # When each loop last finished a round: /healthz reads these.
        self.beats: dict[str, datetime] = {}
        self.errors: dict[str, str] = {}

    @property
    def ctx(self) -> dict[str, Any]:
        return {"services": self.services}

    async def main(self) -> None:
        """Run until closed; in burst mode, do all the work there is, then return."""
        if self.services is None:
            self.services = await Services.start(self.settings)
        if self.burst:
            await self.drain()
            await self._arq_burst()
            await self.drain()
            return
        await self.async_run()

    async def drain(self) -> None:
        """Process and send until nothing is left that is due now."""
        while True:
            processed = await pipeline.process_pending(self.services)
            sent = await pipeline.send_pending(self.services)
            if not processed and not sent:
                return

    async def async_run(self) -> None:
        if self.services is None:
            self.services = await Services.start(self.settings)
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._stopping.set)
        self._tasks = [
            asyncio.create_task(self._forever("listen", self._listen), name="worker-listen"),
            asyncio.create_task(self._forever("process", self._process_loop), name="worker-process"),
            asyncio.create_task(self._forever("send", self._send_loop), name="worker-send"),
            asyncio.create_task(self._forever("chores", self._chores), name="worker-chores"),
            asyncio.create_task(self._forever("arq", self._arq_run), name="worker-arq"),
        ]
        log.info("worker started")
        await self._stopping.wait()
        await self._stop_tasks()

    def run(self) -> None:
        """Run in this thread until SIGINT or SIGTERM (the `hotline worker` command)."""
        self.handle_signals = True
        try:
            asyncio.run(self._run_and_close())
        except KeyboardInterrupt:
            pass

    async def _run_and_close(self) -> None:
        try:
            await self.main()
        finally:
            await self.close()

    async def close(self) -> None:
        self._stopping.set()
        await self._stop_tasks()
        if self._owned and self.services is not None:
            await self.services.close()
            self.services = None

    async def _stop_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        if self._arq is not None:
            with contextlib.suppress(Exception):
                await self._arq.close()
            self._arq = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    async def _forever(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Run a loop; when it fails (an outage), log the kind of failure and start it again with back-off."""
        delay = 0.5
        while not self._stopping.is_set():
            try:
                await loop()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.errors[name] = type(e).__name__
                log.warning("worker %s loop failed (%s); starting again in %.1f s", name, type(e).__name__, delay)
                await self._sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_SECONDS)

    def _beat(self, name: str) -> None:
        self.beats[name] = self.services.clock() if self.services is not None else datetime.now()
        self.errors.pop(name, None)

    async def _sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _process_loop(self) -> None:
        wake = self._wake["process"]
        while not self._stopping.is_set():
            wake.clear()  # before claiming: a wake-up sent while we work is not lost
            outcomes = await pipeline.process_pending(self.services)
            self._beat("process")
            if len(outcomes) < self.settings.process_batch_size:
                await self._sleep(self.poll, wake)

    async def _send_loop(self) -> None:
        wake = self._wake["send"]
        while not self._stopping.is_set():
            wake.clear()
            sent = await pipeline.send_pending(self.services)
            self._beat("send")
            if sent < self.settings.send_batch_size:
                await self._sleep(self.poll, wake)

    async def _listen(self) -> None:
        """Hold a connection LISTENing for wake-ups; reconnect when it drops."""
        assert self.settings.database_url
        conn = await asyncpg.connect(self.settings.database_url, timeout=10)
        self._listener = conn
        lost = asyncio.Event()

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            event = self._wake.get(payload)
            if event is not None:
                event.set()

        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(queue.WORK_CHANNEL, on_notify)
        # Work may have arrived while nobody listened.
        for event in self._wake.values():
            event.set()
        try:
            while not self._stopping.is_set() and not lost.is_set() and not conn.is_closed():
                self._beat("listen")
                await self._sleep(max(self.poll, 1.0) * 5, lost)
        finally:
            self._listener = None
            with contextlib.suppress(Exception):
                await conn.close()
        if not self._stopping.is_set():
            raise ConnectionError("the LISTEN connection dropped")

    async def _chores(self) -> None:
        """The sweeper every sweep interval and escalation every minute, each by one worker at a time."""
        ticks = 0
        every = max(1, ESCALATE_EVERY_SECONDS // max(1, self.settings.sweep_interval_seconds))
        while not self._stopping.is_set():
            await self._exclusively(_SWEEP_LOCK, lambda: pipeline.sweep(self.ctx))
            if ticks % every == 0:
                await self._exclusively(_ESCALATE_LOCK, lambda: escalation.escalate(self.ctx))
            ticks += 1
            self._beat("chores")
            await self._sleep(self.settings.sweep_interval_seconds)

    async def _exclusively(self, key: int, chore: Callable[[], Awaitable[Any]]) -> None:
        async with self.services.pool.acquire() as conn:
            if not await db.try_advisory_lock(conn, key):
                return  # another worker is on it
            try:
                await chore()
            finally:
                await db.advisory_unlock(conn, key)

    def _arq_worker(self, **extra: Any) -> Worker:
        async def startup(ctx: dict[str, Any]) -> None:
            ctx["services"] = self.services

        options: dict[str, Any] = dict(
            functions=worker_functions(self.settings), on_startup=startup, queue_name=self.settings.queue_name,
            keep_result=0, max_jobs=20, poll_delay=0.05, job_timeout=self.settings.send_timeout_seconds,
            handle_signals=False, redis_settings=redis_settings(self.settings),
        )
        options.update(self.arq_options)
        options.update(extra)
        return Worker(**options)

    async def _arq_run(self) -> None:
        """arq's own loop for jobs queued in Redis; it raises when Redis goes away, and _forever restarts it."""
        worker = self._arq = self._arq_worker()
        try:
            self._beat("arq")
            await worker.main()
        finally:
            self._arq = None
            with contextlib.suppress(Exception):
                await worker.close()

    async def _arq_burst(self) -> None:
        worker = self._arq_worker(burst=True, poll_delay=min(self.poll, 0.05))
        try:
            await worker.main()
        finally:
            await worker.close()


def build_worker(settings: Settings, services: Services | None = None, **options: Any) -> HotlineWorker:
    """Build a worker; with services given it shares them (one process serving web and jobs)."""
    return HotlineWorker(settings, services, **options)
