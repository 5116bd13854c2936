"""Enqueueing jobs with stable ids, so a job already queued or running is not queued twice."""

from __future__ import annotations

from arq.connections import ArqRedis

PROCESS_CASE = "process_case"
SEND_MESSAGE = "send_message"


def process_job_id(case_id: int) -> str:
    return f"process:{case_id}"


def send_job_id(message_id: int) -> str:
    return f"send:{message_id}"


async def enqueue_processing(redis: ArqRedis, queue: str, case_id: int) -> bool:
    job = await redis.enqueue_job(PROCESS_CASE, case_id=case_id, _job_id=process_job_id(case_id), _queue_name=queue)
    return job is not None


async def enqueue_send(redis: ArqRedis, queue: str, message_id: int) -> bool:
    job = await redis.enqueue_job(SEND_MESSAGE, message_id=message_id, _job_id=send_job_id(message_id),
                                  _queue_name=queue)
    return job is not None
