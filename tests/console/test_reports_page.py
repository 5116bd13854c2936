"""The console's report page /console/reports: who sees what, the numbers of sla_report, English, bad parameters."""

from __future__ import annotations

import html as htmllib
import re
from datetime import datetime

import pytest

from casework.reports import periods
from casework.reports.sla import dti_report, sla_report
from kernel.http import SERVICES
from kernel.time import LOCAL_TZ, FixedClock
from tests.casework.reports.history import insert
from tests.casework.reports.test_sla import month_of_cases

LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOW = datetime(2026, 12, 20, 9, 0, tzinfo=LOCAL_TZ)  # after November's close, in Q4
NOVEMBER = periods.monthly(2026, 11)


async def sign_in(client, username: str) -> None:
    form = await client.get("/console/login")
    token = LOGIN_CSRF.search(await form.text()).group(1)
    resp = await client.post("/console/login", data={"username": username, "password": f"{username}-secret",
                                                     "csrf_token": token, "next": "/console/"},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()


@pytest.fixture
async def month(client, pool, units, tokens):
    client.app[SERVICES].clock = FixedClock(NOW)
    return await insert(pool, month_of_cases())


def cards(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([a-z_]+)" data-value="([^"]*)"', page))


def table(page: str, table_id: str = "t-report") -> dict[str, tuple[str, str, str]]:
    """data-key -> (received, handled, on-time rate) as the table's data attributes hold them."""
    body = page.split(f'id="{table_id}"', 1)[1].split("</tbody>", 1)[0]
    return {m[0]: (m[1], m[2], m[3]) for m in re.findall(
        r'<tr data-key="([^"]*)" data-received="([^"]*)" data-handled="([^"]*)"\s+data-rate="([^"]*)"', body)}


def raw(value) -> str:
    return "" if value is None else str(value)


async def calendar(client):
    return (await client.app[SERVICES].current_router()).calendar


async def test_a_supervisor_sees_every_unit_with_the_numbers_of_sla_report(client, pool, month):
    await sign_in(client, "supervisor")
    resp = await client.get("/console/reports", params={"month": "2026-11"})
    assert resp.status == 200, await resp.text()
    page = await resp.text()
    assert page.count("<h1") == 1 and "Báo cáo tiếp nhận và xử lý" in page
    report = await sla_report(pool, NOVEMBER, "unit", clock=await calendar(client), now=NOW)
    t = report.total
    shown = cards(page)
    assert shown == {
        "received": "6", "handled": "3", "on_time_rate": raw(t.on_time_rate), "overdue": "2", "in_progress": "3",
        "forward_rule_rate": "0.8", "resolution_work": raw(t.resolution.median_work_min),
        "resolution_clock": raw(t.resolution.median_clock_min), "reopen_rate": raw(t.reopen_rate),
        "satisfied_share": "0.5", "within_legal_rate": "1.0"}
    assert (t.received, t.handled, t.overdue, t.in_progress) == (6, 3, 2, 3)
    assert table(page) == {raw(f.key): (str(f.received), str(f.handled), raw(f.on_time_rate)) for f in report.rows}
    assert list(table(page)) == ["so-xay-dung", "evn-hcmc", ""]  # by received, the centre last
    assert "66,7 %" in page and "Sở Xây dựng" in page and "Tổng công ty Điện lực TP.HCM" in page
    assert 'data-testid="report-none-ranked"' in page  # nobody handled 10 cases
    assert 'id="chart-rate"' in page and 'id="chart-volume"' in page and 'aria-describedby="t-report"' in page
    links = re.findall(r'href="(/api/v1/stats/[^"]+)" data-format="([a-z]+)"', page)
    assert ("/api/v1/stats/sla?month=2026-11&amp;by=unit&amp;format=pdf&amp;lang=vi", "pdf") in links
    assert {fmt for _, fmt in links} == {"csv", "xlsx", "pdf", "json"}
    assert ("/api/v1/stats/dti?quarter=2026-Q4&amp;format=xlsx&amp;lang=vi", "xlsx") in links
    dti = await dti_report(pool, periods.quarter(2026, 4), clock=await calendar(client), now=NOW)
    dti_keys = re.findall(r'<tr data-key="([^"]*)"><th scope="row">', page.split('id="t-dti"', 1)[1])
    assert dti_keys == [raw(d.unit) for d in dti] == ["", "evn-hcmc", "so-xay-dung"]
    assert 'href="/console/reports" aria-current="page"' in page


async def test_every_grouping_matches_sla_report(client, pool, month):
    await sign_in(client, "admin")
    for by in ("field", "channel", "ward"):
        page = await (await client.get("/console/reports", params={"month": "2026-11", "by": by})).text()
        report = await sla_report(pool, NOVEMBER, by, clock=await calendar(client), now=NOW)
        assert table(page) == {raw(f.key): (str(f.received), str(f.handled), raw(f.on_time_rate))
                               for f in report.rows}, by
        assert 'data-testid="report-none-ranked"' not in page and "Xếp hạng đơn vị" not in page


async def test_a_date_range_wins_over_the_month(client, pool, month):
    await sign_in(client, "supervisor")
    resp = await client.get("/console/reports", params={"month": "2026-11", "from": "2026-11-01",
                                                        "to": "2026-11-05", "by": "channel"})
    page = await resp.text()
    assert resp.status == 200 and "<strong>2026-11-01..2026-11-05</strong>" in page
    assert {k: v[0] for k, v in table(page).items()} == {"web": "1", "sms": "1", "voice": "1"}
    assert "from=2026-11-01&amp;to=2026-11-05&amp;by=channel&amp;format=csv" in page


async def test_the_default_is_the_month_in_progress(client, pool, month):
    await sign_in(client, "supervisor")
    page = await (await client.get("/console/reports")).text()
    assert "<strong>2026-12</strong>" in page and "Kỳ chưa kết thúc" in page
    assert '<option value="2026-12" selected>2026-12 (đang diễn ra)</option>' in page
    assert '<option value="2026-Q4" selected>' in page


async def test_a_unit_sees_its_own_cases_only(client, pool, month):
    await sign_in(client, "department")  # so-xay-dung
    resp = await client.get("/console/reports", params={"month": "2026-11"})
    page = await resp.text()
    assert resp.status == 200
    report = await sla_report(pool, NOVEMBER, "field", unit="so-xay-dung", clock=await calendar(client), now=NOW)
    assert cards(page)["received"] == "3" == str(report.total.received)
    assert table(page) == {raw(f.key): (str(f.received), str(f.handled), raw(f.on_time_rate)) for f in report.rows}
    assert 'data-testid="report-scope"' in page and "Sở Xây dựng" in page
    assert 'id="r-unit"' not in page and "Điện lực" not in page and "evn-hcmc" not in page
    by_unit = await (await client.get("/console/reports", params={"month": "2026-11", "by": "unit"})).text()
    assert list(table(by_unit)) == ["so-xay-dung"] and "Xếp hạng đơn vị" not in by_unit
    dti_keys = re.findall(r'<tr data-key="([^"]*)"><th scope="row">', by_unit.split('id="t-dti"', 1)[1])
    assert dti_keys == ["so-xay-dung"]
    assert "unit=so-xay-dung" in by_unit  # the downloads ask the API for the same unit
    other = await client.get("/console/reports", params={"month": "2026-11", "unit": "evn-hcmc"})
    assert other.status == 403 and "Không có quyền truy cập" in await other.text()


async def test_a_supervisor_may_look_at_one_unit(client, pool, month):
    await sign_in(client, "supervisor")
    page = await (await client.get("/console/reports", params={"month": "2026-11", "unit": "evn-hcmc"})).text()
    assert cards(page)["received"] == "2" and list(table(page)) == ["evn-hcmc"]
    assert '<option value="evn-hcmc" selected>' in page and "Xếp hạng đơn vị" not in page


async def test_agents_get_the_403_page_and_no_link(client, month):
    assert (await client.get("/console/reports", allow_redirects=False)).status == 303  # signed out: sign in first
    await sign_in(client, "agent")
    resp = await client.get("/console/reports")
    assert resp.status == 403 and "Không có quyền truy cập" in await resp.text()
    assert "/console/reports" not in await (await client.get("/console/")).text()


async def test_the_nav_links_the_page_for_units_and_supervisors(client, month):
    for name in ("department", "supervisor"):
        client.session.cookie_jar.clear()
        await sign_in(client, name)
        assert 'href="/console/reports"' in await (await client.get("/console/")).text()


async def test_english_with_lang_en(client, pool, month):
    await sign_in(client, "supervisor")
    resp = await client.get("/console/reports", params={"month": "2026-11", "lang": "en"})
    page = await resp.text()
    assert resp.status == 200 and '<html lang="en">' in page
    assert "Intake and handling report" in page and "Key figures" in page and "Department of Construction" in page
    assert "66.7%" in page and "Units ranked by on-time rate" in page and "1022 centre (not forwarded)" in page
    assert "format=pdf&amp;lang=en" in page and "Reports</a>" in page


@pytest.mark.parametrize("params, wrong", [
    ({"month": "2026-13"}, "Tháng không hợp lệ"),
    ({"month": "11-2026"}, "Tháng không hợp lệ"),
    ({"month": "9999-01"}, "Tháng không hợp lệ"),
    ({"month": "2026-11\u0000"}, "Tháng không hợp lệ"),
    ({"month": "2026-11" + "1" * 100}, "Tháng không hợp lệ"),
    ({"by": "district"}, "Cách nhóm không hợp lệ"),
    ({"from": "2026-11-01"}, "Khoảng ngày không hợp lệ"),
    ({"to": "2026-11-01"}, "Khoảng ngày không hợp lệ"),
    ({"from": "2026-11-05", "to": "2026-11-01"}, "Khoảng ngày không hợp lệ"),
    ({"from": "2026-02-30", "to": "2026-03-01"}, "Khoảng ngày không hợp lệ"),
    ({"from": "\ud800", "to": "2026-03-01"}, "Khoảng ngày không hợp lệ"),
    ({"quarter": "2026-Q5"}, "Quý không hợp lệ"),
    ({"unit": "no-such-unit"}, "Không có đơn vị này"),
])
async def test_bad_parameters_show_the_form_with_what_is_wrong(client, month, params, wrong):
    await sign_in(client, "supervisor")
    resp = await client.get("/console/reports", params=params)
    assert resp.status == 400
    page = htmllib.unescape(await resp.text())
    assert 'data-testid="report-error"' in page and wrong in page
    assert 'data-testid="report-cards"' not in page and '<form class="filters report-form"' in page


async def test_two_bad_parameters_are_both_named(client, month):
    await sign_in(client, "supervisor")
    resp = await client.get("/console/reports", params={"by": "x", "quarter": "Q9", "lang": "en"})
    page = await resp.text()
    assert resp.status == 400 and "Not a grouping" in page and "Not a quarter" in page


async def test_every_download_link_gives_its_file_to_the_signed_in_page(client, month):
    await sign_in(client, "department")  # the session cookie is enough; a unit's links ask for its own unit
    page = await (await client.get("/console/reports", params={"month": "2026-11", "lang": "en"})).text()
    links = [(htmllib.unescape(href), fmt) for href, fmt in
             re.findall(r'href="(/api/v1/stats/[^"]+)" data-format="([a-z]+)"', page)]
    assert len(links) == 8
    types = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "pdf": "application/pdf", "json": "application/json"}
    for href, fmt in links:
        resp = await client.get(href)
        assert resp.status == 200, (href, await resp.text())
        assert resp.content_type == types[fmt], href
        body = await resp.read()
        assert body, href
        if fmt == "json" and "/sla" in href:
            assert (await resp.json())["unit"] == "so-xay-dung"
