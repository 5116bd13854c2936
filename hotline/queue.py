"""Waking the workers for work stored in PostgreSQL, and enqueueing arq jobs with stable ids in one round trip.

arq's own `enqueue_job` takes three round trips per job (WATCH, EXISTS, MULTI/EXEC). Intake sends
many small jobs, so a Lua script enqueues a whole batch atomically with the same rules: a job whose
key or result already exists is skipped, so a job queued or running is never queued twice. The job
payload is made by arq's own `serialize_job`, so arq's worker runs these jobs like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import asyncpg
from arq.connections import ArqRedis
from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

from hotline import db

log = logging.getLogger(__name__)

PROCESS_CASE = "process_case"
SEND_MESSAGE = "send_message"

# KEYS[1] = queue; ARGV = job_key_prefix, result_key_prefix, score, expires_ms, then id, payload pairs.
_ENQUEUE_MANY = """
local added = 0
for i = 5, #ARGV, 2 do
  local id = ARGV[i]
  local job_key = ARGV[1] .. id
  if redis.call('EXISTS', job_key, ARGV[2] .. id) == 0 then
    redis.call('PSETEX', job_key, ARGV[4], ARGV[i + 1])
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    added = added + 1
  end
end
return added
"""


def process_job_id(case_id: int) -> str:
    return f"process:{case_id}"


def send_job_id(message_id: int) -> str:
    return f"send:{message_id}"


async def enqueue_many(redis: ArqRedis, queue: str, jobs: Iterable[tuple[str, str, dict]]) -> int:
    """Enqueue (job id, function, kwargs) jobs in one round trip; return how many were new."""
    now = timestamp_ms()
    argv: list[object] = [job_key_prefix, result_key_prefix, now, expires_extra_ms]
    for job_id, function, kwargs in jobs:
        argv += [job_id, serialize_job(function, (), kwargs, None, now)]
    if len(argv) == 4:
        return 0
    return int(await redis.eval(_ENQUEUE_MANY, 1, queue or default_queue_name, *argv))


async def enqueue_processing(redis: ArqRedis, queue: str, *case_ids: int) -> int:
    return await enqueue_many(redis, queue, [(process_job_id(i), PROCESS_CASE, {"case_id": i}) for i in case_ids])


async def enqueue_send(redis: ArqRedis, queue: str, *message_ids: int) -> int:
    return await enqueue_many(redis, queue, [(send_job_id(i), SEND_MESSAGE, {"message_id": i}) for i in message_ids])


WORK_CHANNEL = "hotline_work"  # PostgreSQL LISTEN/NOTIFY channel; the payload says which loop to wake


class WorkSignals:
    """The `kernel.jobs.Jobs` interface: wake the workers' processing and sending loops.

    The work itself is the rows callers have already committed (cases not yet processed, queued
    outbox messages); this only shortens the wait. In "background" mode the wake-ups of many requests
    are coalesced and sent right after the responses, one NOTIFY per loop per batch; in "inline" mode
    the call sends it at once. A failure is logged and swallowed: workers also poll, so a lost
    wake-up delays the work by at most a poll interval and loses nothing.
    """

    def __init__(self, pool: asyncpg.Pool, *, background: bool = True) -> None:
        self.pool = pool
        self.background = background
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.background:
            self._task = asyncio.create_task(self._run(), name="work-signals")

    async def process(self, *case_ids: int) -> None:
        if case_ids:
            await self._signal("process")

    async def send(self, *message_ids: int) -> None:
        if message_ids:
            await self._signal("send")

    async def _signal(self, what: str) -> None:
        self._pending.add(what)
        if self._task is not None:
            self._wake.set()
        else:
            await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, set()
        if not pending:
            return
        try:
            async with self.pool.acquire(timeout=5) as conn:
                for what in sorted(pending):
                    await db.notify(conn, WORK_CHANNEL, what)
        except Exception as e:  # a wake-up is best effort: it must never fail the request that stored the work
            log.warning("could not wake the workers (%s); they will find the work when they poll",
                        type(e).__name__)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
