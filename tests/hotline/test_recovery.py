"""Nothing a citizen sent is left behind: cases moved before processing, give-ups, post-commit failures, sends."""

import pytest

from casework import actions
from casework.intake import InboundEvent, SenderIdentity
from casework.models import Actor, Role, Status
from channels.base import DeliveryReceipt, PermanentSendError, TransientSendError
from hotline import pipeline
from hotline.services import Services

AGENT = Actor(kind="staff", name="agent", id=None, role=Role.AGENT)


async def _intake(pool, key="k1", text="Cống trên đường Võ Văn Kiệt bị nghẹt, nước tràn lên đường"):
    return await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id=key, text=text, sender=SenderIdentity("phone", "+84901234567")))


@pytest.fixture
async def services(settings):
    s = await Services.start(settings)
    yield s
    await s.close()


async def _closed_pool(settings):
    """A pool whose every acquire fails, as a database gone away would."""
    from hotline.db import create_pool

    pool = await create_pool(settings.database_url, min_size=1, max_size=1)
    await pool.close()
    return pool


async def test_a_case_a_person_moved_before_processing_is_still_processed_and_acknowledged(
        settings, pool, services, run_worker):
    result = await _intake(pool)
    # The enqueue was lost and an agent moved the case to triage before any worker saw it.
    await actions.change_status(pool, result.case_id, Status.TRIAGE, AGENT)
    assert await pool.fetchval("SELECT citizen_id FROM cases WHERE id = $1", result.case_id) is None
    await run_worker()
    case = await pool.fetchrow("SELECT status, processed_at, citizen_id FROM cases WHERE id = $1", result.case_id)
    assert case["status"] == "triage" and case["processed_at"] is not None and case["citizen_id"] is not None
    ack = await pool.fetchrow("SELECT status, recipient FROM messages WHERE kind = 'ack'")
    assert ack["status"] == "delivered"


class _Exploding:
    version = "boom"

    def classify(self, text):
        raise RuntimeError("model file corrupt")


async def test_giving_up_still_links_the_citizen_and_queues_the_acknowledgement(settings, pool, services):
    result = await _intake(pool)
    services.classifier = _Exploding()
    await pool.execute("UPDATE cases SET process_attempts = $1 WHERE id = $2", settings.job_max_tries - 1,
                       result.case_id)
    assert await pipeline.process_case({"services": services}, case_id=result.case_id) == "gave_up"
    case = await pool.fetchrow("SELECT status, citizen_id, processed_at FROM cases WHERE id = $1", result.case_id)
    assert case["status"] == "triage" and case["citizen_id"] is not None and case["processed_at"] is not None
    ack = await pool.fetchrow("SELECT status, text FROM messages WHERE kind = 'ack' AND case_id = $1", result.case_id)
    assert ack["status"] == "queued" and result.tracking_code[:3] in ack["text"]


async def test_a_failure_after_the_commit_does_not_mark_the_case_failed(settings, pool, services, monkeypatch):
    from casework import assignment

    async def broken_backfill(*args, **kwargs):
        raise RuntimeError("assignment down")

    result = await _intake(pool)
    monkeypatch.setattr(assignment, "backfill", broken_backfill)
    services.jobs.pool = await _closed_pool(settings)  # and the senders cannot be woken
    assert await pipeline.process_case({"services": services}, case_id=result.case_id) == "processed"
    case = await pool.fetchrow("SELECT process_error, process_attempts, processed_at FROM cases WHERE id = $1",
                               result.case_id)
    assert (case["process_error"], case["process_attempts"]) == (None, 0) and case["processed_at"] is not None
    # The acknowledgement waits in the outbox for the senders' next look.
    assert await pool.fetchval("SELECT status FROM messages WHERE kind = 'ack'") == "queued"


class _Provider:
    """A channel adapter whose provider answers what the test says."""

    name = "web"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.keys: list[str] = []

    async def send(self, message):
        self.keys.append(message.idempotency_key)
        if self.error is not None:
            raise self.error
        return DeliveryReceipt(provider_message_id="p-1", status="sent")


