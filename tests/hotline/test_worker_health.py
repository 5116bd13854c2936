"""Workers beat, /healthz and /metrics read the beats, and workers survive Redis going away and a SIGKILL.

Every wait is bounded: a regression fails a test instead of hanging it. Ages are judged by injected
clocks, never by the wall clock.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from arq import create_pool

from casework import actions
from casework.intake import InboundEvent, SenderIdentity
from hotline import queue
from hotline.app import WORKER, create_app
from hotline.services import Services, redis_settings
from hotline.worker import ARQ_TIMEOUT_SECONDS, build_worker
from kernel.http import SERVICES
from kernel.time import FixedClock
from tests.conftest import auth
from tests.polling import until as _until

ROOT = Path(__file__).resolve().parents[2]
FAST = {"worker_poll_seconds": 0.05, "worker_heartbeat_seconds": 0.05}
# Far from any real date, so no heartbeat written by the wall clock can pass for a fresh one.
T0 = datetime(2031, 5, 1, 9, 0, tzinfo=UTC)


def until(check, *, seconds: float = 20, what: str = "the condition"):
    return _until(check, seconds=seconds, what=what)


async def _intake(pool, key="k1", text="Đèn đường hẻm 40 tắt cả tuần"):
    return await actions.record_inbound(pool, InboundEvent(
        channel="web", provider_message_id=key, text=text, sender=SenderIdentity("phone", "+84901234567")))


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture
async def no_workers(pool):
    """No heartbeat left from an earlier test."""
    await pool.execute("DELETE FROM workers")


# --- heartbeats and health ----------------------------------------------------------------------------

async def test_a_running_worker_makes_healthz_ok_and_shows_in_metrics(settings, pool, aiohttp_client, tokens,
                                                                      no_workers):
    s = settings.model_copy(update={**FAST, "healthz_require_worker": True})
    # A worker that died without a word long ago: the live one deletes its row.
    await pool.execute("INSERT INTO workers (id, host, pid, started_at, beat_at)"
                       " VALUES ('gone:1:x', 'gone', 1, $1, $1)",
                       T0 - timedelta(seconds=s.worker_alive_seconds * 10 + 1))
    services = await Services.start(s)
    services.clock = FixedClock(T0)
    worker = build_worker(s, services)
    task = asyncio.create_task(worker.async_run())
    try:
        row = await until(lambda: pool.fetchrow("SELECT * FROM workers WHERE id = $1", worker.id),
                          what="a heartbeat")
        assert (row["host"], row["pid"], row["started_at"], row["beat_at"]) == (socket.gethostname(), os.getpid(),
                                                                                 T0, T0)
        assert await pool.fetchval("SELECT count(*) FROM workers") == 1
        await until(lambda: set(worker.beats) >= {"process", "send", "arq"}, what="the loops turning")
        client = await aiohttp_client(create_app(s))
        client.app[SERVICES].clock = web_clock = FixedClock(T0)

        resp = await client.get("/healthz")
        body = await resp.json()
        assert resp.status == 200, body
        assert body["checks"] == {"database": "ok", "redis": "ok", "worker": "ok"}
        assert (body["worker"]["alive"], body["worker"]["freshest_heartbeat_seconds_ago"]) == (1, 0.0)
        assert "loops" not in body["worker"]  # no worker inside this web process

        text = await (await client.get("/metrics", headers=auth(tokens["admin"]))).text()
        assert _metric(text, "hotline_workers_alive") == 1
        for loop in ("listen", "process", "send", "chores", "arq"):
            name = f'hotline_worker_loop_last_round_age_seconds{{loop="{loop}",worker="{worker.id}"}}'
            assert _metric(text, name) == 0.0, loop

        # The worker's clock stands still while the web's moves on: its heartbeat grows old.
        web_clock.advance(seconds=s.worker_alive_seconds + 1)
        resp = await client.get("/healthz")
        body = await resp.json()
        assert resp.status == 503 and body["checks"]["worker"] == "no worker alive"
        assert body["worker"]["freshest_heartbeat_seconds_ago"] == s.worker_alive_seconds + 1
        assert resp.headers["Retry-After"]
        text = await (await client.get("/metrics", headers=auth(tokens["admin"]))).text()
        assert _metric(text, "hotline_workers_alive") == 0
    finally:
        await worker.close()
        await asyncio.wait_for(task, 10)
        await services.close()
    # A worker that stops says so: its row goes.
    assert await pool.fetchval("SELECT count(*) FROM workers") == 0


async def test_without_any_worker_healthz_is_503(settings, aiohttp_client, no_workers):
    client = await aiohttp_client(create_app(settings.model_copy(update={"healthz_require_worker": True})))
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503
    assert body["checks"] == {"database": "ok", "redis": "ok", "worker": "no worker alive"}
    assert body["worker"] == {"alive": 0, "freshest_heartbeat_seconds_ago": None}


async def test_a_stuck_processing_loop_makes_healthz_503_stalled(settings, aiohttp_client, no_workers):
    s = settings.model_copy(update=FAST)
    # A lock the processing loop waits on forever: it reads the routing tables first thing in each round.
    blocker = await asyncpg.connect(s.database_url)
    held = blocker.transaction()
    await held.start()
    await blocker.execute("LOCK TABLE routing_rules IN ACCESS EXCLUSIVE MODE")
    try:
        client = await aiohttp_client(create_app(s, with_worker=True))
        worker = client.app[WORKER]
        await until(lambda: "send" in worker.beats and worker.heartbeats > 0, what="the worker starting")
        assert "process" not in worker.beats
        client.app[SERVICES].clock = clock = FixedClock(worker.started_at)

        resp = await client.get("/healthz")
        body = await resp.json()
        assert resp.status == 200 and body["checks"]["worker"] == "ok", body
        assert body["worker"]["loops"]["process"] == {"last_round_seconds_ago": 0.0, "stalled": False, "error": None}

        clock.advance(seconds=worker.stall_limits()["process"] + 1)
        await until(lambda: worker.beats["send"] == clock(), what="the sending loop going on")
        resp = await client.get("/healthz")
        body = await resp.json()
        assert resp.status == 503, body
        assert body["checks"]["worker"].startswith("stalled: ") and "process" in body["checks"]["worker"]
        assert body["worker"]["loops"]["process"]["stalled"] is True
        assert body["worker"]["loops"]["send"]["stalled"] is False

        await held.rollback()  # the lock goes: the loop turns again
        await until(lambda: worker.beats.get("process") == clock(), what="the processing loop turning again")
        body = await (await client.get("/healthz")).json()
        assert body["worker"]["loops"]["process"]["stalled"] is False
    finally:
        if not blocker.is_closed():
            await blocker.close()


async def test_a_killed_workers_queued_jobs_come_back_within_a_minute(settings):
    # arq frees a running job's key the longest function timeout + 10 s after its worker died.
    s = settings.model_copy(update={"send_timeout_seconds": 300})
    services = await Services.start(s)
    try:
        arq = build_worker(s, services)._arq_worker()
        assert max(f.timeout_s for f in arq.functions.values()) <= ARQ_TIMEOUT_SECONDS == 50
        assert arq.in_progress_timeout_s <= 60
        await arq.close()
    finally:
        await services.close()


# --- Redis going away ---------------------------------------------------------------------------------

class RedisServer:
    """A redis-server of the test's own on a free port, to stop and start again."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


