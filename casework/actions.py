"""Use cases that change cases; each owns its transaction and writes the audit event with the change."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from casework import codes, conversation, ratings, store
from casework.intake import InboundEvent
from casework.models import CITIZEN, FIELDS, REASON_REQUIRED, SYSTEM, Actor, Role, Status, can_move
from kernel.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from kernel.text import clean, fold, jsonb_safe

log = logging.getLogger(__name__)


# Provider ids we drew ourselves (random UUIDs) cannot repeat, so intake skips the duplicate check.
FRESH_ID_PREFIX = "auto:"


@dataclass(frozen=True, slots=True)
class IntakeResult:
    case_id: int
    tracking_code: str
    message_id: int
    created: bool  # False: the same provider id was stored before; nothing new
    joined: bool = False  # a follow-up stored on an existing case (no new case to process)
    reopened: bool = False  # ... which moved it from answered back to reopened
    send_ids: tuple[int, ...] = ()  # outbox messages to send now (a follow-up's acknowledgement)
    reprocess: bool = False  # the follow-up moved the case's point: its processing runs again

    @property
    def new_case(self) -> bool:
        """A case was opened and waits for processing."""
        return self.created and not self.joined


async def record_inbound(pool: asyncpg.Pool, event: InboundEvent, *, now: datetime | None = None) -> IntakeResult:
    """Store an inbound item and open its case (or join it to its case); the same provider id twice changes nothing."""
    async with pool.acquire() as conn:
        return await record_inbound_on(conn, event, now=now)


async def record_inbound_on(conn: asyncpg.Connection, event: InboundEvent, *,
                            note: tuple[Actor, str] | None = None, now: datetime | None = None) -> IntakeResult:
    """record_inbound on the caller's connection, so a caller's transaction holds the case with what it adds.

    `note` is an internal note written with a new case, in the same transaction. Inside the caller's
    transaction each attempt is a savepoint, so drawing another tracking code still works. A channel
    with a reply window gets follow-ups joined to their case (see InboundEvent).
    """
    text = clean(event.text)
    # jsonb refuses NUL and lone surrogates, and PostgreSQL would log the JSON around them: a citizen's text.
    identities = jsonb_safe([{"kind": i.kind, "value": i.value} for i in (event.sender, *event.other_identities) if i])
    meta = jsonb_safe([
        {"filename": a.filename, "content_type": a.content_type, "size": len(a.data)} for a in event.attachments
    ])
    raw = jsonb_safe(event.raw)
    if event.reply_window is not None and event.sender is not None and not event.new_case:
        async with conn.transaction():
            joined = await _join_conversation(conn, event, text, identities, meta, raw, now or datetime.now(UTC))
        if joined is not None:
            return joined
    for _ in range(5):
        code = codes.new_code()
        try:
            atomic = (bool(event.attachments or event.remote_media) or note is not None or not event.acknowledge
                      or conn.is_in_transaction())
            async with _transaction_if(conn, atomic):
                row = await store.intake(
                    conn,
                    channel=event.channel,
                    provider_id=event.provider_message_id,
                    check_existing=not event.provider_message_id.startswith(FRESH_ID_PREFIX),
                    request_hash=event.request_hash,
                    text=text,
                    search_text=f"{code} {fold(text)} {fold(event.address or '')}",
                    sender=event.sender.value if event.sender else None,
                    identities=identities,
                    name=clean(event.display_name) if event.display_name else None,
                    locale=event.locale,
                    address=clean(event.address) if event.address else None,
                    lat=event.lat,
                    lon=event.lon,
                    raw=raw,
                    attachments_meta=meta,
                    code=code,
                )
                if row["created"] and event.attachments:
                    await store.insert_attachments(
                        conn,
                        row["message_id"],
                        [
                            (a.filename, a.content_type, len(a.data), hashlib.sha256(a.data).hexdigest(), a.data)
                            for a in event.attachments
                        ],
                    )
                if row["created"] and event.remote_media:
                    await store.queue_media(conn, row["message_id"], event.channel, list(event.remote_media))
                if row["created"] and not event.acknowledge:
                    await store.update_case(conn, row["case_id"], {"acknowledge": False})
                if row["created"] and note is not None:
                    await store.insert_event(conn, row["case_id"], note[0], "note", changes={"text": clean(note[1])})
        except asyncpg.UniqueViolationError as e:
            if e.constraint_name == "cases_tracking_code_key":
                continue  # one in hundreds of millions: draw another code
            raise
        if not row["created"] and event.request_hash and row["request_hash"] != event.request_hash:
            raise Unprocessable(
                "this Idempotency-Key was used with a different request", code="idempotency_key_reused"
            )
        if row["case_id"] is None:
            raise Conflict("message stored without a case", code="message_without_case")
        return IntakeResult(row["case_id"], row["tracking_code"], row["message_id"], row["created"])
    raise RuntimeError("could not draw a free tracking code")


async def _join_conversation(conn: asyncpg.Connection, event: InboundEvent, text: str, identities: Any, meta: Any,
                             raw: Any, now: datetime) -> IntakeResult | None:
    """Store a follow-up on the sender's case, or None when it belongs to none (it opens a case)."""
    assert event.sender is not None and event.reply_window is not None
    rated = await _rate_by_reply(conn, event, text, identities, meta, raw, now)
    if rated is not None:
        return rated
    quoted = ([event.case_code] if event.case_code else []) + codes.find_all(text)
    case_id = await store.case_referenced(conn, event.channel, list(event.thread_refs))
    if case_id is None:
        case_id = await store.case_quoted_by(conn, quoted, event.sender.kind, event.sender.value)
    if case_id is None and quoted:
        return None  # it names a case that is not the sender's (or no longer open): a case of its own
    if case_id is None and event.reply_window:  # a zero window (mail, a keyed addition) joins by reference only
        channels = conversation.reply_channels(event.channel)
        for channel in channels:
            case_id = await store.case_in_reply_window(conn, channel, event.sender.value, now - event.reply_window)
            if case_id is not None:
                break
    if case_id is None:
        return None
    reopen = conversation.says_unsolved(text)
    row = await store.intake_follow_up(
        conn, case_id=case_id, channel=event.channel, provider_id=event.provider_message_id, text=text,
        sender=event.sender.value, identities=identities,
        name=clean(event.display_name) if event.display_name else None,
        raw=raw, attachments_meta=meta, reopen=reopen, reopen_reason=conversation.REOPEN_REASON,
    )
    if not row["created"]:
        return IntakeResult(row["case_id"], row["tracking_code"], row["message_id"], False, joined=True)
    if event.attachments:
        await store.insert_attachments(conn, row["message_id"], [
            (a.filename, a.content_type, len(a.data), hashlib.sha256(a.data).hexdigest(), a.data)
            for a in event.attachments
        ])
    if event.remote_media:
        await store.queue_media(conn, row["message_id"], event.channel, list(event.remote_media))
    reprocess = False
    if event.lat is not None and event.lon is not None:
        reprocess = await store.locate_case(conn, case_id, event.lat, event.lon)
        await store.insert_event(conn, case_id, CITIZEN, "located", changes={
            "lat": event.lat, "lon": event.lon, "message_id": row["message_id"], "reprocess": reprocess})
    if not event.acknowledge:
        return IntakeResult(row["case_id"], row["tracking_code"], row["message_id"], True, joined=True,
                            reopened=row["reopened"], reprocess=reprocess)
    case = await store.get_case(conn, case_id)
    assert case is not None
    notice = await queue_outbound(
        conn, case, text=conversation.follow_up_text(case["locale"], row["tracking_code"], reopened=row["reopened"]),
        kind="notice", key=f"follow-up:{row['message_id']}", author_id=None,
        channel=conversation.outbound_channel(event.channel), recipient=event.sender.value)
    return IntakeResult(row["case_id"], row["tracking_code"], row["message_id"], True, joined=True,
                        reopened=row["reopened"], send_ids=(notice,) if notice is not None else (),
                        reprocess=reprocess)


