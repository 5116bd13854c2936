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


async def test_processing_needs_no_redis_queue(settings, pool, run_worker):
    from redis.asyncio import from_url

    result = await _intake(pool)
    # Redis loses everything (a restart without persistence, say): the case is its own queue entry.
    r = from_url(settings.redis_url)
    await r.flushdb()
    await r.aclose()
    await run_worker()
    case = await pool.fetchrow("SELECT status, processed_at FROM cases WHERE id = $1", result.case_id)
    assert case["status"] == "triage" and case["processed_at"] is not None
    assert await pool.fetchval("SELECT status FROM messages WHERE kind = 'ack'") == "delivered"


async def test_a_batch_processes_every_waiting_case_once(settings, pool):
    for i in range(7):
        await _intake(pool, key=f"k{i}", text=f"Rác chưa được thu gom ngày thứ {i + 2}")
    services = await Services.start(settings)
    try:
        first = await pipeline.process_pending(services, limit=5)
        second = await pipeline.process_pending(services, limit=5)
        assert [o.status for o in first] == ["processed"] * 5 and [o.status for o in second] == ["processed"] * 2
        assert await pipeline.process_pending(services, limit=5) == []
    finally:
        await services.close()
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE kind = 'ack'") == 7
    assert await pool.fetchval("SELECT count(*) FROM cases WHERE processed_at IS NULL") == 0


async def test_two_workers_claiming_at_once_never_share_a_case(settings, pool):
    import asyncio

    for i in range(40):
        await _intake(pool, key=f"k{i}", text=f"Đèn đường hẻm {i} tắt cả tuần")
    a, b = await Services.start(settings), await Services.start(settings)
    try:
        runs = await asyncio.gather(*(pipeline.process_pending(s, limit=10) for s in (a, b, a, b, a, b)))
    finally:
        await a.close()
        await b.close()
    assert sum(len(r) for r in runs) == 40
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE to_status = 'triage'") == 40
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE kind = 'ack'") == 40


class _Exploding:
    version = "boom"

    def classify(self, text):
        raise RuntimeError("model file corrupt")

    def classify_many(self, texts):
        raise RuntimeError("model file corrupt")


async def test_failing_processing_backs_off_then_hands_the_case_to_people(settings, pool):
    from kernel.time import FixedClock

    result = await _intake(pool)
    other = await _intake(pool, key="k2")
    services = await Services.start(settings)
    services.classifier = _Exploding()
    services.clock = clock = FixedClock(datetime.now(UTC))
    try:
        for attempt in range(1, settings.job_max_tries):
            outcomes = await pipeline.process_pending(services)
            assert [o.status for o in outcomes] == ["retry", "retry"], attempt
            # Backing off: nothing is due until the back-off has passed.
            assert await pipeline.process_pending(services) == []
            clock.advance(seconds=pipeline._backoff(attempt))
        assert [o.status for o in await pipeline.process_pending(services)] == ["gave_up", "gave_up"]
    finally:
        await services.close()
    case = await pool.fetchrow("SELECT * FROM cases WHERE id = $1", result.case_id)
    assert case["status"] == "triage" and case["process_attempts"] == settings.job_max_tries
    assert "model file corrupt" in case["process_error"]
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE kind = 'ack'") == 2
    assert other.case_id != result.case_id


async def test_one_bad_case_does_not_hold_back_its_batch(settings, pool):
    good = await _intake(pool, key="good")
    bad = await _intake(pool, key="bad")
    services = await Services.start(settings)

    class _Geocoder:
        def geocode(self, address, lat, lon):
            if address == "boom":
                raise ValueError("bad address")
            return None

    services.geocoder = _Geocoder()
    await pool.execute("UPDATE cases SET address = 'boom' WHERE id = $1", bad.case_id)
    try:
        outcomes = await pipeline.process_pending(services)
    finally:
        await services.close()
    assert [o.status for o in outcomes] == ["processed", "retry"]
    assert await pool.fetchval("SELECT processed_at IS NOT NULL FROM cases WHERE id = $1", good.case_id)
    row = await pool.fetchrow("SELECT processed_at, process_attempts, process_error FROM cases WHERE id = $1",
                              bad.case_id)
    assert row["processed_at"] is None and row["process_attempts"] == 1 and "bad address" in row["process_error"]


async def test_background_wake_ups_reach_the_worker(settings, aiohttp_client, run_worker):
    from hotline.app import create_app
    from kernel.http import SERVICES

    client = await aiohttp_client(create_app(settings.model_copy(update={"intake_enqueue": "background"})))
    for i in range(5):
        resp = await client.post("/api/v1/reports", json={"text": f"Rác chưa được thu gom ngày thứ {i + 2}"})
        assert resp.status == 201
    await run_worker()
    statuses = [r["status"] for r in await client.app[SERVICES].pool.fetch("SELECT status FROM cases")]
    assert statuses == ["triage"] * 5


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
        assert await pipeline.send_pending(services) == 0
        assert (await pipeline.sweep({"services": services}))["messages"] == 0
        # The sending worker died ten minutes ago: the message goes back to the queue, once.
        await pool.execute("UPDATE messages SET claimed_at = now() - interval '10 minutes' WHERE id = $1", message_id)
        assert (await pipeline.sweep({"services": services}))["messages"] == 1
        assert (await pipeline.sweep({"services": services}))["messages"] == 0
        assert await pipeline.send_pending(services) == 1
    finally:
        await services.close()
    row = await pool.fetchrow("SELECT status, attempts FROM messages WHERE id = $1", message_id)
    assert (row["status"], row["attempts"]) == ("delivered", 2)


async def test_a_routed_case_keeps_both_reasons_and_its_event_too(settings, pool):
    from classifier import Classification
    from hotline.demo import seed

    class Trees:
        version = "fixed-1"

        def classify(self, text):
            return Classification(field="trees", confidence=0.99, urgent=True, language="vi",
                                  model_version=self.version, alternatives=())

    async with pool.acquire() as conn:
        await seed(conn)
    result = await _intake(pool, text="Cây đổ chắn ngang đường, rất nguy hiểm")
    services = await Services.start(settings)
    services.classifier = Trees()
    try:
        assert await pipeline.process_case({"services": services}, case_id=result.case_id) == "processed"
    finally:
        await services.close()
    case = await pool.fetchrow("SELECT * FROM cases WHERE id = $1", result.case_id)
    assert case["status"] == "forwarded" and case["department"] == "cay-xanh"
    assert case["routing_reason"].startswith("Lĩnh vực Cây xanh (khẩn cấp) → ")
    assert case["routing_reason_en"].startswith("Trees and green space (urgent) → ")
    assert case["deadline_reason"].startswith("Hạn giải quyết 3 giờ")
    assert case["deadline_reason_en"].startswith("Resolution due in 3 h")
    routed = await pool.fetchrow("SELECT reason, changes FROM case_events WHERE kind = 'routed'")
    assert routed["reason"] == case["routing_reason"]
    assert routed["changes"]["reason_en"] == case["routing_reason_en"]
    assert (routed["changes"]["deadline"], routed["changes"]["deadline_en"]) == (case["deadline_reason"],
                                                                                 case["deadline_reason_en"])
