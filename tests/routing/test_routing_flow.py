"""Routing in the hub: seeded data, decisions with deadlines, admin edits, transfer, pauses, escalation, assignment."""

import json
from datetime import datetime, timedelta

import pytest

from casework import actions
from casework.intake import InboundEvent
from casework.models import Actor, Role, Status
from classifier import Classification
from hotline import escalation, pipeline
from hotline.demo import seed
from hotline.services import Services
from kernel.http import SERVICES
from kernel.time import LOCAL_TZ, FixedClock
from tests.conftest import auth

BEN_THANH = "26743"


class Fixed:
    """A classifier that always answers the same field."""

    version = "fixed-1"

    def __init__(self, field, urgent=False):
        self.field, self.urgent = field, urgent

    def classify(self, text):
        return Classification(field=self.field, confidence=0.99, urgent=self.urgent, language="vi",
                              model_version=self.version, alternatives=(("other", 0.01),))


class AtBenThanh:
    """A geocoder that puts everything in Bến Thành ward."""

    def geocode(self, address, lat, lon):
        from integrations.geocoding import GeocodeResult

        return GeocodeResult(ward_code=BEN_THANH, ward_name="Bến Thành", lat=10.7707, lon=106.6945, confidence=0.9)


@pytest.fixture
async def seeded(pool):
    async with pool.acquire() as conn:
        return await seed(conn)


@pytest.fixture
async def services(settings, seeded):
    s = await Services.start(settings)
    yield s
    await s.close()


async def _case(pool, text="Mất điện cả khu phố từ sáng", key="k"):
    return await actions.record_inbound(pool, InboundEvent(channel="web", provider_message_id=key, text=text))


async def _process(services, case_id, field, urgent=False, geocoder=None):
    services.classifier = Fixed(field, urgent)
    if geocoder is not None:
        services.geocoder = geocoder
    return await pipeline.process_case({"services": services}, case_id=case_id)


async def test_seed_loads_units_wards_rules_and_policies(seeded, pool):
    assert seeded["wards"] == 168 and seeded["units"] >= 15 and seeded["rules"] >= 20 and seeded["policies"] >= 16
    assert await pool.fetchval("SELECT count(*) FROM departments WHERE kind = 'ward'") == 168
    async with pool.acquire() as conn:
        again = await seed(conn)
    assert again == {"units": 0, "wards": 0, "rules": 0, "policies": 0}


async def test_a_classified_case_is_forwarded_with_a_deadline_it_can_explain(services, pool):
    case = await _case(pool)
    assert await _process(services, case.case_id, "electricity", geocoder=AtBenThanh()) == "processed"
    row = await pool.fetchrow("SELECT * FROM cases WHERE id = $1", case.case_id)
    assert row["status"] == "forwarded" and row["department"] == "evn-hcmc"
    assert row["routing_reason"].startswith("Lĩnh vực Điện lực tại phường Bến Thành → Tổng công ty Điện lực TP.HCM,"
                                            " theo quy tắc định tuyến số ")
    assert row["routing_reason_en"].startswith("Electricity in Ben Thanh Ward → HCMC Power Corporation,"
                                               " by routing rule ")
    assert row["due_at"] > row["created_at"]
    assert row["deadline_reason"].startswith("Hạn giải quyết ")
    assert row["deadline_reason_en"].startswith("Resolution due in ")
    assert row["forwarded_at"] is not None and row["priority"] == "normal"
    routed = await pool.fetchrow("SELECT * FROM case_events WHERE case_id = $1 AND kind = 'routed'", case.case_id)
    assert routed["changes"]["department"] == "evn-hcmc"
    assert routed["reason"] == row["routing_reason"] and routed["changes"]["reason_en"] == row["routing_reason_en"]
    assert routed["changes"]["deadline"] == row["deadline_reason"]
    assert routed["changes"]["deadline_en"] == row["deadline_reason_en"]


async def test_urgent_cases_run_on_the_clock(services, pool):
    case = await _case(pool, "Cây đổ chắn ngang đường")
    await _process(services, case.case_id, "trees", urgent=True)
    row = await pool.fetchrow("SELECT * FROM cases WHERE id = $1", case.case_id)
    assert row["department"] == "cay-xanh" and row["priority"] == "urgent"
    assert row["due_at"] - row["created_at"] == timedelta(hours=3)


