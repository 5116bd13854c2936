"""The processing job, the outbox and the sweeper, on a real arq worker."""

from datetime import UTC, datetime

from casework import actions
from casework.intake import InboundEvent, SenderIdentity
from hotline import pipeline
from hotline.services import Services


async def _intake(pool, key="k1", text="Cống trên đường Võ Văn Kiệt bị nghẹt, nước tràn lên đường", locale="vi"):
    return await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id=key, text=text, locale=locale,
        sender=SenderIdentity("phone", "+84901234567")))


async def test_without_a_model_a_case_goes_to_triage_and_is_acknowledged(client, run_worker):
    resp = await client.post("/api/v1/reports", json={"text": "Đèn đường hẻm 40 tắt cả tuần"})
    code = (await resp.json())["tracking_code"]
    await run_worker()
    from kernel.http import SERVICES

    pool = client.app[SERVICES].pool
    case = await pool.fetchrow("SELECT * FROM cases WHERE tracking_code = $1", code)
    assert case["status"] == "triage"
    assert case["field"] is None and case["processed_at"] is not None
    event = await pool.fetchrow("SELECT * FROM case_events WHERE case_id = $1 AND to_status = 'triage'", case["id"])
    assert event["actor_kind"] == "system" and "no trained classifier" in event["reason"]
    ack = await pool.fetchrow("SELECT * FROM messages WHERE case_id = $1 AND kind = 'ack'", case["id"])
    assert ack["status"] == "delivered" and ack["direction"] == "out" and ack["channel"] == "web"
    assert f"{code[:3]} {code[3:6]} {code[6:9]} {code[9]}" in ack["text"]
    assert f"http://hotline.test/track/{code}" in ack["text"]


async def test_processing_twice_changes_nothing_the_second_time(settings, pool):
    result = await _intake(pool)
    services = await Services.start(settings)
    try:
        ctx = {"services": services}
        assert await pipeline.process_case(ctx, case_id=result.case_id) == "processed"
        assert await pipeline.process_case(ctx, case_id=result.case_id) == "already_processed"
    finally:
        await services.close()
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'out'") == 1
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE to_status = 'triage'") == 1


async def test_english_reports_are_acknowledged_in_english(settings, pool, run_worker):
    result = await _intake(pool, key="en", text="Street light broken on Le Loi street", locale="en")
    services = await Services.start(settings)
    try:
        await pipeline.process_case({"services": services}, case_id=result.case_id)
    finally:
        await services.close()
    text = await pool.fetchval("SELECT text FROM messages WHERE kind = 'ack'")
    assert text.startswith("The 1022 hotline has received your report")


async def test_sweeper_recovers_a_job_lost_in_redis(settings, pool, run_worker):
    from redis.asyncio import from_url

    result = await _intake(pool)
    services = await Services.start(settings)
    try:
        from hotline import queue

        assert await queue.enqueue_processing(services.redis, settings.queue_name, result.case_id)
    finally:
        await services.close()
    # Redis loses everything (a restart without persistence, say).
    r = from_url(settings.redis_url)
    await r.flushdb()
    assert await r.zcard(settings.queue_name) == 0
    await r.aclose()
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", result.case_id) == "received"
    # The sweeper (run by every worker at start, then every 15 s for work older than a minute) finds it.
    await run_worker()
    case = await pool.fetchrow("SELECT status, processed_at FROM cases WHERE id = $1", result.case_id)
    assert case["status"] == "triage" and case["processed_at"] is not None
    assert await pool.fetchval("SELECT status FROM messages WHERE kind = 'ack'") == "delivered"


async def test_sweeper_leaves_recent_and_processed_cases_alone(settings, pool):
    fresh = await _intake(pool, key="fresh")
    done = await _intake(pool, key="done")
    await pool.execute("UPDATE cases SET created_at = now() - interval '5 minutes', processed_at = now()"
                       " WHERE id = $1", done.case_id)
    services = await Services.start(settings)
    try:
        assert await pipeline.sweep({"services": services}) == {"cases": 0, "messages": 0}
        await pool.execute("UPDATE cases SET created_at = now() - interval '5 minutes' WHERE id = $1", fresh.case_id)
        assert await pipeline.sweep({"services": services}) == {"cases": 1, "messages": 0}
        # Already queued: the stable job id keeps a second sweep from queueing it twice.
        assert await pipeline.sweep({"services": services}) == {"cases": 0, "messages": 0}
    finally:
        await services.close()


async def test_a_lost_outbound_message_is_resent_once(settings, pool, run_worker):
    result = await _intake(pool)
    services = await Services.start(settings)
    try:
        await pipeline.process_case({"services": services}, case_id=result.case_id)
    finally:
        await services.close()
    from redis.asyncio import from_url

    r = from_url(settings.redis_url)
    await r.flushdb()  # the send job is lost
    await r.aclose()
    assert await pool.fetchval("SELECT status FROM messages WHERE kind = 'ack'") == "queued"
    await pool.execute("UPDATE messages SET created_at = now() - interval '2 minutes' WHERE kind = 'ack'")
    await run_worker()
    row = await pool.fetchrow("SELECT status, attempts FROM messages WHERE kind = 'ack'")
    assert (row["status"], row["attempts"]) == ("delivered", 1)


class _Exploding:
    version = "boom"

    def classify(self, text):
        raise RuntimeError("model file corrupt")


