"""The console's pages with real cases, as a person sees them: each is drawn, and saved to tests/artifacts/."""

from __future__ import annotations

import aiohttp
import pytest

from hotline import demo
from tests.console.conftest import Hotline, api, case_path, screenshot, until
from tests.integrations.geocoding.conftest import needs_polygons

REPORTS = [
    ("Đèn đường hỏng cả đoạn trước nhà số 12 Lê Lợi, tối om rất nguy hiểm", 10.7735, 106.7012),
    ("Cống thoát nước bị tắc, nước ngập tới đầu gối ở hẻm 42 Nguyễn Trãi", 10.7600, 106.6880),
    ("Cây xanh đổ chắn ngang đường Hai Bà Trưng sau cơn mưa", 10.7850, 106.6990),
    ("Rác thải để lâu ngày bốc mùi trên vỉa hè đường Pasteur", 10.7790, 106.6960),
    ("Mất điện cả khu phố 3 phường Bến Thành từ tối qua", 10.7725, 106.6980),
    ("Xe máy đậu lấn chiếm vỉa hè trước chợ Bến Thành", 10.7721, 106.6983),
]


@pytest.fixture
def live_settings() -> dict[str, object]:
    return {"classifier_model": "auto", "geocoder": "auto"}  # fields and wards, as in production


async def seed(hotline: Hotline) -> list[int]:
    """The shipped units, wards and routing rules; reports through the public JSON API, processed by the worker."""
    async with hotline.pool.acquire() as conn:
        await demo.seed(conn)
    async with aiohttp.ClientSession(hotline.url) as http:
        for text, lat, lon in REPORTS:
            async with http.post("/api/v1/reports", json={"text": text, "lat": lat, "lon": lon}) as resp:
                assert resp.status in (200, 201), await resp.text()
    ids = [r["id"] for r in await hotline.pool.fetch("SELECT id FROM cases ORDER BY id")]
    await until(lambda: hotline.pool.fetchval("SELECT bool_and(processed_at IS NOT NULL) FROM cases"),
                seconds=60, what="the reports processed")
    return ids


@needs_polygons  # the ward boundaries come from the shared admin-units data beside the repository
async def test_the_inbox_map_and_dashboard_are_drawn_with_cases(page, hotline, signed_in):
    ids = await seed(hotline)
    await signed_in("supervisor")

    await page.goto(f"{hotline.url}/console/?queue=all")
    rows = page.get_by_test_id("inbox-row")
    await rows.first.wait_for()
    assert await rows.count() == len(REPORTS)
    assert {int(await r.get_attribute("data-case-id") or 0) for r in await rows.all()} == set(ids)
    await screenshot(page, "console-inbox")

    await page.goto(f"{hotline.url}/console/map")
    canvas = page.get_by_test_id("map-canvas")
    await canvas.locator(".leaflet-interactive").first.wait_for()  # the ward boundaries drawn
    await page.locator("#map-wards tbody tr").first.wait_for()
    assert (await canvas.bounding_box() or {}).get("height", 0) > 200
    await screenshot(page, "console-map")

    # A ward in the table opens the inbox on that ward's open cases.
    top = page.locator("#map-wards tbody tr").first
    ward, count = await top.locator("a").text_content(), int(await top.locator("td").last.text_content() or 0)
    await top.locator("a").click()
    await page.wait_for_url("**/console/?queue=open&ward=*")
    await rows.first.wait_for()
    assert await rows.count() == count
    assert {(await r.locator("td").nth(3).text_content() or "").strip() for r in await rows.all()} == {ward}

    await page.goto(f"{hotline.url}/console/dashboard")
    await page.get_by_test_id("dashboard").wait_for()
    await page.locator("#dashboard canvas").first.wait_for()
    await screenshot(page, "console-dashboard")


async def test_the_case_page_is_drawn_with_its_conversation(page, hotline, signed_in):
    ids = await seed(hotline)
    await signed_in("agent")
    await api(hotline, "agent", "POST", f"/api/v1/cases/{ids[4]}/replies",
              {"text": "Cảm ơn anh/chị, chúng tôi đã chuyển đơn vị điện lực kiểm tra trong hôm nay."})

    await page.goto(f"{hotline.url}{case_path(ids[4])}")
    await page.get_by_test_id("case-messages").get_by_text("Cảm ơn anh/chị").wait_for()
    await page.get_by_test_id("case-timeline").wait_for()
    await page.get_by_test_id("case-status").wait_for()
    await screenshot(page, "console-case")