async def test_ward_rules_need_a_ward(services, pool):
    with_ward = await _case(pool, "Lấn chiếm vỉa hè", key="a")
    without = await _case(pool, "Lấn chiếm vỉa hè", key="b")
    await _process(services, with_ward.case_id, "urban_order", geocoder=AtBenThanh())
    from integrations.geocoding import NoGazetteer

    await _process(services, without.case_id, "urban_order", geocoder=NoGazetteer())
    rows = {r["id"]: r["department"] for r in await pool.fetch("SELECT id, department FROM cases")}
    assert rows[with_ward.case_id] == f"ubnd-{BEN_THANH}" and rows[without.case_id] == "so-xay-dung"


async def test_admin_edits_apply_to_the_next_decision_without_a_restart(client, tokens, pool, seeded):
    services = client.app[SERVICES]
    first = await _case(pool, key="first")
    await _process(services, first.case_id, "electricity")
    assert await pool.fetchval("SELECT department FROM cases WHERE id = $1", first.case_id) == "evn-hcmc"
    resp = await client.post("/api/v1/admin/rules", json={
        "priority": 500, "field": "electricity", "keywords": ["trạm biến áp"], "department": "so-xay-dung",
        "description": "test rule"}, headers=auth(tokens["admin"]))
    assert resp.status == 201
    rule_id = (await resp.json())["id"]
    second = await _case(pool, "tram bien ap no lon", key="second")
    await _process(services, second.case_id, "electricity")
    row = await pool.fetchrow("SELECT department, routing_reason FROM cases WHERE id = $1", second.case_id)
    assert row["department"] == "so-xay-dung"
    said = f"theo quy tắc định tuyến số {rule_id}: lĩnh vực Điện lực, nội dung có “tram bien ap”."
    assert said in row["routing_reason"]
    assert (await client.delete(f"/api/v1/admin/rules/{rule_id}", headers=auth(tokens["admin"]))).status == 200
    third = await _case(pool, "tram bien ap no lon", key="third")
    await _process(services, third.case_id, "electricity")
    assert await pool.fetchval("SELECT department FROM cases WHERE id = $1", third.case_id) == "evn-hcmc"


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/v1/admin/units", None),
    ("PUT", "/api/v1/admin/units/so-moi", {"name_vi": "Sở Mới", "name_en": "New", "kind": "department"}),
    ("GET", "/api/v1/admin/rules", None),
    ("POST", "/api/v1/admin/rules", {"field": "noise", "department": "cong-an-tp"}),
    ("GET", "/api/v1/admin/policies", None),
    ("GET", "/api/v1/admin/calendar", None),
    ("PUT", "/api/v1/admin/calendar/2027-02-13", {"working": True, "note": "làm bù"}),
])
async def test_admin_api_is_for_admins_only(client, tokens, seeded, method, path, body):
    for role in ("agent", "department", "supervisor"):
        resp = await client.request(method, path, json=body, headers=auth(tokens[role]))
        assert resp.status == 403, role
    assert (await client.request(method, path, json=body)).status == 401
    resp = await client.request(method, path, json=body, headers=auth(tokens["admin"]))
    assert resp.status in (200, 201)


async def test_admin_api_validates(client, tokens, seeded):
    h = auth(tokens["admin"])
    assert (await client.post("/api/v1/admin/rules", json={"field": "astrology", "department": "so-y-te"},
                              headers=h)).status == 400
    assert (await client.post("/api/v1/admin/rules", json={"field": "noise", "department": "nowhere"},
                              headers=h)).status == 422
    assert (await client.patch("/api/v1/admin/rules/999999", json={"priority": 1}, headers=h)).status == 404
    assert (await client.patch("/api/v1/admin/units/so-y-te", json={"accept_minutes": 1}, headers=h)).status == 400
    resp = await client.patch("/api/v1/admin/units/so-y-te", json={"accept_minutes": 30}, headers=h)
    assert (await resp.json())["accept_minutes"] == 30
    policies = (await (await client.get("/api/v1/admin/policies", headers=h)).json())["items"]
    trees = next(p for p in policies if p["field"] == "trees" and p["priority"] == "normal")
    resp = await client.patch(f"/api/v1/admin/policies/{trees['id']}", json={"resolution_minutes": 600}, headers=h)
    assert (await resp.json())["resolution_minutes"] == 600
    assert (await client.put("/api/v1/admin/calendar/not-a-day", json={"working": True}, headers=h)).status == 400


