"""The supervisors' dashboard: queues, who is online and how loaded, deadlines by unit, today's intake.

    GET /console/dashboard            the page (Chart.js charts, and every number in a table too)
    GET /console/dashboard/data.json  the same numbers

For supervisors and admins. "Today" is Vietnam's calendar day (kernel.time.LOCAL_TZ) on the injected clock
(services.clock). The 5-minute rule: of the cases taken in today, the share forwarded to a unit within five
minutes of intake (forwarded_at - created_at).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web

from casework.models import FIELD_LABELS
from console.store import dashboard as board_store
from kernel.actors import Role
from kernel.auth import staff_actor
from kernel.http import SERVICES, json_response
from kernel.time import LOCAL_TZ, rfc3339

ROLES = (Role.SUPERVISOR, Role.ADMIN)
FORWARD_WITHIN = timedelta(minutes=5)

TEXT = {
    "vi": {
        "title": "Tổng quan", "as_of": "Số liệu lúc", "today": "Ngày", "refresh": "Làm mới",
        "queues": "Hàng đợi", "queue": "Hàng đợi", "cases": "Hồ sơ",
        "q_triage": "Cần phân loại", "q_forwarded_not_accepted": "Đã chuyển, chưa tiếp nhận",
        "q_in_progress": "Đang xử lý", "q_reopened": "Mở lại", "q_received": "Mới nhận, chưa xử lý",
        "rule": "Chuyển trong 5 phút",
        "rule_hint": "Tỷ lệ hồ sơ hôm nay được chuyển cho đơn vị xử lý trong vòng 5 phút kể từ khi tiếp nhận.",
        "today_cases": "Hồ sơ hôm nay", "within": "Chuyển trong 5 phút", "later": "Chuyển sau 5 phút",
        "not_forwarded": "Chưa chuyển", "total": "Tổng",
        "by_channel": "Tiếp nhận hôm nay theo kênh", "channel": "Kênh",
        "by_field": "Tiếp nhận hôm nay theo lĩnh vực", "field": "Lĩnh vực", "unclassified": "Chưa phân loại",
        "none_today": "Chưa có hồ sơ nào hôm nay.",
        "deadlines": "Sắp trễ và quá hạn theo đơn vị", "unit": "Đơn vị", "at_risk": "Sắp trễ", "overdue": "Quá hạn",
        "open": "Đang mở", "no_unit": "Chưa có đơn vị", "no_open": "Không có hồ sơ đang mở.",
        "staff": "Cán bộ đang trực và khối lượng", "person": "Cán bộ", "role": "Vai trò",
        "load": "Hồ sơ / sức chứa", "nobody": "Không có ai đang trực.",
    },
    "en": {
        "title": "Dashboard", "as_of": "Figures as of", "today": "Day", "refresh": "Refresh",
        "queues": "Queues", "queue": "Queue", "cases": "Cases",
        "q_triage": "Triage", "q_forwarded_not_accepted": "Forwarded, not accepted",
        "q_in_progress": "In progress", "q_reopened": "Reopened", "q_received": "Received, not processed",
        "rule": "Forwarded within 5 minutes",
        "rule_hint": "Share of today's cases forwarded to the responsible unit within 5 minutes of intake.",
        "today_cases": "Today's cases", "within": "Within 5 minutes", "later": "After 5 minutes",
        "not_forwarded": "Not forwarded", "total": "Total",
        "by_channel": "Today's intake by channel", "channel": "Channel",
        "by_field": "Today's intake by field", "field": "Field", "unclassified": "Not classified",
        "none_today": "No cases yet today.",
        "deadlines": "At risk and overdue by unit", "unit": "Unit", "at_risk": "At risk", "overdue": "Overdue",
        "open": "Open", "no_unit": "No unit yet", "no_open": "No open cases.",
        "staff": "Staff online and their load", "person": "Person", "role": "Role",
        "load": "Cases / capacity", "nobody": "Nobody is online.",
    },
}


@dataclass(frozen=True, slots=True)
class Day:
    """One calendar day in Vietnam, as UTC bounds."""

    date: str
    start: datetime
    end: datetime


def local_day(now: datetime) -> Day:
    """The Vietnamese day that `now` falls in (Vietnam keeps no daylight saving time)."""
    local = now.astimezone(LOCAL_TZ)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return Day(start.date().isoformat(), start, start + timedelta(days=1))


async def open_board(conn: asyncpg.Connection) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """The queue sizes and the deadlines by unit, from the open cases' counters (migration 0017)."""
    rows = await board_store.open_groups(conn)
    queue_sizes = {"triage": 0, "forwarded_not_accepted": 0, "in_progress": 0, "reopened": 0, "received": 0}
    units: dict[str | None, dict[str, Any]] = {}
    for r in rows:
        n = r["n"]
        key = "forwarded_not_accepted" if r["status"] == "forwarded" else r["status"]
        if r["status"] != "forwarded" or r["unaccepted"]:
            queue_sizes[key] += n
        unit = units.setdefault(r["department"], {"unit": r["department"], "at_risk": 0, "overdue": 0, "open": 0,
                                                  "name_vi": r["name_vi"], "name_en": r["name_en"]})
        unit["open"] += n
        if r["sla_state"] in ("at_risk", "overdue"):
            unit[r["sla_state"]] += n
    deadlines = list(units.values())
    # The most overdue first, then the most at risk; units by code, cases without a unit first among equals.
    deadlines.sort(key=lambda u: (-u["overdue"], -u["at_risk"], u["unit"] is not None, u["unit"] or ""))
    return queue_sizes, deadlines


