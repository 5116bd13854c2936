"""The local Twilio peer against the twilio library, and the webhook simulator against canned TwiML."""

import asyncio
import os
import re
import signal
import sys
from datetime import UTC, datetime
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from channels.twilio.client import local_url, rest_client
from channels.twilio.gsm import segments
from channels.twilio.peer import TWILIO_API, TwilioPeer, TwilioSimulator, parse_twiml, silent_wav
from kernel.time import FixedClock
from tests.channels.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, CITIZEN, HOTLINE_NUMBER

AT = datetime(2026, 12, 3, 6, 30, tzinfo=UTC)
TEXT = "Hồ sơ 2612030001 đã được tiếp nhận. Cảm ơn bạn đã phản ánh."
PUBLIC = "https://hotline.example.gov.vn"
AUTH = {"Authorization": aiohttp.encode_basic_auth(ACCOUNT_SID, AUTH_TOKEN)}


@pytest.fixture
async def peer():
    async with TwilioPeer(ACCOUNT_SID, AUTH_TOKEN, clock=FixedClock(AT)) as p:
        yield p


def _settings(peer, token=AUTH_TOKEN):
    return SimpleNamespace(twilio_account_sid=ACCOUNT_SID, twilio_auth_token=token, twilio_api_url=peer.base_url)


@pytest.fixture
async def twilio(peer):
    client = rest_client(_settings(peer))
    yield client
    await client.http_client.close()


async def _send(client, to=CITIZEN, **extra):
    return await client.messages.create_async(to=to, from_=HOTLINE_NUMBER, body=TEXT, **extra)


async def test_a_message_is_accepted_with_the_resource_twilio_returns(peer, twilio):
    message = await _send(twilio)
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.account_sid, message.to, message.from_, message.body) == (ACCOUNT_SID, CITIZEN, HOTLINE_NUMBER,
                                                                              TEXT)
    assert (message.status, message.direction, message.api_version) == ("queued", "outbound-api", "2010-04-01")
    assert message.num_segments == str(segments(TEXT)) == "1" and message.num_media == "0"
    assert message.date_created == message.date_updated == message.date_sent == AT
    assert message.price is None and message.error_code is None and message.error_message is None
    assert message.messaging_service_sid is None
    assert message.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message.sid}.json"
    assert message.subresource_uris == {"media": message.uri.removesuffix(".json") + "/Media.json"}
    [kept] = peer.messages
    assert (kept.sid, kept.to, kept.body, kept.status_callback) == (message.sid, CITIZEN, TEXT, None)
    # The wire format: dates in RFC 2822, as Twilio writes them.
    assert kept.resource["date_created"] == "Thu, 03 Dec 2026 06:30:00 +0000"
    fetched = await twilio.messages(message.sid).fetch_async()
    assert fetched.sid == message.sid and fetched.body == TEXT