async def test_department_transfers_and_rejects(client, tokens, pool, seeded):
    services = client.app[SERVICES]
    case = await _case(pool)
    await _process(services, case.case_id, "electricity")
    from casework import staff

    await staff.create_user(pool, "evn", role="department", department="evn-hcmc")
    evn = await staff.issue_token(pool, "evn")
    # As a case routed before the English reasons: the transfer's new deadline brings both.
    await pool.execute("UPDATE cases SET deadline_reason = 'cũ', deadline_reason_en = NULL WHERE id = $1", case.case_id)
    resp = await client.post(f"/api/v1/cases/{case.case_id}/transfer",
                             json={"department": "chieu-sang", "reason": "đèn đường, không phải điện sinh hoạt"},
                             headers=auth(evn))
    body = await resp.json()
    assert resp.status == 200 and body["department"] == "chieu-sang" and body["status"] == "forwarded"
    # The new unit's deadline is explained in both languages, and the case JSON carries both reasons.
    assert body["deadline_reason"].startswith("Hạn giải quyết ")
    assert body["deadline_reason_en"].startswith("Resolution due in ")
    row = await pool.fetchrow("SELECT deadline_reason, deadline_reason_en FROM cases WHERE id = $1", case.case_id)
    assert (row["deadline_reason"], row["deadline_reason_en"]) == (body["deadline_reason"], body["deadline_reason_en"])
    # Why it is with this unit now: the person's transfer, not the rule that first routed it.
    assert body["routing_reason"].endswith(
        " sang Công ty TNHH MTV Chiếu sáng công cộng TP.HCM: đèn đường, không phải điện sinh hoạt")
    assert "chuyển từ Tổng công ty Điện lực TP.HCM" in body["routing_reason"]
    assert "transferred it from HCMC Power Corporation to " in body["routing_reason_en"]
    # The log says which deadline the new unit works to.
    event = await pool.fetchrow("SELECT changes FROM case_events WHERE case_id = $1 AND kind = 'transferred'",
                                case.case_id)
    changes = json.loads(event["changes"]) if isinstance(event["changes"], str) else event["changes"]
    assert changes["due_at"][1] == datetime.fromisoformat(body["due_at"]).isoformat()
    # Once transferred, EVN no longer sees it.
    assert (await client.get(f"/api/v1/cases/{case.case_id}", headers=auth(evn))).status == 403


@pytest.mark.parametrize("opened_local", ["2026-12-07T09:00", "2026-12-07T19:30"])
async def test_pausing_for_the_citizen_extends_the_deadline(client, tokens, pool, seeded, opened_local):
    # The clock is set, not read: the test means the same in the morning and in the evening.
    services = client.app[SERVICES]
    opened = datetime.fromisoformat(opened_local).replace(tzinfo=LOCAL_TZ)
    services.clock = clock = FixedClock(opened)
    case = await _case(pool)
    await pool.execute("UPDATE cases SET created_at = $1", opened)
    await _process(services, case.case_id, "electricity")
    before = await pool.fetchval("SELECT due_at FROM cases WHERE id = $1", case.case_id)
    h = auth(tokens["agent"])
    # Paused on Tuesday 14:00 for two working hours (the office works 7:30–11:30 and 13:00–17:00).
    clock.at = datetime(2026, 12, 8, 14, 0, tzinfo=LOCAL_TZ)
    resp = await client.post(f"/api/v1/cases/{case.case_id}/pause", json={"reason": "chờ địa chỉ cụ thể"}, headers=h)
    assert (await resp.json())["clock_paused"] is True
    assert (await client.post(f"/api/v1/cases/{case.case_id}/pause", json={"reason": "x"}, headers=h)).status == 409
    clock.advance(hours=2)
    resp = await client.post(f"/api/v1/cases/{case.case_id}/resume", json={}, headers=h)
    resumed = await resp.json()
    after = resumed["due_at"]
    assert "cộng 2 giờ làm việc tạm dừng chờ người dân bổ sung" in resumed["deadline_reason"]
    assert "plus 2 h of working time paused waiting for the citizen" in resumed["deadline_reason_en"]
    calendar = (await services.current_router()).calendar
    assert resp.status == 200
    assert calendar.working_minutes_between(before, datetime.fromisoformat(after)) == 120
    event = await pool.fetchrow("SELECT changes FROM case_events WHERE kind = 'clock_resumed'")
    assert event["changes"]["paused_seconds"] == 7200


