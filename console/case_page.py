"""What the case page shows, made from casework's records (pure, no I/O): messages, timeline, classification."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from casework.codes import display as display_code
from casework.models import FIELD_LABELS, STATUS_LABELS
from console.render import local_time, time_left
from console.wards import ward_name
from kernel import labels

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
    """The field with its confidence, the classifier's alternatives and the other fields the message names.

    Both come from the latest 'classified' event; `also` lists fields the message names besides its own
    (several problems in one message), which the case keeps without being routed on them.
    """
    latest = next((e for e in reversed(events) if e["kind"] == "classified"), None)
    alternatives, also = [], []
    if latest is not None:
        changes = latest["changes"] or {}
        for item in changes.get("alternatives") or []:
            if isinstance(item, list | tuple) and len(item) == 2:
                alternatives.append({"field": _label(FIELD_LABELS, str(item[0]), lang), "confidence": item[1]})
        also = [_label(FIELD_LABELS, str(code), lang) for code in changes.get("also") or [] if isinstance(code, str)]
    return {
        "field": _label(FIELD_LABELS, case["field"], lang),
        "field_code": case["field"],
        "confidence": case["confidence"],
        "model": case["classifier_version"],
        "alternatives": alternatives,
        "also": also,
    }


def messages(rows: Sequence[Mapping[str, Any]], names: Mapping[int, str] | None = None) -> list[dict[str, Any]]:
    """The conversation across channels in time order, attachments sorted into photos, audio and other files."""
    out = []
    for m in sorted(rows, key=lambda m: (m["created_at"], m["id"])):
        files = list(m["files"] or [])
        out.append({
            "id": m["id"], "name": (names or {}).get(m["id"]), "direction": m["direction"], "channel": m["channel"],
            "kind": m["kind"],
            "kind_label": {lang: message_kind(m["kind"], m["direction"], lang) for lang in ("vi", "en")},
            "status_label": {lang: message_status(m["status"], lang) for lang in ("vi", "en")},
            "text": m["text"] or "", "status": m["status"], "provider_status": m["provider_status"],
            "error": m["error"] or m["provider_error"], "at": m["created_at"], "sent_at": m["sent_at"],
            "photos": [f for f in files if str(f.get("content_type", "")).startswith("image/")],
            "audio": [f for f in files if str(f.get("content_type", "")).startswith("audio/")],
            "other": [f for f in files if not str(f.get("content_type", "")).startswith(("image/", "audio/"))],
        })
    return out


# Messages: what kind of message and where it stands, as people say it.
MESSAGE_KINDS: dict[str, tuple[str, str]] = {
    "message": ("Tin đến", "Message"),
    "ack": ("Xác nhận", "Acknowledgement"),
    "reply": ("Trả lời", "Reply"),
    "notice": ("Thông báo", "Notice"),
}
MESSAGE_STATUSES: dict[str, tuple[str, str]] = {
    "received": ("đã nhận", "received"),
    "queued": ("chờ gửi", "queued"),
    "sending": ("đang gửi", "sending"),
    "sent": ("đã gửi", "sent"),
    "delivered": ("đã đến người nhận", "delivered"),
    "failed": ("gửi không được", "failed"),
}
CHANNEL_LABELS = labels.CHANNEL_LABELS
ACTOR_KINDS: dict[str, tuple[str, str]] = {
    "system": ("Hệ thống", "System"),
    "citizen": ("Công dân", "Citizen"),
    "staff": ("Cán bộ", "Staff"),
}
CALL_STATUSES: dict[str, tuple[str, str]] = {
    "queued": ("đang chờ", "queued"), "ringing": ("đang đổ chuông", "ringing"),
    "in-progress": ("đang nói chuyện", "in progress"), "completed": ("đã kết thúc", "completed"),
    "busy": ("máy bận", "busy"), "no-answer": ("không trả lời", "no answer"), "failed": ("không thành công", "failed"),
    "canceled": ("đã hủy", "canceled"), "absent": ("không có tín hiệu", "absent"),
}
CHANGED_FACTS: dict[str, tuple[str, str]] = {
    "field": ("lĩnh vực", "field"), "ward_code": ("phường/xã", "ward"), "department": ("đơn vị", "unit"),
    "assignee": ("người xử lý", "assignee"), "due_at": ("hạn xử lý", "deadline"),
    "duplicate_of": ("trùng với", "duplicate of"), "urgent": ("khẩn cấp", "urgent"),
    "priority": ("ưu tiên", "priority"),
}


def message_kind(kind: str | None, direction: str, lang: str) -> str:
    """'Tin đến' for what the citizen sent, 'Xác nhận', 'Trả lời', 'Thông báo' for what we sent."""
    if not kind:
        return ""
    if kind == "message" and direction == "out":
        return "Tin đi" if lang == "vi" else "Message"
    return _label(MESSAGE_KINDS, kind, lang) if kind in MESSAGE_KINDS else _neutral(lang)


def message_status(status: str | None, lang: str) -> str:
    if not status:
        return ""
    return _label(MESSAGE_STATUSES, status, lang) if status in MESSAGE_STATUSES else _neutral(lang)


def _neutral(lang: str) -> str:
    return "khác" if lang == "vi" else "other"


def _when(value: Any) -> str:
    """An ISO moment from an event's changes in local time ('' when it is not one)."""
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return ""
        return local_time(moment) if moment.tzinfo else ""
    return ""


