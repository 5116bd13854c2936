"""Service levels as data, and the pure deadline arithmetic on them.

A `Policy` holds three budgets in minutes for one field (None: the fallback) and one priority:
time to forward, to first response and to resolution. Which clock each budget runs on:

- `forward_minutes` always runs 24/7. Forwarding within 5 minutes is a duty of the hotline centre,
  which is staffed around the clock, so a case received on Saturday night is due to be forwarded
  five minutes later, not on Monday morning.
- `first_response_minutes` and `resolution_minutes` run on the policy's `calendar`: "business"
  (the working hours and holidays of the `BusinessCalendar` passed in) or "24x7" (every minute).
  Normal cases use "business", urgent ones "24x7" (dangerous incidents: 3 hours, day and night).

This keeps one calendar column per policy (as in `sla_policies`) and still puts the centre's duty on
the centre's clock. A pause (the case waits for the citizen) stops every clock: the deadline moves
by the clock time that fell inside the pause.

Defaults, from the 1022 rules (2025) unless marked as a house choice:
- forward 5 minutes (24/7);
- resolution 10 working days; 15 for fields where several agencies usually coordinate
  (urban_order: ward People's Committee, construction inspectorate and police on encroachment and
  unlicensed building; environment: the environment department, ward and environmental police);
  5 working days for technical-infrastructure faults (roads and pavements, water supply, drainage,
  lighting, trees, power, telecom);
- first response 1 working day for a known unit (house choice: the rules set no such term), and
  60 minutes for the fallback policy (responsible unit unclear: the centre guides the citizen within
  1 hour), counted on the business calendar like the rest of a normal policy;
- urgent, every field: forward 5 minutes, first response 30 minutes, resolution 3 hours, 24/7.
Not modelled here: a unit that receives an item outside its remit transfers it within 5 working
days (Decree 20/2008/NĐ-CP); that is a deadline on the re-routing, not on the case's service level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from routing.calendar import AroundTheClock, Clock

AT_RISK_FRACTION = 0.8

FIELDS = ("admin_procedures", "urban_infrastructure", "traffic", "public_transport", "water_supply",
          "drainage_flooding", "public_lighting", "trees", "electricity", "telecom", "urban_order",
          "environment", "noise", "security", "health")
TECHNICAL_INFRASTRUCTURE = frozenset({"urban_infrastructure", "drainage_flooding", "public_lighting", "water_supply",
                                      "electricity", "trees", "telecom"})
SEVERAL_AGENCIES = frozenset({"urban_order", "environment"})

_WORKING_DAY = 480  # minutes of office hours in a working day


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class ClockName(StrEnum):
    BUSINESS = "business"
    AROUND_THE_CLOCK = "24x7"


class DeadlineKind(StrEnum):
    FORWARD = "forward"
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


@dataclass(frozen=True, slots=True)
class Policy:
    id: int | str  # the database id, or a name for the shipped defaults
    field: str | None
    priority: Priority
    forward_minutes: int
    first_response_minutes: int
    resolution_minutes: int
    calendar: ClockName
    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "priority", Priority(self.priority))
        object.__setattr__(self, "calendar", ClockName(self.calendar))
        for kind in DeadlineKind:
            if self.budget(kind) < 0:
                raise ValueError(f"policy {self.id}: {kind} budget must not be negative")

    def budget(self, kind: DeadlineKind | str) -> int:
        """Return the budget in minutes for `kind`."""
        kind = DeadlineKind(kind)
        if kind is DeadlineKind.FORWARD:
            return self.forward_minutes
        if kind is DeadlineKind.FIRST_RESPONSE:
            return self.first_response_minutes
        return self.resolution_minutes

    def clock_name(self, kind: DeadlineKind | str) -> ClockName:
        """Return the clock `kind` runs on: forwarding always 24/7, the rest on the policy's calendar."""
        return ClockName.AROUND_THE_CLOCK if DeadlineKind(kind) is DeadlineKind.FORWARD else self.calendar


@dataclass(frozen=True, slots=True)
class Deadline:
    kind: DeadlineKind
    due_at: datetime
    explanation_vi: str
    explanation_en: str


Pause = tuple[datetime, datetime | None]


def policy_for(policies: Iterable[Policy], field: str | None, priority: Priority | str) -> Policy:
    """Return the policy for (field, priority), else the fallback (field None) of that priority."""
    priority = Priority(priority)
    fallback = None
    for p in policies:
        if p.priority is priority:
            if p.field == field:
                return p
            if p.field is None:
                fallback = p
    if fallback is None:
        raise LookupError(f"no SLA policy for {field!r}/{priority} and no fallback")
    return fallback


def _clock(policy: Policy, kind: DeadlineKind, calendar: Clock) -> Clock:
    if policy.clock_name(kind) is ClockName.AROUND_THE_CLOCK:
        return AroundTheClock(calendar.tz)
    return calendar


