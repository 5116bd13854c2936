"""Dead letters: what kept failing is kept with its error, listed for admins, and replayed only when that is safe."""

import json
import os
import subprocess
import sys

import pytest

from casework import actions
from casework.intake import InboundEvent, SenderIdentity
from casework.models import Actor, Role, Status
from channels.base import DeliveryReceipt, PermanentSendError
from classifier import Classification
from hotline import pipeline, queue
from hotline.services import Services
from hotline.worker import build_worker
from tests.conftest import auth

AGENT = Actor(kind="staff", name="agent", id=None, role=Role.AGENT)
FAILED = "/api/v1/admin/jobs/failed"


async def _intake(pool, key="k1", text="Cây xanh gãy đổ chắn ngang đường Lê Lợi"):
    return await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id=key, text=text, sender=SenderIdentity("phone", "+84901234567")))


class _Exploding:
    version = "boom"

    def classify(self, text):
        raise RuntimeError("model file corrupt")

    def classify_many(self, texts):
        raise RuntimeError("model file corrupt")


class _Trees:
    """A classifier sure that every report is about trees."""

    version = "trees-1"

    def classify(self, text):
        return Classification(field="trees", confidence=0.97, urgent=False, language="vi", model_version=self.version)

    def classify_many(self, texts):
        return [self.classify(t) for t in texts]


class _Refusing:
    name = "web"

    async def send(self, message):
        raise PermanentSendError("unknown number", provider_code="21211")


class _Accepting:
    name = "web"

    async def send(self, message):
        return DeliveryReceipt(provider_message_id="p-1", status="sent")


@pytest.fixture
async def services(settings):
    s = await Services.start(settings)
    yield s
    await s.close()


async def _given_up_case(pool, services, key="k1") -> int:
    """A case processing failed on for the last time: in triage, acknowledged, with its error kept."""
    result = await _intake(pool, key=key)
    await pool.execute("UPDATE cases SET process_attempts = $1 WHERE id = $2", services.settings.job_max_tries - 1,
                       result.case_id)
    real, services.classifier = services.classifier, _Exploding()
    try:
        assert await pipeline.process_case({"services": services}, case_id=result.case_id) == "gave_up"
    finally:
        services.classifier = real
    return result.case_id


async def _failed_message(pool, services, key="m1") -> int:
    result = await _intake(pool, key=key)
    assert await pipeline.process_case({"services": services}, case_id=result.case_id) == "processed"
    message_id = await pool.fetchval("SELECT id FROM messages WHERE kind = 'ack' AND case_id = $1", result.case_id)
    real, services.adapters["web"] = services.adapters["web"], _Refusing()
    try:
        assert await pipeline.send_message({"services": services}, message_id=message_id) == "failed"
    finally:
        services.adapters["web"] = real
    return message_id


async def _failed_job(settings, pool, services, case_id: int) -> int:
    """Run a processing job that fails on its only try: the routing snapshot cannot be loaded."""
    await queue.enqueue_processing(services.redis, settings.queue_name, case_id)

    async def broken_router():
        raise RuntimeError("routing tables unreadable")

    worker_services = await Services.start(settings)
    worker_services.current_router = broken_router
    try:
        # Only the queued jobs: the processing loop would meet the same broken router.
        await build_worker(settings, worker_services, burst=True, poll_delay=0.01)._arq_burst()
    finally:
        await worker_services.close()
    return await pool.fetchval("SELECT id FROM failed_jobs WHERE job_id = $1", queue.process_job_id(case_id))


async def _admin_id(pool) -> int:
    return await pool.fetchval("SELECT id FROM staff_users WHERE username = 'admin'")


