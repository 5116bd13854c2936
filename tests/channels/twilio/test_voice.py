"""The IVR through its webhooks: signed Twilio payloads in, TwiML out, cases and timeline events stored."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from casework import assignment, codes, staff
from kernel.http import SERVICES
from kernel.time import LOCAL_TZ, FixedClock
from tests.channels.twilio.conftest import ACCOUNT_SID, CITIZEN, HOTLINE_NUMBER
from tests.conftest import auth

VOICE = "/channels/twilio/voice"
CALL_SID = "CA" + "5a" * 16
RECORDING_SID = "RE" + "7c" * 16
RECORDING_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}"
IN_HOURS = datetime(2026, 12, 3, 10, 15, tzinfo=LOCAL_TZ)
OUT_OF_HOURS = datetime(2026, 12, 3, 22, 30, tzinfo=LOCAL_TZ)
SPEECH = "Đèn đường ở số 12 Lê Lợi, phường Bến Thành bị tắt cả tuần nay."


def call(**fields: str) -> dict[str, str]:
    """An incoming call's webhook as Twilio posts it (Vietnamese caller, our number)."""
    form = {
        "Called": HOTLINE_NUMBER, "ToState": "", "CallerCountry": "VN", "Direction": "inbound", "CallerState": "",
        "ToZip": "", "CallSid": CALL_SID, "To": HOTLINE_NUMBER, "CallerZip": "", "ToCountry": "VN",
        "CalledZip": "", "ApiVersion": "2010-04-01", "CalledCity": "", "CallStatus": "ringing", "From": CITIZEN,
        "AccountSid": ACCOUNT_SID, "CalledCountry": "VN", "CallerCity": "", "ToCity": "", "FromCountry": "VN",
        "Caller": CITIZEN, "FromCity": "", "CalledState": "", "FromZip": "", "FromState": "",
    }
    return {**form, **fields}


def gather_digits(digits: str, **fields: str) -> dict[str, str]:
    return call(CallStatus="in-progress", Digits=digits, FinishedOnKey="#" if len(digits) > 1 else "",
                msg="Gather End", **fields)


def gather_speech(speech: str, confidence: str = "0.9138", **fields: str) -> dict[str, str]:
    return call(CallStatus="in-progress", SpeechResult=speech, Confidence=confidence, Language="vi-VN", **fields)


def record_action(**fields: str) -> dict[str, str]:
    return call(CallStatus="in-progress", RecordingUrl=RECORDING_URL, RecordingSid=RECORDING_SID,
                RecordingDuration="14", Digits="#", **fields)


def call_status(status: str = "completed", duration: str = "95", **fields: str) -> dict[str, str]:
    return call(CallStatus=status, CallDuration=duration, Duration="2", Timestamp="Thu, 03 Dec 2026 03:20:11 +0000",
                CallbackSource="call-progress-events", SequenceNumber="0", **fields)


def recording_status(status: str = "completed", **fields: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "CallSid": CALL_SID, "RecordingSid": RECORDING_SID,
            "RecordingUrl": RECORDING_URL, "RecordingStatus": status, "RecordingDuration": "14",
            "RecordingChannels": "1", "RecordingStartTime": "Thu, 03 Dec 2026 03:19:50 +0000",
            "RecordingSource": "RecordVerb", "ErrorCode": "0", **fields}


def queue_wait(position: int, queue_time: int, size: int = 3) -> dict[str, str]:
    return call(CallStatus="in-progress", QueueSid="QU" + "1" * 32, QueuePosition=str(position),
                QueueTime=str(queue_time), AvgQueueTime="40", CurrentQueueSize=str(size), MaxQueueSize="20")


def queue_result(result: str, queue_time: int = 181) -> dict[str, str]:
    return call(CallStatus="in-progress", QueueSid="QU" + "1" * 32, QueueResult=result, QueueTime=str(queue_time))


async def twiml_of(resp) -> ET.Element:
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/xml" and resp.charset == "utf-8"
    root = ET.fromstring(await resp.text())
    assert root.tag == "Response"
    return root


def said(root: ET.Element) -> list[str]:
    return [s.text or "" for s in root.iter("Say")]


