"""Who may call what: every /api/v1 route against every role, attachments that do not leak, ids and bodies.

The table lists every route of the app under /api/v1/ with what each role gets: `allowed` (2xx, or a
4xx other than 401/403 such as a 409 for a move the case's state refuses), `forbidden` (403) or
`hidden` (404, as for a missing row, so that existence does not leak). Staff routes answer 401 without
a token; public routes answer every caller. A route missing from the table fails
`test_every_api_route_is_in_the_table`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from casework import actions
from casework.intake import Attachment, InboundEvent
from casework.models import SYSTEM, Status
from tests.conftest import auth

ROLES = ("agent", "department", "other_department", "supervisor", "admin")
ALLOWED, FORBIDDEN, HIDDEN = "allowed", "forbidden", "hidden"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def allow(*roles: str, hidden: tuple[str, ...] = ()) -> dict[str, str]:
    return {r: ALLOWED if r in roles else HIDDEN if r in hidden else FORBIDDEN for r in ROLES}


STAFF = allow(*ROLES)
# The case is forwarded to so-xay-dung: `department` works there, `other_department` (evn-hcmc) does not.
ON_CASE = allow("agent", "department", "supervisor", "admin")
EDITORS = allow("agent", "supervisor", "admin")
ADMIN = allow("admin")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    expect: dict[str, str] | None  # None: public, no token needed
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


DEPARTMENT_USER = 2  # tests.conftest's tokens fixture creates agent, department, ... in order; ids restart at 1
UNIT = {"name_vi": "Đơn vị thử", "name_en": "Test unit", "kind": "agency"}
POLICY = {"field": "trees", "priority": "urgent", "forward_minutes": 60, "first_response_minutes": 120,
          "resolution_minutes": 1440, "calendar": "24x7"}

ROUTES = [
    Route("GET", "/api/v1/cases", STAFF),
    Route("GET", "/api/v1/cases/{case_id}", ON_CASE),
    Route("PATCH", "/api/v1/cases/{case_id}", EDITORS, {"field": "urban_infrastructure"}),
    Route("POST", "/api/v1/cases/{case_id}/status", ON_CASE, {"status": "in_progress"}),
    Route("POST", "/api/v1/cases/{case_id}/replies", ON_CASE, {"text": "Đã tiếp nhận, đang xử lý."}),
    Route("POST", "/api/v1/cases/{case_id}/notes", ON_CASE, {"text": "gọi lại cho người dân"}),
    Route("POST", "/api/v1/cases/{case_id}/transfer", ON_CASE,
          {"department": "ubnd-ben-thanh", "reason": "thuộc thẩm quyền phường"}),
    # To `department` of so-xay-dung, the case's unit: the tokens fixture makes it the second user (id 2).
    Route("POST", "/api/v1/cases/{case_id}/assign", ON_CASE, {"assignee": DEPARTMENT_USER}),
    Route("POST", "/api/v1/cases/{case_id}/pause", ON_CASE, {"reason": "chờ địa chỉ cụ thể"}),
    Route("POST", "/api/v1/cases/{case_id}/resume", ON_CASE, {}),
    Route("POST", "/api/v1/cases/{case_id}/duplicate/confirm", EDITORS, {}),
    Route("POST", "/api/v1/cases/{case_id}/duplicate/unlink", EDITORS, {"reason": "khác địa điểm"}),
    Route("GET", "/api/v1/notifications", allow("department", "other_department", "supervisor", "admin")),
    # Reports: supervisors and admins see every unit, a unit's staff their own; the centre's agents none.
    Route("GET", "/api/v1/stats/sla", allow("department", "other_department", "supervisor", "admin"),
          params={"month": "2026-11", "by": "unit"}),
    Route("GET", "/api/v1/stats/dti", allow("department", "other_department", "supervisor", "admin"),
          params={"quarter": "2026-Q4"}),
    Route("PUT", "/api/v1/me/presence", allow("agent", "department", "other_department"), {"available": False}),
    Route("GET", "/api/v1/attachments/{attachment_id}",
          allow("agent", "department", "supervisor", "admin", hidden=("other_department",))),
    Route("GET", "/api/v1/me", STAFF),
    Route("DELETE", "/api/v1/session", STAFF),
    Route("POST", "/api/v1/routing/preview", EDITORS, {"field": "trees"}),
    Route("GET", "/api/v1/admin/units", ADMIN),
    Route("PUT", "/api/v1/admin/units/{code}", ADMIN, UNIT, {"code": "don-vi-thu"}),
    Route("PATCH", "/api/v1/admin/units/{code}", ADMIN, {"notes": "trực 24/7"}, {"code": "evn-hcmc"}),
    Route("GET", "/api/v1/admin/rules", ADMIN),
    Route("POST", "/api/v1/admin/rules", ADMIN, {"field": "trees", "department": "so-xay-dung"}),
    Route("PATCH", "/api/v1/admin/rules/{id}", ADMIN, {"priority": 10}),
    Route("DELETE", "/api/v1/admin/rules/{id}", ADMIN),
    Route("GET", "/api/v1/admin/policies", ADMIN),
    Route("POST", "/api/v1/admin/policies", ADMIN, POLICY),
    Route("PATCH", "/api/v1/admin/policies/{id}", ADMIN, {"resolution_minutes": 2880}),
    Route("GET", "/api/v1/admin/calendar", ADMIN),
    Route("PUT", "/api/v1/admin/calendar/{day}", ADMIN, {"working": False, "note": "nghỉ bù"}),
    Route("DELETE", "/api/v1/admin/calendar/{day}", ADMIN),
    Route("GET", "/api/v1/admin/jobs/failed", ADMIN),
    # The world's case (id 1) was not given up: the admin's replay is refused by its state (409).
    Route("POST", "/api/v1/admin/jobs/failed/{kind}/{id}/replay", ADMIN, params={"kind": "case", "id": "1"}),
    # Public: the citizen's report and status, the procedure catalogue, signing in.
    Route("POST", "/api/v1/reports", None, {"text": "Đèn đường tắt cả tuần ở hẻm 5"}),
    Route("GET", "/api/v1/reports/{code}", None),
    Route("GET", "/api/v1/procedures", None, params={"q": "giấy phép xây dựng"}),
    Route("GET", "/api/v1/procedures/{code}", None, params={"code": "1.009994"}),
    Route("POST", "/api/v1/session", None, {"username": "agent", "password": "agent-secret"}),
]


@dataclass
class World:
    case_id: int
    code: str
    attachment_id: int
    rule_id: int
    policy_id: int
    day: str = "2026-12-24"


async def open_case(pool: asyncpg.Pool, unit: str | None = "so-xay-dung", n: int = 0) -> tuple[int, str, int]:
    """A case with a photo, forwarded to `unit`; its id, tracking code and the photo's attachment id."""
    event = InboundEvent(channel="web", provider_message_id=f"matrix:{unit}:{n}", text="Ổ gà lớn trước số 12",
                         attachments=(Attachment("o-ga.png", "image/png", PNG),))
    result = await actions.record_inbound(pool, event)
    if unit:
        await actions.change_status(pool, result.case_id, Status.FORWARDED, SYSTEM, department=unit)
    attachment_id = await pool.fetchval(
        "SELECT a.id FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.case_id = $1", result.case_id)
    return result.case_id, result.tracking_code, attachment_id


