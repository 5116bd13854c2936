"""The case page in a browser: a unit gives a case to a colleague; an agent links a case by code, then unlinks it."""

from __future__ import annotations

from casework import codes, staff
from tests.console.conftest import api, case_path, processed, report


async def test_a_unit_assigns_a_case_to_a_colleague_and_the_page_names_her(page, hotline, signed_in):
    colleague = await staff.create_user(hotline.pool, "hoa", role="department", department="so-xay-dung",
                                        display_name="Nguyễn Thị Hoa", password="hoa-secret-1")
    case_id = await report(page, hotline, "Vỉa hè bị lấn chiếm trước chợ Bến Thành")
    await processed(hotline, case_id)
    await api(hotline, "admin", "POST", f"/api/v1/cases/{case_id}/status",
              {"status": "forwarded", "department": "so-xay-dung"})
    await signed_in("department")
    await page.goto(f"{hotline.url}{case_path(case_id)}")
    assert (await page.get_by_test_id("case-assignee").text_content() or "").strip() == "—"

    await page.get_by_test_id("assign-to").select_option(str(colleague))
    await page.get_by_test_id("case-assign").click()

    await page.get_by_test_id("case-assignee").get_by_text("Nguyễn Thị Hoa").wait_for()  # after the reload
    await page.get_by_test_id("case-timeline").get_by_text("Giao cho Nguyễn Thị Hoa").wait_for()
    assert await hotline.pool.fetchval("SELECT assignee FROM cases WHERE id = $1", case_id) == colleague
    who = await hotline.pool.fetch("SELECT actor_name, changes FROM case_events WHERE case_id = $1"
                                   " AND kind = 'assigned'", case_id)
    assert [(w["actor_name"], w["changes"]) for w in who] == [("department", {"assignee": [None, colleague]})]


async def test_an_agent_links_a_case_by_its_code_then_unlinks_it(page, hotline, signed_in):
    parent = await report(page, hotline, "Ổ gà lớn giữa đường Điện Biên Phủ")
    child = await report(page, hotline, "Đường Điện Biên Phủ có ổ gà to gần ngã tư")
    for case_id in (parent, child):
        await processed(hotline, case_id)
    parent_code = await hotline.pool.fetchval("SELECT tracking_code FROM cases WHERE id = $1", parent)
    await signed_in("agent")
    await page.goto(f"{hotline.url}{case_path(child)}")

    await page.get_by_test_id("link-code").fill(codes.display(parent_code))  # as printed, with spaces
    await page.get_by_test_id("link-reason").fill("Cùng một ổ gà")
    await page.get_by_test_id("case-link").click()

    await page.locator('[data-testid="case-status"][data-status="duplicate"]').wait_for()
    assert await hotline.pool.fetchval("SELECT duplicate_of FROM cases WHERE id = $1", child) == parent
    await page.locator(f'a[href="{case_path(parent)}"]').first.wait_for()

    await page.get_by_test_id("unlink-reason").fill("Khác địa điểm: hai ổ gà cách nhau 2 km")
    await page.get_by_test_id("duplicate-unlink").click()

    await page.locator('[data-testid="case-status"][data-status="triage"]').wait_for()
    await page.get_by_test_id("case-timeline").get_by_text(
        f"Không trùng: tách khỏi hồ sơ {codes.display(parent_code)}").wait_for()
    row = await hotline.pool.fetchrow("SELECT status, duplicate_of FROM cases WHERE id = $1", child)
    assert (row["status"], row["duplicate_of"]) == ("triage", None)
    assert await page.get_by_test_id("link-code").count() == 1  # it may be linked again
