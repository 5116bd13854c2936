"""What the public may see of a case: status, field, unit, timeline and answers; never who sent it.

Answers are staff's free text and may quote a phone number, an email or a name: they are published masked.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from casework import codes, store
from casework.models import FIELD_LABELS, STATUS_LABELS
from casework.privacy import mask_personal
from kernel.errors import BadRequest, NotFound


def _label(table: dict[str, tuple[str, str]], key: str | None, lang: str) -> str | None:
    if key is None or key not in table:
        return None
    vi, en = table[key]
    return en if lang == "en" else vi


async def public_case(pool: asyncpg.Pool, raw_code: str, lang: str = "vi") -> dict[str, Any]:
    """Look a case up by tracking code; a mistyped code is refused before any lookup."""
    code = codes.normalise(raw_code)
    if code is None:
        raise BadRequest({"field": "code", "message": "not a valid tracking code (check the digits)"},
                         code="invalid_tracking_code")
    async with pool.acquire() as conn:
        case = await store.get_case_by_code(conn, code)
        if case is None:
            raise NotFound("no case with this code")
        events = await store.case_events(conn, case["id"], public_only=True)
        answers = await store.public_replies(conn, case["id"])
    unit = None
    if case["department"]:
        unit = {"code": case["department"],
                "name": case["department_name_en"] if lang == "en" else case["department_name_vi"]}
    timeline = []
    for e in events:
        if e["kind"] == "reply":
            entry = {"at": e["at"], "kind": "reply", "label": "Đã phản hồi" if lang != "en" else "Replied"}
        elif e["to_status"]:
            entry = {"at": e["at"], "kind": "status", "status": e["to_status"],
                     "label": _label(STATUS_LABELS, e["to_status"], lang)}
        else:
            continue
        timeline.append(entry)
    field = case["field"] if case["field"] else None
    return {
        "tracking_code": case["tracking_code"],
        "tracking_code_display": codes.display(case["tracking_code"]),
        "status": case["status"],
        "status_label": _label(STATUS_LABELS, case["status"], lang),
        "field": field,
        "field_label": _label(FIELD_LABELS, field, lang),
        "urgent": case["urgent"],
        "unit": unit,
        "due_at": case["due_at"],
        "created_at": case["created_at"],
        "updated_at": case["updated_at"],
        "timeline": timeline,
        "answers": [{"text": mask_personal(a["text"]), "at": a["created_at"]} for a in answers],
    }
