"""The console's pages under /console/: sign-in, the inbox (with its live rows), a case, the live stream."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import secrets
from typing import Any

from aiohttp import web

from casework import actions, assignment
from casework import store as casework_store
from casework.models import FIELD_LABELS, OPEN_STATUSES, STATUS_LABELS, Role, Status, can_move
from console import case_page, live, store
from console import inbox as inbox_rows
from console.auth import (
    PageActor,
    checked_post,
    forbidden_page,
    login_page,
    login_submit,
    logout,
    not_found_page,
    page_actor,
)
from console.render import HERE, lang_of, page_response, render, render_text
from console.wards import ward_options
from kernel.errors import Forbidden, NotFound
from kernel.http import SERVICES
from routing import duplicates

HEARTBEAT_SECONDS = 15
# The case page's forms; each render gives each its own Idempotency-Key, so a double click sends once.
ACTION_FORMS = ("reply", "note", "accept", "reject", "transfer", "pause", "resume", "correct", "duplicate", "close",
                "status", "assign", "unassign", "link", "unlink")
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
        available = (await store.is_available(conn, page.actor.id)
                     if page.actor.role in (Role.AGENT, Role.DEPARTMENT) and page.actor.id else None)
    queues = [q for q in store.QUEUES if q != "unit" or page.actor.is_department]
    older = inbox_rows.link(query.params, after=rows[-1]["id"]) if more and rows else None
    return render(
        request, "inbox.html", actor=page.actor, csrf_token=page.csrf_token, rows=rows, params=query.params,
        queues=queues, queue=query.filter.queue, link=inbox_rows.link, older=older, paged=query.after is not None,
        statuses=[(code, labels[index]) for code, labels in STATUS_LABELS.items()],
        fields=[(code, labels[index]) for code, labels in FIELD_LABELS.items()],
        units=[(u["code"], u["name_vi"] if lang == "vi" else u["name_en"]) for u in units],
        channels=inbox_rows.CHANNELS, ward_options=ward_options(lang), available=available,
    )


async def inbox_fragment(request: web.Request) -> web.Response:
    """GET /console/inbox/rows?<filters>&ids=1,2: the rows of those cases that still match, as HTML."""
    page = await page_actor(request, *ALL_STAFF)
    _, rows, _ = await _inbox_data(request, page)
    html = render_text(request, "_rows.html", rows=rows)
    return page_response(request, html)


async def case_view(request: web.Request) -> web.Response:
    """GET /console/cases/{id}: the conversation, the timeline, the facts and the actions on one case."""
    page = await page_actor(request, *ALL_STAFF)
    case_id = inbox_rows.parse_id(request.match_info["case_id"])
    if case_id is None:
        raise not_found_page(request)
    services = request.config_dict[SERVICES]
    try:
        found = await actions.get_case(services.pool, case_id, page.actor)
    except NotFound:
        raise not_found_page(request) from None
    except Forbidden:
        raise forbidden_page(request, "forbidden_unit") from None
    case = found["case"]
    named_people, named_cases = case_page.named_in(found["events"])
    if case["assignee"] is not None:
        named_people.add(case["assignee"])
    async with services.pool.acquire() as conn:
        children = await store.duplicates_of(conn, case_id)
        names = await store.sender_names(conn, case_id)
        parent = await casework_store.get_case(conn, case["duplicate_of"]) if case["duplicate_of"] else None
        units = await store.departments(conn)
        suggested = await _likely_duplicate(conn, case, page)
        people = await store.staff_names(conn, sorted(named_people))
        linked = await store.tracking_codes(  # another unit's case: not even its code
            conn, sorted(named_cases), scope_department=page.actor.department if page.actor.is_department else None)
    may_assign = assignment.may_assign(page.actor, case)
    assignable = await assignment.candidates(services.pool, case) if may_assign else []
    lang = lang_of(request)
    now = services.clock()
    if parent is not None and page.actor.is_department and parent["department"] != page.actor.department:
        parent = None  # another unit's case: not even its code
    return render(
        request, "case.html", actor=page.actor, csrf_token=page.csrf_token, case=case, citizen=found["citizen"],
        citizen_name=(found["citizen"] or {}).get("name") or next(iter(names.values()), None),
        messages=case_page.messages(found["messages"], names),
        timeline=case_page.timeline(found["events"], lang, people=people, cases=linked),
        classification=case_page.classification(case, found["events"], lang), facts=case_page.facts(case, now, lang),
        canned=case_page.canned(case, lang), parent=parent, children=children, suggested=suggested,
        units=[(u["code"], u["name_vi"] if lang == "vi" else u["name_en"]) for u in units],
        fields=[(code, labels[0 if lang == "vi" else 1]) for code, labels in FIELD_LABELS.items()],
        keys={name: secrets.token_urlsafe(18) for name in ACTION_FORMS},
        may_edit=actions.role_may_edit(page.actor), ward_options=ward_options(lang),
        assignee_name=people.get(case["assignee"]) if case["assignee"] is not None else None,
        may_assign=may_assign, assignable=assignable,
        may_link=actions.role_may_edit(page.actor) and can_move(Status(case["status"]), Status.DUPLICATE),
    )


async def _likely_duplicate(conn: Any, case: Any, page: PageActor) -> dict[str, Any] | None:
    """Routing's duplicate finder on an open case not yet linked: the earlier open case it likely repeats."""
    if case["duplicate_of"] is not None or case["status"] not in OPEN_STATUSES:
        return None
    match = await duplicates.find_duplicate(conn, case_id=case["id"], field=case["field"], lat=case["lat"],
                                            lon=case["lon"], ward_code=case["ward_code"],
                                            text=case["description"] or "", opened_at=case["created_at"])
    if match is None:
        return None
    parent = await casework_store.get_case(conn, match.parent_id)
    if parent is None or (page.actor.is_department and parent["department"] != page.actor.department):
        return None
    return {"id": parent["id"], "code": parent["tracking_code"], "score": match.score,
            "vi": match.explanation_vi, "en": match.explanation_en}


