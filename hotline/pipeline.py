"""The processing pipeline (classify → geocode → route → acknowledge) and the outbox, on work queues in PostgreSQL.

Cases waiting to be processed and queued outbox messages are rows already; workers claim them in
batches with FOR UPDATE SKIP LOCKED, so any number of workers share the work, a claim dies with the
worker that held it (its connection drops, its locks go), and there is no second store whose loss
could strand a report. A batch is one classifier call, one spaCy pipe, one transaction with a
savepoint per case (one case's failure does not undo the others), and one wake-up for the senders.
Acknowledgements and replies are sent by their own loop, so they never wait behind processing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from casework import actions, assignment, codes, ratings, store
from casework.models import SYSTEM, Status
from channels.base import MediaSource, OutboundMessage, PermanentSendError, SendError
from hotline.services import Services
from integrations.procedures import suggest_for_case
from kernel import metrics
from routing import CaseFacts, Router
from routing.duplicates import find_duplicate

log = logging.getLogger(__name__)

ACK_TEXT = {
    "vi": "Đường dây nóng 1022 đã tiếp nhận phản ánh của bạn. Mã hồ sơ: {code}. Tra cứu tại {url}",
    "en": "The 1022 hotline has received your report. Case code: {code}. Follow it at {url}",
}


DUPLICATE_TEXT = {
    "vi": "Sự việc này đã được phản ánh trong hồ sơ {parent}; bạn sẽ nhận được kết quả xử lý của hồ sơ đó.",
    "en": "This has already been reported as case {parent}; you will receive its answer.",
}


def _backoff(attempt: int) -> int:
    return min(5 * 2 ** (attempt - 1), 300)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing one case committed, and what is left to do after the commit."""

    status: str  # processed | gave_up | retry | already_processed | missing | busy
    send_ids: tuple[int, ...] = ()
    department: str | None = None
    created_at: datetime | None = None


@dataclass(slots=True)
class _Prepared:
    """The CPU half of processing one case, done for the whole batch before any write."""

    case: asyncpg.Record
    result: Any = None  # a Classification, or None without a model
    entities: dict[str, Any] = field(default_factory=dict)
    address: str | None = None
    geo: Any = None
    error: Exception | None = None


class _CaseFailed(Exception):
    """A case of a batch processed without savepoints failed: the batch is done again, carefully."""


async def process_pending(services: Services, *, limit: int | None = None) -> list[Outcome]:
    """Claim up to `limit` waiting cases and process them as one batch; safe with any number of workers.

    The batch first runs without savepoints (fewer round trips); if one of its cases fails, the
    transaction is rolled back and the batch runs again with a savepoint per case, so the failure
    is recorded on that case alone. The CPU half is not repeated.
    """
    limit = limit or services.settings.process_batch_size
    started = time.perf_counter()
    router = await services.current_router()
    prepared: dict[int, _Prepared] = {}
    async with services.pool.acquire() as conn:
        try:
            async with conn.transaction():
                rows = await store.claim_unprocessed(conn, limit, services.clock())
                outcomes = await _process_rows(services, conn, rows, router, prepared, careful=False)
        except _CaseFailed:
            async with conn.transaction():
                rows = await store.claim_unprocessed(conn, limit, services.clock())
                outcomes = await _process_rows(services, conn, rows, router, prepared, careful=True)
    if outcomes:
        metrics.JOB_SECONDS.labels("process_batch").observe(time.perf_counter() - started)
    await _after_commit(services, outcomes)
    return outcomes


async def process_case(ctx: dict[str, Any], *, case_id: int) -> str:
    """Process one case now, whatever its back-off; safe to run twice (the second run changes nothing)."""
    services: Services = ctx["services"]
    router = await services.current_router()
    async with services.pool.acquire() as conn, conn.transaction():
        row = await store.claim_case(conn, case_id)
        if row is None:
            case = await store.get_case(conn, case_id)
            if case is None:
                return "missing"
            return "already_processed" if case["processed_at"] is not None else "busy"
        outcomes = await _process_rows(services, conn, [row], router, {}, careful=True)
    await _after_commit(services, outcomes)
    return outcomes[0].status


