"""Satisfaction: one rating per answer, the 7-day rule, ratings by SMS reply, the signed links, the reply parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casework import actions, ratings
from casework.conversation import Rating, parse_rating, says_unsolved
from casework.intake import InboundEvent, SenderIdentity
from casework.models import Actor, Role, Status
from kernel.errors import BadRequest

PHONE = "+84901234567"
OTHER = "+84912345678"
WINDOW = timedelta(hours=72)
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
AGENT = Actor(kind="staff", id=None, name="agent", role=Role.AGENT)
KEY = b"k" * 32
RATE = dict(channel="sms", sender_kind="phone", sender=PHONE)


def sms(sid: str, text: str, sender: str = PHONE, **extra) -> InboundEvent:
    return InboundEvent(channel="sms", provider_message_id=sid, text=text, sender=SenderIdentity("phone", sender),
                        reply_window=WINDOW, **extra)


async def _report(pool, sid: str = "SM1", text: str = "Ngập nước đường Lê Lợi", sender: str = PHONE):
    """A report by SMS, its citizen recognised as processing does (so our answers reach the number)."""
    result = await actions.record_inbound(pool, sms(sid, text, sender))
    await pool.execute("SELECT link_citizen($1)", result.case_id)
    return result


async def _ratings(pool, case_id: int) -> list[tuple]:
    rows = await pool.fetch("SELECT answer_no, rating, solved, channel FROM case_ratings WHERE case_id = $1"
                            " ORDER BY answer_no", case_id)
    return [tuple(r) for r in rows]


async def _rated_events(pool, case_id: int) -> list[dict]:
    return [dict(r["changes"]) for r in await pool.fetch(
        "SELECT changes FROM case_events WHERE case_id = $1 AND kind = 'rated' ORDER BY id", case_id)]


async def _case(pool, case_id: int):
    return await pool.fetchrow("SELECT status, answers, answered_at FROM cases WHERE id = $1", case_id)


# One rating per answer


async def test_each_answer_is_rated_once_and_a_second_rating_replaces_the_first(pool):
    case = await _report(pool)
    code = case.tracking_code
    await actions.reply(pool, case.case_id, AGENT, "Đã thông cống.", final=True, now=T0)
    assert tuple(await _case(pool, case.case_id)) == ("answered", 1, T0)
    assert await actions.rate_answer(pool, code, rating=4, solved=True, now=T0 + timedelta(hours=1), **RATE) == "rated"
    assert await actions.rate_answer(pool, code, rating=2, solved=True, now=T0 + timedelta(hours=2), **RATE) == "rated"
    assert await _ratings(pool, case.case_id) == [(1, 2, True, "sms")]  # replaced, not added
    # "Not solved" reopens; the answer keeps its score with the new verdict.
    assert await actions.rate_answer(pool, code, rating=None, solved=False, now=T0 + timedelta(days=1),
                                     **RATE) == "reopened"
    assert await _ratings(pool, case.case_id) == [(1, 2, False, "sms")]
    assert (await _case(pool, case.case_id))["status"] == "reopened"
    # A new answer is rated on its own row.
    second = T0 + timedelta(days=2)
    await actions.reply(pool, case.case_id, AGENT, "Đã nạo vét lại toàn tuyến.", final=True, now=second)
    assert tuple(await _case(pool, case.case_id)) == ("answered", 2, second)
    assert await actions.rate_answer(pool, code, rating=5, solved=True, now=second + timedelta(hours=1),
                                     channel="telegram", sender_kind="phone", sender=PHONE) == "rated"
    assert await _ratings(pool, case.case_id) == [(1, 2, False, "sms"), (2, 5, True, "telegram")]
    # Every rating is an event naming its answer, with the keys the reports read.
    assert await _rated_events(pool, case.case_id) == [
        {"rating": 4, "solved": True, "channel": "sms", "answer_no": 1},
        {"rating": 2, "solved": True, "channel": "sms", "answer_no": 1},
        {"rating": None, "solved": False, "channel": "sms", "answer_no": 1},
        {"rating": 5, "solved": True, "channel": "telegram", "answer_no": 2},
    ]


async def test_closing_an_answered_case_is_the_same_answer_and_a_direct_close_a_new_one(pool):
    case = await _report(pool)
    await actions.reply(pool, case.case_id, AGENT, "Đã xử lý.", final=True, now=T0)
    await actions.change_status(pool, case.case_id, Status.CLOSED, AGENT, reason="Hoàn tất", now=T0)
    assert tuple(await _case(pool, case.case_id)) == ("closed", 1, T0)
    await actions.change_status(pool, case.case_id, Status.REOPENED, AGENT, reason="Người dân báo lại")
    assert (await _case(pool, case.case_id))["answers"] == 1
    await actions.change_status(pool, case.case_id, Status.CLOSED, AGENT, reason="Trùng với hồ sơ khác")
    closed = await _case(pool, case.case_id)
    # No resolved_at came with this close: the answer is stamped by the database's clock.
    assert closed["answers"] == 2 and closed["answered_at"] == await pool.fetchval(
        "SELECT max(at) FROM case_events WHERE case_id = $1", case.case_id)
    now = closed["answered_at"] + timedelta(hours=1)
    assert await actions.rate_answer(pool, case.tracking_code, rating=3, solved=True, now=now, **RATE) == "rated"
    assert await _ratings(pool, case.case_id) == [(2, 3, True, "sms")]


async def test_a_case_stored_answered_counts_one_answer(pool):
    case = await _report(pool)
    citizen = await pool.fetchval("SELECT citizen_id FROM cases WHERE id = $1", case.case_id)
    row = await pool.fetchrow(
        "INSERT INTO cases (tracking_code, channel, description, search_text, status, resolved_at, citizen_id)"
        " VALUES ('1234567890', 'sms', 'x', 'x', 'closed', $1, $2) RETURNING answers, answered_at", T0, citizen)
    assert tuple(row) == (1, T0)


# The 7-day rule


@pytest.mark.parametrize(("after", "result", "status"), [
    (timedelta(days=7), "reopened", "reopened"),
    (timedelta(days=7, seconds=1), "too_late", "answered"),
])
async def test_not_solved_reopens_only_within_seven_days_of_the_answer(pool, after, result, status):
    case = await _report(pool)
    await actions.reply(pool, case.case_id, AGENT, "Đã xử lý.", final=True, now=T0)
    assert await actions.rate_answer(pool, case.tracking_code, rating=None, solved=False, now=T0 + after,
                                     **RATE) == result
    assert (await _case(pool, case.case_id))["status"] == status
    assert await _ratings(pool, case.case_id) == [(1, None, False, "sms")]  # recorded either way


async def test_the_seven_days_count_from_the_latest_answer(pool):
    case = await _report(pool)
    await actions.reply(pool, case.case_id, AGENT, "Trả lời 1", final=True, now=T0)
    await actions.rate_answer(pool, case.tracking_code, rating=None, solved=False, now=T0 + timedelta(days=1), **RATE)
    again = T0 + timedelta(days=10)
    await actions.reply(pool, case.case_id, AGENT, "Trả lời 2", final=True, now=again)
    assert await actions.rate_answer(pool, case.tracking_code, rating=None, solved=False,
                                     now=again + timedelta(days=6), **RATE) == "reopened"


async def test_only_an_answered_case_of_the_senders_own_is_rated_and_scores_are_checked(pool):
    case = await _report(pool)
    code = case.tracking_code
    assert await actions.rate_answer(pool, code, rating=5, solved=True, now=T0, **RATE) == "not_answered"
    await actions.reply(pool, case.case_id, AGENT, "Đã xử lý.", final=True, now=T0)
    assert await actions.rate_answer(pool, code, rating=5, solved=True, now=T0, channel="sms", sender_kind="phone",
                                     sender=OTHER) == "not_found"
    for rating, solved in ((0, True), (6, True), (None, True)):
        with pytest.raises(BadRequest):
            await actions.rate_answer(pool, code, rating=rating, solved=solved, now=T0, **RATE)
    assert await _ratings(pool, case.case_id) == []


# Signed links


def test_a_link_token_is_bound_to_its_case_and_key():
    token = ratings.sign(KEY, 41, 1)
    assert len(token) == 22 and token.isascii()
    assert ratings.verify(KEY, 41, 1, token)
    assert ratings.verify(KEY, 41, 3, token)  # an earlier answer's link still lets its holder rate
    assert not ratings.verify(KEY, 41, 0, token)  # nothing answered yet
    assert not ratings.verify(KEY, 42, 1, token)
    assert not ratings.verify(b"x" * 32, 41, 1, token)
    assert not ratings.verify(KEY, 41, 1, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not ratings.verify(KEY, 41, 1, "Đ" * 22)
    assert not ratings.verify(KEY, 41, 1, "")
    assert ratings.sign(KEY, 41, 2) != token


def test_only_answering_messages_ask_for_a_rating():
    assert ratings.asks_rating("reply", "answered")
    assert ratings.asks_rating("reply", "closed")
    assert ratings.asks_rating("notice", "closed")  # the closing notice
    assert not ratings.asks_rating("reply", "in_progress")  # an interim reply
    assert not ratings.asks_rating("notice", "answered")  # e.g. a follow-up's acknowledgement
    assert not ratings.asks_rating("notice", "duplicate")
    assert not ratings.asks_rating("ack", "closed")  # our thanks for a rating
    assert not ratings.asks_rating("reply", None)


async def test_the_link_rates_the_latest_answer_and_a_web_report_is_rated_by_its_code(pool):
    case = await _report(pool)
    await actions.reply(pool, case.case_id, AGENT, "Đã xử lý.", final=True, now=T0)
    link = await ratings.rating_url(pool, case_id=case.case_id, code=case.tracking_code, kind="reply",
                                    case_status="answered", key=KEY, base_url="https://h.example/")
    token = ratings.sign(KEY, case.case_id, 1)
    assert link == f"https://h.example/track/{case.tracking_code}/rate?t={token}"
    rate = dict(key=KEY, rating=4, solved=True, now=T0)
    assert await ratings.rate_by_link(pool, case.tracking_code, token=None, **rate) == "forbidden"  # an SMS case
    assert await ratings.rate_by_link(pool, case.tracking_code, token="x" * 22, **rate) == "forbidden"
    assert await ratings.rate_by_link(pool, "1234567890", token=token, **rate) == "not_found"
    assert await ratings.rate_by_link(pool, case.tracking_code, token=token, **rate) == "rated"
    assert await _ratings(pool, case.case_id) == [(1, 4, True, "web")]
    web = await actions.record_inbound(pool, InboundEvent(channel="web", provider_message_id="key:w",
                                                          text="Đèn đường hỏng"))
    assert await ratings.rate_by_link(pool, web.tracking_code, token=None, **rate) == "not_answered"
    await actions.reply(pool, web.case_id, AGENT, "Đã thay bóng đèn.", final=True, now=T0)
    assert await ratings.rate_by_link(pool, web.tracking_code, token=None, **rate) == "rated"
    assert await ratings.rating_url(pool, case_id=web.case_id, code=web.tracking_code, kind="notice",
                                    case_status="answered", key=KEY, base_url="https://h.example") is None


# Ratings by SMS reply


async def _answered_by_sms(pool, sid: str = "SM1", sender: str = PHONE):
    """A case reported by SMS and answered now (by the database's clock): our answer went to the sender."""
    case = await _report(pool, sid, sender=sender)
    now = await pool.fetchval("SELECT now()")
    await actions.reply(pool, case.case_id, AGENT, "Đã thông cống.", final=True, now=now)
    return case, now


async def test_a_digit_after_the_answer_is_stored_on_the_case_and_rates_it(pool):
    case, now = await _answered_by_sms(pool)
    rated = await actions.record_inbound(pool, sms("SM2", "5"), now=now + timedelta(days=2))
    assert rated.joined and rated.created and rated.case_id == case.case_id and not rated.reopened
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1
    assert await pool.fetchval("SELECT text FROM messages WHERE provider_message_id = 'SM2'") == "5"  # nothing lost
    assert await _ratings(pool, case.case_id) == [(1, 5, True, "sms")]
    assert (await _case(pool, case.case_id))["status"] == "answered"
    thanks = await pool.fetchrow("SELECT kind, channel, recipient, text FROM messages WHERE id = $1",
                                 rated.send_ids[0])
    assert (thanks["kind"], thanks["channel"], thanks["recipient"]) == ("ack", "sms", PHONE)
    assert thanks["text"].startswith("1022: Cảm ơn bạn đã đánh giá")
    # A retried webhook changes nothing; a second rating replaces the first.
    again = await actions.record_inbound(pool, sms("SM2", "5"), now=now + timedelta(days=2))
    assert not again.created and again.case_id == case.case_id
    await actions.record_inbound(pool, sms("SM3", "Đánh giá: 3 sao"), now=now + timedelta(days=3))
    assert await _ratings(pool, case.case_id) == [(1, 3, True, "sms")]
    assert len(await _rated_events(pool, case.case_id)) == 2


async def test_zero_after_the_answer_reopens_the_case_and_says_so(pool):
    case, now = await _answered_by_sms(pool)
    rated = await actions.record_inbound(pool, sms("SM2", "0"), now=now + timedelta(days=1))
    assert rated.joined and rated.reopened and rated.case_id == case.case_id
    assert (await _case(pool, case.case_id))["status"] == "reopened"
    assert await _ratings(pool, case.case_id) == [(1, None, False, "sms")]
    notice = await pool.fetchval("SELECT text FROM messages WHERE id = $1", rated.send_ids[0])
    assert "mở lại" in notice


async def test_a_thank_you_still_does_not_reopen_and_is_no_rating(pool):
    case, now = await _answered_by_sms(pool)
    follow = await actions.record_inbound(pool, sms("SM2", "Cảm ơn!"), now=now)
    assert follow.joined and not follow.reopened
    assert (await _case(pool, case.case_id))["status"] == "answered"
    assert await _ratings(pool, case.case_id) == []


async def test_a_digit_without_an_answered_case_is_a_normal_message(pool):
    # No case at all: a report of its own.
    alone = await actions.record_inbound(pool, sms("SM1", "3", sender=OTHER))
    assert alone.new_case
    # An open case in the reply window: a follow-up of it, not a rating.
    case = await _report(pool, "SM2")
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT id, channel, citizen_id, locale FROM cases WHERE id = $1", case.case_id)
        await actions.queue_outbound(conn, row, text="Đã tiếp nhận", kind="ack", key="ack", author_id=None)
    follow = await actions.record_inbound(pool, sms("SM3", "4"), now=await pool.fetchval("SELECT now()"))
    assert follow.joined and follow.case_id == case.case_id
    assert await pool.fetchval("SELECT count(*) FROM case_ratings") == 0
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'rated'") == 0


async def test_a_digit_after_seven_days_or_after_news_of_another_case_is_no_rating(pool):
    case, now = await _answered_by_sms(pool)
    late = await actions.record_inbound(pool, sms("SM2", "5"), now=now + timedelta(days=7, seconds=1))
    assert late.new_case  # past the 7 days and past the reply window: a report of its own
    # Another citizen's case is answered, then a newer case of theirs is acknowledged: "4" is about the newer one.
    answered, now = await _answered_by_sms(pool, "SM3", sender=OTHER)
    newer = await actions.record_inbound(pool, sms("SM4", "Đèn đường hỏng hẻm 12", sender=OTHER,
                                                      new_case=True))
    assert newer.new_case and newer.case_id != answered.case_id
    await pool.execute("SELECT link_citizen($1)", newer.case_id)
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT id, channel, citizen_id, locale FROM cases WHERE id = $1", newer.case_id)
        await actions.queue_outbound(conn, row, text="Đã tiếp nhận", kind="ack", key="ack:newer", author_id=None)
    follow = await actions.record_inbound(pool, sms("SM5", "4", sender=OTHER), now=await pool.fetchval("SELECT now()"))
    assert follow.joined and follow.case_id == newer.case_id
    assert await pool.fetchval("SELECT count(*) FROM case_ratings") == 0
    assert (await _case(pool, answered.case_id))["status"] == "answered"


async def test_a_rating_on_a_closed_case_by_sms(pool):
    case = await _report(pool)
    now = await pool.fetchval("SELECT now()")
    notices = await actions.change_status(pool, case.case_id, Status.CLOSED, AGENT, reason="Đã xử lý xong", now=now)
    assert notices  # the closing notice went to the citizen
    rated = await actions.record_inbound(pool, sms("SM2", "4 sao"), now=now + timedelta(hours=1))
    assert rated.joined and rated.case_id == case.case_id
    assert await _ratings(pool, case.case_id) == [(1, 4, True, "sms")]


# The reply parser


@pytest.mark.parametrize(("text", "expected"), [
    ("5", Rating(5, True)), ("1", Rating(1, True)), (" 4 ", Rating(4, True)), ("3.", Rating(3, True)),
    ("4!", Rating(4, True)), ("５", Rating(5, True)),
    ("5 sao", Rating(5, True)), ("5sao", Rating(5, True)), ("5 SAO", Rating(5, True)),
    ("Đánh giá: 5 sao", Rating(5, True)), ("danh gia 3", Rating(3, True)), ("Đánh giá 4 điểm", Rating(4, True)),
    ("3 điểm", Rating(3, True)), ("3 diem", Rating(3, True)), ("5*", Rating(5, True)), ("5 *", Rating(5, True)),
    ("5/5", Rating(5, True)), ("4 / 5", Rating(4, True)), ("rating: 4", Rating(4, True)),
    ("5 stars", Rating(5, True)), ("1 star", Rating(1, True)),
    ("năm sao", Rating(5, True)), ("nam sao", Rating(5, True)), ("Bốn sao", Rating(4, True)),
    ("bon sao", Rating(4, True)), ("ba sao", Rating(3, True)), ("đánh giá năm", Rating(5, True)),
    ("five stars", Rating(5, True)),
    ("⭐⭐⭐⭐⭐", Rating(5, True)), ("⭐️⭐️⭐️", Rating(3, True)), ("★★★☆☆", Rating(3, True)),
    ("5 - rất hài lòng", Rating(5, True)), ("5, cảm ơn", Rating(5, True)), ("4 hai long", Rating(4, True)),
    ("0", Rating(None, False)), ("0 sao", Rating(None, False)), ("không", Rating(None, False)),
    ("Không.", Rating(None, False)), ("chưa giải quyết", Rating(None, False)),
    ("chua giai quyet", Rating(None, False)), ("Chưa được giải quyết", Rating(None, False)),
    ("chua duoc giai quyet", Rating(None, False)), ("Vẫn chưa giải quyết!", Rating(None, False)),
    ("chưa xử lý", Rating(None, False)), ("chua xong", Rating(None, False)), ("không được giải quyết",
                                                                             Rating(None, False)),
    ("Not solved", Rating(None, False)), ("unsolved", Rating(None, False)), ("no", Rating(None, False)),
])
def test_a_whole_message_that_is_a_rating_is_read_as_one(text, expected):
    assert parse_rating(text) == expected


@pytest.mark.parametrize("text", [
    "6", "10", "45", "1022", "3/4", "5/10", "-1", "", "  ", "năm", "Nam", "hai", "Ba", "ba ơi", "mot",
    "hài lòng", "rất hài lòng", "cảm ơn", "Cảm ơn nhiều", "ok", "đã giải quyết",
    "không sao", "Không sao đâu", "5 người bị thương", "5 không hài lòng", "2 ngày rồi vẫn ngập",
    "Cống số 5 vẫn nghẹt", "Vẫn còn ngập", "0901234567", "☆☆☆", "⭐" * 6,
    "MOI 5", "5 " + "rất " * 30,
])
def test_anything_else_is_no_rating(text):
    assert parse_rating(text) is None


def test_saying_one_is_satisfied_does_not_reopen_a_case():
    assert not says_unsolved("Rất hài lòng!")
    assert not says_unsolved("hai long")
    assert says_unsolved("không hài lòng, vẫn ngập")
