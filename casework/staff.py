"""Staff users, password hashing, sign-in lockout and API/session tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from casework import store
from casework.models import Actor, Role
from kernel.errors import BadRequest, Conflict, HotlineError

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
# Enough of a token to tell it apart when revoking one ("hl_" and 9 of its 43 random characters).
TOKEN_PREFIX_CHARS = 12
MIN_REVOKE_PREFIX = 8


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


# Checked against when the user is unknown or has no password, so that a miss costs exactly what a
# hit does (one scrypt), without hashing anew on every miss.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    window_seconds: int = 900
    lockout_seconds: int = 900

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)

    @property
    def lockout(self) -> timedelta:
        return timedelta(seconds=self.lockout_seconds)


@dataclass(frozen=True)
class Failures:
    count: int
    window_start: datetime
    locked_until: datetime | None = None


class LoginLocked(HotlineError):
    code = "login_locked"
    http_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__({"message": "too many failed sign-ins; try again later", "retry_after": retry_after})
        self.retry_after = retry_after


def retry_after(failures: Failures | None, now: datetime) -> int | None:
    """Seconds until a locked user name may try again, or None when it is not locked."""
    if failures is None or failures.locked_until is None or now >= failures.locked_until:
        return None
    return max(1, math.ceil((failures.locked_until - now).total_seconds()))


def after_failure(previous: Failures | None, now: datetime, policy: LockoutPolicy) -> Failures:
    """Count one more failed sign-in; the lock starts on the failure that reaches the limit."""
    if previous is not None and retry_after(previous, now) is not None:
        return previous  # a failure during the lock changes nothing: the lock ends when it was set to
    if previous is None or previous.locked_until is not None or now >= previous.window_start + policy.window:
        count, start = 1, now  # a fresh window, also after a lock has been served
    else:
        count, start = previous.count + 1, previous.window_start
    locked = now + policy.lockout if 0 < policy.max_failures <= count else None
    return Failures(count, start, locked)


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
    password_hash = await asyncio.to_thread(hash_password, password) if password else None
    async with pool.acquire() as conn:
        if department and not await store.department_known(conn, department):
            raise BadRequest({"field": "unit", "message": f"unknown unit {department}"})
        user_id = await store.insert_user(conn, username, display_name=display_name or username, role=role.value,
                                          department=department, password_hash=password_hash)
    if user_id is None:
        raise Conflict(f"user {username} exists", code="user_exists")
    return user_id


async def issue_token(
    pool: asyncpg.Pool, username: str, *, days: int | None = None, now: datetime | None = None,
) -> str:
    """Issue a further API token, valid `days` days (None or 0: no expiry); shown once, stored hashed."""
    if days is not None and days < 0:
        raise BadRequest({"field": "days", "message": "a number of days, 0 for no expiry"})
    token = "hl_" + secrets.token_urlsafe(32)
    now = now or datetime.now(UTC)
    expires_at = now + timedelta(days=days) if days else None
    async with pool.acquire() as conn:
        user_id = await store.staff_user_id(conn, username, active_only=True)
        if user_id is None:
            raise BadRequest({"field": "name", "message": f"no active user {username}"})
        await store.insert_api_token(conn, user_id, _token_hash(token), token[:TOKEN_PREFIX_CHARS], expires_at,
                                     created_at=now)
    return token


async def revoke_tokens(pool: asyncpg.Pool, username: str, *, prefix: str | None = None) -> int:
    """Revoke a user's live tokens and sessions, or only the API tokens starting with `prefix`; return how many."""
    if prefix is not None and len(prefix) < MIN_REVOKE_PREFIX:
        raise BadRequest({"field": "token_prefix", "message": f"give at least {MIN_REVOKE_PREFIX} characters"})
    async with pool.acquire() as conn:
        user_id = await store.staff_user_id(conn, username, active_only=False)
        if user_id is None:
            raise BadRequest({"field": "name", "message": f"no user {username}"})
        return await store.revoke_user_tokens(conn, user_id, prefix, TOKEN_PREFIX_CHARS)


async def set_active(pool: asyncpg.Pool, username: str, active: bool) -> None:
    """Enable or disable a user; a disabled user's tokens and sessions stop working at once."""
    async with pool.acquire() as conn:
        found = await store.set_user_active(conn, username, active)
    if not found:
        raise BadRequest({"field": "name", "message": f"no user {username}"})


async def _load_failures(conn: asyncpg.Connection, username: str, *, lock: bool = False) -> Failures | None:
    row = await store.login_failures(conn, username, lock=lock)
    return Failures(row["failures"], row["window_started_at"], row["locked_until"]) if row else None


async def _record_failure(pool: asyncpg.Pool, username: str, now: datetime, policy: LockoutPolicy) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await store.open_failure_row(conn, username, now)
        state = after_failure(await _load_failures(conn, username, lock=True), now, policy)
        await store.save_login_failures(conn, username, state.count, state.window_start, state.locked_until)
        # A row is stale once its window and any lock it can carry are over; guessed names must not pile up.
        await store.prune_login_failures(conn, now - policy.window - policy.lockout)


async def login(
    pool: asyncpg.Pool, username: str, password: str, ttl_hours: int, *,
    policy: LockoutPolicy | None = None, now: datetime | None = None,
) -> tuple[str, str] | None:
    """Check a password and open a session; return (session token, CSRF token) or None.

    Raise LoginLocked while the user name is locked out, whether or not such a user exists.
    """
    policy = policy or LockoutPolicy()
    now = now or datetime.now(UTC)
    async with pool.acquire() as conn:
        wait = retry_after(await _load_failures(conn, username), now)
        row = await store.sign_in_row(conn, username)
    if wait is not None:
        raise LoginLocked(wait)
    stored = row["password_hash"] if row is not None else None
    # scrypt takes tens of milliseconds: off the event loop, and the same work whether or not the user exists.
    matches = await asyncio.to_thread(check_password, password, stored or _DUMMY_HASH)
    if not (matches and stored):
        await _record_failure(pool, username, now, policy)
        return None
    token, csrf = "hs_" + secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    async with pool.acquire() as conn, conn.transaction():
        await store.clear_login_failures(conn, username)
        await store.insert_session(conn, row["id"], _token_hash(token), csrf, now + timedelta(hours=ttl_hours))
    return token, csrf


async def logout(pool: asyncpg.Pool, token: str) -> None:
    async with pool.acquire() as conn:
        await store.revoke_token(conn, _token_hash(token))


async def authenticate(pool: asyncpg.Pool, token: str) -> tuple[Actor, str, str | None] | None:
    """Return (actor, token kind, CSRF token) for a live token of an active user, or None."""
    async with pool.acquire() as conn:
        row = await store.token_owner(conn, _token_hash(token))
    if row is None:
        return None
    return _actor(row), row["kind"], row["csrf_token"]
