"""The staff API: lifecycle through HTTP, roles on every endpoint, filters and pagination."""

import pytest

from kernel.http import SERVICES
from tests.conftest import auth


async def _report(client, text="Ổ gà lớn giữa đường Điện Biên Phủ", **extra) -> dict:
    resp = await client.post("/api/v1/reports", json={"text": text, **extra})
    assert resp.status == 201
    code = (await resp.json())["tracking_code"]
    case_id = await client.app[SERVICES].pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    return {"id": case_id, "code": code}


async def _move(client, token, case_id, status, **body):
    return await client.post(f"/api/v1/cases/{case_id}/status", json={"status": status, **body}, headers=auth(token))


async def _forwarded_to(client, tokens, unit="so-xay-dung") -> dict:
    case = await _report(client)
    assert (await _move(client, tokens["agent"], case["id"], "triage")).status == 200
    assert (await _move(client, tokens["agent"], case["id"], "forwarded", department=unit)).status == 200
    return case


async def test_a_case_walks_its_whole_lifecycle(client, tokens):
    case = await _forwarded_to(client, tokens)
    dept = tokens["department"]
    for status in ("in_progress", "answered"):
        assert (await _move(client, dept, case["id"], status)).status == 200
    resp = await _move(client, tokens["agent"], case["id"], "closed", reason="citizen confirmed the fix")
    assert resp.status == 200 and (await resp.json())["status"] == "closed"
    resp = await _move(client, tokens["supervisor"], case["id"], "reopened", reason="pothole is back")
    assert (await resp.json())["status"] == "reopened"
    detail = await (await client.get(f"/api/v1/cases/{case['id']}", headers=auth(tokens["agent"]))).json()
    moves = [(e["from_status"], e["to_status"], e["actor_name"]) for e in detail["events"] if e["kind"] == "status"]
    assert moves == [
        ("received", "triage", "agent"), ("triage", "forwarded", "agent"),
        ("forwarded", "in_progress", "department"), ("in_progress", "answered", "department"),
        ("answered", "closed", "agent"), ("closed", "reopened", "supervisor"),
    ]
    closing = next(e for e in detail["events"] if e["to_status"] == "closed")
    assert closing["reason"] == "citizen confirmed the fix" and closing["actor_kind"] == "staff"
    assert detail["department"] == "so-xay-dung"


@pytest.mark.parametrize("path, target", [
    (["triage"], "answered_then_received"),
    ([], "in_progress_from_received_then_closed_to_forwarded"),
])
async def test_illegal_transitions_are_409_and_change_nothing(client, tokens, path, target):
    case = await _report(client)
    for status in path:
        assert (await _move(client, tokens["agent"], case["id"], status)).status == 200
    pool = client.app[SERVICES].pool
    before = await pool.fetchrow("SELECT status, updated_at FROM cases WHERE id = $1", case["id"])
    events_before = await pool.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1", case["id"])
    for illegal in ("received", "reopened", "rejected"):
        resp = await _move(client, tokens["agent"], case["id"], illegal, reason="x")
        assert resp.status == 409, illegal
        assert (await resp.json())["error"] == "illegal_transition"
    after = await pool.fetchrow("SELECT status, updated_at FROM cases WHERE id = $1", case["id"])
    assert after == before
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1", case["id"]) == events_before


async def test_closed_case_cannot_be_forwarded(client, tokens):
    case = await _report(client)
    await _move(client, tokens["agent"], case["id"], "triage")
    assert (await _move(client, tokens["agent"], case["id"], "closed", reason="spam")).status == 200
    resp = await _move(client, tokens["agent"], case["id"], "forwarded", department="so-xay-dung")
    assert resp.status == 409


