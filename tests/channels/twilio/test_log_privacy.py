"""The Twilio channels leak no phone number or report text into any log record, aiohttp's included.

A text, a call with a spoken report and a keyed addition, delivery reports (one undelivered), a
refused send, a STOP and a send to the stopped number all run with every logger at DEBUG.
"""

from __future__ import annotations

import socket

from aiohttp.test_utils import TestServer

from casework import actions
from channels.twilio.peer import TwilioPeer, TwilioSimulator
from hotline import pipeline
from hotline.app import create_app
from hotline.services import Services
from kernel.time import FixedClock
from tests.channels.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, HOTLINE_NUMBER
from tests.hotline.test_log_privacy import _leaks, captured  # noqa: F401 - captured is a fixture

CALLER = "+84912345678"  # the SECRETS of test_log_privacy name this number in every form
TEXT = "Tôi là Nguyễn Văn Quyết, bồn Zanthorium tràn ra hẻm quibblestone"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_no_phone_number_or_text_reaches_any_log_record(twilio_settings, pool, captured):  # noqa: F811
    port = _free_port()
    async with TwilioPeer(ACCOUNT_SID, AUTH_TOKEN) as peer:
        settings = twilio_settings.model_copy(update={"twilio_api_url": peer.base_url,
                                                      "public_base_url": f"http://127.0.0.1:{port}"})
        server = TestServer(create_app(settings), host="127.0.0.1", port=port)
        await server.start_server()
        worker = await Services.start(settings)
        worker.clock = FixedClock(await pool.fetchval("SELECT now()"))
        sim = TwilioSimulator(settings.public_url, settings.public_url, ACCOUNT_SID, AUTH_TOKEN, number=HOTLINE_NUMBER)
        try:
            resp = await sim.post_sms(CALLER, TEXT)
            assert resp.status == 200
            call = sim.call()
            await call.start(CALLER)
            await call.press("1")
            await call.speak(TEXT)
            await pipeline.process_pending(worker)
            peer.unreachable.add(CALLER)  # its delivery reports say undelivered, 30003
            peer.fail_next(400, code=21211)  # and one send is refused outright
            await pipeline.send_pending(worker)
            await peer.settle()
            code = await pool.fetchval("SELECT tracking_code FROM cases WHERE channel = 'voice'")
            again = sim.call()
            await again.start(CALLER)
            await again.press("2")
            await again.press(code + "#")
            await again.press("1")
            await again.speak(TEXT + " thêm")
            assert (await sim.post_sms(CALLER, "STOP")).status == 200
            async with pool.acquire() as conn:
                case = await conn.fetchrow("SELECT id, channel, citizen_id, locale FROM cases WHERE channel = 'sms'")
                await actions.queue_outbound(conn, case, text=TEXT, kind="reply", key="after-stop", author_id=None,
                                             recipient=CALLER)
            await pipeline.send_pending(worker)
        finally:
            await sim.close()
            await worker.close()
            await server.close()
    statuses = {r["status"] for r in await pool.fetch("SELECT status FROM messages WHERE direction = 'out'")}
    assert "failed" in statuses  # the failures were logged, and the logs are what is checked
    assert len(captured.records) > 20
    assert _leaks(captured) == []
