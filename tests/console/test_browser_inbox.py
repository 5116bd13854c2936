"""The inbox in a browser: a report sent on the public form appears live, without a reload."""

from __future__ import annotations

from tests.console.conftest import processed, report


async def test_a_new_report_appears_in_an_open_inbox_without_a_reload(browser, context, page, hotline, signed_in):
    await signed_in("agent")
    await page.goto(f"{hotline.url}/console/")
    await page.get_by_test_id("inbox-search").wait_for()
    assert await page.get_by_test_id("inbox-row").count() == 0
    await page.evaluate("window.sameDocument = true")  # gone if the page reloads or navigates

    citizen = await browser.new_context(locale="vi-VN")
    try:
        case_id = await report(await citizen.new_page(), hotline, "Cống thoát nước bị tắc ở hẻm 42 Nguyễn Trãi")
    finally:
        await citizen.close()

    row = page.locator(f'[data-testid="inbox-row"][data-case-id="{case_id}"]')
    await row.wait_for()
    assert "Cống thoát nước bị tắc" in (await row.text_content() or "")
    assert await page.evaluate("window.sameDocument") is True
    assert page.url == f"{hotline.url}/console/"

    # Processing (no classifier here) moves it to triage: the same row is refreshed in place, not added twice.
    await processed(hotline, case_id)
    assert await hotline.pool.fetchval("SELECT status FROM cases WHERE id = $1", case_id) == "triage"
    await row.locator('[data-status="triage"]').wait_for()
    assert await page.get_by_test_id("inbox-row").count() == 1
    assert await page.evaluate("window.sameDocument") is True