@pytest.fixture
async def world(pool, units) -> World:
    case_id, code, attachment_id = await open_case(pool)
    rule_id = await pool.fetchval(
        "INSERT INTO routing_rules (field, department) VALUES ('trees', 'so-xay-dung') RETURNING id")
    policy_id = await pool.fetchval(
        "INSERT INTO sla_policies (field, priority, forward_minutes, first_response_minutes, resolution_minutes,"
        " calendar) VALUES (NULL, 'normal', 60, 240, 2880, 'business') RETURNING id")
    await pool.execute("INSERT INTO calendar_overrides (day, working, note) VALUES ('2026-12-24', false, 'nghỉ')")
    return World(case_id, code, attachment_id, rule_id, policy_id)


def _url(route: Route, world: World) -> str:
    values = {"case_id": world.case_id, "attachment_id": world.attachment_id, "code": world.code,
              "id": world.rule_id if "/rules/" in route.path else world.policy_id, "day": world.day}
    values.update(route.params)
    return route.path.format(**values)


async def _call(client, route: Route, world: World, headers: dict[str, str]):
    query = {k: v for k, v in route.params.items() if "{" + k + "}" not in route.path}
    return await client.request(route.method, _url(route, world), json=route.body, params=query, headers=headers)


async def _fresh_world(pool, world: World, route: Route, n: int) -> World:
    """A new case for each caller of a case route, so one role's move does not decide the next one's answer."""
    if "{case_id}" not in route.path:
        return world
    case_id, code, attachment_id = await open_case(pool, n=n)
    return World(case_id, code, attachment_id, world.rule_id, world.policy_id)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
