"""Staff users, their API and session tokens, and failed sign-ins counted per user name."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def department_known(conn: asyncpg.Connection, code: str) -> bool:
    """Whether the unit exists at all, active or not."""
    return bool(await conn.fetchval("SELECT 1 FROM departments WHERE code = $1", code))


async def insert_user(
    conn: asyncpg.Connection, username: str, *, display_name: str, role: str, department: str | None,
    password_hash: str | None,
) -> int | None:
    """Add a staff user; None when the name is taken (the existing user is left as it is)."""
    return await conn.fetchval(
        "INSERT INTO staff_users (username, display_name, role, department, password_hash)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING id",
        username, display_name, role, department, password_hash,
    )


async def staff_user_id(conn: asyncpg.Connection, username: str, *, active_only: bool) -> int | None:
    return await conn.fetchval(
        "SELECT id FROM staff_users WHERE username = $1" + (" AND active" if active_only else ""), username)


async def set_user_active(conn: asyncpg.Connection, username: str, active: bool) -> bool:
    """Enable or disable a user; False when there is no such user."""
    status = await conn.execute("UPDATE staff_users SET active = $2 WHERE username = $1", username, active)
    return status != "UPDATE 0"


async def sign_in_row(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    """The id and password hash of an active user."""
    return await conn.fetchrow("SELECT id, password_hash FROM staff_users WHERE username = $1 AND active", username)


async def insert_api_token(conn: asyncpg.Connection, user_id: int, token_hash: str, prefix: str,
                           expires_at: datetime | None, *, created_at: datetime) -> None:
    """A token whose creation and expiry are read from the same clock (its lifetime is exact)."""
    await conn.execute(
        "INSERT INTO api_tokens (user_id, token_hash, token_prefix, expires_at, created_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        user_id, token_hash, prefix, expires_at, created_at,
    )


async def insert_session(conn: asyncpg.Connection, user_id: int, token_hash: str, csrf_token: str,
                         expires_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO api_tokens (user_id, token_hash, kind, csrf_token, expires_at)"
        " VALUES ($1, $2, 'session', $3, $4)",
        user_id, token_hash, csrf_token, expires_at,
    )


async def revoke_user_tokens(conn: asyncpg.Connection, user_id: int, prefix: str | None, prefix_chars: int) -> int:
    """Revoke a user's live tokens and sessions, or only the API tokens starting with `prefix`; return how many."""
    status = await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL"
        " AND ($2::text IS NULL OR starts_with(token_prefix, left($2, $3)))",
        user_id, prefix, prefix_chars,
    )
    return int(status.split()[-1])


async def revoke_token(conn: asyncpg.Connection, token_hash: str) -> None:
    await conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1", token_hash)


async def token_owner(conn: asyncpg.Connection, token_hash: str) -> asyncpg.Record | None:
    """The active user behind a live (unrevoked, unexpired) token, with the token's kind and CSRF token."""
    return await conn.fetchrow(
        "SELECT u.id, u.display_name, u.role, u.department, t.kind, t.csrf_token"
        " FROM api_tokens t JOIN staff_users u ON u.id = t.user_id"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active"
        " AND (t.expires_at IS NULL OR t.expires_at > now())",
        token_hash,
    )


async def login_failures(conn: asyncpg.Connection, username: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT failures, window_started_at, locked_until FROM login_failures WHERE username = $1"
        + (" FOR UPDATE" if lock else ""), username,
    )


async def open_failure_row(conn: asyncpg.Connection, username: str, now: datetime) -> None:
    """Make sure the user name has a row to lock, so that concurrent failures count one after the other."""
    await conn.execute(
        "INSERT INTO login_failures (username, failures, window_started_at) VALUES ($1, 0, $2)"
        " ON CONFLICT (username) DO NOTHING", username, now,
    )


async def save_login_failures(conn: asyncpg.Connection, username: str, count: int, window_start: datetime,
                              locked_until: datetime | None) -> None:
    await conn.execute(
        "UPDATE login_failures SET failures = $2, window_started_at = $3, locked_until = $4 WHERE username = $1",
        username, count, window_start, locked_until,
    )


async def prune_login_failures(conn: asyncpg.Connection, started_before: datetime) -> None:
    await conn.execute("DELETE FROM login_failures WHERE window_started_at < $1", started_before)


async def clear_login_failures(conn: asyncpg.Connection, username: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE username = $1", username)