def path_of(url: str) -> str:
    """The path and query of an absolute action URL, as the test client posts it."""
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "hotline.example.gov.vn"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def typo(code: str) -> str:
    """One digit keyed wrong: the Damm check digit always catches it."""
    return code[:4] + str((int(code[4]) + 1) % 10) + code[5:]


def spoken(code: str) -> str:
    return ", ".join(code)


async def _voice_cases(pool) -> list:
    return await pool.fetch("SELECT c.id, c.tracking_code, c.channel, c.locale, c.description, m.text, m.sender,"
                            " m.provider_message_id FROM cases c JOIN messages m ON m.case_id = c.id"
                            " WHERE c.channel = 'voice' AND m.direction = 'in' ORDER BY c.id")


# --- the edge: signature, channel off ----------------------------------------------------------------

@pytest.mark.parametrize("path", [VOICE, f"{VOICE}/menu?lang=vi&tries=0", f"{VOICE}/report?lang=vi&tries=0",
                                  f"{VOICE}/recorded?lang=vi&tries=0&purpose=voicemail", f"{VOICE}/check",
                                  f"{VOICE}/agent", f"{VOICE}/wait", f"{VOICE}/dequeued", f"{VOICE}/status",
                                  f"{VOICE}/recording"])
async def test_a_bad_signature_is_403_and_stores_nothing(twilio_client, post_signed, path):
    client = await twilio_client()
    resp = await post_signed(client, path, record_action(SpeechResult=SPEECH), token="not-the-auth-token")
    assert resp.status == 403
    assert (await resp.json())["error"] == "invalid_signature"
    assert await client.app[SERVICES].pool.fetchval("SELECT count(*) FROM cases") == 0


async def test_a_signature_for_another_query_is_403(twilio_client, post_signed, twilio_settings):
    from tests.channels.twilio.conftest import sign

    client = await twilio_client()
    form = gather_digits("1")
    signed_for = sign(twilio_settings.public_url + f"{VOICE}/menu?lang=en&tries=0", form)
    resp = await client.post(f"{VOICE}/menu?lang=vi&tries=0", data=form, headers={"X-Twilio-Signature": signed_for})
    assert resp.status == 403


async def test_the_voice_webhooks_are_404_while_the_channel_is_off(client, post_signed):
    for path in (VOICE, f"{VOICE}/report", f"{VOICE}/status"):
        resp = await post_signed(client, path, call())
        assert resp.status == 404, path


async def test_a_callback_without_its_call_sid_is_400(twilio_client, post_signed):
    client = await twilio_client()
    form = gather_speech(SPEECH)
    del form["CallSid"]
    resp = await post_signed(client, f"{VOICE}/report?lang=vi&tries=0", form)
    assert resp.status == 400 and (await resp.json())["detail"]["field"] == "CallSid"


# --- a call from the start to a report ---------------------------------------------------------------

async def test_an_incoming_call_hears_the_vietnamese_menu(twilio_client, post_signed, twilio_settings):
    client = await twilio_client()
    root = await twiml_of(await post_signed(client, VOICE, call()))
    assert [child.tag for child in root] == ["Say", "Gather", "Redirect"]
    assert root[0].text == "Đường dây nóng một không hai hai xin chào bạn."
    assert root[0].get("language") == "vi-VN" and root[0].get("voice") == twilio_settings.ivr_voice_vi
    assert root[1].get("action") == "https://hotline.example.gov.vn/channels/twilio/voice/menu?lang=vi&tries=0"


async def test_a_spoken_report_opens_one_case_even_when_twilio_retries(twilio_client, post_signed):
    client = await twilio_client()
    pool = client.app[SERVICES].pool
    menu = await twiml_of(await post_signed(client, f"{VOICE}/menu?lang=vi&tries=0", gather_digits("1")))
    report_path = path_of(menu.find("Gather").get("action"))
    first = await twiml_of(await post_signed(client, report_path, gather_speech(SPEECH)))
    again = await twiml_of(await post_signed(client, report_path, gather_speech(SPEECH)))
    cases = await _voice_cases(pool)
    assert len(cases) == 1
    case = cases[0]
    assert (case["text"], case["sender"], case["provider_message_id"], case["locale"]) == (
        SPEECH, CITIZEN, CALL_SID, "vi")
    expected = f"Mã hồ sơ của bạn là: {spoken(case['tracking_code'])}."
    assert expected in said(first) and said(first) == said(again)
    assert "Mã hồ sơ cũng sẽ được gửi đến bạn qua tin nhắn SMS." in said(first)
    assert first[-1].tag == "Hangup"
    raw = await pool.fetchval("SELECT raw FROM messages WHERE case_id = $1 AND direction = 'in'", case["id"])
    assert raw["Confidence"] == "0.9138"


