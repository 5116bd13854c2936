#!/usr/bin/env python
"""Load at a fixed rate: reports in through every channel, cases processed and acknowledged by the workers.

What it does
    Starts ``--web`` N × ``hotline serve --no-worker`` and ``--workers`` M × ``hotline worker`` on
    loopback against a throw-away database, then posts reports at ``--rate`` per second for
    ``--warmup`` + ``--seconds`` seconds, open-loop: request i is due at start + i / rate whatever
    the answers to earlier ones, so a slow server meets more load, not less (closed-loop clients
    politely wait and hide queueing). Requests go round-robin to the web processes, as a balancer
    would, through the channels of ``--mix`` (default ``web=4,open311=1,sms=3,voice=1``), each item
    from the same report texts:

    * ``web``: ``POST /api/v1/reports`` (JSON), its own Idempotency-Key; success is 201 with the code;
    * ``open311``: ``POST /open311/v2/requests.json`` (form) with a key made by ``hotline open311
      key``, its own Idempotency-Key; 201 with the code;
    * ``sms``: Twilio's incoming-SMS webhook ``POST /channels/twilio/sms``, every field Twilio posts
      (channels.twilio.peer's form builder), signed ``X-Twilio-Signature`` for ``HOTLINE_PUBLIC_URL``;
      success is 200 with an empty TwiML (the code goes out by SMS), the case found by its MessageSid;
    * ``voice``: the IVR's spoken report, ``POST /channels/twilio/voice/report?lang=vi&tries=0`` with
      a call's fields, SpeechResult and Confidence, signed; 200 with TwiML that reads the code digit by
      digit (read back and checked), the case also found by its CallSid.

    The SIDs are derived from each item's key; each SMS or call comes from a number of its own
    (``+8490`` and a 7-digit counter), since the same number within the reply window would join the
    earlier case. With sms or voice in the mix, ``hotline twilio peer`` runs as one more process (its
    CPU counted with the others): the servers get ``HOTLINE_TWILIO_ACCOUNT_SID/AUTH_TOKEN/NUMBER``,
    ``HOTLINE_TWILIO_API_URL`` (the peer) and ``HOTLINE_PUBLIC_URL`` (the first web process, where
    the peer posts its signed delivery reports), and the acknowledgements of SMS and voice cases
    leave by SMS through the peer's REST API. Every channel in the hub's registry (built with every
    channel configured: a Twilio account, a Telegram token, an SMTP URL) without a driver, or left out
    of the mix, is named in the output: add a driver to drivers().

    Afterwards it waits for the backlog to drain (at most ``--drain-timeout`` seconds), then (Twilio
    on) up to 15 s for the peer's delivery reports, and checks in the database that every
    acknowledged item (its channel's success status) has exactly one case, found by the item's
    provider id (the code in the answer, when there is one, must be that case's), that case exactly
    one acknowledgement, sent (for SMS: sent or delivered), and that no message is left queued or
    sending. It prints

    * received → processed latency (``cases.processed_at - created_at``), p50/p95/p99/max;
    * acknowledgement sent latency (``messages.sent_at - cases.created_at``), p50/p95/p99/max;
    * HTTP latency per channel, from the moment the request was due (what a client waits when the
      generator itself is late) and from when it was sent;
    * errors, acknowledgements by channel and status (delivered: the peer's report came back), the
      backlog over time and when it drained, CPU per report of each kind of process;
    * whether the targets are met: ``--rate`` reached, processed p95 ≤ 2 s, acknowledgement p95 ≤ 3 s.

    Only the items due in the measured window count for the latencies; the checks cover every item.
    ``--soak`` prints the resident memory of each process every ``--rss-every`` seconds and how it
    grew. ``--py-spy BIN`` samples the first worker and web process during the measured window (py-spy
    from PyPI, non-blocking: it barely slows them) and prints where their CPU went. ``--profile DIR``
    runs the servers and workers under cProfile instead, with call counts (it slows them: measure
    without it).

Can the generator keep the rate?
    It reports the rate it really issued and how late requests were sent (due → sent, p50/p99/max).
    Under 99 % of the target, the numbers describe a lower rate than asked; a p99 lag above 50 ms
    means the rate was kept on average but the machine is saturated and sends slip (latencies are
    counted from when each request was due, so that slip counts against the server, never for it).

Where the data goes
    A database ``load_<random>`` on ``--database-url`` / ``DATABASE_URL`` (default the local server,
    postgresql://postgres@127.0.0.1:5432/postgres), migrated and seeded with ``hotline seed``, dropped
    at the end (``WITH (FORCE)``). Redis (``--redis-url`` / ``REDIS_URL``, default the local server's
    database 0) gets a queue name of its own (``load:<random>``); its keys are deleted at the end. Rate
    limits are off in the servers (``HOTLINE_RATE_LIMITS_ENABLED=false``): all load comes from one
    address. Everything listens on 127.0.0.1; servers elsewhere are refused.

Usage
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/4 \\
        .venv/bin/python bench/load.py --rate 300 --seconds 60 --web 1 --workers 2
    .venv/bin/python bench/load.py --rate 100 --seconds 30 --mix web=1,open311=1   # without Twilio
    .venv/bin/python bench/load.py --rate 100 --seconds 1800 --soak --rss-every 60
    .venv/bin/python bench/load.py --rate 300 --seconds 20 --profile /tmp/prof

    It stops by itself: load for warmup + seconds, then at most --drain-timeout for the backlog, and
    every process start is bounded by --startup-timeout. This is a benchmark that prints numbers; its
    exit status is 1 only when a consistency check fails (a lost, doubled or stuck item).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import itertools
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

# Run as a script, this folder comes first on sys.path, where bench/classifier.py would stand in for the
# classifier package: the repository comes first instead, and the intake benchmark is loaded by its path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]
_spec = importlib.util.spec_from_file_location("bench_intake", _HERE / "intake.py")
intake = sys.modules["bench_intake"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(intake)  # the intake benchmark's payloads and helpers, reused as they are
HOST, ROOT, Payloads = intake.HOST, intake.ROOT, intake.Payloads
check_loopback, free_port, machine_busy_now = intake.check_loopback, intake.free_port, intake.machine_busy_now
redact, tail, with_database = intake.redact, intake.tail, intake.with_database

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TARGET_PROCESSED_P95 = 2.0
TARGET_ACK_P95 = 3.0
LAG_LIMIT = 0.050  # seconds of p99 send lag past which the generator is the bottleneck
REPORTS_WAIT = 15.0  # seconds to wait after the drain for the peer's delivery reports on the SMS sent
OPEN311_SERVICES = ("urban_infrastructure", "environment", "traffic", "electricity", "water_supply")
DEFAULT_MIX = "web=4,open311=1,sms=3,voice=1"
TWILIO_CHANNELS = ("sms", "voice")
TWILIO_ACCOUNT_SID = "AC" + "0" * 28 + "1022"
TWILIO_NUMBER = "+842838221022"
TWILIO_API_VERSION = "2010-04-01"
SMS_PATH = "/channels/twilio/sms"
VOICE_REPORT_PATH = "/channels/twilio/voice/report?lang=vi&tries=0"  # the action of the IVR's speech <Gather>
SENDER_PREFIX = "+8490"  # + a 7-digit counter: one number per SMS or call
SPOKEN_CODE = re.compile(r"(?<!\d)[1-9](?:, \d){9}(?!\d)")


def _use_uvloop() -> str | None:
    try:
        import uvloop
    except ImportError:
        return None
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return uvloop.__version__


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    data = sorted(values)
    return data[min(len(data) - 1, max(0, math.ceil(q * len(data)) - 1))]


def fmt_s(value: float | None, scale: float = 1.0, spec: str = ".3f") -> str:
    return "-" if value is None else format(value * scale, spec)


# --------------------------------------------------------------------------------------------------
# Channel drivers: how each channel's intake is posted and how its answer names the case.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Driver:
    """One channel's intake over HTTP: build a request, read the tracking code from its success answer."""

    channel: str
    build: Callable[[Payloads, str], Request]
    # The tracking code named by a success answer; None when the answer names none (an SMS's empty TwiML):
    # the check then finds the case by provider id. ValueError: the answer is not what the channel promises.
    code_of: Callable[[bytes], str | None]
    provider_id: Callable[[str], str]  # the inbound message's provider id, from the item's key
    ok_status: int = 201  # the status that acknowledges the item (Twilio's webhooks answer 200 with TwiML)


