"""What staff write on a case and what citizens sent with it: replies, internal notes, attachments."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from casework import actions, store
from casework.auth import staff_actor
from casework.views.inputs import ALL_STAFF, MAX_BODY, path_case_id, path_id, request_key
from kernel.errors import NotFound
from kernel.http import SERVICES, json_response, parse_body, read_json


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=10_000)
    final: bool = False


async def reply(request: web.Request) -> web.Response:
    """Queue a reply; the send is requested after the commit and never fails the request (the sweeper backs it)."""
    actor = await staff_actor(request, *ALL_STAFF)
    data = await read_json(request, MAX_BODY)
    body = parse_body(TextIn, data)
    services = request.app[SERVICES]
    case_id = path_case_id(request)
    message_ids = await actions.reply(services.pool, case_id, actor, body.text, final=body.final,
                                      request=request_key(request, data), now=services.clock())
    await services.jobs.send(*message_ids)
    return json_response({"message_id": message_ids[0], "notices": message_ids[1:], "status": "queued"}, status=201)


async def add_note(request: web.Request) -> web.Response:
    actor = await staff_actor(request, *ALL_STAFF)
    data = await read_json(request, MAX_BODY)
    body = parse_body(TextIn, data)
    await actions.add_note(request.app[SERVICES].pool, path_case_id(request), actor, body.text,
                           request=request_key(request, data))
    return json_response({"status": "noted"}, status=201)


async def attachment(request: web.Request) -> web.Response:
    """An attachment of a case the actor may see; another unit's is as missing as a wrong id (no existence leak)."""
    actor = await staff_actor(request, *ALL_STAFF)
    attachment_id = path_id(request, "attachment_id")
    scope = actor.department if actor.is_department else None
    async with request.app[SERVICES].pool.acquire() as conn:
        row = await store.attachment(conn, attachment_id, scope_department=scope)
    if row is None:
        raise NotFound("no such attachment")
    return web.Response(body=row["data"], content_type=row["content_type"], headers={
        "Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff",
    })
