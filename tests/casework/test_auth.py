"""Staff authentication: lockout, password checks, CSRF, token expiry and revocation, /metrics, demo in production."""

import asyncio
import hmac
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from casework import staff
from hotline.app import create_app
from kernel.errors import BadRequest
from kernel.http import SERVICES
from tests.conftest import auth

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _sign_in(client, username, password):
    return await client.post("/api/v1/session", json={"username": username, "password": password})


async def _me(client, token=None):
    return (await client.get("/api/v1/me", headers=auth(token) if token else None)).status


# --- lockout ---------------------------------------------------------------------------------------

async def test_five_failures_lock_the_name_even_for_the_right_password(client, tokens):
    for _ in range(5):
        assert (await _sign_in(client, "agent", "wrong")).status == 401
    resp = await _sign_in(client, "agent", "agent-secret")
    assert resp.status == 429
    retry_after = int(resp.headers["Retry-After"])
    assert 1 <= retry_after <= 900
    assert await resp.json() == {"error": "login_locked", "detail": {
        "message": "too many failed sign-ins; try again later", "retry_after": retry_after}}
    assert await _me(client) == 401


async def test_an_unknown_name_locks_out_just_like_a_real_one(aiohttp_client, settings, tokens):
    # Twelve sign-ins from one address: more than the per-address limit lets through by default.
    client = await aiohttp_client(create_app(settings.model_copy(update={"rate_limit_login_requests": 100})))
    answers = {}
    for username in ("agent", "nobody"):
        statuses = [(await _sign_in(client, username, "wrong")).status for _ in range(5)]
        locked = await _sign_in(client, username, "agent-secret")
        answers[username] = (statuses, locked.status, (await locked.json())["error"])
    assert answers["agent"] == answers["nobody"] == ([401] * 5, 429, "login_locked")


async def test_a_success_resets_the_count(client, tokens):
    for _ in range(4):
        assert (await _sign_in(client, "agent", "wrong")).status == 401
    assert (await _sign_in(client, "agent", "agent-secret")).status == 200
    for _ in range(4):
        assert (await _sign_in(client, "agent", "wrong")).status == 401
    assert (await _sign_in(client, "agent", "agent-secret")).status == 200


async def test_the_lock_lasts_the_lockout_period_and_the_count_its_window(pool, tokens):
    policy = staff.LockoutPolicy(max_failures=3, window_seconds=600, lockout_seconds=900)
    for minute in (0, 1, 2):
        assert await staff.login(pool, "agent", "wrong", 1, policy=policy, now=T0 + timedelta(minutes=minute)) is None
    with pytest.raises(staff.LoginLocked) as locked:
        await staff.login(pool, "agent", "agent-secret", 1, policy=policy, now=T0 + timedelta(minutes=10))
    assert locked.value.retry_after == 7 * 60  # locked at minute 2 for 15 minutes
    session = await staff.login(pool, "agent", "agent-secret", 1, policy=policy, now=T0 + timedelta(minutes=17))
    assert session is not None
    # Failures further apart than the window never add up to a lock.
    for minute in (20, 25, 31, 36):
        assert await staff.login(pool, "agent", "wrong", 1, policy=policy, now=T0 + timedelta(minutes=minute)) is None
    assert await staff.login(pool, "agent", "agent-secret", 1, policy=policy, now=T0 + timedelta(minutes=37))


def test_after_failure_counts_within_the_window_and_starts_over_after_a_lock():
    policy = staff.LockoutPolicy(max_failures=2, window_seconds=60, lockout_seconds=300)
    first = staff.after_failure(None, T0, policy)
    assert first == staff.Failures(1, T0, None)
    second = staff.after_failure(first, T0 + timedelta(seconds=30), policy)
    assert second == staff.Failures(2, T0, T0 + timedelta(seconds=330))
    assert staff.after_failure(second, T0 + timedelta(seconds=100), policy) == second  # locked: unchanged
    assert staff.after_failure(second, T0 + timedelta(seconds=330), policy) == staff.Failures(
        1, T0 + timedelta(seconds=330), None)
    assert staff.after_failure(first, T0 + timedelta(seconds=60), policy) == staff.Failures(
        1, T0 + timedelta(seconds=60), None)
    assert staff.retry_after(second, T0 + timedelta(seconds=329, milliseconds=500)) == 1
    off = staff.LockoutPolicy(max_failures=0)
    assert staff.after_failure(staff.Failures(99, T0), T0, off).locked_until is None


