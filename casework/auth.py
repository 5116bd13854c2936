"""Staff authentication for HTTP views: bearer tokens or session cookies, CSRF, roles."""

from __future__ import annotations

import hmac

from aiohttp import web

from casework import staff
from casework.models import Actor
from kernel.auth import ACTOR, staff_actor
from kernel.errors import Forbidden, Unauthorized
from kernel.http import SERVICES

SESSION_COOKIE = "hotline_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

__all__ = ["ACTOR", "SESSION_COOKIE", "authenticate", "staff_actor"]  # staff_actor is the kernel's


async def authenticate(request: web.Request) -> Actor:
    """The staff member behind a bearer token or a session cookie (with its CSRF token on writes)."""
    token, via_cookie = _token(request)
    if token is None or not token.isascii():  # ours are ASCII; undecodable header bytes arrive as surrogates
        raise Unauthorized("authentication required")
    found = await staff.authenticate(request.config_dict[SERVICES].pool, token)
    if found is None:
        raise Unauthorized("authentication required")
    actor, _, csrf = found
    if via_cookie and request.method not in SAFE_METHODS and not _csrf_matches(request, csrf):
        raise Forbidden("missing or wrong CSRF token", code="csrf_failed")
    return actor


def _csrf_matches(request: web.Request, expected: str | None) -> bool:
    """Compare the X-CSRF-Token header with the session's token in constant time."""
    sent = request.headers.get("X-CSRF-Token")
    if not expected or sent is None:
        return False
    # aiohttp keeps undecodable header bytes as surrogates; bytes compare whatever was sent.
    return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode())


def _token(request: web.Request) -> tuple[str | None, bool]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None, False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)
