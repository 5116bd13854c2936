"""Staff authentication for HTTP views: bearer tokens or session cookies, CSRF, roles."""

from __future__ import annotations

import hmac

from aiohttp import web

from casework import staff
from casework.models import Actor, Role
from kernel.errors import Forbidden, Unauthorized
from kernel.http import SERVICES

SESSION_COOKIE = "hotline_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ACTOR = web.RequestKey("actor", Actor)


async def staff_actor(request: web.Request, *roles: Role) -> Actor:
    """Authenticate the staff member behind a request and check their role; 401 or 403 otherwise."""
    actor = request.get(ACTOR)
    if actor is None:
        token, via_cookie = _token(request)
        if token is None:
            raise Unauthorized("authentication required")
        found = await staff.authenticate(request.app[SERVICES].pool, token)
        if found is None:
            raise Unauthorized("authentication required")
        actor, _, csrf = found
        if via_cookie and request.method not in SAFE_METHODS and not _csrf_matches(request, csrf):
            raise Forbidden("missing or wrong CSRF token", code="csrf_failed")
        request[ACTOR] = actor
    if roles and actor.role not in roles:
        raise Forbidden("your role may not do this")
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
