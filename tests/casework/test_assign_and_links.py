"""Assigning a case inside its queue, and linking and unlinking duplicates, through the staff API."""

from __future__ import annotations

import asyncpg
import pytest

from casework import actions, codes, staff
from casework.intake import InboundEvent, SenderIdentity
from casework.models import SYSTEM, Status
from tests.conftest import auth


@pytest.fixture
async def people(pool: asyncpg.Pool, tokens: dict[str, str]) -> dict[str, int]:
    """Every user by name: the tokens fixture's, a colleague of `department` and a second agent."""
    await staff.create_user(pool, "colleague", role="department", department="so-xay-dung", password="colleague-1")
    await staff.create_user(pool, "agent2", role="agent", department=None, password="agent2-secret")
    return {r["username"]: r["id"] for r in await pool.fetch("SELECT id, username FROM staff_users")}


async def _case(pool: asyncpg.Pool, n: int, *, unit: str | None = "so-xay-dung", text: str = "Ổ gà trước số 12",
                channel: str = "web") -> dict:
    """A case forwarded to `unit` (None: waiting in triage); its id and tracking code."""
    sender = SenderIdentity("phone", f"+8490123456{n}") if channel == "sms" else None
    result = await actions.record_inbound(pool, InboundEvent(channel=channel, provider_message_id=f"links:{n}",
                                                             text=text, sender=sender))
    await actions.change_status(pool, result.case_id, Status.TRIAGE, SYSTEM)
    if unit:
        await actions.change_status(pool, result.case_id, Status.FORWARDED, SYSTEM, department=unit)
    return {"id": result.case_id, "code": result.tracking_code}


async def _assign(client, token: str, case_id: int, assignee: int | None, *, headers=None, **extra):
    return await client.post(f"/api/v1/cases/{case_id}/assign", json={"assignee": assignee, **extra},
                             headers=auth(token) | (headers or {}))


async def _events(pool: asyncpg.Pool, case_id: int, kind: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT actor_kind, actor_name, changes, reason FROM case_events"
                            " WHERE case_id = $1 AND kind = $2 ORDER BY id", case_id, kind)


# --- assign ---------------------------------------------------------------------------------------

async def test_a_unit_assigns_its_case_to_a_colleague_once(client, tokens, people, pool):
    case = await _case(pool, 1)
    resp = await _assign(client, tokens["department"], case["id"], people["colleague"], reason="gần hiện trường")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["assignee"] == people["colleague"]
    events = await _events(pool, case["id"], "assigned")
    assert [(e["actor_kind"], e["actor_name"], e["changes"], e["reason"]) for e in events] == [
        ("staff", "department", {"assignee": [None, people["colleague"]]}, "gần hiện trường")]
    again = await _assign(client, tokens["department"], case["id"], people["colleague"])
    assert again.status == 200 and (await again.json())["assignee"] == people["colleague"]
    assert len(await _events(pool, case["id"], "assigned")) == 1  # the same person again: no new event


async def test_a_repeated_assign_request_is_one_change_and_its_key_is_bound_to_its_body(client, tokens, people, pool):
    case = await _case(pool, 2)
    key = {"Idempotency-Key": "assign-1"}
    for _ in range(2):
        resp = await _assign(client, tokens["department"], case["id"], people["colleague"], headers=key)
        assert resp.status == 200
    # Meanwhile someone else gave it back to the queue; the retried request must not take it again.
    await _assign(client, tokens["agent"], case["id"], None)
    replay = await _assign(client, tokens["department"], case["id"], people["colleague"], headers=key)
    assert replay.status == 200 and (await replay.json())["assignee"] is None
    other = await _assign(client, tokens["department"], case["id"], people["department"], headers=key)
    assert other.status == 422 and (await other.json())["error"] == "idempotency_key_reused"
    assert [e["changes"]["assignee"] for e in await _events(pool, case["id"], "assigned")] == [
        [None, people["colleague"]], [people["colleague"], None]]