async def test_failed_work_of_every_kind_is_listed_for_admins(settings, pool, services, client, tokens):
    settings = settings.model_copy(update={"job_max_tries": 1})
    case_id = await _given_up_case(pool, services)
    message_id = await _failed_message(pool, services)
    waiting = await _intake(pool, key="j1")
    job = await _failed_job(settings, pool, services, waiting.case_id)

    resp = await client.get(FAILED, headers=auth(tokens["admin"]))
    assert resp.status == 200
    items = {(i["kind"], i["id"]): i for i in (await resp.json())["items"]}
    assert set(items) == {("case", case_id), ("message", message_id), ("job", job)}
    case = items[("case", case_id)]
    assert case["status"] == "triage" and case["tries"] == services.settings.job_max_tries
    assert "model file corrupt" in case["error"]
    assert case["failed_at"].endswith("Z")
    message = items[("message", message_id)]
    assert (message["error"], message["channel"], message["message_kind"]) == ("21211: unknown number", "web", "ack")
    failed_job = items[("job", job)]
    assert failed_job["job_id"] == f"process:{waiting.case_id}" and failed_job["function"] == "process_case"
    assert failed_job["kwargs"] == {"case_id": waiting.case_id} and failed_job["case_id"] == waiting.case_id
    assert failed_job["error"] == "RuntimeError: routing tables unreadable" and failed_job["tries"] == 1

    only = await (await client.get(FAILED, params={"kind": "message"}, headers=auth(tokens["admin"]))).json()
    assert [(i["kind"], i["id"]) for i in only["items"]] == [("message", message_id)]
    bad = await client.get(FAILED, params={"kind": "letters"}, headers=auth(tokens["admin"]))
    assert bad.status == 400 and (await bad.json())["detail"]["field"] == "kind"
    bad = await client.get(FAILED, params={"limit": "0"}, headers=auth(tokens["admin"]))
    assert bad.status == 400 and (await bad.json())["detail"]["field"] == "limit"


@pytest.mark.parametrize("role", ["agent", "department", "supervisor"])
async def test_only_admins_list_and_replay_dead_letters(settings, pool, services, client, tokens, role):
    message_id = await _failed_message(pool, services)
    assert (await client.get(FAILED, headers=auth(tokens[role]))).status == 403
    resp = await client.post(f"{FAILED}/message/{message_id}/replay", headers=auth(tokens[role]))
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    assert (await client.get(FAILED)).status == 401
    assert (await client.post(f"{FAILED}/message/{message_id}/replay")).status == 401
    assert await pool.fetchval("SELECT status FROM messages WHERE id = $1", message_id) == "failed"


async def test_a_replayed_message_goes_back_to_the_queue_from_its_first_try(settings, pool, services, client,
                                                                             tokens):
    message_id = await _failed_message(pool, services)
    resp = await client.post(f"{FAILED}/message/{message_id}/replay", headers=auth(tokens["admin"]))
    assert resp.status == 200 and await resp.json() == {"kind": "message", "id": message_id, "replayed": True}
    row = await pool.fetchrow("SELECT status, attempts, error, next_attempt_at FROM messages WHERE id = $1",
                              message_id)
    assert (row["status"], row["attempts"], row["error"], row["next_attempt_at"]) == ("queued", 0, None, None)
    event = await pool.fetchrow("SELECT * FROM case_events WHERE kind = 'delivery_replayed'")
    assert (event["actor_kind"], event["actor_id"]) == ("staff", await _admin_id(pool))
    assert event["changes"] == {"message_id": message_id, "channel": "web", "previous_error": "21211: unknown number",
                                "attempts": 1}
    services.adapters["web"] = _Accepting()
    assert await pipeline.send_pending(services) == 1
    assert await pool.fetchval("SELECT status FROM messages WHERE id = $1", message_id) == "sent"
    # Replayed once; a second replay of a message no longer failed is refused.
    again = await client.post(f"{FAILED}/message/{message_id}/replay", headers=auth(tokens["admin"]))
    body = await again.json()
    assert again.status == 409 and body["error"] == "replay_refused" and body["detail"]["reason"] == "not_failed"
    listed = await (await client.get(FAILED, headers=auth(tokens["admin"]))).json()
    assert listed["items"] == []


