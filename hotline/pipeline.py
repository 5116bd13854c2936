"""The processing pipeline: classify → geocode → route → acknowledge, as idempotent arq jobs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arq import Retry

from casework import actions, assignment, codes, store
from casework.models import SYSTEM, Status
from channels.base import OutboundMessage, PermanentSendError, SendError
from hotline import queue
from hotline.services import Services
from integrations.procedures import suggest_for_case
from kernel import metrics
from routing import CaseFacts
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


async def process_case(ctx: dict[str, Any], *, case_id: int) -> str:
    """Classify, geocode and route a received case, then queue the acknowledgement; safe to run twice."""
    services: Services = ctx["services"]
    started = time.perf_counter()
    try:
        try:
            outcome = await _process(services, case_id)
        except Exception as e:
            metrics.JOB_FAILURES.labels("process_case").inc()
            async with services.pool.acquire() as conn:
                attempts = await store.bump_attempts(conn, case_id)
                await store.update_case(conn, case_id, {"process_error": f"{type(e).__name__}: {e}"[:500]})
            if attempts >= services.settings.job_max_tries:
                await _after_commit(services, await _give_up(services, case_id, e))
                return "gave_up"
            log.warning("case %s: processing failed (attempt %s): %s", case_id, attempts, type(e).__name__)
            raise Retry(defer=_backoff(attempts)) from e
        # The case is processed and committed: nothing from here on may mark it failed.
        await _after_commit(services, outcome)
        return outcome.status
    finally:
        metrics.JOB_SECONDS.labels("process_case").observe(time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing committed, and what is left to do after the commit."""

    status: str
    send_ids: tuple[int, ...] = ()
    department: str | None = None
    created_at: datetime | None = None


async def _after_commit(services: Services, outcome: Outcome) -> None:
    """Follow-ups of a committed case; each failure is logged, none undoes or fails the processing."""
    if outcome.created_at is not None:
        metrics.PROCESS_LAG.observe((services.clock() - outcome.created_at).total_seconds())
    if outcome.status == "processed":
        try:
            await assignment.backfill(services.pool, outcome.department)
        except Exception as e:  # the assignment cron and the next presence change retry it
            log.warning("assignment backfill after processing failed: %s", type(e).__name__)
    await services.jobs.send(*outcome.send_ids)


