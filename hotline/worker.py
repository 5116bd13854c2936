"""The worker: processing and sending loops on PostgreSQL, the periodic chores, and arq for queued jobs.

A worker process runs
- the processing loop: claim a batch of waiting cases, process it, repeat; sleep until woken
  (PostgreSQL NOTIFY on `hotline_work`) or for `worker_poll_seconds`;
- the sending loop: the same for the outbox, so acknowledgements never wait behind processing;
- the chores: the sweeper (messages stuck in `sending`), escalation and the reports' facts, each run by
  one worker at a time (a PostgreSQL advisory lock), so any number of workers may run;
- an arq worker for jobs queued in Redis (replays, provider-side jobs), restarted with back-off when
  Redis goes away. Processing and sending do not need Redis at all;
- a heartbeat: every `worker_heartbeat_seconds` the worker writes its row in `workers` (host, pid, when
  each loop last finished a round, the kind of its last error), which /healthz and /metrics of every
  process read; rows of workers that stopped beating are deleted after ten times `worker_alive_seconds`.
Every loop survives its own failures (a database or Redis outage) and starts again with back-off.

A queued job that keeps failing is retried with back-off and, after its last try, kept in
`failed_jobs` with its error (a dead letter an admin can replay), as are jobs arq itself gives up on
(out of tries after their worker was killed, expired, unknown function).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from arq.jobs import deserialize_result
from arq.worker import Retry, Worker, func

from casework import dead_letters
from casework.reports import store as reports
from hotline import db, escalation, pipeline, queue
from hotline import store as hotline_store
from hotline.services import Services, redis_settings
from hotline.settings import Settings
from kernel.time import rfc3339

log = logging.getLogger(__name__)

# Advisory lock keys of the chores: one worker at a time runs each.
_SWEEP_LOCK = 1022_0001
_ESCALATE_LOCK = 1022_0002
_IMAP_LOCK = 1022_0003
_REPORTS_LOCK = 1022_0004
ESCALATE_EVERY_SECONDS = 60
_MAX_BACKOFF_SECONDS = 30.0
# The loops /healthz watches; the heartbeat is judged by its row's age instead.
LOOPS = ("listen", "process", "send", "chores", "arq")
# arq keeps a running job's in-progress key for the longest function timeout + 10 s, and a job whose
# worker was killed runs again only once that key is gone: every timeout stays at or under 50 s, so a
# killed worker's arq jobs are picked up again within a minute.
ARQ_TIMEOUT_SECONDS = 50
_ARQ_POLL_SECONDS = 0.05


def job_timeout(settings: Settings) -> float:
    """How long one queued job may run; arq's own timeout, 5 s longer, is the backstop."""
    return float(min(settings.send_timeout_seconds + 10, ARQ_TIMEOUT_SECONDS - 5))


def _job_backoff(job_try: int) -> int:
    return min(5 * 2 ** (job_try - 1), 300)


def worker_functions(settings: Settings) -> list:
    """The jobs arq runs from Redis: one case or one message now (replays, tests, tools)."""
    tries = settings.job_max_tries
    timeout = job_timeout(settings)
    return [
        func(_dead_lettered(pipeline.process_case, queue.PROCESS_CASE, tries, timeout), name=queue.PROCESS_CASE,
             keep_result=0, max_tries=tries, timeout=timeout + 5),
        func(_dead_lettered(pipeline.send_message, queue.SEND_MESSAGE, tries, timeout), name=queue.SEND_MESSAGE,
             keep_result=0, max_tries=tries, timeout=timeout + 5),
    ]


