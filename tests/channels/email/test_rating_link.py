"""Satisfaction by mail: the answering mail carries a signed link to rate it, and the link works on the status page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from casework import actions, ratings
from casework.models import Actor, Role, Status
from channels.base import OutboundMessage
from channels.email.adapter import build_mail
from channels.email.inbound import handle
from hotline import pipeline
from kernel.http import SERVICES
from tests.channels.email.conftest import CITIZEN, HOTLINE, MAIL_FROM, eml

AGENT = Actor(kind="staff", id=None, name="agent", role=Role.AGENT)
NOW = datetime(2026, 12, 1, 1, 15, tzinfo=UTC)
LINK = "https://1022.hotline.test/track/1234567894/rate?t=AAAAAAAAAAAAAAAAAAAAAA"


def outbound(**overrides) -> OutboundMessage:
    values = dict(message_id=42, channel="email", recipient=CITIZEN, text="Đã thay bóng đèn hẻm 5.",
                  case_code="1234567894", locale="vi", kind="reply", case_status="answered")
    return OutboundMessage(**{**values, **overrides})


def test_an_answering_mail_shows_the_link_above_the_signature():
    mail = build_mail(outbound(rating_url=LINK), MAIL_FROM, now=NOW)
    assert mail.get_content() == (
        "Đã thay bóng đèn hẻm 5.\n\n"
        f"Vấn đề của bạn đã được giải quyết chưa? Mời bạn đánh giá câu trả lời: {LINK}\n\n-- \n"
        "Trả lời thư này (giữ nguyên tiêu đề) để bổ sung thông tin cho hồ sơ.\n")
    english = build_mail(outbound(rating_url=LINK, locale="en"), MAIL_FROM, now=NOW)
    assert f"Was your problem solved? Please rate this answer: {LINK}\n" in english.get_content()
    assert "đánh giá" not in build_mail(outbound(), MAIL_FROM, now=NOW).get_content()


def _link(mail) -> str:
    found = re.findall(r"https://\S+/rate\?t=\S+", mail.get_content())
    assert len(found) == 1
    return found[0]


async def test_the_answer_mail_links_to_a_working_rating_form(services, pool, collector, aiohttp_client):
    from hotline.app import create_app

    collected, _ = collector
    await handle(services, eml("plain.eml"), CITIZEN, [HOTLINE])
    await pipeline.process_pending(services)
    case_id, code = await pool.fetchrow("SELECT id, tracking_code FROM cases")
    await actions.reply(pool, case_id, AGENT, "Đã thay bóng đèn hẻm 5.", final=True, now=services.clock())
    await pipeline.send_pending(services)
    ack, answer = (m for _, _, m, _ in collected.mails)
    assert "/rate?t=" not in ack.get_content()  # an acknowledgement answers nothing
    link = _link(answer)
    token = ratings.sign(services.settings.signing_key, case_id, 1)
    assert link == f"https://1022.hotline.test/track/{code}/rate?t={token}"

    # The web process (its own services, the same key) takes the link.
    client = await aiohttp_client(create_app(services.settings))
    client.app[SERVICES].clock = services.clock
    path = urlsplit(link)
    page = await client.get(f"{path.path}?{path.query}")
    html = await page.text()
    assert page.status == 200 and 'action="/track/' in html and f'name="t" value="{token}"' in html
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resp = await client.post(f"/track/{code}/rate", data={"csrf_token": csrf, "t": token, "solved": "yes",
                                                          "rating": "4"}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/track/{code}?rated=rated&lang=vi"
    thanks = await (await client.get(resp.headers["Location"])).text()
    assert "Cảm ơn bạn đã đánh giá!" in thanks
    row = await pool.fetchrow("SELECT answer_no, rating, solved, channel FROM case_ratings WHERE case_id = $1",
                              case_id)
    assert tuple(row) == (1, 4, True, "web")
    # A link signed with another key is refused.
    forged = ratings.sign(b"another key" * 3, case_id, 1)
    assert (await client.get(f"/track/{code}/rate?t={forged}")).status == 403


async def test_the_closing_mail_links_to_the_next_answer(services, pool, collector):
    collected, _ = collector
    await handle(services, eml("plain.eml"), CITIZEN, [HOTLINE])
    await pipeline.process_pending(services)
    case_id = await pool.fetchval("SELECT id FROM cases")
    await actions.reply(pool, case_id, AGENT, "Trả lời lần 1.", final=True, now=services.clock())
    await pipeline.send_pending(services)
    key = services.settings.signing_key
    code = await pool.fetchval("SELECT tracking_code FROM cases")
    # "Not solved" through the first mail's link reopens the case; the closing notice is its second answer.
    assert await ratings.rate_by_link(pool, code, key=key, token=_link(collected.mails[-1][2]).rpartition("=")[2],
                                      rating=None, solved=False, now=services.clock()) == "reopened"
    await actions.change_status(pool, case_id, Status.CLOSED, AGENT, reason="Đã xử lý xong", now=services.clock())
    await pipeline.send_pending(services)
    closing = collected.mails[-1][2]
    assert "đã đóng" in closing.get_content()
    assert _link(closing).endswith("?t=" + ratings.sign(key, case_id, 2))
    assert await pool.fetchval("SELECT answers FROM cases") == 2