async def test_a_replayed_case_is_classified_and_routed_again(settings, pool, services, client, tokens, units):
    case_id = await _given_up_case(pool, services)
    await pool.execute("INSERT INTO routing_rules (field, department) VALUES ('trees', 'so-xay-dung')")
    resp = await client.post(f"{FAILED}/case/{case_id}/replay", headers=auth(tokens["admin"]))
    assert resp.status == 200, await resp.text()
    case = await pool.fetchrow("SELECT status, processed_at, process_attempts, process_error FROM cases WHERE id = $1",
                               case_id)
    assert (case["status"], case["processed_at"], case["process_attempts"], case["process_error"]) == (
        "received", None, 0, None)
    event = await pool.fetchrow("SELECT * FROM case_events WHERE kind = 'processing_replayed'")
    assert (event["actor_kind"], event["actor_id"], event["from_status"], event["to_status"]) == (
        "staff", await _admin_id(pool), "triage", "received")
    assert "model file corrupt" in event["changes"]["previous_error"] and not event["public"]

    services.classifier = _Trees()
    assert [o.status for o in await pipeline.process_pending(services)] == ["processed"]
    case = await pool.fetchrow("SELECT status, department, field FROM cases WHERE id = $1", case_id)
    assert (case["status"], case["department"], case["field"]) == ("forwarded", "so-xay-dung", "trees")
    # The citizen was acknowledged when the case was given up, and is not acknowledged twice.
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE kind = 'ack' AND case_id = $1", case_id) == 1
    assert (await (await client.get(FAILED, headers=auth(tokens["admin"]))).json())["items"] == []


async def _assign(pool, case_id):
    await pool.execute("UPDATE cases SET assignee = (SELECT id FROM staff_users WHERE username = 'agent')"
                       " WHERE id = $1", case_id)


async def _note(pool, case_id):
    await actions.add_note(pool, case_id, AGENT, "Đã gọi lại cho người dân")


async def _forward(pool, case_id):
    await actions.change_status(pool, case_id, Status.FORWARDED, AGENT, department="so-xay-dung")


@pytest.mark.parametrize("touch, reason", [
    (_forward, "moved_by_people"),
    (_assign, "assigned"),
    (_note, "touched_by_people"),
])
async def test_a_case_people_have_touched_is_not_replayed(settings, pool, services, client, tokens, units, touch,
                                                          reason):
    case_id = await _given_up_case(pool, services)
    await touch(pool, case_id)
    before = await pool.fetchrow("SELECT status, processed_at, assignee FROM cases WHERE id = $1", case_id)
    resp = await client.post(f"{FAILED}/case/{case_id}/replay", headers=auth(tokens["admin"]))
    body = await resp.json()
    assert resp.status == 409 and body["error"] == "replay_refused" and body["detail"]["reason"] == reason
    assert body["detail"]["message"] and body["detail"]["message_en"]
    assert await pool.fetchrow("SELECT status, processed_at, assignee FROM cases WHERE id = $1", case_id) == before
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'processing_replayed'") == 0


async def test_only_dead_letters_are_replayed(settings, pool, services, client, tokens):
    result = await _intake(pool)
    assert await pipeline.process_case({"services": services}, case_id=result.case_id) == "processed"
    admin = auth(tokens["admin"])
    resp = await client.post(f"{FAILED}/case/{result.case_id}/replay", headers=admin)
    assert resp.status == 409 and (await resp.json())["detail"]["reason"] == "not_given_up"
    assert (await client.post(f"{FAILED}/case/999999/replay", headers=admin)).status == 404
    assert (await client.post(f"{FAILED}/message/999999/replay", headers=admin)).status == 404
    assert (await client.post(f"{FAILED}/job/999999/replay", headers=admin)).status == 404
    resp = await client.post(f"{FAILED}/letter/1/replay", headers=admin)
    assert resp.status == 400 and (await resp.json())["detail"]["field"] == "kind"
    resp = await client.post(f"{FAILED}/case/1e400/replay", headers=admin)
    assert resp.status == 400 and (await resp.json())["detail"]["field"] == "id"
    inbound = await pool.fetchval("SELECT id FROM messages WHERE direction = 'in'")
    assert (await client.post(f"{FAILED}/message/{inbound}/replay", headers=admin)).status == 404