async def test_wrong_credentials_are_401_with_twilios_error(peer):
    client = rest_client(_settings(peer, token="not-the-token"))
    try:
        with pytest.raises(TwilioRestException) as caught:
            await _send(client)
    finally:
        await client.http_client.close()
    assert caught.value.status == 401 and caught.value.code == 20003
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{peer.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
                                data={"To": CITIZEN, "From": HOTLINE_NUMBER, "Body": "x"}) as resp:
            assert resp.status == 401
            assert await resp.json() == {"code": 20003, "message": "Authenticate",
                                         "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
    assert peer.messages == []


async def test_a_number_not_in_e164_is_400_21211(peer, twilio):
    with pytest.raises(TwilioRestException) as caught:
        await _send(twilio, to="0901234567")
    assert caught.value.status == 400 and caught.value.code == 21211
    assert peer.messages == []


@pytest.mark.parametrize("status, code", [(429, 20429), (500, 20500), (503, 20503)])
async def test_injected_faults_raise_with_status_and_code(peer, twilio, status, code):
    peer.fail_next(status)
    with pytest.raises(TwilioRestException) as caught:
        await _send(twilio)
    assert caught.value.status == status and caught.value.code == code
    assert (await _send(twilio)).status == "queued"  # normal service resumes
    assert [seen.status for seen in peer.requests] == [status, 201]
    assert len(peer.messages) == 1


async def test_fail_next_counts_and_queues_faults_in_order(peer, twilio):
    peer.fail_next(429, retry_after=2.5)
    peer.fail_next(500, times=2)
    peer.fail_next(500, path="/Calls.json")  # another path: messages are not affected
    statuses = []
    for _ in range(4):
        try:
            await _send(twilio)
            statuses.append(201)
        except TwilioRestException as e:
            statuses.append(e.status)
    assert statuses == [429, 500, 500, 201]
    assert [seen.status for seen in peer.requests_to("/Messages.json")] == [429, 500, 500, 201]
    assert len(peer.messages) == 1
    peer.fail_next(429, retry_after=2.5)
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(f"{peer.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
                                data={"To": CITIZEN, "From": HOTLINE_NUMBER, "Body": "x"}) as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "3"
            assert (await resp.json())["code"] == 20429


async def test_media_and_recordings_are_served_with_basic_auth_only(peer):
    picture = b"\xff\xd8\xff\xe0" + b"\x00" * 32
    media_url = peer.add_media(picture, "image/jpeg")
    assert re.fullmatch(rf"https://api\.twilio\.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM[0-9a-f]{{32}}"
                        r"/Media/ME[0-9a-f]{32}", media_url)
    recording = silent_wav(0.5)
    recording_url = peer.add_recording(recording)
    assert re.fullmatch(rf"https://api\.twilio\.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE[0-9a-f]{{32}}",
                        recording_url)
    settings = _settings(peer)
    media_at, recording_at = local_url(settings, media_url), local_url(settings, recording_url) + ".wav"
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.get(media_at) as resp:
            assert resp.status == 200 and resp.content_type == "image/jpeg" and await resp.read() == picture
        async with session.get(recording_at) as resp:
            assert resp.status == 200 and resp.content_type == "audio/x-wav" and await resp.read() == recording
        async with session.get(local_url(settings, recording_url)[:-4] + "0000.wav") as resp:
            assert resp.status == 404 and (await resp.json())["code"] == 20404
    async with aiohttp.ClientSession() as session:
        for url in (media_at, recording_at):
            async with session.get(url) as resp:
                assert resp.status == 401 and (await resp.json())["code"] == 20003


async def test_calls_are_recorded(peer, twilio):
    call = await twilio.calls.create_async(to=CITIZEN, from_=HOTLINE_NUMBER,
                                           twiml="<Response><Say>Xin chào</Say></Response>")
    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid) and call.status == "queued" and call.to == CITIZEN
    [kept] = peer.calls
    assert kept.sid == call.sid and kept.twiml == "<Response><Say>Xin chào</Say></Response>" and kept.url is None


@pytest.fixture
async def receiver(aiohttp_server):
    """A tiny status-callback endpoint that checks each X-Twilio-Signature the way the hotline does."""
    received = []

    async def status(request: web.Request) -> web.Response:
        form = dict(await request.post())
        valid = RequestValidator(AUTH_TOKEN).validate(str(request.url), form,
                                                      request.headers.get("X-Twilio-Signature", ""))
        received.append((valid, request.query.get("m"), form))
        return web.Response(status=204 if valid else 403)

    app = web.Application()
    app.router.add_post("/channels/twilio/sms/status", status)
    server = await aiohttp_server(app)
    return SimpleNamespace(url=str(server.make_url("/channels/twilio/sms/status")), received=received)


async def test_status_callbacks_arrive_signed_sent_then_delivered(peer, twilio, receiver):
    message = await _send(twilio, status_callback=receiver.url + "?m=41")
    await peer.settle()
    assert [(valid, m, form["MessageStatus"]) for valid, m, form in receiver.received] == [
        (True, "41", "sent"), (True, "41", "delivered")]
    form = receiver.received[-1][2]
    assert form == {"SmsSid": message.sid, "SmsStatus": "delivered", "MessageStatus": "delivered", "To": CITIZEN,
                    "MessageSid": message.sid, "AccountSid": ACCOUNT_SID, "From": HOTLINE_NUMBER,
                    "ApiVersion": "2010-04-01"}
    assert peer.messages[0].status == "delivered"
    assert [callback.answer for callback in peer.callbacks] == [204, 204]


