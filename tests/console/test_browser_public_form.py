"""The browser harness on a page that needs no sign-in: a citizen's report through the public form."""

from __future__ import annotations

from playwright.async_api import Page

from tests.console.conftest import Hotline, until


async def report(page: Page, hotline: Hotline, text: str, *, name: str = "") -> str:
    """Fill and send the public form at /; the tracking code the status page shows."""
    await page.goto(f"{hotline.url}/")
    await page.fill("#text", text)
    if name:
        await page.fill("#name", name)
    await page.click("#send")
    await page.wait_for_selector("#tracking-code")
    return "".join((await page.text_content("#tracking-code") or "").split())  # shown in groups of digits


async def processed(hotline: Hotline, case_id: int) -> None:
    """Wait until the in-process worker has processed the case."""
    await until(lambda: hotline.pool.fetchval("SELECT processed_at IS NOT NULL FROM cases WHERE id = $1", case_id),
                what=f"case {case_id} processed")


async def test_a_report_sent_with_the_form_is_stored_and_processed(page, hotline):
    code = await report(page, hotline, "Đèn đường hỏng trước nhà số 12 Lê Lợi")

    row = await hotline.pool.fetchrow("SELECT id, tracking_code FROM cases")
    assert row is not None and code == row["tracking_code"]
    await processed(hotline, row["id"])