def _pause_spans(pauses: Sequence[Pause], opened_at: datetime,
                 now: datetime | None) -> tuple[list[list[datetime]], bool]:
    """Clip pauses to after opening, close open ones at `now`, merge overlaps; say if one is open."""
    spans = []
    open_pause = False
    for start, end in pauses:
        if end is None:
            if now is None:
                raise ValueError("an open pause (end None) needs `now`")
            end, open_pause = now, True
        if end < start:
            raise ValueError(f"a pause ends before it starts: {start} > {end}")
        start = max(start, opened_at)
        if end > start:
            spans.append((start, end))
    spans.sort()
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged, open_pause


def due_at(policy: Policy, opened_at: datetime, calendar: Clock, *, kind: DeadlineKind | str = "resolution",
           pauses: Sequence[Pause] = (), now: datetime | None = None) -> Deadline:
    """Compute when `kind` is due for a case opened at `opened_at`, with a bilingual explanation.

    `calendar` is the business calendar; 24/7 budgets (forwarding, urgent policies) ignore it except for
    its time zone. Each pause that starts before the deadline moves it by the clock time inside the pause.
    An open pause (end None) runs until `now`, which is then required: the result is provisional and
    moves on while the citizen has not answered.
    """
    kind = DeadlineKind(kind)
    clock = _clock(policy, kind, calendar)
    budget = policy.budget(kind)
    due = clock.add_working_minutes(opened_at, budget)
    paused = 0.0
    provisional = False
    spans, open_pause = _pause_spans(pauses, opened_at, now)
    for start, end in spans:
        if start >= due:
            break
        paused += clock.working_minutes_between(start, end)
        due = clock.add_working_minutes(opened_at, budget + paused)
        provisional = provisional or (open_pause and end == now)
    return Deadline(kind, due, *_explain(policy, kind, clock, opened_at, due, paused,
                                         now if provisional else None))


def elapsed_fraction(policy: Policy, opened_at: datetime, now: datetime, calendar: Clock, *,
                     kind: DeadlineKind | str = "resolution", pauses: Sequence[Pause] = ()) -> float:
    """Return the share of the budget used at `now` (pauses excluded); 1.0 is due, over 1.0 overdue."""
    kind = DeadlineKind(kind)
    clock = _clock(policy, kind, calendar)
    budget = policy.budget(kind)
    if budget == 0:
        return 1.0
    if now <= opened_at:
        return 0.0
    # Sum the running stretches rather than subtract the pauses, so the share stays flat, to the bit,
    # while the case is paused.
    used = 0.0
    running_since = opened_at
    for start, end in _pause_spans(pauses, opened_at, now)[0]:
        if start >= now:
            break
        used += clock.working_minutes_between(running_since, start)
        running_since = max(end, running_since)
    if running_since < now:
        used += clock.working_minutes_between(running_since, now)
    return used / budget


# -- explanations ---------------------------------------------------------------------------------

_KIND = {
    DeadlineKind.FORWARD: ("Hạn chuyển xử lý", "Forwarding due"),
    DeadlineKind.FIRST_RESPONSE: ("Hạn phản hồi đầu tiên", "First response due"),
    DeadlineKind.RESOLUTION: ("Hạn giải quyết", "Resolution due"),
}


def _num(n: int, lang: str) -> str:
    return f"{n:,}".replace(",", "." if lang == "vi" else ",")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _budget_text(minutes: int, clock: Clock) -> tuple[str, str]:
    business = clock.name == "business"
    work_vi, work_en = (" làm việc", "working ") if business else ("", "")
    day = clock.day_minutes
    unit_vi = f"phút{work_vi}"
    unit_en = f"{work_en}minute{'' if minutes == 1 else 's'}"
    if minutes and minutes % day == 0:
        n = minutes // day
        head = (f"{n} ngày{work_vi}", _plural(n, f"{work_en}day"))
    elif minutes and minutes % 60 == 0:
        n = minutes // 60
        head = (f"{n} giờ{work_vi}", _plural(n, f"{work_en}hour"))
    else:
        head = None
    vi_count, en_count = f"{_num(minutes, 'vi')} {unit_vi}", f"{_num(minutes, 'en')} {unit_en}"
    if head is None:
        return f"{vi_count} ({clock.describe('vi')})", f"{en_count} ({clock.describe('en')})"
    return (f"{head[0]} ({vi_count}, {clock.describe('vi')})", f"{head[1]} ({en_count}, {clock.describe('en')})")


def _duration(minutes: float) -> tuple[str, str]:
    whole = round(minutes)
    if whole == 0:
        return "dưới 1 phút", "under a minute"
    hours, mins = divmod(whole, 60)
    vi = " ".join(p for p in (f"{hours} giờ" if hours else "", f"{mins} phút" if mins else "") if p)
    en = " ".join(p for p in (f"{hours} h" if hours else "", f"{mins} min" if mins else "") if p)
    return vi, en