@pytest.mark.parametrize("who, why", [
    ("other_department", "another unit's staff"),
    ("agent", "an agent, for a unit's case"),
    ("supervisor", "a supervisor"),
    ("nobody", "no such user"),
    ("retired", "an inactive colleague"),
])
async def test_a_unit_case_goes_only_to_that_units_active_staff(client, tokens, people, pool, who, why):
    await staff.create_user(pool, "retired", role="department", department="so-xay-dung", password="retired-1")
    await pool.execute("UPDATE staff_users SET active = false WHERE username = 'retired'")
    ids = {**people, "retired": await pool.fetchval("SELECT id FROM staff_users WHERE username = 'retired'"),
           "nobody": 999_999}
    case = await _case(pool, 3)
    for actor in ("department", "agent", "admin"):
        resp = await _assign(client, tokens[actor], case["id"], ids[who])
        assert resp.status == 422, (why, actor, await resp.text())
        assert (await resp.json())["detail"]["field"] == "assignee"
    assert await pool.fetchval("SELECT assignee FROM cases WHERE id = $1", case["id"]) is None
    assert await _events(pool, case["id"], "assigned") == []


async def test_the_centre_assigns_a_units_case_to_its_staff_and_a_triage_case_to_agents(client, tokens, people, pool):
    unit_case = await _case(pool, 4)
    resp = await _assign(client, tokens["supervisor"], unit_case["id"], people["department"])
    assert resp.status == 200 and (await resp.json())["assignee"] == people["department"]
    triage = await _case(pool, 5, unit=None)
    resp = await _assign(client, tokens["agent"], triage["id"], people["agent2"])
    assert resp.status == 200 and (await resp.json())["assignee"] == people["agent2"]
    refused = await _assign(client, tokens["admin"], triage["id"], people["department"])
    assert refused.status == 422 and (await refused.json())["detail"]["field"] == "assignee"


async def test_a_department_assigns_only_in_its_own_units_queue(client, tokens, people, pool):
    theirs = await _case(pool, 6, unit="evn-hcmc")
    resp = await _assign(client, tokens["department"], theirs["id"], people["colleague"])
    assert resp.status == 403
    triage = await _case(pool, 7, unit=None)
    assert (await _assign(client, tokens["department"], triage["id"], people["colleague"])).status == 403
    # Its own unit's case back in the centre's hands (in progress, then sent back to triage) is the centre's.
    mine = await _case(pool, 8)
    await actions.change_status(pool, mine["id"], Status.IN_PROGRESS, SYSTEM)
    await actions.change_status(pool, mine["id"], Status.TRIAGE, SYSTEM)
    resp = await _assign(client, tokens["department"], mine["id"], people["colleague"])
    assert resp.status == 403, await resp.text()
    for case_id in (theirs["id"], triage["id"], mine["id"]):
        assert await pool.fetchval("SELECT assignee FROM cases WHERE id = $1", case_id) is None


@pytest.mark.parametrize("status", ["closed", "duplicate", "answered"])
async def test_a_case_that_is_not_open_is_not_assigned(client, tokens, people, pool, status):
    case = await _case(pool, 9, unit=None)
    parent = await _case(pool, 10, unit=None)
    if status == "duplicate":
        await actions.change_status(pool, case["id"], Status.DUPLICATE, SYSTEM, reason="x", duplicate_of=parent["id"])
    else:
        await pool.execute("UPDATE cases SET status = $2 WHERE id = $1", case["id"], status)
    resp = await _assign(client, tokens["agent"], case["id"], people["agent"])
    assert resp.status == 409 and (await resp.json())["error"] == "not_assignable"
    assert await _events(pool, case["id"], "assigned") == []


