"""Incoming SMS/MMS and delivery reports, posted as Twilio posts them, against a real database and a fake Twilio API."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from aiohttp import web

from casework import codes
from channels.twilio import sms
from channels.twilio.gsm import segments
from hotline import pipeline
from kernel.http import SERVICES
from tests.channels.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, CITIZEN, HOTLINE_NUMBER, sign
from tests.channels.twilio.test_adapter import JPEG, FakeTwilio, twilio_sid

PUBLIC = "https://hotline.example.gov.vn"
PATH = "/channels/twilio/sms"
STATUS = "/channels/twilio/sms/status"
REPORT = "Cống trên đường Võ Văn Kiệt bị nghẹt, nước tràn lên đường gần số 120"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def inbound(sid: str, body: str, *, sender: str = CITIZEN,
            media: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """An incoming SMS (MMS with media) with every field Twilio sends."""
    form = {
        "ToCountry": "VN", "ToState": "", "SmsMessageSid": sid, "NumMedia": str(len(media)), "ToCity": "",
        "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "", "Body": body,
        "FromCountry": "VN", "To": HOTLINE_NUMBER, "ToZip": "", "NumSegments": str(segments(body)),
        "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "ApiVersion": "2010-04-01",
    }
    for i, (url, content_type) in enumerate(media):
        form[f"MediaContentType{i}"] = content_type
        form[f"MediaUrl{i}"] = url
    return form


def status_report(sid: str, status: str, *, error: str | None = None, to: str = CITIZEN) -> dict[str, str]:
    """A status callback as Twilio posts it (ErrorCode with undelivered and failed)."""
    form = {"SmsSid": sid, "SmsStatus": status, "MessageStatus": status, "To": to, "MessageSid": sid,
            "AccountSid": ACCOUNT_SID, "From": HOTLINE_NUMBER, "ApiVersion": "2010-04-01"}
    if error is not None:
        form["ErrorCode"] = error
    return form


def sid(n: int, prefix: str = "SM") -> str:
    """The SID of the n-th inbound SMS (the fake Twilio numbers the ones we send the same way, from 1)."""
    return twilio_sid(prefix, n + 100)


def media_url(n: int) -> str:
    return f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid(1, 'MM')}/Media/{sid(n, 'ME')}"


def message_of(twiml: str) -> str | None:
    """The text of the TwiML's one <Message>, None for an empty answer."""
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    found = root.findall("Message")
    assert len(found) <= 1
    return found[0].text if found else None


@pytest.fixture
async def twilio(aiohttp_server) -> tuple[FakeTwilio, str]:
    fake = FakeTwilio()
    server = await aiohttp_server(fake.app())
    return fake, str(server.make_url("/")).rstrip("/")


@pytest.fixture
async def app(twilio_client, twilio):
    """A test client on an app with the Twilio channel on and its API at the fake."""
    client = await twilio_client(twilio_api_url=twilio[1])
    yield client
    await client.app[SERVICES].adapters["sms"].close()


async def send_sms(app, post_signed, n: int, body: str, **kwargs: Any):
    resp = await post_signed(app, PATH, inbound(sid(n), body, **kwargs))
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/xml"
    return await resp.text()