async def test_escalation_marks_at_risk_then_overdue_once(services, pool):
    case = await _case(pool, "Cây đổ chắn đường")
    await _process(services, case.case_id, "trees", urgent=True)  # 3 hours on the 24/7 clock
    opened = await pool.fetchval("SELECT created_at FROM cases WHERE id = $1", case.case_id)
    ctx = {"services": services}
    assert (await escalation.escalate(ctx, now=opened + timedelta(hours=1)))["at_risk"] == 0
    assert (await escalation.escalate(ctx, now=opened + timedelta(hours=2, minutes=30)))["at_risk"] == 1
    assert (await escalation.escalate(ctx, now=opened + timedelta(hours=2, minutes=40)))["at_risk"] == 0
    assert (await escalation.escalate(ctx, now=opened + timedelta(hours=3, minutes=1)))["overdue"] == 1
    assert await pool.fetchval("SELECT sla_state FROM cases WHERE id = $1", case.case_id) == "overdue"
    kinds = [(r["audience"], r["kind"]) for r in await pool.fetch("SELECT * FROM notifications ORDER BY id")]
    assert ("unit", "at_risk") in kinds and ("supervisors", "overdue") in kinds
    events = [r["kind"] for r in await pool.fetch("SELECT kind FROM case_events WHERE case_id = $1", case.case_id)]
    assert events.count("sla_at_risk") == 1 and events.count("sla_overdue") == 1


async def test_a_unit_that_does_not_accept_in_time_is_escalated(services, pool):
    case = await _case(pool)
    await _process(services, case.case_id, "electricity")  # EVN has 60 minutes to accept
    forwarded = await pool.fetchval("SELECT forwarded_at FROM cases WHERE id = $1", case.case_id)
    ctx = {"services": services}
    assert (await escalation.escalate(ctx, now=forwarded + timedelta(minutes=59)))["not_accepted"] == 0
    assert (await escalation.escalate(ctx, now=forwarded + timedelta(minutes=61)))["not_accepted"] == 1
    assert (await escalation.escalate(ctx, now=forwarded + timedelta(minutes=90)))["not_accepted"] == 0
    assert await pool.fetchval("SELECT count(*) FROM notifications WHERE kind = 'not_accepted'") == 2


async def test_assignment_is_least_loaded_within_capacity_and_backfills(services, pool):
    from casework import assignment, staff

    for name in ("a", "b"):
        await staff.create_user(pool, name, role="department", department="evn-hcmc")
    await pool.execute("UPDATE staff_users SET capacity = 2, available = true")
    ids = []
    for i in range(5):
        case = await _case(pool, f"Mất điện lần {i}", key=f"k{i}")
        await _process(services, case.case_id, "electricity")
        ids.append(case.case_id)
    rows = await pool.fetch("SELECT id, assignee FROM cases ORDER BY id")
    assignees = [r["assignee"] for r in rows]
    assert assignees[:4].count(assignees[0]) == 2 and None not in assignees[:4]  # two each, alternating
    assert assignees[4] is None  # both are full: it waits in the queue
    agent = Actor(kind="staff", name="a", id=assignees[0], role=Role.DEPARTMENT, department="evn-hcmc")
    await actions.change_status(pool, ids[0], Status.IN_PROGRESS, agent)
    await actions.change_status(pool, ids[0], Status.ANSWERED, agent)
    assert await assignment.backfill(pool, "evn-hcmc") == [(ids[4], assignees[0])]


async def test_nobody_available_means_nobody_assigned(services, pool):
    from casework import staff

    await staff.create_user(pool, "away", role="department", department="evn-hcmc")
    case = await _case(pool)
    await _process(services, case.case_id, "electricity")
    assert await pool.fetchval("SELECT assignee FROM cases WHERE id = $1", case.case_id) is None