async def _rate_by_reply(conn: asyncpg.Connection, event: InboundEvent, text: str, identities: Any, meta: Any,
                         raw: Any, now: datetime) -> IntakeResult | None:
    """A reply that is only a rating ("5", "0", "chưa giải quyết") to our answer of the last 7 days: stored on
    the case like any follow-up and recorded as the answer's rating; None when it is not one (a normal message)."""
    assert event.sender is not None
    if not conversation.rates_by_reply(event.channel) or event.attachments or event.remote_media:
        return None
    verdict = conversation.parse_rating(text)
    if verdict is None:
        return None
    channel = conversation.outbound_channel(event.channel)
    case = await store.case_answered_to(conn, channel, event.sender.value, now - ratings.REOPEN_AFTER_ANSWER)
    if case is None:
        return None
    row = await store.intake_follow_up(
        conn, case_id=case["id"], channel=event.channel, provider_id=event.provider_message_id, text=text,
        sender=event.sender.value, identities=identities,
        name=clean(event.display_name) if event.display_name else None,
        raw=raw, attachments_meta=meta, reopen=False, reopen_reason=conversation.REOPEN_REASON,
    )
    if not row["created"]:
        return IntakeResult(row["case_id"], row["tracking_code"], row["message_id"], False, joined=True)
    result = await ratings.record(conn, case, rating=verdict.score, solved=verdict.solved, channel=event.channel,
                                  now=now)
    thanks = None
    if event.acknowledge:
        thanks = await queue_outbound(
            conn, case, text=conversation.rated_text(case["locale"], case["tracking_code"], result), kind="ack",
            key=f"rated:{row['message_id']}", author_id=None, channel=channel, recipient=event.sender.value)
    return IntakeResult(row["case_id"], row["tracking_code"], row["message_id"], True, joined=True,
                        reopened=result == "reopened", send_ids=(thanks,) if thanks is not None else ())


