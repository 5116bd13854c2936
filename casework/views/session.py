"""The signed-in staff member: sign in and out, who am I, availability, notifications."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from casework import assignment, staff, store
from casework.auth import SESSION_COOKIE, staff_actor
from casework.models import Role
from casework.views.inputs import MAX_BODY
from kernel.errors import Unauthorized
from kernel.http import SERVICES, error_response, json_response, parse_body, read_json


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=500)


async def login(request: web.Request) -> web.Response:
    """POST /api/v1/session: sign in; 429 with Retry-After while the user name is locked out."""
    body = parse_body(LoginIn, await read_json(request, MAX_BODY))
    services = request.app[SERVICES]
    settings = services.settings
    policy = staff.LockoutPolicy(settings.login_max_failures, settings.login_failure_window_seconds,
                                 settings.login_lockout_seconds)
    try:
        session = await staff.login(services.pool, body.username, body.password, settings.session_ttl_hours,
                                    policy=policy)
    except staff.LoginLocked as e:
        response = error_response(e.code, e.http_status, e.detail)
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    if session is None:
        raise Unauthorized("wrong user name or password")
    token, csrf = session
    response = json_response({"csrf_token": csrf})
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict",
                        secure=services.settings.public_url.startswith("https"),
                        max_age=services.settings.session_ttl_hours * 3600)
    return response


async def logout(request: web.Request) -> web.Response:
    await staff_actor(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await staff.logout(request.app[SERVICES].pool, token)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE)
    return response


async def me(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    return json_response({"id": actor.id, "name": actor.name, "role": actor.role, "department": actor.department})


class PresenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    available: bool
    # Where an agent on duty takes the IVR's calls: a number in E.164 or a SIP address; "" clears it.
    call_at: str | None = Field(default=None, max_length=200, pattern=r"^(|\+[1-9]\d{6,14}|sip:[^\s@]+@\S+)$")


async def presence(request: web.Request) -> web.Response:
    """Staff say they are available (or away); available people get waiting cases at once."""
    actor = await staff_actor(request, Role.AGENT, Role.DEPARTMENT)
    body = parse_body(PresenceIn, await read_json(request, MAX_BODY))
    pool = request.app[SERVICES].pool
    unit = await assignment.set_presence(pool, actor.id, body.available, call_at=body.call_at)
    assigned = await assignment.backfill(pool, unit) if body.available else []
    return json_response({"available": body.available, "assigned": [case for case, who in assigned if who == actor.id]})


async def my_notifications(request: web.Request) -> web.Response:
    actor = await staff_actor(request, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
    async with request.app[SERVICES].pool.acquire() as conn:
        rows = await store.notifications(conn, department=actor.department, supervisors=not actor.is_department)
    return json_response({"items": [dict(r) for r in rows]})