async def test_an_english_caller_reports_in_english(twilio_client, post_signed):
    client = await twilio_client()
    menu = await twiml_of(await post_signed(client, f"{VOICE}/menu?lang=vi&tries=0", gather_digits("9")))
    english_menu = path_of(menu.find("Gather").get("action"))
    assert english_menu.endswith("lang=en&tries=0")
    prompt = await twiml_of(await post_signed(client, english_menu, gather_digits("1")))
    assert prompt.find("Gather").get("language") == "en-US"
    report = await twiml_of(await post_signed(client, path_of(prompt.find("Gather").get("action")),
                                              gather_speech("The street light at 12 Le Loi is out.")))
    case = (await _voice_cases(client.app[SERVICES].pool))[0]
    assert case["locale"] == "en"
    assert f"Your case code is: {spoken(case['tracking_code'])}." in said(report)


@pytest.mark.parametrize("withheld", ["anonymous", "+266696687", "Restricted"])
async def test_a_withheld_number_makes_an_anonymous_case_promised_no_sms(twilio_client, post_signed, withheld):
    client = await twilio_client()
    form = gather_speech(SPEECH, From=withheld, Caller=withheld, CallSid="CA" + withheld.strip("+").lower()[:8] * 4)
    root = await twiml_of(await post_signed(client, f"{VOICE}/report?lang=vi&tries=0", form))
    pool = client.app[SERVICES].pool
    case = (await _voice_cases(pool))[0]
    assert case["sender"] is None
    assert await pool.fetchval("SELECT raw ->> 'From' FROM messages WHERE direction = 'in'") == withheld
    assert not any("SMS" in s for s in said(root))


async def test_a_local_number_is_stored_in_e164(twilio_client, post_signed):
    client = await twilio_client()
    await post_signed(client, f"{VOICE}/report?lang=vi&tries=0", gather_speech(SPEECH, From="0901234567"))
    assert (await _voice_cases(client.app[SERVICES].pool))[0]["sender"] == "+84901234567"


async def test_no_speech_falls_back_to_a_recording_that_becomes_the_case(twilio_client, post_signed):
    client = await twilio_client()
    pool = client.app[SERVICES].pool
    root = await twiml_of(await post_signed(client, f"{VOICE}/report?lang=vi&tries=0", gather_speech("  ")))
    record = root.find("Record")
    assert record is not None and await pool.fetchval("SELECT count(*) FROM cases") == 0
    done = await twiml_of(await post_signed(client, path_of(record.get("action")), record_action()))
    case = (await _voice_cases(pool))[0]
    assert case["text"] == "(Lời nhắn thoại)"
    assert said(done)[0] == "Cảm ơn bạn. Phản ánh của bạn đã được tiếp nhận."
    assert f"Mã hồ sơ của bạn là: {spoken(case['tracking_code'])}." in said(done)


# --- checking a case by keypad ---------------------------------------------------------------------

async def _report(client, text="Ổ gà lớn giữa đường Điện Biên Phủ") -> dict:
    resp = await client.post("/api/v1/reports", json={"text": text})
    assert resp.status == 201
    code = (await resp.json())["tracking_code"]
    case_id = await client.app[SERVICES].pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    return {"id": case_id, "code": code}


