"""The console in a real browser: Debian's chromium driven by Playwright, a live hotline with its worker.

Chromium is Debian's (/usr/bin/chromium), installed with apt when missing; Playwright never downloads a
browser. The hotline serves on a free port of 127.0.0.1 with the suite's settings (real PostgreSQL and
Redis) and runs its worker in the same process, so a report posted on the public form is processed.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from hotline.settings import Settings
from tests.polling import until  # noqa: F401 - the console tests import it from here

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LOGIN_MAX_FAILURES = 3
TIMEOUT_MS = 10_000

# name: (role, unit); each signs in with the password f"{name}-secret".
STAFF = {
    "agent": ("agent", None),
    "department": ("department", "so-xay-dung"),
    "other_department": ("department", "evn-hcmc"),
    "supervisor": ("supervisor", None),
    "admin": ("admin", None),
}


def _ensure_chromium() -> None:
    """Install Debian's chromium (and fonts with Vietnamese glyphs) when it is missing."""
    if CHROMIUM.exists():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "chromium", "fonts-noto-core"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    _ensure_chromium()
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Hotline:
    """A live hotline: its address, settings and database, and the staff who may sign in."""

    url: str
    settings: Settings
    pool: asyncpg.Pool
    passwords: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def live_settings() -> dict[str, object]:
    """Settings a test module changes for its hotline (override this fixture in the module)."""
    return {}


@pytest.fixture
def live_worker() -> bool:
    """Whether the hotline runs its worker in its process (override this fixture in a module: False for web only)."""
    return True


@pytest.fixture
async def hotline(settings: Settings, pool: asyncpg.Pool, units: list[str], live_settings: dict[str, object],
                  live_worker: bool) -> AsyncIterator[Hotline]:
    """The app (and its worker) in this process on a free port, with one staff user per role."""
    from casework import staff
    from hotline.app import create_app

    for name, (role, unit) in STAFF.items():
        await staff.create_user(pool, name, role=role, department=unit, password=f"{name}-secret")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    live = settings.model_copy(update={"public_base_url": url, "login_max_failures": LOGIN_MAX_FAILURES,
                                       **live_settings})
    server = TestServer(create_app(live, with_worker=live_worker), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield Hotline(url, live, pool, {name: f"{name}-secret" for name in STAFF})
    finally:
        await server.close()


@pytest.fixture
async def context(browser: Browser, hotline: Hotline) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (its own cookies) that fails a test on any page error or dialog."""
    ctx = await browser.new_context(locale="vi-VN", base_url=hotline.url, viewport={"width": 1280, "height": 860})
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        await ctx.close()


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture
async def page(context: BrowserContext, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A tab whose uncaught script errors fail the test (with the browser console's messages for the record).

    A failed test leaves the tab's last picture in tests/artifacts/failed-<test>.png.
    """
    p = await context.new_page()
    errors: list[str] = []
    log: list[str] = []
    p.on("pageerror", lambda e: errors.append(f"{p.url}: {e}"))
    p.on("console", lambda m: log.append(f"{m.type}: {m.text}"))
    yield p
    if request.node.stash.get(FAILED, False) and not p.is_closed():
        await screenshot(p, f"failed-{request.node.name}")
    assert not errors, (errors, log)


async def sign_in(context: BrowserContext, hotline: Hotline, name: str) -> str:
    """Sign the context in through the staff API (the session cookie the console uses); its CSRF token."""
    resp = await context.request.post(f"{hotline.url}/api/v1/session",
                                      data={"username": name, "password": hotline.passwords[name]})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["csrf_token"]


@pytest.fixture
def signed_in(context: BrowserContext, hotline: Hotline) -> Callable[[str], Awaitable[str]]:
    async def go(name: str) -> str:
        return await sign_in(context, hotline, name)

    return go


async def report(page: Page, hotline: Hotline, text: str, *, name: str = "") -> int:
    """Send a report with the public form at /; the new case's id (the status page shows its code)."""
    await page.goto(f"{hotline.url}/")
    await page.fill("#text", text)
    if name:
        await page.fill("#name", name)
    await page.click("#send")
    await page.wait_for_selector("#tracking-code")
    code = "".join((await page.text_content("#tracking-code") or "").split())  # shown in groups of digits
    case_id = await hotline.pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    assert case_id is not None, code
    return case_id


async def processed(hotline: Hotline, case_id: int) -> None:
    """Wait until the worker in the hotline's process has processed the case."""
    await until(lambda: hotline.pool.fetchval("SELECT processed_at IS NOT NULL FROM cases WHERE id = $1", case_id),
                what=f"case {case_id} processed")


async def api(hotline: Hotline, name: str, method: str, path: str, body: dict | None = None) -> dict:
    """Call the staff API as `name` with a bearer token (set-up steps the test is not about)."""
    from casework import staff

    token = await staff.issue_token(hotline.pool, name)
    async with aiohttp.ClientSession(hotline.url) as http, http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status < 300, (resp.status, await resp.text())
        return await resp.json() if resp.content_type == "application/json" else {}


def case_path(case_id: int) -> str:
    return f"/console/cases/{case_id}"


async def screenshot(page: Page, name: str) -> Path:
    """Save the page to tests/artifacts/<name>.png (git-ignored), whole length."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