async def test_rejection_returns_the_case_to_triage_with_the_reason(client, tokens):
    case = await _forwarded_to(client, tokens)
    resp = await _move(client, tokens["department"], case["id"], "rejected")
    assert resp.status == 400 and (await resp.json())["detail"]["field"] == "reason"
    resp = await _move(client, tokens["department"], case["id"], "rejected", reason="thuộc thẩm quyền EVN")
    body = await resp.json()
    assert body["status"] == "triage" and body["department"] is None
    detail = await (await client.get(f"/api/v1/cases/{case['id']}", headers=auth(tokens["agent"]))).json()
    last_two = [(e["to_status"], e["reason"]) for e in detail["events"][-2:]]
    assert last_two == [("rejected", "thuộc thẩm quyền EVN"), ("triage", "returned to triage: thuộc thẩm quyền EVN")]


async def test_duplicate_links_to_its_parent_and_reopening_unlinks(client, tokens):
    parent = await _report(client)
    child = await _report(client, text="Đường Điện Biên Phủ có ổ gà to")
    resp = await _move(client, tokens["agent"], child["id"], "duplicate", reason="same pothole")
    assert resp.status == 422 and (await resp.json())["detail"]["field"] == "duplicate_of"
    resp = await _move(client, tokens["agent"], child["id"], "duplicate", reason="same pothole",
                       duplicate_of=parent["id"])
    assert (await resp.json())["duplicate_of"] == parent["id"]
    resp = await _move(client, tokens["agent"], child["id"], "reopened", reason="different place")
    body = await resp.json()
    assert body["status"] == "reopened" and body["duplicate_of"] is None


async def test_forwarding_needs_a_known_department(client, tokens):
    case = await _report(client)
    resp = await _move(client, tokens["agent"], case["id"], "forwarded")
    assert resp.status == 422
    resp = await _move(client, tokens["agent"], case["id"], "forwarded", department="no-such-unit")
    assert resp.status == 422


async def test_unknown_status_and_bad_body_are_400(client, tokens):
    case = await _report(client)
    resp = await _move(client, tokens["agent"], case["id"], "teleported")
    assert resp.status == 400 and (await resp.json())["detail"]["field"] == "status"
    resp = await client.post(f"/api/v1/cases/{case['id']}/status", data=b"{", headers={
        **auth(tokens["agent"]), "Content-Type": "application/json"})
    assert resp.status == 400


# --- roles -------------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/api/v1/cases", None),
    ("GET", "/api/v1/cases/{id}", None),
    ("PATCH", "/api/v1/cases/{id}", {"field": "urban_infrastructure"}),
    ("POST", "/api/v1/cases/{id}/status", {"status": "in_progress"}),
    ("POST", "/api/v1/cases/{id}/replies", {"text": "Đã tiếp nhận, đang xử lý."}),
    ("POST", "/api/v1/cases/{id}/notes", {"text": "gọi lại cho người dân"}),
]

# Expected status per role on a case forwarded to so-xay-dung. `department` owns the case,
# `other_department` does not; departments may not reclassify.
MATRIX = {
    "agent": [200, 200, 200, 200, 201, 201],
    "supervisor": [200, 200, 200, 200, 201, 201],
    "admin": [200, 200, 200, 200, 201, 201],
    "department": [200, 200, 403, 200, 201, 201],
    "other_department": [200, 403, 403, 403, 403, 403],
}


@pytest.mark.parametrize("role", list(MATRIX))
async def test_role_matrix_on_every_staff_endpoint(client, tokens, role):
    for (method, path, body), expected in zip(ENDPOINTS, MATRIX[role], strict=True):
        case = await _forwarded_to(client, tokens)
        url = path.format(id=case["id"])
        resp = await client.request(method, url, json=body, headers=auth(tokens[role]))
        assert resp.status == expected, (role, method, path, await resp.text())
        if expected == 403:
            assert await resp.json() == {"error": "forbidden", "detail": "your role may not do this"} or \
                (await resp.json())["error"] == "forbidden"


@pytest.mark.parametrize("method, path, body", ENDPOINTS)
async def test_every_staff_endpoint_needs_a_token(client, tokens, method, path, body):
    case = await _report(client)
    url = path.format(id=case["id"])
    for headers in ({}, auth("hl_not-a-real-token"), {"Authorization": "Basic YWdlbnQ6eA=="}):
        resp = await client.request(method, url, json=body, headers=headers)
        assert resp.status == 401
        assert await resp.json() == {"error": "unauthorized", "detail": "authentication required"}