async def staff_load(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Staff who are available now, with their open assigned cases against their capacity."""
    return [{"id": r["id"], "username": r["username"], "name": r["display_name"], "role": r["role"],
             "unit": r["department"], "capacity": r["capacity"], "open": r["open"],
             "last_seen_at": rfc3339(r["last_seen_at"]) if r["last_seen_at"] else None}
            for r in await board_store.available_staff(conn)]


async def intake_today(conn: asyncpg.Connection, day: Day) -> dict[str, Any]:
    """Today's cases by channel and by field, and the 5-minute forwarding rule (one query)."""
    rows = await board_store.intake(conn, day.start, day.end, FORWARD_WITHIN)
    rule = next(r for r in rows if r["kind"] == "total")
    total = rule["n"]
    return {
        "total": total,
        "by_channel": [{"channel": r["channel"], "count": r["n"]} for r in rows if r["kind"] == "channel"],
        "by_field": [{"field": r["field"], "count": r["n"]} for r in rows if r["kind"] == "field"],
        "forwarding": {
            "within_minutes": int(FORWARD_WITHIN.total_seconds() // 60),
            "within": rule["within"], "later": rule["later"], "not_forwarded": rule["not_forwarded"],
            "share": round(rule["within"] / total, 4) if total else None,
        },
    }


async def dashboard_data(conn: asyncpg.Connection, now: datetime) -> dict[str, Any]:
    day = local_day(now)
    queue_sizes, deadlines = await open_board(conn)
    return {
        "now": rfc3339(now),
        "day": day.date,
        "queues": queue_sizes,
        "staff": await staff_load(conn),
        "deadlines": deadlines,
        "today": await intake_today(conn, day),
    }


async def data_view(request: web.Request) -> web.Response:
    await staff_actor(request, *ROLES)
    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:  # type: ignore[attr-defined]
        body = await dashboard_data(conn, services.clock())  # type: ignore[attr-defined]
    response = json_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


async def page_view(request: web.Request) -> web.Response:
    from console.auth import page_actor  # the console's core (sign-in, base template)
    from console.render import lang_of, render

    page = await page_actor(request, *ROLES)
    services = request.app[SERVICES]
    now = services.clock()  # type: ignore[attr-defined]
    async with services.pool.acquire() as conn:  # type: ignore[attr-defined]
        data = await dashboard_data(conn, now)
    lang = lang_of(request)
    labels = {code: names[0 if lang == "vi" else 1] for code, names in FIELD_LABELS.items()}
    return render(request, "dashboard.html", actor=page.actor, csrf_token=page.csrf_token, data=data, now=now,
                  s=TEXT[lang], field_labels=labels)


def setup(app: web.Application) -> None:
    app.router.add_get("/console/dashboard", page_view)
    app.router.add_get("/console/dashboard/data.json", data_view)