async def test_unreachable_numbers_end_undelivered_with_30003(peer, twilio, receiver):
    peer.unreachable.add(CITIZEN)
    await _send(twilio, status_callback=receiver.url + "?m=7")
    await peer.settle()
    assert [form["MessageStatus"] for _, _, form in receiver.received] == ["sent", "undelivered"]
    assert receiver.received[-1][2]["ErrorCode"] == "30003" and all(valid for valid, _, _ in receiver.received)
    assert peer.messages[0].status == "undelivered"


async def test_held_callbacks_wait_for_release(peer, twilio, receiver):
    peer.hold_callbacks()
    message = await _send(twilio, status_callback=receiver.url + "?m=1")
    await twilio.messages(message.sid).fetch_async()  # a round trip: time enough for an unheld callback
    assert receiver.received == [] and peer.messages[0].status == "queued"
    peer.release_callbacks()
    await peer.settle()
    assert len(receiver.received) == 2


# -- the simulator

CANNED = {
    "/channels/twilio/voice": """<?xml version="1.0" encoding="UTF-8"?><Response>
        <Gather input="dtmf" numDigits="1" action="/channels/twilio/voice/menu" language="vi-VN">
          <Say language="vi-VN">Xin chào. Bấm phím 1 để phản ánh, phím 2 để tra cứu.</Say></Gather>
        <Say language="vi-VN">Xin tạm biệt.</Say><Hangup/></Response>""",
    "/channels/twilio/voice/menu": "<Response><Redirect>/channels/twilio/voice/report?lang=vi</Redirect></Response>",
    "/channels/twilio/voice/report": """<Response>
        <Gather input="speech" action="report/said" speechTimeout="auto"><Say>Xin mời nói nội dung.</Say></Gather>
        <Say>Xin để lại lời nhắn sau tiếng bíp.</Say><Record action="/channels/twilio/voice/recorded" maxLength="120"/>
        </Response>""",
    "/channels/twilio/voice/report/said": """<Response><Say>Mã hồ sơ của bạn là 2612030001.</Say></Response>""",
    "/channels/twilio/voice/recorded": """<Response><Say>Đã nhận lời nhắn.</Say><Hangup/></Response>""",
    "/channels/twilio/voice/agent": """<Response><Say>Xin giữ máy.</Say>
        <Enqueue waitUrl="/channels/twilio/voice/wait" action="/channels/twilio/voice/dequeued">1022</Enqueue>
        </Response>""",
    # Hold music for 15 seconds, then out of the queue.
    "/channels/twilio/voice/wait": lambda form: "<Response><Leave/></Response>" if int(form["QueueTime"]) >= 15
    else '<Response><Say>Bạn đang ở vị trí số 1.</Say><Pause length="15"/></Response>',
    "/channels/twilio/voice/dequeued": lambda form: "<Response><Hangup/></Response>" if form["QueueResult"] == "hangup"
    else '<Response><Say>Xin để lại lời nhắn.</Say><Record action="/channels/twilio/voice/recorded"/></Response>',
    "/channels/twilio/sms": """<?xml version="1.0" encoding="UTF-8"?><Response><Message>Đã nhận phản ánh.</Message>
        </Response>""",
}


@pytest.fixture
async def canned(aiohttp_server):
    """An app answering canned TwiML; it refuses any request not signed for its public URL."""
    seen = []

    async def answer(request: web.Request) -> web.Response:
        form = dict(await request.post())
        if not RequestValidator(AUTH_TOKEN).validate(PUBLIC + request.path_qs, form,
                                                     request.headers.get("X-Twilio-Signature", "")):
            return web.Response(status=403)
        seen.append((request.path_qs, form))
        answer = CANNED[request.path]
        return web.Response(text=answer(form) if callable(answer) else answer, content_type="text/xml")

    app = web.Application()
    for path in CANNED:
        app.router.add_post(path, answer)
    server = await aiohttp_server(app)
    async with TwilioSimulator(str(server.make_url("")), PUBLIC, ACCOUNT_SID, AUTH_TOKEN,
                               number=HOTLINE_NUMBER) as sim:
        yield SimpleNamespace(sim=sim, seen=seen)


def test_twiml_is_parsed_into_verbs():
    verbs = parse_twiml(CANNED["/channels/twilio/voice"])
    assert [v.name for v in verbs] == ["Gather", "Say", "Hangup"]
    assert verbs[0].attrs["numDigits"] == "1" and verbs[0].attrs["action"] == "/channels/twilio/voice/menu"
    assert verbs[0].said == ["Xin chào. Bấm phím 1 để phản ánh, phím 2 để tra cứu."]
    assert parse_twiml(CANNED["/channels/twilio/voice/menu"])[0].text == "/channels/twilio/voice/report?lang=vi"
    with pytest.raises(ValueError):
        parse_twiml("<Document/>")


