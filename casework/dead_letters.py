"""Dead letters: what kept failing and stopped after its last try, kept with its error, and its replay by an admin.

Three kinds: a case automatic processing gave up on (it went to triage, acknowledged, with the last
error in `process_error`), an outbox message that failed for good (`failed`, with a `delivery_failed`
event), and a queued job that ran out of tries (a `failed_jobs` row). Each replay is one transaction
that writes an event with the admin as actor; the caller wakes the workers after the commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg

from casework import store
from casework.models import Actor, Role, Status
from kernel.errors import Conflict, NotFound


class Kind(StrEnum):
    CASE = "case"
    MESSAGE = "message"
    JOB = "job"


# Replays are not decisions about a case: they do not count as "touched by people".
REPLAY_EVENTS = ("processing_replayed", "delivery_replayed", "job_replayed")
MAX_LIST = 500

# Enqueue (job id, function, kwargs) in the job queue; False when a job with that id is already there.
Enqueue = Callable[[str, str, dict[str, Any]], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    kind: Kind
    id: int
    case_id: int | None
    tracking_code: str | None
    tries: int
    error: str | None
    failed_at: datetime | None
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "id": self.id, "case_id": self.case_id,
                "tracking_code": self.tracking_code, "tries": self.tries, "error": self.error,
                "failed_at": self.failed_at, **self.detail}


def _refused(reason: str, vi: str, en: str, **extra: Any) -> Conflict:
    return Conflict({"reason": reason, "message": vi, "message_en": en, **extra}, code="replay_refused")


async def failed(pool: asyncpg.Pool, kind: Kind | None = None, *, limit: int = 100) -> list[DeadLetter]:
    """The dead letters of one kind, or of every kind, newest first within each kind."""
    limit = max(1, min(limit, MAX_LIST))
    out: list[DeadLetter] = []
    async with pool.acquire() as conn:
        if kind in (None, Kind.CASE):
            out += [DeadLetter(Kind.CASE, r["id"], r["case_id"], r["tracking_code"], r["tries"], r["error"],
                               r["failed_at"], {"status": r["status"]})
                    for r in await store.gave_up_cases(conn, limit)]
        if kind in (None, Kind.MESSAGE):
            out += [DeadLetter(Kind.MESSAGE, r["id"], r["case_id"], r["tracking_code"], r["tries"], r["error"],
                               r["failed_at"], {"channel": r["channel"], "message_kind": r["kind"]})
                    for r in await store.failed_messages(conn, limit)]
        if kind in (None, Kind.JOB):
            out += [DeadLetter(Kind.JOB, r["id"], _job_case(r["kwargs"]), None, r["tries"], r["error"],
                               r["failed_at"], {"job_id": r["job_id"], "function": r["function"],
                                                "kwargs": r["kwargs"]})
                    for r in await store.failed_jobs(conn, limit)]
    return out


def _job_case(kwargs: dict[str, Any]) -> int | None:
    value = kwargs.get("case_id")
    return value if isinstance(value, int) else None


async def record_failed_job(pool: asyncpg.Pool, *, job_id: str, function: str, kwargs: dict[str, Any], tries: int,
                            error: str, at: datetime) -> int:
    """Keep a queued job that ran out of tries, with its last error, until an admin replays it."""
    async with pool.acquire() as conn:
        return await store.insert_failed_job(conn, job_id=job_id, function=function, kwargs=kwargs, tries=tries,
                                             error=error[:500], failed_at=at)


async def replay_case(pool: asyncpg.Pool, case_id: int, actor: Actor) -> None:
    """Put a given-up case back in the processing queue, only while no person has touched it.

    Untouched means: still in triage, unassigned, and no staff event but earlier replays. Otherwise a
    person has taken it over and a rerun could undo their work: refused with 409 and the reason.
    """
    async with pool.acquire() as conn, conn.transaction():
        case = await store.get_case(conn, case_id, lock=True)
        if case is None:
            raise NotFound("no such case")
        if case["processed_at"] is None or case["process_error"] is None:
            raise _refused("not_given_up", "Hồ sơ này không nằm trong danh sách xử lý tự động thất bại.",
                           "automatic processing did not give up on this case", status=case["status"])
        if case["status"] != Status.TRIAGE:
            raise _refused("moved_by_people", "Hồ sơ đã được chuyển khỏi bước phân loại; không chạy lại.",
                           "the case has left triage: people are handling it", status=case["status"])
        if case["assignee"] is not None:
            raise _refused("assigned", "Hồ sơ đã được giao cho cán bộ; không chạy lại.",
                           "the case is assigned to a person", status=case["status"])
        if await store.staff_events(conn, case_id, ignoring=REPLAY_EVENTS):
            raise _refused("touched_by_people", "Cán bộ đã thao tác trên hồ sơ; không chạy lại.",
                           "staff have already worked on the case", status=case["status"])
        attempts = await store.case_process_attempts(conn, case_id)
        await store.update_case(conn, case_id, {
            "status": Status.RECEIVED.value, "processed_at": None, "process_error": None, "process_attempts": 0,
            "process_after": None,
        })
        await store.insert_event(
            conn, case_id, actor, "processing_replayed", from_status=Status.TRIAGE, to_status=Status.RECEIVED,
            changes={"previous_error": case["process_error"], "attempts": attempts},
            reason="replayed by an admin: classified and routed again",
        )


async def replay_message(pool: asyncpg.Pool, message_id: int, actor: Actor) -> None:
    """Queue a failed outbox message again from its first try."""
    async with pool.acquire() as conn, conn.transaction():
        row = await store.lock_outbound(conn, message_id)
        if row is None or row["direction"] != "out":
            raise NotFound("no such outbound message")
        if row["status"] != "failed":
            raise _refused("not_failed", "Tin nhắn này không ở trạng thái gửi thất bại.",
                           "the message has not failed", status=row["status"])
        await store.requeue_outbound(conn, message_id)
        if row["case_id"] is not None:
            await store.insert_event(conn, row["case_id"], actor, "delivery_replayed", changes={
                "message_id": message_id, "channel": row["channel"], "previous_error": row["error"],
                "attempts": row["attempts"]})


async def replay_job(pool: asyncpg.Pool, failed_id: int, actor: Actor, enqueue: Enqueue, now: datetime) -> None:
    """Queue a job that ran out of tries again, under its own job id, and mark it replayed."""
    async with pool.acquire() as conn, conn.transaction():
        row = await store.lock_failed_job(conn, failed_id)
        if row is None:
            raise NotFound("no such failed job")
        if row["replayed_at"] is not None:
            raise _refused("already_replayed", "Việc này đã được chạy lại.", "the job was replayed already")
        if not await enqueue(row["job_id"], row["function"], dict(row["kwargs"])):
            raise _refused("already_queued", "Việc này đang chờ trong hàng đợi.", "the job is in the queue already")
        await store.mark_job_replayed(conn, failed_id, now, actor.id)
        case_id = _job_case(row["kwargs"])
        message_id = row["kwargs"].get("message_id")
        if case_id is None and isinstance(message_id, int):
            case_id = await store.message_case_id(conn, message_id)
        if case_id is not None and await store.case_exists(conn, case_id):
            await store.insert_event(conn, case_id, actor, "job_replayed", changes={
                "failed_job": failed_id, "job_id": row["job_id"], "function": row["function"],
                "previous_error": row["error"]})


async def admin_actor(pool: asyncpg.Pool, username: str) -> Actor:
    """The admin a command-line replay is done as; NotFound unless `username` is an active admin."""
    async with pool.acquire() as conn:
        row = await store.active_admin(conn, username)
    if row is None:
        raise NotFound(f"{username} is not an active admin")
    return Actor(kind="staff", name=row["display_name"], id=row["id"], role=Role(row["role"]),
                 department=row["department"])