async def test_a_caller_keys_the_code_of_a_real_case_and_hears_its_status(twilio_client, post_signed, tokens):
    client = await twilio_client()
    case = await _report(client)
    for status, body in (("triage", {}), ("forwarded", {"department": "so-xay-dung"})):
        resp = await client.post(f"/api/v1/cases/{case['id']}/status", json={"status": status, **body},
                                 headers=auth(tokens["agent"]))
        assert resp.status == 200
    await client.app[SERVICES].pool.execute("UPDATE cases SET due_at = $2 WHERE id = $1", case["id"],
                                            datetime(2026, 12, 5, 10, 30, tzinfo=UTC))
    resp = await client.post(f"/api/v1/cases/{case['id']}/replies", json={"text": "Đã vá ổ gà trong tuần này."},
                             headers=auth(tokens["agent"]))
    assert resp.status == 201

    menu = await twiml_of(await post_signed(client, f"{VOICE}/menu?lang=vi&tries=0", gather_digits("2")))
    gather = menu.find("Gather")
    assert (gather.get("numDigits"), gather.get("finishOnKey")) == ("10", "#")
    root = await twiml_of(await post_signed(client, path_of(gather.get("action")), gather_digits(case["code"])))
    assert said(root)[:4] == [
        f"Hồ sơ mã {spoken(case['code'])}. Trạng thái: Đã chuyển đơn vị xử lý.",
        "Đơn vị xử lý: Sở Xây dựng.",
        "Hạn xử lý: 17 giờ 30 phút, thứ Bảy, ngày 5 tháng 12 năm 2026.",
        "Nội dung trả lời: Đã vá ổ gà trong tuần này.",
    ]
    offer = root.find("Gather")
    assert said(offer) == ["Để bổ sung thông tin cho hồ sơ này, xin bấm phím 1."]
    assert path_of(offer.get("action")) == f"{VOICE}/more?lang=vi&tries=0&code={case['code']}"
    assert path_of(root.findall("Gather")[1].get("action")) == f"{VOICE}/menu?lang=vi&tries=0"


async def test_a_caller_adds_to_their_own_case_by_keypad_and_a_stranger_cannot(twilio_client, post_signed):
    client = await twilio_client()
    pool = client.app[SERVICES].pool
    resp = await client.post("/api/v1/reports", json={"text": "Ổ gà lớn giữa đường Điện Biên Phủ", "phone": CITIZEN})
    code = (await resp.json())["tracking_code"]
    case_id = await pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    more = await twiml_of(await post_signed(client, f"{VOICE}/more?lang=vi&tries=0&code={code}", gather_digits("1")))
    listen = more.find("Gather")
    assert listen.get("input") == "speech" and listen.get("language") == "vi-VN"
    assert path_of(listen.get("action")) == f"{VOICE}/add?lang=vi&tries=0&code={code}"
    addition = "Ổ gà nay đã rộng hơn, có xe máy bị ngã"
    for _ in range(2):  # Twilio retries the webhook: one addition
        root = await twiml_of(await post_signed(client, path_of(listen.get("action")), gather_speech(addition)))
        assert said(root)[0] == f"Cảm ơn bạn. Thông tin bổ sung đã được ghi vào hồ sơ {spoken(code)}."
    rows = await pool.fetch("SELECT direction, channel, kind, text, recipient FROM messages WHERE case_id = $1"
                            " ORDER BY id", case_id)
    assert [(r["direction"], r["channel"], r["kind"]) for r in rows] == [
        ("in", "web", "message"), ("in", "voice", "message"), ("out", "sms", "notice")]
    assert rows[1]["text"] == addition and rows[2]["recipient"] == CITIZEN
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1
    # Another number keying the same code: what it says is a report of its own.
    stranger = "+84912345678"
    root = await twiml_of(await post_signed(client, path_of(listen.get("action")), gather_speech(
        addition, From=stranger, Caller=stranger, CallSid="CA" + "6b" * 16)))
    assert said(root)[0].startswith("Hồ sơ này không được gửi từ số điện thoại của bạn")
    assert await pool.fetchval("SELECT count(*) FROM cases") == 2
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE case_id = $1 AND direction = 'in'", case_id) == 2
    # Any other key, or nothing said: back to the menu, nothing stored.
    back = await twiml_of(await post_signed(client, f"{VOICE}/more?lang=vi&tries=0&code={code}", gather_digits("5")))
    assert path_of(back.find("Gather").get("action")) == f"{VOICE}/menu?lang=vi&tries=0"
    silent = await twiml_of(await post_signed(client, f"{VOICE}/add?lang=vi&tries=0&code={code}",
                                              call(CallStatus="in-progress")))
    assert said(silent)[0] == "Xin lỗi, chúng tôi chưa nghe được thông tin bổ sung."
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'in'") == 3


