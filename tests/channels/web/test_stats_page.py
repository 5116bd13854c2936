"""The public statistics page /thong-ke (/stats): aggregates only, the counts of the SLA report, cached, ETag/304."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from casework.reports import periods
from casework.reports.sla import sla_report
from channels.web import stats
from kernel.http import SERVICES
from kernel.time import LOCAL_TZ, FixedClock
from tests.casework.reports.history import History, insert
from tests.integrations.geocoding.conftest import needs_polygons

BEN_THANH, SAI_GON, TAN_DINH = "26743", "26740", "26737"
NOVEMBER = periods.monthly(2026, 11)
NOW = datetime(2026, 12, 20, 9, 0, tzinfo=LOCAL_TZ)  # December's month is open; November's is the last closed
SECRET_TEXT = "Nhà bà Xuyến số 99 hẻm 7 bị hàng xóm lấn chiếm"
SECRET_NAME = "Trần Thị Xuyến"
SECRET_PHONES = ("+84907654321", "0907654321", "907654321")
SECRET_ADDRESS = "99/7 Nguyễn Thị Minh Khai"
SECRET_POINT = ("10.7766661", "106.6955551")
SECRET_CODES = ("7391046285", "5820417396", "6402958173")


def local(d: int, h: int, mi: int = 0, mo: int = 11) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=LOCAL_TZ)


def case(day: int, unit: str, ward: str | None, field: str, *, answered_after_days: int | None,
         channel: str = "web", mo: int = 11) -> History:
    """A case received at 08:00, forwarded two minutes later with a deadline three days on, maybe answered."""
    h = History(local(day, 8, mo=mo), channel).route(local(day, 8, 2, mo=mo), unit, local(day + 3, 17, mo=mo),
                                                     field_code=field)
    if ward is not None:
        h.add(local(day, 8, 1, mo=mo), "geocoded", ward_code=ward)
    if answered_after_days is not None:
        h.move(local(day + answered_after_days, 10, mo=mo), "answered")
    return h


def november() -> list[History]:
    """so-xay-dung handles 12 (9 on time), evn-hcmc none of 8, the Bến Thành committee 2; wards 13, 7 and 2."""
    out = [case(1 + i, "so-xay-dung", TAN_DINH, "trees", answered_after_days=1 if i < 9 else 6) for i in range(12)]
    out += [case(2 + i, "evn-hcmc", BEN_THANH, "electricity", answered_after_days=None, channel="sms")
            for i in range(7)]
    out += [case(3 + i, "ubnd-ben-thanh", SAI_GON, "urban_order", answered_after_days=2) for i in range(2)]
    out.append(case(4, "evn-hcmc", TAN_DINH, "electricity", answered_after_days=None, channel="voice"))
    out.append(History(local(5, 8), "web").move(local(5, 8, 1), "duplicate"))  # never counted
    return out


@pytest.fixture
async def seeded(client, pool, units):
    client.app[SERVICES].clock = FixedClock(NOW)
    ids = await insert(pool, [*november(), case(1, "so-xay-dung", TAN_DINH, "trees", answered_after_days=None,
                                                mo=12)])
    # One November case carries everything a page must never show.
    citizen = await pool.fetchval("INSERT INTO citizens (display_name) VALUES ($1) RETURNING id", SECRET_NAME)
    await pool.execute("INSERT INTO citizen_identities (citizen_id, kind, value) VALUES ($1, 'phone', $2)",
                       citizen, SECRET_PHONES[0])
    await pool.execute("UPDATE cases SET description = $2, address = $3, lat = $4, lon = $5, citizen_id = $6"
                       " WHERE id = $1", ids[0], SECRET_TEXT, SECRET_ADDRESS, float(SECRET_POINT[0]),
                       float(SECRET_POINT[1]), citizen)
    for case_id, code in zip(ids, SECRET_CODES, strict=False):
        await pool.execute("UPDATE cases SET tracking_code = $2 WHERE id = $1", case_id, code)
    return ids


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, name
    return found.group(1)


def table_rows(html: str, table_id: str) -> dict[str, str]:
    """data-key -> the row's first number cell, as shown."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return {m.group(1): m.group(2).strip()
            for m in re.finditer(r'<tr data-key="([^"]*)">.*?<td class="num"[^>]*>([^<]*)<', body, re.S)}