def _dead_lettered(job: Callable[..., Awaitable[Any]], name: str, max_tries: int,
                   timeout: float) -> Callable[..., Awaitable[Any]]:
    """Run a job under its timeout; a failure is retried with back-off, and after the last try kept as a dead letter."""

    async def run(ctx: dict[str, Any], **kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(timeout):
                return await job(ctx, **kwargs)
        except Retry:
            raise
        except Exception as e:
            job_try = int(ctx.get("job_try") or 1)
            if job_try < max_tries:
                log.warning("job %s failed (try %s, %s); trying again later", ctx.get("job_id"), job_try,
                            type(e).__name__)
                raise Retry(defer=_job_backoff(job_try)) from e
            await _keep_failed_job(ctx["services"], job_id=str(ctx.get("job_id")), function=name, kwargs=kwargs,
                                   tries=job_try, error=f"{type(e).__name__}: {e}")
            raise

    run.__qualname__ = run.__name__ = name
    return run


async def _keep_failed_job(services: Services, *, job_id: str, function: str, kwargs: dict[str, Any], tries: int,
                           error: str) -> None:
    try:
        dead = await dead_letters.record_failed_job(services.pool, job_id=job_id, function=function, kwargs=kwargs,
                                                    tries=tries, error=error, at=services.clock())
    except Exception as e:  # the database is away too: the failure is in arq's log, and nowhere else
        log.error("job %s failed for good after %s tries; could not keep it (%s)", job_id, tries, type(e).__name__)
        return
    log.error("job %s failed for good after %s tries; kept as failed job %s", job_id, tries, dead)


class _ArqWorker(Worker):
    """arq's worker, reporting each poll round (its heartbeat) and each job it gives up on (a dead letter)."""

    def __init__(self, *args: Any, on_round: Callable[[], None], services: Services, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_round = on_round
        self._services = services

    async def _poll_iteration(self) -> None:
        await super()._poll_iteration()
        self._on_round()

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        """Jobs arq fails without running them: out of tries (their worker was killed), expired, unknown."""
        await super().finish_failed_job(job_id, result_data)
        function, kwargs, tries, error = "?", {}, 0, "failed in the queue"
        if result_data is not None:
            with contextlib.suppress(Exception):  # an unreadable result still leaves its job id
                result = deserialize_result(result_data, deserializer=self.job_deserializer)
                function, kwargs, tries = result.function, dict(result.kwargs), result.job_try
                error = f"{type(result.result).__name__}: {result.result}"
        await _keep_failed_job(self._services, job_id=job_id, function=function, kwargs=kwargs, tries=tries,
                               error=error)


@dataclass(frozen=True, slots=True)
class LoopState:
    """How one loop is doing: when it last finished a round, its last error, whether it is stalled."""

    last_round: datetime
    age: float
    error: str | None
    stall_after: float

    @property
    def stalled(self) -> bool:
        return self.age > self.stall_after


def judge_loops(beats: dict[str, datetime], errors: dict[str, str], started_at: datetime, now: datetime,
                stall_after: dict[str, float]) -> dict[str, LoopState]:
    """Judge each loop: one that has not finished a round for its stall limit (since start, if never) is stalled."""
    out = {}
    for name, limit in stall_after.items():
        last = beats.get(name, started_at)
        out[name] = LoopState(last, max(0.0, (now - last).total_seconds()), errors.get(name), limit)
    return out


class HotlineWorker:
    """One worker: its loops, their wake-ups, their health."""

    def __init__(self, settings: Settings, services: Services | None = None, *, burst: bool = False,
                 poll_delay: float | None = None, handle_signals: bool = False,
                 max_backoff: float = _MAX_BACKOFF_SECONDS, smtp_listener: bool = True, **arq_options: Any) -> None:
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
        self.max_backoff = max_backoff
        # The SMTP listener runs here when HOTLINE_SMTP_LISTEN is set, unless the web app around us runs it.
        self.smtp_listener = smtp_listener
        # When each loop last finished a round, and the kind of each failing loop's last error: /healthz
        # reads these, and the heartbeat writes them for every other process to read.
        self.beats: dict[str, datetime] = {}
        self.errors: dict[str, str] = {}
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.id = f"{self.host}:{self.pid}:{secrets.token_hex(3)}"
        self.started_at: datetime | None = None
        self.heartbeats = 0  # heartbeats written so far

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
            await self.services.refresh_classifier()
            processed = await pipeline.process_pending(self.services)
            sent = await pipeline.send_pending(self.services)
            fetched = await pipeline.fetch_media_pending(self.services)
            if not processed and not sent and not fetched:
                return

    async def async_run(self) -> None:
        if self.services is None:
            self.services = await Services.start(self.settings)
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._stopping.set)
        self.started_at = self.services.clock()
        self._tasks = [
            asyncio.create_task(self._forever("heartbeat", self._heartbeat), name="worker-heartbeat"),
            asyncio.create_task(self._forever("listen", self._listen), name="worker-listen"),
            asyncio.create_task(self._forever("process", self._process_loop), name="worker-process"),
            asyncio.create_task(self._forever("send", self._send_loop), name="worker-send"),
            asyncio.create_task(self._forever("chores", self._chores), name="worker-chores"),
            asyncio.create_task(self._forever("arq", self._arq_run), name="worker-arq"),
        ]
        if self.settings.imap_url:
            self._tasks.append(asyncio.create_task(self._forever("imap", self._imap_loop), name="worker-imap"))
        if self.settings.smtp_listen and self.smtp_listener:
            self._tasks.append(asyncio.create_task(self._forever("smtp", self._smtp_listen), name="worker-smtp"))
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
        if self.heartbeats and self.services is not None:
            with contextlib.suppress(Exception):  # a row left behind ages out
                async with self.services.pool.acquire(timeout=2) as conn:
                    await hotline_store.forget_worker(conn, self.id)
            self.heartbeats = 0
        if self._owned and self.services is not None:
            await self.services.close()
            self.services = None

    async def _stop_tasks(self) -> None:
        # Only the loops are stopped here: the arq loop closes its own worker on the way out (closing it
        # from here too, while it polls or closes, would open a Redis connection nobody closes).
        tasks, self._tasks = self._tasks, []
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
                delay = min(delay * 2, self.max_backoff)

    def _beat(self, name: str) -> None:
        if self.services is None:
            return
        self.beats[name] = self.services.clock()
        self.errors.pop(name, None)

    def stall_limits(self) -> dict[str, float]:
        """Per loop, how long without a finished round means stalled: the setting, or three of its rounds."""
        every = {"listen": max(self.poll, 1.0) * 5, "process": self.poll, "send": self.poll,
                 "chores": float(self.settings.sweep_interval_seconds), "arq": _ARQ_POLL_SECONDS}
        if self.settings.imap_url:  # the mailbox poller, when there is a mailbox (the SMTP listener has no rounds)
            every["imap"] = float(self.settings.imap_poll_seconds)
        return {name: max(self.settings.worker_stall_seconds, 3 * seconds) for name, seconds in every.items()}

    def loop_states(self, now: datetime | None = None) -> dict[str, LoopState]:
        """Each loop's state now (by the services' clock)."""
        assert self.services is not None and self.started_at is not None, "the worker is not running"
        now = now or self.services.clock()
        return judge_loops(self.beats, self.errors, self.started_at, now, self.stall_limits())

    async def _heartbeat(self) -> None:
        """Write this worker's row every `worker_heartbeat_seconds`; forget workers silent for long."""
        assert self.services is not None and self.started_at is not None
        forget_after = timedelta(seconds=self.settings.worker_alive_seconds * 10)
        while not self._stopping.is_set():
            now = self.services.clock()
            loops = {name: {"last_round": rfc3339(state.last_round), "error": state.error,
                            "stall_after": state.stall_after}
                     for name, state in self.loop_states(now).items()}
            async with self.services.pool.acquire() as conn:
                await hotline_store.beat(conn, worker_id=self.id, host=self.host, pid=self.pid,
                                         started_at=self.started_at, at=now, loops=loops)
                await hotline_store.forget_workers(conn, now - forget_after)
            self.heartbeats += 1
            self.errors.pop("heartbeat", None)
            await self._sleep(self.settings.worker_heartbeat_seconds)

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
            await self.services.refresh_classifier()  # a promoted model is used from the next batch on
            outcomes = await pipeline.process_pending(self.services)
            self._beat("process")
            if len(outcomes) < self.settings.process_batch_size:
                await self._sleep(self.poll, wake)

    async def _send_loop(self) -> None:
        wake = self._wake["send"]
        while not self._stopping.is_set():
            wake.clear()
            sent = await pipeline.send_pending(self.services)
            # Provider media (MMS pictures, recordings) are fetched by the same loop: also a provider's call.
            sent += await pipeline.fetch_media_pending(self.services)
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
        """The sweeper and the reports' facts every sweep interval, escalation every minute; one worker at a time."""
        ticks = 0
        every = max(1, ESCALATE_EVERY_SECONDS // max(1, self.settings.sweep_interval_seconds))
        while not self._stopping.is_set():
            await self._exclusively(_SWEEP_LOCK, lambda: pipeline.sweep(self.ctx))
            if ticks % every == 0:
                await self._exclusively(_ESCALATE_LOCK, lambda: escalation.escalate(self.ctx))
            await self._exclusively(_REPORTS_LOCK, self._refresh_reports)
            ticks += 1
            self._beat("chores")
            await self._sleep(self.settings.sweep_interval_seconds)

    async def _refresh_reports(self) -> None:
        """The reports' facts of cases with new events, on the router's calendar (docs/metrics.md)."""
        await reports.refresh_facts(self.services.pool, (await self.services.current_router()).calendar,
                                    max_cases=reports.CHORE_CASES)

    async def _imap_loop(self) -> None:
        """Poll the mailbox of HOTLINE_IMAP_URL every imap_poll_seconds, one worker at a time."""
        from channels.email.inbound import poll_imap

        while not self._stopping.is_set():
            await self._exclusively(_IMAP_LOCK, lambda: poll_imap(self.services))
            self._beat("imap")
            await self._sleep(self.settings.imap_poll_seconds)

    async def _smtp_listen(self) -> None:
        """The SMTP listener on HOTLINE_SMTP_LISTEN while the worker runs (a port in use: tried again later)."""
        from channels.email.inbound import start_smtp_listener

        listener = await start_smtp_listener(self.services)
        try:
            await self._stopping.wait()
        finally:
            await listener.close()

    async def _exclusively(self, key: int, chore: Callable[[], Awaitable[Any]]) -> None:
        async with self.services.pool.acquire() as conn, db.exclusive(conn, key) as held:
            if held:  # otherwise another worker is on it
                await chore()

    def _arq_worker(self, **extra: Any) -> Worker:
        async def startup(ctx: dict[str, Any]) -> None:
            ctx["services"] = self.services

        assert self.services is not None
        options: dict[str, Any] = dict(
            functions=worker_functions(self.settings), on_startup=startup, queue_name=self.settings.queue_name,
            keep_result=0, max_jobs=20, poll_delay=_ARQ_POLL_SECONDS, job_timeout=job_timeout(self.settings) + 5,
            max_tries=self.settings.job_max_tries, handle_signals=False, redis_settings=redis_settings(self.settings),
        )
        options.update(self.arq_options)
        options.update(extra)
        return _ArqWorker(on_round=lambda: self._beat("arq"), services=self.services, **options)

    async def _arq_run(self) -> None:
        """arq's own loop for jobs queued in Redis; it raises when Redis goes away, and _forever restarts it."""
        worker = self._arq = self._arq_worker()
        try:
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