def _web_request(payloads: Payloads, key: str) -> Request:
    return Request("/api/v1/reports", payloads.next(),
                   {"Content-Type": "application/json", "Idempotency-Key": key})


def _web_code(body: bytes) -> str | None:
    return json.loads(body).get("tracking_code")


class Open311Form:
    """Open311 GeoReport v2 POST bodies, from the same report texts as the web channel."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key

    def __call__(self, payloads: Payloads, key: str) -> Request:
        report = json.loads(payloads.next())
        rng = payloads.rng
        form = {"api_key": self.api_key, "jurisdiction_id": "hcmc.gov.vn",
                "service_code": rng.choice(OPEN311_SERVICES), "description": report["text"],
                "address_string": report["address"], "phone": report["phone"]}
        return Request("/open311/v2/requests.json", urlencode(form).encode(),
                       {"Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": key})


def _open311_code(body: bytes) -> str | None:
    data = json.loads(body)
    return data[0].get("service_request_id") if isinstance(data, list) and data else None


@dataclass(frozen=True)
class TwilioAccount:
    """The Twilio account the servers, the peer and the generator share; webhooks are signed for public_url."""

    public_url: str  # HOTLINE_PUBLIC_URL: the first web process (delivery reports go there)
    account_sid: str = TWILIO_ACCOUNT_SID
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    number: str = TWILIO_NUMBER

    def env(self, api_url: str) -> dict[str, str]:
        """The settings that turn the Twilio channels on, with the REST API at `api_url` (the local peer)."""
        return {"HOTLINE_TWILIO_ACCOUNT_SID": self.account_sid, "HOTLINE_TWILIO_AUTH_TOKEN": self.auth_token,
                "HOTLINE_TWILIO_NUMBER": self.number, "HOTLINE_TWILIO_API_URL": api_url,
                "HOTLINE_PUBLIC_URL": self.public_url}


def twilio_sid(prefix: str, key: str) -> str:
    """A Twilio-shaped SID (two letters, 32 hex digits) derived from the item's key: the check finds it again."""
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:32]


def spoken_code(body: bytes) -> str:
    """The tracking code the IVR reads digit by digit ("7, 9, 3, …"); ValueError when it reads none."""
    match = SPOKEN_CODE.search(body.decode("utf-8", errors="replace"))
    if match is None:
        raise ValueError("the IVR's answer reads no case code")
    return re.sub(r"\D", "", match.group(0))


class TwilioForms:
    """Signed, real-shaped Twilio webhooks (an incoming SMS, a spoken report) from the web channel's texts.

    Each item comes from a number of its own: the same number twice within the SMS reply window would
    join the earlier case (and a caller's acknowledgement, sent by SMS, opens that window too).
    """

    def __init__(self, account: TwilioAccount, first_sender: int = 0) -> None:
        from channels.twilio.peer import TwilioSimulator, country_of

        self.account = account
        self.country_of = country_of
        # Only its form builder and signer are used: the generator posts the forms itself.
        self.sim = TwilioSimulator(account.public_url, account.public_url, account.account_sid, account.auth_token,
                                   number=account.number)
        self._senders = itertools.count(first_sender)

    def sender(self) -> str:
        n = next(self._senders)
        if n >= 10**7:
            raise ValueError("out of distinct sender numbers")
        return f"{SENDER_PREFIX}{n:07d}"

    @staticmethod
    def _words(payloads: Payloads) -> str:
        report = json.loads(payloads.next())
        return f"{report['text'].rstrip('.')}. Địa chỉ: {report['address']}"

    def _signed(self, path: str, form: dict[str, str]) -> Request:
        signature = self.sim.validator.compute_signature(self.account.public_url + path, form)
        return Request(path, urlencode(form).encode(), {"Content-Type": "application/x-www-form-urlencoded",
                                                        "X-Twilio-Signature": signature})

    def sms(self, payloads: Payloads, key: str) -> Request:
        """An incoming SMS, every field Twilio posts (channels.twilio.peer's builder), MessageSid from the key."""
        form = self.sim.sms_form(self.sender(), self._words(payloads), sid=twilio_sid("SM", key))
        return self._signed(SMS_PATH, form)

    def voice(self, payloads: Payloads, key: str) -> Request:
        """The IVR's speech <Gather> answered: a call's fields, SpeechResult and Confidence, CallSid from the key.

        The call's fields are those channels.twilio.peer.Call.start posts, with the call in progress.
        """
        caller = self.sender()
        here, there = self.country_of(caller), self.country_of(self.account.number)
        form = {
            "Called": self.account.number, "ToState": "", "CallerCountry": here, "Direction": "inbound",
            "CallerState": "", "ToZip": "", "CallSid": twilio_sid("CA", key), "To": self.account.number,
            "CallerZip": "", "ToCountry": there, "CalledZip": "", "ApiVersion": TWILIO_API_VERSION, "CalledCity": "",
            "CallStatus": "in-progress", "From": caller, "AccountSid": self.account.account_sid,
            "CalledCountry": there, "CallerCity": "", "ToCity": "", "FromCountry": here, "Caller": caller,
            "FromCity": "", "CalledState": "", "FromZip": "", "FromState": "",
            "SpeechResult": self._words(payloads), "Confidence": f"{payloads.rng.uniform(0.80, 0.97):.8f}",
        }
        return self._signed(VOICE_REPORT_PATH, form)


