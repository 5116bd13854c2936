"""Conversations: a citizen's follow-up joins its case, reopens an answered one, and is answered where it came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casework import actions, codes, conversation
from casework.intake import InboundEvent, SenderIdentity
from casework.models import SYSTEM, Actor, Role, Status

PHONE = "+84901234567"
OTHER = "+84912345678"
WINDOW = timedelta(hours=72)
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def sms(sid: str, text: str, sender: str = PHONE, **extra) -> InboundEvent:
    return InboundEvent(channel="sms", provider_message_id=sid, text=text, sender=SenderIdentity("phone", sender),
                        reply_window=WINDOW, **extra)


async def _answer(pool, case_id: int, recipient: str = PHONE) -> None:
    """Our message to the citizen about the case (what opens the reply window), sent now by the database clock."""
    async with pool.acquire() as conn:
        case = await conn.fetchrow("SELECT id, channel, citizen_id, locale FROM cases WHERE id = $1", case_id)
        await actions.queue_outbound(conn, case, text="Đã tiếp nhận", kind="ack", key=f"ack:{case_id}",
                                     author_id=None, recipient=recipient)


async def _status(pool, case_id: int, status: str) -> None:
    await pool.execute("UPDATE cases SET status = $2 WHERE id = $1", case_id, status)


async def test_the_web_form_never_joins_a_case(pool):
    first = await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id="key:a", text="Đèn đường hỏng", sender=SenderIdentity("phone", PHONE)))
    second = await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id="key:b", text=f"Bổ sung cho hồ sơ {first.tracking_code}",
        sender=SenderIdentity("phone", PHONE)))
    assert second.new_case and second.case_id != first.case_id


async def test_a_reply_within_the_window_joins_the_case_and_is_acknowledged_where_it_came_from(pool):
    first = await actions.record_inbound(pool, sms("SM1", "Cống bị nghẹt trên đường Võ Văn Kiệt"), now=T0)
    assert first.new_case
    await _answer(pool, first.case_id)
    now = datetime.now(UTC)  # messages.created_at is the database's clock
    follow = await actions.record_inbound(pool, sms("SM2", "Nước tràn lên cả vỉa hè rồi"), now=now)
    assert follow.joined and follow.created and not follow.new_case and follow.case_id == first.case_id
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1
    rows = await pool.fetch("SELECT direction, channel, kind, text, recipient FROM messages WHERE case_id = $1"
                            " ORDER BY id", first.case_id)
    assert [(r["direction"], r["kind"]) for r in rows] == [("in", "message"), ("out", "ack"), ("in", "message"),
                                                           ("out", "notice")]
    notice = rows[-1]
    assert notice["channel"] == "sms" and notice["recipient"] == PHONE
    assert codes.display(first.tracking_code) in notice["text"]
    event = await pool.fetchrow("SELECT * FROM case_events WHERE case_id = $1 AND kind = 'citizen_message'",
                                first.case_id)
    assert event["actor_kind"] == "citizen" and event["public"]
    assert list(follow.send_ids) == [await pool.fetchval("SELECT id FROM messages WHERE kind = 'notice'")]


async def test_after_the_window_or_from_another_number_a_text_opens_a_new_case(pool):
    first = await actions.record_inbound(pool, sms("SM1", "Cây đổ chắn ngang hẻm 12"))
    await _answer(pool, first.case_id)
    late = await actions.record_inbound(pool, sms("SM2", "Cây vẫn chưa dọn"), now=datetime.now(UTC) + WINDOW
                                        + timedelta(minutes=1))
    assert late.new_case and late.case_id != first.case_id
    stranger = await actions.record_inbound(pool, sms("SM3", "Có người báo cây đổ", sender=OTHER))
    assert stranger.new_case and stranger.case_id not in (first.case_id, late.case_id)


async def test_a_closed_case_is_not_joined_by_the_window(pool):
    first = await actions.record_inbound(pool, sms("SM1", "Rác ùn ứ đầu hẻm"))
    await _answer(pool, first.case_id)
    await _status(pool, first.case_id, "closed")
    again = await actions.record_inbound(pool, sms("SM2", "Rác lại đầy"), now=datetime.now(UTC))
    assert again.new_case


async def test_a_quoted_code_joins_only_the_senders_own_case(pool):
    mine = await actions.record_inbound(pool, sms("SM1", "Đèn tín hiệu hỏng ở ngã tư"), now=T0)
    theirs = await actions.record_inbound(pool, sms("SM2", "Ổ gà lớn", sender=OTHER), now=T0)
    # No reply window is open (nothing was sent yet): only the code can join.
    quoted = await actions.record_inbound(pool, sms("SM3", f"Hồ sơ {codes.display(mine.tracking_code)} vẫn chưa sửa"),
                                          now=T0)
    assert quoted.joined and quoted.case_id == mine.case_id
    # Someone else's code (printed on a public page) proves nothing: a new case.
    borrowed = await actions.record_inbound(pool, sms("SM4", f"Về hồ sơ {theirs.tracking_code}"), now=T0)
    assert borrowed.new_case
    # A code read apart from the text (keypad, subject) joins too.
    keyed = await actions.record_inbound(pool, sms("SM5", "Thêm thông tin", case_code=mine.tracking_code), now=T0)
    assert keyed.case_id == mine.case_id and keyed.joined


async def test_moi_asks_for_a_new_case_even_inside_the_window(pool):
    first = await actions.record_inbound(pool, sms("SM1", "Mất nước từ sáng"))
    await _answer(pool, first.case_id)
    fresh = await actions.record_inbound(pool, sms("SM2", "Đèn đường hỏng", new_case=True), now=datetime.now(UTC))
    assert fresh.new_case and fresh.case_id != first.case_id


async def test_a_retried_follow_up_is_stored_once(pool):
    first = await actions.record_inbound(pool, sms("SM1", "Mất nước từ sáng"))
    await _answer(pool, first.case_id)
    now = datetime.now(UTC)
    one = await actions.record_inbound(pool, sms("SM2", "Vẫn chưa có nước"), now=now)
    two = await actions.record_inbound(pool, sms("SM2", "Vẫn chưa có nước"), now=now)
    assert one.created and not two.created and one.message_id == two.message_id and not two.send_ids
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'in'") == 2
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE kind = 'notice'") == 1


@pytest.mark.parametrize(("text", "reopens"), [
    ("Vẫn còn ngập, chưa ai đến", True),
    ("van con ngap", True),
    ("Cảm ơn!", False),
    ("cam on nhieu", False),
    ("ok", False),
    ("Cảm ơn nhưng nước lại ngập rồi", True),
])
async def test_an_answered_case_is_reopened_unless_the_citizen_just_thanks(pool, text, reopens):
    first = await actions.record_inbound(pool, sms("SM1", "Ngập nước đường Lê Lợi"))
    await _answer(pool, first.case_id)
    await _status(pool, first.case_id, "answered")
    follow = await actions.record_inbound(pool, sms("SM2", text), now=datetime.now(UTC))
    assert follow.joined and follow.reopened is reopens
    status = await pool.fetchval("SELECT status FROM cases WHERE id = $1", first.case_id)
    assert status == ("reopened" if reopens else "answered")
    event = await pool.fetchrow("SELECT * FROM case_events WHERE case_id = $1 AND to_status = 'reopened'",
                                first.case_id)
    assert (event is not None) is reopens
    if reopens:
        assert event["from_status"] == "answered" and event["actor_kind"] == "citizen"
        notice = await pool.fetchval("SELECT text FROM messages WHERE kind = 'notice'")
        assert "mở lại" in notice


async def test_a_callers_messages_go_out_by_sms(pool):
    call = await actions.record_inbound(pool, InboundEvent(
        channel="voice", provider_message_id="CA1", text="Cống nghẹt", sender=SenderIdentity("phone", PHONE)))
    async with pool.acquire() as conn:
        case = await conn.fetchrow("SELECT id, channel, citizen_id, locale FROM cases WHERE id = $1", call.case_id)
        message_id = await actions.queue_outbound(conn, case, text="x", kind="ack", key="k", author_id=None,
                                                  recipient=PHONE)
    assert await pool.fetchval("SELECT channel FROM messages WHERE id = $1", message_id) == "sms"
    # ... so a text back within the window joins the call's case.
    follow = await actions.record_inbound(pool, sms("SM9", "Bổ sung: cống trước nhà số 5"), now=datetime.now(UTC))
    assert follow.case_id == call.case_id


async def test_the_case_lists_its_conversation_in_time_order(client, pool, tokens):
    first = await actions.record_inbound(pool, sms("SM1", "Ổ gà sâu trên đường Nguyễn Huệ"))
    await _answer(pool, first.case_id)
    await actions.record_inbound(pool, sms("SM2", "Có xe máy bị ngã"), now=datetime.now(UTC))
    resp = await client.get(f"/api/v1/cases/{first.case_id}", headers={"Authorization": f"Bearer {tokens['agent']}"})
    body = await resp.json()
    messages = body["messages"]
    assert [(m["direction"], m["channel"], m["status"]) for m in messages] == [
        ("in", "sms", "received"), ("out", "sms", "queued"), ("in", "sms", "received"), ("out", "sms", "queued")]
    times = [m["created_at"] for m in messages]
    assert times == sorted(times)
    assert {"provider_status", "provider_error", "segments"} <= set(messages[1])


async def test_delivery_reports_move_forward_only_and_a_failure_shows_on_the_case(pool):
    case = await actions.record_inbound(pool, sms("SM1", "Mất điện"))
    await _answer(pool, case.case_id)
    message_id = await pool.fetchval("SELECT id FROM messages WHERE direction = 'out'")
    await pool.execute("UPDATE messages SET status = 'sending' WHERE id = $1", message_id)
    # The report can come before our own commit of the send: found by our id, the provider's id kept.
    row = await actions.record_delivery_report(pool, "sms", "SMabc", "delivered", None, now=T0, message_id=message_id)
    assert row["status"] == "delivered"
    late = await actions.record_delivery_report(pool, "sms", "SMabc", "sent", None, now=T0)
    assert late["status"] == "delivered" and late["provider_status"] == "sent"
    assert await pool.fetchval("SELECT external_id FROM messages WHERE id = $1", message_id) == "SMabc"
    assert await actions.record_delivery_report(pool, "sms", "SMnone", "delivered", None, now=T0) is None
    # Another message that fails: failed, with the provider's error, and said once on the case.
    await _answer(pool, case.case_id, recipient=OTHER)
    other = await pool.fetchval("SELECT max(id) FROM messages WHERE direction = 'out'")
    await pool.execute("UPDATE messages SET status = 'sent', external_id = 'SMdef' WHERE id = $1", other)
    for _ in range(2):
        failed = await actions.record_delivery_report(pool, "sms", "SMdef", "undelivered", "30003: unreachable",
                                                      now=T0)
        assert failed["status"] == "failed"
    events = await pool.fetch("SELECT changes FROM case_events WHERE kind = 'delivery_failed'")
    assert len(events) == 1 and events[0]["changes"]["error"] == "30003: unreachable"
    assert await pool.fetchval("SELECT error FROM messages WHERE id = $1", other) == "30003: unreachable"


async def test_staff_milestones_reach_a_citizen_on_sms_but_not_on_the_web(pool, tokens):
    from casework import staff  # noqa: F401 - the tokens fixture made the people

    actor = Actor(kind="staff", id=await pool.fetchval("SELECT id FROM staff_users WHERE username = 'agent'"),
                  name="agent", role=Role.AGENT)
    texted = await actions.record_inbound(pool, sms("SM1", "Mất điện"))
    webbed = await actions.record_inbound(pool, InboundEvent(channel="web", provider_message_id="key:w",
                                                             text="Mất điện", sender=SenderIdentity("phone", OTHER)))
    for result in (texted, webbed):
        await _status(pool, result.case_id, "triage")
    ids = await actions.change_status(pool, texted.case_id, Status.CLOSED, actor, reason="Đã có điện lại")
    assert len(ids) == 1
    text = await pool.fetchval("SELECT text FROM messages WHERE id = $1", ids[0])
    assert "đã đóng" in text and "Đã có điện lại" in text
    assert await actions.change_status(pool, webbed.case_id, Status.CLOSED, actor, reason="Trùng") == []
    assert conversation.status_notice("vi", texted.tracking_code, Status.TRIAGE, Status.FORWARDED, None) is None
    assert SYSTEM.kind == "system"


async def test_agents_say_where_they_take_calls_with_their_presence(client, pool, tokens):
    from casework import assignment

    headers = {"Authorization": f"Bearer {tokens['agent']}"}
    resp = await client.put("/api/v1/me/presence", json={"available": True, "call_at": "+842838221022"},
                            headers=headers)
    assert resp.status == 200
    assert [a["phone"] for a in await assignment.agents_on_call(pool)] == ["+842838221022"]
    bad = await client.put("/api/v1/me/presence", json={"available": True, "call_at": "0901 234 567; DROP"},
                           headers=headers)
    assert bad.status == 400
    # Away: not rung, whatever the number; back with a SIP address; "" clears it.
    await client.put("/api/v1/me/presence", json={"available": False}, headers=headers)
    assert await assignment.agents_on_call(pool) == []
    await client.put("/api/v1/me/presence", json={"available": True, "call_at": "sip:agent7@pbx.hotline.vn"},
                     headers=headers)
    assert [a["phone"] for a in await assignment.agents_on_call(pool)] == ["sip:agent7@pbx.hotline.vn"]
    await client.put("/api/v1/me/presence", json={"available": True, "call_at": ""}, headers=headers)
    assert await assignment.agents_on_call(pool) == []
