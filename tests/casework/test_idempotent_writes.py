"""Staff writes with Redis down and with repeated requests: one reply, one note, one move, never a 500."""

import re

import pytest

from casework import actions
from casework.intake import InboundEvent, SenderIdentity
from kernel.http import SERVICES
from tests.conftest import auth


@pytest.fixture
async def case_id(pool):
    result = await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id="r1", text="Rác ứ đọng đầu hẻm 12",
        sender=SenderIdentity("phone", "+84901234567")))
    await pool.execute("UPDATE cases SET status = 'triage' WHERE id = $1", result.case_id)
    return result.case_id


async def test_a_reply_whose_wake_up_fails_is_stored_once_and_answered_201(client, tokens, pool, case_id, settings):
    from hotline.db import create_pool

    services = client.app[SERVICES]
    services.jobs.pool = await create_pool(settings.database_url, min_size=1, max_size=1)
    await services.jobs.pool.close()  # the senders cannot be woken: they will find the reply when they poll
    h = auth(tokens["agent"]) | {"Idempotency-Key": "reply-1"}
    first = await client.post(f"/api/v1/cases/{case_id}/replies", json={"text": "Đã chuyển đơn vị xử lý"}, headers=h)
    assert first.status == 201
    # The agent's browser retries (or the agent clicks again): the same key gives the same message.
    again = await client.post(f"/api/v1/cases/{case_id}/replies", json={"text": "Đã chuyển đơn vị xử lý"}, headers=h)
    assert again.status == 201 and (await again.json()) == (await first.json())
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE kind = 'reply'") == 1
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'reply'") == 1
    assert await pool.fetchval("SELECT status FROM messages WHERE kind = 'reply'") == "queued"  # for the senders


async def test_the_same_key_with_another_body_is_refused(client, tokens, pool, case_id):
    h = auth(tokens["agent"]) | {"Idempotency-Key": "reply-2"}
    assert (await client.post(f"/api/v1/cases/{case_id}/replies", json={"text": "A"}, headers=h)).status == 201
    other = await client.post(f"/api/v1/cases/{case_id}/replies", json={"text": "B"}, headers=h)
    assert other.status == 422 and (await other.json())["error"] == "idempotency_key_reused"
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE kind = 'reply'") == 1


async def test_keys_belong_to_the_staff_member_who_sent_them(client, tokens, pool, case_id):
    for who in ("agent", "supervisor"):
        h = auth(tokens[who]) | {"Idempotency-Key": "same"}
        assert (await client.post(f"/api/v1/cases/{case_id}/replies", json={"text": "A"}, headers=h)).status == 201
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE kind = 'reply'") == 2


async def test_replies_without_a_key_are_separate_messages(client, tokens, pool, case_id):
    for _ in range(2):
        resp = await client.post(f"/api/v1/cases/{case_id}/replies", json={"text": "A"}, headers=auth(tokens["agent"]))
        assert resp.status == 201
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE kind = 'reply'") == 2


async def test_a_repeated_note_is_written_once(client, tokens, pool, case_id):
    h = auth(tokens["agent"]) | {"Idempotency-Key": "note-1"}
    for _ in range(2):
        resp = await client.post(f"/api/v1/cases/{case_id}/notes", json={"text": "Gọi lại lúc 3 giờ"}, headers=h)
        assert resp.status == 201
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'note'") == 1


async def test_a_repeated_status_change_is_one_move_not_a_409(client, tokens, pool, case_id):
    h = auth(tokens["agent"]) | {"Idempotency-Key": "status-1"}
    move = {"status": "forwarded", "department": "so-xay-dung"}
    for _ in range(2):
        resp = await client.post(f"/api/v1/cases/{case_id}/status", json=move, headers=h)
        assert resp.status == 200 and (await resp.json())["status"] == "forwarded"
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE to_status = 'forwarded'") == 1
    # Without the key the repeat is what it is: an illegal move.
    resp = await client.post(f"/api/v1/cases/{case_id}/status", json=move, headers=auth(tokens["agent"]))
    assert resp.status == 409


async def test_a_bad_key_is_a_clear_400(client, tokens, case_id):
    h = auth(tokens["agent"]) | {"Idempotency-Key": "x" * 201}
    resp = await client.post(f"/api/v1/cases/{case_id}/notes", json={"text": "a"}, headers=h)
    assert resp.status == 400 and (await resp.json())["detail"]["field"] == "Idempotency-Key"


async def test_api_timestamps_are_rfc3339(client, tokens, case_id):
    body = await (await client.get(f"/api/v1/cases/{case_id}", headers=auth(tokens["agent"]))).json()
    rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
    assert rfc3339.match(body["created_at"]) and rfc3339.match(body["events"][0]["at"])