async def test_unassigning_puts_the_case_back_in_the_units_queue(client, tokens, people, pool):
    case = await _case(pool, 11)
    await _assign(client, tokens["department"], case["id"], people["colleague"])
    resp = await _assign(client, tokens["department"], case["id"], None, reason="nghỉ phép")
    assert resp.status == 200 and (await resp.json())["assignee"] is None
    events = await _events(pool, case["id"], "assigned")
    assert events[-1]["changes"] == {"assignee": [people["colleague"], None]}
    assert events[-1]["reason"] == "nghỉ phép"
    async with pool.acquire() as conn:
        from casework import store

        waiting = [r["id"] for r in await store.waiting_cases(conn, "so-xay-dung")]
    assert case["id"] in waiting  # the FIFO sees it again
    # Someone of the unit comes on duty: the queue hands it out, as any waiting case.
    await pool.execute("UPDATE staff_users SET available = true WHERE username = 'department'")
    resp = await _assign(client, tokens["department"], case["id"], None)  # no change; the answer runs the queue
    assert (await resp.json())["assignee"] == people["department"]
    assert (await _events(pool, case["id"], "assigned"))[-1]["actor_kind"] == "system"


async def test_the_queue_never_takes_a_case_a_person_assigned(client, tokens, people, pool):
    case = await _case(pool, 12)
    await _assign(client, tokens["department"], case["id"], people["colleague"])  # away, but chosen by a person
    await pool.execute("UPDATE staff_users SET available = true WHERE username = 'department'")
    resp = await client.put("/api/v1/me/presence", json={"available": True}, headers=auth(tokens["department"]))
    assert resp.status == 200 and (await resp.json())["assigned"] == []
    assert await pool.fetchval("SELECT assignee FROM cases WHERE id = $1", case["id"]) == people["colleague"]


@pytest.mark.parametrize("body, field", [
    ({}, "assignee"),
    ({"assignee": "ai đó"}, "assignee"),
    ({"assignee": 0}, "assignee"),
    ({"assignee": 2**63}, "assignee"),
    ({"assignee": None, "reason": 5}, "reason"),
    ({"assignee": None, "to": "lan"}, "to"),
])
async def test_an_assign_body_of_the_wrong_shape_is_400(client, tokens, pool, body, field):
    case = await _case(pool, 13)
    resp = await client.post(f"/api/v1/cases/{case['id']}/assign", json=body, headers=auth(tokens["agent"]))
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["detail"]["field"] == field


# --- link by tracking code ------------------------------------------------------------------------

async def _link(client, token: str, case_id: int, **body):
    return await client.post(f"/api/v1/cases/{case_id}/status",
                             json={"status": "duplicate", "reason": "cùng ổ gà", **body}, headers=auth(token))


async def test_any_case_links_to_another_by_its_tracking_code(client, tokens, pool):
    parent = await _case(pool, 20)
    child = await _case(pool, 21, unit=None)
    resp = await _link(client, tokens["agent"], child["id"], duplicate_of_code=codes.display(parent["code"]))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["status"], body["duplicate_of"]) == ("duplicate", parent["id"])
    moves = await pool.fetch("SELECT changes FROM case_events WHERE case_id = $1 AND to_status = 'duplicate'",
                             child["id"])
    assert [m["changes"] for m in moves] == [{"duplicate_of": [None, parent["id"]]}]


async def test_a_code_that_names_no_case_is_422_on_its_field(client, tokens, pool):
    child = await _case(pool, 22, unit=None)
    free = "100000000" + codes.check_digit("100000000")  # a valid code no case has
    assert not await pool.fetchval("SELECT 1 FROM cases WHERE tracking_code = $1", free)
    mistyped = child["code"][:-1] + str((int(child["code"][-1]) + 1) % 10)  # the check digit catches it
    for code in (free, mistyped, "12345"):
        resp = await _link(client, tokens["agent"], child["id"], duplicate_of_code=code)
        assert resp.status == 422, (code, await resp.text())
        assert (await resp.json())["detail"]["field"] == "duplicate_of_code"
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", child["id"]) == "triage"