async def test_a_second_report_of_the_same_incident_is_linked_and_hears_the_answer(client, tokens, pool, seeded,
                                                                                    run_worker):
    services = client.app[SERVICES]
    services.classifier = Fixed("trees")
    first = await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id="p1", text="Cây me bật gốc ngã chắn ngang đường Pasteur trước số 45",
        lat=10.7790, lon=106.6990))
    await pipeline.process_case({"services": services}, case_id=first.case_id)
    second = await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id="p2", text="cay me nga chan het duong pasteur gan so 45, xe ko qua duoc",
        lat=10.7791, lon=106.6991))
    await pipeline.process_case({"services": services}, case_id=second.case_id)
    child = await pool.fetchrow("SELECT * FROM cases WHERE id = $1", second.case_id)
    assert child["status"] == "duplicate" and child["duplicate_of"] == first.case_id
    detected = await pool.fetchrow("SELECT * FROM case_events WHERE kind = 'duplicate_detected'")
    assert f"trùng với hồ sơ #{first.case_id}:" in detected["reason"].lower()
    ack = await pool.fetchval("SELECT text FROM messages WHERE case_id = $1 AND kind = 'ack'", second.case_id)
    assert "đã được phản ánh trong hồ sơ" in ack
    # The parent's final answer reaches the second reporter too.
    resp = await client.post(f"/api/v1/cases/{first.case_id}/replies",
                             json={"text": "Đã cưa dọn cây lúc 15:00.", "final": True}, headers=auth(tokens["agent"]))
    assert len((await resp.json())["notices"]) == 1
    await run_worker()
    public = await (await client.get(f"/api/v1/reports/{second.tracking_code}")).json()
    assert [a["text"] for a in public["answers"]] == []  # a notice, not the child's own reply
    notice = await pool.fetchrow("SELECT * FROM messages WHERE case_id = $1 AND kind = 'notice'", second.case_id)
    assert notice["text"] == "Đã cưa dọn cây lúc 15:00." and notice["status"] == "delivered"
    # Staff confirm a link, or undo a wrong one.
    resp = await client.post(f"/api/v1/cases/{second.case_id}/duplicate/confirm", headers=auth(tokens["supervisor"]))
    assert resp.status == 200
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'duplicate_confirmed'") == 1
    assert (await client.post(f"/api/v1/cases/{first.case_id}/duplicate/confirm",
                              headers=auth(tokens["agent"]))).status == 409
    resp = await client.post(f"/api/v1/cases/{second.case_id}/status",
                             json={"status": "reopened", "reason": "khác cây"}, headers=auth(tokens["agent"]))
    assert (await resp.json())["duplicate_of"] is None


async def test_a_different_incident_nearby_is_not_linked(services, pool, seeded):
    services.classifier = Fixed("trees")
    first = await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id="q1", text="Cây me bật gốc ngã chắn ngang đường Pasteur", lat=10.7790,
        lon=106.6990))
    await pipeline.process_case({"services": services}, case_id=first.case_id)
    other = await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id="q2", text="Đề nghị cắt tỉa cành cây xanh trong công viên Tao Đàn",
        lat=10.7745, lon=106.6920))
    await pipeline.process_case({"services": services}, case_id=other.case_id)
    assert await pool.fetchval("SELECT duplicate_of FROM cases WHERE id = $1", other.case_id) is None


async def test_the_real_gazetteer_puts_an_old_address_in_its_new_ward_and_routes_it(services, pool, tmp_path):
    from integrations.geocoding.build import build_gazetteer
    from integrations.geocoding.gazetteer import Gazetteer
    from integrations.geocoding.paths import default_admin_units_dir

    build_gazetteer(default_admin_units_dir(), tmp_path / "gazetteer.pkl")
    services.geocoder = Gazetteer.load(tmp_path / "gazetteer.pkl")
    case = await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id="g1",
        text="Hàng rong lấn chiếm hết vỉa hè, người đi bộ phải xuống lòng đường",
        address="45 Lê Thánh Tôn, P. Bến Nghé, Q.1, TP.HCM"))
    await _process(services, case.case_id, "urban_order")
    row = await pool.fetchrow("SELECT * FROM cases WHERE id = $1", case.case_id)
    assert row["ward_code"] == "26740" and row["geocode_confidence"] > 0.5  # Bến Nghé is now Phường Sài Gòn
    assert row["department"] == "ubnd-26740" and row["lat"] is not None
