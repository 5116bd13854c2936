"""Case types: statuses, the lifecycle graph, roles and actors."""

from __future__ import annotations

from enum import StrEnum

import kernel.cases
from kernel import labels
from kernel.actors import CITIZEN, SYSTEM, Actor, Role

__all__ = ["CITIZEN", "SYSTEM", "Actor", "Role"]  # the actors are the kernel's; re-exported for casework's callers


class Status(StrEnum):
    RECEIVED = "received"
    TRIAGE = "triage"
    FORWARDED = "forwarded"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"
    DUPLICATE = "duplicate"


S = Status

# Which status may follow which. `rejected` is passed through on the way back to triage: a
# department refuses a case with a reason and the case returns to the triage queue at once.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.TRIAGE, S.FORWARDED, S.IN_PROGRESS, S.ANSWERED, S.CLOSED, S.DUPLICATE}),
    S.TRIAGE: frozenset({S.FORWARDED, S.IN_PROGRESS, S.ANSWERED, S.CLOSED, S.DUPLICATE}),
    S.FORWARDED: frozenset({S.IN_PROGRESS, S.REJECTED, S.ANSWERED, S.DUPLICATE}),
    S.IN_PROGRESS: frozenset({S.ANSWERED, S.REJECTED, S.DUPLICATE, S.TRIAGE}),
    S.ANSWERED: frozenset({S.CLOSED, S.REOPENED, S.IN_PROGRESS}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REJECTED: frozenset({S.TRIAGE}),
    S.REOPENED: frozenset({S.TRIAGE, S.FORWARDED, S.IN_PROGRESS, S.ANSWERED, S.CLOSED, S.DUPLICATE}),
    S.DUPLICATE: frozenset({S.REOPENED}),
}

# Moves that must say why.
REASON_REQUIRED = frozenset({S.REJECTED, S.REOPENED, S.DUPLICATE, S.CLOSED})

OPEN_STATUSES = frozenset(Status(s) for s in kernel.cases.OPEN_STATUSES)


def can_move(current: Status, target: Status) -> bool:
    """Tell whether the lifecycle allows current → target."""
    return target in TRANSITIONS[current]


STATUS_LABELS: dict[str, tuple[str, str]] = {
    "received": ("Đã tiếp nhận", "Received"),
    "triage": ("Đang phân loại", "Being sorted"),
    "forwarded": ("Đã chuyển đơn vị xử lý", "Forwarded to the responsible unit"),
    "in_progress": ("Đang xử lý", "In progress"),
    "answered": ("Đã trả lời", "Answered"),
    "closed": ("Đã đóng", "Closed"),
    "rejected": ("Đơn vị trả lại", "Returned by the unit"),
    "reopened": ("Mở lại", "Reopened"),
    "duplicate": ("Trùng với phản ánh khác", "Duplicate of another report"),
}

FIELD_LABELS = labels.FIELD_LABELS  # one table for every context (kernel.labels)

FIELDS = frozenset(FIELD_LABELS)
assert FIELDS == frozenset(kernel.cases.FIELD_CODES), "casework labels every field of the kernel's list"
