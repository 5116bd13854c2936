"""The inbox: the query string read into a filter, rows made ready for the template (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from casework.models import FIELD_LABELS, STATUS_LABELS, Status
from console.render import time_left
from console.store import QUEUES, InboxFilter
from console.wards import ward_name
from kernel.errors import BadRequest
from kernel.inputs import BIGINT_MAX, instant
from kernel.text import fold

PAGE_SIZE = 50
MAX_IDS = 100
FILTER_KEYS = ("queue", "status", "field", "department", "ward", "channel", "urgent", "from", "to", "q")
CHANNELS = ("web", "sms", "voice", "telegram", "email", "chat", "open311")


@dataclass(frozen=True, slots=True)
class InboxRequest:
    filter: InboxFilter
    after: int | None
    ids: list[int] | None
    params: dict[str, str]  # the filters as given (the ones understood), for links and the form


def parse_id(raw: str | None) -> int | None:
    if raw and raw.isdigit() and 0 < int(raw) <= BIGINT_MAX:
        return int(raw)
    return None


def _date(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        return instant(name, raw)
    except BadRequest:
        return None


def parse(query: Mapping[str, str], *, department_user: str | None, default_queue: str) -> InboxRequest:
    """Read the inbox's query string; what is not understood is left out (a page never fails on a filter).

    A department user's unit is forced: asking for another unit's cases shows their own unit's.
    """
    params: dict[str, str] = {}
    for key in FILTER_KEYS:
        value = (query.get(key) or "").strip()[:200]
        if value and "\x00" not in value:
            params[key] = value
    queue = params.get("queue", default_queue)
    if queue not in QUEUES:
        queue = default_queue
    params["queue"] = queue
    status = params.get("status") if params.get("status") in Status.__members__.values() else None
    field = params.get("field") if params.get("field") in FIELD_LABELS else None
    department = department_user or params.get("department")
    if department_user is not None:
        params.pop("department", None)
    urgent = {"true": True, "false": False}.get(params.get("urgent", ""))
    text = params.get("q")
    for key, value in (("status", status), ("field", field), ("urgent", urgent)):
        if value is None:
            params.pop(key, None)
    flt = InboxFilter(queue=queue, status=status, field=field, department=department, ward=params.get("ward"),
                      channel=params.get("channel"), urgent=urgent, since=_date(params.get("from"), "from"),
                      until=_date(params.get("to"), "to"), text=fold(text) if text else None)
    ids = None
    if "ids" in query:
        ids = [i for i in (parse_id(part) for part in query["ids"].split(",")[:MAX_IDS]) if i is not None]
    return InboxRequest(flt, parse_id(query.get("after")), ids, params)


def link(params: Mapping[str, str], **changes: Any) -> str:
    """The inbox's URL with these filters, changed as asked (None drops one)."""
    merged = {**params, **changes}
    return "/console/?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def row(case: Mapping[str, Any], now: datetime, lang: str) -> dict[str, Any]:
    """What an inbox row shows of a case."""
    index = 0 if lang == "vi" else 1
    label, state = time_left(case["due_at"], now, lang, paused=case["clock_paused_at"] is not None)
    if state == "ok" and case["sla_state"] == "at_risk":
        state = "at_risk"
    return {
        "id": case["id"],
        "code": case["tracking_code"],
        "channel": case["channel"],
        "field": FIELD_LABELS[case["field"]][index] if case["field"] in FIELD_LABELS else "",
        "ward": ward_name(case["ward_code"], lang),
        "unit": (case["department_name_vi"] if lang == "vi" else case["department_name_en"]) or "",
        "status": case["status"],
        "status_label": STATUS_LABELS.get(case["status"], (case["status"], case["status"]))[index],
        "urgent": case["urgent"],
        "summary": (case["description"] or "")[:140],
        "due_at": case["due_at"].isoformat() if case["due_at"] else "",
        "time_left": label,
        "deadline_state": state,
        "created_at": case["created_at"],
    }