async def _process(services: Services, case_id: int) -> str:
    async with services.pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
    if case is None:
        log.warning("case %s: not found, nothing to process", case_id)
        return Outcome("missing")
    if case["processed_at"] is not None:
        return Outcome("already_processed")

    # CPU work happens outside any transaction.
    result = services.classifier.classify(case["description"])
    entities = _checked_entities(result.entities if result else {})
    address = case["address"] or entities.get("address_text")
    geo = services.geocoder.geocode(address, case["lat"], case["lon"])
    ward = geo.ward_code if geo else None
    field = result.field if result else None
    decision = None
    duplicate = None
    if result is not None and field != "other":
        # Only a point the citizen gave counts for distance; a ward's label point would make every
        # report in the ward look like the same place, so without one the ward is compared instead.
        duplicate = await find_duplicate(
            services.pool, case_id=case_id, field=field, lat=case["lat"], lon=case["lon"], ward_code=ward,
            text=case["description"], opened_at=case["created_at"])
    if duplicate is None and result is not None and field != "other":
        router = await services.current_router()
        decision = router.route(
            CaseFacts(field=field, ward_code=ward, urgent=result.urgent, channel=case["channel"],
                      text=case["description"], opened_at=case["created_at"])
        )

    suggestions = None
    if field == "admin_procedures":
        # Agents see the likely procedures (documents, time, fees, where to apply) next to the question.
        suggestions = await suggest_for_case(services.pool, case["description"])

    send_ids: list[int] = []
    async with services.pool.acquire() as conn, conn.transaction():
        case = await store.get_case(conn, case_id, lock=True)
        if case is None or case["processed_at"] is not None:
            return Outcome("already_processed")
        values: dict[str, Any] = {"processed_at": services.clock(), "process_error": None}
        if result is not None:
            values.update(
                field=result.field, confidence=result.confidence, urgent=result.urgent,
                language=result.language, classifier_version=result.model_version, entities=entities,
            )
            if not case["address"] and address:
                values["address"] = address
            if suggestions:
                values["procedure_suggestions"] = suggestions
            await store.insert_event(
                conn, case_id, SYSTEM, "classified",
                changes={"field": result.field, "confidence": round(result.confidence, 4),
                         "urgent": result.urgent, "model": result.model_version,
                         "alternatives": [list(a) for a in result.alternatives]},
            )
        if geo is not None:
            values.update(ward_code=geo.ward_code, geocode_confidence=geo.confidence)
            if case["lat"] is None and geo.lat is not None:
                values.update(lat=geo.lat, lon=geo.lon)
            await store.insert_event(conn, case_id, SYSTEM, "geocoded", changes={
                "ward_code": geo.ward_code, "ward_name": geo.ward_name, "confidence": geo.confidence,
                "old_ward": getattr(geo, "old_ward", None), "old_district": getattr(geo, "old_district", None),
                "candidates": [list(c) if isinstance(c, tuple) else c for c in getattr(geo, "candidates", ())],
            })
        if case["status"] == Status.RECEIVED:
            if duplicate is not None:
                values.update(status=Status.DUPLICATE.value, duplicate_of=duplicate.parent_id,
                              duplicate_score=duplicate.score)
                target, reason = Status.DUPLICATE, duplicate.explanation_vi
                await store.insert_event(
                    conn, case_id, SYSTEM, "duplicate_detected",
                    changes={"duplicate_of": duplicate.parent_id, "score": round(duplicate.score, 3),
                             "similarity": round(duplicate.similarity, 3), "distance_m": duplicate.distance_m},
                    reason=duplicate.explanation_vi)
            elif decision is not None:
                values.update(status=Status.FORWARDED.value, department=decision.department,
                              routing_reason=decision.reason, due_at=decision.due_at,
                              deadline_reason=decision.deadline_reason, priority=decision.priority,
                              sla_policy_id=decision.policy_id, forwarded_at=services.clock())
                target, reason = Status.FORWARDED, decision.reason
                await store.insert_event(
                    conn, case_id, SYSTEM, "routed",
                    changes={"department": decision.department, "rule": decision.rule_id,
                             "due_at": decision.due_at.isoformat() if decision.due_at else None,
                             "deadline": decision.deadline_reason},
                    reason=decision.reason,
                )
            else:
                values["status"] = Status.TRIAGE.value
                target, reason = Status.TRIAGE, _triage_reason(result, field)
            await store.update_case(conn, case_id, values)
            await store.insert_event(conn, case_id, SYSTEM, "status", from_status=Status.RECEIVED,
                                     to_status=target, reason=reason, public=True)
        else:
            # Staff moved the case before the job ran; keep their decision.
            await store.update_case(conn, case_id, values)
        parent_code = None
        if duplicate is not None:
            parent = await store.get_case(conn, duplicate.parent_id)
            parent_code = parent["tracking_code"] if parent is not None else None
        ack_id = await _link_and_acknowledge(conn, services, case_id, duplicate_of_code=parent_code)
        if ack_id is not None:
            send_ids.append(ack_id)
    return Outcome("processed", tuple(send_ids), decision.department if decision is not None else None,
                   case["created_at"])


async def _link_and_acknowledge(conn, services: Services, case_id: int, *,  # noqa: ANN001 - a connection
                                duplicate_of_code: str | None = None) -> int | None:
    """Recognise the citizen and queue the acknowledgement with the case code, once per case."""
    # Recognise the citizen behind the report's phone, email or chat id (one citizen across
    # channels) before the acknowledgement looks up where to send it.
    await store.link_citizen(conn, case_id)
    case = await store.get_case(conn, case_id)
    locale = case["locale"]
    text = ACK_TEXT.get(locale, ACK_TEXT["vi"]).format(
        code=codes.display(case["tracking_code"]),
        url=f"{services.settings.public_url}/track/{case['tracking_code']}",
    )
    if duplicate_of_code is not None:
        text += " " + DUPLICATE_TEXT.get(locale, DUPLICATE_TEXT["vi"]).format(
            parent=codes.display(duplicate_of_code))
    return await actions.queue_outbound(conn, case, kind="ack", key=f"ack:{case_id}", author_id=None, text=text)


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


async def _give_up(services: Services, case_id: int, error: Exception) -> Outcome:
    """After the last retry, hand the case to people rather than leave it in limbo.

    The citizen is still recognised and acknowledged: their report is in, whoever classifies it.
    """
    async with services.pool.acquire() as conn, conn.transaction():
        case = await store.get_case(conn, case_id, lock=True)
        if case is None or case["processed_at"] is not None:
            return Outcome("already_processed")
        await store.update_case(conn, case_id, {"processed_at": services.clock(), **(
            {"status": Status.TRIAGE.value} if case["status"] == Status.RECEIVED else {})})
        if case["status"] == Status.RECEIVED:
            await store.insert_event(
                conn, case_id, SYSTEM, "status", from_status=Status.RECEIVED, to_status=Status.TRIAGE,
                reason=f"automatic processing failed ({type(error).__name__}): a person takes over", public=True,
            )
        ack_id = await _link_and_acknowledge(conn, services, case_id)
    log.error("case %s: processing failed for good; sent to triage", case_id)
    return Outcome("gave_up", (ack_id,) if ack_id is not None else ())