async def _acknowledged(pool, case_id):
    return await pool.fetchval("SELECT status = 'delivered' FROM messages WHERE kind = 'ack' AND case_id = $1",
                               case_id)


async def test_a_worker_keeps_processing_while_redis_is_down_and_its_queue_comes_back(settings, pool, redis_server,
                                                                                      no_workers):
    s = settings.model_copy(update={**FAST, "redis_url": redis_server.url})
    worker = build_worker(s, max_backoff=0.5)
    task = asyncio.create_task(worker.async_run())
    try:
        await until(lambda: "arq" in worker.beats, what="arq polling")
        redis_server.stop()
        await until(lambda: worker.errors.get("arq"), what="the arq loop noticing")
        await until(lambda: pool.fetchval("SELECT loops->'arq'->>'error' FROM workers WHERE id = $1", worker.id),
                    what="the heartbeat reporting the arq error")
        beats = worker.heartbeats
        result = await _intake(pool)
        await until(lambda: _acknowledged(pool, result.case_id), what="processing and sending without Redis")
        assert worker.errors.get("arq") and worker.heartbeats > beats and not task.done()

        redis_server.start()
        await until(lambda: "arq" not in worker.errors, what="the arq loop starting again")
        await until(lambda: pool.fetchval("SELECT loops->'arq'->>'error' IS NULL FROM workers WHERE id = $1",
                                          worker.id), what="the heartbeat clearing the arq error")
        # Jobs queued in Redis run again.
        redis = await create_pool(redis_settings(s))
        try:
            await queue.enqueue_processing(redis, s.queue_name, result.case_id)
        finally:
            await redis.aclose()
        await until(lambda: worker._arq is not None and worker._arq.jobs_complete >= 1, what="a queued job run")
    finally:
        await worker.close()
        await asyncio.wait_for(task, 10)


