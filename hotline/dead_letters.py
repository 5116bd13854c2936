"""Replaying a dead letter: the casework action, then the wake-up or the queued job that gets the work done.

One function for the admin API and for `hotline jobs replay`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import asyncpg
from arq.connections import ArqRedis

from casework import dead_letters
from casework.dead_letters import Kind
from hotline import queue
from kernel.actors import Actor
from kernel.errors import HotlineError
from kernel.jobs import Jobs

log = logging.getLogger(__name__)


class QueueUnavailable(HotlineError):
    code = "service_unavailable"
    http_status = 503


async def replay(pool: asyncpg.Pool, jobs: Jobs, redis: ArqRedis | None, queue_name: str, kind: Kind, item_id: int,
                 actor: Actor, now: datetime) -> None:
    """Replay one dead letter as `actor` (an admin): refused with 409 when it may not be, 404 when there is none."""
    if kind is Kind.CASE:
        await dead_letters.replay_case(pool, item_id, actor)
        await jobs.process(item_id)
    elif kind is Kind.MESSAGE:
        await dead_letters.replay_message(pool, item_id, actor)
        await jobs.send(item_id)
    else:
        if redis is None:
            raise QueueUnavailable("the job queue (Redis) is not configured")

        async def enqueue(job_id: str, function: str, kwargs: dict[str, Any]) -> bool:
            return await queue.enqueue_many(redis, queue_name, [(job_id, function, kwargs)]) == 1

        await dead_letters.replay_job(pool, item_id, actor, enqueue, now)
    log.info("dead letter %s %s replayed by staff %s", kind.value, item_id, actor.id)
