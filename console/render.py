"""Rendering the console's pages: one Jinja2 environment (autoescape on), the language, the common headers."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from console.i18n import LANG_COOKIE, LANGS, pick_language, t
from kernel.time import LOCAL_TZ

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self'; style-src 'self';"
       " connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


def lang_of(request: web.Request) -> str:
    return pick_language(request.query.get("lang"), request.cookies.get(LANG_COOKIE))


def local_time(value: datetime | None) -> str:
    """A moment as people in Hồ Chí Minh City read it: 14:05 03/12/2026."""
    return value.astimezone(LOCAL_TZ).strftime("%H:%M %d/%m/%Y") if value else ""


def duration(seconds: float, lang: str) -> str:
    """A short span: 2 ngày 3 giờ, 45 phút (2 d 3 h, 45 min)."""
    minutes = max(0, math.ceil(abs(seconds) / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = (("ngày", "giờ", "phút") if lang == "vi" else ("d", "h", "min"))
    if days:
        return f"{days} {units[0]} {hours} {units[1]}"
    if hours:
        return f"{hours} {units[1]} {mins} {units[2]}"
    return f"{mins} {units[2]}"


def time_left(due_at: datetime | None, now: datetime, lang: str, *, paused: bool = False) -> tuple[str, str]:
    """The deadline as a label and a state ('ok', 'overdue', 'paused', 'none')."""
    if due_at is None:
        return t("no_deadline", lang), "none"
    left: timedelta = due_at - now
    if paused:
        return t("paused", lang), "paused"
    if left.total_seconds() < 0:
        return t("overdue_by", lang).format(t=duration(left.total_seconds(), lang)), "overdue"
    return t("left", lang).format(t=duration(left.total_seconds(), lang)), "ok"


def render(request: web.Request, name: str, *, status: int = 200, **context: Any) -> web.Response:
    """Render a console template with the language, `t` and the formatters; headers for a staff page."""
    html = render_text(request, name, **context)
    return page_response(request, html, status=status)


def render_text(request: web.Request, name: str, **context: Any) -> str:
    lang = lang_of(request)
    context.setdefault("actor", None)
    context.setdefault("csrf_token", "")
    return environment.get_template(name).render(
        lang=lang, other_lang="en" if lang == "vi" else "vi",
        t=lambda key, **kw: t(key, lang).format(**kw) if kw else t(key, lang),
        fmt=local_time, path=request.path, switch_url=_switch_url(request, "en" if lang == "vi" else "vi"), **context)


def _switch_url(request: web.Request, lang: str) -> str:
    """This page in the other language, its query kept."""
    query = {k: v for k, v in request.query.items() if k != "lang"}
    return str(request.rel_url.with_query({**query, "lang": lang}))


def page_response(request: web.Request, html: str, *, status: int = 200) -> web.Response:
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    if request.query.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, request.query["lang"], max_age=365 * 86400, samesite="Lax", httponly=True,
                            path="/console")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"  # staff pages hold personal data and single-use keys
    return response