def drivers(open311_key: str, open311_client_id: int, twilio: TwilioForms) -> dict[str, Driver]:
    """Every channel this benchmark can post to; keys are the hub's channel names."""
    return {
        "web": Driver("web", _web_request, _web_code, lambda key: f"key:{key}"),
        "open311": Driver("open311", Open311Form(open311_key), _open311_code,
                          lambda key: f"open311:{open311_client_id}:key:{key}"),
        # The SMS is acknowledged with an empty TwiML: the code reaches the citizen by SMS, found by MessageSid.
        "sms": Driver("sms", twilio.sms, lambda body: None, lambda key: twilio_sid("SM", key), ok_status=200),
        "voice": Driver("voice", twilio.voice, spoken_code, lambda key: twilio_sid("CA", key), ok_status=200),
    }


# Settings that turn each optional channel on, for the registry's census (nothing is reached: adapters connect
# on first use). A setting the Settings do not have (yet) is left out.
CHANNELS_ON = {"twilio_account_sid": TWILIO_ACCOUNT_SID, "twilio_auth_token": "unused",
               "twilio_number": TWILIO_NUMBER, "telegram_token": "0:unused", "smtp_url": "smtp://127.0.0.1:9"}


def registered_channels() -> list[str]:
    """The channels of the hub's outbound registry with every channel configured (a Twilio account set, ...)."""
    from hotline.services import build_adapters
    from hotline.settings import Settings

    on = {k: v for k, v in CHANNELS_ON.items() if k in Settings.model_fields}
    return sorted(build_adapters(Settings(database_url="postgresql://unused", redis_url="redis://unused", **on)))


# --------------------------------------------------------------------------------------------------
# Processes: servers, workers, their CPU and memory.
# --------------------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid


def spawn(name: str, argv: list[str], env: dict[str, str], tmp: Path, *, port: int | None = None,
          profile_dir: Path | None = None) -> Proc:
    log_path = tmp / f"{name}.log"
    prefix = [sys.executable]
    if profile_dir is not None:
        prefix += ["-m", "cProfile", "-o", str(profile_dir / f"{name}.prof")]
    with open(log_path, "wb") as log:
        popen = subprocess.Popen([*prefix, "-m", "hotline.cli", *argv], cwd=ROOT, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return Proc(name, popen, log_path, port)


def stop_all(procs: list[Proc], timeout: float = 20.0) -> None:
    """SIGTERM every process, then SIGKILL what is still running after `timeout`."""
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait(5)


class Meter:
    """CPU seconds and resident memory of our processes, PostgreSQL's and Redis's."""

    def __init__(self, procs: list[Proc], redis_url: str) -> None:
        import psutil
        import redis

        self.psutil = psutil
        self.procs = {p.name: psutil.Process(p.pid) for p in procs}
        self.procs["generator"] = psutil.Process()
        self.redis = redis.Redis.from_url(redis_url)

    def cpu(self, backend_pids: list[int]) -> dict[str, Any]:
        """CPU seconds so far per process; PostgreSQL's per backend of the benchmark's database."""
        out: dict[str, Any] = {}
        for name, proc in self.procs.items():
            try:
                t = proc.cpu_times()
                out[name] = t.user + t.system
            except self.psutil.Error:
                pass
        backends: dict[int, float] = {}
        for pid in backend_pids:
            try:
                t = self.psutil.Process(pid).cpu_times()
                backends[pid] = t.user + t.system
            except self.psutil.Error:  # not local, not visible, or gone
                pass
        out["backends"] = backends
        try:
            info = self.redis.info("cpu")
            out["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        except Exception:  # Redis elsewhere or gone: the column stays empty
            pass
        m = self.psutil.cpu_times()
        idle = m.idle + getattr(m, "iowait", 0.0)
        out["machine_busy"], out["machine_total"] = sum(m) - idle, sum(m)
        return out

    @staticmethod
    def delta(start: dict[str, Any], end: dict[str, Any]) -> dict[str, float]:
        out = {k: end[k] - v for k, v in start.items() if k != "backends" and k in end}
        a, b = start.get("backends", {}), end.get("backends", {})
        if a or b:  # a backend born in the window counts whole; one gone counts what was seen of it
            out["postgres"] = sum(b.get(pid, a.get(pid, 0.0)) - a.get(pid, 0.0) for pid in set(a) | set(b))
        return out

    def rss_mb(self, backend_pids: list[int]) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, proc in self.procs.items():
            try:
                out[name] = proc.memory_info().rss / 2**20
            except self.psutil.Error:
                pass
        total = 0.0
        for pid in backend_pids:
            try:
                total += self.psutil.Process(pid).memory_info().rss / 2**20
            except self.psutil.Error:
                pass
        if backend_pids:  # a sum that counts the shared buffers each backend touched: read its trend only
            out["pg backends"] = total
        try:
            out["redis"] = float(self.redis.info("memory")["used_memory_rss"]) / 2**20
        except Exception:
            pass
        return out

    def close(self) -> None:
        self.redis.close()


# --------------------------------------------------------------------------------------------------
# The load.
# --------------------------------------------------------------------------------------------------


@dataclass
class Sent:
    channel: str
    key: str
    due: float
    sent: float = 0.0
    done: float = 0.0
    status: int = 0
    ok: bool = False  # answered with its channel's success status: the item is acknowledged
    code: str | None = None
    error: str | None = None
    measured: bool = False


@dataclass
class Run:
    items: list[Sent] = field(default_factory=list)
    backlog: list[tuple[float, int, int]] = field(default_factory=list)  # (t, cases waiting, outbox waiting)
    rss: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    cpu_start: dict[str, float] = field(default_factory=dict)
    cpu_end: dict[str, float] = field(default_factory=dict)
    window: tuple[float, float] = (0.0, 0.0)  # perf_counter
    wall_window: tuple[float, float] = (0.0, 0.0)  # the same moments in Unix time, for the database's clocks
    load_end: float = 0.0
    drained_after: float | None = None
    reported_after: float | None = None  # SMS sent: every delivery report in this long after the drain
    refused: int = 0  # due while --max-in-flight requests were already waiting: never sent


async def backend_pids(conn) -> list[int]:  # noqa: ANN001 - an asyncpg connection
    """The server processes of the benchmark's database (ours, the generator's watcher included)."""
    return [r[0] for r in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]


async def backlog_now(conn) -> tuple[int, int]:  # noqa: ANN001 - an asyncpg connection
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM cases WHERE processed_at IS NULL) AS cases,"
        " (SELECT count(*) FROM messages WHERE direction = 'out' AND status IN ('queued', 'sending')) AS outbox")
    return row["cases"], row["outbox"]