def _percent(value: Any) -> str:
    return f"{float(value) * 100:.0f}%" if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _pair(value: Any) -> tuple[Any, Any]:
    """A change stored as [before, after] (or only the new value)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return None, value


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of the case's history; `text(units)` says what happened, unit codes named by `units`."""

    at: datetime
    kind: str
    actor: str
    lang: str
    changes: Mapping[str, Any]
    from_status: str | None
    to_status: str | None
    reason: str | None
    note: str | None
    public: bool
    units: Mapping[str, str] | None = None
    people: Mapping[int, str] | None = None  # staff names by id (who a case was assigned to)
    cases: Mapping[int, str] | None = None  # tracking codes by case id (duplicate links)

    @property
    def status_from(self) -> str:
        return _label(STATUS_LABELS, self.from_status, self.lang)

    @property
    def status_to(self) -> str:
        return _label(STATUS_LABELS, self.to_status, self.lang)

    def text(self, units: Mapping[str, str] | None = None) -> str:
        return describe(self, {**(self.units or {}), **(units or {})})


def _unit(code: Any, units: Mapping[str, str], lang: str) -> str:
    if not code:
        return "(chưa có đơn vị)" if lang == "vi" else "(no unit)"
    return units.get(str(code)) or str(code)


def _person(value: Any, people: Mapping[int, str] | None, lang: str) -> str:
    """A staff member's name, or their number when the name is not known."""
    name = (people or {}).get(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if name:
        return name
    return f"{'cán bộ' if lang == 'vi' else 'staff member'} #{_number(value) or '?'}"


def _case_code(value: Any, cases: Mapping[int, str] | None) -> str:
    """A case's tracking code as printed (123 456 789 0), or #its id when the code is not known."""
    code = (cases or {}).get(value) if isinstance(value, int) and not isinstance(value, bool) else None
    return display_code(code) if code else f"#{_number(value) or '?'}"


def _fact_value(key: str, value: Any, units: Mapping[str, str], lang: str, e: TimelineEntry | None = None) -> str:
    if value is None or value == "":
        return "—"
    if key == "department":
        return _unit(value, units, lang)
    if key == "assignee" and e is not None:
        return _person(value, e.people, lang)
    if key == "duplicate_of" and e is not None:
        return _case_code(value, e.cases)
    if key == "field":
        return _label(FIELD_LABELS, str(value), lang)
    if key == "ward_code":
        return ward_name(str(value), lang) or str(value)
    if key == "due_at":
        return _when(value) or "—"
    if isinstance(value, bool):
        return ("có" if value else "không") if lang == "vi" else ("yes" if value else "no")
    if isinstance(value, int | float | str):
        return str(value)
    return "…"


def _changed(changes: Mapping[str, Any], units: Mapping[str, str], lang: str, e: TimelineEntry | None = None) -> str:
    """'lĩnh vực: Giao thông → Điện lực; đơn vị: …' for the facts a person corrected."""
    parts = []
    for key, value in changes.items():
        if key not in CHANGED_FACTS:
            continue
        before, after = _pair(value)
        parts.append(f"{_label(CHANGED_FACTS, key, lang)}: {_fact_value(key, before, units, lang, e)} → "
                     f"{_fact_value(key, after, units, lang, e)}")
    return "; ".join(parts)


def describe(e: TimelineEntry, units: Mapping[str, str]) -> str:  # noqa: C901, PLR0911, PLR0912 (one case per kind)
    """What an event means, in a sentence: never its raw record. Unknown kinds get a neutral sentence."""
    vi = e.lang == "vi"
    c = e.changes
    kind = e.kind
    if kind == "received":
        channel = _label(CHANNEL_LABELS, c.get("channel"), e.lang) if c.get("channel") in CHANNEL_LABELS else ""
        return (f"Tiếp nhận phản ánh{' qua ' + channel if channel else ''}" if vi
                else f"Report received{' via ' + channel if channel else ''}")
    if kind == "classified":
        field = _label(FIELD_LABELS, str(c.get("field") or ""), e.lang) or ("chưa rõ" if vi else "unknown")
        pct = _percent(c.get("confidence"))
        text = (f"Phân loại: {field}" + (f" (độ tin cậy {pct})" if pct else "") if vi
                else f"Classified: {field}" + (f" (confidence {pct})" if pct else ""))
        if c.get("urgent") is True:
            text += " · khẩn cấp" if vi else " · urgent"
        return text
    if kind == "geocoded":
        ward = c.get("ward_name") or ward_name(c.get("ward_code"), e.lang)
        if not ward:
            return "Không xác định được phường/xã" if vi else "No ward found for the address"
        pct = _percent(c.get("confidence"))
        return (f"Xác định vị trí: {ward}" + (f" (độ tin cậy {pct})" if pct else "") if vi
                else f"Located in {ward}" + (f" (confidence {pct})" if pct else ""))
    if kind == "routed":
        unit = _unit(c.get("department"), units, e.lang)
        due = _when(c.get("due_at"))
        return (f"Chuyển {unit} xử lý" + (f", hạn {due}" if due else "") if vi
                else f"Forwarded to {unit}" + (f", due {due}" if due else ""))
    if kind == "transferred":
        before, after = _pair(c.get("department"))
        return (f"Chuyển từ {_unit(before, units, e.lang)} sang {_unit(after, units, e.lang)}" if vi
                else f"Transferred from {_unit(before, units, e.lang)} to {_unit(after, units, e.lang)}")
    if kind == "status":
        text = (f"Trạng thái: {e.status_from or '—'} → {e.status_to or '—'}" if vi
                else f"Status: {e.status_from or '—'} → {e.status_to or '—'}")
        changed = _changed(c, units, e.lang, e)
        return f"{text} ({changed})" if changed else text
    if kind == "note":
        return "Ghi chú nội bộ" if vi else "Internal note"
    if kind == "reply":
        text = "Trả lời công dân" if vi else "Replied to the citizen"
        if c.get("parent"):
            text += " (theo trả lời của hồ sơ gốc)" if vi else " (the answer to the original report)"
        return text
    if kind == "citizen_message":
        channel = _label(CHANNEL_LABELS, c.get("channel"), e.lang) if c.get("channel") in CHANNEL_LABELS else ""
        return (f"Công dân gửi thêm tin nhắn{' (' + channel + ')' if channel else ''}" if vi
                else f"The citizen wrote again{' (' + channel + ')' if channel else ''}")
    if kind == "located":
        lat, lon = c.get("lat"), c.get("lon")
        where = (f" ({lat:.5f}, {lon:.5f})" if isinstance(lat, int | float) and isinstance(lon, int | float) else "")
        return f"Công dân gửi vị trí{where}" if vi else f"The citizen shared a location{where}"
    if kind == "message_edited":
        text = "Công dân sửa tin nhắn" if vi else "The citizen edited a message"
        if c.get("description") is True:
            text += "; nội dung phản ánh được cập nhật" if vi else "; the report's text follows it"
        return text
    if kind == "delivery_failed":
        channel = _label(CHANNEL_LABELS, c.get("channel"), e.lang) if c.get("channel") in CHANNEL_LABELS else ""
        return (f"Gửi tin không thành công{' (' + channel + ')' if channel else ''}" if vi
                else f"A message could not be delivered{' (' + channel + ')' if channel else ''}")
    if kind == "delivery_replayed":
        return "Gửi lại tin nhắn lỗi" if vi else "A failed message was sent again"
    if kind == "media_fetched":
        size = _number(c.get("size"))
        kb = f", {max(1, round(int(size) / 1024))} KB" if size else ""
        return f"Đã tải tệp đính kèm{kb}" if vi else f"Attachment downloaded{kb}"
    if kind == "media_failed":
        return "Không tải được tệp đính kèm" if vi else "An attachment could not be downloaded"
    if kind == "rated":
        rating = _number(c.get("rating"))
        solved = c.get("solved")
        text = (f"Công dân đánh giá {rating}/5" if rating else "Công dân phản hồi kết quả") if vi else (
            f"The citizen rated the answer {rating}/5" if rating else "The citizen gave feedback")
        if isinstance(solved, bool):
            text += (" · đã giải quyết" if solved else " · chưa giải quyết") if vi else (
                " · solved" if solved else " · not solved")
        return text
    if kind in ("call_status", "recording"):
        status = c.get("status")
        label = _label(CALL_STATUSES, status, e.lang) if status in CALL_STATUSES else ""
        seconds = _number(c.get("duration_seconds"))
        what = ("Cuộc gọi" if vi else "Call") if kind == "call_status" else ("Ghi âm" if vi else "Recording")
        if kind == "recording" and status in ("completed", "failed", "absent"):
            label = {"completed": ("đã ghi xong", "complete"), "failed": ("lỗi", "failed"),
                     "absent": ("không có âm thanh", "silent")}[status][0 if vi else 1]
        text = f"{what}: {label}" if label else what
        return text + (f" ({seconds} {'giây' if vi else 's'})" if seconds else "")
    if kind == "assigned":
        before, after = _pair(c.get("assignee"))
        if after is not None:
            name = _person(after, e.people, e.lang)
            return f"Giao cho {name}" if vi else f"Assigned to {name}"
        if before is not None:
            name = _person(before, e.people, e.lang)
            return (f"Bỏ giao {name}, trả hồ sơ về hàng đợi" if vi
                    else f"Unassigned from {name}, back to the queue")
        return "Giao người xử lý" if vi else "Assigned to a person"
    if kind == "clock_paused":
        return "Tạm dừng thời hạn (chờ công dân)" if vi else "Clock paused (waiting for the citizen)"
    if kind == "clock_resumed":
        _, due = _pair(c.get("due_at"))
        due_text = _when(due)
        return ("Tiếp tục thời hạn" + (f", hạn mới {due_text}" if due_text else "") if vi
                else "Clock resumed" + (f", new deadline {due_text}" if due_text else ""))
    if kind == "duplicate_detected":
        pct = _percent(c.get("score"))
        return ("Phát hiện có thể trùng phản ánh trước" + (f" (mức giống {pct})" if pct else "") if vi
                else "Likely a duplicate of an earlier report" + (f" (score {pct})" if pct else ""))
    if kind == "duplicate_confirmed":
        return "Xác nhận trùng phản ánh trước" if vi else "Duplicate confirmed"
    if kind == "duplicate_unlinked":
        parent, _ = _pair(c.get("duplicate_of"))
        if parent is None:
            return "Không trùng: tách khỏi hồ sơ gốc" if vi else "Not a duplicate: unlinked from its original"
        code = _case_code(parent, e.cases)
        return f"Không trùng: tách khỏi hồ sơ {code}" if vi else f"Not a duplicate: unlinked from case {code}"
    if kind in ("field_corrected", "updated"):
        changed = _changed(c, units, e.lang, e)
        text = "Sửa thông tin" if vi else "Facts corrected"
        return f"{text}: {changed}" if changed else text
    if kind in ("sla_at_risk", "sla_overdue"):
        return (("Sắp trễ hạn" if kind == "sla_at_risk" else "Quá hạn xử lý") if vi
                else ("Deadline at risk" if kind == "sla_at_risk" else "Deadline passed"))
    if kind == "not_accepted":
        return "Đơn vị chưa tiếp nhận đúng hạn" if vi else "Not accepted by the unit in time"
    if kind in ("processing_replayed", "job_replayed"):
        return "Xử lý tự động lại" if vi else "Automatic processing run again"
    return "Cập nhật khác" if vi else "Other update"


def actor_label(name: str | None, kind: str | None, lang: str) -> str:
    if kind in ("system", "citizen") and (not name or name == kind):
        return _label(ACTOR_KINDS, kind, lang)
    return name or _label(ACTOR_KINDS, kind, lang)


def timeline(rows: Sequence[Mapping[str, Any]], lang: str, units: Mapping[str, str] | None = None, *,
             people: Mapping[int, str] | None = None, cases: Mapping[int, str] | None = None) -> list[TimelineEntry]:
    """The case's history as readable lines (a note's text kept apart, shown as the staff wrote it).

    `people` names staff by id and `cases` gives tracking codes by case id, for the events that name them.
    """
    out = []
    for e in rows:
        changes = dict(e["changes"] or {}) if isinstance(e["changes"], Mapping) else {}
        note = changes.get("text") if e["kind"] == "note" else None
        out.append(TimelineEntry(
            at=e["at"], kind=e["kind"], actor=actor_label(e["actor_name"], e["actor_kind"], lang), lang=lang,
            changes=changes, from_status=e["from_status"], to_status=e["to_status"], reason=e["reason"],
            note=str(note) if note is not None else None, public=e["public"], units=units, people=people,
            cases=cases,
        ))
    return out


def named_in(rows: Sequence[Mapping[str, Any]]) -> tuple[set[int], set[int]]:
    """The staff ids and the case ids the events name (assignees, duplicate links), to look their names up."""
    people: set[int] = set()
    cases: set[int] = set()
    for e in rows:
        changes = e["changes"] if isinstance(e["changes"], Mapping) else {}
        for key, found in (("assignee", people), ("duplicate_of", cases)):
            found.update(v for v in _pair(changes.get(key)) if isinstance(v, int) and not isinstance(v, bool))
    return people, cases


def facts(case: Mapping[str, Any], now: datetime, lang: str) -> dict[str, Any]:
    label, state = time_left(case["due_at"], now, lang, paused=case["clock_paused_at"] is not None)
    return {
        "status_label": _label(STATUS_LABELS, case["status"], lang),
        "ward": ward_name(case["ward_code"], lang),
        "unit": (case["department_name_vi"] if lang == "vi" else case["department_name_en"]) or "",
        "time_left": label, "deadline_state": state,
        "due_at": case["due_at"].isoformat() if case["due_at"] else "",
    }