async def test_the_page_shows_the_last_closed_month_as_the_sla_report_counts_it(client, pool, seeded):
    resp = await client.get("/thong-ke")
    assert resp.status == 200
    html = await resp.text()
    assert '<html lang="vi">' in html and "Thống kê phản ánh" in html
    assert 'value="2026-11" selected' in html and "Tháng 12/2026 (đang diễn ra)" in html
    router = await client.app[SERVICES].current_router()
    report = {by: await sla_report(pool, NOVEMBER, by, clock=router.calendar, now=NOW) for by in ("unit", "field",
                                                                                                 "ward")}
    total = report["unit"].total
    assert (total.received, total.handled, total.duplicates) == (22, 14, 1)
    assert figure(html, "received") == "22" and figure(html, "handled") == "14"
    assert figure(html, "on_time_rate") == f"{total.on_time_rate * 100:.1f}".replace(".", ",") + " %"
    assert table_rows(html, "t-fields") == {f.key: str(f.received) for f in report["field"].rows if f.received}
    # Wards: Tân Định's 13 shown; Sài Gòn's 2 hidden, and Bến Thành's 7 with it (else 22 - 13 - 7 gives it away).
    assert {f.key: f.received for f in report["ward"].rows if f.received} == {TAN_DINH: 13, BEN_THANH: 7, SAI_GON: 2}
    assert table_rows(html, "t-wards") == {TAN_DINH: "13", BEN_THANH: "ẩn", SAI_GON: "ẩn"}
    assert "165 phường, xã không có phản ánh nào" in html
    units = table_rows(html, "t-units")
    assert units == {"so-xay-dung": "12", "evn-hcmc": "ẩn", "ubnd-ben-thanh": "ẩn"}
    row = html.split('<tr data-key="so-xay-dung">', 1)[1].split("</tr>", 1)[0]
    assert "75,0 %" in row and "46,8 % – 91,1 %" in row  # 9 of 12 on time, and its Wilson interval
    assert html.count('class="num too-few"') == 2  # the units with fewer than 10 handled: no rate
    assert "So sánh các đơn vị có quy mô khác nhau" in html and "Về số liệu" in html


async def test_the_json_holds_the_same_counts_and_no_small_ones(client, seeded):
    body = await (await client.get("/thong-ke/data.json", params={"month": "2026-11"})).json()
    assert body["period"] == {"label": "2026-11", "start": "2026-10-25T05:00:00Z", "end": "2026-11-25T05:00:00Z"}
    assert body["closed"] is True and body["rules"] == {"small": 5, "min_handled": 10}
    assert {f["key"]: f["received"] for f in body["fields"]} == {"trees": 12, "electricity": 8, "urban_order": 2}
    assert [(w["key"], w["received"]) for w in body["wards"]] == [(TAN_DINH, 13), (BEN_THANH, None),
                                                                  (SAI_GON, None)]
    assert body["ward_unknown"] == 0 and body["wards_hidden"] == 2
    units = {u["key"]: u for u in body["units"]}
    assert (units["so-xay-dung"]["handled"], units["so-xay-dung"]["on_time_rate"]) == (12, 0.75)
    assert units["so-xay-dung"]["low"] == pytest.approx(0.4677, abs=1e-4)
    assert (units["evn-hcmc"]["received"], units["evn-hcmc"]["on_time_rate"]) == (None, None)


