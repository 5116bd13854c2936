"""The hotline command, run as a real subprocess against the test database."""

import os
import subprocess
import sys

from casework import staff


def _hotline(settings, *args, stdin=""):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "HOTLINE_VAR_DIR": str(settings.var_dir)}
    return subprocess.run([sys.executable, "-m", "hotline.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=60)


async def test_migrate_is_idempotent(settings):
    out = _hotline(settings, "migrate")
    assert out.returncode == 0 and out.stdout.strip() == "applied 0 migration(s)"


async def test_demo_loads_once(settings, pool):
    first = _hotline(settings, "demo")
    assert first.returncode == 0, first.stderr
    assert "4 new users" in first.stdout and "4 new reports" in first.stdout
    second = _hotline(settings, "demo")
    assert "0 new units, 0 new users, 0 new reports" in second.stdout
    roles = {r["role"] for r in await pool.fetch("SELECT role FROM staff_users")}
    assert roles == {"agent", "department", "supervisor", "admin"}
    assert await pool.fetchval("SELECT count(*) FROM cases") == 4


async def test_users_create_prints_a_working_token_and_reads_the_password(settings, pool, units):
    out = _hotline(settings, "users", "create", "mai", "--role", "department", "--unit", "so-xay-dung",
                   stdin="mật-khẩu-rất-dài\n")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    actor, kind, _ = await staff.authenticate(pool, token)
    assert (actor.name, actor.role, actor.department, kind) == ("mai", "department", "so-xay-dung", "api")
    assert await staff.login(pool, "mai", "mật-khẩu-rất-dài", 1) is not None
    again = _hotline(settings, "users", "token", "mai")
    assert again.returncode == 0 and again.stdout.strip() != token
    assert (await staff.authenticate(pool, again.stdout.strip()))[0].name == "mai"


async def test_users_create_refuses_bad_input(settings, units):
    assert _hotline(settings, "users", "create", "x", "--role", "department").returncode == 2
    assert _hotline(settings, "users", "create", "x", "--role", "department", "--unit", "nope").returncode == 2
    assert _hotline(settings, "users", "create", "y", "--role", "agent").returncode == 0
    dup = _hotline(settings, "users", "create", "y", "--role", "agent")
    assert dup.returncode == 2 and "exists" in dup.stderr
    assert _hotline(settings, "users", "token", "ghost").returncode == 2