async def send_message(ctx: dict[str, Any], *, message_id: int) -> str:
    """Deliver one outbox message through its channel's adapter.

    At least once, not exactly once: if the worker dies after the provider took the message and
    before the commit below, the sweeper hands the message out again after the send timeout. The
    window is one provider call; providers that accept an idempotency key get the message's own.
    """
    services: Services = ctx["services"]
    started = time.perf_counter()
    try:
        async with services.pool.acquire() as conn:
            row = await store.claim_outbound(conn, message_id)
        if row is None:
            return "not_queued"
        adapter = services.adapters.get(row["channel"])
        if adapter is None:
            await _fail_delivery(services, row, f"no adapter for channel {row['channel']}")
            log.error("message %s: no adapter for channel %s", message_id, row["channel"])
            return "failed"
        try:
            receipt = await adapter.send(OutboundMessage(
                message_id=message_id, channel=row["channel"], recipient=row["recipient"], text=row["text"],
                case_code=row["tracking_code"], locale=row["locale"] or "vi",
            ))
        except PermanentSendError as e:
            metrics.JOB_FAILURES.labels("send_message").inc()
            await _fail_delivery(services, row, _send_error(e))
            log.warning("message %s: refused for good by the provider (%s)", message_id, e.provider_code)
            return "failed"
        except Exception as e:  # anything else may pass: a busy or unreachable provider
            metrics.JOB_FAILURES.labels("send_message").inc()
            if row["attempts"] >= services.settings.job_max_tries:
                await _fail_delivery(services, row, _send_error(e))
                log.warning("message %s: send failed %s times; given up", message_id, row["attempts"])
                return "failed"
            async with services.pool.acquire() as conn:
                await store.finish_outbound(conn, message_id, status="queued", external_id=None,
                                            error=_send_error(e))
            log.warning("message %s: send failed (attempt %s): %s", message_id, row["attempts"], type(e).__name__)
            retry_after = getattr(e, "retry_after", None)
            raise Retry(defer=max(_backoff(row["attempts"]), int(retry_after or 0))) from e
        async with services.pool.acquire() as conn:
            await store.finish_outbound(conn, message_id, status=receipt.status,
                                        external_id=receipt.provider_message_id, error=None)
        return receipt.status
    finally:
        metrics.JOB_SECONDS.labels("send_message").observe(time.perf_counter() - started)


def _send_error(e: Exception) -> str:
    if isinstance(e, SendError):
        return (f"{e.provider_code}: {e.reason}" if e.provider_code else e.reason)[:500]
    return f"{type(e).__name__}: {e}"[:500]


async def _fail_delivery(services: Services, row, error: str) -> None:  # noqa: ANN001 - the claimed row
    """Mark a message failed and say so on its case's timeline, where staff will see it."""
    async with services.pool.acquire() as conn, conn.transaction():
        await store.finish_outbound(conn, row["id"], status="failed", external_id=None, error=error)
        await store.insert_event(conn, row["case_id"], SYSTEM, "delivery_failed",
                                 changes={"message_id": row["id"], "channel": row["channel"], "error": error})


async def sweep(ctx: dict[str, Any], *, older_than: int | None = None) -> dict[str, int]:
    """Re-enqueue cases not processed and messages not sent in time: a lost Redis job loses nothing."""
    services: Services = ctx["services"]
    after = services.settings.sweep_after_seconds if older_than is None else older_than
    async with services.pool.acquire() as conn:
        case_ids = await store.unprocessed_cases(conn, after)
        # A message claimed longer ago than a send may run (arq cancels it at the timeout) was
        # being sent by a worker that died; the margin covers the commit after the provider call.
        stuck = services.settings.send_timeout_seconds + 10
        message_ids = await store.stale_outbox(conn, after, stuck_after_seconds=stuck)
    queue_name = services.settings.queue_name
    requeued = {"cases": await queue.enqueue_processing(services.redis, queue_name, *case_ids),
                "messages": await queue.enqueue_send(services.redis, queue_name, *message_ids)}
    if requeued["cases"] or requeued["messages"]:
        metrics.SWEPT.labels("case").inc(requeued["cases"])
        metrics.SWEPT.labels("message").inc(requeued["messages"])
        log.warning("sweeper re-enqueued %(cases)s cases and %(messages)s messages", requeued)
    return requeued