async def generate(args: argparse.Namespace, bench_dsn: str, web: list[Proc], mix: list[tuple[Driver, float]],
                   meter: Meter, on_window: Callable[[], None] | None = None) -> Run:
    """Post at the fixed rate, watch the backlog, then wait for it to drain."""
    import aiohttp
    import asyncpg

    run = Run()
    payloads = Payloads(args.seed)
    rng = random.Random(args.seed + 1)
    tag = uuid.uuid4().hex[:8]
    now = time.perf_counter
    total = int(args.rate * (args.warmup + args.seconds))
    weights = [w for _, w in mix]
    choices = rng.choices([d for d, _ in mix], weights=weights, k=total)
    urls = [f"http://{HOST}:{p.port}" for p in web]
    in_flight = 0
    conn = await asyncpg.connect(bench_dsn)
    watch_conn = await asyncpg.connect(bench_dsn)  # the watcher's own: one connection runs one query at a time
    connector = aiohttp.TCPConnector(limit=args.connections, limit_per_host=args.connections)
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=args.timeout))
    t0 = now() + 0.5
    run.window = (t0 + args.warmup, t0 + args.warmup + args.seconds)
    offset = time.time() - now()
    run.wall_window = (run.window[0] + offset, run.window[1] + offset)
    stop_watch = asyncio.Event()

    async def one(i: int, item: Sent) -> None:
        nonlocal in_flight
        driver = choices[i]
        req = driver.build(payloads, item.key)
        item.sent = now()
        try:
            async with session.post(urls[i % len(urls)] + req.path, data=req.body, headers=req.headers) as resp:
                item.status = resp.status
                body = await resp.read()
                if resp.status == driver.ok_status:
                    item.code = driver.code_of(body)
                    item.ok = True
                else:
                    item.error = f"HTTP {resp.status}"
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            item.error = type(e).__name__
        except ValueError:  # a success whose body is not the document the channel promises
            item.error = f"unreadable {item.status}"
        finally:
            item.done = now()
            in_flight -= 1

    async def watch() -> None:
        """The backlog every second; resident memory every --rss-every seconds in soak mode."""
        next_rss = t0
        last_print = t0
        while not stop_watch.is_set():
            t = now()
            try:
                cases, outbox = await backlog_now(watch_conn)
                run.backlog.append((t - t0, cases, outbox))
            except (OSError, asyncpg.PostgresError) as e:
                print(f"  backlog query failed: {type(e).__name__}", flush=True)
                cases = outbox = -1
            if args.soak and t >= next_rss:
                sample = meter.rss_mb(await backend_pids(watch_conn))
                run.rss.append((t - t0, sample))
                print(f"  rss t={t - t0:7.0f}s " + " ".join(f"{k}={v:.0f}MB" for k, v in sample.items()), flush=True)
                next_rss += args.rss_every
            if t - last_print >= args.progress_every and t < t0 + args.warmup + args.seconds + 1:
                done = [x for x in run.items if x.done]
                ok = sum(1 for x in done if x.ok)
                lag = percentile([x.sent - x.due for x in run.items[-int(args.rate * args.progress_every):]
                                  if x.sent], 0.99)
                print(f"  t={t - t0:6.1f}s due={len(run.items):7d} answered={len(done):7d} ok={ok:7d}"
                      f" errors={len(done) - ok:5d} in-flight={in_flight:5d} waiting cases={cases:6d}"
                      f" outbox={outbox:6d} send lag p99={fmt_s(lag, 1000, '.1f')}ms", flush=True)
                last_print = t
            await asyncio.sleep(1.0)

    watcher = asyncio.create_task(watch())
    tasks: set[asyncio.Task] = set()
    try:
        measuring = False
        for i in range(total):
            due = t0 + i / args.rate
            delay = due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            if not measuring and due >= run.window[0]:
                measuring = True
                run.cpu_start = meter.cpu(await backend_pids(conn))
                if on_window is not None:
                    on_window()
            item = Sent(choices[i].channel, f"load-{tag}-{i}", due,
                        measured=run.window[0] <= due < run.window[1])
            run.items.append(item)
            if in_flight >= args.max_in_flight:
                item.error, item.done, item.sent = "not sent: too many in flight", due, due
                run.refused += 1
                continue
            in_flight += 1
            task = asyncio.create_task(one(i, item))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        run.cpu_end = meter.cpu(await backend_pids(conn))
        if tasks:
            await asyncio.wait(set(tasks), timeout=args.timeout + 5)
        run.load_end = now() - t0
        # The backlog drains: wait until nothing waits, bounded.
        deadline = now() + args.drain_timeout
        while now() < deadline:
            cases, outbox = await backlog_now(conn)
            if cases == 0 and outbox == 0:
                run.drained_after = now() - t0 - run.load_end
                break
            await asyncio.sleep(0.2)
        # An SMS counts once Twilio took it (sent); its delivery report follows from the peer: wait for them.
        if run.drained_after is not None and any(d.channel in TWILIO_CHANNELS for d, _ in mix):
            drained = now()
            while now() < drained + REPORTS_WAIT:
                if not await conn.fetchval("SELECT count(*) FROM messages WHERE direction = 'out' AND channel = 'sms'"
                                           " AND status = 'sent'"):
                    run.reported_after = now() - drained
                    break
                await asyncio.sleep(0.2)
    finally:
        stop_watch.set()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.close()
        await conn.close()
        await watch_conn.close()
    return run


# --------------------------------------------------------------------------------------------------
# Checks and numbers from the database.
# --------------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    problems: dict[str, list[str]] = field(default_factory=dict)
    stored_unacknowledged: int = 0
    processed: list[float] = field(default_factory=list)
    acked: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    ack_statuses: Counter = field(default_factory=Counter)  # (the case's channel, its acknowledgement's status)
    processed_in_window: int = 0  # cases processed, and acknowledgements sent, during the measured window
    sent_in_window: int = 0

    def fail(self, kind: str, detail: str) -> None:
        self.problems.setdefault(kind, []).append(detail)


