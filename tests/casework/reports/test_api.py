"""GET /api/v1/stats/sla and /api/v1/stats/dti: who sees what, the periods asked for, bad parameters."""

from __future__ import annotations

import pytest

from kernel.http import SERVICES
from kernel.time import FixedClock
from tests.casework.reports.history import insert
from tests.casework.reports.test_sla import local, month_of_cases
from tests.conftest import auth


@pytest.fixture
async def month(client, pool, units, tokens):
    client.app[SERVICES].clock = FixedClock(local(20, 9, mo=12))  # after November's close, in Q4
    return await insert(pool, month_of_cases())


async def test_a_supervisor_gets_the_city_month_by_unit(client, tokens, month):
    resp = await client.get("/api/v1/stats/sla", params={"month": "2026-11"}, headers=auth(tokens["supervisor"]))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["period"] == {"label": "2026-11", "start": "2026-10-25T05:00:00Z", "end": "2026-11-25T05:00:00Z"}
    assert (body["by"], body["unit"], body["as_of"]) == ("unit", None, "2026-11-25T05:00:00Z")
    total = body["total"]
    assert (total["received"], total["handled"], total["duplicates"], total["overdue"]) == (6, 3, 1, 2)
    assert total["forward_rule_rate"] == 0.8 and total["time_to_forward"]["median_clock_min"] == 3.0
    assert [(r["key"], r["name_vi"], r["received"]) for r in body["rows"]] == [
        ("so-xay-dung", "Sở Xây dựng", 3), ("evn-hcmc", "Tổng công ty Điện lực TP.HCM", 2),
        (None, "Tổng đài 1022 (chưa chuyển đơn vị)", 1)]
    assert body["ranking"] == {"min_handled": 10, "ranked": [], "top": [], "bottom": []}


async def test_the_default_is_the_current_city_month_and_by_unit(client, tokens, month):
    client.app[SERVICES].clock = FixedClock(local(25, 12, mo=11))  # noon on the 25th: December's period opens
    body = await (await client.get("/api/v1/stats/sla", headers=auth(tokens["admin"]))).json()
    assert (body["period"]["label"], body["by"], body["total"]["received"]) == ("2026-12", "unit", 1)  # c7
    client.app[SERVICES].clock = FixedClock(local(25, 11, 59, mo=11))
    body = await (await client.get("/api/v1/stats/sla", headers=auth(tokens["admin"]))).json()
    assert (body["period"]["label"], body["as_of"]) == ("2026-11", "2026-11-25T04:59:00Z")


async def test_a_date_range_and_other_groupings(client, tokens, month):
    resp = await client.get("/api/v1/stats/sla", params={"from": "2026-11-01", "to": "2026-11-05", "by": "channel"},
                            headers=auth(tokens["supervisor"]))
    body = await resp.json()
    assert body["period"]["label"] == "2026-11-01..2026-11-05"
    assert {r["key"]: r["received"] for r in body["rows"]} == {"web": 1, "sms": 1, "voice": 1}
    assert {r["key"]: r["name_en"] for r in body["rows"]}["voice"] == "Phone call"
    assert body["ranking"] is None


async def test_a_unit_sees_its_own_cases_only(client, tokens, month):
    headers = auth(tokens["department"])  # so-xay-dung
    body = await (await client.get("/api/v1/stats/sla", params={"month": "2026-11", "by": "channel"},
                                   headers=headers)).json()
    assert body["unit"] == "so-xay-dung" and body["total"]["received"] == 3
    assert {r["key"] for r in body["rows"]} == {"web", "sms", "telegram"}
    own = await client.get("/api/v1/stats/sla", params={"month": "2026-11", "unit": "so-xay-dung"}, headers=headers)
    assert own.status == 200
    other = await client.get("/api/v1/stats/sla", params={"month": "2026-11", "unit": "evn-hcmc"}, headers=headers)
    assert other.status == 403 and (await other.json())["error"] == "forbidden"
    dti = await (await client.get("/api/v1/stats/dti", params={"quarter": "2026-Q4"}, headers=headers)).json()
    assert [(r["unit"], r["received"]) for r in dti["rows"]] == [("so-xay-dung", 3)]


async def test_a_supervisor_may_ask_for_one_unit(client, tokens, month):
    body = await (await client.get("/api/v1/stats/sla", params={"month": "2026-11", "unit": "evn-hcmc"},
                                   headers=auth(tokens["supervisor"]))).json()
    assert body["unit"] == "evn-hcmc" and body["total"]["received"] == 2


async def test_agents_get_no_figures(client, tokens, month):
    for path in ("/api/v1/stats/sla", "/api/v1/stats/dti"):
        resp = await client.get(path, headers=auth(tokens["agent"]))
        assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
        assert (await client.get(path)).status == 401


async def test_the_dti_quarter_city_first(client, tokens, month):
    body = await (await client.get("/api/v1/stats/dti", headers=auth(tokens["admin"]))).json()  # default: Q4
    assert body["period"]["label"] == "2026-Q4"
    city, *units = body["rows"]
    assert (city["unit"], city["name_vi"], city["received"], city["reopen_rate"]) == (None, "Toàn thành phố", 8, 0.25)
    assert [u["unit"] for u in units] == ["evn-hcmc", "so-xay-dung"]
    assert set(city) == {"unit", "period_label", "received", "on_time_rate", "avg_handling_work_hours",
                         "online_share", "satisfaction", "reopen_rate", "within_legal_rate", "name_vi", "name_en"}


@pytest.mark.parametrize("path, params, field", [
    ("/api/v1/stats/sla", {"month": "2026-13"}, "month"),
    ("/api/v1/stats/sla", {"month": "11-2026"}, "month"),
    ("/api/v1/stats/sla", {"month": ""}, "month"),
    ("/api/v1/stats/sla", {"by": "district"}, "by"),
    ("/api/v1/stats/sla", {"by": ""}, "by"),
    ("/api/v1/stats/sla", {"from": "2026-11-01"}, "to"),
    ("/api/v1/stats/sla", {"to": "2026-11-01"}, "from"),
    ("/api/v1/stats/sla", {"from": "2026-11-05", "to": "2026-11-01"}, "to"),
    ("/api/v1/stats/sla", {"from": "2026-02-30", "to": "2026-03-01"}, "from"),
    ("/api/v1/stats/sla", {"month": "2026-11", "from": "2026-11-01", "to": "2026-11-02"}, "month"),
    ("/api/v1/stats/sla", {"form": "2026-11-01"}, "form"),
    ("/api/v1/stats/sla", {"unit": "no-such-unit"}, "unit"),
    ("/api/v1/stats/sla", {"unit": "so-xay-dung\u0000"}, "unit"),
    ("/api/v1/stats/sla", {"month": "2026-11" + "1" * 100}, "month"),
    ("/api/v1/stats/sla", {"month": "9999-01"}, "month"),
    ("/api/v1/stats/dti", {"quarter": "2026-Q5"}, "quarter"),
    ("/api/v1/stats/dti", {"quarter": "2026"}, "quarter"),
    ("/api/v1/stats/dti", {"month": "2026-11"}, "month"),
])
async def test_bad_parameters_are_a_400_naming_the_parameter(client, tokens, month, path, params, field):
    resp = await client.get(path, params=params, headers=auth(tokens["supervisor"]))
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert body["detail"]["field"] == field and body["detail"]["message"]


async def test_a_parameter_given_twice_is_a_400(client, tokens, month):
    resp = await client.get("/api/v1/stats/sla?by=unit&by=field", headers=auth(tokens["supervisor"]))
    assert resp.status == 400 and (await resp.json())["detail"]["field"] == "by"
