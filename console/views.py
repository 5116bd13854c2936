"""The console's pages under /console/: sign-in, the inbox (with its live rows), a case, the live stream."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from aiohttp import web

from casework.models import FIELD_LABELS, STATUS_LABELS, Role
from console import inbox as inbox_rows
from console import store
from console.auth import PageActor, login_page, login_submit, logout, page_actor
from console.render import HERE, lang_of, page_response, render, render_text
from kernel.http import SERVICES

ALL_STAFF = (Role.AGENT, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)


def _default_queue(page: PageActor) -> str:
    return "unit" if page.actor.is_department else "triage"


async def _inbox_data(request: web.Request, page: PageActor) -> tuple[inbox_rows.InboxRequest, list[Any], bool]:
    actor = page.actor
    scope = actor.department if actor.is_department else None
    query = inbox_rows.parse(request.query, department_user=scope, default_queue=_default_queue(page))
    services = request.config_dict[SERVICES]
    limit = inbox_rows.PAGE_SIZE
    async with services.pool.acquire() as conn:
        rows = await store.inbox(conn, query.filter, me=actor.id, scope_department=scope, after=query.after,
                                 ids=query.ids, limit=limit + 1)
    more = len(rows) > limit
    lang = lang_of(request)
    now = services.clock()
    return query, [inbox_rows.row(r, now, lang) for r in rows[:limit]], more


async def inbox_page(request: web.Request) -> web.Response:
    """GET /console/: the queues, the filters, a page of cases, newest first."""
    page = await page_actor(request, *ALL_STAFF)
    query, rows, more = await _inbox_data(request, page)
    lang = lang_of(request)
    index = 0 if lang == "vi" else 1
    async with request.config_dict[SERVICES].pool.acquire() as conn:
        units = [] if page.actor.is_department else await store.departments(conn)
    queues = [q for q in store.QUEUES if q != "unit" or page.actor.is_department]
    older = inbox_rows.link(query.params, after=rows[-1]["id"]) if more and rows else None
    return render(
        request, "inbox.html", actor=page.actor, csrf_token=page.csrf_token, rows=rows, params=query.params,
        queues=queues, queue=query.filter.queue, link=inbox_rows.link, older=older, paged=query.after is not None,
        statuses=[(code, labels[index]) for code, labels in STATUS_LABELS.items()],
        fields=[(code, labels[index]) for code, labels in FIELD_LABELS.items()],
        units=[(u["code"], u["name_vi"] if lang == "vi" else u["name_en"]) for u in units],
        channels=inbox_rows.CHANNELS,
    )


async def inbox_fragment(request: web.Request) -> web.Response:
    """GET /console/inbox/rows?<filters>&ids=1,2: the rows of those cases that still match, as HTML."""
    page = await page_actor(request, *ALL_STAFF)
    _, rows, _ = await _inbox_data(request, page)
    html = render_text(request, "_rows.html", rows=rows)
    return page_response(request, html)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/console/login", login_page)
    r.add_post("/console/login", login_submit)
    r.add_post("/console/logout", logout)
    r.add_get("/console/", inbox_page)
    r.add_get("/console", _to_inbox)
    r.add_get("/console/inbox/rows", inbox_fragment)
    r.add_static("/console/static", HERE / "static", append_version=True)
    for name in ("console.map", "console.dashboard"):  # B's pages, when they are there
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).setup(app)


async def _to_inbox(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/console/")
