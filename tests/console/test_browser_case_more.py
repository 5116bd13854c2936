"""The case page and the inbox in a browser, more: the small map, and a case transferred away leaving a unit's inbox."""

from __future__ import annotations

from tests.console.conftest import api, case_path, processed, report
from tests.integrations.geocoding.conftest import needs_polygons

WARD = "26743"  # Phường Bến Thành


@needs_polygons  # the ward boundaries come from the shared admin-units data beside the repository
async def test_the_case_page_draws_its_point_and_ward_on_a_small_map(page, hotline, signed_in):
    citizen = await page.context.browser.new_context(locale="vi-VN")
    try:
        form = await citizen.new_page()
        located = await report(form, hotline, "Đèn đường hỏng trước chợ Bến Thành")
        nowhere = await report(form, hotline, "Không rõ địa chỉ")
    finally:
        await citizen.close()
    for case_id in (located, nowhere):
        await processed(hotline, case_id)
    await hotline.pool.execute("UPDATE cases SET lat = 10.7725, lon = 106.6980, ward_code = $2 WHERE id = $1",
                               located, WARD)
    await hotline.pool.execute("UPDATE cases SET lat = NULL, lon = NULL, ward_code = NULL WHERE id = $1", nowhere)
    await signed_in("agent")
    await page.goto(f"{hotline.url}{case_path(located)}")
    assert "Bến Thành" in (await page.get_by_test_id("case-ward").text_content() or "")
    box = page.get_by_test_id("case-map")
    await page.locator('#case-map[data-ward-drawn="1"]').wait_for()
    assert await box.locator("path.leaflet-interactive").count() == 2  # the ward's outline and the point
    assert await page.get_by_test_id("case-no-point").count() == 0
    assert await box.locator("img").count() == 0  # no tiles: nothing from outside
    await page.goto(f"{hotline.url}{case_path(nowhere)}")
    assert "Chưa có tọa độ" in (await page.get_by_test_id("case-no-point").text_content() or "")
    assert await page.get_by_test_id("case-map").count() == 0


async def test_a_case_transferred_away_leaves_the_units_open_inbox_without_a_reload(page, hotline, signed_in):
    citizen = await page.context.browser.new_context(locale="vi-VN")
    try:
        case_id = await report(await citizen.new_page(), hotline, "Vỉa hè bị lấn chiếm trước chợ Bến Thành")
    finally:
        await citizen.close()
    await processed(hotline, case_id)
    await api(hotline, "admin", "PATCH", f"/api/v1/cases/{case_id}", {"department": "so-xay-dung", "reason": "Vỉa hè"})
    await hotline.pool.execute("UPDATE cases SET status = 'forwarded' WHERE id = $1", case_id)
    await signed_in("department")  # of so-xay-dung
    await page.goto(f"{hotline.url}/console/")
    row = page.locator(f'[data-testid="inbox-row"][data-case-id="{case_id}"]')
    await row.wait_for()
    await page.evaluate("window.sameDocument = true")  # gone if the page reloads or navigates

    await api(hotline, "agent", "POST", f"/api/v1/cases/{case_id}/transfer",
              {"department": "evn-hcmc", "reason": "Thuộc ngành điện"})

    await row.wait_for(state="detached")
    assert await page.evaluate("window.sameDocument") is True
