"""Satisfaction: a citizen rates each answer to their case, on the channel they used; "not solved" reopens it.

A case's answers are counted in `cases.answers` (a move into answered or closed from another status is
a new answer; answered → closed is the same one), and `case_ratings` keeps one rating per answer: a
second rating of the same answer replaces the first, and every rating is a `rated` event with the
answer's number. A rating always applies to the case's latest answer.

Who may rate: the sender of the case (SMS, chat: `actions.rate_answer`), the holder of a link we sent
with an answer (an HMAC of the case id and the answer's number with the server's secret), or, for a
report made on the web form, whoever has the code (it is the reporter's only key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from casework import store
from casework.models import CITIZEN, Status
from kernel.errors import BadRequest

# A citizen may say an answer did not solve their problem for this long after it came; later a
# "not solved" is recorded but does not reopen the case.
REOPEN_AFTER_ANSWER = timedelta(days=7)

RATED_STATUSES = (Status.ANSWERED, Status.CLOSED)
TOKEN_BYTES = 16  # 128 bits of HMAC-SHA256: 22 characters in a link
# A link from an earlier answer still lets its holder rate (the rating goes to the latest answer); only
# this many answers back are tried, so a token costs a bounded number of HMACs.
TOKEN_ANSWERS_BACK = 20


def sign(key: bytes, case_id: int, answer_no: int) -> str:
    """The token of a rating link for answer `answer_no` of a case."""
    digest = hmac.new(key, f"hotline-rating:{case_id}:{answer_no}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).rstrip(b"=").decode()


def verify(key: bytes, case_id: int, answers: int, token: str) -> bool:
    """Whether `token` is the link token of one of the case's answers (the latest ones)."""
    if not token.isascii() or len(token) != len(sign(key, 0, 0)):
        return False
    return any(hmac.compare_digest(sign(key, case_id, n), token)
               for n in range(max(1, answers - TOKEN_ANSWERS_BACK + 1), answers + 1))


def asks_rating(kind: str, case_status: str | None) -> bool:
    """Whether an outbound message answers its case, so it asks for a rating: a reply to an answered (or
    closed) case, or the notice that the case is closed."""
    return (kind == "reply" and case_status in RATED_STATUSES) or (kind == "notice" and case_status == Status.CLOSED)


def rating_path(code: str, token: str) -> str:
    return f"/track/{code}/rate?t={token}"


async def rating_url(pool: asyncpg.Pool, *, case_id: int, code: str | None, kind: str, case_status: str | None,
                     key: bytes, base_url: str) -> str | None:
    """The link to rate the answer an outbound message carries; None for a message that answers nothing."""
    if code is None or not asks_rating(kind, case_status):
        return None
    async with pool.acquire() as conn:
        answers = await store.answers_of(conn, case_id)
    if answers < 1:
        return None
    return base_url.rstrip("/") + rating_path(code, sign(key, case_id, answers))


def check(rating: int | None, solved: bool) -> None:
    """Refuse a rating that is not 1-5, or "solved" without a score (400)."""
    if rating is not None and not 1 <= rating <= 5:
        raise BadRequest({"field": "rating", "message": "1 to 5"})
    if solved and rating is None:
        raise BadRequest({"field": "rating", "message": "a score 1 to 5 when the problem is solved"})


async def record(conn: asyncpg.Connection, case: Any, *, rating: int | None, solved: bool, channel: str,
                 now: datetime) -> str:
    """Rate the latest answer of a case the caller locked; "not solved" within REOPEN_AFTER_ANSWER reopens it.

    Returns "rated", "reopened", "too_late" (recorded, not reopened) or "not_answered" (nothing stored).
    """
    check(rating, solved)
    status = Status(case["status"])
    if status not in RATED_STATUSES:
        return "not_answered"
    answer_no = max(case["answers"], 1)
    await store.save_rating(conn, case["id"], answer_no, rating, solved, channel, now)
    await store.insert_event(conn, case["id"], CITIZEN, "rated", public=False, changes={
        "rating": rating, "solved": solved, "channel": channel, "answer_no": answer_no})
    if solved:
        return "rated"
    answered_at = case["answered_at"] or case["resolved_at"]
    if answered_at is None or now - answered_at > REOPEN_AFTER_ANSWER:
        return "too_late"
    await store.update_case(conn, case["id"], {"status": Status.REOPENED.value, "resolved_at": None,
                                               "sla_state": "ok"})
    await store.insert_event(conn, case["id"], CITIZEN, "status", from_status=status, to_status=Status.REOPENED,
                             reason="the citizen says the answer did not solve the problem", public=True)
    return "reopened"


def may_rate(case: Any, key: bytes, token: str | None) -> bool:
    """A valid link token, or no token on a case reported on the web form (its code is the reporter's key)."""
    if token is not None:
        return verify(key, case["id"], case["answers"], token)
    return case["channel"] == "web"


async def rate_by_link(pool: asyncpg.Pool, code: str, *, key: bytes, token: str | None, rating: int | None,
                       solved: bool, now: datetime) -> str:
    """Rate from the status page: with a link's token, or by code alone for a web-form report.

    Returns what `record` returns, "not_found" or "forbidden" (a bad token; no token on another channel).
    """
    check(rating, solved)
    async with pool.acquire() as conn, conn.transaction():
        case = await store.case_to_rate(conn, code, lock=True)
        if case is None:
            return "not_found"
        if not may_rate(case, key, token):
            return "forbidden"
        return await record(conn, case, rating=rating, solved=solved, channel="web", now=now)


@dataclass(frozen=True, slots=True)
class RatingForm:
    """What the status page offers: whether to show the rating form, and whether "not solved" still reopens."""

    show: bool  # the case is answered or closed and the visitor may rate it
    allowed: bool  # the visitor may rate (a good token, or a web-form case)
    reopens: bool  # the latest answer is recent enough for "not solved" to reopen the case
    answer_no: int


async def rating_form(pool: asyncpg.Pool, code: str, *, key: bytes, token: str | None, now: datetime) -> RatingForm:
    """The rating form's state for the case with this (normalised) code; an unknown code shows nothing."""
    async with pool.acquire() as conn:
        case = await store.case_to_rate(conn, code)
    if case is None:
        return RatingForm(False, False, False, 0)
    allowed = may_rate(case, key, token)
    answered = case["status"] in RATED_STATUSES
    answered_at = case["answered_at"] or case["resolved_at"]
    reopens = answered_at is not None and now - answered_at <= REOPEN_AFTER_ANSWER
    return RatingForm(answered and allowed, allowed, answered and reopens, max(case["answers"], 1))