async def test_a_case_does_not_link_to_itself_nor_to_a_duplicate(client, tokens, pool):
    top = await _case(pool, 23)
    middle = await _case(pool, 24, unit=None)
    case = await _case(pool, 25, unit=None)
    resp = await _link(client, tokens["agent"], case["id"], duplicate_of_code=case["code"])
    assert resp.status == 422 and (await resp.json())["detail"]["field"] == "duplicate_of_code"
    assert (await _link(client, tokens["agent"], middle["id"], duplicate_of=top["id"])).status == 200
    for by in ({"duplicate_of_code": middle["code"]}, {"duplicate_of": middle["id"]}):
        resp = await _link(client, tokens["agent"], case["id"], **by)
        assert resp.status == 422, await resp.text()
        detail = (await resp.json())["detail"]
        assert detail["field"] == next(iter(by)) and top["code"] in detail["message"]  # link to the parent instead
        assert detail["parent_code"] == top["code"]
    assert (await _link(client, tokens["agent"], case["id"], duplicate_of_code=top["code"])).status == 200


async def test_a_department_cannot_link_and_both_ways_at_once_is_400(client, tokens, pool):
    parent = await _case(pool, 26)
    child = await _case(pool, 27)
    resp = await _link(client, tokens["department"], child["id"], duplicate_of_code=parent["code"])
    assert resp.status == 403
    resp = await _link(client, tokens["agent"], child["id"], duplicate_of=parent["id"],
                       duplicate_of_code=parent["code"])
    assert resp.status == 400 and (await resp.json())["detail"]["field"] == "duplicate_of_code"
    assert await pool.fetchval("SELECT duplicate_of FROM cases WHERE id = $1", child["id"]) is None


async def test_a_parent_linked_as_a_duplicate_hands_its_duplicates_to_the_new_parent(client, tokens, pool):
    first = await _case(pool, 28)
    second = await _case(pool, 29, unit=None)
    child = await _case(pool, 30, unit=None)
    assert (await _link(client, tokens["agent"], child["id"], duplicate_of=second["id"])).status == 200
    assert (await _link(client, tokens["agent"], second["id"], duplicate_of_code=first["code"])).status == 200
    rows = await pool.fetch("SELECT id, duplicate_of FROM cases WHERE id = ANY($1::bigint[]) ORDER BY id",
                            [second["id"], child["id"]])
    assert [r["duplicate_of"] for r in rows] == [first["id"], first["id"]]
    moved = await _events(pool, child["id"], "updated")
    assert [e["changes"] for e in moved] == [{"duplicate_of": [second["id"], first["id"]]}]


# --- unlink ---------------------------------------------------------------------------------------

async def _unlink(client, token: str, case_id: int, reason: str | None = "khác địa điểm", headers=None):
    body = {} if reason is None else {"reason": reason}
    return await client.post(f"/api/v1/cases/{case_id}/duplicate/unlink", json=body,
                             headers=auth(token) | (headers or {}))


async def test_unlinking_an_unrouted_duplicate_sends_it_to_triage(client, tokens, pool):
    parent = await _case(pool, 40)
    child = await _case(pool, 41, unit=None)
    await _link(client, tokens["agent"], child["id"], duplicate_of=parent["id"])
    resp = await _unlink(client, tokens["supervisor"], child["id"])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["status"], body["duplicate_of"], body["department"]) == ("triage", None, None)
    unlinked = await _events(pool, child["id"], "duplicate_unlinked")
    assert [(e["actor_name"], e["changes"], e["reason"]) for e in unlinked] == [
        ("supervisor", {"duplicate_of": [parent["id"], None]}, "khác địa điểm")]
    moves = await pool.fetch("SELECT from_status, to_status, actor_kind FROM case_events"
                             " WHERE case_id = $1 AND kind = 'status' ORDER BY id", child["id"])
    assert [tuple(m) for m in moves][-3:] == [("triage", "duplicate", "staff"), ("duplicate", "reopened", "staff"),
                                              ("reopened", "triage", "system")]
    assert await pool.fetchval("SELECT count(*) FROM cases WHERE duplicate_of = $1", parent["id"]) == 0