async def _process_rows(services: Services, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record],
                        router: Router, prepared: dict[int, _Prepared], *, careful: bool) -> list[Outcome]:
    """Process claimed cases in order; `careful` puts each in a savepoint and records failures on the case."""
    fresh = [r for r in rows if r["id"] not in prepared]
    for item in _prepare(services, fresh):
        prepared[item.case["id"]] = item
    outcomes = []
    for row in rows:
        item = prepared[row["id"]]
        item.case = row  # as claimed now (a careful rerun reads the rows again)
        if not careful:
            if item.error is not None:
                raise _CaseFailed
            try:
                outcomes.append(await _apply(services, conn, item, router))
            except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
                raise
            except Exception as e:
                raise _CaseFailed from e
            continue
        try:
            if item.error is not None:
                raise item.error
            async with conn.transaction():  # a savepoint: one case's failure keeps the others
                outcomes.append(await _apply(services, conn, item, router))
        except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
            raise  # the connection is gone: the whole batch goes back to the queue
        except Exception as e:
            metrics.JOB_FAILURES.labels("process_case").inc()
            outcomes.append(await _failed(services, conn, item.case, e))
    return outcomes


def _prepare(services: Services, rows: Sequence[asyncpg.Record]) -> list[_Prepared]:
    """Classify all texts in one call (one by one only if the batch call fails), then geocode each."""
    texts = [r["description"] for r in rows]
    try:
        results: list[Any] = list(services.classifier.classify_many(texts))
    except Exception:
        results = []
        for text in texts:
            try:
                results.append(services.classifier.classify(text))
            except Exception as e:  # this text alone fails; the case is retried later
                results.append(e)
    prepared = []
    for case, result in zip(rows, results, strict=True):
        if isinstance(result, Exception):
            prepared.append(_Prepared(case, error=result))
            continue
        try:
            entities = _checked_entities(result.entities if result else {})
            address = case["address"] or entities.get("address_text")
            geo = services.geocoder.geocode(address, case["lat"], case["lon"])
            prepared.append(_Prepared(case, result, entities, address, geo))
        except Exception as e:
            prepared.append(_Prepared(case, error=e))
    return prepared