def _at(dt: datetime, clock: Clock) -> str:
    t = dt.astimezone(clock.tz)
    hm = f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}" if t.second else f"{t.hour:02d}:{t.minute:02d}"
    return f"{hm} {t.day:02d}/{t.month:02d}/{t.year}"


def _span(first: date, last: date) -> str:
    end = f"{last.day:02d}/{last.month:02d}/{last.year}"
    if first == last:
        return end
    start = f"{first.day:02d}/{first.month:02d}" + (f"/{first.year}" if first.year != last.year else "")
    return f"{start}–{end}"


def _explain(policy: Policy, kind: DeadlineKind, clock: Clock, opened_at: datetime, due: datetime,
             paused: float, provisional_at: datetime | None) -> tuple[str, str]:
    budget_vi, budget_en = _budget_text(policy.budget(kind), clock)
    label_vi, label_en = _KIND[kind]
    vi = [f"{label_vi} {budget_vi} tính từ {_at(opened_at, clock)}"]
    en = [f"{label_en} in {budget_en} counted from {_at(opened_at, clock)}"]
    started = clock.next_working_time(opened_at)
    if started > opened_at:
        vi[0] += f" (đồng hồ bắt đầu chạy lúc {_at(started, clock)})"
        en[0] += f" (the clock starts at {_at(started, clock)})"
    days_off = clock.days_off_between(opened_at, due)
    if days_off:
        vi.append("bỏ qua nghỉ " + ", ".join(f"{r.name_vi} {_span(r.first, r.last)}" for r in days_off))
        en.append("skipping " + ", ".join(f"{r.name_en} {_span(r.first, r.last)}" for r in days_off))
    extra = clock.extra_working_days_between(opened_at, due)
    if extra:
        vi.append("tính cả ngày làm bù " + ", ".join(_span(d, d) for d in extra))
        en.append("counting the make-up working day " + ", ".join(_span(d, d) for d in extra))
    if paused > 0:
        d_vi, d_en = _duration(paused)
        work_vi, work_en = (" làm việc", " of working time") if clock.name == "business" else ("", "")
        vi.append(f"cộng {d_vi}{work_vi} tạm dừng chờ người dân bổ sung")
        en.append(f"plus {d_en}{work_en} paused waiting for the citizen")
        if provisional_at is not None:
            vi[-1] += f" (người dân chưa bổ sung, tạm tính đến {_at(provisional_at, clock)})"
            en[-1] += f" (the citizen has not replied yet; counted up to {_at(provisional_at, clock)})"
    tz = clock.tz.key
    source_vi = f" Căn cứ: {policy.source}." if policy.source else ""
    source_en = f" Source: {policy.source}." if policy.source else ""
    return (f"{'; '.join(vi)} → {_at(due, clock)} (giờ {tz}).{source_vi}",
            f"{'; '.join(en)} → {_at(due, clock)} ({tz} time).{source_en}")


# -- defaults -------------------------------------------------------------------------------------

_FORWARD = "forward within 5 minutes, 24/7"
_SOURCES = {
    "normal": "1022 rules (2025): the unit answers within 10 working days; " + _FORWARD
              + "; first response within 1 working day (house choice)",
    "several": "1022 rules (2025): 15 working days when several agencies coordinate; " + _FORWARD
               + "; first response within 1 working day (house choice)",
    "technical": "1022 rules (2025): technical-infrastructure faults fixed within 5 working days; " + _FORWARD
                 + "; first response within 1 working day (house choice)",
    "fallback": "1022 rules (2025): responsible unit unclear, the centre guides the citizen within 1 hour;"
                " the unit answers within 10 working days; " + _FORWARD,
    "urgent": "1022 rules (2025): dangerous incidents handled within 3 hours, 24/7; " + _FORWARD
              + "; first response within 30 minutes (house choice)",
}


def default_policies() -> list[Policy]:
    """Return the default policies: every field and the fallback (field None), normal and urgent."""
    out = []
    for field in (*FIELDS, None):
        name = field or "fallback"
        if field is None:
            days, first, source = 10, 60, _SOURCES["fallback"]
        elif field in TECHNICAL_INFRASTRUCTURE:
            days, first, source = 5, _WORKING_DAY, _SOURCES["technical"]
        elif field in SEVERAL_AGENCIES:
            days, first, source = 15, _WORKING_DAY, _SOURCES["several"]
        else:
            days, first, source = 10, _WORKING_DAY, _SOURCES["normal"]
        out.append(Policy(f"{name}.normal", field, Priority.NORMAL, 5, first, days * _WORKING_DAY,
                          ClockName.BUSINESS, source))
        out.append(Policy(f"{name}.urgent", field, Priority.URGENT, 5, 30, 180, ClockName.AROUND_THE_CLOCK,
                          _SOURCES["urgent"]))
    return out