async def test_a_closed_case_is_read_without_the_offer_to_add(twilio_client, post_signed):
    client = await twilio_client()
    case = await _report(client)
    await client.app[SERVICES].pool.execute("UPDATE cases SET status = 'closed' WHERE id = $1", case["id"])
    root = await twiml_of(await post_signed(client, f"{VOICE}/check?lang=vi&tries=0", gather_digits(case["code"])))
    assert [path_of(g.get("action")).split("?")[0] for g in root.findall("Gather")] == [f"{VOICE}/menu"]


async def test_a_new_case_is_read_in_english_without_unit(twilio_client, post_signed):
    client = await twilio_client()
    case = await _report(client)
    root = await twiml_of(await post_signed(client, f"{VOICE}/check?lang=en&tries=0", gather_digits(case["code"])))
    assert said(root)[:2] == [f"Case {spoken(case['code'])}. Status: Received.",
                              "The case has not yet been passed to a unit."]


async def test_a_typed_code_with_a_typo_is_refused_and_asked_again(twilio_client, post_signed):
    client = await twilio_client()
    case = await _report(client)
    assert codes.normalise(typo(case["code"])) is None
    root = await twiml_of(await post_signed(client, f"{VOICE}/check?lang=vi&tries=0",
                                            gather_digits(typo(case["code"]))))
    assert said(root)[0] == "Mã hồ sơ bạn nhập không đúng."
    again = root.find("Gather")
    assert path_of(again.get("action")) == f"{VOICE}/check?lang=vi&tries=1"
    assert not any(case["code"][:5] in s.replace(", ", "") for s in said(root))
    root = await twiml_of(await post_signed(client, path_of(again.get("action")), gather_digits(case["code"])))
    assert said(root)[0].startswith(f"Hồ sơ mã {spoken(case['code'])}.")


async def test_a_well_formed_code_of_no_case_is_said_unknown(twilio_client, post_signed):
    client = await twilio_client()
    code = "987654321" + codes.check_digit("987654321")
    root = await twiml_of(await post_signed(client, f"{VOICE}/check?lang=vi&tries=0", gather_digits(code)))
    assert said(root)[0] == f"Không tìm thấy hồ sơ nào có mã {spoken(code)}."


# --- an agent, the queue, a voicemail ------------------------------------------------------------------

@pytest.fixture
async def fake_twilio(aiohttp_server):
    """Twilio's Calls resource, enough for ringing agents: it keeps what was posted."""
    posted: list[dict] = []

    async def create_call(request: web.Request) -> web.Response:
        form = dict(await request.post())
        posted.append({"account": request.match_info["sid"], "auth": request.headers.get("Authorization"), **form})
        return web.json_response({
            "sid": "CA" + f"{len(posted):032x}", "account_sid": request.match_info["sid"], "to": form.get("To"),
            "from": form.get("From"), "status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
            "date_created": "Thu, 03 Dec 2026 03:15:00 +0000",
            "uri": f"/2010-04-01/Accounts/{request.match_info['sid']}/Calls/CA{len(posted):032x}.json",
        }, status=201)

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Calls.json", create_call)
    server = await aiohttp_server(app)
    return server, posted


async def _agent(pool, name: str, phone: str, available: bool = True) -> int:
    user_id = await staff.create_user(pool, name, role="agent", display_name=name.title())
    await pool.execute("UPDATE staff_users SET phone = $2 WHERE id = $1", user_id, phone)
    await assignment.set_presence(pool, user_id, available)
    return user_id


async def test_in_hours_the_caller_is_queued_and_the_agents_on_call_are_rung_once(twilio_client, post_signed,
                                                                                 fake_twilio):
    server, posted = fake_twilio
    client = await twilio_client(twilio_api_url=str(server.make_url("")))
    services = client.app[SERVICES]
    services.clock = FixedClock(IN_HOURS)
    await _agent(services.pool, "lan", "+84912345678")
    await _agent(services.pool, "minh", "sip:minh@pbx.hotline.example.gov.vn")
    await _agent(services.pool, "away", "+84987654321", available=False)

    menu = await twiml_of(await post_signed(client, f"{VOICE}/menu?lang=vi&tries=0", gather_digits("0")))
    assert [child.tag for child in menu] == ["Redirect"]
    agent_path = path_of(menu[0].text)
    root = await twiml_of(await post_signed(client, agent_path, gather_digits("0")))
    enqueue = root.find("Enqueue")
    assert enqueue is not None and enqueue.text == "1022"
    assert path_of(enqueue.get("waitUrl")) == f"{VOICE}/wait?lang=vi&tries=0"
    assert path_of(enqueue.get("action")) == f"{VOICE}/dequeued?lang=vi&tries=0"
    assert sorted(p["To"] for p in posted) == ["+84912345678", "sip:minh@pbx.hotline.example.gov.vn"]
    for p in posted:
        assert p["account"] == ACCOUNT_SID and p["From"] == HOTLINE_NUMBER and p["auth"].startswith("Basic ")
        assert p["Twiml"] == "<Response><Dial><Queue>1022</Queue></Dial></Response>"
    # Twilio retries the webhook: the caller is queued again, nobody is rung twice.
    again = await twiml_of(await post_signed(client, agent_path, gather_digits("0")))
    assert again.find("Enqueue") is not None and len(posted) == 2