def _env(settings, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
            "HOTLINE_VAR_DIR": str(settings.var_dir), "HOTLINE_CLASSIFIER_MODEL": "none", "HOTLINE_GEOCODER": "none",
            "HOTLINE_WORKER_POLL_SECONDS": "0.1", "HOTLINE_WORKER_HEARTBEAT_SECONDS": "0.1",
            "PYTHONPATH": str(ROOT), **extra}


async def test_the_worker_command_outlives_a_redis_outage(settings, pool, redis_server, tmp_path, no_workers):
    log = (tmp_path / "worker.log").open("w")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.cli", "worker", cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=_env(settings, REDIS_URL=redis_server.url))
    arq_error = "SELECT loops->'arq'->>'error' FROM workers WHERE pid = $1"
    try:
        await until(lambda: process.returncode is not None or pool.fetchval(
            "SELECT loops->'arq'->>'error' IS NULL AND beat_at > started_at FROM workers WHERE pid = $1", process.pid),
            seconds=60, what="the worker polling its queue")
        assert process.returncode is None, (tmp_path / "worker.log").read_text()[-3000:]
        redis_server.stop()
        await until(lambda: pool.fetchval(arq_error, process.pid), what="the worker noticing Redis gone")
        result = await _intake(pool)
        await until(lambda: _acknowledged(pool, result.case_id), what="processing without Redis")
        assert process.returncode is None, (tmp_path / "worker.log").read_text()[-3000:]

        redis_server.start()
        await until(lambda: pool.fetchval(arq_error.replace("->>'error'", "->>'error' IS NULL"), process.pid),
                    what="the arq loop back")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
        assert await pool.fetchval("SELECT count(*) FROM workers WHERE pid = $1", process.pid) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.wait(), 10)
        log.close()


# --- a worker killed in the middle of a batch ---------------------------------------------------------

SLOW_WORKER = textwrap.dedent('''
    """A worker whose second batch takes forever: it says so in a file, then sleeps until killed."""
    import asyncio
    import sys
    import time
    from pathlib import Path

    from hotline.services import Services, redis_settings
    from hotline.settings import Settings
    from hotline.worker import build_worker

    MARKER = Path(sys.argv[1])


    class SecondBatchHangs:
        version = "hangs"

        def __init__(self):
            self.calls = 0

        def classify(self, text):
            return None

        def classify_many(self, texts):
            self.calls += 1
            if self.calls == 2:
                MARKER.write_text(str(len(texts)))
                time.sleep(300)
            return [None] * len(texts)


    async def main():
        settings = Settings()
        services = await Services.start(settings)
        services.classifier = SecondBatchHangs()
        await build_worker(settings, services).async_run()


    asyncio.run(main())
''')


async def test_a_worker_killed_mid_batch_leaves_its_cases_to_another_processed_once(settings, pool, tmp_path,
                                                                                    no_workers):
    cases = [(await _intake(pool, key=f"k{i}", text=f"Rác chưa được thu gom ngày thứ {i + 2}")).case_id
             for i in range(12)]
    script, marker = tmp_path / "slow_worker.py", tmp_path / "second-batch"
    script.write_text(SLOW_WORKER)
    log = (tmp_path / "worker.log").open("w")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(marker), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=_env(settings, HOTLINE_PROCESS_BATCH_SIZE="5"))
    try:
        await until(lambda: process.returncode is not None or marker.exists(), seconds=60, what="the second batch")
        assert process.returncode is None, (tmp_path / "worker.log").read_text()[-3000:]
        assert marker.read_text() == "5"
    finally:
        process.kill()  # SIGKILL: no goodbye, no rollback from the worker's side
        await asyncio.wait_for(process.wait(), 10)
        log.close()
    # The first batch was committed; the second was claimed when the worker died.
    assert await pool.fetchval("SELECT count(*) FROM cases WHERE processed_at IS NOT NULL") == 5

    worker = build_worker(settings.model_copy(update=FAST))
    task = asyncio.create_task(worker.async_run())
    try:
        await until(lambda: pool.fetchval("SELECT count(*) = 12 FROM cases WHERE processed_at IS NOT NULL"),
                    seconds=15, what="the other worker taking over the dead worker's claims")
    finally:
        await worker.close()
        await asyncio.wait_for(task, 10)
    # Exactly once: one move out of `received` and one acknowledgement per case.
    moves = dict(await pool.fetch("SELECT case_id, count(*) FROM case_events WHERE from_status = 'received'"
                                  " GROUP BY case_id"))
    acks = dict(await pool.fetch("SELECT case_id, count(*) FROM messages WHERE kind = 'ack' GROUP BY case_id"))
    assert moves == acks == {case_id: 1 for case_id in cases}