async def test_department_lists_only_its_own_cases(client, tokens):
    mine = await _forwarded_to(client, tokens, "so-xay-dung")
    await _forwarded_to(client, tokens, "evn-hcmc")
    await _report(client)
    resp = await client.get("/api/v1/cases", headers=auth(tokens["department"]))
    assert [c["id"] for c in (await resp.json())["items"]] == [mine["id"]]
    # Asking for another unit's cases explicitly still returns nothing.
    resp = await client.get("/api/v1/cases?department=evn-hcmc", headers=auth(tokens["department"]))
    assert (await resp.json())["items"] == []
    resp = await client.get("/api/v1/cases", headers=auth(tokens["agent"]))
    assert len((await resp.json())["items"]) == 3


async def test_a_department_cannot_forward_or_close(client, tokens):
    case = await _forwarded_to(client, tokens)
    await _move(client, tokens["department"], case["id"], "in_progress")
    await _move(client, tokens["department"], case["id"], "answered")
    resp = await _move(client, tokens["department"], case["id"], "closed", reason="done")
    assert resp.status == 403


async def test_revoked_or_expired_sessions_are_refused(client, tokens):
    resp = await client.post("/api/v1/session", json={"username": "agent", "password": "agent-secret"})
    assert resp.status == 200
    csrf = (await resp.json())["csrf_token"]
    assert (await client.get("/api/v1/me")).status == 200
    # Cookie-authenticated writes need the CSRF token.
    case = await _report(client)
    resp = await client.post(f"/api/v1/cases/{case['id']}/notes", json={"text": "x"})
    assert resp.status == 403 and (await resp.json())["error"] == "csrf_failed"
    resp = await client.post(f"/api/v1/cases/{case['id']}/notes", json={"text": "x"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 201
    assert (await client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})).status == 204
    assert (await client.get("/api/v1/me")).status == 401


async def test_wrong_password_is_401_without_detail_on_which_part(client, tokens):
    for username, password in (("agent", "wrong"), ("nobody", "agent-secret")):
        resp = await client.post("/api/v1/session", json={"username": username, "password": password})
        assert resp.status == 401
        assert await resp.json() == {"error": "unauthorized", "detail": "wrong user name or password"}


async def test_passwords_are_stored_hashed(client, tokens):
    stored = await client.app[SERVICES].pool.fetchval("SELECT password_hash FROM staff_users WHERE username = 'agent'")
    assert stored.startswith("scrypt$") and "agent-secret" not in stored


# --- reading, filtering, editing ----------------------------------------------------------------

async def test_case_json_carries_the_contract_fields(client, tokens, run_worker):
    case = await _report(client, phone="0912345678", name="Trần Thị Mai")
    await run_worker()
    body = await (await client.get(f"/api/v1/cases/{case['id']}", headers=auth(tokens["agent"]))).json()
    for key in ("id", "tracking_code", "status", "channel", "field", "confidence", "urgent", "ward_code",
                "department", "due_at", "created_at", "updated_at", "messages", "events"):
        assert key in body, key
    assert body["messages"][0]["direction"] == "in"
    assert body["citizen"]["name"] == "Trần Thị Mai"
    assert {"kind": "phone", "value": "+84912345678"} in body["citizen"]["identities"]


