"""The public procedure API: GET /api/v1/procedures?q=&limit= and GET /api/v1/procedures/{code}.

No authentication: citizens use it as well as agents. Nothing here writes.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from integrations.procedures import store
from integrations.procedures.search import search
from kernel.errors import BadRequest, NotFound
from kernel.http import SERVICES, json_response
from kernel.inputs import query_text

MAX_QUERY = 500
MAX_LIMIT = 50
CODE = re.compile(r"^[0-9A-Za-z.\-_]{1,40}$")


def _query(request: web.Request) -> tuple[str, int]:
    q = (query_text(request.query, "q", MAX_QUERY) or "").strip()  # no NUL: PostgreSQL text cannot hold it
    if not q:
        raise BadRequest({"field": "q", "message": "give the words to search for"})
    try:
        limit = int(request.query.get("limit", "10"))
    except ValueError:
        raise BadRequest({"field": "limit", "message": f"a number from 1 to {MAX_LIMIT}"}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest({"field": "limit", "message": f"a number from 1 to {MAX_LIMIT}"})
    return q, limit


async def search_procedures(request: web.Request) -> web.Response:
    q, limit = _query(request)
    hits = await search(request.app[SERVICES].pool, q, limit)
    return json_response({"query": q, "count": len(hits), "results": [h.as_dict() for h in hits]})


def procedure_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": row["code"],
        "name": row["name"],
        "field": row["field"],
        "level": row["level"],
        "agency": row["agency"],
        "processing_time": row["processing_time"],
        "fees": row["fees"],
        "documents": row["documents"],
        "channels": row["channels"],
        "where_to_apply": row["where_to_apply"],
        "link": row["link"],
        "source": row["source"],
        "updated_at": row["updated_at"],
    }


async def get_procedure(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    if not CODE.match(code):
        raise NotFound("no such procedure")
    row = await store.get(request.app[SERVICES].pool, code)
    if row is None:
        raise NotFound("no such procedure")
    return json_response(procedure_json(row))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/procedures", search_procedures)
    app.router.add_get("/api/v1/procedures/{code}", get_procedure)
