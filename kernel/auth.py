"""Staff identity in HTTP views: every context asks here, the composition root says how to authenticate.

The kernel knows no users table: `hotline.app` installs casework's authenticator under
STAFF_AUTHENTICATOR, and views in any context call `staff_actor(request, *roles)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from kernel.actors import Actor, Role
from kernel.errors import Forbidden

Authenticator = Callable[[web.Request], Awaitable[Actor]]

STAFF_AUTHENTICATOR = web.AppKey("staff_authenticator", object)
ACTOR = web.RequestKey("actor", Actor)


async def staff_actor(request: web.Request, *roles: Role) -> Actor:
    """The staff member behind a request, checked against the roles given; 401 or 403 otherwise."""
    actor = request.get(ACTOR)
    if actor is None:
        authenticate: Authenticator = request.config_dict[STAFF_AUTHENTICATOR]  # type: ignore[assignment]
        actor = await authenticate(request)
        request[ACTOR] = actor
    if roles and actor.role not in roles:
        raise Forbidden("your role may not do this")
    return actor
