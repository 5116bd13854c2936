"""The inbox in a browser: a report sent on the public form appears live, without a reload."""

from __future__ import annotations

from tests.console.conftest import api, case_path, processed, report


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


async def test_a_units_open_inbox_gets_its_own_cases_live_and_never_another_units(page, hotline, signed_in):
    citizen = await page.context.browser.new_context(locale="vi-VN")
    try:
        form = await citizen.new_page()
        theirs = await report(form, hotline, "Mất điện cả khu phố 3 từ tối qua")
        ours = await report(form, hotline, "Vỉa hè bị lấn chiếm trước chợ Bến Thành")
    finally:
        await citizen.close()
    for case_id in (theirs, ours):
        await processed(hotline, case_id)
    await signed_in("department")  # of so-xay-dung
    await page.goto(f"{hotline.url}/console/")
    await page.get_by_test_id("inbox-search").wait_for()
    assert await page.get_by_test_id("inbox-row").count() == 0
    await page.evaluate("window.sameDocument = true")

    # Forwarded to the other unit first, then to ours: once ours shows, the other's change has been seen too.
    await api(hotline, "admin", "PATCH", f"/api/v1/cases/{theirs}", {"department": "evn-hcmc", "reason": "Điện"})
    await api(hotline, "admin", "PATCH", f"/api/v1/cases/{ours}", {"department": "so-xay-dung", "reason": "Vỉa hè"})

    await page.locator(f'[data-testid="inbox-row"][data-case-id="{ours}"]').wait_for()
    assert await page.locator(f'[data-testid="inbox-row"][data-case-id="{theirs}"]').count() == 0
    assert await page.get_by_text("Mất điện cả khu phố 3").count() == 0
    assert await page.evaluate("window.sameDocument") is True


async def test_j_and_k_move_through_the_inbox_and_enter_opens_the_case(page, hotline, signed_in):
    first = await report(page, hotline, "Đèn đường hỏng trước nhà số 12 Lê Lợi")
    second = await report(page, hotline, "Cống thoát nước bị tắc ở hẻm 42 Nguyễn Trãi")
    await signed_in("agent")
    await page.goto(f"{hotline.url}/console/?queue=all")
    rows = page.get_by_test_id("inbox-row")
    await rows.nth(1).wait_for()
    assert [await r.get_attribute("data-case-id") for r in await rows.all()] == [str(second), str(first)]

    for key in ("j", "j", "k", "j"):
        await page.keyboard.press(key)
    assert await page.locator('[data-testid="inbox-row"].selected').get_attribute("data-case-id") == str(first)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{hotline.url}{case_path(first)}")
    await page.get_by_test_id("case-messages").get_by_text("Đèn đường hỏng trước nhà số 12 Lê Lợi").wait_for()


async def test_searching_without_diacritics_finds_the_report(page, hotline, signed_in):
    lamp = await report(page, hotline, "Đèn đường hỏng trước nhà số 12 Lê Lợi")
    await report(page, hotline, "Cống thoát nước bị tắc ở hẻm 42 Nguyễn Trãi")
    await signed_in("agent")
    await page.goto(f"{hotline.url}/console/?queue=all")
    rows = page.get_by_test_id("inbox-row")
    await rows.nth(1).wait_for()

    await page.get_by_test_id("inbox-search").fill("den duong le loi")
    await page.get_by_test_id("inbox-search").press("Enter")

    await page.wait_for_url("**q=den+duong+le+loi*")
    await rows.first.wait_for()
    assert [await r.get_attribute("data-case-id") for r in await rows.all()] == [str(lamp)]
