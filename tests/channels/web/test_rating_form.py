"""The status page's rating form: shown once answered, with a link's token or (web-form reports) the code alone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from casework import actions, ratings
from casework.intake import InboundEvent, SenderIdentity
from casework.models import Actor, Role
from kernel.http import SERVICES
from kernel.time import FixedClock

AGENT = Actor(kind="staff", id=None, name="agent", role=Role.AGENT)
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def _web_case(client, *, answered: bool = True) -> tuple[int, str]:
    """A report from the web form's API, answered by an agent at T0 (the app's clock an hour later)."""
    resp = await client.post("/api/v1/reports", json={"text": "Đèn đường hẻm 5 Lê Lợi tắt cả tuần"})
    code = (await resp.json())["tracking_code"]
    pool = client.app[SERVICES].pool
    case_id = await pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    if answered:
        await actions.reply(pool, case_id, AGENT, "Đã thay bóng đèn.", final=True, now=T0)
    client.app[SERVICES].clock = FixedClock(T0 + timedelta(hours=1))
    return case_id, code


async def _sms_case(client) -> tuple[int, str]:
    pool = client.app[SERVICES].pool
    result = await actions.record_inbound(pool, InboundEvent(
        channel="sms", provider_message_id="SM1", text="Cống nghẹt đường Võ Văn Kiệt",
        sender=SenderIdentity("phone", "+84901234567"), reply_window=timedelta(hours=72)))
    await actions.reply(pool, result.case_id, AGENT, "Đã thông cống.", final=True, now=T0)
    client.app[SERVICES].clock = FixedClock(T0 + timedelta(hours=1))
    return result.case_id, result.tracking_code


async def _ratings(client) -> list[tuple]:
    rows = await client.app[SERVICES].pool.fetch("SELECT answer_no, rating, solved, channel FROM case_ratings")
    return [tuple(r) for r in rows]


async def _rate(client, code: str, **fields: str):
    page = await client.get(f"/track/{code}" + (f"/rate?t={fields['t']}" if "t" in fields else ""))
    return await client.post(f"/track/{code}/rate", data={"csrf_token": _csrf(await page.text()), **fields},
                             allow_redirects=False)


async def test_a_web_report_is_rated_by_its_code_alone_and_thanked(client):
    case_id, code = await _web_case(client)
    page = await client.get(f"/track/{code}")
    html = await page.text()
    assert page.status == 200 and "Vấn đề đã được giải quyết chưa?" in html
    assert page.headers["Cache-Control"] == "no-store"
    # Radio inputs, each with its own label, in fieldsets with legends: usable by keyboard and screen reader.
    for name, value, id_ in [("solved", "yes", "solved-yes"), ("solved", "no", "solved-no"),
                             *[("rating", str(n), f"score-{n}") for n in range(1, 6)]]:
        assert f'<input type="radio" id="{id_}" name="{name}" value="{value}"' in html
        assert f'<label class="choice" for="{id_}">' in html
    assert html.count("<legend>") == 2 and "5 sao: rất hài lòng" in html
    assert 'name="t"' not in html
    resp = await _rate(client, code, solved="yes", rating="5")
    assert resp.status == 303 and resp.headers["Location"] == f"/track/{code}?rated=rated&lang=vi"
    thanks = await client.get(resp.headers["Location"])
    assert "Cảm ơn bạn đã đánh giá!" in await thanks.text()
    assert await _ratings(client) == [(1, 5, True, "web")]
    event = await client.app[SERVICES].pool.fetchval("SELECT changes FROM case_events WHERE kind = 'rated'")
    assert event == {"rating": 5, "solved": True, "channel": "web", "answer_no": 1}


async def test_not_solved_within_seven_days_reopens_and_later_is_only_recorded(client):
    case_id, code = await _web_case(client)
    resp = await _rate(client, code, solved="no")
    assert resp.headers["Location"] == f"/track/{code}?rated=reopened&lang=vi"
    page = await (await client.get(resp.headers["Location"])).text()
    assert "Hồ sơ đã được mở lại" in page and 'id="rate"' not in page  # reopened: nothing to rate
    pool = client.app[SERVICES].pool
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", case_id) == "reopened"
    # Answered again; eight days later the form says "not solved" no longer reopens, and it does not.
    await actions.reply(pool, case_id, AGENT, "Đã thay toàn bộ dây điện.", final=True, now=T0 + timedelta(days=1))
    client.app[SERVICES].clock = FixedClock(T0 + timedelta(days=9))
    html = await (await client.get(f"/track/{code}")).text()
    assert 'id="rate-late"' in html
    resp = await _rate(client, code, solved="no", rating="2")
    assert resp.headers["Location"] == f"/track/{code}?rated=too_late&lang=vi"
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", case_id) == "answered"
    assert sorted(await _ratings(client)) == [(1, None, False, "web"), (2, 2, False, "web")]


async def test_another_channels_case_needs_the_links_token(client):
    case_id, code = await _sms_case(client)
    key = client.app[SERVICES].settings.signing_key
    token = ratings.sign(key, case_id, 1)
    plain = await (await client.get(f"/track/{code}")).text()
    assert 'id="rate"' not in plain  # the code alone is printed on a public page: no form
    linked = await client.get(f"/track/{code}/rate?t={token}")
    html = await linked.text()
    assert linked.status == 200 and f'<input type="hidden" name="t" value="{token}">' in html
    # Without the token, or with a forged one, nothing is stored.
    resp = await client.post(f"/track/{code}/rate", data={"csrf_token": _csrf(html), "solved": "yes", "rating": "3"})
    assert resp.status == 403 and "Liên kết đánh giá không hợp lệ" in await resp.text()
    forged = ratings.sign(key, case_id + 1, 1)
    assert (await client.get(f"/track/{code}/rate?t={forged}")).status == 403
    resp = await client.post(f"/track/{code}/rate", data={"csrf_token": _csrf(html), "t": forged, "solved": "yes",
                                                          "rating": "3"})
    assert resp.status == 403
    assert await _ratings(client) == []
    resp = await _rate(client, code, t=token, solved="yes", rating="3")
    assert resp.status == 303
    assert await _ratings(client) == [(1, 3, True, "web")]


async def test_a_post_without_the_csrf_cookie_or_token_is_refused(client):
    _, code = await _web_case(client)
    await client.get(f"/track/{code}")  # the cookie is set
    resp = await client.post(f"/track/{code}/rate", data={"csrf_token": "forged", "solved": "yes", "rating": "5"})
    assert resp.status == 403 and "Phiên làm việc đã hết hạn" in await resp.text()
    client.session.cookie_jar.clear()
    resp = await client.post(f"/track/{code}/rate", data={"csrf_token": "", "solved": "yes", "rating": "5"})
    assert resp.status == 403
    assert await _ratings(client) == []


@pytest.mark.parametrize(("fields", "reason"), [
    ({"rating": "5"}, "Vui lòng cho biết vấn đề đã được giải quyết chưa."),
    ({"solved": "maybe", "rating": "5"}, "Vui lòng cho biết vấn đề đã được giải quyết chưa."),
    ({"solved": "yes"}, "Vui lòng chọn mức độ hài lòng (1 đến 5 sao)."),
    ({"solved": "yes", "rating": "7"}, "Mức độ hài lòng phải từ 1 đến 5 sao."),
    ({"solved": "yes", "rating": "０"}, "Mức độ hài lòng phải từ 1 đến 5 sao."),
    ({"solved": "no", "rating": "-1"}, "Mức độ hài lòng phải từ 1 đến 5 sao."),
])
async def test_a_malformed_rating_is_400_with_its_reason_and_the_form_again(client, fields, reason):
    _, code = await _web_case(client)
    resp = await _rate(client, code, **fields)
    html = await resp.text()
    assert resp.status == 400 and reason in html and 'id="rate-error"' in html and 'id="rate"' in html
    assert await _ratings(client) == []


async def test_unknown_mistyped_or_unanswered_cases_and_odd_bodies_are_never_a_500(client):
    from casework.codes import check_digit

    _, code = await _web_case(client, answered=False)
    page = await client.get(f"/track/{code}")
    assert 'id="rate"' not in await page.text()  # nothing to rate yet
    csrf = _csrf(await (await client.get("/")).text())
    ok = {"csrf_token": csrf, "solved": "yes", "rating": "4"}
    assert (await client.post(f"/track/{code}/rate", data=ok)).status == 409
    unknown = "123456789" + str(check_digit("123456789"))
    assert (await client.get(f"/track/{unknown}/rate?t=x")).status == 404
    assert (await client.post(f"/track/{unknown}/rate", data=ok)).status == 404
    typo = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert (await client.post(f"/track/{typo}/rate", data=ok)).status == 400
    assert (await client.get(f"/track/{typo}/rate")).status == 400
    headers = {"Cookie": f"hotline_csrf={csrf}"}
    assert (await client.post(f"/track/{code}/rate", json=ok, headers=headers)).status == 415
    assert (await client.post(f"/track/{code}/rate", data=b"\xff\xfe=%%&&==" * 10, headers={
        **headers, "Content-Type": "application/x-www-form-urlencoded"})).status == 403
    assert (await client.post(f"/track/{code}/rate", data="a=" + "x" * 10_000, headers={
        **headers, "Content-Type": "application/x-www-form-urlencoded"})).status == 413
    assert (await client.get(f"/track/{code}/rate?t=%F0%9F%98%80" + "A" * 500)).status == 403
    assert await _ratings(client) == []


async def test_the_form_in_english(client):
    _, code = await _web_case(client)
    html = await (await client.get(f"/track/{code}?lang=en")).text()
    assert "Has the problem been solved?" in html and "5 stars: very satisfied" in html
    resp = await client.post(f"/track/{code}/rate?lang=en", data={"csrf_token": _csrf(html), "solved": "yes",
                                                                  "rating": "4"}, allow_redirects=False)
    assert resp.headers["Location"] == f"/track/{code}?rated=rated&lang=en"
    assert "Thank you for your rating!" in await (await client.get(resp.headers["Location"])).text()