async def _ack_id(pool, services):
    result = await _intake(pool)
    await pipeline.process_case({"services": services}, case_id=result.case_id)
    return result.case_id, await pool.fetchval("SELECT id FROM messages WHERE kind = 'ack'")


async def test_a_permanent_send_error_fails_at_once_and_shows_on_the_case(pool, services, client, tokens):
    case_id, message_id = await _ack_id(pool, services)
    services.adapters["web"] = provider = _Provider(PermanentSendError("unknown number", provider_code="21211"))
    assert await pipeline.send_message({"services": services}, message_id=message_id) == "failed"
    row = await pool.fetchrow("SELECT status, error, attempts FROM messages WHERE id = $1", message_id)
    assert (row["status"], row["error"], row["attempts"]) == ("failed", "21211: unknown number", 1)
    assert provider.keys == [f"hotline-msg-{message_id}"]
    event = await pool.fetchrow("SELECT changes FROM case_events WHERE kind = 'delivery_failed'")
    assert event["changes"] == {"message_id": message_id, "channel": "web", "error": "21211: unknown number"}
    from tests.conftest import auth

    body = await (await client.get(f"/api/v1/cases/{case_id}", headers=auth(tokens["agent"]))).json()
    (ack,) = [m for m in body["messages"] if m["id"] == message_id]
    assert (ack["status"], ack["error"]) == ("failed", "21211: unknown number")


async def test_a_transient_send_error_is_retried_with_back_off_until_the_last_try(settings, pool, services):
    from datetime import timedelta

    from kernel.time import FixedClock

    _, message_id = await _ack_id(pool, services)
    services.clock = clock = FixedClock(await pool.fetchval("SELECT now()"))
    services.adapters["web"] = _Provider(TransientSendError("429 Too Many Requests", retry_after=30))
    assert await pipeline.send_pending(services) == 1
    row = await pool.fetchrow("SELECT status, next_attempt_at FROM messages WHERE id = $1", message_id)
    # The provider's Retry-After wins over the 5 s back-off; until then the message is not due.
    assert row["status"] == "queued" and row["next_attempt_at"] == clock() + timedelta(seconds=30)
    assert await pipeline.send_pending(services) == 0
    clock.advance(seconds=30)
    await pool.execute("UPDATE messages SET attempts = $1 WHERE id = $2", settings.job_max_tries - 1, message_id)
    assert await pipeline.send_pending(services) == 1
    assert await pool.fetchval("SELECT status FROM messages WHERE id = $1", message_id) == "failed"
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'delivery_failed'") == 1


async def test_a_stuck_send_is_reset_after_the_send_timeout_not_the_sweep_delay(settings, pool, services):
    from casework import store

    _, message_id = await _ack_id(pool, services)
    async with pool.acquire() as conn:
        assert await store.claim_outbound(conn, message_id) is not None
    timeout = settings.send_timeout_seconds
    await pool.execute("UPDATE messages SET claimed_at = now() - make_interval(secs => $1) WHERE id = $2",
                       float(timeout), message_id)
    assert (await pipeline.sweep({"services": services}))["messages"] == 0  # may still be sending
    await pool.execute("UPDATE messages SET claimed_at = now() - make_interval(secs => $1) WHERE id = $2",
                       float(timeout + 11), message_id)
    assert (await pipeline.sweep({"services": services}))["messages"] == 1
    assert timeout + 11 < 5 * settings.sweep_after_seconds  # sooner than the old rule


async def test_a_resume_read_before_a_concurrent_pause_does_not_end_it_before_it_began(pool, services):
    from datetime import timedelta

    result = await _intake(pool)
    await pool.execute("UPDATE cases SET status = 'triage' WHERE id = $1", result.case_id)
    paused_at = await pool.fetchval("SELECT now()")
    await actions.pause_clock(pool, result.case_id, AGENT, "chờ địa chỉ", now=paused_at)
    await actions.resume_clock(pool, result.case_id, AGENT, now=paused_at - timedelta(seconds=1))
    event = await pool.fetchrow("SELECT changes FROM case_events WHERE kind = 'clock_resumed'")
    assert event["changes"]["paused_seconds"] == 0
    ended = await pool.fetchrow("SELECT started_at, ended_at FROM case_pauses")
    assert ended["ended_at"] == ended["started_at"]
