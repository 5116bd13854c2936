"""Markup in a citizen's report is shown as text on the console's pages, never run."""

from __future__ import annotations

import asyncio

from playwright.async_api import Dialog

from tests.console.conftest import case_path, processed, report

HOSTILE = '<script>alert(1)</script> Đèn hỏng <img src=x onerror="alert(2)"> trước nhà 12'
HOSTILE_NAME = '<img src=y onerror="alert(3)">Nguyễn Văn A'


async def test_markup_in_a_report_is_shown_as_inert_text(browser, page, hotline, signed_in):
    dialogs: list[str] = []
    dismissed: list[asyncio.Task] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dismissed.append(asyncio.ensure_future(dialog.dismiss()))

    page.on("dialog", on_dialog)
    await signed_in("agent")
    await page.goto(f"{hotline.url}/console/?queue=all")
    await page.get_by_test_id("inbox-search").wait_for()

    # The row arrives live (a fragment the page's script puts in) while the inbox is open.
    citizen = await browser.new_context(locale="vi-VN")
    try:
        case_id = await report(await citizen.new_page(), hotline, HOSTILE, name=HOSTILE_NAME)
    finally:
        await citizen.close()
    row = page.locator(f'[data-testid="inbox-row"][data-case-id="{case_id}"]')
    await row.wait_for()
    assert "<script>alert(1)</script>" in (await row.text_content() or "")
    assert await page.locator("img[src=x], img[src=y]").count() == 0

    # Loaded afresh, after processing.
    await processed(hotline, case_id)
    await page.reload()
    await row.get_by_text("<script>alert(1)</script>", exact=False).wait_for()

    await page.goto(f"{hotline.url}{case_path(case_id)}")
    await page.get_by_text('<img src=x onerror="alert(2)">', exact=False).first.wait_for()
    await page.get_by_text(HOSTILE_NAME, exact=False).first.wait_for()
    assert await page.locator("img[src=x], img[src=y]").count() == 0
    scripts = [await s.text_content() or "" for s in await page.locator("script").all()]
    assert not any("alert(" in s for s in scripts)
    await asyncio.gather(*dismissed)
    assert dialogs == []
