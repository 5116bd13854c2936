"""Who is looking at a console page: the staff session cookie, its CSRF token, sign-in and sign-out pages."""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from aiohttp import web

from casework import staff
from casework.auth import SESSION_COOKIE
from casework.models import Actor, Role
from console.i18n import t
from console.render import lang_of, render, render_text
from kernel.http import SERVICES, read_body

log = logging.getLogger(__name__)

LOGIN_CSRF_COOKIE = "console_login_csrf"
MAX_FORM_BYTES = 4096
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class PageActor:
    """The signed-in staff member and the session's CSRF token, which pages embed for their fetch() calls."""

    actor: Actor
    csrf_token: str


# The request's PageActor, once page_actor has found it (for the error pages' header).
PAGE_KEY = web.RequestKey("console_page", PageActor)


def _signed_in(request: web.Request) -> dict[str, object]:
    page = request.get(PAGE_KEY)
    return {"actor": page.actor, "csrf_token": page.csrf_token} if isinstance(page, PageActor) else {}


def forbidden_page(request: web.Request, message_key: str = "forbidden") -> web.HTTPForbidden:
    """A 403 HTML page to raise (with the nav and sign-out when someone is signed in)."""
    html = render_text(request, "error.html", title_key="forbidden_title", message_key=message_key,
                       **_signed_in(request))
    return web.HTTPForbidden(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def not_found_page(request: web.Request) -> web.HTTPNotFound:
    html = render_text(request, "error.html", title_key="not_found_title", message_key="not_found",
                       **_signed_in(request))
    return web.HTTPNotFound(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


async def session_of(request: web.Request) -> PageActor | None:
    """The session behind the cookie, or None (no cookie, an unknown or expired one, a disabled user)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or not token.isascii():
        return None
    found = await staff.authenticate(request.config_dict[SERVICES].pool, token)
    if found is None:
        return None
    actor, kind, csrf = found
    if kind != "session" or not csrf:
        return None
    return PageActor(actor, csrf)


async def page_actor(request: web.Request, *roles: Role) -> PageActor:
    """The staff member of a page: signed out -> redirect to the sign-in page; a role not listed -> a 403 page."""
    found = await session_of(request)
    if found is None:
        target = request.path_qs if request.method == "GET" else "/console/"
        raise web.HTTPSeeOther(f"/console/login?next={quote(target, safe='')}")
    request[PAGE_KEY] = found
    if roles and found.actor.role not in roles:
        raise forbidden_page(request)
    return found


def csrf_ok(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a sent CSRF token with the expected one."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


async def checked_post(request: web.Request, *roles: Role) -> PageActor:
    """The actor of a console POST whose X-CSRF-Token header (or csrf_token form field) is the session's."""
    page = await page_actor(request, *roles)
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type == "application/x-www-form-urlencoded":
        sent = _form(await read_body(request, MAX_FORM_BYTES)).get("csrf_token")
    if not csrf_ok(sent, page.csrf_token):
        raise forbidden_page(request, "login_csrf")
    return page


def _form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=16))


def _safe_next(target: str | None) -> str:
    """Only our own console paths: never another site (//evil, /\\evil, https://…)."""
    if target and target.startswith("/console/") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return "/console/"


def _login_form(request: web.Request, *, status: int = 200, error: str | None = None, username: str = "",
                next_path: str = "/console/") -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, login_csrf=token, error=error, username=username,
                      next_path=_safe_next(next_path))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/console",
                        secure=request.config_dict[SERVICES].settings.public_url.startswith("https"))
    return response


async def login_page(request: web.Request) -> web.Response:
    """GET /console/login: the sign-in form (straight to the inbox when already signed in)."""
    if await session_of(request) is not None:
        raise web.HTTPSeeOther(_safe_next(request.query.get("next")))
    return _login_form(request, next_path=request.query.get("next", "/console/"))


async def login_submit(request: web.Request) -> web.Response:
    """POST /console/login: sign in as POST /api/v1/session does (the same lockout, cookie and CSRF token)."""
    lang = lang_of(request)
    fields = _form(await read_body(request, MAX_FORM_BYTES))
    username, password = fields.get("username", "").strip()[:100], fields.get("password", "")[:500]
    next_path = fields.get("next", "/console/")
    if not csrf_ok(fields.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_form(request, status=403, error=t("login_csrf", lang), username=username, next_path=next_path)
    if not username or not password:
        return _login_form(request, status=401, error=t("login_wrong", lang), username=username, next_path=next_path)
    services = request.config_dict[SERVICES]
    settings = services.settings
    policy = staff.LockoutPolicy(settings.login_max_failures, settings.login_failure_window_seconds,
                                 settings.login_lockout_seconds)
    try:
        session = await staff.login(services.pool, username, password, settings.session_ttl_hours, policy=policy)
    except staff.LoginLocked as e:
        minutes = max(1, math.ceil(e.retry_after / 60))
        response = _login_form(request, status=429, error=t("login_locked", lang).format(minutes=minutes),
                               username=username, next_path=next_path)
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    if session is None:
        return _login_form(request, status=401, error=t("login_wrong", lang), username=username, next_path=next_path)
    token, _csrf = session
    response = web.HTTPSeeOther(_safe_next(next_path))
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict",
                        secure=settings.public_url.startswith("https"), max_age=settings.session_ttl_hours * 3600)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/console")
    raise response


async def logout(request: web.Request) -> web.Response:
    """POST /console/logout (CSRF-checked): end the session, back to the sign-in page."""
    await checked_post(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await staff.logout(request.config_dict[SERVICES].pool, token)
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(SESSION_COOKIE)
    raise response