async def test_nothing_personal_reaches_the_page_or_the_json(client, seeded):
    for path in ("/thong-ke", "/stats", "/thong-ke/data.json"):
        text = await (await client.get(path, params={"month": "2026-11"})).text()
        for secret in (SECRET_TEXT, "Xuyến", SECRET_ADDRESS, *SECRET_PHONES, *SECRET_POINT, *SECRET_CODES,
                       "10.776", "106.695", "phản ánh thử"):
            assert secret not in text, (path, secret)
    data = json.loads(await (await client.get("/thong-ke/data.json?month=2026-11")).text())
    keys: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            keys.update(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(data)
    assert keys <= {"period", "label", "start", "end", "closed", "as_of", "rules", "small", "min_handled", "total",
                    "received", "handled", "on_time_rate", "forward_rule_rate", "online_share", "fields", "key",
                    "name_vi", "name_en", "wards", "ward_unknown", "wards_hidden", "wards_without_reports", "units",
                    "low", "high"}


async def test_english_at_stats_and_one_address_per_language(client, seeded):
    resp = await client.get("/stats")
    html = await resp.text()
    assert resp.status == 200 and '<html lang="en">' in html
    assert "Reports by field" in html and "Trees and green space" in html and "November 2026" in html
    assert "Comparing units of different size" in html and "too few cases" in html
    assert "Set-Cookie" not in resp.headers  # public and shared-cacheable: the same bytes for everyone
    moved = await client.get("/thong-ke", params={"lang": "en", "month": "2026-11"}, allow_redirects=False)
    assert (moved.status, moved.headers["Location"]) == (302, "/stats?month=2026-11")
    back = await client.get("/stats", params={"lang": "vi", "month": "2026-11\r\nX: 1"}, allow_redirects=False)
    assert (back.status, back.headers["Location"]) == (302, "/thong-ke")  # only a month goes along


async def test_a_closed_month_is_computed_once_and_kept_a_day(client, pool, seeded):
    redis = client.app[SERVICES].redis
    first = await client.get("/thong-ke", params={"month": "2026-11"})
    assert first.headers["Cache-Control"] == "public, max-age=86400"
    assert 86000 < await redis.ttl("hotline:stats:public:v1:2026-11") <= 86400
    await insert(pool, [case(6, "so-xay-dung", TAN_DINH, "trees", answered_after_days=1)])  # a late arrival
    second = await client.get("/thong-ke", params={"month": "2026-11"})
    assert figure(await second.text(), "received") == "22"  # served from the cache: the new case not counted
    assert second.headers["ETag"] == first.headers["ETag"]
    assert await stats.forget(redis) == 1  # as after `hotline report rebuild`
    third = await client.get("/thong-ke", params={"month": "2026-11"})
    assert figure(await third.text(), "received") == "23" and third.headers["ETag"] != first.headers["ETag"]


async def test_the_month_in_progress_is_kept_five_minutes(client, seeded):
    resp = await client.get("/thong-ke/data.json", params={"month": "2026-12"})
    body = await resp.json()
    assert body["closed"] is False and body["total"]["received"] == 1
    assert body["as_of"] == "2026-12-20T02:00:00Z"
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    assert 0 < await client.app[SERVICES].redis.ttl("hotline:stats:public:v1:2026-12") <= 300


async def test_an_unchanged_page_is_a_304(client, seeded):
    for path in ("/thong-ke", "/stats", "/thong-ke/data.json"):
        first = await client.get(path)
        etag = first.headers["ETag"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status == 304 and await again.read() == b""
        assert again.headers["ETag"] == etag and again.headers["Cache-Control"].startswith("public, max-age=")
        weak = await client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        assert weak.status == 304
        stale = await client.get(path, headers={"If-None-Match": '"something-else"'})
        assert stale.status == 200
    vi, en = (await client.get("/thong-ke")).headers["ETag"], (await client.get("/stats")).headers["ETag"]
    assert vi != en


@pytest.mark.parametrize("month", ["2026-13", "2026-10x", "2025-11", "2027-01", "abc", "", "2026-11\u0000",
                                   "2" * 40])
async def test_a_month_not_offered_is_a_400_page_never_a_500(client, seeded, month):
    resp = await client.get("/thong-ke", params={"month": month})
    if month == "":
        assert resp.status == 200  # an empty choice: the default month
        return
    assert resp.status == 400
    html = await resp.text()
    assert 'data-testid="stats-error"' in html and "Vui lòng chọn một tháng trong danh sách" in html
    assert resp.headers["Cache-Control"] == "no-store"
    api = await client.get("/thong-ke/data.json", params={"month": month})
    assert api.status == 400 and (await api.json())["detail"]["field"] == "month"


async def test_the_twelve_closed_months_and_the_current_one_are_offered(client, seeded):
    html = await (await client.get("/thong-ke")).text()
    offered = re.findall(r'<option value="(\d{4}-\d{2})"', html)
    assert offered[0] == "2026-12" and offered[-1] == "2025-12" and len(offered) == 13
    assert (await client.get("/thong-ke", params={"month": "2025-12"})).status == 200


def test_small_cells_hide_in_pairs():
    assert stats.hidden_cells({"a": 12, "b": 2, "c": 7}) == {"b", "c"}
    assert stats.hidden_cells({"a": 12, "b": 2, "c": 3}) == {"b", "c"}
    assert stats.hidden_cells({"a": 12, "b": 20}) == set()
    assert stats.hidden_cells({"a": 4}) == {"a"}  # nothing else to hide it with: the total says as much anyway
    assert stats.hidden_cells({"a": 9, None: 6, "b": 1}) == {"b", None}


def test_the_wilson_interval():
    assert stats.wilson(0, 0) is None
    low, high = stats.wilson(9, 12)
    assert (round(low, 4), round(high, 4)) == (0.4677, 0.9111)
    assert stats.wilson(10, 10)[1] == 1.0 and stats.wilson(0, 10)[0] == 0.0


async def test_the_map_and_chart_scripts_need_no_sign_in(client):
    for path in ("/console/static/vendor/leaflet-1.9.4/leaflet.js", "/console/static/vendor/leaflet-1.9.4/leaflet.css",
                 "/console/static/vendor/chart.js-4.4.7/chart.umd.js", "/static/stats.js", "/static/stats.css"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 200, path


@needs_polygons
async def test_the_ward_boundaries_are_public_geojson(client):
    resp = await client.get("/thong-ke/wards.geojson", headers={"Accept-Encoding": "gzip"})
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("application/geo+json")
    assert resp.headers["Cache-Control"] == "public, max-age=86400"
    layer = await resp.json()
    assert len(layer["features"]) == 168
    assert {k for f in layer["features"] for k in f["properties"]} == {"code", "name", "full_name", "full_name_en",
                                                                       "type"}
    again = await client.get("/thong-ke/wards.geojson", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