async def _apply(services: Services, conn: asyncpg.Connection, prepared: _Prepared, router: Router) -> Outcome:
    """Write one case's classification, place, route and acknowledgement (inside the caller's savepoint)."""
    case, result, entities, address, geo = (prepared.case, prepared.result, prepared.entities, prepared.address,
                                            prepared.geo)
    case_id = case["id"]
    ward = geo.ward_code if geo else None
    field = result.field if result else None
    decision = None
    duplicate = None
    if result is not None and field != "other":
        # Only a point the citizen gave counts for distance; a ward's label point would make every
        # report in the ward look like the same place, so without one the ward is compared instead.
        # The batch's own connection: earlier cases of this batch are candidates too.
        duplicate = await find_duplicate(
            conn, case_id=case_id, field=field, lat=case["lat"], lon=case["lon"], ward_code=ward,
            text=case["description"], opened_at=case["created_at"])
    if duplicate is None and result is not None and field != "other":
        decision = router.route(
            CaseFacts(field=field, ward_code=ward, urgent=result.urgent, channel=case["channel"],
                      text=case["description"], opened_at=case["created_at"])
        )
    suggestions = None
    if field == "admin_procedures":
        # Agents see the likely procedures (documents, time, fees, where to apply) next to the question.
        suggestions = await suggest_for_case(conn, case["description"])

    now = services.clock()
    events: list[store.Event] = []
    values: dict[str, Any] = {"processed_at": now, "process_error": None, "process_after": None}
    if result is not None:
        values.update(
            field=result.field, confidence=result.confidence, urgent=result.urgent,
            language=result.language, classifier_version=result.model_version, entities=entities,
        )
        if not case["address"] and address:
            values["address"] = address
        if suggestions:
            values["procedure_suggestions"] = suggestions
        events.append(store.Event(
            case_id, SYSTEM, "classified",
            changes={"field": result.field, "confidence": round(result.confidence, 4),
                     "urgent": result.urgent, "model": result.model_version,
                     "alternatives": [list(a) for a in result.alternatives],
                     # Other fields the message names (several problems): kept on the case, not routed.
                     "also": list(result.also)},
        ))
    if geo is not None:
        values.update(ward_code=geo.ward_code, geocode_confidence=geo.confidence)
        if case["lat"] is None and geo.lat is not None:
            values.update(lat=geo.lat, lon=geo.lon)
        events.append(store.Event(case_id, SYSTEM, "geocoded", changes={
            "ward_code": geo.ward_code, "ward_name": geo.ward_name, "confidence": geo.confidence,
            "old_ward": getattr(geo, "old_ward", None), "old_district": getattr(geo, "old_district", None),
            "candidates": [list(c) if isinstance(c, tuple) else c for c in getattr(geo, "candidates", ())],
        }))
    if case["status"] == Status.RECEIVED:
        if duplicate is not None:
            values.update(status=Status.DUPLICATE.value, duplicate_of=duplicate.parent_id,
                          duplicate_score=duplicate.score)
            target, reason = Status.DUPLICATE, duplicate.explanation_vi
            events.append(store.Event(
                case_id, SYSTEM, "duplicate_detected",
                changes={"duplicate_of": duplicate.parent_id, "score": round(duplicate.score, 3),
                         "similarity": round(duplicate.similarity, 3), "distance_m": duplicate.distance_m},
                reason=duplicate.explanation_vi))
        elif decision is not None:
            values.update(status=Status.FORWARDED.value, department=decision.department,
                          routing_reason=decision.reason_vi, routing_reason_en=decision.reason_en,
                          due_at=decision.due_at, deadline_reason=decision.deadline_reason,
                          deadline_reason_en=decision.deadline_reason_en, priority=decision.priority,
                          sla_policy_id=decision.policy_id, forwarded_at=now)
            target, reason = Status.FORWARDED, decision.reason_vi
            events.append(store.Event(
                case_id, SYSTEM, "routed",
                changes={"department": decision.department, "rule": decision.rule_id,
                         "due_at": decision.due_at.isoformat() if decision.due_at else None,
                         "deadline": decision.deadline_reason, "deadline_en": decision.deadline_reason_en,
                         "reason_en": decision.reason_en},
                reason=decision.reason_vi,
            ))
        else:
            values["status"] = Status.TRIAGE.value
            target, reason = Status.TRIAGE, _triage_reason(result, field)
        events.append(store.Event(case_id, SYSTEM, "status", from_status=Status.RECEIVED, to_status=target,
                                  reason=reason, public=True))
    # (A case staff moved before it was processed keeps their decision: only its facts are written.)
    await store.update_case(conn, case_id, values)
    await store.insert_events(conn, events)
    parent_code = None
    if duplicate is not None:
        parent = await store.get_case(conn, duplicate.parent_id)
        parent_code = parent["tracking_code"] if parent is not None else None
    citizen_id = await store.link_citizen(conn, case_id)
    ack_id = await _acknowledge(conn, services, {**dict(case), "citizen_id": citizen_id},
                                duplicate_of_code=parent_code)
    return Outcome("processed", (ack_id,) if ack_id is not None else (),
                   decision.department if decision is not None else None, case["created_at"])


async def _failed(services: Services, conn: asyncpg.Connection, case: asyncpg.Record, error: Exception) -> Outcome:
    """Count a failed try; after the last one hand the case to people, acknowledged all the same."""
    attempts = case["process_attempts"] + 1
    retry_at = services.clock() + timedelta(seconds=_backoff(attempts))
    await store.record_process_failure(conn, case["id"], f"{type(error).__name__}: {error}"[:500], retry_at)
    if attempts >= services.settings.job_max_tries:
        async with conn.transaction():
            return await _give_up(services, conn, case, error)
    log.warning("case %s: processing failed (attempt %s): %s", case["id"], attempts, type(error).__name__)
    return Outcome("retry")