# --- password checks ------------------------------------------------------------------------------

async def test_every_sign_in_costs_one_password_check_off_the_event_loop(pool, tokens, monkeypatch):
    await staff.create_user(pool, "api-only", role="agent")  # no password at all
    checks = []
    real_check = staff.check_password

    def counting_check(password, stored):
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        checks.append((on_loop, threading.current_thread() is threading.main_thread()))
        return real_check(password, stored)

    def no_hashing(password):
        raise AssertionError("a miss must not hash a password anew")

    monkeypatch.setattr(staff, "check_password", counting_check)
    monkeypatch.setattr(staff, "hash_password", no_hashing)
    for username in ("agent", "nobody", "api-only"):
        checks.clear()
        assert await staff.login(pool, username, "wrong", 1) is None
        assert checks == [(False, False)], username
    checks.clear()
    assert await staff.login(pool, "agent", "agent-secret", 1) is not None
    assert checks == [(False, False)]


# --- CSRF -----------------------------------------------------------------------------------------

async def test_the_csrf_token_is_compared_in_constant_time(client, tokens, monkeypatch):
    resp = await _sign_in(client, "agent", "agent-secret")
    csrf = (await resp.json())["csrf_token"]
    resp = await client.post("/api/v1/reports", json={"text": "Đèn đường hẻm 12 Nguyễn Trãi hỏng ba đêm"})
    case_id = await client.app[SERVICES].pool.fetchval("SELECT id FROM cases")
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    wrong = await client.post(f"/api/v1/cases/{case_id}/notes", json={"text": "x"}, headers={"X-CSRF-Token": "no"})
    assert wrong.status == 403 and (await wrong.json())["error"] == "csrf_failed"
    right = await client.post(f"/api/v1/cases/{case_id}/notes", json={"text": "x"}, headers={"X-CSRF-Token": csrf})
    assert right.status == 201
    assert (b"no", csrf.encode()) in compared and (csrf.encode(), csrf.encode()) in compared


# --- token expiry, revocation, disabling ----------------------------------------------------------

async def test_tokens_expire(client, pool, tokens):
    token = await staff.issue_token(pool, "agent", days=90, now=T0)
    prefix = token[:staff.TOKEN_PREFIX_CHARS]
    assert await pool.fetchval("SELECT expires_at FROM api_tokens WHERE token_prefix = $1", prefix) == (
        T0 + timedelta(days=90))
    await pool.execute("UPDATE api_tokens SET expires_at = now() + interval '1 hour' WHERE token_prefix = $1", prefix)
    assert await _me(client, token) == 200
    await pool.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_prefix = $1", prefix)
    assert await _me(client, token) == 401
    assert await pool.fetchval("SELECT expires_at FROM api_tokens WHERE token_hash = $1",
                               staff._token_hash(await staff.issue_token(pool, "agent", days=0))) is None


async def test_revoke_stops_every_token_and_session_of_the_user(client, pool, tokens):
    second = await staff.issue_token(pool, "agent")
    assert (await _sign_in(client, "agent", "agent-secret")).status == 200
    assert await _me(client) == 200  # the session cookie
    assert await staff.revoke_tokens(pool, "agent") == 3
    assert [await _me(client, t) for t in (tokens["agent"], second)] == [401, 401]
    assert await _me(client) == 401
    assert await _me(client, tokens["supervisor"]) == 200  # other users keep theirs


async def test_revoke_one_token_by_its_prefix(client, pool, tokens):
    second = await staff.issue_token(pool, "agent")
    assert await staff.revoke_tokens(pool, "agent", prefix=second[:10]) == 1
    assert (await _me(client, second), await _me(client, tokens["agent"])) == (401, 200)
    with pytest.raises(BadRequest):
        await staff.revoke_tokens(pool, "agent", prefix="hl_")  # would match every token
    with pytest.raises(BadRequest):
        await staff.revoke_tokens(pool, "ghost")