async def test_an_sms_is_posted_with_every_field_twilio_sends(canned):
    reply = await canned.sim.post_sms(CITIZEN, "Đèn đường hỏng", media_urls=["https://api.twilio.com/m/1"])
    assert reply.status == 200 and reply.messages == ["Đã nhận phản ánh."]
    [(path, form)] = canned.seen
    assert path == "/channels/twilio/sms"
    assert set(form) == {"ToCountry", "ToState", "SmsMessageSid", "NumMedia", "ToCity", "FromZip", "SmsSid",
                         "FromState", "SmsStatus", "FromCity", "Body", "FromCountry", "To", "ToZip", "NumSegments",
                         "MessageSid", "AccountSid", "From", "ApiVersion", "MediaUrl0", "MediaContentType0"}
    assert (form["From"], form["To"], form["Body"], form["NumMedia"]) == (CITIZEN, HOTLINE_NUMBER, "Đèn đường hỏng",
                                                                          "1")
    assert form["MessageSid"] == form["SmsSid"] == form["SmsMessageSid"] and form["MessageSid"].startswith("MM")
    assert form["FromCountry"] == "VN" and form["SmsStatus"] == "received"


async def test_a_call_follows_the_twiml_keys_redirects_speech_and_silence(canned):
    call = canned.sim.call()
    heard = await call.start(CITIZEN)
    assert heard == ["Xin chào. Bấm phím 1 để phản ánh, phím 2 để tra cứu."]
    assert call.pending.name == "Gather" and not call.ended
    first = canned.seen[0][1]
    assert first["CallStatus"] == "ringing" and first["Direction"] == "inbound" and first["Caller"] == CITIZEN
    assert first["CallSid"] == call.sid and len(first) == 25

    heard = await call.press("1")  # -> /menu, which redirects to /report
    assert heard == ["Xin mời nói nội dung."] and call.pending.attrs["input"] == "speech"
    assert [path for path, _ in canned.seen[1:]] == ["/channels/twilio/voice/menu",
                                                     "/channels/twilio/voice/report?lang=vi"]
    assert canned.seen[1][1]["Digits"] == "1" and canned.seen[1][1]["CallStatus"] == "in-progress"

    heard = await call.speak("Đường Lê Lợi bị ngập", confidence=0.87)
    assert heard == ["Mã hồ sơ của bạn là 2612030001."] and call.ended and call.pending is None
    path, form = canned.seen[-1]
    assert path == "/channels/twilio/voice/report/said"  # a relative action resolves against the TwiML's URL
    assert form["SpeechResult"] == "Đường Lê Lợi bị ngập" and float(form["Confidence"]) == 0.87
    with pytest.raises(ValueError):
        await call.press("2")


async def test_silence_goes_on_to_the_next_verb_and_a_recording_is_posted(canned):
    call = canned.sim.call()
    await call.start(CITIZEN)
    await call.press("1#")
    assert canned.seen[1][1]["Digits"] == "1"  # the finishing key is not part of Digits
    heard = await call.silence()  # no speech: Twilio goes on after the <Gather>, without requesting its action
    assert heard == ["Xin để lại lời nhắn sau tiếng bíp."] and call.pending.name == "Record"
    assert len(canned.seen) == 3
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'a' * 32}"
    heard = await call.record(url, duration=14)
    assert heard == ["Đã nhận lời nhắn."] and call.ended
    form = canned.seen[-1][1]
    assert (form["RecordingUrl"], form["RecordingSid"], form["RecordingDuration"]) == (url, "RE" + "a" * 32, "14")
    assert call.said == ["Xin chào. Bấm phím 1 để phản ánh, phím 2 để tra cứu.", "Xin mời nói nội dung.",
                         "Xin để lại lời nhắn sau tiếng bíp.", "Đã nhận lời nhắn."]


async def test_silence_at_the_menu_plays_the_rest_and_hangs_up(canned):
    call = canned.sim.call()
    await call.start(CITIZEN)
    assert await call.silence() == ["Xin tạm biệt."] and call.ended
    assert len(canned.seen) == 1