async def _after_commit(services: Services, outcomes: Sequence[Outcome]) -> None:
    """Follow-ups of committed cases; each failure is logged, none undoes or fails the processing."""
    now = services.clock()
    departments: set[str | None] = set()
    send_ids: list[int] = []
    for outcome in outcomes:
        if outcome.created_at is not None:
            metrics.PROCESS_LAG.observe((now - outcome.created_at).total_seconds())
        if outcome.status == "processed":
            departments.add(outcome.department)
        send_ids.extend(outcome.send_ids)
    for unit in departments:
        try:
            await assignment.backfill(services.pool, unit)
        except Exception as e:  # the next presence change or processed case retries it
            log.warning("assignment backfill after processing failed: %s", type(e).__name__)
    await services.jobs.send(*send_ids)


async def _link_and_acknowledge(conn: asyncpg.Connection, services: Services, case_id: int) -> int | None:
    """Recognise the citizen behind the report's phone, email or chat id, then acknowledge the case."""
    citizen_id = await store.link_citizen(conn, case_id)
    case = await store.get_case(conn, case_id)
    return await _acknowledge(conn, services, {**dict(case), "citizen_id": citizen_id})


async def _acknowledge(conn: asyncpg.Connection, services: Services, case: dict[str, Any], *,
                       duplicate_of_code: str | None = None) -> int | None:
    """Queue the acknowledgement with the case code, once per case, where the (recognised) citizen is reached.

    Nothing for a case that must not be answered (an auto-reply, a mailer daemon: answering could loop).
    """
    if not case["acknowledge"]:
        return None
    locale = case["locale"]
    text = ACK_TEXT.get(locale, ACK_TEXT["vi"]).format(
        code=codes.display(case["tracking_code"]),
        url=f"{services.settings.public_url}/track/{case['tracking_code']}",
    )
    if duplicate_of_code is not None:
        text += " " + DUPLICATE_TEXT.get(locale, DUPLICATE_TEXT["vi"]).format(
            parent=codes.display(duplicate_of_code))
    return await actions.queue_outbound(conn, case, kind="ack", key=f"ack:{case['id']}", author_id=None, text=text)


def _checked_entities(entities: dict[str, Any]) -> dict[str, Any]:
    """Keep only case codes whose check digit is right: the classifier finds candidates, casework knows codes."""
    if entities.get("case_codes"):
        entities = {**entities, "case_codes": [c for c in entities["case_codes"] if codes.normalise(c)]}
    return entities


def _triage_reason(result, field: str | None) -> str:
    if result is None:
        return "no trained classifier: a person classifies and routes this case"
    if field == "other":
        return f"classifier unsure (confidence {result.confidence:.2f}): a person classifies this case"
    return f"no routing rule for field {field}: a person routes this case"


async def _give_up(services: Services, conn: asyncpg.Connection, case: asyncpg.Record,
                   error: Exception) -> Outcome:
    """After the last try, hand the case to people rather than leave it in limbo.

    The citizen is still recognised and acknowledged: their report is in, whoever classifies it.
    """
    case_id = case["id"]
    received = case["status"] == Status.RECEIVED
    await store.update_case(conn, case_id, {"processed_at": services.clock(), "process_after": None,
                                            **({"status": Status.TRIAGE.value} if received else {})})
    if received:
        await store.insert_event(
            conn, case_id, SYSTEM, "status", from_status=Status.RECEIVED, to_status=Status.TRIAGE,
            reason=f"automatic processing failed ({type(error).__name__}): a person takes over", public=True,
        )
    ack_id = await _link_and_acknowledge(conn, services, case_id)
    log.error("case %s: processing failed for good; sent to triage", case_id)
    return Outcome("gave_up", (ack_id,) if ack_id is not None else (), None, case["created_at"])


async def send_pending(services: Services, *, limit: int | None = None) -> int:
    """Claim up to `limit` queued messages whose time has come and deliver them concurrently."""
    settings = services.settings
    async with services.pool.acquire() as conn:
        rows = await store.claim_outbound_batch(conn, limit or settings.send_batch_size, services.clock())
    if rows:
        gate = asyncio.Semaphore(settings.send_concurrency)

        async def one(row: asyncpg.Record) -> str:
            async with gate:
                return await _deliver(services, row)

        await asyncio.gather(*(one(row) for row in rows))
    return len(rows)