async def events(request: web.Request) -> web.StreamResponse:
    """GET /console/events[?case=<id>]: Server-Sent Events, `cases` (ids that changed) and `typing` (on a case)."""
    page = await page_actor(request, *ALL_STAFF)
    services = request.config_dict[SERVICES]
    case_id = inbox_rows.parse_id(request.query.get("case"))
    if case_id is not None:
        await _visible_case(request, page, case_id)
    client = live.Client(page.actor.department if page.actor.is_department else None, case_id)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    center = request.app[live.HUB]
    await center.join(client, services.settings.database_url or "", services.pool)
    try:
        await response.write(b"retry: 3000\n: connected\n\n")
        if case_id is not None:
            for beat in await live.typing_now(services.redis, case_id):
                await response.write(_sse("typing", beat))
        while True:
            try:
                item = await asyncio.wait_for(client.queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                await response.write(b": ping\n\n")  # keeps proxies from closing an idle stream
                continue
            if item is None:
                break
            await response.write(_sse(*item))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        center.leave(client)
    return response


def _sse(event: str, data: str) -> bytes:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


async def _visible_case(request: web.Request, page: PageActor, case_id: int) -> str | None:
    """The case's unit when this person may see the case; a 404 or 403 page otherwise."""
    async with request.config_dict[SERVICES].pool.acquire() as conn:
        units = await store.departments_of(conn, [case_id])
    if case_id not in units:
        raise not_found_page(request)
    if page.actor.is_department and units[case_id] != page.actor.department:
        raise forbidden_page(request, "forbidden_unit")
    return units[case_id]


async def typing(request: web.Request) -> web.Response:
    """POST /console/cases/{id}/typing (CSRF-checked): "I am writing a reply", for ~10 s, to others on the case."""
    page = await checked_post(request, *ALL_STAFF)
    case_id = inbox_rows.parse_id(request.match_info["case_id"])
    if case_id is None:
        raise not_found_page(request)
    await _visible_case(request, page, case_id)
    services = request.config_dict[SERVICES]
    await live.announce_typing(services.pool, services.redis, case_id, page.actor.id or 0, page.actor.name)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/console/login", login_page)
    r.add_post("/console/login", login_submit)
    r.add_post("/console/logout", logout)
    r.add_get("/console/", inbox_page)
    r.add_get("/console", _to_inbox)
    r.add_get("/console/inbox/rows", inbox_fragment)
    r.add_get("/console/cases/{case_id}", case_view)
    r.add_get("/console/events", events)
    r.add_post("/console/cases/{case_id}/typing", typing)
    r.add_static("/console/static", HERE / "static", append_version=True)
    for name in ("console.map", "console.dashboard", "console.reports"):  # B's pages, when they are there
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).setup(app)
    live.setup(app)


async def _to_inbox(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/console/")