async def counts(pool) -> tuple[int, int]:
    return (await pool.fetchval("SELECT count(*) FROM cases"),
            await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'in'"))


async def process(app, case_id: int) -> None:
    """Process a case as the worker does: it is acknowledged by SMS (queued in the outbox)."""
    assert await pipeline.process_case({"services": app.app[SERVICES]}, case_id=case_id) == "processed"


# Reports


async def test_an_sms_opens_a_case_and_a_retried_webhook_stores_one_message(app, post_signed, pool):
    assert await send_sms(app, post_signed, 1, REPORT) == EMPTY_TWIML
    assert await send_sms(app, post_signed, 1, REPORT) == EMPTY_TWIML  # Twilio retried
    assert await counts(pool) == (1, 1)
    case = await pool.fetchrow("SELECT * FROM cases")
    assert (case["channel"], case["description"], case["locale"], case["status"]) == ("sms", REPORT, "vi", "received")
    message = await pool.fetchrow("SELECT * FROM messages WHERE direction = 'in'")
    assert (message["provider_message_id"], message["sender"]) == (sid(1), CITIZEN)
    assert message["raw"] == inbound(sid(1), REPORT)


async def test_english_sms_is_answered_in_english(app, post_signed, pool):
    await send_sms(app, post_signed, 1, "The street light near my house is broken since Monday")
    case_id, locale = await pool.fetchrow("SELECT id, locale FROM cases")
    assert locale == "en"
    await process(app, case_id)
    assert (await pool.fetchval("SELECT text FROM messages WHERE kind = 'ack'")).startswith("The 1022 hotline")


def test_unaccented_vietnamese_is_not_taken_for_english():
    assert sms.guess_locale("Duong Le Loi bi ngap nuoc, xe khong di duoc") == "vi"
    assert sms.guess_locale("the my not") == "vi"  # Vietnamese syllables without marks (thể, Mỹ, nốt)
    assert sms.guess_locale("Please help, the road is flooded") == "en"


async def test_short_code_sender_is_kept_as_sent(app, post_signed, pool):
    await send_sms(app, post_signed, 1, REPORT, sender="8085")
    assert await pool.fetchval("SELECT sender FROM messages") == "8085"


async def test_bad_or_missing_signature_is_refused_and_nothing_stored(app, post_signed, pool):
    form = inbound(sid(1), REPORT)
    assert (await post_signed(app, PATH, form, signature="bm90IHRoZSBzaWduYXR1cmU=")).status == 403
    assert (await post_signed(app, PATH, form, signature="")).status == 403
    assert (await post_signed(app, PATH, form, token="another-account-token")).status == 403
    assert (await app.post(PATH, data=form)).status == 403
    tampered = await app.post(PATH, data={**form, "Body": "khác"},
                              headers={"X-Twilio-Signature": sign(PUBLIC + PATH, form)})
    assert tampered.status == 403
    assert await counts(pool) == (0, 0)


async def test_channel_off_is_404(client, post_signed, pool):
    assert (await post_signed(client, PATH, inbound(sid(1), REPORT))).status == 404
    assert (await post_signed(client, STATUS, status_report(sid(1), "delivered"))).status == 404
    assert await counts(pool) == (0, 0)


async def test_oversized_body_is_413(app, post_signed, pool):
    resp = await post_signed(app, PATH, inbound(sid(1), "ngập " * 15_000))
    assert resp.status == 413
    assert await counts(pool) == (0, 0)


async def test_wrong_content_type_is_400(app, pool):
    form = inbound(sid(1), REPORT)
    resp = await app.post(PATH, json=form, headers={"X-Twilio-Signature": sign(PUBLIC + PATH, form)})
    assert resp.status == 400
    assert (await resp.json())["error"] == "unsupported_media_type"
    assert await counts(pool) == (0, 0)


@pytest.mark.parametrize("field", ["MessageSid", "From"])
async def test_missing_field_is_400_naming_it(app, post_signed, pool, field):
    form = inbound(sid(1), REPORT)
    del form[field]
    resp = await post_signed(app, PATH, form)
    assert resp.status == 400
    assert (await resp.json())["detail"]["field"] == field
    assert await counts(pool) == (0, 0)


# Keywords


async def test_stop_opts_out_and_the_next_sms_to_the_number_fails(app, post_signed, pool, twilio):
    await send_sms(app, post_signed, 1, REPORT)
    assert await send_sms(app, post_signed, 2, " Stop ") == EMPTY_TWIML  # Twilio confirms STOP itself
    assert await counts(pool) == (1, 1)  # the keyword is no report
    assert await pool.fetchval("SELECT address FROM contact_opt_outs WHERE channel = 'sms'") == CITIZEN
    case_id = await pool.fetchval("SELECT id FROM cases")
    await process(app, case_id)
    await pipeline.send_pending(app.app[SERVICES])
    ack = await pool.fetchrow("SELECT * FROM messages WHERE kind = 'ack'")
    assert (ack["channel"], ack["recipient"], ack["status"]) == ("sms", CITIZEN, "failed")
    assert ack["error"].startswith("opted_out")
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'delivery_failed'") == 1
    assert twilio[0].messages == []


async def test_start_opts_back_in_and_the_sms_goes_out(app, post_signed, pool, twilio):
    await send_sms(app, post_signed, 1, REPORT)
    await send_sms(app, post_signed, 2, "STOP")
    assert await send_sms(app, post_signed, 3, "start") == EMPTY_TWIML
    assert await pool.fetchval("SELECT count(*) FROM contact_opt_outs") == 0
    await process(app, await pool.fetchval("SELECT id FROM cases"))
    await pipeline.send_pending(app.app[SERVICES])
    ack = await pool.fetchrow("SELECT * FROM messages WHERE kind = 'ack'")
    assert ack["status"] == "sent" and ack["external_id"] == twilio_sid("SM", 1)
    assert ack["segments"] == segments(ack["text"]) > 1
    [sent] = twilio[0].messages
    assert (sent["To"], sent["From"], sent["Body"]) == (CITIZEN, HOTLINE_NUMBER, ack["text"])
    assert sent["StatusCallback"] == f"{PUBLIC}{STATUS}?m={ack['id']}"


async def test_vietnamese_opt_out_is_confirmed_and_says_how_to_undo_it(app, post_signed, pool):
    reply = message_of(await send_sms(app, post_signed, 1, "Hủy"))
    assert reply is not None and "BAT DAU" in reply and "START" in reply
    assert await pool.fetchval("SELECT count(*) FROM contact_opt_outs") == 1
    reply = message_of(await send_sms(app, post_signed, 2, "bắt đầu"))
    assert reply is not None and reply.startswith("1022: Bạn sẽ nhận lại tin nhắn")
    assert await pool.fetchval("SELECT count(*) FROM contact_opt_outs") == 0
    assert await counts(pool) == (0, 0)


async def test_twilio_advanced_opt_out_names_the_keyword(app, post_signed, pool):
    form = {**inbound(sid(1), "NGỪNG"), "OptOutType": "STOP"}
    resp = await post_signed(app, PATH, form)
    assert await resp.text() == EMPTY_TWIML
    assert await pool.fetchval("SELECT count(*) FROM contact_opt_outs") == 1


@pytest.mark.parametrize("word", ["HELP", "info", "Hướng dẫn"])
async def test_help_answers_how_to_report(app, post_signed, pool, word):
    reply = message_of(await send_sms(app, post_signed, 1, word))
    assert reply is not None
    assert reply.startswith("Đường dây nóng 1022: nhắn nội dung phản ánh")
    assert "MOI <nội dung>" in reply and "https://hotline.example.gov.vn/track" in reply
    assert "\n1022 hotline: text your report" in reply
    assert await counts(pool) == (0, 0)


async def test_help_in_gsm7_when_the_hotline_sends_ascii(twilio_client, post_signed, pool):
    client = await twilio_client(sms_ascii=True)
    reply = message_of(await send_sms(client, post_signed, 1, "HELP"))
    assert reply is not None and reply.startswith("Duong day nong 1022: nhan noi dung phan anh")


async def test_moi_alone_explains_itself_and_stores_nothing(app, post_signed, pool):
    reply = message_of(await send_sms(app, post_signed, 1, "MOI"))
    assert reply is not None and "MOI <nội dung phản ánh>" in reply
    assert await counts(pool) == (0, 0)


@pytest.mark.parametrize("body", ["", "   \n "])
async def test_blank_sms_asks_for_the_report(app, post_signed, pool, body):
    reply = message_of(await send_sms(app, post_signed, 1, body))
    assert reply is not None and reply.startswith("1022: Tin nhắn trống")
    assert await counts(pool) == (0, 0)


def test_keywords_are_whole_messages():
    assert sms.keyword("  sToP ") == (sms.Keyword.STOP, True)
    assert sms.keyword("TỪ CHỐI") == (sms.Keyword.STOP, False)
    assert sms.keyword("help") == (sms.Keyword.HELP, False)
    assert sms.keyword("stop xả rác ở hẻm 5") is None
    assert sms.keyword("Cảm ơn") is None


def test_moi_is_a_word_of_its_own():
    assert sms.new_case_request("MOI Cây đổ") == (True, "Cây đổ")
    assert sms.new_case_request("mới: cây đổ") == (True, "cây đổ")
    assert sms.new_case_request("NEW") == (True, "")
    assert sms.new_case_request("Mọi người ơi, cây đổ") == (False, "Mọi người ơi, cây đổ")
    assert sms.new_case_request("Mời cơ quan xử lý") == (False, "Mời cơ quan xử lý")
    assert sms.new_case_request("Moidau") == (False, "Moidau")


# Conversations


async def test_moi_opens_a_second_case_even_within_the_reply_window(app, post_signed, pool):
    await send_sms(app, post_signed, 1, REPORT)
    first = await pool.fetchval("SELECT id FROM cases")
    await process(app, first)
    await send_sms(app, post_signed, 2, "MOI Cây đổ chắn ngang đường Pasteur")
    assert await counts(pool) == (2, 2)
    second = await pool.fetchval("SELECT description FROM cases WHERE id <> $1", first)
    assert second == "Cây đổ chắn ngang đường Pasteur"


async def test_a_reply_within_the_window_joins_the_case(app, post_signed, pool):
    await send_sms(app, post_signed, 1, REPORT)
    case_id = await pool.fetchval("SELECT id FROM cases")
    await process(app, case_id)  # the acknowledgement opens the reply window
    assert await send_sms(app, post_signed, 2, "Nước đã ngập tới đầu gối") == EMPTY_TWIML
    assert await counts(pool) == (1, 2)
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'in' AND case_id = $1", case_id) == 2
    notice = await pool.fetchrow("SELECT * FROM messages WHERE kind = 'notice'")
    assert (notice["channel"], notice["recipient"]) == ("sms", CITIZEN)


async def test_a_reply_quoting_the_code_joins_and_one_without_opens_a_case(app, post_signed, pool):
    await send_sms(app, post_signed, 1, REPORT)
    case_id, code = await pool.fetchrow("SELECT id, tracking_code FROM cases")
    await send_sms(app, post_signed, 2, "Đèn đường hẻm 40 tắt cả tuần")  # no code, no SMS of ours yet
    assert await counts(pool) == (2, 2)
    await send_sms(app, post_signed, 3, f"Hồ sơ {codes.display(code)}: vẫn chưa ai đến")
    assert await counts(pool) == (2, 3)
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'in' AND case_id = $1", case_id) == 2


async def test_van_con_ngap_reopens_an_answered_case(app, post_signed, pool):
    await send_sms(app, post_signed, 1, REPORT)
    case_id = await pool.fetchval("SELECT id FROM cases")
    await process(app, case_id)
    await pool.execute("UPDATE cases SET status = 'answered', resolved_at = now() WHERE id = $1", case_id)
    await send_sms(app, post_signed, 2, "vẫn còn ngập")
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", case_id) == "reopened"
    event = await pool.fetchrow("SELECT * FROM case_events WHERE case_id = $1 AND to_status = 'reopened'", case_id)
    assert event["from_status"] == "answered"
    notice = await pool.fetchval("SELECT text FROM messages WHERE kind = 'notice'")
    assert "đã được mở lại" in notice


async def test_mms_without_text_queues_its_media_and_the_worker_fetches_it(app, post_signed, pool, twilio):
    media = ((media_url(1), "image/jpeg"), (media_url(2), "image/png"))
    await send_sms(app, post_signed, 1, "", media=media)
    case = await pool.fetchrow("SELECT * FROM cases")
    assert case["description"] == "(Ảnh gửi qua MMS)"
    rows = await pool.fetch("SELECT url, content_type, status FROM media_fetches ORDER BY id")
    assert [tuple(r) for r in rows] == [(media_url(1), "image/jpeg", "queued"), (media_url(2), "image/png", "queued")]
    fake = twilio[0]
    path = media_url(1).removeprefix("https://api.twilio.com")
    fake.media[path] = web.Response(body=JPEG, content_type="image/jpeg")  # the second is gone (404)
    assert await pipeline.fetch_media_pending(app.app[SERVICES]) == 2
    rows = await pool.fetch("SELECT status FROM media_fetches ORDER BY id")
    assert [r["status"] for r in rows] == ["done", "failed"]
    attachment = await pool.fetchrow("SELECT content_type, data FROM attachments")
    assert (attachment["content_type"], attachment["data"]) == ("image/jpeg", JPEG)


async def test_mms_with_text_keeps_the_text(app, post_signed, pool):
    await send_sms(app, post_signed, 1, "Rác đổ trước cổng chợ", media=((media_url(1), "image/jpeg"),))
    assert await pool.fetchval("SELECT description FROM cases") == "Rác đổ trước cổng chợ"
    assert await pool.fetchval("SELECT count(*) FROM media_fetches") == 1


# Delivery reports


@pytest.fixture
async def sent_ack(app, post_signed, pool):
    """An acknowledgement sent through the fake Twilio: (our message id, Twilio's sid)."""
    await send_sms(app, post_signed, 1, REPORT)
    await process(app, await pool.fetchval("SELECT id FROM cases"))
    await pipeline.send_pending(app.app[SERVICES])
    row = await pool.fetchrow("SELECT id, external_id, status FROM messages WHERE kind = 'ack'")
    assert row["status"] == "sent"
    return row["id"], row["external_id"]


async def report(app, post_signed, message_id: int | None, form: dict[str, str]):
    path = STATUS if message_id is None else f"{STATUS}?m={message_id}"
    return await post_signed(app, path, form)


async def test_delivered(app, post_signed, pool, sent_ack):
    message_id, twilio_sid = sent_ack
    assert (await report(app, post_signed, message_id, status_report(twilio_sid, "sent"))).status == 204
    assert (await report(app, post_signed, message_id, status_report(twilio_sid, "delivered"))).status == 204
    row = await pool.fetchrow("SELECT status, provider_status, error FROM messages WHERE id = $1", message_id)
    assert tuple(row) == ("delivered", "delivered", None)


async def test_undelivered_fails_the_message_on_its_case(app, post_signed, pool, sent_ack):
    message_id, twilio_sid = sent_ack
    resp = await report(app, post_signed, message_id, status_report(twilio_sid, "undelivered", error="30003"))
    assert resp.status == 204
    row = await pool.fetchrow("SELECT status, provider_status, provider_error, error FROM messages WHERE id = $1",
                              message_id)
    assert (row["status"], row["provider_status"]) == ("failed", "undelivered")
    assert row["error"] == row["provider_error"] == "30003: unreachable: the phone is off or out of coverage"
    event = await pool.fetchrow("SELECT * FROM case_events WHERE kind = 'delivery_failed'")
    assert event["changes"]["message_id"] == message_id
    assert await pool.fetchval("SELECT count(*) FROM contact_opt_outs") == 0


async def test_reports_out_of_order_never_move_back(app, post_signed, pool, sent_ack):
    message_id, twilio_sid = sent_ack
    await report(app, post_signed, message_id, status_report(twilio_sid, "delivered"))
    await report(app, post_signed, message_id, status_report(twilio_sid, "sent"))
    assert await pool.fetchval("SELECT status FROM messages WHERE id = $1", message_id) == "delivered"


async def test_unsubscribed_failure_records_the_opt_out(app, post_signed, pool, sent_ack):
    message_id, twilio_sid = sent_ack
    await report(app, post_signed, message_id, status_report(twilio_sid, "failed", error="21610"))
    assert await pool.fetchval("SELECT error FROM messages WHERE id = $1", message_id) == (
        "21610: unsubscribed: the recipient replied STOP")
    assert await pool.fetchval("SELECT address FROM contact_opt_outs WHERE channel = 'sms'") == CITIZEN


async def test_report_before_the_send_was_recorded_finds_the_message_by_our_id(app, post_signed, pool):
    await send_sms(app, post_signed, 1, REPORT)
    await process(app, await pool.fetchval("SELECT id FROM cases"))
    message_id = await pool.fetchval("SELECT id FROM messages WHERE kind = 'ack'")
    await report(app, post_signed, message_id, status_report(sid(77), "sent"))
    row = await pool.fetchrow("SELECT status, external_id FROM messages WHERE id = $1", message_id)
    assert tuple(row) == ("sent", sid(77))


async def test_unknown_message_is_acknowledged(app, post_signed, pool, sent_ack):
    message_id, _ = sent_ack
    assert (await report(app, post_signed, None, status_report(sid(999), "delivered"))).status == 204
    assert (await report(app, post_signed, 424242, status_report(sid(998), "delivered"))).status == 204
    assert await pool.fetchval("SELECT status FROM messages WHERE id = $1", message_id) == "sent"


@pytest.mark.parametrize("m", ["abc", "-1", "0", "1.5", "99999999999999999999", "%D9%A3"])
async def test_bad_message_id_is_400(app, post_signed, m):
    resp = await post_signed(app, f"{STATUS}?m={m}", status_report(sid(1), "sent"))
    assert resp.status == 400
    assert (await resp.json())["detail"]["field"] == "m"


@pytest.mark.parametrize("field", ["MessageSid", "MessageStatus"])
async def test_report_missing_field_is_400(app, post_signed, field):
    form = status_report(sid(1), "delivered")
    del form[field]
    resp = await post_signed(app, STATUS, form)
    assert resp.status == 400
    assert (await resp.json())["detail"]["field"] == field


async def test_report_with_bad_signature_changes_nothing(app, post_signed, pool, sent_ack):
    message_id, twilio_sid = sent_ack
    form = status_report(twilio_sid, "undelivered", error="30003")
    resp = await post_signed(app, f"{STATUS}?m={message_id}", form, token=AUTH_TOKEN + "x")
    assert resp.status == 403
    # A report signed for another message, replayed onto this one.
    resp = await app.post(f"{STATUS}?m={message_id}", data=form,
                          headers={"X-Twilio-Signature": sign(f"{PUBLIC}{STATUS}?m={message_id + 1}", form)})
    assert resp.status == 403
    assert await pool.fetchval("SELECT status FROM messages WHERE id = $1", message_id) == "sent"


async def test_logs_name_ids_never_the_number_or_the_text(app, post_signed, pool, caplog):
    caplog.set_level("DEBUG")
    await send_sms(app, post_signed, 1, REPORT)
    await send_sms(app, post_signed, 2, "STOP")
    await send_sms(app, post_signed, 3, "START")
    await send_sms(app, post_signed, 4, "HELP")
    await process(app, await pool.fetchval("SELECT id FROM cases"))
    await pipeline.send_pending(app.app[SERVICES])
    message_id, twilio_sid = await pool.fetchrow("SELECT id, external_id FROM messages WHERE kind = 'ack'")
    await report(app, post_signed, message_id, status_report(twilio_sid, "undelivered", error="30005"))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert sid(2) in logged and twilio_sid in logged  # the ids are there
    for secret in (CITIZEN, CITIZEN[3:], "Võ Văn Kiệt", "nghẹt"):
        assert secret not in logged
