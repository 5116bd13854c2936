"""The report page and the public statistics page in a real browser: charts drawn, tables filled, pictures saved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from console import i18n
from hotline.settings import Settings
from kernel.http import SERVICES
from kernel.time import LOCAL_TZ, FixedClock
from tests.casework.reports.history import insert
from tests.casework.reports.test_sla import month_of_cases
from tests.channels.web.test_stats_page import november
from tests.console.conftest import STAFF, Hotline, free_port, screenshot
from tests.console.test_browser_a11y import audit
from tests.integrations.geocoding.conftest import needs_polygons

NOW = datetime(2026, 12, 20, 9, 0, tzinfo=LOCAL_TZ)  # after November's close, in Q4


@pytest.fixture
async def hotline(settings: Settings, pool: asyncpg.Pool, units: list[str]) -> AsyncIterator[Hotline]:
    """The web app alone (no worker: nothing to process) on a free port, its clock set to NOW."""
    from casework import staff
    from hotline.app import create_app

    for name, (role, unit) in STAFF.items():
        await staff.create_user(pool, name, role=role, department=unit, password=f"{name}-secret")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    live = settings.model_copy(update={"public_base_url": url})
    server = TestServer(create_app(live), host="127.0.0.1", port=port)
    await server.start_server()
    server.app[SERVICES].clock = FixedClock(NOW)
    try:
        yield Hotline(url, live, pool, {name: f"{name}-secret" for name in STAFF})
    finally:
        await server.close()


async def test_the_report_page_draws_its_charts_and_table(page, hotline, signed_in):
    await insert(hotline.pool, month_of_cases())
    await signed_in("supervisor")
    await page.goto(f"{hotline.url}/console/reports?month=2026-11")
    assert await page.locator("h1").count() == 1
    table = page.get_by_test_id("report-table")
    assert await table.locator("tbody tr").count() == 3  # two units and the 1022 centre
    assert await table.locator("caption").inner_text()
    for chart in ("#chart-rate", "#chart-volume"):
        canvas = page.locator(chart)
        await canvas.wait_for()
        assert await canvas.evaluate("c => !!Chart.getChart(c)"), chart  # Chart.js drew on it
        assert (await canvas.bounding_box() or {}).get("height", 0) > 100
    labels = await page.locator("#chart-volume").evaluate("c => Chart.getChart(c).data.labels")
    assert labels == ["Sở Xây dựng", "Tổng công ty Điện lực TP.HCM", "Tổng đài 1022 (chưa chuyển đơn vị)"]
    received = await page.locator("#chart-volume").evaluate("c => Chart.getChart(c).data.datasets[0].data")
    assert received == [3, 2, 1]
    assert await page.get_by_test_id("report-cards").locator("[data-figure=received]").inner_text() == "6"
    for control in ("#r-month", "#r-from", "#r-to", "#r-by", "#r-unit", "#r-quarter"):
        assert await page.locator(f"label[for={control[1:]}]").count() == 1, control  # every control labelled
    await screenshot(page, "console-reports")

    for lang in i18n.LANGS:  # the accessibility helper's checks: structure, language, skip link, contrast, focus
        where = i18n.t("rep_title", lang)
        assert await audit(page, f"{hotline.url}/console/reports?month=2026-11", lang, where, live=False) == {}, lang

    await page.goto(f"{hotline.url}/console/reports?month=2026-11&lang=vi")
    await page.select_option("#r-by", "channel")
    await page.get_by_test_id("report-submit").click()
    await page.wait_for_url("**by=channel**")
    assert await page.get_by_test_id("report-table").locator("tbody tr").count() == 5


@needs_polygons  # the ward boundaries come from the shared admin-units data beside the repository
async def test_the_public_statistics_page_draws_its_map_and_chart(page, hotline):
    await insert(hotline.pool, november())
    await page.goto(f"{hotline.url}/thong-ke")
    assert await page.locator("h1").inner_text() == "Thống kê phản ánh, kiến nghị"
    assert await page.locator("#chart-fields").evaluate("c => Chart.getChart(c).data.datasets[0].data") == [12, 8, 2]
    await page.locator("#stats-map[data-drawn='1']").wait_for()
    assert await page.locator("#stats-map .leaflet-interactive").count() == 168
    assert await page.locator("#stats-legend .swatch").count() >= 3
    await screenshot(page, "public-stats")
    await page.goto(f"{hotline.url}/stats")
    assert await page.locator("h1").inner_text() == "Reports and suggestions: statistics"
