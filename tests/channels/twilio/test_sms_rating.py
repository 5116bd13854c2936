"""Satisfaction by SMS: the answer asks for a rating; a reply "1"-"5" or "0" is one (signed webhooks, fake Twilio)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casework import actions
from casework.models import Actor, Role, Status
from channels.base import OutboundMessage
from channels.twilio.adapter import RATING_PROMPT, sms_body
from channels.twilio.gsm import is_gsm7, segments
from hotline import pipeline
from kernel.http import SERVICES
from kernel.time import FixedClock
from tests.channels.twilio.conftest import CITIZEN
from tests.channels.twilio.test_sms import EMPTY_TWIML, REPORT, process, send_sms

AGENT = Actor(kind="staff", id=None, name="agent", role=Role.AGENT)
ANSWER = "Đội thoát nước đã thông cống trước số 120 Võ Văn Kiệt sáng nay."
OTHER = "+84912345678"


@pytest.fixture
async def app(twilio_client, twilio):
    client = await twilio_client(twilio_api_url=twilio[1])
    yield client
    await client.app[SERVICES].adapters["sms"].close()


@pytest.fixture
async def twilio(aiohttp_server):
    from tests.channels.twilio.test_adapter import FakeTwilio

    fake = FakeTwilio()
    server = await aiohttp_server(fake.app())
    return fake, str(server.make_url("/")).rstrip("/")


async def answered_case(app, post_signed, pool, *, n: int = 1, body: str = REPORT) -> int:
    """A report by SMS, processed (acknowledged), answered by an agent, and everything sent; the app's clock is set
    to the answer's time (the database's clock, which stamps our messages)."""
    await send_sms(app, post_signed, n, body)
    case_id = await pool.fetchval("SELECT id FROM cases ORDER BY id DESC LIMIT 1")
    await process(app, case_id)
    now = await pool.fetchval("SELECT now()")
    await actions.reply(pool, case_id, AGENT, ANSWER, final=True, now=now)
    await pipeline.send_pending(app.app[SERVICES])
    app.app[SERVICES].clock = FixedClock(now)
    return case_id


async def test_the_answer_ends_with_the_rating_prompt_and_the_acknowledgement_does_not(app, post_signed, pool,
                                                                                        twilio):
    case_id = await answered_case(app, post_signed, pool)
    ack, answer = twilio[0].messages
    assert "Đánh giá" not in ack["Body"]
    assert answer["Body"] == f"{ANSWER}\n{RATING_PROMPT['vi']}" and answer["To"] == CITIZEN
    stored = await pool.fetchrow("SELECT text, segments FROM messages WHERE case_id = $1 AND kind = 'reply'", case_id)
    assert stored["text"] == ANSWER  # the case keeps the answer; the prompt is the channel's
    # UCS-2: the answer alone is 64 characters (one SMS), with the prompt 134 (two parts of 67).
    assert (segments(ANSWER), stored["segments"], segments(answer["Body"])) == (1, 2, 2)


async def test_the_closing_notice_asks_too_and_in_gsm7_when_the_hotline_saves(twilio_client, twilio, post_signed,
                                                                                pool):
    app = await twilio_client(twilio_api_url=twilio[1], sms_ascii=True)
    try:
        await send_sms(app, post_signed, 1, REPORT)
        case_id = await pool.fetchval("SELECT id FROM cases")
        await process(app, case_id)
        await actions.change_status(pool, case_id, Status.CLOSED, AGENT, reason="Đã xử lý xong")
        await pipeline.send_pending(app.app[SERVICES])
    finally:
        await app.app[SERVICES].adapters["sms"].close()
    closing = twilio[0].messages[-1]["Body"]
    assert is_gsm7(closing)
    assert closing.endswith("\nDanh gia: tra loi 1-5 (5 = rat hai long), 0 neu chua duoc giai quyet.")
    assert segments(closing) == 1


def test_the_prompt_follows_the_locale_and_only_answers_carry_it():
    answer = OutboundMessage(1, "sms", CITIZEN, "Fixed.", locale="en", kind="reply", case_status="answered",
                             rating_url="https://h.example/track/1/rate?t=x")
    assert sms_body(answer, ascii_only=False) == f"Fixed.\n{RATING_PROMPT['en']}"
    interim = OutboundMessage(1, "sms", CITIZEN, "Đang xử lý.", kind="reply", case_status="in_progress")
    assert sms_body(interim, ascii_only=False) == "Đang xử lý."
    # Both prompts fold into GSM-7 without a '?': nothing is lost when the hotline saves.
    assert all(is_gsm7(sms_body(OutboundMessage(1, "sms", CITIZEN, "x", locale=lang, rating_url="u"),
                                ascii_only=True)) for lang in ("vi", "en"))
    assert "?" not in sms_body(OutboundMessage(1, "sms", CITIZEN, "x", rating_url="u"), ascii_only=True)


async def test_a_digit_reply_rates_the_answer_and_is_thanked(app, post_signed, pool, twilio):
    case_id = await answered_case(app, post_signed, pool)
    app.app[SERVICES].clock = FixedClock(app.app[SERVICES].clock() + timedelta(days=1))
    assert await send_sms(app, post_signed, 2, "5") == EMPTY_TWIML
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1
    message = await pool.fetchrow("SELECT case_id, text FROM messages WHERE direction = 'in' ORDER BY id DESC LIMIT 1")
    assert tuple(message) == (case_id, "5")  # stored on the case: nothing is lost
    rating = await pool.fetchrow("SELECT answer_no, rating, solved, channel FROM case_ratings WHERE case_id = $1",
                                 case_id)
    assert tuple(rating) == (1, 5, True, "sms")
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", case_id) == "answered"
    await pipeline.send_pending(app.app[SERVICES])
    thanks = twilio[0].messages[-1]
    assert thanks["To"] == CITIZEN and thanks["Body"].startswith("1022: Cảm ơn bạn đã đánh giá")
    assert "Đánh giá: trả lời" not in thanks["Body"]  # a thank-you asks for nothing
    # The retried webhook is one message and one rating.
    assert await send_sms(app, post_signed, 2, "5") == EMPTY_TWIML
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'rated'") == 1


async def test_zero_reopens_the_case_and_the_citizen_hears_it(app, post_signed, pool, twilio):
    case_id = await answered_case(app, post_signed, pool)
    await send_sms(app, post_signed, 2, "0")
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", case_id) == "reopened"
    assert tuple(await pool.fetchrow("SELECT rating, solved FROM case_ratings")) == (None, False)
    event = await pool.fetchrow("SELECT from_status, actor_kind FROM case_events WHERE to_status = 'reopened'")
    assert tuple(event) == ("answered", "citizen")
    await pipeline.send_pending(app.app[SERVICES])
    assert "đã được mở lại" in twilio[0].messages[-1]["Body"]


async def test_not_solved_in_words_without_diacritics_reopens(app, post_signed, pool):
    case_id = await answered_case(app, post_signed, pool)
    await send_sms(app, post_signed, 2, "chua duoc giai quyet")
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", case_id) == "reopened"
    assert await pool.fetchval("SELECT count(*) FROM case_ratings") == 1


async def test_a_thank_you_after_the_answer_neither_rates_nor_reopens(app, post_signed, pool):
    case_id = await answered_case(app, post_signed, pool)
    await send_sms(app, post_signed, 2, "Cảm ơn!")
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", case_id) == "answered"
    assert await pool.fetchval("SELECT count(*) FROM case_ratings") == 0


async def test_a_digit_with_no_answered_case_is_a_normal_message(app, post_signed, pool):
    # Nothing of the sender's: a report of its own.
    await send_sms(app, post_signed, 1, "4")
    assert await pool.fetchval("SELECT description FROM cases") == "4"
    # An open case just acknowledged: a follow-up of it.
    await send_sms(app, post_signed, 2, REPORT, sender=OTHER)
    case_id = await pool.fetchval("SELECT id FROM cases WHERE description = $1", REPORT)
    await process(app, case_id)
    app.app[SERVICES].clock = FixedClock(await pool.fetchval("SELECT now()"))
    await send_sms(app, post_signed, 3, "4", sender=OTHER)
    assert await pool.fetchval("SELECT count(*) FROM cases") == 2
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'in' AND case_id = $1", case_id) == 2
    assert await pool.fetchval("SELECT count(*) FROM case_ratings") == 0


async def test_a_digit_eight_days_after_the_answer_is_no_rating(app, post_signed, pool):
    case_id = await answered_case(app, post_signed, pool)
    app.app[SERVICES].clock = FixedClock(app.app[SERVICES].clock() + timedelta(days=8))
    await send_sms(app, post_signed, 2, "5")
    assert await pool.fetchval("SELECT count(*) FROM case_ratings") == 0
    assert await pool.fetchval("SELECT count(*) FROM cases") == 2  # a report of its own, as any text would be
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", case_id) == "answered"