async def test_failing_processing_retries_then_hands_the_case_to_people(settings, pool):
    from arq import Retry

    result = await _intake(pool)
    services = await Services.start(settings)
    services.classifier = _Exploding()
    try:
        for attempt in range(1, settings.job_max_tries):
            try:
                await pipeline.process_case({"services": services}, case_id=result.case_id)
            except Retry:
                pass
            else:
                raise AssertionError(f"attempt {attempt} should have asked for a retry")
        assert await pipeline.process_case({"services": services}, case_id=result.case_id) == "gave_up"
    finally:
        await services.close()
    case = await pool.fetchrow("SELECT * FROM cases WHERE id = $1", result.case_id)
    assert case["status"] == "triage" and case["process_attempts"] == settings.job_max_tries
    assert "model file corrupt" in case["process_error"]


async def test_staff_decision_before_processing_is_kept(settings, pool, tokens):
    result = await _intake(pool)
    from casework.models import Actor, Role, Status

    agent = Actor(kind="staff", name="agent", id=1, role=Role.AGENT)
    await actions.change_status(pool, result.case_id, Status.TRIAGE, agent)
    await actions.change_status(pool, result.case_id, Status.FORWARDED, agent, department="so-xay-dung")
    services = await Services.start(settings)
    try:
        await pipeline.process_case({"services": services}, case_id=result.case_id)
    finally:
        await services.close()
    case = await pool.fetchrow("SELECT status, department, processed_at FROM cases WHERE id = $1", result.case_id)
    assert (case["status"], case["department"]) == ("forwarded", "so-xay-dung")
    assert case["processed_at"] is not None
    assert datetime.now(UTC) >= case["processed_at"]


async def test_background_enqueuing_reaches_the_worker(settings, aiohttp_client, run_worker):
    import asyncio

    from hotline.app import create_app
    from kernel.http import SERVICES

    client = await aiohttp_client(create_app(settings.model_copy(update={"intake_enqueue": "background"})))
    codes = []
    for i in range(5):
        resp = await client.post("/api/v1/reports", json={"text": f"Rác chưa được thu gom ngày thứ {i + 2}"})
        codes.append((await resp.json())["tracking_code"])
    services = client.app[SERVICES]
    for _ in range(100):
        if await services.redis.zcard(settings.queue_name) == 5:
            break
        await asyncio.sleep(0.02)
    assert await services.redis.zcard(settings.queue_name) == 5
    await run_worker()
    statuses = [r["status"] for r in await services.pool.fetch("SELECT status FROM cases")]
    assert statuses == ["triage"] * 5


async def test_enqueue_many_skips_jobs_already_queued(settings, pool):
    from hotline import queue

    services = await Services.start(settings)
    try:
        assert await queue.enqueue_processing(services.redis, settings.queue_name, 1, 2, 3) == 3
        assert await queue.enqueue_processing(services.redis, settings.queue_name, 2, 3, 4) == 1
        assert await services.redis.zcard(settings.queue_name) == 4
        assert await queue.enqueue_processing(services.redis, settings.queue_name) == 0
    finally:
        await services.close()


async def test_one_citizen_across_channels_and_reports(settings, pool, run_worker):
    from hotline import queue

    first = await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id="a", text="Mất nước", display_name="Võ Thị Sáu",
        sender=SenderIdentity("phone", "+84901111222")))
    second = await actions.record_inbound(pool, InboundEvent(
        channel="email", provider_message_id="b", text="Vẫn mất nước", sender=SenderIdentity("email", "sau@example.vn"),
        other_identities=(SenderIdentity("phone", "+84901111222"),)))
    anonymous = await actions.record_inbound(pool, InboundEvent(channel="web", provider_message_id="c", text="Ồn"))
    services = await Services.start(settings)
    try:
        await queue.enqueue_processing(services.redis, settings.queue_name, first.case_id, second.case_id,
                                       anonymous.case_id)
    finally:
        await services.close()
    await run_worker()
    rows = await pool.fetch("SELECT id, citizen_id FROM cases ORDER BY id")
    assert rows[0]["citizen_id"] == rows[1]["citizen_id"] is not None
    assert rows[2]["citizen_id"] is None
    idents = await pool.fetch("SELECT kind, value FROM citizen_identities WHERE citizen_id = $1 ORDER BY kind",
                              rows[0]["citizen_id"])
    assert [(r["kind"], r["value"]) for r in idents] == [("email", "sau@example.vn"), ("phone", "+84901111222")]
    assert await pool.fetchval("SELECT display_name FROM citizens") == "Võ Thị Sáu"


async def test_a_message_being_sent_is_not_handed_out_again_but_a_stuck_one_is(settings, pool):
    from casework import store

    result = await _intake(pool)
    services = await Services.start(settings)
    try:
        await pipeline.process_case({"services": services}, case_id=result.case_id)
        message_id = await pool.fetchval("SELECT id FROM messages WHERE kind = 'ack'")
        async with pool.acquire() as conn:
            assert await store.claim_outbound(conn, message_id) is not None  # a worker is sending it
            assert await store.claim_outbound(conn, message_id) is None  # nobody else may
        await pool.execute("UPDATE messages SET created_at = now() - interval '1 hour' WHERE id = $1", message_id)
        assert await pipeline.sweep({"services": services}, older_than=0) == {"cases": 0, "messages": 0}
        # The sending worker died ten minutes ago (and its job with it): the message goes back to the queue.
        await services.redis.flushdb()
        await pool.execute("UPDATE messages SET claimed_at = now() - interval '10 minutes' WHERE id = $1", message_id)
        assert (await pipeline.sweep({"services": services}))["messages"] == 1
    finally:
        await services.close()
