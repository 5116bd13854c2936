"""End to end against the local Twilio peer: a spoken report by phone, the worker, an SMS acknowledgement
through a busy then failing Twilio, its delivery report, a second call checking the case, and an SMS reply
that joins the case. The hotline runs as a real server on 127.0.0.1 so the peer's callbacks reach it."""

import socket
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestServer

from casework import codes
from casework.models import STATUS_LABELS
from channels.twilio import ivr
from channels.twilio.peer import TwilioPeer, TwilioSimulator, silent_wav
from hotline import pipeline
from hotline.app import create_app
from hotline.demo import seed
from hotline.services import Services
from kernel.time import FixedClock
from tests.channels.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, CITIZEN, HOTLINE_NUMBER

REPORT = "Đường Lê Lợi phường Bến Thành bị ngập nước sâu sau cơn mưa chiều nay"
FOLLOW_UP = "Vẫn còn ngập, chưa ai đến"
OTHER_CITIZEN = "+84912345678"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def hotline(twilio_settings, pool):
    """The hotline serving on a known port (its public URL), a worker's services on a set clock, the peer."""
    async with pool.acquire() as conn:
        await seed(conn)
    port = _free_port()
    async with TwilioPeer(ACCOUNT_SID, AUTH_TOKEN) as peer:
        settings = twilio_settings.model_copy(update={
            "twilio_api_url": peer.base_url, "public_base_url": f"http://127.0.0.1:{port}",
            "classifier_model": "auto", "geocoder": "auto"})
        server = TestServer(create_app(settings), host="127.0.0.1", port=port)
        await server.start_server()
        worker = await Services.start(settings)
        worker.clock = FixedClock(await pool.fetchval("SELECT now()"))
        sim = TwilioSimulator(settings.public_url, settings.public_url, ACCOUNT_SID, AUTH_TOKEN,
                              number=HOTLINE_NUMBER)
        try:
            yield SimpleNamespace(peer=peer, sim=sim, worker=worker, clock=worker.clock)
        finally:
            await sim.close()
            for adapter in {id(a): a for a in worker.adapters.values()}.values():
                if hasattr(adapter, "close"):
                    await adapter.close()
            await worker.close()
            await server.close()


async def _send_until_sent(hotline, pool) -> list[str]:
    """Run the outbox as the worker does, moving the clock to each retry's time; the outcome of each attempt."""
    outcomes = []
    for _ in range(5):
        assert await pipeline.send_pending(hotline.worker) == 1
        row = await pool.fetchrow("SELECT status, next_attempt_at FROM messages WHERE kind = 'ack'")
        outcomes.append(row["status"])
        if row["status"] != "queued":
            return outcomes
        # Backing off: nothing is due before the retry's time.
        assert await pipeline.send_pending(hotline.worker) == 0
        hotline.clock.at = row["next_attempt_at"]
    return outcomes