async def send_message(ctx: dict[str, Any], *, message_id: int) -> str:
    """Deliver one queued outbox message now, whatever its back-off; never while another worker has it."""
    services: Services = ctx["services"]
    async with services.pool.acquire() as conn:
        row = await store.claim_outbound(conn, message_id)
    if row is None:
        return "not_queued"
    return await _deliver(services, row)


async def _deliver(services: Services, row: asyncpg.Record) -> str:
    """Send one claimed message through its channel's adapter and record how it went.

    At least once, not exactly once: if the worker dies after the provider took the message and
    before the commit below, the message stays `sending` and goes back to the queue after the send
    timeout. The window is one provider call; providers that accept an idempotency key get the
    message's own.
    """
    message_id = row["id"]
    started = time.perf_counter()
    try:
        adapter = services.adapters.get(row["channel"])
        if adapter is None:
            await _fail_delivery(services, row, f"no adapter for channel {row['channel']}")
            log.error("message %s: no adapter for channel %s", message_id, row["channel"])
            return "failed"
        if row["opted_out"]:
            # The citizen said STOP on this channel: nothing more goes to them until they say START.
            await _fail_delivery(services, row, "opted_out: the recipient asked for no more messages (STOP)")
            return "failed"
        try:
            receipt = await asyncio.wait_for(adapter.send(OutboundMessage(
                message_id=message_id, channel=row["channel"], recipient=row["recipient"], text=row["text"],
                case_code=row["tracking_code"], locale=row["locale"] or "vi", kind=row["kind"],
                case_status=row["case_status"], thread_refs=tuple(row["thread_refs"] or ()),
                rating_url=await ratings.rating_url(
                    services.pool, case_id=row["case_id"], code=row["tracking_code"], kind=row["kind"],
                    case_status=row["case_status"], key=services.settings.signing_key,
                    base_url=services.settings.public_url),
            )), services.settings.send_timeout_seconds)
        except PermanentSendError as e:
            metrics.JOB_FAILURES.labels("send_message").inc()
            await _fail_delivery(services, row, _send_error(e))
            log.warning("message %s: refused for good by the provider (%s)", message_id, e.provider_code)
            return "failed"
        except Exception as e:  # anything else may pass: a busy or unreachable provider, a timeout
            metrics.JOB_FAILURES.labels("send_message").inc()
            if row["attempts"] >= services.settings.job_max_tries:
                await _fail_delivery(services, row, _send_error(e))
                log.warning("message %s: send failed %s times; given up", message_id, row["attempts"])
                return "failed"
            delay = max(_backoff(row["attempts"]), int(getattr(e, "retry_after", None) or 0))
            async with services.pool.acquire() as conn:
                await store.finish_outbound(conn, message_id, status="queued", external_id=None,
                                            error=_send_error(e), retry_at=services.clock() + timedelta(seconds=delay))
            log.warning("message %s: send failed (attempt %s): %s; next try in %s s", message_id, row["attempts"],
                        type(e).__name__, delay)
            return "retry"
        async with services.pool.acquire() as conn:
            await store.finish_outbound(conn, message_id, status=receipt.status,
                                        external_id=receipt.provider_message_id, error=None,
                                        segments=receipt.segments)
        return receipt.status
    finally:
        metrics.JOB_SECONDS.labels("send_message").observe(time.perf_counter() - started)


def _send_error(e: Exception) -> str:
    if isinstance(e, SendError):
        return (f"{e.provider_code}: {e.reason}" if e.provider_code else e.reason)[:500]
    if isinstance(e, TimeoutError):
        return "timeout: the provider did not answer in time"
    return f"{type(e).__name__}: {e}"[:500]


async def _fail_delivery(services: Services, row, error: str) -> None:  # noqa: ANN001 - the claimed row
    """Mark a message failed and say so on its case's timeline, where staff will see it."""
    async with services.pool.acquire() as conn, conn.transaction():
        await store.finish_outbound(conn, row["id"], status="failed", external_id=None, error=error)
        await store.insert_event(conn, row["case_id"], SYSTEM, "delivery_failed",
                                 changes={"message_id": row["id"], "channel": row["channel"], "error": error})