async def check(bench_dsn: str, run: Run, by_channel: dict[str, Driver]) -> Verdict:
    """Every acknowledged item: one case, one acknowledgement, sent; nothing queued or sending; latencies."""
    import asyncpg

    verdict = Verdict()
    conn = await asyncpg.connect(bench_dsn)
    try:
        inbound: dict[tuple[str, str], list[asyncpg.Record]] = {}
        for r in await conn.fetch(
                "SELECT m.channel, m.provider_message_id AS pid, c.id, c.tracking_code, c.processed_at, c.status,"
                " extract(epoch FROM c.processed_at - c.created_at) AS processed_s"
                " FROM messages m JOIN cases c ON c.id = m.case_id WHERE m.direction = 'in'"):
            inbound.setdefault((r["channel"], r["pid"]), []).append(r)
        acks: dict[int, list[asyncpg.Record]] = {}
        for r in await conn.fetch(
                "SELECT m.case_id, m.status, c.channel, extract(epoch FROM m.sent_at - c.created_at) AS sent_s"
                " FROM messages m JOIN cases c ON c.id = m.case_id WHERE m.direction = 'out' AND m.kind = 'ack'"):
            acks.setdefault(r["case_id"], []).append(r)
            verdict.ack_statuses[(r["channel"], r["status"])] += 1
        stuck = await conn.fetch("SELECT status, count(*) AS n FROM messages WHERE direction = 'out'"
                                 " AND status IN ('queued', 'sending') GROUP BY status")
        unprocessed = await conn.fetchval("SELECT count(*) FROM cases WHERE processed_at IS NULL")
        total_cases = await conn.fetchval("SELECT count(*) FROM cases")
        verdict.processed_in_window = await conn.fetchval(
            "SELECT count(*) FROM cases WHERE processed_at >= to_timestamp($1) AND processed_at < to_timestamp($2)",
            *run.wall_window)
        verdict.sent_in_window = await conn.fetchval(
            "SELECT count(*) FROM messages WHERE direction = 'out' AND sent_at >= to_timestamp($1)"
            " AND sent_at < to_timestamp($2)", *run.wall_window)
        verdict.statuses = Counter({r["status"]: r["n"] for r in await conn.fetch(
            "SELECT status, count(*) AS n FROM cases GROUP BY status")})
    finally:
        await conn.close()

    acknowledged = [x for x in run.items if x.ok]
    codes_seen: Counter = Counter(x.code for x in acknowledged if x.code is not None)
    for code, n in codes_seen.items():
        if n > 1:
            verdict.fail("one tracking code answered for several distinct items", f"{code} x{n}")
    for x in acknowledged:
        # Found by provider id: an SMS's answer names no case, and an answer's code is checked against it.
        rows = inbound.get((x.channel, by_channel[x.channel].provider_id(x.key)), [])
        case_ids = {r["id"] for r in rows}
        if len(case_ids) != 1:
            verdict.fail("acknowledged item without exactly one case", f"{x.key}: {len(case_ids)} case(s)")
            continue
        case = rows[0]
        if x.code is not None and case["tracking_code"] != x.code:
            verdict.fail("the answer named another case", f"{x.key}")
        if case["processed_at"] is None:
            verdict.fail("acknowledged item never processed", f"case {case['id']}")
        case_acks = acks.get(case["id"], [])
        if len(case_acks) != 1:
            verdict.fail("case without exactly one acknowledgement", f"case {case['id']}: {len(case_acks)}")
        elif case_acks[0]["status"] not in ("sent", "delivered"):
            verdict.fail("acknowledgement not sent", f"case {case['id']}: {case_acks[0]['status']}")
        if x.measured:
            if case["processed_s"] is not None:
                verdict.processed.append(float(case["processed_s"]))
            if len(case_acks) == 1 and case_acks[0]["sent_s"] is not None:
                verdict.acked.append(float(case_acks[0]["sent_s"]))
    for r in stuck:
        verdict.fail("message stuck", f"{r['n']} {r['status']}")
    if unprocessed:
        verdict.fail("case never processed", f"{unprocessed} waiting")
    verdict.stored_unacknowledged = total_cases - len(acknowledged)
    return verdict


# --------------------------------------------------------------------------------------------------
# The report.
# --------------------------------------------------------------------------------------------------