async def test_each_role_gets_what_the_table_says(client, tokens, world, pool, route):
    for n, role in enumerate(ROLES):
        here = await _fresh_world(pool, world, route, n + 1)
        resp = await _call(client, route, here, auth(tokens[role]))
        text = (await resp.read())[:300]
        assert resp.status < 500, (role, text)
        if route.expect is None:
            assert resp.status not in (401, 403), (role, resp.status, text)
            continue
        expected = route.expect[role]
        if expected == ALLOWED:
            # Done, or refused by the case's state (409: not paused, not a duplicate), never by the role.
            assert 200 <= resp.status < 300 or resp.status == 409, (role, resp.status, text)
        elif expected == FORBIDDEN:
            assert resp.status == 403, (role, resp.status, text)
            assert (await resp.json())["error"] == "forbidden"
        else:
            assert resp.status == 404, (role, resp.status, text)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
async def test_staff_routes_need_a_token_and_public_ones_do_not(client, tokens, world, route):
    for headers in ({}, auth("hl_not-a-real-token"), {"Authorization": "Basic YWdlbnQ6eA=="}):
        resp = await _call(client, route, world, headers)
        assert resp.status < 500, await resp.text()
        if route.expect is None:
            assert resp.status not in (401, 403), (headers, resp.status, await resp.text())
        else:
            assert resp.status == 401, (headers, resp.status, await resp.text())
            assert (await resp.json())["error"] == "unauthorized"


async def test_every_api_route_is_in_the_table(client):
    registered = {(r.method, r.resource.canonical) for r in client.app.router.routes()
                  if r.resource is not None and r.resource.canonical.startswith("/api/v1")
                  and r.method not in ("HEAD", "OPTIONS")}
    listed = {(r.method, r.path) for r in ROUTES}
    assert registered - listed == set(), "add these routes to ROUTES with what each role may do"
    assert listed - registered == set(), "these ROUTES entries name no route"


# --- attachments: access before existence ----------------------------------------------------------

async def test_another_units_attachment_is_as_missing_as_a_wrong_id(client, tokens, world, pool):
    _, _, theirs = await open_case(pool, unit="evn-hcmc", n=90)
    missing = theirs + 1000
    other = await client.get(f"/api/v1/attachments/{theirs}", headers=auth(tokens["department"]))
    absent = await client.get(f"/api/v1/attachments/{missing}", headers=auth(tokens["department"]))
    assert (other.status, await other.json()) == (absent.status, await absent.json())
    assert other.status == 404 and (await other.json())["error"] == "not_found"
    # The unit that owns it, and the agent, get the photo; the agent's 404 is for the missing id only.
    mine = await client.get(f"/api/v1/attachments/{theirs}", headers=auth(tokens["other_department"]))
    assert mine.status == 200 and await mine.read() == PNG
    agent = auth(tokens["agent"])
    assert (await client.get(f"/api/v1/attachments/{theirs}", headers=agent)).status == 200
    assert (await client.get(f"/api/v1/attachments/{missing}", headers=agent)).status == 404


async def test_an_unrouted_cases_attachment_is_hidden_from_departments(client, tokens, units, pool):
    _, _, attachment_id = await open_case(pool, unit=None, n=91)
    resp = await client.get(f"/api/v1/attachments/{attachment_id}", headers=auth(tokens["department"]))
    assert resp.status == 404
    assert (await client.get(f"/api/v1/attachments/{attachment_id}", headers=auth(tokens["agent"]))).status == 200


# --- ids in the path ---------------------------------------------------------------------------------

BAD_IDS = ["²", "١٢", "99999999999999999999", "9223372036854775808", "1e400", "-1", "0x10", "1.0", "%20", "abc"]
CASE_ROUTES = [r for r in ROUTES if "{case_id}" in r.path]


@pytest.mark.parametrize("raw", BAD_IDS)
async def test_an_impossible_attachment_id_is_400(client, tokens, raw):
    resp = await client.get(f"/api/v1/attachments/{raw}", headers=auth(tokens["agent"]))
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["detail"]["field"] == "attachment_id"


