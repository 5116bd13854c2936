"""Staff users, password hashing and API/session tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

from casework.models import Actor, Role
from hotline.errors import BadRequest, Conflict

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt_hex, digest_hex = stored.split("$")
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _actor(row: asyncpg.Record) -> Actor:
    return Actor(kind="staff", name=row["display_name"], id=row["id"], role=Role(row["role"]),
                 department=row["department"])


async def create_user(
    pool: asyncpg.Pool, username: str, *, role: str, department: str | None = None,
    display_name: str | None = None, password: str | None = None,
) -> int:
    """Create a staff user; raise Conflict if the name is taken."""
    try:
        role = Role(role)
    except ValueError:
        raise BadRequest({"field": "role", "message": f"role must be one of {[r.value for r in Role]}"}) from None
    if role is Role.DEPARTMENT and not department:
        raise BadRequest({"field": "unit", "message": "a department user needs --unit"})
    async with pool.acquire() as conn:
        if department and not await conn.fetchval("SELECT 1 FROM departments WHERE code = $1", department):
            raise BadRequest({"field": "unit", "message": f"unknown unit {department}"})
        try:
            return await conn.fetchval(
                "INSERT INTO staff_users (username, display_name, role, department, password_hash)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                username, display_name or username, role.value, department,
                hash_password(password) if password else None,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"user {username} exists", code="user_exists") from None


async def issue_token(pool: asyncpg.Pool, username: str) -> str:
    """Issue a further API token for a user; the token is shown once and stored hashed."""
    token = "hl_" + secrets.token_urlsafe(32)
    async with pool.acquire() as conn:
        user_id = await conn.fetchval("SELECT id FROM staff_users WHERE username = $1 AND active", username)
        if user_id is None:
            raise BadRequest({"field": "name", "message": f"no active user {username}"})
        await conn.execute("INSERT INTO api_tokens (user_id, token_hash) VALUES ($1, $2)", user_id, _token_hash(token))
    return token


async def login(pool: asyncpg.Pool, username: str, password: str, ttl_hours: int) -> tuple[str, str] | None:
    """Check a password and open a session; return (session token, CSRF token) or None."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, password_hash FROM staff_users WHERE username = $1 AND active", username
        )
        if row is None:
            check_password(password, hash_password("timing"))  # same work whether or not the user exists
            return None
        if not check_password(password, row["password_hash"]):
            return None
        token, csrf = "hs_" + secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        await conn.execute(
            "INSERT INTO api_tokens (user_id, token_hash, kind, csrf_token, expires_at)"
            " VALUES ($1, $2, 'session', $3, $4)",
            row["id"], _token_hash(token), csrf, datetime.now(UTC) + timedelta(hours=ttl_hours),
        )
    return token, csrf


async def logout(pool: asyncpg.Pool, token: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1", _token_hash(token))


async def authenticate(pool: asyncpg.Pool, token: str) -> tuple[Actor, str, str | None] | None:
    """Return (actor, token kind, CSRF token) for a live token, or None."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT u.id, u.display_name, u.role, u.department, t.kind, t.csrf_token"
            " FROM api_tokens t JOIN staff_users u ON u.id = t.user_id"
            " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active"
            " AND (t.expires_at IS NULL OR t.expires_at > now())",
            _token_hash(token),
        )
    if row is None:
        return None
    return _actor(row), row["kind"], row["csrf_token"]
