"""Enqueueing arq jobs with stable ids: in one Redis round trip per batch, and off the request path.

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

from arq.connections import ArqRedis
from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.exceptions import RedisError

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


class QueueJobs:
    """The `kernel.jobs.Jobs` interface on arq: processing and sending requests, off the request path.

    Callers hand in ids of rows already committed. In "background" mode the ids are batched and
    enqueued right after the response, one Redis round trip per batch; in "inline" mode the call
    waits for Redis. Either way a Redis failure is logged and swallowed: the sweeper re-enqueues
    every case not processed and every message not sent, so nothing is lost and the caller never
    answers 500 for work it has already stored.
    """

    def __init__(self, redis: ArqRedis, queue: str, *, background: bool = True) -> None:
        self.redis = redis
        self.queue = queue
        self.background = background
        self._pending: list[tuple[str, str, dict]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.background:
            self._task = asyncio.create_task(self._run(), name="background-enqueuer")

    async def process(self, *case_ids: int) -> None:
        await self._submit([(process_job_id(i), PROCESS_CASE, {"case_id": i}) for i in case_ids])

    async def send(self, *message_ids: int) -> None:
        await self._submit([(send_job_id(i), SEND_MESSAGE, {"message_id": i}) for i in message_ids])

    async def _submit(self, jobs: list[tuple[str, str, dict]]) -> None:
        if not jobs:
            return
        if self.background and self._task is not None:
            self._pending.extend(jobs)
            self._wake.set()
            return
        await self._enqueue(jobs)

    async def flush(self) -> int:
        batch, self._pending = self._pending, []
        return await self._enqueue(batch)

    async def _enqueue(self, batch: list[tuple[str, str, dict]]) -> int:
        if not batch:
            return 0
        try:
            return await enqueue_many(self.redis, self.queue, batch)
        except (RedisError, OSError) as e:
            log.warning("%s jobs stored but not enqueued (%s); the sweeper will pick them up",
                        len(batch), type(e).__name__)
            return 0

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