async def test_a_job_out_of_tries_is_kept_and_replayed_under_its_own_id(settings, pool, services, client, tokens,
                                                                        run_worker):
    settings = settings.model_copy(update={"job_max_tries": 1})
    result = await _intake(pool)
    await pool.execute("UPDATE cases SET process_after = now() + interval '1 day' WHERE id = $1", result.case_id)
    failed_id = await _failed_job(settings, pool, services, result.case_id)
    assert failed_id is not None
    assert await pool.fetchval("SELECT processed_at FROM cases WHERE id = $1", result.case_id) is None

    resp = await client.post(f"{FAILED}/job/{failed_id}/replay", headers=auth(tokens["admin"]))
    assert resp.status == 200, await resp.text()
    row = await pool.fetchrow("SELECT replayed_at, replayed_by FROM failed_jobs WHERE id = $1", failed_id)
    assert row["replayed_at"] is not None and row["replayed_by"] == await _admin_id(pool)
    event = await pool.fetchrow("SELECT * FROM case_events WHERE kind = 'job_replayed'")
    assert (event["case_id"], event["actor_id"]) == (result.case_id, await _admin_id(pool))
    assert event["changes"]["job_id"] == f"process:{result.case_id}"
    again = await client.post(f"{FAILED}/job/{failed_id}/replay", headers=auth(tokens["admin"]))
    assert again.status == 409 and (await again.json())["detail"]["reason"] == "already_replayed"

    await run_worker()  # the queued job runs, whatever the case's back-off
    assert await pool.fetchval("SELECT status FROM cases WHERE id = $1", result.case_id) == "triage"
    assert await pool.fetchval("SELECT count(*) FROM failed_jobs") == 1


async def test_a_job_arq_gives_up_on_is_kept_too(settings, pool, services, run_worker):
    await queue.enqueue_many(services.redis, settings.queue_name, [("retired:1", "retired_job", {"case_id": 1})])
    await run_worker()
    row = await pool.fetchrow("SELECT job_id, function, kwargs, error FROM failed_jobs")
    assert (row["job_id"], row["function"], row["kwargs"]) == ("retired:1", "retired_job", {"case_id": 1})
    assert "not found" in row["error"]


def _hotline(settings, *args):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "HOTLINE_VAR_DIR": str(settings.var_dir)}
    return subprocess.run([sys.executable, "-m", "hotline.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)


async def test_the_jobs_command_lists_and_replays(settings, pool, services, tokens):
    message_id = await _failed_message(pool, services)
    listed = _hotline(settings, "jobs", "failed", "--json")
    assert listed.returncode == 0, listed.stderr
    (item,) = json.loads(listed.stdout)
    assert (item["kind"], item["id"], item["error"]) == ("message", message_id, "21211: unknown number")
    lines = _hotline(settings, "jobs", "failed", "--kind", "case")
    assert lines.returncode == 0 and lines.stdout.strip() == "no failed work"

    refused = _hotline(settings, "jobs", "replay", "message", str(message_id), "--admin", "agent")
    assert refused.returncode == 2 and "not an active admin" in refused.stderr
    assert await pool.fetchval("SELECT status FROM messages WHERE id = $1", message_id) == "failed"
    done = _hotline(settings, "jobs", "replay", "message", str(message_id), "--admin", "admin")
    assert done.returncode == 0, done.stderr
    assert await pool.fetchval("SELECT status FROM messages WHERE id = $1", message_id) == "queued"
    assert await pool.fetchval("SELECT actor_id FROM case_events WHERE kind = 'delivery_replayed'") == \
        await _admin_id(pool)
    again = _hotline(settings, "jobs", "replay", "message", str(message_id), "--admin", "admin")
    assert again.returncode == 2 and "not_failed" in again.stderr
