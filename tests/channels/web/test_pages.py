"""The public form and status page, through HTTP as a browser would use them."""

import re

import aiohttp

from kernel.http import SERVICES
from tests.conftest import auth


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def test_form_is_vietnamese_by_default_and_english_on_request(client):
    resp = await client.get("/")
    html = await resp.text()
    assert resp.status == 200 and '<html lang="vi">' in html and "Gửi phản ánh" in html
    html_en = await (await client.get("/?lang=en")).text()
    assert '<html lang="en">' in html_en and "Send report" in html_en
    # The choice sticks for the next page.
    assert '<html lang="en">' in await (await client.get("/track")).text()


async def test_every_public_page_starts_with_a_skip_link_to_its_main_content(client):
    for path, words in (("/", "Bỏ qua, đến nội dung chính"), ("/track?lang=en", "Skip to the main content"),
                        ("/thong-ke", "Bỏ qua, đến nội dung chính")):
        html = await (await client.get(path)).text()
        body = html.split("<body>", 1)[1].lstrip()
        assert body.startswith(f'<a class="skip" href="#main">{words}</a>'), path
        assert '<main id="main" tabindex="-1">' in html


async def test_submitting_the_form_leads_to_the_status_page(client):
    html = await (await client.get("/")).text()
    form = aiohttp.FormData()
    form.add_field("csrf_token", _csrf(html))
    form.add_field("text", "Nắp cống bị mất trước số 18 Pasteur, rất nguy hiểm")
    form.add_field("name", "Phạm Quốc Huy")
    form.add_field("phone", "0987654321")
    form.add_field("address", "18 Pasteur, phường Sài Gòn")
    form.add_field("lat", "10.7765")
    form.add_field("lon", "106.7009")
    resp = await client.post("/report", data=form, allow_redirects=False)
    assert resp.status == 303
    location = resp.headers["Location"]
    code = re.search(r"/track/(\d{10})", location).group(1)
    page = await (await client.get(location)).text()
    assert code[:3] + " " + code[3:6] in page and "Đã tiếp nhận" in page
    assert "Phạm Quốc Huy" not in page and "0987654321" not in page and "+84987654321" not in page
    case = await client.app[SERVICES].pool.fetchrow(
        "SELECT lat, lon, address FROM cases WHERE tracking_code = $1", code)
    assert (case["lat"], case["lon"], case["address"]) == (10.7765, 106.7009, "18 Pasteur, phường Sài Gòn")


async def test_form_without_the_csrf_token_is_refused(client):
    await client.get("/")
    resp = await client.post("/report", data={"text": "abc", "csrf_token": "forged"})
    assert resp.status == 403
    assert await client.app[SERVICES].pool.fetchval("SELECT count(*) FROM cases") == 0


async def test_form_errors_are_shown_and_input_is_kept_escaped(client):
    html = await (await client.get("/")).text()
    resp = await client.post("/report", data={"csrf_token": _csrf(html), "text": "", "address": "<b>x</b>"})
    page = await resp.text()
    assert resp.status == 400 and "Vui lòng nhập nội dung phản ánh" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


async def test_status_page_refuses_a_mistyped_code_without_looking_it_up(client):
    resp = await client.post("/api/v1/reports", json={"text": "Cây xanh nghiêng sắp đổ"})
    code = (await resp.json())["tracking_code"]
    typo = code[:-1] + str((int(code[-1]) + 1) % 10)
    page = await client.get(f"/track/{typo}")
    assert page.status == 400 and "không hợp lệ" in await page.text()
    api = await client.get(f"/api/v1/reports/{typo}")
    assert api.status == 400 and (await api.json())["error"] == "invalid_tracking_code"
    assert (await client.get(f"/track/{code}")).status == 200
    # The lookup box accepts a code typed with spaces.
    resp = await client.get(f"/track?code={code[:3]}+{code[3:]}", allow_redirects=False)
    assert resp.headers["Location"].startswith(f"/track/{code}")


async def test_unknown_valid_code_is_404(client):
    from casework.codes import check_digit

    body = "123456789"
    resp = await client.get(f"/api/v1/reports/{body}{check_digit(body)}")
    assert resp.status == 404


