"""The case page in a browser: replying to the citizen, and a unit's cases closed to other units."""

from __future__ import annotations

from console.i18n import t
from tests.console.conftest import api, case_path, processed, report, sign_in, until


async def test_a_reply_is_recorded_once_and_shown_sent_even_on_a_double_click(page, hotline, signed_in):
    case_id = await report(page, hotline, "Cây xanh đổ chắn ngang đường Hai Bà Trưng")
    await processed(hotline, case_id)
    await signed_in("agent")
    await page.goto(f"{hotline.url}{case_path(case_id)}")

    await page.get_by_test_id("reply-text").fill("Chúng tôi đã chuyển tổ cây xanh xử lý trong hôm nay.")
    await page.get_by_test_id("reply-send").dblclick()

    messages = page.get_by_test_id("case-messages")
    await messages.get_by_text("Chúng tôi đã chuyển tổ cây xanh xử lý trong hôm nay.").wait_for()
    rows = await until(lambda: hotline.pool.fetch(
        "SELECT id, author_id FROM messages WHERE case_id = $1 AND kind = 'reply'", case_id),
        what="the reply stored")
    assert len(rows) == 1
    agent_id = await hotline.pool.fetchval("SELECT id FROM staff_users WHERE username = 'agent'")
    assert rows[0]["author_id"] == agent_id
    # The web channel's adapter reports a reply delivered as soon as it is sent; the page shows it so.
    await until(lambda: hotline.pool.fetchval("SELECT status = 'delivered' FROM messages WHERE id = $1", rows[0]["id"]),
                what="the reply delivered")
    reply = messages.locator(f'[data-message-id="{rows[0]["id"]}"]')
    await reply.locator('[data-testid="message-status"][data-status="delivered"]').wait_for()
    assert await hotline.pool.fetchval(
        "SELECT count(*) FROM messages WHERE case_id = $1 AND kind = 'reply'", case_id) == 1


async def test_a_department_user_gets_403_for_another_units_case(page, hotline, signed_in):
    ours = await report(page, hotline, "Vỉa hè bị lấn chiếm trước chợ Bến Thành")
    theirs = await report(page, hotline, "Mất điện cả khu phố 3 từ tối qua")
    for case_id, unit in ((ours, "so-xay-dung"), (theirs, "evn-hcmc")):
        await processed(hotline, case_id)
        await api(hotline, "admin", "PATCH", f"/api/v1/cases/{case_id}",
                  {"department": unit, "reason": "Đúng thẩm quyền"})
    await signed_in("department")  # of so-xay-dung

    own = await page.goto(f"{hotline.url}{case_path(ours)}")
    assert own is not None and own.status == 200
    await page.get_by_text("Vỉa hè bị lấn chiếm trước chợ Bến Thành").first.wait_for()

    other = await page.goto(f"{hotline.url}{case_path(theirs)}")
    assert other is not None and other.status == 403
    assert await page.get_by_text("Mất điện cả khu phố 3").count() == 0
    assert t("forbidden_title", "vi") in (await page.locator("body").text_content() or "")


async def forwarded(hotline, text: str, page, unit: str = "so-xay-dung") -> int:
    """A case reported with the form, processed, then forwarded by an admin to `unit`."""
    case_id = await report(page, hotline, text)
    await processed(hotline, case_id)
    await api(hotline, "admin", "POST", f"/api/v1/cases/{case_id}/status",
              {"status": "forwarded", "department": unit, "reason": "Đúng thẩm quyền"})
    return case_id


async def test_a_unit_accepts_a_forwarded_case_from_its_page(page, hotline, signed_in):
    case_id = await forwarded(hotline, "Vỉa hè bị lấn chiếm trước chợ Bến Thành", page)
    await signed_in("department")
    await page.goto(f"{hotline.url}{case_path(case_id)}")
    assert await page.get_by_test_id("case-status").get_attribute("data-status") == "forwarded"

    await page.get_by_test_id("case-accept").click()

    await page.locator('[data-testid="case-status"][data-status="in_progress"]').wait_for()
    assert await hotline.pool.fetchval("SELECT status FROM cases WHERE id = $1", case_id) == "in_progress"
    who = await hotline.pool.fetchval(
        "SELECT actor_name FROM case_events WHERE case_id = $1 AND to_status = 'in_progress'", case_id)
    assert who == "department"


async def test_a_colleague_on_the_same_case_sees_the_typing_and_the_reply_live(browser, page, hotline, signed_in):
    case_id = await forwarded(hotline, "Cây xanh đổ chắn ngang đường Hai Bà Trưng", page)
    await signed_in("department")
    await page.goto(f"{hotline.url}{case_path(case_id)}")
    colleague = await browser.new_context(locale="vi-VN", base_url=hotline.url)
    try:
        await sign_in(colleague, hotline, "supervisor")
        other = await colleague.new_page()
        await other.goto(f"{hotline.url}{case_path(case_id)}")
        await other.get_by_test_id("reply-text").wait_for()
        await other.evaluate("window.sameDocument = true")

        await page.get_by_test_id("reply-text").fill("Đội cây xanh sẽ có mặt trong 2 giờ tới.")
        await other.locator("#typing").get_by_text("department đang trả lời…").wait_for()

        await page.get_by_test_id("reply-send").click()
        await other.get_by_test_id("case-messages").get_by_text("Đội cây xanh sẽ có mặt trong 2 giờ tới.").wait_for()
        assert await other.evaluate("window.sameDocument") is True
    finally:
        await colleague.close()
