"""Conversations: a citizen's follow-up joins its case, reopens an answered one, and is answered where it came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casework import actions, codes, conversation
from casework.intake import InboundEvent, SenderIdentity
from casework.models import SYSTEM, Actor, Role, Status
from kernel.errors import BadRequest

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


async def _db_now(pool) -> datetime:
    """The database's time: our messages are stamped with it, so the reply window is measured on it."""
    return await pool.fetchval("SELECT now()")


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
    now = await _db_now(pool)  # messages.created_at is the database's clock
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
    late = await actions.record_inbound(pool, sms("SM2", "Cây vẫn chưa dọn"), now=await _db_now(pool) + WINDOW
                                        + timedelta(minutes=1))
    assert late.new_case and late.case_id != first.case_id
    stranger = await actions.record_inbound(pool, sms("SM3", "Có người báo cây đổ", sender=OTHER))
    assert stranger.new_case and stranger.case_id not in (first.case_id, late.case_id)


async def test_a_closed_case_is_not_joined_by_the_window(pool):
    first = await actions.record_inbound(pool, sms("SM1", "Rác ùn ứ đầu hẻm"))
    await _answer(pool, first.case_id)
    await _status(pool, first.case_id, "closed")
    again = await actions.record_inbound(pool, sms("SM2", "Rác lại đầy"), now=await _db_now(pool))
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
    fresh = await actions.record_inbound(pool, sms("SM2", "Đèn đường hỏng", new_case=True), now=await _db_now(pool))
    assert fresh.new_case and fresh.case_id != first.case_id


async def test_a_retried_follow_up_is_stored_once(pool):
    first = await actions.record_inbound(pool, sms("SM1", "Mất nước từ sáng"))
    await _answer(pool, first.case_id)
    now = await _db_now(pool)
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
    follow = await actions.record_inbound(pool, sms("SM2", text), now=await _db_now(pool))
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
    follow = await actions.record_inbound(pool, sms("SM9", "Bổ sung: cống trước nhà số 5"), now=await _db_now(pool))
    assert follow.case_id == call.case_id


async def test_the_case_lists_its_conversation_in_time_order(client, pool, tokens):
    first = await actions.record_inbound(pool, sms("SM1", "Ổ gà sâu trên đường Nguyễn Huệ"))
    await _answer(pool, first.case_id)
    await actions.record_inbound(pool, sms("SM2", "Có xe máy bị ngã"), now=await _db_now(pool))
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


# --- chat and mail: threads, quiet items, locations, edits, ratings ---------------------------------------

MAIL = "an.nguyen@example.vn"


def mail(mid: str, text: str, refs: tuple[str, ...] = (), sender: str = MAIL, **extra) -> InboundEvent:
    return InboundEvent(channel="email", provider_message_id=mid, text=text, sender=SenderIdentity("email", sender),
                        reply_window=timedelta(0), thread_refs=refs, **extra)


async def test_a_mail_answering_ours_or_the_citizens_own_joins_that_case(pool):
    first = await actions.record_inbound(pool, mail("<a1@example.vn>", "Rác thải đổ trộm ở hẻm 45"))
    async with pool.acquire() as conn:
        case = await conn.fetchrow("SELECT id, channel, citizen_id, locale FROM cases WHERE id = $1", first.case_id)
        ours = await actions.queue_outbound(conn, case, text="Đã tiếp nhận", kind="ack", key="ack", author_id=None,
                                            recipient=MAIL)
    await pool.execute("UPDATE messages SET external_id = '<hotline-msg-1@1022.vn>' WHERE id = $1", ours)
    reply = await actions.record_inbound(pool, mail("<a2@example.vn>", "Thêm ảnh", ("<hotline-msg-1@1022.vn>",)))
    assert reply.joined and reply.case_id == first.case_id
    # A reply to the citizen's own first mail (a CC'd neighbour writing from another address) joins too.
    again = await actions.record_inbound(pool, mail("<b1@example.vn>", "Tôi cũng thấy", ("<a1@example.vn>",),
                                                    sender="hang@example.vn"))
    assert again.case_id == first.case_id
    stray = await actions.record_inbound(pool, mail("<c1@example.vn>", "Khác", ("<unknown@elsewhere>",)))
    assert stray.new_case


async def test_an_item_that_must_not_be_answered_is_stored_but_never_acknowledged(settings, pool):
    from hotline import pipeline
    from hotline.services import Services

    quiet = await actions.record_inbound(pool, mail("<auto@example.vn>", "Tôi đang nghỉ phép", acknowledge=False))
    assert quiet.new_case
    services = await Services.start(settings)
    try:
        await pipeline.process_pending(services)
    finally:
        await services.close()
    row = await pool.fetchrow("SELECT processed_at, acknowledge FROM cases WHERE id = $1", quiet.case_id)
    assert row["processed_at"] is not None and row["acknowledge"] is False
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'out'") == 0
    # A quiet follow-up (an auto-reply to our mail) joins without a notice.
    await _answer(pool, quiet.case_id, recipient=MAIL)
    await pool.execute("UPDATE messages SET channel = 'email', external_id = '<x@1022.vn>' WHERE direction = 'out'")
    follow = await actions.record_inbound(pool, mail("<auto2@example.vn>", "Tự động trả lời", ("<x@1022.vn>",),
                                                     acknowledge=False))
    assert follow.joined and follow.send_ids == ()
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'out'") == 1