async def test_unlinking_forwards_to_the_unit_the_rules_choose_with_a_deadline(client, tokens, pool):
    await pool.execute("INSERT INTO routing_rules (field, department) VALUES ('trees', 'evn-hcmc')")
    await pool.execute("INSERT INTO sla_policies (field, priority, forward_minutes, first_response_minutes,"
                       " resolution_minutes, calendar) VALUES (NULL, 'normal', 60, 240, 2880, '24x7')")
    parent = await _case(pool, 42)
    child = await _case(pool, 43, unit=None, text="Cây đổ chắn ngang đường")
    await pool.execute("UPDATE cases SET field = 'trees' WHERE id = $1", child["id"])
    await _link(client, tokens["agent"], child["id"], duplicate_of=parent["id"])
    resp = await _unlink(client, tokens["agent"], child["id"])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["status"], body["department"], body["duplicate_of"]) == ("forwarded", "evn-hcmc", None)
    assert body["due_at"] is not None and body["forwarded_at"] is not None
    last = await pool.fetchrow("SELECT from_status, to_status, changes FROM case_events"
                               " WHERE case_id = $1 AND kind = 'status' ORDER BY id DESC LIMIT 1", child["id"])
    assert (last["from_status"], last["to_status"]) == ("reopened", "forwarded")
    assert last["changes"]["department"] == [None, "evn-hcmc"] and last["changes"]["due_at"][1]


async def test_unlinking_a_case_that_had_a_unit_sends_it_back_there(client, tokens, pool):
    parent = await _case(pool, 44)
    child = await _case(pool, 45, unit="evn-hcmc")
    await _link(client, tokens["agent"], child["id"], duplicate_of=parent["id"])
    body = await (await _unlink(client, tokens["admin"], child["id"])).json()
    assert (body["status"], body["department"], body["assignee"]) == ("forwarded", "evn-hcmc", None)


async def test_only_a_duplicate_is_unlinked_and_only_by_the_centre(client, tokens, pool):
    parent = await _case(pool, 46)
    child = await _case(pool, 47)
    resp = await _unlink(client, tokens["agent"], child["id"])
    assert resp.status == 409 and (await resp.json())["error"] == "not_a_duplicate"
    await _link(client, tokens["agent"], child["id"], duplicate_of=parent["id"])
    assert (await _unlink(client, tokens["department"], child["id"])).status == 403
    for reason in (None, "", "   "):
        resp = await _unlink(client, tokens["agent"], child["id"], reason)
        assert resp.status == 400 and (await resp.json())["detail"]["field"] == "reason", reason
    assert await pool.fetchval("SELECT duplicate_of FROM cases WHERE id = $1", child["id"]) == parent["id"]
    assert await _events(pool, child["id"], "duplicate_unlinked") == []


async def test_a_repeated_unlink_request_unlinks_once_and_tells_the_citizen_once(client, tokens, pool):
    parent = await _case(pool, 48)
    child = await _case(pool, 49, unit=None, channel="sms")
    await _link(client, tokens["agent"], child["id"], duplicate_of=parent["id"])
    key = {"Idempotency-Key": "unlink-1"}
    for _ in range(2):
        resp = await _unlink(client, tokens["agent"], child["id"], headers=key)
        assert resp.status == 200 and (await resp.json())["status"] == "triage"
    assert len(await _events(pool, child["id"], "duplicate_unlinked")) == 1
    notices = await pool.fetch("SELECT text FROM messages WHERE case_id = $1 AND kind = 'notice'", child["id"])
    assert [n["text"] for n in notices] == [f"1022: Hồ sơ {codes.display(child['code'])} đã được mở lại để xử lý tiếp."]
    # Unlinked, it can be linked again (to the right parent this time), and unlinked again.
    assert (await _link(client, tokens["agent"], child["id"], duplicate_of_code=parent["code"])).status == 200
    assert (await _unlink(client, tokens["agent"], child["id"], "vẫn khác")).status == 200
