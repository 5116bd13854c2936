"""Several web processes on one database, no worker: an inbox open on one hears of a case stored by another."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from hotline.app import create_app
from tests.console.conftest import Hotline, free_port, report


@pytest.fixture
def live_worker() -> bool:
    return False  # nothing but the intake's own write may tell the inbox


async def test_a_report_taken_by_another_web_process_appears_live(browser, page, hotline, signed_in):
    port = free_port()
    other = Hotline(f"http://127.0.0.1:{port}", hotline.settings, hotline.pool, hotline.passwords)
    server = TestServer(create_app(hotline.settings), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        await signed_in("agent")
        await page.goto(f"{hotline.url}/console/")
        await page.get_by_test_id("inbox-search").wait_for()
        await page.evaluate("window.sameDocument = true")

        citizen = await browser.new_context(locale="vi-VN")
        try:
            case_id = await report(await citizen.new_page(), other, "Nắp cống bị mất trên đường Điện Biên Phủ")
        finally:
            await citizen.close()

        row = page.locator(f'[data-testid="inbox-row"][data-case-id="{case_id}"]')
        await row.locator('[data-status="received"]').wait_for()  # not processed: no worker anywhere
        assert await page.evaluate("window.sameDocument") is True
        assert await hotline.pool.fetchval("SELECT processed_at FROM cases WHERE id = $1", case_id) is None
    finally:
        await server.close()