async def test_a_shared_location_sets_the_cases_point_and_processes_it_again_while_in_triage(pool):
    chat = "telegram:7001"
    event = InboundEvent(channel="telegram", provider_message_id="7001:1", text="Cây đổ chắn đường",
                         sender=SenderIdentity("telegram", chat), reply_window=WINDOW)
    first = await actions.record_inbound(pool, event)
    await _answer(pool, first.case_id, recipient=chat)
    await pool.execute("UPDATE cases SET status = 'triage', processed_at = now() WHERE id = $1", first.case_id)
    await pool.execute("UPDATE messages SET channel = 'telegram' WHERE direction = 'out'")
    where = InboundEvent(channel="telegram", provider_message_id="7001:2", text="(vị trí)", lat=10.7769, lon=106.7009,
                         sender=SenderIdentity("telegram", chat), reply_window=WINDOW)
    located = await actions.record_inbound(pool, where, now=await _db_now(pool))
    assert located.joined and located.reprocess
    row = await pool.fetchrow("SELECT lat, lon, processed_at FROM cases WHERE id = $1", first.case_id)
    assert (row["lat"], row["lon"], row["processed_at"]) == (10.7769, 106.7009, None)
    assert await pool.fetchval("SELECT changes ->> 'reprocess' FROM case_events WHERE kind = 'located'") == "true"
    # A case already with a unit keeps its route: the point is recorded, nothing runs again.
    await pool.execute("UPDATE cases SET status = 'forwarded', processed_at = now() WHERE id = $1", first.case_id)
    moved = await actions.record_inbound(pool, InboundEvent(
        channel="telegram", provider_message_id="7001:3", text="(vị trí)", lat=10.78, lon=106.70,
        sender=SenderIdentity("telegram", chat), reply_window=WINDOW), now=await _db_now(pool))
    assert moved.joined and not moved.reprocess
    assert await pool.fetchval("SELECT processed_at IS NOT NULL FROM cases WHERE id = $1", first.case_id)


async def test_an_edit_replaces_the_text_and_keeps_the_history(pool):
    first = await actions.record_inbound(pool, InboundEvent(
        channel="telegram", provider_message_id="7001:1", text="Đèn đường hỏng ở hẻm 5",
        sender=SenderIdentity("telegram", "7001"), reply_window=WINDOW))
    assert await actions.record_edit(pool, "telegram", "7001:1", "Đèn đường hỏng ở hẻm 15 Lê Lợi", now=T0) \
        == first.case_id
    message = await pool.fetchrow("SELECT text, edits FROM messages WHERE id = $1", first.message_id)
    assert message["text"] == "Đèn đường hỏng ở hẻm 15 Lê Lợi"
    assert message["edits"] == [{"text": "Đèn đường hỏng ở hẻm 5", "replaced_at": "2026-12-03T09:00:00+00:00"}]
    case = await pool.fetchrow("SELECT description, search_text FROM cases WHERE id = $1", first.case_id)
    assert case["description"] == "Đèn đường hỏng ở hẻm 15 Lê Lợi" and "le loi" in case["search_text"]
    assert await actions.record_edit(pool, "telegram", "7001:1", "Đèn đường hỏng ở hẻm 15 Lê Lợi", now=T0) is None
    assert await actions.record_edit(pool, "telegram", "7001:99", "?", now=T0) is None
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'message_edited'") == 1


async def test_a_citizen_rates_the_answer_and_not_solved_reopens_within_seven_days(pool):
    first = await actions.record_inbound(pool, sms("SM1", "Ngập nước đường Lê Lợi"))
    code = first.tracking_code
    rate = dict(channel="sms", sender_kind="phone", sender=PHONE)
    assert await actions.rate_answer(pool, code, rating=5, solved=True, now=T0, **rate) == "not_answered"
    await pool.execute("UPDATE cases SET status = 'answered', resolved_at = $2 WHERE id = $1", first.case_id, T0)
    assert await actions.rate_answer(pool, code, rating=2, solved=True, now=T0, **rate) == "rated"
    assert await actions.rate_answer(pool, code, rating=4, solved=True, now=T0, sender_kind="phone",
                                     sender=OTHER, channel="sms") == "not_found"
    late = T0 + timedelta(days=8)
    assert await actions.rate_answer(pool, code, rating=None, solved=False, now=late, **rate) == "too_late"
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", first.case_id) == "answered"
    soon = T0 + timedelta(days=6)
    assert await actions.rate_answer(pool, code, rating=None, solved=False, now=soon, **rate) == "reopened"
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", first.case_id) == "reopened"
    stored = await pool.fetchrow("SELECT rating, solved FROM case_ratings WHERE case_id = $1", first.case_id)
    assert (stored["rating"], stored["solved"]) == (2, False)  # the score stays, the verdict is the last
    with pytest.raises(BadRequest) as refused:
        await actions.rate_answer(pool, code, rating=6, solved=True, now=soon, **rate)
    assert refused.value.detail == {"field": "rating", "message": "1 to 5"}