async def test_a_failed_ring_still_queues_the_caller(twilio_client, post_signed):
    client = await twilio_client()  # the API URL points at a closed port
    services = client.app[SERVICES]
    services.clock = FixedClock(IN_HOURS)
    await _agent(services.pool, "lan", "+84912345678")
    root = await twiml_of(await post_signed(client, f"{VOICE}/agent?lang=vi&tries=0", gather_digits("0")))
    assert root.find("Enqueue") is not None


@pytest.mark.parametrize("now, on_call, heard", [
    (OUT_OF_HOURS, True, "Tổng đài viên làm việc từ 7 giờ đến 21 giờ hằng ngày."),
    (IN_HOURS, False, "Xin lỗi, hiện chưa có tổng đài viên nào có thể nghe máy."),
])
async def test_out_of_hours_or_with_nobody_on_call_the_caller_leaves_a_voicemail(
        twilio_client, post_signed, fake_twilio, now, on_call, heard):
    server, posted = fake_twilio
    client = await twilio_client(twilio_api_url=str(server.make_url("")))
    services = client.app[SERVICES]
    services.clock = FixedClock(now)
    await _agent(services.pool, "lan", "+84912345678", available=on_call)
    root = await twiml_of(await post_signed(client, f"{VOICE}/agent?lang=vi&tries=0", gather_digits("0")))
    assert root.find("Enqueue") is None and said(root)[0] == heard
    record = root.find("Record")
    assert parse_qs(urlsplit(record.get("action")).query)["purpose"] == ["voicemail"]
    assert posted == []


async def test_a_voicemail_becomes_a_case_with_its_recording_queued_once(twilio_client, post_signed):
    client = await twilio_client()
    pool = client.app[SERVICES].pool
    path = f"{VOICE}/recorded?lang=vi&tries=0&purpose=voicemail"
    root = await twiml_of(await post_signed(client, path, record_action()))
    cases = await _voice_cases(pool)
    assert len(cases) == 1 and cases[0]["text"] == "(Lời nhắn thoại)"
    assert said(root)[0] == "Cảm ơn bạn. Lời nhắn của bạn đã được ghi lại, tổng đài viên sẽ xử lý sớm."
    assert f"Mã hồ sơ của bạn là: {spoken(cases[0]['tracking_code'])}." in said(root)
    fetches = await pool.fetch("SELECT f.url, f.content_type, f.status, f.channel, m.case_id FROM media_fetches f"
                               " JOIN messages m ON m.id = f.message_id")
    assert [tuple(f) for f in fetches] == [(RECORDING_URL + ".wav", "audio/wav", "queued", "voice", cases[0]["id"])]
    # Twilio retries the action, then the recording status callback arrives: still one case, one fetch.
    await twiml_of(await post_signed(client, path, record_action()))
    resp = await post_signed(client, f"{VOICE}/recording", recording_status())
    assert resp.status == 200
    assert len(await _voice_cases(pool)) == 1
    assert await pool.fetchval("SELECT count(*) FROM media_fetches") == 1
    event = await pool.fetchrow("SELECT kind, changes FROM case_events WHERE case_id = $1 AND kind = 'recording'",
                                cases[0]["id"])
    assert event["changes"] == {"recording_sid": RECORDING_SID, "status": "completed",
                                            "duration_seconds": 14}


