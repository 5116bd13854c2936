"""The admin API for dead letters: what kept failing, and replaying it (admin only).

GET  /api/v1/admin/jobs/failed[?kind=case|message|job&limit=N]
POST /api/v1/admin/jobs/failed/{kind}/{id}/replay
"""

from __future__ import annotations

from aiohttp import web

from casework import dead_letters
from casework.dead_letters import Kind
from hotline.dead_letters import replay
from hotline.services import Services
from kernel.actors import Role
from kernel.auth import staff_actor
from kernel.errors import BadRequest
from kernel.http import SERVICES, json_response
from kernel.inputs import query_text, whole_number

DEFAULT_LIMIT = 100


def _kind(raw: str | None) -> Kind | None:
    if raw is None:
        return None
    try:
        return Kind(raw)
    except ValueError:
        raise BadRequest({"field": "kind", "message": "one of: " + ", ".join(k.value for k in Kind)}) from None


async def list_failed(request: web.Request) -> web.Response:
    """The dead letters, newest first within each kind."""
    await staff_actor(request, Role.ADMIN)
    services: Services = request.app[SERVICES]
    kind = _kind(query_text(request.query, "kind"))
    raw_limit = query_text(request.query, "limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        limit = whole_number("limit", raw_limit, maximum=dead_letters.MAX_LIST)
        if limit < 1:
            raise BadRequest({"field": "limit", "message": f"a whole number from 1 to {dead_letters.MAX_LIST}"})
    items = await dead_letters.failed(services.pool, kind, limit=limit)
    return json_response({"items": [item.as_dict() for item in items]})


async def replay_failed(request: web.Request) -> web.Response:
    """Replay one dead letter; 409 with the reason when it may not be replayed."""
    actor = await staff_actor(request, Role.ADMIN)
    services: Services = request.app[SERVICES]
    kind = _kind(request.match_info["kind"])
    assert kind is not None
    item_id = whole_number("id", request.match_info["id"])
    await replay(services.pool, services.jobs, services.redis, services.settings.queue_name, kind, item_id, actor,
                 services.clock())
    return json_response({"kind": kind.value, "id": item_id, "replayed": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/admin/jobs/failed", list_failed)
    app.router.add_post("/api/v1/admin/jobs/failed/{kind}/{id}/replay", replay_failed)
