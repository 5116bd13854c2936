"""What the case page shows, made from casework's records (pure, no I/O): messages, timeline, classification."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from casework.models import FIELD_LABELS, STATUS_LABELS
from console.render import local_time, time_left
from console.wards import ward_name

# Canned replies: {code}, {unit} and {deadline} are filled in from the case.
CANNED: dict[str, list[tuple[str, str]]] = {
    "vi": [
        ("Đã tiếp nhận", "Đường dây nóng 1022 đã tiếp nhận phản ánh của bạn, mã hồ sơ {code}. Hồ sơ được chuyển "
                         "{unit} xử lý, hạn trả lời {deadline}. Cảm ơn bạn."),
        ("Cần thêm thông tin", "Để xử lý hồ sơ {code}, đề nghị bạn cho biết thêm địa chỉ cụ thể (số nhà, hẻm, "
                               "đường, phường) và thời điểm xảy ra sự việc. Cảm ơn bạn."),
        ("Đang xử lý", "Hồ sơ {code} đang được {unit} xử lý. Kết quả sẽ được thông báo trước {deadline}."),
        ("Đã xử lý xong", "Hồ sơ {code} đã được {unit} xử lý xong. Cảm ơn bạn đã phản ánh tới Đường dây nóng 1022."),
    ],
    "en": [
        ("Received", "Hotline 1022 has received your report, case {code}. It has gone to {unit}, who will answer "
                     "by {deadline}. Thank you."),
        ("Need more details", "To handle case {code}, please tell us the exact address (house number, alley, "
                              "street, ward) and when it happened. Thank you."),
        ("In progress", "Case {code} is being handled by {unit}. You will hear the outcome by {deadline}."),
        ("Resolved", "Case {code} has been resolved by {unit}. Thank you for contacting Hotline 1022."),
    ],
}


def _label(table: Mapping[str, tuple[str, str]], code: str | None, lang: str) -> str:
    if not code:
        return ""
    found = table.get(code)
    return found[0 if lang == "vi" else 1] if found else code


def canned(case: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """The canned replies with this case's code, unit and deadline written in."""
    unit = (case["department_name_vi"] if lang == "vi" else case["department_name_en"]) or (
        "đơn vị có thẩm quyền" if lang == "vi" else "the responsible unit")
    deadline = local_time(case["due_at"]) or ("sớm nhất" if lang == "vi" else "as soon as possible")
    return [(title, text.format(code=case["tracking_code"], unit=unit, deadline=deadline))
            for title, text in CANNED.get(lang, CANNED["vi"])]


def classification(case: Mapping[str, Any], events: Sequence[Mapping[str, Any]], lang: str) -> dict[str, Any]:
    """The field with its confidence, and the classifier's alternatives from its latest 'classified' event."""
    latest = next((e for e in reversed(events) if e["kind"] == "classified"), None)
    alternatives = []
    if latest is not None:
        for item in (latest["changes"] or {}).get("alternatives") or []:
            if isinstance(item, list | tuple) and len(item) == 2:
                alternatives.append({"field": _label(FIELD_LABELS, str(item[0]), lang), "confidence": item[1]})
    return {
        "field": _label(FIELD_LABELS, case["field"], lang),
        "field_code": case["field"],
        "confidence": case["confidence"],
        "model": case["classifier_version"],
        "alternatives": alternatives,
    }


def messages(rows: Sequence[Mapping[str, Any]], names: Mapping[int, str] | None = None) -> list[dict[str, Any]]:
    """The conversation across channels in time order, attachments sorted into photos, audio and other files."""
    out = []
    for m in sorted(rows, key=lambda m: (m["created_at"], m["id"])):
        files = list(m["files"] or [])
        out.append({
            "id": m["id"], "name": (names or {}).get(m["id"]), "direction": m["direction"], "channel": m["channel"],
            "kind": m["kind"],
            "text": m["text"] or "", "status": m["status"], "provider_status": m["provider_status"],
            "error": m["error"] or m["provider_error"], "at": m["created_at"], "sent_at": m["sent_at"],
            "photos": [f for f in files if str(f.get("content_type", "")).startswith("image/")],
            "audio": [f for f in files if str(f.get("content_type", "")).startswith("audio/")],
            "other": [f for f in files if not str(f.get("content_type", "")).startswith(("image/", "audio/"))],
        })
    return out


def timeline(rows: Sequence[Mapping[str, Any]], lang: str) -> list[dict[str, Any]]:
    out = []
    for e in rows:
        changes = dict(e["changes"] or {})
        text = changes.pop("text", None) if e["kind"] == "note" else None
        out.append({
            "at": e["at"], "kind": e["kind"], "actor": e["actor_name"] or e["actor_kind"],
            "from": _label(STATUS_LABELS, e["from_status"], lang), "to": _label(STATUS_LABELS, e["to_status"], lang),
            "reason": e["reason"], "note": text, "public": e["public"],
            "changes": ", ".join(f"{k}: {v}" for k, v in changes.items() if k != "alternatives" and v is not None),
        })
    return out


def facts(case: Mapping[str, Any], now: datetime, lang: str) -> dict[str, Any]:
    label, state = time_left(case["due_at"], now, lang, paused=case["clock_paused_at"] is not None)
    return {
        "status_label": _label(STATUS_LABELS, case["status"], lang),
        "ward": ward_name(case["ward_code"], lang),
        "unit": (case["department_name_vi"] if lang == "vi" else case["department_name_en"]) or "",
        "time_left": label, "deadline_state": state,
        "due_at": case["due_at"].isoformat() if case["due_at"] else "",
    }