async def test_a_transcript_is_the_voicemail_text_when_there_is_one(twilio_client, post_signed):
    client = await twilio_client()
    form = record_action(TranscriptionText="Please call me back about the flooding.")
    await post_signed(client, f"{VOICE}/recorded?lang=en&tries=0&purpose=voicemail", form)
    case = (await _voice_cases(client.app[SERVICES].pool))[0]
    assert case["text"] == "Please call me back about the flooding." and case["locale"] == "en"


async def test_a_recording_callback_before_the_action_queues_the_recording_once(twilio_client, post_signed):
    client = await twilio_client()
    pool = client.app[SERVICES].pool
    resp = await post_signed(client, f"{VOICE}/recording", recording_status())
    assert resp.status == 200 and await pool.fetchval("SELECT count(*) FROM media_fetches") == 0
    await post_signed(client, f"{VOICE}/recorded?lang=vi&tries=0&purpose=voicemail", record_action())
    await post_signed(client, f"{VOICE}/recording", recording_status())
    assert await pool.fetchval("SELECT count(*) FROM media_fetches") == 1


async def test_a_failed_recording_goes_on_the_timeline_and_queues_nothing_more(twilio_client, post_signed):
    client = await twilio_client()
    pool = client.app[SERVICES].pool
    await post_signed(client, f"{VOICE}/report?lang=vi&tries=0", gather_speech(SPEECH))
    resp = await post_signed(client, f"{VOICE}/recording", recording_status("failed", RecordingDuration="0"))
    assert resp.status == 200
    assert await pool.fetchval("SELECT count(*) FROM media_fetches") == 0
    changes = await pool.fetchval("SELECT changes FROM case_events WHERE kind = 'recording'")
    assert changes["status"] == "failed"


async def test_the_wait_url_says_the_position_then_leaves_after_the_longest_wait(twilio_client, post_signed):
    client = await twilio_client(ivr_max_wait_seconds=60)
    root = await twiml_of(await post_signed(client, f"{VOICE}/wait?lang=vi&tries=0", queue_wait(2, 30)))
    assert [child.tag for child in root] == ["Say", "Pause"]
    assert root[0].text == "Bạn đang ở vị trí số 2 trong hàng chờ. Xin vui lòng giữ máy."
    root = await twiml_of(await post_signed(client, f"{VOICE}/wait?lang=vi&tries=0", queue_wait(2, 60)))
    assert [child.tag for child in root] == ["Leave"]


async def test_the_wait_url_leaves_past_the_queue_size(twilio_client, post_signed):
    client = await twilio_client(ivr_queue_max=3)
    root = await twiml_of(await post_signed(client, f"{VOICE}/wait?lang=vi&tries=0", queue_wait(4, 5, size=4)))
    assert [child.tag for child in root] == ["Leave"]


@pytest.mark.parametrize("result, voicemail", [("leave", True), ("queue-full", True), ("error", True),
                                               ("bridged", False), ("hangup", False)])
async def test_leaving_the_queue_unanswered_takes_a_voicemail(twilio_client, post_signed, result, voicemail):
    client = await twilio_client()
    root = await twiml_of(await post_signed(client, f"{VOICE}/dequeued?lang=vi&tries=0", queue_result(result)))
    assert (root.find("Record") is not None) is voicemail
    assert root[-1].tag == "Hangup" and (root.find("Enqueue") is None)


# --- call status callbacks ---------------------------------------------------------------------------

async def test_call_status_callbacks_go_on_the_calls_case(twilio_client, post_signed):
    client = await twilio_client()
    pool = client.app[SERVICES].pool
    await post_signed(client, f"{VOICE}/report?lang=vi&tries=0", gather_speech(SPEECH))
    resp = await post_signed(client, f"{VOICE}/status", call_status("completed", "95"))
    assert resp.status == 200
    case_id = (await _voice_cases(pool))[0]["id"]
    rows = await pool.fetch("SELECT kind, changes, actor_kind FROM case_events WHERE case_id = $1"
                            " AND kind = 'call_status'", case_id)
    assert [(r["kind"], r["changes"], r["actor_kind"]) for r in rows] == [
        ("call_status", {"status": "completed", "duration_seconds": 95}, "system")]