async def test_a_disabled_user_is_shut_out_at_once_and_enabling_restores_the_tokens(client, pool, tokens):
    assert (await _sign_in(client, "agent", "agent-secret")).status == 200
    await staff.set_active(pool, "agent", False)
    assert (await _me(client, tokens["agent"]), await _me(client)) == (401, 401)
    assert (await _sign_in(client, "agent", "agent-secret")).status == 401
    with pytest.raises(BadRequest):
        await staff.issue_token(pool, "agent")
    await staff.set_active(pool, "agent", True)
    assert await _me(client, tokens["agent"]) == 200
    with pytest.raises(BadRequest):
        await staff.set_active(pool, "ghost", False)


def _hotline(settings, *args, **env):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "HOTLINE_VAR_DIR": str(settings.var_dir), **env}
    return subprocess.run([sys.executable, "-m", "hotline.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)


async def _lifetime(pool, token) -> timedelta | None:
    return await pool.fetchval("SELECT expires_at - created_at FROM api_tokens WHERE token_hash = $1",
                               staff._token_hash(token))


async def test_users_commands_issue_expiring_tokens_revoke_disable_and_enable(client, pool, tokens):
    out = _hotline(client.app[SERVICES].settings, "users", "token", "agent", "--days", "7")
    assert out.returncode == 0, out.stderr
    week = out.stdout.strip()
    assert abs(await _lifetime(pool, week) - timedelta(days=7)) < timedelta(minutes=1)
    default = _hotline(client.app[SERVICES].settings, "users", "token", "agent", HOTLINE_API_TOKEN_DAYS="30")
    assert abs(await _lifetime(pool, default.stdout.strip()) - timedelta(days=30)) < timedelta(minutes=1)
    assert await _me(client, week) == 200

    out = _hotline(client.app[SERVICES].settings, "users", "revoke", "agent", "--token-prefix", week[:12])
    assert out.returncode == 0 and "revoked 1 token(s)" in out.stdout
    assert (await _me(client, week), await _me(client, tokens["agent"])) == (401, 200)

    assert _hotline(client.app[SERVICES].settings, "users", "disable", "agent").returncode == 0
    assert await _me(client, tokens["agent"]) == 401
    assert _hotline(client.app[SERVICES].settings, "users", "enable", "agent").returncode == 0
    assert await _me(client, tokens["agent"]) == 200

    out = _hotline(client.app[SERVICES].settings, "users", "revoke", "agent")
    assert out.returncode == 0 and "revoked 2 token(s)" in out.stdout
    assert await _me(client, tokens["agent"]) == 401
    assert _hotline(client.app[SERVICES].settings, "users", "disable", "ghost").returncode == 2


# --- /metrics -------------------------------------------------------------------------------------

async def test_metrics_need_an_admin_token(client, tokens):
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers=auth(tokens["agent"]))).status == 403
    resp = await client.get("/metrics", headers=auth(tokens["admin"]))
    assert resp.status == 200 and "hotline_queue_depth" in await resp.text()


async def test_metrics_listen_serves_them_openly_on_a_second_address(aiohttp_client, settings):
    port = unused_port()
    client = await aiohttp_client(create_app(settings.model_copy(update={"metrics_listen": f"127.0.0.1:{port}"})))
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200 and "hotline_queue_depth" in await resp.text()
    assert (await client.get("/metrics")).status == 401


# --- demo data ------------------------------------------------------------------------------------

async def test_demo_refuses_to_create_accounts_in_production(settings, pool):
    # A production deployment has its secret key, so it is the demo itself that refuses.
    out = _hotline(settings, "demo", HOTLINE_ENV="production", HOTLINE_SECRET_KEY="k" * 40)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "HOTLINE_ENV=production" in out.stderr and "demo" in out.stderr
    assert await pool.fetchval("SELECT count(*) FROM staff_users") == 0
    assert await pool.fetchval("SELECT count(*) FROM cases") == 0