async def test_a_queued_caller_waits_then_leaves_through_the_enqueue_action(canned):
    call = canned.sim.call()
    assert await call.start(CITIZEN, path="/channels/twilio/voice/agent") == ["Xin giữ máy."]
    assert call.pending.name == "Enqueue" and call.pending.text == "1022"
    assert await call.silence() == ["Bạn đang ở vị trí số 1."] and call.pending.name == "Enqueue"
    assert canned.seen[-1][1]["QueueTime"] == "0" and canned.seen[-1][1]["QueuePosition"] == "1"
    assert await call.wait() == ["Xin để lại lời nhắn."] and call.pending.name == "Record"
    path, form = canned.seen[-1]
    assert path == "/channels/twilio/voice/dequeued" and (form["QueueResult"], form["QueueTime"]) == ("leave", "15")


async def test_hanging_up_in_the_queue_reports_it_to_the_enqueue_action(canned):
    call = canned.sim.call()
    await call.start(CITIZEN, path="/channels/twilio/voice/agent")
    await call.hang_up()
    path, form = canned.seen[-1]
    assert call.ended and path == "/channels/twilio/voice/dequeued"
    assert (form["QueueResult"], form["CallStatus"]) == ("hangup", "completed")


async def test_a_wrong_signature_is_an_application_error(canned):
    wrong = TwilioSimulator(canned.sim.app_url, PUBLIC, ACCOUNT_SID, "another-token")
    async with wrong:
        call = wrong.call()
        assert await call.start(CITIZEN) == ["[application error 403]"] and call.ended


# -- the command line, in a process of its own against the canned TwiML


ENV = {**os.environ, "HOTLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "HOTLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
       "HOTLINE_TWILIO_NUMBER": HOTLINE_NUMBER, "HOTLINE_PUBLIC_URL": PUBLIC, "HOTLINE_TWILIO_API_URL": TWILIO_API}


async def _hotline(canned, *argv: str, stdin: bytes = b"") -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.cli", "twilio", "simulate", *argv, "--url", canned.sim.app_url, env=ENV,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    return process.returncode, out.decode()


async def test_simulate_sms_posts_a_signed_sms_and_prints_the_twiml(canned):
    code, out = await _hotline(canned, "sms", "--from", CITIZEN, "Cống bị tắc ở hẻm 12")
    assert code == 0 and out.startswith("HTTP 200\n") and "<Message>Đã nhận phản ánh.</Message>" in out
    [(path, form)] = canned.seen
    assert path == "/channels/twilio/sms" and form["Body"] == "Cống bị tắc ở hẻm 12" and form["From"] == CITIZEN


async def test_simulate_call_plays_the_ivr_from_the_terminal(canned):
    code, out = await _hotline(canned, "call", "--from", CITIZEN, stdin=b"1\n\nrec\n")
    assert code == 0, out
    # The prompt names what the IVR waits for; the input piped in does not echo.
    assert out.splitlines()[1:] == [
        "IVR: Xin chào. Bấm phím 1 để phản ánh, phím 2 để tra cứu.", "[dtmf] > IVR: Xin mời nói nội dung.",
        "[speech] > IVR: Xin để lại lời nhắn sau tiếng bíp.", "[rec] > IVR: Đã nhận lời nhắn.", "[call ended]"]
    assert [path for path, _ in canned.seen] == [
        "/channels/twilio/voice", "/channels/twilio/voice/menu", "/channels/twilio/voice/report?lang=vi",
        "/channels/twilio/voice/recorded"]
    assert canned.seen[-1][1]["RecordingUrl"].startswith(f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/")


async def test_the_peer_command_prints_each_message_with_the_number_masked():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.cli", "twilio", "peer", env=ENV, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        first = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        base_url = re.search(r" on (http://127\.0\.0\.1:\d+) ", first).group(1)
        client = rest_client(SimpleNamespace(twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
                                             twilio_api_url=base_url))
        try:
            message = await _send(client)
        finally:
            await client.http_client.close()
        lines = [(await asyncio.wait_for(process.stdout.readline(), timeout=10)).decode() for _ in range(2)]
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
    assert lines == [f"SMS {message.sid} to ***, 1 segment(s):\n", f"  {TEXT}\n"]
    assert process.returncode == 0