async def fetch_media_pending(services: Services, *, limit: int = 20) -> int:
    """Fetch provider media (MMS pictures, call recordings) waiting in the queue; store each as an attachment.

    A fetch that fails for a while is retried with back-off and given up after `job_max_tries`, said
    so on the case's timeline. Returns how many were claimed.
    """
    if not any(isinstance(adapter, MediaSource) for adapter in services.adapters.values()):
        return 0  # no channel keeps media for us (the web form's photos come with the report): no query
    async with services.pool.acquire() as conn:
        rows = await store.claim_media(conn, limit, services.clock())
    for row in rows:
        await _fetch_one(services, row)
    return len(rows)


async def _fetch_one(services: Services, row: asyncpg.Record) -> None:
    adapter = services.adapters.get(row["channel"])
    try:
        if not isinstance(adapter, MediaSource):
            raise PermanentSendError(f"no media source for channel {row['channel']}")
        data, content_type = await asyncio.wait_for(adapter.fetch_media(row["url"]),
                                                    services.settings.send_timeout_seconds)
        if len(data) > services.settings.max_media_bytes:
            raise PermanentSendError(f"media larger than {services.settings.max_media_bytes} bytes")
    except Exception as e:
        permanent = isinstance(e, PermanentSendError) or row["attempts"] >= services.settings.job_max_tries
        error = _send_error(e)
        async with services.pool.acquire() as conn, conn.transaction():
            if permanent:
                await store.finish_media(conn, row["id"], status="failed", error=error)
                await store.insert_event(conn, row["case_id"], SYSTEM, "media_failed",
                                         changes={"message_id": row["message_id"], "error": error})
            else:
                await store.finish_media(conn, row["id"], status="queued", error=error,
                                         retry_at=services.clock() + timedelta(seconds=_backoff(row["attempts"])))
        log.warning("media %s: fetch failed (attempt %s): %s", row["id"], row["attempts"], type(e).__name__)
        return
    content_type = (content_type or row["content_type"] or "application/octet-stream").split(";")[0].strip()
    filename = f"media-{row['id']}{_EXTENSIONS.get(content_type, '')}"
    async with services.pool.acquire() as conn, conn.transaction():
        attachment_id = await store.store_media(conn, row["message_id"], filename, content_type,
                                                hashlib.sha256(data).hexdigest(), data)
        await store.finish_media(conn, row["id"], status="done", attachment_id=attachment_id)
        await store.insert_event(conn, row["case_id"], SYSTEM, "media_fetched", changes={
            "message_id": row["message_id"], "attachment_id": attachment_id, "content_type": content_type,
            "size": len(data)})


_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
               "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/mpeg": ".mp3", "audio/ogg": ".ogg",
               "audio/mp4": ".m4a", "video/mp4": ".mp4", "video/quicktime": ".mov",
               "application/pdf": ".pdf", "text/plain": ".txt"}


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Put messages stuck in `sending` (their worker died mid-send) back in the queue; count what waits.

    Cases and messages need no re-enqueueing: they are their own queue. This only repairs a claim
    a dead worker left behind, and reports the backlog.
    """
    services: Services = ctx["services"]
    async with services.pool.acquire() as conn:
        # A message claimed longer ago than a send may run was being sent by a worker that died;
        # the margin covers the commit after the provider call.
        reset = await store.reset_stuck_sends(conn, services.settings.send_timeout_seconds + 10)
        await store.reset_stuck_media(conn, services.settings.send_timeout_seconds + 10)
        waiting = await store.unprocessed_count(conn)
    metrics.QUEUE_DEPTH.set(waiting)
    if reset:
        metrics.SWEPT.labels("message").inc(len(reset))
        log.warning("sweeper put %s messages back in the queue", len(reset))
        await services.jobs.send(*reset)
    return {"waiting_cases": waiting, "messages": len(reset)}
