"""One case's reporting facts, projected from its event log alone: pure, no I/O.

The event log is the record (append-only, every move with its time); the `cases` row is only its
latest state. Reading the facts from the events is what lets a past period be recomputed and match
the cases it counts. The rules, event by event (the same in docs/metrics.md):

- received_at, channel: the `received` event (its `at`, `changes.channel`);
- field: the latest `classified` event or correction (`changes.field`, the after-value of a [before, after] pair);
- ward_code: the latest `geocoded` event or correction (`changes.ward_code`);
- unit: the latest `changes.department` of any event (`routed`, a move to forwarded, `transferred`, the
  return to triage after a rejection, a correction), None meaning the 1022 centre;
- forwarded_at: the first `routed` event or move to forwarded (a transfer is one);
- first_response_at: the first `reply` event (a reply from staff to the citizen);
- resolved_at: the first move to answered or closed; reopened_at: the first move to reopened after it;
- due_at: the deadline in force at resolved_at, the latest one when unresolved (`changes.due_at` of
  `routed`, of a move, of `clock_resumed`, of `transferred`);
- duplicate_at: the last move to duplicate, if the case is still a duplicate;
- rating, solved, rated_at: the latest `rated` event (the latest rating given as a number);
- *_work_min: working minutes on `clock` from receipt to the moment, minus the working minutes the
  clock was paused (`clock_paused` to `clock_resumed`).

Where the log lacks a value the `cases` row is used (said in docs/metrics.md): the receipt time and
channel of a case with no `received` event, and the deadline when no event carries one or when the
deadline in force was set by a transfer that did not log it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from routing.calendar import Clock

RESOLVED = frozenset({"answered", "closed"})


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the reports know of one case (a row of case_facts)."""

    case_id: int
    received_at: datetime
    channel: str
    field: str | None = None
    ward_code: str | None = None
    unit: str | None = None
    forwarded_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    reopened_at: datetime | None = None
    due_at: datetime | None = None
    duplicate_at: datetime | None = None
    rating: int | None = None
    solved: bool | None = None
    rated_at: datetime | None = None
    forward_work_min: float | None = None
    response_work_min: float | None = None
    resolution_work_min: float | None = None
    event_count: int = 0


def _after(value: Any) -> Any:
    """The after-value of a [before, after] change, or the value itself."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[1]
    return value


def _instant(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        found = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _work_minutes(clock: Clock, start: datetime, moment: datetime | None,
                  pauses: Sequence[tuple[datetime, datetime | None]]) -> float | None:
    """Working minutes from `start` to `moment`, without those that fell inside a pause (never below 0)."""
    if moment is None:
        return None
    total = clock.working_minutes_between(start, moment)
    for began, ended in pauses:
        a = max(began, start)
        b = moment if ended is None else min(ended, moment)
        if b > a:
            total -= clock.working_minutes_between(a, b)
    return max(total, 0.0)


def facts_from_events(case: Mapping[str, Any], events: Sequence[Mapping[str, Any]], clock: Clock) -> CaseFacts:
    """Project one case's facts from its events (any order: they are read by id).

    `case` is the cases row (id, created_at, channel, due_at: fallbacks only); each event has id, at,
    kind, from_status, to_status and changes. `clock` counts working minutes (the router's calendar).
    """
    received_at: datetime | None = None
    channel: str | None = None
    field = ward = unit = None
    forwarded_at = first_response_at = resolved_at = reopened_at = None
    status: str | None = None
    duplicate_at: datetime | None = None
    due: datetime | None = None
    due_known = False  # some event carried a deadline
    due_untold = False  # the deadline in force was set by a transfer that did not log it
    due_at_resolution: tuple[datetime | None, bool, bool] | None = None
    due_moved_after_resolution = False  # then the row's deadline is not the one in force at resolution
    rating: int | None = None
    solved: bool | None = None
    rated_at: datetime | None = None
    pauses: list[tuple[datetime, datetime | None]] = []

    ordered = sorted(events, key=lambda e: e["id"])
    for event in ordered:
        kind, at = event["kind"], event["at"]
        changes = event["changes"] or {}
        if kind == "received" and received_at is None:
            received_at = at
            channel = changes.get("channel") or None
        if "field" in changes and kind in ("classified", "field_corrected", "updated"):
            field = _after(changes["field"])
        if "ward_code" in changes and kind in ("geocoded", "field_corrected", "updated"):
            ward = _after(changes["ward_code"])
        if "department" in changes:
            unit = _after(changes["department"]) or None
        if "due_at" in changes:
            due, due_known, due_untold = _instant(_after(changes["due_at"])), True, False
            due_moved_after_resolution = due_at_resolution is not None
        elif kind == "transferred":
            due_untold = True
            due_moved_after_resolution = due_at_resolution is not None
        if forwarded_at is None and (kind == "routed" or event["to_status"] == "forwarded"):
            forwarded_at = at
        if first_response_at is None and kind == "reply":
            first_response_at = at
        if kind == "clock_paused" and not (pauses and pauses[-1][1] is None):
            pauses.append((at, None))
        if kind == "clock_resumed" and pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], max(at, pauses[-1][0]))
        if kind == "rated":
            if changes.get("rating") is not None:
                rating = int(changes["rating"])
            if changes.get("solved") is not None:
                solved = bool(changes["solved"])
            rated_at = at
        target = event["to_status"]
        if target:
            status = target
            if target == "duplicate":
                duplicate_at = at
            if resolved_at is None and target in RESOLVED:
                resolved_at = at
                due_at_resolution = (due, due_known, due_untold)
            elif resolved_at is not None and reopened_at is None and target == "reopened":
                reopened_at = at

    if received_at is None:
        received_at = case["created_at"]
    row_holds_it = True
    if due_at_resolution is not None:
        due, due_known, due_untold = due_at_resolution
        # The row still holds the deadline in force at resolution only if nothing moved it since.
        row_holds_it = not due_moved_after_resolution
    if row_holds_it and (not due_known or due_untold) and case.get("due_at") is not None:
        due = case["due_at"]
    return CaseFacts(
        case_id=case["id"],
        received_at=received_at,
        channel=channel or case["channel"],
        field=field,
        ward_code=ward,
        unit=unit,
        forwarded_at=forwarded_at,
        first_response_at=first_response_at,
        resolved_at=resolved_at,
        reopened_at=reopened_at,
        due_at=due,
        duplicate_at=duplicate_at if status == "duplicate" else None,
        rating=rating,
        solved=solved,
        rated_at=rated_at,
        forward_work_min=_work_minutes(clock, received_at, forwarded_at, pauses),
        response_work_min=_work_minutes(clock, received_at, first_response_at, pauses),
        resolution_work_min=_work_minutes(clock, received_at, resolved_at, pauses),
        event_count=len(ordered),
    )