@dataclass(frozen=True, slots=True)
class RequestKey:
    """A client's Idempotency-Key for a staff write, with a hash of what it asked for."""

    key: str
    request_hash: str


class _Replay(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result


async def _claim(conn: asyncpg.Connection, actor: Actor, request: RequestKey | None, action: str,
                 case_id: int) -> None:
    """Claim the request's key in this transaction; raise _Replay with the first result when it was used."""
    if request is None or actor.id is None:
        return
    earlier = await store.claim_request(conn, actor.id, request.key, action=action, case_id=case_id,
                                        request_hash=request.request_hash)
    if earlier is None:
        return
    if (earlier["action"], earlier["case_id"], earlier["request_hash"]) != (action, case_id, request.request_hash):
        raise Unprocessable("this Idempotency-Key was used with a different request", code="idempotency_key_reused")
    raise _Replay(earlier["result"])


async def _remember(conn: asyncpg.Connection, actor: Actor, request: RequestKey | None,
                    result: dict[str, Any]) -> None:
    if request is not None and actor.id is not None:
        await store.finish_request(conn, actor.id, request.key, result)


def _transaction_if(conn: asyncpg.Connection, needed: bool) -> contextlib.AbstractAsyncContextManager:
    # intake_message() is one statement, atomic on its own; photos add inserts that must share it.
    return conn.transaction() if needed else contextlib.nullcontext()


def _visible(case: asyncpg.Record, actor: Actor) -> bool:
    return not actor.is_department or case["department"] == actor.department


async def _locked_case(conn: asyncpg.Connection, case_id: int, actor: Actor) -> asyncpg.Record:
    case = await store.get_case(conn, case_id, lock=True)
    if case is None:
        raise NotFound("no such case")
    if not _visible(case, actor):
        raise Forbidden("this case belongs to another unit")
    return case


async def get_case(pool: asyncpg.Pool, case_id: int, actor: Actor) -> dict[str, Any]:
    """Return one case with its citizen, messages and events, as staff may see it."""
    async with pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
        if case is None:
            raise NotFound("no such case")
        if not _visible(case, actor):
            raise Forbidden("this case belongs to another unit")
        return {
            "case": case,
            "citizen": await store.citizen(conn, case["citizen_id"]),
            "messages": await store.case_messages(conn, case_id),
            "events": await store.case_events(conn, case_id),
        }


async def change_status(
    pool: asyncpg.Pool,
    case_id: int,
    target: Status,
    actor: Actor,
    *,
    reason: str | None = None,
    duplicate_of: int | None = None,
    duplicate_of_code: str | None = None,
    department: str | None = None,
    deadline: Deadline | None = None,
    request: RequestKey | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Move a case along its lifecycle, or refuse with 409 and change nothing; return the notices to send.

    A citizen who can be reached (SMS, chat, email) hears of the milestones: their case accepted by the
    unit, closed, or reopened. With a request key, a repeat of the same request changes nothing and
    succeeds. A duplicate names its parent by id (`duplicate_of`) or by tracking code (`duplicate_of_code`).
    """
    reason = clean(reason) if reason else None
    if target in REASON_REQUIRED and not reason:
        raise BadRequest({"field": "reason", "message": f"a reason is required to move a case to {target}"})
    if target is Status.RECEIVED:
        raise Conflict("a case cannot return to received", code="illegal_transition")
    if duplicate_of is not None and duplicate_of_code is not None:
        raise BadRequest({"field": "duplicate_of_code", "message": "give duplicate_of or duplicate_of_code, not both"})
    try:
        current, notices = await _change_status(pool, case_id, target, actor, reason=reason,
                                                duplicate_of=duplicate_of, duplicate_of_code=duplicate_of_code,
                                                department=department, deadline=deadline,
                                                request=request, now=now or datetime.now(UTC))
    except _Replay:
        return []
    log.info("case %s: %s -> %s by %s#%s", case_id, current, target, actor.kind, actor.id)
    return notices


async def _change_status(pool: asyncpg.Pool, case_id: int, target: Status, actor: Actor, *, reason: str | None,
                         duplicate_of: int | None, duplicate_of_code: str | None, department: str | None,
                         deadline: Deadline | None, request: RequestKey | None,
                         now: datetime) -> tuple[Status, list[int]]:
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked_case(conn, case_id, actor)
        await _claim(conn, actor, request, f"status:{target.value}", case_id)
        current = Status(case["status"])
        if not can_move(current, target):
            raise Conflict(f"{current} → {target} is not allowed", code="illegal_transition")
        if actor.is_department and target in (Status.FORWARDED, Status.DUPLICATE, Status.CLOSED):
            raise Forbidden("a department cannot make this move")
        values: dict[str, Any] = {"status": target.value}
        changes: dict[str, Any] = {}
        if target is Status.FORWARDED:
            unit = department or case["department"]
            if not unit:
                raise Unprocessable({"field": "department", "message": "forwarding needs a department"})
            if not await store.department_exists(conn, unit):
                raise Unprocessable({"field": "department", "message": "unknown department"})
            if unit != case["department"]:
                values["department"] = unit
                changes["department"] = [case["department"], unit]
            values.update(forwarded_at=now, accepted_at=None, assignee=None)
            if deadline is not None:
                values.update(due_at=deadline.due_at, deadline_reason=deadline.reason,
                              deadline_reason_en=deadline.reason_en, priority=deadline.priority)
                changes["due_at"] = [case["due_at"].isoformat() if case["due_at"] else None,
                                     deadline.due_at.isoformat()]
        if target is Status.IN_PROGRESS and current is Status.FORWARDED:
            values["accepted_at"] = now
        if target is Status.ANSWERED:
            values["resolved_at"] = now
        if target is Status.REOPENED:
            values.update(resolved_at=None, sla_state="ok")
        if target is Status.DUPLICATE:
            parent = await _parent_for(conn, case, duplicate_of, duplicate_of_code)
            values["duplicate_of"] = parent["id"]
            changes["duplicate_of"] = [case["duplicate_of"], parent["id"]]
            # Its own duplicates follow it to the parent: a parent is never itself a duplicate, so the
            # parent's final answer reaches every reporter of the incident.
            for child in await store.duplicates_of(conn, case_id):
                await store.update_case(conn, child["id"], {"duplicate_of": parent["id"]})
                await store.insert_event(conn, child["id"], actor, "updated",
                                         changes={"duplicate_of": [case_id, parent["id"]]},
                                         reason=f"its parent {case['tracking_code']} is a duplicate of "
                                                f"{parent['tracking_code']}")
        if current is Status.DUPLICATE and target is Status.REOPENED:
            values["duplicate_of"] = None
            changes["duplicate_of"] = [case["duplicate_of"], None]
        await store.update_case(conn, case_id, values)
        await store.insert_event(
            conn, case_id, actor, "status", from_status=current, to_status=target, changes=changes,
            reason=reason, public=True,
        )
        if target is Status.REJECTED:
            # A rejection hands the case back to the triage queue with the unit's reason.
            await store.update_case(conn, case_id, {"status": Status.TRIAGE.value, "department": None,
                                                    "forwarded_at": None, "accepted_at": None, "assignee": None})
            await store.insert_event(
                conn, case_id, SYSTEM, "status", from_status=Status.REJECTED, to_status=Status.TRIAGE,
                changes={"department": [case["department"], None]},
                reason=f"returned to triage: {reason}", public=False,
            )
        notices = []
        text = conversation.status_notice(case["locale"], case["tracking_code"], current, target, reason)
        if text is not None and conversation.reaches_citizen(case["channel"]):
            notice = await queue_outbound(conn, case, text=text, kind="notice", key=f"status:{uuid.uuid4()}",
                                          author_id=actor.id)
            if notice is not None:
                notices.append(notice)
        await _remember(conn, actor, request, {"status": target.value})
    return current, notices


async def _parent_for(conn: asyncpg.Connection, case: asyncpg.Record, duplicate_of: int | None,
                      duplicate_of_code: str | None) -> asyncpg.Record:
    """The case a duplicate links to, by id or tracking code; 422 naming the field for one it cannot link to."""
    field = "duplicate_of_code" if duplicate_of_code is not None else "duplicate_of"
    if duplicate_of_code is not None:
        code = codes.normalise(duplicate_of_code)
        parent = await store.get_case_by_code(conn, code) if code else None
        if parent is None:
            raise Unprocessable({"field": field, "message": "no case has this tracking code"})
    elif duplicate_of is None:
        raise Unprocessable({"field": field, "message": "name the case this one duplicates"})
    else:
        parent = await store.get_case(conn, duplicate_of)
        if parent is None:
            raise Unprocessable({"field": field, "message": "no such case"})
    if parent["id"] == case["id"]:
        raise Unprocessable({"field": field, "message": "a case cannot duplicate itself"})
    if parent["status"] == Status.DUPLICATE or parent["duplicate_of"] is not None:
        grand = await store.get_case(conn, parent["duplicate_of"]) if parent["duplicate_of"] else None
        where = f" {grand['tracking_code']}" if grand is not None else " its parent"
        raise Unprocessable({"field": field, "message": f"case {parent['tracking_code']} is itself a duplicate of"
                                                       f"{where}: link to that case instead",
                             "parent_code": grand["tracking_code"] if grand is not None else None})
    return parent


async def update_case(
    pool: asyncpg.Pool, case_id: int, actor: Actor, changes: dict[str, Any], *, reason: str | None = None
) -> None:
    """Set field, ward or department by hand; a field change is kept as a correction for retraining."""
    if actor.is_department:
        raise Forbidden("a department cannot reclassify a case")
    if "field" in changes and changes["field"] not in FIELDS:
        raise BadRequest({"field": "field", "message": "unknown field code"})
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked_case(conn, case_id, actor)
        if "department" in changes and changes["department"] is not None:
            if not await store.department_exists(conn, changes["department"]):
                raise Unprocessable({"field": "department", "message": "unknown department"})
        diff = {k: [case[k], v] for k, v in changes.items() if case[k] != v}
        if not diff:
            return
        values = dict(changes)
        if "field" in diff:
            values["confidence"] = None  # a person decided; no model confidence applies
        await store.update_case(conn, case_id, values)
        await store.insert_event(
            conn, case_id, actor, "field_corrected" if "field" in diff else "updated",
            changes=diff, reason=clean(reason) if reason else None,
        )


async def add_note(pool: asyncpg.Pool, case_id: int, actor: Actor, text: str, *,
                   request: RequestKey | None = None) -> None:
    """Add an internal note: staff only, never shown to the citizen; once per request key."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            await _locked_case(conn, case_id, actor)
            await _claim(conn, actor, request, "note", case_id)
            await store.insert_event(conn, case_id, actor, "note", changes={"text": clean(text)})
            await _remember(conn, actor, request, {})
    except _Replay:
        return


async def reply(pool: asyncpg.Pool, case_id: int, actor: Actor, text: str, *, final: bool = False,
                request: RequestKey | None = None, now: datetime | None = None) -> list[int]:
    """Queue a reply to the citizen on the channel they used; return the outbox message ids.

    A final answer also reaches every reporter of a case linked to this one as a duplicate. With a
    request key, a repeat (double click, a second tab, a retry after a timeout) queues nothing more
    and returns the first request's ids.
    """
    text = clean(text)
    now = now or datetime.now(UTC)
    try:
        async with pool.acquire() as conn, conn.transaction():
            case = await _locked_case(conn, case_id, actor)
            await _claim(conn, actor, request, "reply", case_id)
            sent = await _reply(conn, case, actor, text, final=final, now=now)
            await _remember(conn, actor, request, {"message_ids": sent})
    except _Replay as replay:
        return list(replay.result.get("message_ids", []))
    return sent


async def _reply(conn: asyncpg.Connection, case: asyncpg.Record, actor: Actor, text: str, *, final: bool,
                 now: datetime) -> list[int]:
    case_id = case["id"]
    current = Status(case["status"])
    if final and not can_move(current, Status.ANSWERED):
        raise Conflict(f"{current} → answered is not allowed", code="illegal_transition")
    message_id = await queue_outbound(conn, case, text=text, kind="reply", key=f"reply:{uuid.uuid4()}",
                                      author_id=actor.id)
    assert message_id is not None  # a fresh key is never taken
    await store.insert_event(conn, case_id, actor, "reply", changes={"message_id": message_id}, public=True)
    if case["first_response_at"] is None:
        await store.update_case(conn, case_id, {"first_response_at": now})
    sent = [message_id]
    if final:
        await store.update_case(conn, case_id, {"status": Status.ANSWERED.value, "resolved_at": now})
        await store.insert_event(
            conn, case_id, actor, "status", from_status=current, to_status=Status.ANSWERED, public=True
        )
        # Everyone who reported the same incident hears the answer, on their own channel.
        for child in await store.duplicates_of(conn, case_id):
            notice = await queue_outbound(conn, child, text=text, kind="notice",
                                          key=f"answer:{message_id}:{child['id']}", author_id=actor.id)
            await store.insert_event(conn, child["id"], actor, "reply",
                                     changes={"message_id": notice, "parent": case_id}, public=True,
                                     reason=f"answer to the incident {case['tracking_code']}")
            if notice is not None:
                sent.append(notice)
    return sent


# Identity kind used to reach a citizen on each channel.
CHANNEL_IDENTITY = {"sms": "phone", "voice": "phone", "email": "email", "telegram": "telegram", "web": "web"}


async def queue_outbound(
    conn: asyncpg.Connection, case: Any, *, text: str, kind: str, key: str, author_id: int | None,
    channel: str | None = None, recipient: str | None = None,
) -> int | None:
    """Put a message for the case's citizen in the outbox, on the channel the citizen used.

    A caller is answered by SMS (a call cannot be reached again); `channel` and `recipient` override
    where a follow-up came from.
    """
    channel = channel or conversation.outbound_channel(case["channel"])
    return await store.insert_outbound(
        conn, case_id=case["id"], citizen_id=case["citizen_id"], channel=channel, key=key,
        recipient_kind=CHANNEL_IDENTITY.get(channel, "web"), text=text, kind=kind, author_id=author_id,
        recipient=recipient,
    )


# What a provider's delivery report means for our status of a message (None: nothing changes).
_DELIVERY_STATES = {"sent": "sent", "delivered": "delivered", "read": "delivered", "undelivered": "failed",
                    "failed": "failed", "canceled": "failed"}


async def record_delivery_report(pool: asyncpg.Pool, channel: str, external_id: str, provider_status: str,
                                 error: str | None, *, now: datetime,
                                 message_id: int | None = None) -> asyncpg.Record | None:
    """Record a provider's report on an outbound message; a message that fails is said so on its case.

    None when no message has that provider id (a report for something we did not send). Reports
    may come in any order and more than once: a message never moves back (delivered stays delivered).
    """
    status = _DELIVERY_STATES.get(provider_status)
    async with pool.acquire() as conn, conn.transaction():
        row = await store.record_provider_status(conn, channel, external_id, provider_status=provider_status,
                                                 status=status, error=error, at=now, message_id=message_id)
        if row is not None and row["status"] == "failed" and row["previous"] != "failed":
            await store.insert_event(conn, row["case_id"], SYSTEM, "delivery_failed", changes={
                "message_id": row["id"], "channel": channel, "provider_status": provider_status, "error": error})
    return row


async def record_provider_event(pool: asyncpg.Pool, channel: str, provider_id: str, kind: str,
                                changes: dict[str, Any], *, media: list[tuple[str, str | None]] = ()) -> int | None:
    """Put a provider's event about an inbound item (a call's status, a recording) on its case's timeline.

    `provider_id` is the item's provider id (a call's CallSid); `media` are provider URLs to fetch and
    attach to the item's message. Returns the case id, None when no item has that id (nothing is written).
    """
    async with pool.acquire() as conn, conn.transaction():
        row = await store.inbound_message(conn, channel, provider_id)
        if row is None:
            return None
        await store.insert_event(conn, row["case_id"], SYSTEM, kind, changes=jsonb_safe(changes))
        if media:
            await store.queue_media(conn, row["id"], channel, list(media))
    return row["case_id"]


async def record_edit(pool: asyncpg.Pool, channel: str, provider_id: str, text: str, *,
                      now: datetime) -> int | None:
    """A citizen edited a message they sent (a chat edit): the new text replaces it, the old one is kept.

    The case's description follows an edit of its first message. Returns the case id; None when no
    message has that provider id or the text did not change.
    """
    text = clean(text)
    async with pool.acquire() as conn, conn.transaction():
        row = await store.record_edit(conn, channel, provider_id, text, fold(text), now)
        if row is None:
            return None
        await store.insert_event(conn, row["case_id"], CITIZEN, "message_edited", public=True,
                                 changes={"message_id": row["id"], "description": bool(row["first"])})
    return row["case_id"]


# A citizen may say an answer did not solve their problem for this long after it came.
REOPEN_AFTER_ANSWER = ratings.REOPEN_AFTER_ANSWER


async def rate_answer(pool: asyncpg.Pool, code: str, *, channel: str, sender_kind: str, sender: str,
                      rating: int | None, solved: bool, now: datetime) -> str:
    """A citizen rates the latest answer to their case (1-5) or says it is not solved; one rating per answer.

    "not solved" reopens an answered or closed case within REOPEN_AFTER_ANSWER of the answer. Returns
    "rated", "reopened", "too_late" (rated, not reopened), "not_answered" or "not_found" (no such
    case of this sender's: a code alone proves nothing).
    """
    ratings.check(rating, solved)
    async with pool.acquire() as conn, conn.transaction():
        case = await store.own_case_by_code(conn, code, sender_kind, sender)
        if case is None:
            return "not_found"
        return await ratings.record(conn, case, rating=rating, solved=solved, channel=channel, now=now)


async def set_opt_out(pool: asyncpg.Pool, channel: str, address: str, opted_out: bool) -> bool:
    """Record that an address said STOP (nothing more is sent to it on the channel) or START; True if it changed."""
    async with pool.acquire() as conn:
        return await store.set_opt_out(conn, channel, address, opted_out)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A deadline computed by routing, handed in by the caller (casework does not compute deadlines)."""

    due_at: datetime
    reason: str
    priority: str = "normal"
    reason_en: str | None = None  # None clears an English reason the old deadline had


async def transfer(pool: asyncpg.Pool, case_id: int, actor: Actor, department: str, reason: str,
                   deadline: Deadline | None = None, *, now: datetime | None = None) -> None:
    """Hand a forwarded or accepted case to another unit; it must be accepted again there."""
    reason = clean(reason or "")
    if not reason:
        raise BadRequest({"field": "reason", "message": "say why the case goes to another unit"})
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked_case(conn, case_id, actor)
        current = Status(case["status"])
        if current not in (Status.FORWARDED, Status.IN_PROGRESS):
            raise Conflict(f"a case in {current} cannot be transferred", code="illegal_transition")
        if department == case["department"]:
            raise Unprocessable({"field": "department", "message": "the case is already with this unit"})
        if not await store.department_exists(conn, department):
            raise Unprocessable({"field": "department", "message": "unknown department"})
        values: dict[str, Any] = {"department": department, "status": Status.FORWARDED.value,
                                  "forwarded_at": now or datetime.now(UTC), "accepted_at": None, "assignee": None}
        # Why the case is with this unit now: a person moved it, not the routing rules.
        names = await store.department_names(conn, [c for c in (case["department"], department) if c])
        before_vi, before_en = names.get(case["department"] or "", ("(chưa có đơn vị)", "(no unit)"))
        after_vi, after_en = names.get(department, (department, department))
        values.update(routing_reason=f"{actor.name} chuyển từ {before_vi} sang {after_vi}: {reason}",
                      routing_reason_en=f"{actor.name} transferred it from {before_en} to {after_en}: {reason}")
        if deadline is not None:
            values.update(due_at=deadline.due_at, deadline_reason=deadline.reason,
                          deadline_reason_en=deadline.reason_en)
        await store.update_case(conn, case_id, values)
        changes: dict[str, Any] = {"department": [case["department"], department]}
        if deadline is not None:  # the log says which deadline the new unit works to (the reports read it)
            changes["due_at"] = [case["due_at"].isoformat() if case["due_at"] else None, deadline.due_at.isoformat()]
        await store.insert_event(conn, case_id, actor, "transferred", from_status=current, to_status=Status.FORWARDED,
                                 changes=changes, reason=reason, public=True)


async def pause_clock(pool: asyncpg.Pool, case_id: int, actor: Actor, reason: str, *,
                      now: datetime | None = None) -> None:
    """Stop the case's clock while it waits for the citizen."""
    reason = clean(reason or "")
    if not reason:
        raise BadRequest({"field": "reason", "message": "say what the citizen must provide"})
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked_case(conn, case_id, actor)
        if case["clock_paused_at"] is not None:
            raise Conflict("the clock is already paused", code="already_paused")
        if Status(case["status"]) not in (Status.TRIAGE, Status.FORWARDED, Status.IN_PROGRESS, Status.REOPENED):
            raise Conflict(f"a case in {case['status']} has no running clock", code="illegal_transition")
        now = now or datetime.now(UTC)
        await store.start_pause(conn, case_id, now, reason)
        await store.update_case(conn, case_id, {"clock_paused_at": now})
        await store.insert_event(conn, case_id, actor, "clock_paused", reason=reason, public=True)


async def resume_clock(pool: asyncpg.Pool, case_id: int, actor: Actor, deadline_after: Any = None, *,
                       now: datetime | None = None) -> None:
    """Restart the clock; `deadline_after(pauses)` recomputes the deadline with the pause counted."""
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked_case(conn, case_id, actor)
        if case["clock_paused_at"] is None:
            raise Conflict("the clock is not paused", code="not_paused")
        # `now` was read before the row lock: a pause that started meanwhile must not end before it began.
        now = max(now or datetime.now(UTC), case["clock_paused_at"])
        await store.end_pause(conn, case_id, now)
        paused = (now - case["clock_paused_at"]).total_seconds()
        values: dict[str, Any] = {"clock_paused_at": None}
        changes: dict[str, Any] = {"paused_seconds": round(paused)}
        if deadline_after is not None:
            deadline = deadline_after(await store.pauses_of(conn, case_id))
            if deadline is not None:
                values.update(due_at=deadline.due_at, deadline_reason=deadline.reason,
                              deadline_reason_en=deadline.reason_en, sla_state="ok")
                changes["due_at"] = [case["due_at"].isoformat() if case["due_at"] else None,
                                     deadline.due_at.isoformat()]
        await store.update_case(conn, case_id, values)
        await store.bump_paused(conn, case_id, round(paused))
        await store.insert_event(conn, case_id, actor, "clock_resumed", changes=changes, public=True)


async def confirm_duplicate(pool: asyncpg.Pool, case_id: int, actor: Actor) -> None:
    """A person confirms an automatic duplicate link (undoing it is reopening the case)."""
    if actor.is_department:
        raise Forbidden("a department cannot confirm duplicate links")
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked_case(conn, case_id, actor)
        if case["status"] != Status.DUPLICATE or case["duplicate_of"] is None:
            raise Conflict("this case is not linked as a duplicate", code="not_a_duplicate")
        await store.insert_event(conn, case_id, actor, "duplicate_confirmed",
                                 changes={"duplicate_of": case["duplicate_of"]})


async def unlink_duplicate(pool: asyncpg.Pool, case_id: int, actor: Actor, reason: str, *,
                           department: str | None = None, deadline: Deadline | None = None,
                           request: RequestKey | None = None, now: datetime | None = None) -> list[int]:
    """A person says a case is not a duplicate after all: it leaves its parent and goes back to work.

    It moves duplicate → reopened, then to `department` (forwarded, with `deadline`) when the caller
    names a unit that exists, else to triage for an agent to forward. The citizen hears their case is
    open again. Returns the notices to send; with a request key a repeat changes nothing.
    """
    reason = clean(reason or "")
    if not reason:
        raise BadRequest({"field": "reason", "message": "say why the case is not a duplicate"})
    if actor.is_department:
        raise Forbidden("a department cannot unlink duplicates")
    now = now or datetime.now(UTC)
    try:
        async with pool.acquire() as conn, conn.transaction():
            case = await _locked_case(conn, case_id, actor)
            await _claim(conn, actor, request, "duplicate_unlink", case_id)
            if case["status"] != Status.DUPLICATE or case["duplicate_of"] is None:
                raise Conflict("this case is not linked as a duplicate", code="not_a_duplicate")
            await store.insert_event(conn, case_id, actor, "duplicate_unlinked",
                                     changes={"duplicate_of": [case["duplicate_of"], None]}, reason=reason)
            await store.update_case(conn, case_id, {"status": Status.REOPENED.value, "duplicate_of": None,
                                                    "duplicate_score": None, "resolved_at": None, "sla_state": "ok"})
            await store.insert_event(conn, case_id, actor, "status", from_status=Status.DUPLICATE,
                                     to_status=Status.REOPENED, reason=reason, public=True)
            unit = department if department and await store.department_exists(conn, department) else None
            if unit is not None:
                values: dict[str, Any] = {"status": Status.FORWARDED.value, "department": unit, "forwarded_at": now,
                                          "accepted_at": None, "assignee": None}
                changes: dict[str, Any] = {}
                if unit != case["department"]:
                    changes["department"] = [case["department"], unit]
                if deadline is not None:
                    values.update(due_at=deadline.due_at, deadline_reason=deadline.reason,
                                  deadline_reason_en=deadline.reason_en, priority=deadline.priority)
                    changes["due_at"] = [case["due_at"].isoformat() if case["due_at"] else None,
                                         deadline.due_at.isoformat()]
                await store.update_case(conn, case_id, values)
                await store.insert_event(conn, case_id, SYSTEM, "status", from_status=Status.REOPENED,
                                         to_status=Status.FORWARDED, changes=changes, public=True,
                                         reason="forwarded again once no longer a duplicate")
            else:
                await store.update_case(conn, case_id, {"status": Status.TRIAGE.value, "assignee": None})
                await store.insert_event(conn, case_id, SYSTEM, "status", from_status=Status.REOPENED,
                                         to_status=Status.TRIAGE, public=True,
                                         reason="back to triage once no longer a duplicate")
            notices = []
            text = conversation.status_notice(case["locale"], case["tracking_code"], Status.DUPLICATE,
                                              Status.REOPENED, reason)
            if text is not None and conversation.reaches_citizen(case["channel"]):
                notice = await queue_outbound(conn, case, text=text, kind="notice", key=f"status:{uuid.uuid4()}",
                                              author_id=actor.id)
                if notice is not None:
                    notices.append(notice)
            await _remember(conn, actor, request, {"status": Status.FORWARDED.value if unit else Status.TRIAGE.value})
    except _Replay:
        return []
    log.info("case %s: duplicate link removed by %s#%s, now %s", case_id, actor.kind, actor.id,
             "forwarded" if unit else "triage")
    return notices


def role_may_edit(actor: Actor) -> bool:
    return actor.role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
