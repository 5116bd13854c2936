"""Bad input never gives 5xx: each class that once did (issue 13) is a 4xx naming the field, or is cleaned.

Citizen text is cleaned rather than refused (a NUL or a lone surrogate never costs a report); staff and
admin bodies, query filters and path ids are refused with 400 and `{"error", "detail"}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from kernel.http import SERVICES
from tests.conftest import auth

OK = "Cây đổ chắn ngang đường Nguyễn Huệ"


@dataclass(frozen=True)
class Bad:
    name: str
    method: str
    path: str
    status: int
    data: bytes | None = None
    content_type: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    role: str | None = "admin"
    field: str | None = "-"  # the field the detail names; "-" when not checked

    def __str__(self) -> str:
        return self.name


def _json(text: str) -> tuple[bytes, str]:
    return text.encode("utf-8", "surrogatepass"), "application/json"


def _mp(body: bytes, boundary: str | None = "b0und") -> tuple[bytes, str]:
    ctype = "multipart/form-data" if boundary is None else f'multipart/form-data; boundary="{boundary}"'
    return body, ctype


TEXT_PART = b'--b0und\r\nContent-Disposition: form-data; name="text"\r\n\r\n' + OK.encode()
DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5000

CASES = [
    # JSON bodies: numbers JSON has no room for, nesting, surrogates and NUL in staff text.
    Bad("report NaN", "POST", "/api/v1/reports", 400, *_json(f'{{"text": "{OK}", "lat": NaN, "lon": 1}}'),
        role=None, field="lat"),
    Bad("report Infinity", "POST", "/api/v1/reports", 400, *_json(f'{{"text": "{OK}", "x": -Infinity}}'),
        role=None, field="x"),
    Bad("report 1e400", "POST", "/api/v1/reports", 400, *_json(f'{{"text": "{OK}", "lon": 1e400, "lat": 1}}'),
        role=None, field="lon"),
    Bad("report huge int", "POST", "/api/v1/reports", 400, *_json(f'{{"text": "{OK}", "n": {HUGE_INT}}}'),
        role=None, field="n"),
    Bad("report deep", "POST", "/api/v1/reports", 400, *_json(f'{{"text": "{OK}", "x": {DEEP}}}'), role=None),
    Bad("report deep below the recursion limit", "POST", "/api/v1/reports", 400,
        *_json(f'{{"text": "{OK}", "x": {"[" * 900 + "]" * 900}}}'), role=None),
    Bad("note NUL", "POST", "/api/v1/cases/{case_id}/notes", 400, *_json('{"text": "a\\u0000b"}'),
        role="agent", field="text"),
    Bad("note lone surrogate", "POST", "/api/v1/cases/{case_id}/notes", 400, *_json('{"text": "a\\ud800b"}'),
        role="agent", field="text"),
    Bad("reply raw lone surrogate", "POST", "/api/v1/cases/{case_id}/replies", 400,
        *_json('{"text": "a\ud800b"}'), role="agent"),
    Bad("patch NUL", "PATCH", "/api/v1/cases/{case_id}", 400, *_json('{"ward_code": "26\\u00007"}'),
        role="agent", field="ward_code"),
    Bad("transfer NUL", "POST", "/api/v1/cases/{case_id}/transfer", 400,
        *_json('{"department": "so-xay-dung", "reason": "x\\u0000"}'), role="agent", field="reason"),
    Bad("status huge duplicate_of", "POST", "/api/v1/cases/{case_id}/status", 400,
        *_json('{"status": "duplicate", "duplicate_of": 99999999999999999999}'), role="agent",
        field="duplicate_of"),
    Bad("status NUL department", "POST", "/api/v1/cases/{case_id}/status", 400,
        *_json('{"status": "forwarded", "department": "\\u0000"}'), role="agent", field="department"),
    Bad("login NUL", "POST", "/api/v1/session", 400, *_json('{"username": "\\u0000", "password": "x"}'),
        role=None, field="username"),
    Bad("login huge int", "POST", "/api/v1/session", 400, *_json(f'{{"username": {HUGE_INT}, "password": "x"}}'),
        role=None, field="username"),
    Bad("unit NUL", "PUT", "/api/v1/admin/units/don-vi", 400,
        *_json('{"name_vi": "a\\u0000", "name_en": "b", "kind": "agency"}'), field="name_vi"),
    Bad("unit null name", "PATCH", "/api/v1/admin/units/evn-hcmc", 400, *_json('{"name_vi": null}'),
        field="name_vi"),
    Bad("unit null active", "PATCH", "/api/v1/admin/units/evn-hcmc", 400, *_json('{"active": null}'),
        field="active"),
    Bad("unit patch NUL code", "PATCH", "/api/v1/admin/units/a%00b", 400, *_json('{"notes": "x"}'), field="code"),
    Bad("rule keywords NUL", "POST", "/api/v1/admin/rules", 400,
        *_json('{"department": "so-xay-dung", "keywords": ["\\u0000"]}'), field="keywords.0"),
    Bad("rule null description", "PATCH", "/api/v1/admin/rules/{rule_id}", 400, *_json('{"description": null}'),
        field="description"),
    Bad("policy NUL source", "POST", "/api/v1/admin/policies", 400,
        *_json('{"priority": "urgent", "forward_minutes": 1, "first_response_minutes": 1, "resolution_minutes": 1,'
               ' "calendar": "24x7", "source": "\\u0000"}'), field="source"),
    Bad("calendar NUL note", "PUT", "/api/v1/admin/calendar/2026-12-25", 400,
        *_json('{"working": false, "note": "\\u0000"}'), field="note"),
    Bad("preview NaN", "POST", "/api/v1/routing/preview", 400, *_json('{"field": "trees", "text": NaN}'),
        field="text"),
    # Malformed multipart and form bodies.
    Bad("multipart without boundary", "POST", "/api/v1/reports", 400, *_mp(TEXT_PART, None), role=None),
    Bad("multipart empty boundary", "POST", "/api/v1/reports", 400, *_mp(TEXT_PART, ""), role=None),
    Bad("multipart long boundary", "POST", "/api/v1/reports", 400,
        *_mp(TEXT_PART.replace(b"b0und", b"b" * 200), "b" * 200), role=None),
    Bad("multipart truncated", "POST", "/api/v1/reports", 400, *_mp(TEXT_PART), role=None),
    Bad("multipart header without blank line", "POST", "/api/v1/reports", 400,
        *_mp(b'--b0und\r\nContent-Disposition: form-data; name="text"\r\nhello\r\n--b0und--\r\n'), role=None),
    Bad("multipart garbage", "POST", "/api/v1/reports", 400, *_mp(b"\xff\xfe\x00garbage"), role=None),
    Bad("form multipart truncated", "POST", "/report", 400, *_mp(TEXT_PART), role=None),
    Bad("form multipart no boundary", "POST", "/report", 400, *_mp(TEXT_PART, None), role=None),
    Bad("form invalid UTF-8 and a non-ASCII CSRF token", "POST", "/report", 403,
        "text=\xff&csrf_token=é".encode("latin-1"), "application/x-www-form-urlencoded", role=None),
    # Query strings and paths: NUL, overlong values, Unicode digits, numbers past bigint, date limits.
    Bad("cases q NUL", "GET", "/api/v1/cases", 400, params={"q": "a\x00"}, role="agent", field="q"),
    Bad("cases department NUL", "GET", "/api/v1/cases", 400, params={"department": "\x00"}, role="agent",
        field="department"),
    Bad("cases ward NUL", "GET", "/api/v1/cases", 400, params={"ward": "\x00"}, role="agent", field="ward"),
    Bad("cases channel NUL", "GET", "/api/v1/cases", 400, params={"channel": "\x00"}, role="agent",
        field="channel"),
    Bad("cases q overlong", "GET", "/api/v1/cases", 400, params={"q": "ngập " * 400}, role="agent", field="q"),
    Bad("cases from 0001", "GET", "/api/v1/cases", 400, params={"from": "0001-01-01"}, role="agent", field="from"),
    Bad("cases to 9999", "GET", "/api/v1/cases", 400, params={"to": "9999-12-31T23:00:00-05:00"}, role="agent",
        field="to"),
    Bad("cases cursor 1e400", "GET", "/api/v1/cases", 400, params={"cursor": "eyJiZWZvcmUiOiAxZTQwMH0"},
        role="agent", field="cursor"),
    Bad("cases cursor past bigint", "GET", "/api/v1/cases", 400,
        params={"cursor": "eyJiZWZvcmUiOiA5OTk5OTk5OTk5OTk5OTk5OTk5OTk5fQ"}, role="agent", field="cursor"),
    Bad("cases cursor deep", "GET", "/api/v1/cases", 400, params={"cursor": "W1tbW1tbW1tbW1tb" * 300},
        role="agent", field="cursor"),
    Bad("cases limit superscript", "GET", "/api/v1/cases", 400, params={"limit": "²"}, role="agent",
        field="limit"),
    Bad("case id superscript", "GET", "/api/v1/cases/²", 400, role="agent", field="case_id"),
    Bad("case id past bigint", "GET", "/api/v1/cases/99999999999999999999", 400, role="agent", field="case_id"),
    Bad("attachment id superscript", "GET", "/api/v1/attachments/²", 400, role="agent", field="attachment_id"),
    Bad("units kind NUL", "GET", "/api/v1/admin/units", 400, params={"kind": "\x00"}, field="kind"),
    Bad("rule id superscript", "PATCH", "/api/v1/admin/rules/²", 400, *_json('{"priority": 1}'), field="id"),
    Bad("rule id past int", "DELETE", "/api/v1/admin/rules/99999999999", 400, field="id"),
    Bad("policy id past int", "PATCH", "/api/v1/admin/policies/1e400", 400, *_json('{"active": true}'), field="id"),
    Bad("calendar day superscript", "DELETE", "/api/v1/admin/calendar/²⁰²⁶-01-01", 400, field="day"),
    Bad("procedures q NUL", "GET", "/api/v1/procedures", 400, params={"q": "giấy\x00"}, role=None, field="q"),
    Bad("procedures limit past bigint", "GET", "/api/v1/procedures", 400, params={"q": "a", "limit": "1e400"},
        role=None, field="limit"),
    Bad("report code NUL", "GET", "/api/v1/reports/12%0034", 400, role=None, field="code"),
]

OPEN311 = [
    Bad("o311 token NUL", "GET", "/open311/v2/tokens/ab%00c.json", 404, role=None),
    Bad("o311 start 0001", "GET", "/open311/v2/requests.json", 400, params={"start_date": "0001-01-01"},
        role=None),
    # A window reaching past the datetime range ends there (nothing is found), it does not overflow.
    Bad("o311 end 0001", "GET", "/open311/v2/requests.json", 200, params={"end_date": "0001-01-01T00:00:00Z"},
        role=None),
    Bad("o311 start 9999", "GET", "/open311/v2/requests.json", 200, params={"start_date": "9999-12-31"},
        role=None),
    Bad("o311 end 9999", "GET", "/open311/v2/requests.xml", 400, params={"end_date": "9999-12-31T23:59:59-12:00"},
        role=None),
    Bad("o311 id NUL", "GET", "/open311/v2/requests/12%0034.json", 404, role=None),
    Bad("o311 ids NUL", "GET", "/open311/v2/requests.json", 200, params={"service_request_id": "\x00"}, role=None),
    Bad("o311 service NUL", "GET", "/open311/v2/services/\x00.json", 404, role=None),
    Bad("o311 jurisdiction NUL", "GET", "/open311/v2/services.json", 404, params={"jurisdiction_id": "\x00"},
        role=None),
    Bad("o311 form invalid UTF-8", "POST", "/open311/v2/requests.json", 400, b"api_key=\xff",
        "application/x-www-form-urlencoded", role=None),
]


@pytest.fixture
async def world(client, tokens, pool) -> dict[str, Any]:
    resp = await client.post("/api/v1/reports", json={"text": OK})
    code = (await resp.json())["tracking_code"]
    case_id = await pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    rule_id = await pool.fetchval(
        "INSERT INTO routing_rules (field, department) VALUES ('trees', 'so-xay-dung') RETURNING id")
    return {"case_id": case_id, "rule_id": rule_id, "code": code}


def _headers(bad: Bad, tokens: dict[str, str]) -> dict[str, str]:
    headers = {"Content-Type": bad.content_type} if bad.content_type else {}
    if bad.role:
        headers.update(auth(tokens[bad.role]))
    return headers


async def _send(client, bad: Bad, tokens, world):
    from yarl import URL

    path = bad.path.format(**world)
    headers = _headers(bad, tokens)
    url = URL(path, encoded="%" in path).with_query(bad.params) if bad.params else URL(path, encoded="%" in path)
    return await client.request(bad.method, url, data=bad.data, headers=headers)


async def _problem(client, bad: Bad, tokens, world) -> str | None:
    """What is wrong with the answer to one bad request, or None."""
    resp = await _send(client, bad, tokens, world)
    body = await resp.read()
    if resp.status != bad.status:
        return f"{resp.status}: {body[:300]!r}"
    if resp.content_type != "application/json" or resp.status < 400:
        return None  # the HTML form answers with the form and its errors
    doc = await resp.json()
    if bad.path.startswith("/open311/"):
        ok = doc[0]["code"] == bad.status and doc[0]["description"]
        return None if ok else f"not a spec error: {doc}"
    if not (set(doc) <= {"error", "detail"} and doc["error"]):
        return f"not an error document: {doc}"
    if bad.field != "-" and not (isinstance(doc.get("detail"), dict) and doc["detail"].get("field") == bad.field):
        return f"does not name {bad.field}: {doc}"
    return None


# One app and one set of tokens for the whole table (signing five people in per case would take a minute).
async def test_bad_input_is_a_4xx_naming_the_field(client, tokens, units, world):
    problems = {bad.name: p for bad in CASES if (p := await _problem(client, bad, tokens, world))}
    assert problems == {}


async def test_bad_open311_input_is_a_spec_error_never_a_5xx(client, tokens, world):
    problems = {bad.name: p for bad in OPEN311 if (p := await _problem(client, bad, tokens, world))}
    assert problems == {}


# --- citizen text is cleaned, never refused ----------------------------------------------------------

async def _stored(client, code: str) -> tuple[str, Any]:
    pool = client.app[SERVICES].pool
    row = await pool.fetchrow("SELECT c.description, m.raw FROM cases c JOIN messages m ON m.case_id = c.id"
                              " WHERE c.tracking_code = $1", code)
    return row["description"], row["raw"]


async def test_nul_and_lone_surrogates_in_a_json_report_are_cleaned(client):
    body = '{"text": "Ngập\\u0000 nước \\ud83d đường", "name": "An\\udfff", "note\\u0000": ["\\u0000x"]}'
    resp = await client.post("/api/v1/reports", data=body.encode(), headers={"Content-Type": "application/json"})
    assert resp.status == 201, await resp.text()
    description, raw = await _stored(client, (await resp.json())["tracking_code"])
    assert description == "Ngập nước \ufffd đường"
    assert raw == {"text": "Ngập nước \ufffd đường", "name": "An\ufffd", "note": ["x"]}


async def test_nul_in_a_multipart_report_is_cleaned(client):
    import aiohttp

    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("text", "Ngập\x00 nước")
    form.add_field("address", "12\x00 Nguyễn Huệ")
    resp = await client.post("/api/v1/reports", data=form)
    assert resp.status == 201, await resp.text()
    description, raw = await _stored(client, (await resp.json())["tracking_code"])
    assert description == "Ngập nước" and raw["address"] == "12 Nguyễn Huệ"


async def test_nul_in_an_open311_request_is_cleaned(client, pool):
    from integrations.open311 import actions

    await pool.execute("TRUNCATE open311_requests, open311_clients RESTART IDENTITY CASCADE")
    key = await actions.create_client(pool, "fixmycity")
    form = {"api_key": key, "service_code": "trees", "lat": "10.77", "long": "106.70",
            "description": "Cây\x00 đổ", "device_id": "d\x00", "media_url": "https://x.vn/a\x00.jpg", "x\x00": "y"}
    resp = await client.post("/open311/v2/requests.json", data=urlencode(form).encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 201, await resp.text()
    code = (await resp.json())[0]["service_request_id"]
    description, raw = await _stored(client, code)
    assert description == "Cây đổ"
    assert raw["device_id"] == "d" and raw["x"] == "y" and "\x00" not in str(raw)


async def test_a_bearer_token_that_is_not_utf8_is_401(client):
    import asyncio

    # The test client encodes headers itself, so the undecodable bytes go over a plain socket.
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer hl_\xff\xfe\r\n"
                 b"Connection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


async def test_a_form_body_that_is_not_utf8_keeps_the_report(client):
    client.session.cookie_jar.update_cookies({"hotline_csrf": "tok"})
    body = "text=Ngập nước \xff hẻm 5&csrf_token=tok".encode().replace(b"\xc3\xbf", b"\xff")
    resp = await client.post("/report", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    code = resp.headers["Location"].split("/track/")[1].split("?")[0]
    description, _ = await _stored(client, code)
    assert description == "Ngập nước \ufffd hẻm 5"
    # A CSRF token with non-ASCII characters is a wrong token (403), not a comparison that fails (500).
    resp = await client.post("/report", data={"text": "Ngập", "csrf_token": "tôk"}, allow_redirects=False)
    assert resp.status == 403