def print_report(args: argparse.Namespace, run: Run, verdict: Verdict) -> bool:
    measured = [x for x in run.items if x.measured]
    ok = [x for x in measured if x.ok]
    window = run.window[1] - run.window[0]
    issued = [x for x in measured if x.sent and not (x.error or "").startswith("not sent")]
    lags = [x.sent - x.due for x in issued]
    lag_p99 = percentile(lags, 0.99)
    issued_rate = len(issued) / window if window else 0.0
    print()
    print(f"measured window: {window:.0f} s, {len(measured)} requests due ({len(measured) / window:.1f}/s),"
          f" {len(ok)} acknowledged ({len(ok) / window:.1f}/s; 201, or 200 with TwiML for Twilio's webhooks)")
    if issued_rate < 0.99 * args.rate:
        verdict_text = f"could NOT keep the rate: the numbers describe {issued_rate:.0f}/s, not {args.rate:g}/s"
    elif lag_p99 is None or lag_p99 > LAG_LIMIT:
        verdict_text = ("kept the rate on average but sent late (the machine is saturated): latencies, counted"
                        " from when requests were due, include that")
    else:
        verdict_text = "kept the rate"
    print(f"generator: issued {issued_rate:.1f}/s; send lag (due → sent) p50 {fmt_s(percentile(lags, .5), 1000, '.1f')}"
          f" ms, p99 {fmt_s(lag_p99, 1000, '.1f')} ms, max {fmt_s(max(lags, default=None), 1000, '.1f')} ms"
          f" -> {verdict_text}")

    print()
    print(f"{'latency (s)':<34} {'n':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")

    def row(label: str, values: list[float]) -> None:
        print(f"{label:<34} {len(values):>7} {fmt_s(percentile(values, .5)):>7} {fmt_s(percentile(values, .95)):>7}"
              f" {fmt_s(percentile(values, .99)):>7} {fmt_s(max(values, default=None)):>7}")

    row("received → processed", verdict.processed)
    row("received → acknowledgement sent", verdict.acked)
    for channel in sorted({x.channel for x in ok}):
        row(f"HTTP {channel} (from due)", [x.done - x.due for x in ok if x.channel == channel])
        row(f"HTTP {channel} (from sent)", [x.done - x.sent for x in ok if x.channel == channel])

    errors = Counter(f"{x.channel}: {x.error}" for x in run.items if x.error)
    print()
    print(f"errors: {sum(errors.values())} of {len(run.items)} requests"
          + ("" if not errors else " (" + ", ".join(f"{k} x{v}" for k, v in errors.most_common(8)) + ")"))
    if verdict.stored_unacknowledged:
        print("stored but not acknowledged (the answer was lost, e.g. a client timeout):"
              f" {verdict.stored_unacknowledged}")
    print("cases by status: " + ", ".join(f"{k} {v}" for k, v in sorted(verdict.statuses.items())))
    by_channel: dict[str, list[str]] = {}
    for (channel, status), n in sorted(verdict.ack_statuses.items()):
        by_channel.setdefault(channel, []).append(f"{status} {n}")
    print("acknowledgements by the case's channel: " + "; ".join(f"{c} {', '.join(v)}" for c, v in by_channel.items())
          + (" (sms and voice: sent by SMS through the Twilio peer; delivered once its delivery report came back)"
             if any(c in TWILIO_CHANNELS for c in by_channel) else ""))
    if any(x.channel in TWILIO_CHANNELS for x in run.items) and run.drained_after is not None:
        print("delivery reports: " + (f"all in {run.reported_after:.1f} s after the drain (no SMS left at 'sent')"
                                      if run.reported_after is not None else
                                      f"some SMS still only 'sent' {REPORTS_WAIT:g} s after the drain"))

    in_window = [b for b in run.backlog if b[0] <= run.load_end]
    peak_cases = max((b[1] for b in in_window), default=0)
    peak_outbox = max((b[2] for b in in_window), default=0)
    at_end = in_window[-1] if in_window else (0, 0, 0)
    drained = f"drained {run.drained_after:.1f} s after the last answer" if run.drained_after is not None else \
        f"NOT drained within {args.drain_timeout:.0f} s"
    print(f"throughput in the window: {verdict.processed_in_window / window:.1f} cases processed/s,"
          f" {verdict.sent_in_window / window:.1f} messages sent/s")
    print(f"backlog: peak {peak_cases} cases / {peak_outbox} outbox messages waiting; at the end of the load"
          f" {at_end[1]} / {at_end[2]}; {drained}")

    cpu = Meter.delta(run.cpu_start, run.cpu_end) if run.cpu_start and run.cpu_end else {}
    if cpu and ok:
        per = lambda secs: secs * 1000 / len(ok)  # noqa: E731 - ms of CPU per acknowledged report
        parts = []
        for kind in ("web", "worker"):
            secs = sum(v for k, v in cpu.items() if k.startswith(kind + "-"))
            parts.append(f"{kind} {per(secs):.2f}")
            if kind == "worker" and verdict.processed_in_window:
                parts[-1] += f" ({secs * 1000 / verdict.processed_in_window:.2f} per case processed in the window)"
        for kind in ("twilio-peer", "postgres", "redis", "generator"):
            if kind in cpu:
                parts.append(f"{kind} {per(cpu[kind]):.2f}")
        busy = cpu["machine_busy"] / cpu["machine_total"] if cpu.get("machine_total") else None
        accounted = sum(cpu.get(k, 0.0) for k in cpu if k not in ("machine_busy", "machine_total"))
        other = max(0.0, cpu.get("machine_busy", 0.0) - accounted)
        print(f"CPU ms per acknowledged report (measured window): {', '.join(parts)} (postgres: the backends of"
              f" the benchmark's database), rest of the machine"
              f" {per(other):.2f}; machine busy {fmt_s(busy, 100, '.0f')}%")
        print("  per process: " + ", ".join(f"{k} {v / window * 100:.0f}%" for k, v in sorted(cpu.items())
                                            if k not in ("machine_busy", "machine_total")) + " of one core")

    if run.rss:
        print()
        print("resident memory (MB): first sample after warm-up, peak, last, growth per hour")
        after = [s for s in run.rss if s[0] >= args.warmup] or run.rss
        first_t, first = after[0]
        last_t, last = run.rss[-1]
        for name in first:
            peak = max(s[1].get(name, 0.0) for s in run.rss)
            hours = (last_t - first_t) / 3600
            growth = (last.get(name, 0.0) - first[name]) / hours if hours > 0 else 0.0
            print(f"  {name:<14} {first[name]:8.0f} {peak:8.0f} {last.get(name, 0.0):8.0f} {growth:+9.1f}/h")

    print()
    passed = not verdict.problems
    if passed:
        print(f"checks: every acknowledged item ({len([x for x in run.items if x.ok])}) has exactly one"
              " case and exactly one acknowledgement, sent; no message queued or sending: OK")
    else:
        print("checks: FAILED")
        for kind, details in verdict.problems.items():
            print(f"  {kind}: {len(details)} (e.g. {', '.join(details[:5])})")
    p95_proc, p95_ack = percentile(verdict.processed, .95), percentile(verdict.acked, .95)
    met = (passed and len(ok) >= 0.99 * args.rate * window and p95_proc is not None and p95_ack is not None
           and p95_proc <= TARGET_PROCESSED_P95 and p95_ack <= TARGET_ACK_P95)
    print(f"target {args.rate:g}/s for {window:.0f} s, processed p95 ≤ {TARGET_PROCESSED_P95:g} s, acknowledgement"
          f" p95 ≤ {TARGET_ACK_P95:g} s with {args.web} web + {args.workers} worker(s): {'met' if met else 'NOT met'}"
          f" (processed p95 {fmt_s(p95_proc)} s, acknowledgement p95 {fmt_s(p95_ack)} s,"
          f" {len(ok) / window:.1f}/s acknowledged)")
    return passed


PROJECT_FRAME = re.compile(r"\((hotline|kernel|channels|classifier|routing|casework|console|integrations)/")