async def test_filters_and_keyset_pagination(client, tokens):
    ids = [(await _report(client, text=f"Rác thải số {i} ở kênh Nhiêu Lộc")) ["id"] for i in range(7)]
    await _report(client, text="Đèn đường tắt", address="Hẻm 5 Lê Văn Sỹ")
    seen, cursor = [], None
    while True:
        url = "/api/v1/cases?limit=3&q=rac thai" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(url, headers=auth(tokens["agent"]))).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True)
    hits = await (await client.get("/api/v1/cases?q=le van sy", headers=auth(tokens["agent"]))).json()
    assert len(hits["items"]) == 1
    # A tracking code, as printed or typed, is looked up by the code; a typo in it finds nothing.
    code = hits["items"][0]["tracking_code"]
    for typed in (code, f"{code[:3]} {code[3:6]} {code[6:9]} {code[9]}"):
        found = await (await client.get(f"/api/v1/cases?q={typed}", headers=auth(tokens["agent"]))).json()
        assert [c["tracking_code"] for c in found["items"]] == [code]
    typo = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert (await (await client.get(f"/api/v1/cases?q={typo}", headers=auth(tokens["agent"]))).json())["items"] == []
    none = await (await client.get("/api/v1/cases?status=closed", headers=auth(tokens["agent"]))).json()
    assert none["items"] == []
    web = await (await client.get("/api/v1/cases?channel=web&from=2000-01-01", headers=auth(tokens["agent"]))).json()
    assert len(web["items"]) == 8
    future = await (await client.get("/api/v1/cases?from=2999-01-01", headers=auth(tokens["agent"]))).json()
    assert future["items"] == []
    for bad in ("status=nope", "field=nope", "limit=x", "from=yesterday", "cursor=%%%"):
        assert (await client.get(f"/api/v1/cases?{bad}", headers=auth(tokens["agent"]))).status == 400, bad


async def test_setting_field_ward_department_is_recorded_as_a_correction(client, tokens):
    case = await _report(client)
    resp = await client.patch(f"/api/v1/cases/{case['id']}", json={
        "field": "urban_infrastructure", "ward_code": "26743", "department": "so-xay-dung", "reason": "ổ gà"},
        headers=auth(tokens["agent"]))
    body = await resp.json()
    assert (body["field"], body["ward_code"], body["department"]) == ("urban_infrastructure", "26743", "so-xay-dung")
    detail = await (await client.get(f"/api/v1/cases/{case['id']}", headers=auth(tokens["agent"]))).json()
    correction = detail["events"][-1]
    assert correction["kind"] == "field_corrected"
    assert correction["changes"]["field"] == [None, "urban_infrastructure"]
    resp = await client.patch(f"/api/v1/cases/{case['id']}", json={"field": "astrology"}, headers=auth(tokens["agent"]))
    assert resp.status == 400


async def test_notes_are_internal_and_replies_reach_the_status_page(client, tokens, run_worker):
    case = await _report(client)
    await client.post(f"/api/v1/cases/{case['id']}/notes", json={"text": "người dân rất bức xúc, SĐT riêng"},
                      headers=auth(tokens["agent"]))
    resp = await client.post(f"/api/v1/cases/{case['id']}/replies",
                             json={"text": "Đơn vị đã vá ổ gà ngày 27/11.", "final": True},
                             headers=auth(tokens["agent"]))
    assert resp.status == 201
    await run_worker()
    public = await (await client.get(f"/api/v1/reports/{case['code']}")).json()
    assert public["status"] == "answered"
    assert [a["text"] for a in public["answers"]] == ["Đơn vị đã vá ổ gà ngày 27/11."]
    assert "bức xúc" not in str(public)
    sent = await client.app[SERVICES].pool.fetchval(
        "SELECT status FROM messages WHERE case_id = $1 AND kind = 'reply'", case["id"])
    assert sent == "delivered"


async def test_event_log_is_append_only(client, tokens):
    import asyncpg

    case = await _report(client)
    pool = client.app[SERVICES].pool
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("UPDATE case_events SET reason = 'x' WHERE case_id = $1", case["id"])
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("DELETE FROM case_events WHERE case_id = $1", case["id"])


async def test_unknown_case_is_404_and_bad_id_400(client, tokens):
    assert (await client.get("/api/v1/cases/999999", headers=auth(tokens["agent"]))).status == 404
    assert (await client.get("/api/v1/cases/abc", headers=auth(tokens["agent"]))).status == 400