async def test_a_status_for_a_call_without_a_case_is_acknowledged(twilio_client, post_signed):
    client = await twilio_client()
    resp = await post_signed(client, f"{VOICE}/status", call_status("no-answer", "0", CallSid="CA" + "0" * 32))
    assert resp.status == 200
    assert await client.app[SERVICES].pool.fetchval("SELECT count(*) FROM case_events") == 0


# --- whole calls, as Twilio runs the TwiML (the local simulator) -------------------------------------

@pytest.fixture
async def simulator(twilio_settings):
    from channels.twilio.peer import TwilioSimulator
    from tests.channels.twilio.conftest import AUTH_TOKEN

    async def make(client):
        sim = TwilioSimulator(str(client.make_url("")), twilio_settings.public_url, ACCOUNT_SID, AUTH_TOKEN,
                              number=HOTLINE_NUMBER)
        made.append(sim)
        return sim

    made: list = []
    yield make
    for sim in made:
        await sim.close()


async def test_a_whole_call_reports_by_speech_then_checks_the_case_by_keypad(twilio_client, simulator):
    client = await twilio_client()
    sim = await simulator(client)
    call = sim.call()
    assert (await call.start(CITIZEN))[0] == "Đường dây nóng một không hai hai xin chào bạn."
    await call.press("1")
    heard = await call.speak(SPEECH)
    case = (await _voice_cases(client.app[SERVICES].pool))[0]
    assert f"Mã hồ sơ của bạn là: {spoken(case['tracking_code'])}." in heard and call.ended

    again = sim.call()
    await again.start(CITIZEN)
    await again.press("7")
    assert again.heard[0] == "Phím không hợp lệ."
    await again.press("2")
    assert (await again.press(typo(case["tracking_code"]) + "#"))[0] == "Mã hồ sơ bạn nhập không đúng."
    heard = await again.press(case["tracking_code"] + "#")
    assert heard[0] == f"Hồ sơ mã {spoken(case['tracking_code'])}. Trạng thái: Đã tiếp nhận."
    assert again.pending.name == "Gather"  # the offer to add to the case, then the menu
    await again.press("1")
    heard = await again.speak("Bổ sung: đèn ở cột số 3, gần cổng trường")
    assert heard[0] == f"Cảm ơn bạn. Thông tin bổ sung đã được ghi vào hồ sơ {spoken(case['tracking_code'])}."
    assert again.ended
    texts = await client.app[SERVICES].pool.fetch(
        "SELECT text FROM messages WHERE case_id = $1 AND direction = 'in' ORDER BY id", case["id"])
    assert [r["text"] for r in texts] == [SPEECH, "Bổ sung: đèn ở cột số 3, gần cổng trường"]

    third = sim.call()
    await third.start(CITIZEN)
    for _ in range(3):
        await third.silence()
    assert third.ended and third.heard[-1].startswith("Cảm ơn bạn đã gọi")


async def test_a_whole_call_waits_for_an_agent_then_leaves_a_voicemail(twilio_client, simulator, fake_twilio):
    server, posted = fake_twilio
    client = await twilio_client(twilio_api_url=str(server.make_url("")), ivr_max_wait_seconds=40)
    services = client.app[SERVICES]
    services.clock = FixedClock(IN_HOURS)
    await _agent(services.pool, "lan", "+84912345678")
    sim = await simulator(client)
    call = sim.call()
    await call.start(CITIZEN)
    assert await call.press("0") == ["Xin bạn vui lòng giữ máy, cuộc gọi đang được chuyển đến tổng đài viên."]
    assert call.pending.name == "Enqueue" and len(posted) == 1
    rounds = 0
    while call.pending.name == "Enqueue":
        heard = await call.wait()
        rounds += 1
    assert rounds == 4  # 15 + 15 + 10 seconds of hold, then <Leave/> at 40 s
    assert heard[0] == "Xin lỗi, hiện chưa có tổng đài viên nào có thể nghe máy." and call.pending.name == "Record"
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}"
    heard = await call.record(url, duration=21)
    assert heard[0] == "Cảm ơn bạn. Lời nhắn của bạn đã được ghi lại, tổng đài viên sẽ xử lý sớm." and call.ended
    case = (await _voice_cases(services.pool))[0]
    assert case["text"] == "(Lời nhắn thoại)" and case["provider_message_id"] == call.sid
    assert await services.pool.fetchval("SELECT url FROM media_fetches") == url + ".wav"