@pytest.mark.parametrize("route", CASE_ROUTES, ids=lambda r: r.id)
async def test_an_impossible_case_id_is_400_on_every_case_route(client, tokens, route):
    for raw in BAD_IDS:
        resp = await client.request(route.method, route.path.format(case_id=raw), json=route.body,
                                    headers=auth(tokens["admin"]))
        assert resp.status == 400, (raw, await resp.text())
        assert (await resp.json())["detail"]["field"] == "case_id", raw


@pytest.mark.parametrize("route", CASE_ROUTES, ids=lambda r: r.id)
async def test_the_largest_id_is_a_plain_404(client, tokens, route):
    resp = await client.request(route.method, route.path.format(case_id=2**63 - 1), json=route.body,
                                headers=auth(tokens["admin"]))
    assert resp.status == 404, await resp.text()


# --- bodies of the wrong shape -----------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({"field": 5}, "field"),
    ({"ward_code": []}, "ward_code"),
    ({"department": {"a": 1}}, "department"),
    ({"field": True}, "field"),
    ({"reason": 7, "field": "trees"}, "reason"),
    ({"ward_code": "26743\u0000"}, "ward_code"),
    ({"department": "\u0000"}, "department"),
    ({"field": "trees\u0000"}, "field"),
    ({"field": "trees", "reason": "ổ gà\u0000"}, "reason"),
    ({"ward_code": "x" * 21}, "ward_code"),
    ({"department": "so xay dung"}, "department"),
    ({"colour": "red"}, "colour"),
])
async def test_patch_with_a_wrong_value_is_400_naming_the_field(client, tokens, world, body, field):
    resp = await client.patch(f"/api/v1/cases/{world.case_id}", json=body, headers=auth(tokens["agent"]))
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["detail"]["field"] == field


@pytest.mark.parametrize("raw", [b"null", b"[]", b'[{"field": "trees"}]', b"5", b'"trees"', b"[" * 50_000, b"{"])
@pytest.mark.parametrize("path", ["", "/transfer", "/pause", "/resume"])
async def test_a_body_that_is_not_an_object_is_400(client, tokens, world, raw, path):
    resp = await client.request("PATCH" if not path else "POST", f"/api/v1/cases/{world.case_id}{path}", data=raw,
                                headers={**auth(tokens["agent"]), "Content-Type": "application/json"})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "malformed_json"


@pytest.mark.parametrize("path, body, field", [
    ("/transfer", {"department": 5, "reason": "x"}, "department"),
    ("/transfer", {"department": ["evn-hcmc"], "reason": "x"}, "department"),
    ("/transfer", {"department": "evn-hcmc\u0000", "reason": "x"}, "department"),
    ("/transfer", {"department": "evn-hcmc", "reason": {"vi": "x"}}, "reason"),
    ("/transfer", {"department": "evn-hcmc", "reason": "chuyển\u0000"}, "reason"),
    ("/transfer", {"department": "evn-hcmc"}, "reason"),
    ("/pause", {"reason": 5}, "reason"),
    ("/pause", {"reason": ["chờ"]}, "reason"),
    ("/pause", {"reason": "chờ\u0000"}, "reason"),
    ("/pause", {"until": "tomorrow"}, "until"),
    ("/resume", {"reason": 5}, "reason"),
    ("/resume", {"reason": "tiếp\u0000"}, "reason"),
    ("/resume", {"now": True}, "now"),
])
async def test_clock_and_transfer_bodies_are_checked(client, tokens, world, pool, path, body, field):
    before = await pool.fetchrow("SELECT status, department, clock_paused_at FROM cases WHERE id = $1",
                                 world.case_id)
    resp = await client.post(f"/api/v1/cases/{world.case_id}{path}", json=body, headers=auth(tokens["agent"]))
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["detail"]["field"] == field
    after = await pool.fetchrow("SELECT status, department, clock_paused_at FROM cases WHERE id = $1", world.case_id)
    assert after == before


async def test_resume_still_takes_no_body(client, tokens, world):
    headers = auth(tokens["agent"])
    resp = await client.post(f"/api/v1/cases/{world.case_id}/pause", json={"reason": "chờ ảnh"}, headers=headers)
    assert resp.status == 200
    resp = await client.post(f"/api/v1/cases/{world.case_id}/resume", headers=headers)
    assert resp.status == 200 and (await resp.json())["clock_paused"] is False
