"""The console in a browser refuses writes without the session's CSRF token."""

from __future__ import annotations

from console.i18n import t
from tests.console.conftest import processed, report


async def test_a_write_without_the_csrf_token_is_refused(page, hotline, signed_in):
    case_id = await report(page, hotline, "Rác thải để lâu ngày trên đường Pasteur")
    await processed(hotline, case_id)
    csrf = await signed_in("agent")
    await page.goto(f"{hotline.url}/console/")
    path = f"/api/v1/cases/{case_id}/notes"

    # The page's own fetch(): the session cookie goes along, the token does not.
    status = await page.evaluate(
        """async (path) => (await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                               body: JSON.stringify({text: "ghi chú"})})).status""", path)
    assert status == 403
    resp = await page.request.post(f"{hotline.url}{path}", data={"text": "ghi chú"},
                                   headers={"X-CSRF-Token": "not-the-token"})
    assert resp.status == 403
    resp = await page.request.post(f"{hotline.url}/console/logout", form={"x": "1"})
    assert resp.status == 403
    assert await hotline.pool.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1 AND kind = 'note'",
                                       case_id) == 0

    # The token the page embeds makes the same request pass: the refusal is the missing token, nothing else.
    embedded = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert embedded == csrf
    status = await page.evaluate(
        """async ([path, token]) => (await fetch(path, {method: "POST",
              headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
              body: JSON.stringify({text: "ghi chú"})})).status""", [path, embedded])
    assert status == 201


async def test_an_agent_has_no_dashboard_link_and_gets_403_for_the_page(page, hotline, signed_in):
    await signed_in("agent")
    await page.goto(f"{hotline.url}/console/")
    nav = page.locator("nav")
    await nav.get_by_text(t("nav_map", "vi"), exact=True).wait_for()
    assert await nav.get_by_text(t("nav_dashboard", "vi"), exact=True).count() == 0

    resp = await page.goto(f"{hotline.url}/console/dashboard")
    assert resp is not None and resp.status == 403
    assert await page.get_by_test_id("dashboard").count() == 0
    assert (await page.get_by_test_id("error-message").text_content() or "").strip() == t("forbidden", "vi")