def print_py_spy(path: Path, name: str, top: int = 20) -> None:
    """Where a process spent its CPU: py-spy's raw stacks summed by leaf and by innermost project function."""
    leaf: Counter = Counter()
    inclusive: Counter = Counter()
    project: Counter = Counter()
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        print(f"no py-spy samples for {name}")
        return
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        leaf[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
        project[next((f for f in reversed(frames) if PROJECT_FRAME.search(f)), "(outside the project)")] += n
    if not total:
        print(f"no py-spy samples for {name}")
        return
    print(f"\n--- {name}: {total} on-CPU samples (py-spy, 100/s) ---")
    for title, counter in (("innermost project function", project), ("own time (leaf)", leaf),
                           ("inclusive", inclusive)):
        print(f"  by {title}:")
        for frame, n in counter.most_common(top):
            print(f"    {n / total * 100:5.1f}%  {frame}")


def print_profiles(profile_dir: Path, names: list[str], top: int = 25) -> None:
    import pstats

    for name in names:
        path = profile_dir / f"{name}.prof"
        if not path.exists():
            print(f"no profile for {name} (it did not exit cleanly)")
            continue
        print(f"\n--- {name}: top {top} by own time ({path}) ---")
        stats = pstats.Stats(str(path))
        stats.sort_stats("tottime").print_stats(top)
        print(f"--- {name}: top {top} by cumulative time ---")
        stats.sort_stats("cumulative").print_stats(top)


# --------------------------------------------------------------------------------------------------
# Setting up and tearing down.
# --------------------------------------------------------------------------------------------------


async def create_database(server_dsn: str, name: str) -> tuple[str, str]:
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
    finally:
        await pool.close()
    return dsn, version


async def drop_database(server_dsn: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def delete_redis_keys(redis_url: str, prefix: str) -> int:
    import redis

    r = redis.Redis.from_url(redis_url)
    try:
        keys = list(r.scan_iter(match=prefix + "*", count=1000))
        for i in range(0, len(keys), 1000):
            r.unlink(*keys[i:i + 1000])
        return len(keys)
    finally:
        r.close()


def cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "hotline.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"hotline {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


async def _wait_ready(proc: Proc, timeout: float, path: str, ready: Callable[[int, bytes], str | None]) -> None:
    """Poll GET `path` on the process until `ready(status, body)` says None (ready), else why not."""
    import aiohttp

    deadline = time.monotonic() + timeout
    last = "no answer"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{tail(proc.log_path)}")
            try:
                async with session.get(f"http://{HOST}:{proc.port}{path}") as resp:
                    why = ready(resp.status, await resp.read())
                    if why is None:
                        return
                    last = why
            except (TimeoutError, ValueError, aiohttp.ClientError, OSError) as e:
                last = type(e).__name__
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready after {timeout:.0f} s ({last}):\n{tail(proc.log_path)}")


def _healthy(status: int, body: bytes) -> str | None:
    checks = json.loads(body).get("checks", {})
    return None if checks.get("database") == "ok" and checks.get("redis") == "ok" else f"HTTP {status}: {checks}"


async def wait_web(proc: Proc, timeout: float) -> None:
    """Ready when /healthz says the database and Redis are reachable (workers may start later)."""
    await _wait_ready(proc, timeout, "/healthz", _healthy)


async def wait_peer(proc: Proc, timeout: float) -> None:
    """Ready when the Twilio peer answers HTTP (any answer: it refuses requests without the account's auth)."""
    await _wait_ready(proc, timeout, f"/{TWILIO_API_VERSION}/Accounts.json", lambda status, body: None)


async def wait_workers(bench_dsn: str, workers: list[Proc], timeout: float) -> None:
    """Ready when every worker holds its LISTEN connection (it has loaded its models by then)."""
    import asyncpg

    deadline = time.monotonic() + timeout
    conn = await asyncpg.connect(bench_dsn)
    try:
        while True:
            listening = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'")
            if listening >= len(workers):
                return
            for w in workers:
                if w.popen.poll() is not None:
                    raise RuntimeError(f"{w.name} exited with {w.popen.returncode}:\n{tail(w.log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{listening} of {len(workers)} workers listening after {timeout:.0f} s:\n"
                                   + "\n".join(f"--- {w.name}\n{tail(w.log_path)}" for w in workers))
            await asyncio.sleep(0.25)
    finally:
        await conn.close()


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports on the loopback."""
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def parse_mix(text: str, available: dict[str, Driver]) -> list[tuple[Driver, float]]:
    mix = []
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in available:
            raise SystemExit(f"--mix: no driver for channel {name!r} (drivers: {', '.join(available)})")
        mix.append((available[name], float(weight or 1)))
    return mix


def orchestrate(args: argparse.Namespace) -> int:
    import asyncpg

    server_dsn = args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = args.redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    check_loopback(server_dsn, "the database")
    check_loopback(redis_url, "Redis")
    tag = uuid.uuid4().hex[:10]
    db_name, queue = f"load_{tag}", f"load:{tag}"
    tmp = Path(tempfile.mkdtemp(prefix="hotline-load-"))
    profile_dir = Path(args.profile).resolve() if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    procs: list[Proc] = []
    bench_dsn = None
    idle_busy = machine_busy_now()
    _use_uvloop()
    try:
        bench_dsn, pg_version = asyncio.run(create_database(server_dsn, db_name))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", DATABASE_URL=bench_dsn, REDIS_URL=redis_url,
                   HOTLINE_QUEUE_NAME=queue, HOTLINE_VAR_DIR=str(tmp / "var"), HOTLINE_HOST=HOST,
                   HOTLINE_RATE_LIMITS_ENABLED="false", HOTLINE_DB_POOL_MAX=str(args.pool))
        for setting in args.set:
            key, _, value = setting.partition("=")
            env[key] = value
        cli(["seed"], env)
        api_key = cli(["open311", "key", "load-bench"], env).strip().splitlines()[-1]

        async def client_id() -> int:
            conn = await asyncpg.connect(bench_dsn)
            try:
                return await conn.fetchval("SELECT id FROM open311_clients WHERE name = 'load-bench'")
            finally:
                await conn.close()

        ports = free_ports(args.web + 1)  # the web processes', then the Twilio peer's
        account = TwilioAccount(public_url=f"http://{HOST}:{ports[0]}")
        available = drivers(api_key, asyncio.run(client_id()), TwilioForms(account))
        channels = registered_channels()
        undriven = [c for c in channels if c not in available]
        mix = parse_mix(args.mix, available)
        unmixed = [c for c in channels if c in available and c not in {d.channel for d, _ in mix}]
        twilio_on = any(d.channel in TWILIO_CHANNELS for d, _ in mix)
        peer_url = f"http://{HOST}:{ports[-1]}"
        if twilio_on:
            env.update(account.env(peer_url))

        print(f"load benchmark: {args.rate:g} reports/s for {args.warmup:g} s warm-up + {args.seconds:g} s measured,"
              f" {args.web} web + {args.workers} worker process(es), open-loop")
        cpus = os.cpu_count()
        print(f"machine: {cpus} CPUs, {platform.machine()}, {platform.system()} {platform.release()};"
              f" python {platform.python_version()}; the generator shares the CPUs with everything else")
        if idle_busy is not None:
            note = "" if idle_busy < 0.15 else "  <- other work is using the CPUs: numbers will be low and noisy"
            print(f"machine busy before the run (1 s, before any server started): {idle_busy * 100:.0f}%{note}")
        print(f"database: PostgreSQL {pg_version}, throw-away database {db_name} on {redact(server_dsn)};"
              f" redis {redact(redis_url)} (queue {queue})")
        print(f"channels: {', '.join(f'{d.channel} {w:g}' for d, w in mix)} (weights);"
              f" hub channels (all configured): {', '.join(channels)}"
              + (f"; NOT driven (no driver in bench/load.py): {', '.join(undriven)}" if undriven else "")
              + (f"; NOT in this mix: {', '.join(unmixed)}" if unmixed else ""))
        if twilio_on:
            print(f"twilio: the local peer (hotline twilio peer) on {peer_url} answers the REST API and posts signed"
                  f" delivery reports to {account.public_url}; one sender number per SMS or call")
        print(f"settings: db pool {args.pool} per process"
              + (", " + ", ".join(args.set) if args.set else "") + (f"; profiling into {profile_dir}" if profile_dir
                                                                     else ""))

        if twilio_on:  # started first: the workers send to it as soon as they run
            procs.append(spawn("twilio-peer", ["twilio", "peer", "--host", HOST, "--port", str(ports[-1])], env, tmp,
                               port=ports[-1]))
        for i, port in enumerate(ports[:args.web]):
            procs.append(spawn(f"web-{i + 1}", ["serve", "--no-worker", "--host", HOST, "--port", str(port)], env, tmp,
                               port=port, profile_dir=profile_dir))
        for i in range(args.workers):
            procs.append(spawn(f"worker-{i + 1}", ["worker"], env, tmp, profile_dir=profile_dir))
        web = [p for p in procs if p.name.startswith("web-")]
        workers = [p for p in procs if p.name.startswith("worker-")]
        peers = [p for p in procs if p.name == "twilio-peer"]

        async def ready() -> None:
            await asyncio.gather(*(wait_web(p, args.startup_timeout) for p in web),
                                 *(wait_peer(p, args.startup_timeout) for p in peers),
                                 wait_workers(bench_dsn, workers, args.startup_timeout))

        started = time.monotonic()
        asyncio.run(ready())
        print(f"ready in {time.monotonic() - started:.1f} s: " + ", ".join(f"{p.name} pid {p.pid}" for p in procs),
              flush=True)
        meter = Meter(procs, redis_url)
        spies: list[tuple[subprocess.Popen, Path, str]] = []

        def start_py_spy() -> None:
            for p in workers[:1] + web[:1]:
                out = tmp / f"{p.name}.pyspy"
                spies.append((subprocess.Popen(
                    [args.py_spy, "record", "--pid", str(p.pid), "--duration", str(int(args.seconds)), "--rate", "100",
                     "--nonblocking", "--format", "raw", "--output", str(out)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out, p.name))

        try:
            run = asyncio.run(generate(args, bench_dsn, web, mix, meter, start_py_spy if args.py_spy else None))
        finally:
            meter.close()
            for spy, _, _ in spies:
                try:
                    spy.wait(30)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    spy.wait(5)
        for p in procs:
            if p.popen.poll() is not None:
                print(f"{p.name} exited during the run with {p.popen.returncode}:\n{tail(p.log_path)}")
        verdict = asyncio.run(check(bench_dsn, run, available))
        passed = print_report(args, run, verdict)
        stop_all(procs)
        if args.verbose:
            for p in procs:
                print(f"--- {p.name} log ---\n{tail(p.log_path, 40)}")
        if profile_dir is not None:
            print_profiles(profile_dir, [p.name for p in (workers[:1] + web[:1])])
        for _, out, name in spies:
            print_py_spy(out, name)
        return 0 if passed else 1
    finally:
        stop_all(procs)
        if bench_dsn is not None:
            try:
                asyncio.run(drop_database(server_dsn, db_name))
            except Exception as e:  # report it; the rest of the clean-up still runs
                print(f"warning: could not drop {db_name}: {type(e).__name__}", file=sys.stderr)
        try:
            delete_redis_keys(redis_url, queue)
        except Exception as e:
            print(f"warning: could not delete the Redis keys {queue}*: {type(e).__name__}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=300.0, help="reports per second, all channels (default 300)")
    p.add_argument("--seconds", type=float, default=None, help="measured seconds (default 60; 600 with --soak)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of load before the measured window (default 5)")
    p.add_argument("--web", type=int, default=1, help="hotline serve --no-worker processes (default 1)")
    p.add_argument("--workers", type=int, default=1, help="hotline worker processes (default 1)")
    p.add_argument("--mix", default=DEFAULT_MIX, help=f"channels and their weights (default {DEFAULT_MIX})")
    p.add_argument("--pool", type=int, default=10, help="database connections per process (default 10)")
    p.add_argument("--set", action="append", default=[], metavar="HOTLINE_X=V",
                   help="an environment setting for every server and worker (repeatable)")
    p.add_argument("--connections", type=int, default=256, help="HTTP connections of the generator (default 256)")
    p.add_argument("--max-in-flight", type=int, default=5000,
                   help="requests waiting for an answer past which a due request is not sent (counted as an error)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds a request may take (default 30)")
    p.add_argument("--drain-timeout", type=float, default=120.0, help="seconds to wait for the backlog after the load")
    p.add_argument("--startup-timeout", type=float, default=120.0, help="seconds to wait for the processes")
    p.add_argument("--database-url", help=f"PostgreSQL server (default DATABASE_URL, else {DEFAULT_DATABASE_URL})")
    p.add_argument("--redis-url", help=f"Redis (default REDIS_URL, else {DEFAULT_REDIS_URL})")
    p.add_argument("--soak", action="store_true", help="print each process's resident memory over time")
    p.add_argument("--rss-every", type=float, default=10.0, help="seconds between memory samples (default 10)")
    p.add_argument("--progress-every", type=float, default=5.0, help="seconds between progress lines (default 5)")
    p.add_argument("--profile", metavar="DIR", help="run the processes under cProfile, write DIR/<name>.prof")
    p.add_argument("--py-spy", metavar="BIN", help="py-spy binary: sample the first worker and web process during"
                   " the measured window and print where their CPU went (pip install py-spy)")
    p.add_argument("--seed", type=int, default=1022, help="seed of the payloads and the channel mix")
    p.add_argument("-v", "--verbose", action="store_true", help="print the tail of each process's log")
    args = p.parse_args(argv)
    if args.seconds is None:
        args.seconds = 600.0 if args.soak else 60.0
    if args.rate <= 0 or args.seconds <= 0 or args.warmup < 0 or args.web < 1 or args.workers < 1:
        p.error("--rate, --seconds, --web and --workers must be positive, --warmup not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(signum, frame):  # a SIGTERM ends the run through the finally blocks
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        return orchestrate(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