async def test_a_call_becomes_a_routed_case_acknowledged_by_sms_checked_by_phone_and_followed_up_by_sms(
        hotline, pool):
    peer, sim = hotline.peer, hotline.sim

    # 1. A call: key 1, then the report spoken; the caller hears the new case's code.
    call = sim.call()
    assert (await call.start(CITIZEN))[0] == ivr.text("greeting", ivr.Lang.VI)
    assert await call.press("1") == [ivr.text("report_prompt", ivr.Lang.VI)]
    heard = await call.speak(REPORT, confidence=0.93)
    case = await pool.fetchrow("SELECT * FROM cases")
    code = case["tracking_code"]
    assert case["channel"] == "voice" and case["description"] == REPORT and case["status"] == "received"
    assert ivr.text("your_code", ivr.Lang.VI, digits=ivr.spoken_digits(code)) in heard
    assert ivr.text("code_by_sms", ivr.Lang.VI) in heard and call.ended

    # 2. The worker classifies and routes it, and queues the acknowledgement by SMS.
    outcomes = await pipeline.process_pending(hotline.worker)
    assert [o.status for o in outcomes] == ["processed"]
    case = await pool.fetchrow("SELECT * FROM cases WHERE id = $1", case["id"])
    assert case["field"] == "drainage_flooding" and case["status"] == "forwarded"
    assert case["department"] is not None and case["ward_code"] == "26743"

    # 3. Twilio is busy (429), then failing (500), then takes the message; its reports wait till we are done.
    peer.fail_next(429)
    peer.fail_next(500)
    peer.hold_callbacks()
    assert await _send_until_sent(hotline, pool) == ["queued", "queued", "sent"]
    ack = await pool.fetchrow("SELECT * FROM messages WHERE kind = 'ack'")
    assert ack["attempts"] == 3 and ack["channel"] == "sms" and ack["recipient"] == CITIZEN
    assert [seen.status for seen in peer.requests_to("/Messages.json")] == [429, 500, 201]
    [sms] = peer.messages
    assert sms.to == CITIZEN and sms.from_ == HOTLINE_NUMBER and codes.display(code) in sms.body
    assert ack["external_id"] == sms.sid and sms.status_callback.endswith(f"/channels/twilio/sms/status?m={ack['id']}")

    # 4. Twilio's signed reports reach the hotline: the message is delivered.
    peer.release_callbacks()
    await peer.settle()
    assert [(c.form["MessageStatus"], c.answer) for c in peer.callbacks] == [("sent", 204), ("delivered", 204)]
    assert await pool.fetchval("SELECT status FROM messages WHERE id = $1", ack["id"]) == "delivered"

    # 5. A second call: key 2 and the code; the caller hears the case's status and its unit.
    call = sim.call()
    await call.start(CITIZEN)
    assert await call.press("2") == [ivr.text("check_prompt", ivr.Lang.VI)]
    heard = await call.press(code + "#")
    unit = await pool.fetchval("SELECT name_vi FROM departments WHERE code = $1", case["department"])
    assert heard[:2] == [
        ivr.text("case_status", ivr.Lang.VI, digits=ivr.spoken_digits(code), status=STATUS_LABELS["forwarded"][0]),
        ivr.text("case_unit", ivr.Lang.VI, unit=unit)]
    assert call.pending.name == "Gather" and not call.ended  # back at the menu
    await call.hang_up()

    # 6. The citizen texts back: the SMS joins the same case, no new one.
    reply = await sim.post_sms(CITIZEN, FOLLOW_UP)
    assert reply.status == 200
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1
    inbound = await pool.fetch("SELECT channel, text, case_id FROM messages WHERE direction = 'in' ORDER BY id")
    assert [(m["channel"], m["text"], m["case_id"]) for m in inbound] == [
        ("voice", REPORT, case["id"]), ("sms", FOLLOW_UP, case["id"])]


async def test_a_recorded_report_and_an_mms_picture_are_fetched_from_the_peer(hotline, pool):
    peer, sim = hotline.peer, hotline.sim
    recording = silent_wav(2.0)
    picture = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4

    # Nothing recognised: the caller records the report instead.
    call = sim.call()
    await call.start(CITIZEN)
    await call.press("1")
    assert await call.silence() == [ivr.text("report_record", ivr.Lang.VI)] and call.pending.name == "Record"
    heard = await call.record(peer.add_recording(recording), duration=2)
    assert heard[0] == ivr.text("report_taken", ivr.Lang.VI) and call.ended
    # A picture by MMS from another citizen.
    reply = await sim.post_sms(OTHER_CITIZEN, "Cống bể trước nhà số 12",
                               media_urls=[(peer.add_media(picture, "image/jpeg"), "image/jpeg")])
    assert reply.status == 200

    peer.fail_next(503, path="/Recordings/")  # Twilio's storage hiccups once: the fetch is retried
    assert await pipeline.fetch_media_pending(hotline.worker) == 2
    hotline.clock.advance(minutes=5)
    assert await pipeline.fetch_media_pending(hotline.worker) == 1
    rows = await pool.fetch("SELECT c.channel, c.description, a.content_type, a.data FROM attachments a"
                            " JOIN messages m ON m.id = a.message_id JOIN cases c ON c.id = m.case_id ORDER BY c.id")
    assert [(r["channel"], r["description"], r["content_type"], bytes(r["data"])) for r in rows] == [
        ("voice", ivr.VOICEMAIL_TEXT, "audio/x-wav", recording),
        ("sms", "Cống bể trước nhà số 12", "image/jpeg", picture)]
    assert [seen.status for seen in peer.requests if "/Messages/" in seen.path or "/Recordings/" in seen.path] == [
        503, 200, 200]


async def test_webhooks_signed_with_another_token_are_refused_and_store_nothing(hotline, pool):
    forged = TwilioSimulator(hotline.sim.app_url, hotline.sim.public_url, ACCOUNT_SID, "not-the-auth-token",
                             number=HOTLINE_NUMBER)
    async with forged:
        assert (await forged.post_sms(CITIZEN, REPORT)).status == 403
        call = forged.call()
        assert await call.start(CITIZEN) == ["[application error 403]"] and call.ended
    assert await pool.fetchval("SELECT count(*) FROM messages") == 0
