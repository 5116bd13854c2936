"""The classifier inside the hub's processing job."""

from kernel.http import SERVICES


async def _processed(aiohttp_client, settings, model_path, text, **extra):
    from hotline.app import create_app

    settings = settings.model_copy(update={"classifier_model": str(model_path)})
    client = await aiohttp_client(create_app(settings))
    resp = await client.post("/api/v1/reports", json={"text": text, **extra})
    code = (await resp.json())["tracking_code"]
    from hotline.worker import build_worker

    worker = build_worker(settings, burst=True, poll_delay=0.01)
    try:
        await worker.main()
    finally:
        await worker.close()
    pool = client.app[SERVICES].pool
    return pool, await pool.fetchrow("SELECT * FROM cases WHERE tracking_code = $1", code)


async def test_a_classified_case_carries_field_confidence_urgency_entities_and_version(
        aiohttp_client, settings, model_path, model):
    pool, case = await _processed(
        aiohttp_client, settings, model_path,
        "Cây dầu to bật gốc ngã chắn ngang đường trước số 45/2 Lý Tự Trọng, phường Bến Thành, quận 1. "
        "Tôi gọi 0903 111 222 mà chưa ai tới. Hồ sơ cũ 701 734 074 3 và 701 734 074 4.")
    assert case["field"] == "trees" and case["confidence"] >= model.threshold
    assert case["urgent"] is True and case["language"] == "vi"
    assert case["classifier_version"] == model.version
    entities = case["entities"]
    assert entities["phones"] == ["+84903111222"]
    assert entities["case_codes"] == ["7017340743"]  # the one with a wrong check digit is dropped
    assert entities["address"]["ward"] == "phường Bến Thành" and entities["address"]["house_number"] == "số 45/2"
    assert "fallen_tree" in entities["hazards"]
    assert case["address"] == entities["address_text"]
    event = await pool.fetchrow("SELECT changes FROM case_events WHERE case_id = $1 AND kind = 'classified'",
                                case["id"])
    assert event["changes"]["field"] == "trees" and event["changes"]["model"] == model.version
    # No routing rules yet: a person routes it.
    assert case["status"] == "triage"


async def test_an_unclear_message_goes_to_triage_as_other(aiohttp_client, settings, model_path):
    pool, case = await _processed(aiohttp_client, settings, model_path, "alo alo có ai không")
    assert case["field"] == "other" and case["status"] == "triage"
    reason = await pool.fetchval("SELECT reason FROM case_events WHERE case_id = $1 AND to_status = 'triage'",
                                 case["id"])
    assert reason.startswith("classifier unsure")


async def test_other_fields_a_message_names_are_kept_on_the_classified_event_and_shown(
        aiohttp_client, settings, model_path):
    from console.case_page import classification

    pool, case = await _processed(aiohttp_client, settings, model_path,
                                  "Quán karaoke hát tới 2 giờ sáng, lại còn lấn chiếm hết vỉa hè")
    assert case["field"] == "noise"
    events = await pool.fetch("SELECT kind, changes FROM case_events WHERE case_id = $1 ORDER BY id", case["id"])
    classified = [e for e in events if e["kind"] == "classified"]
    assert classified[-1]["changes"]["also"] == ["urban_order"]
    assert classification(case, events, "en")["also"] == ["Urban order and construction"]
    assert classification(case, events, "vi")["also"] == ["Trật tự đô thị"]