async def test_public_view_hides_personal_data_and_notes(client, tokens):
    resp = await client.post("/api/v1/reports", json={
        "text": "Hàng xóm Nguyễn Văn Tèo đổ rác ra kênh", "name": "Lê Thị Hoa", "phone": "0909111222",
        "email": "hoa.le@example.vn", "address": "12/3 Trần Quang Khải"})
    code = (await resp.json())["tracking_code"]
    case_id = await client.app[SERVICES].pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    await client.post(f"/api/v1/cases/{case_id}/notes", json={"text": "ghi chú nội bộ bí mật"},
                      headers=auth(tokens["agent"]))
    await client.post(f"/api/v1/cases/{case_id}/replies", json={"text": "<script>alert('x')</script> Đã xử lý."},
                      headers=auth(tokens["agent"]))
    body = await (await client.get(f"/api/v1/reports/{code}")).text()
    page = await (await client.get(f"/track/{code}")).text()
    for secret in ("Lê Thị Hoa", "0909111222", "+84909111222", "hoa.le@example.vn", "ghi chú nội bộ", "Tèo",
                   "12/3 Trần Quang Khải", '"agent"'):
        assert secret not in body, secret
        assert secret not in page, secret
    # The reply is shown, escaped.
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Đã xử lý." in page
    assert "<script>alert" not in page


async def test_public_view_shows_field_unit_and_timeline(client, tokens):
    resp = await client.post("/api/v1/reports", json={"text": "Mất điện cả khu phố từ sáng"})
    code = (await resp.json())["tracking_code"]
    case_id = await client.app[SERVICES].pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    await client.patch(f"/api/v1/cases/{case_id}", json={"field": "electricity"}, headers=auth(tokens["agent"]))
    await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "forwarded", "department": "evn-hcmc"},
                      headers=auth(tokens["agent"]))
    view = await (await client.get(f"/api/v1/reports/{code}")).json()
    assert view["field"] == "electricity" and view["field_label"] == "Điện lực"
    assert view["unit"] == {"code": "evn-hcmc", "name": "Tổng công ty Điện lực TP.HCM"}
    assert [e["status"] for e in view["timeline"]] == ["received", "forwarded"]
    english = await (await client.get(f"/api/v1/reports/{code}?lang=en")).json()
    assert english["unit"]["name"] == "HCMC Power Corporation" and english["status_label"] == \
        "Forwarded to the responsible unit"


def _idempotency_key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


def _report_form(html: str, text: str) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("csrf_token", _csrf(html))
    form.add_field("idempotency_key", _idempotency_key(html))
    form.add_field("text", text)
    return form


async def test_each_form_page_carries_a_fresh_idempotency_key(client):
    first = await client.get("/")
    second_html = await (await client.get("/")).text()
    assert _idempotency_key(await first.text()) != _idempotency_key(second_html)
    assert first.headers["Cache-Control"] == "no-store"


async def test_double_submitted_form_creates_one_case(client):
    html = await (await client.get("/")).text()
    text = "Đèn tín hiệu giao thông ngã tư Hai Bà Trưng – Lê Duẩn không hoạt động"
    locations = []
    for _ in range(2):
        resp = await client.post("/report", data=_report_form(html, text), allow_redirects=False)
        assert resp.status == 303
        locations.append(resp.headers["Location"])
    assert locations[0] == locations[1]
    pool = client.app[SERVICES].pool
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1
    # A new page is a new report.
    other = await (await client.get("/")).text()
    resp = await client.post("/report", data=_report_form(other, text), allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] != locations[0]
    assert await pool.fetchval("SELECT count(*) FROM cases") == 2


async def test_form_resent_with_other_content_is_shown_again_with_a_new_key(client):
    html = await (await client.get("/")).text()
    first = await client.post("/report", data=_report_form(html, "Cây đổ đường Pasteur"), allow_redirects=False)
    assert first.status == 303
    resp = await client.post("/report", data=_report_form(html, "Ống nước vỡ đường Lý Tự Trọng"))
    page = await resp.text()
    assert resp.status == 422 and "đã được gửi trước đó" in page
    assert "Ống nước vỡ đường Lý Tự Trọng" in page and _idempotency_key(page) != _idempotency_key(html)
    assert await client.app[SERVICES].pool.fetchval("SELECT count(*) FROM cases") == 1


async def test_form_text_over_the_limit_is_refused_with_a_message(client):
    html = await (await client.get("/")).text()
    resp = await client.post("/report", data=_report_form(html, "ngập " * 4001))
    page = await resp.text()
    assert resp.status == 400 and "tối đa 20000 ký tự" in page
    max_bytes = client.app[SERVICES].settings.max_text_chars * 4
    resp = await client.post("/report?lang=en", data=_report_form(html, "x" * (max_bytes + 1)))
    page = await resp.text()
    assert resp.status == 413 and "at most 20000 characters" in page and "Traceback" not in page
    assert await client.app[SERVICES].pool.fetchval("SELECT count(*) FROM cases") == 0
