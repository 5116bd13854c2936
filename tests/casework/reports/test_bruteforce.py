"""Every SLA and DTI figure recomputed by brute force from the raw events of a few hundred generated cases.

The histories are written straight into cases and case_events with chosen times (seeded, so the same
every run) over five months: forwarded fast and slow, rejected, transferred (with and without the
deadline in the event), paused (and left paused), corrected, answered on time, late, after the
period or never, closed, reopened, duplicates (some unlinked), rated. The expected figures come from
a separate, plain reading of the rules in docs/metrics.md over those events: nothing of
casework.reports is used for them, only the calendar's list of working days.
"""

from __future__ import annotations

import math
import random
from dataclasses import astuple
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from casework.reports import periods
from casework.reports import store as reports_store
from casework.reports.sla import GROUPS, dti_report, sla_report
from kernel.time import LOCAL_TZ
from routing.calendar import BusinessCalendar
from tests.casework.reports.history import History, insert

CAL = BusinessCalendar.vietnam(range(2025, 2029))
NOW = datetime(2027, 4, 1, tzinfo=UTC)
FIRST = datetime(2026, 9, 1, tzinfo=LOCAL_TZ)
SPAN_DAYS = 150
CASES = 420
SEED = 1022
UNITS = ["so-xay-dung", "evn-hcmc", "ubnd-ben-thanh", "so-y-te", "cap-nuoc", "ubnd-26734"]
WARDS = ["26734", "26737", "27000", None]
FIELDS = ["trees", "electricity", "water_supply", "noise", "traffic", None]
CHANNELS = ["web", "sms", "voice", "telegram", "email", "chat", "open311", "zalo"]
ONLINE = {"web", "chat", "telegram", "email", "open311", "zalo"}
LEGAL_WORK_MIN = 10 * 480
MIN_HANDLED = 4


# --- the generated histories ------------------------------------------------------------------------

def _due(rng: random.Random, after: datetime) -> datetime:
    return after + timedelta(days=rng.choice([1, 2, 5, 10, 15]), hours=rng.randint(0, 9))


def generate(rng: random.Random) -> list[History]:  # noqa: C901 - one branch per path a case can take
    out = []
    for _ in range(CASES):
        received = FIRST + timedelta(seconds=rng.randint(0, SPAN_DAYS * 86400))
        h = History(received, rng.choice(CHANNELS))
        t = received + timedelta(seconds=rng.randint(5, 50))
        h.add(t, "classified", field=rng.choice(FIELDS))
        h.add(t, "geocoded", ward_code=rng.choice(WARDS))
        unit, due = None, None

        def step(low_min: float, high_min: float) -> datetime:
            nonlocal t
            t = t + timedelta(minutes=rng.uniform(low_min, high_min))
            return t

        if rng.random() < 0.1:  # a duplicate; a third of them are unlinked later and worked
            h.move(step(0, 2), "duplicate")
            if rng.random() < 2 / 3:
                out.append(h)
                continue
            h.add(step(60, 3000), "duplicate_unlinked", duplicate_of=[1, None])
            h.move(t, "reopened")
        way = rng.random()
        if way < 0.55:  # forwarded by the pipeline, within 5 minutes or a little over
            unit, due = rng.choice(UNITS), None
            at = received + timedelta(minutes=rng.choice([1, 3, 4.99, 5, 5.01, 7, 12]))
            t = max(t, at)
            due = _due(rng, t)
            h.add(t, "routed", department=unit, due_at=due.isoformat())
            h.move(t, "forwarded")
        elif way < 0.85:  # to triage, forwarded later by an agent
            h.move(step(0, 1), "triage")
            unit, due = rng.choice(UNITS), None
            due = _due(rng, step(5, 4000))
            h.move(t, "forwarded", department=[None, unit], due_at=[None, due.isoformat()])
        else:  # the 1022 centre keeps it: no unit, no deadline
            h.move(step(0, 1), "triage")
        if unit is not None and rng.random() < 0.1:  # rejected, back to triage, forwarded elsewhere
            h.move(step(30, 3000), "rejected").move(t, "triage", department=[unit, None])
            unit, old = rng.choice(UNITS), due
            due = _due(rng, step(10, 600))
            h.move(t, "forwarded", department=[None, unit], due_at=[old.isoformat() if old else None, due.isoformat()])
        if unit is not None and rng.random() < 0.15:  # transferred; the deadline logged or not
            new_unit, old = rng.choice([u for u in UNITS if u != unit]), due
            due = _due(rng, step(30, 5000))
            changes: dict[str, Any] = {"department": [unit, new_unit]}
            if rng.random() < 0.6:
                changes["due_at"] = [old.isoformat() if old else None, due.isoformat()]
            h.add(t, "transferred", to_status="forwarded", **changes)
            unit = new_unit
        if rng.random() < 0.25:
            h.add(step(1, 2000), "reply")
        if rng.random() < 0.2:  # the clock waits for the citizen; resumed with the deadline moved, or not
            h.add(step(10, 3000), "clock_paused")
            if rng.random() < 0.8:
                began = t
                step(30, 6000)
                if due is not None:
                    old, due = due, due + (t - began)
                    h.add(t, "clock_resumed", paused_seconds=1, due_at=[old.isoformat(), due.isoformat()])
                else:
                    h.add(t, "clock_resumed", paused_seconds=1)
        if rng.random() < 0.1:  # a person corrects the facts
            h.add(step(1, 600), "field_corrected", field=[None, rng.choice(FIELDS)],
                  ward_code=[None, rng.choice(WARDS)])
        if rng.random() < 0.05 and unit is not None:
            new_unit = rng.choice(UNITS)
            h.add(step(1, 600), "updated", department=[unit, new_unit])
            unit = new_unit
        if rng.random() < 0.3:
            h.add(step(1, 3000), "reply")
        if rng.random() < 0.8:  # answered (or closed), on time or late, maybe long after
            if rng.random() < 0.5:
                h.move(step(1, 600), "in_progress")
            h.move(step(60, rng.choice([3000, 15000, 40000])), "closed" if rng.random() < 0.1 else "answered")
            if rng.random() < 0.45:
                h.add(step(10, 3000), "rated", rating=rng.choice([1, 2, 3, 4, 5, None]),
                      solved=rng.random() < 0.7, channel="sms")
            if rng.random() < 0.25:
                h.move(step(10, 5000), "reopened")
                if due is not None and rng.random() < 0.5:
                    old, due = due, _due(rng, t)
                    h.move(step(1, 60), "forwarded", due_at=[old.isoformat(), due.isoformat()])
                if rng.random() < 0.6:
                    h.move(step(60, 9000), "answered")
                    if rng.random() < 0.5:
                        h.add(step(10, 3000), "rated", rating=rng.choice([1, 3, 5]), solved=True, channel="web")
        if rng.random() < 0.03:  # linked as a duplicate late in its life
            h.move(step(10, 900), "duplicate")
        h.row["due_at"] = due  # the row holds the latest deadline, logged or not
        out.append(h)
    return out


# --- the plain reading of the rules ------------------------------------------------------------------

def _after(value: Any) -> Any:
    return value[1] if isinstance(value, list) else value


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def working_minutes(a: datetime, b: datetime) -> float:
    """Working minutes in [a, b]: office hours on the calendar's working days, summed day by day."""
    if b <= a:
        return 0.0
    total = 0.0
    day: date = a.astimezone(LOCAL_TZ).date()
    while day <= b.astimezone(LOCAL_TZ).date():
        if CAL.is_working_day(day):
            for start, end in ((time(7, 30), time(11, 30)), (time(13, 0), time(17, 0))):
                lo = max(a, datetime.combine(day, start, LOCAL_TZ))
                hi = min(b, datetime.combine(day, end, LOCAL_TZ))
                if hi > lo:
                    total += (hi - lo).total_seconds() / 60
        day += timedelta(days=1)
    return total


def expected_facts(h: History) -> dict[str, Any]:
    ev = [{"n": n, "at": at, "kind": kind, "to": to, "changes": changes}
          for n, (at, kind, _, to, changes) in enumerate(h.events)]
    received = next(e for e in ev if e["kind"] == "received")

    def last_value(key: str, kinds: tuple[str, ...] | None) -> Any:
        found = [_after(e["changes"][key]) for e in ev
                 if key in e["changes"] and (kinds is None or e["kind"] in kinds)]
        return found[-1] if found else None

    resolving = next((e for e in ev if e["to"] in ("answered", "closed")), None)
    reopening = next((e for e in ev if resolving and e["n"] > resolving["n"] and e["to"] == "reopened"), None)
    moves = [e for e in ev if e["to"]]
    duplicate_at = max(e["at"] for e in moves if e["to"] == "duplicate") if moves[-1]["to"] == "duplicate" else None

    def moves_deadline(e: dict[str, Any]) -> bool:
        return "due_at" in e["changes"] or e["kind"] == "transferred"

    upto = [e for e in ev if resolving is None or e["n"] <= resolving["n"]]
    told = [e for e in upto if "due_at" in e["changes"]]
    value = _instant(_after(told[-1]["changes"]["due_at"])) if told else None
    movers = [e for e in upto if moves_deadline(e)]
    untold = not told or "due_at" not in movers[-1]["changes"]
    row_still_right = resolving is None or not any(e["n"] > resolving["n"] and moves_deadline(e) for e in ev)
    row_due = h.row.get("due_at")
    due = row_due if untold and row_still_right and row_due is not None else value

    pauses, open_pause = [], None
    for e in ev:
        if e["kind"] == "clock_paused" and open_pause is None:
            open_pause = e["at"]
        elif e["kind"] == "clock_resumed" and open_pause is not None:
            pauses.append((open_pause, e["at"]))
            open_pause = None
    if open_pause is not None:
        pauses.append((open_pause, None))

    def work(moment: datetime | None) -> float | None:
        if moment is None:
            return None
        paused = sum(working_minutes(max(a, received["at"]), min(b or moment, moment)) for a, b in pauses)
        return max(working_minutes(received["at"], moment) - paused, 0.0)

    ratings = [e for e in ev if e["kind"] == "rated"]
    numbers = [e["changes"]["rating"] for e in ratings if e["changes"].get("rating") is not None]
    forwarded = next((e["at"] for e in ev if e["kind"] == "routed" or e["to"] == "forwarded"), None)
    response = next((e["at"] for e in ev if e["kind"] == "reply"), None)
    resolved = resolving["at"] if resolving else None
    return {
        "received_at": received["at"], "channel": received["changes"]["channel"],
        "field": last_value("field", ("classified", "field_corrected", "updated")),
        "ward": last_value("ward_code", ("geocoded", "field_corrected", "updated")),
        "unit": last_value("department", None) or None,
        "forwarded_at": forwarded, "first_response_at": response, "resolved_at": resolved,
        "reopened_at": reopening["at"] if reopening else None, "due_at": due, "duplicate_at": duplicate_at,
        "rating": numbers[-1] if numbers else None,
        "solved": ratings[-1]["changes"]["solved"] if ratings else None,
        "rated_at": ratings[-1]["at"] if ratings else None,
        "forward_work": work(forwarded), "response_work": work(response), "resolution_work": work(resolved),
    }


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks: PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def expected_figures(cases: list[dict[str, Any]], cut: datetime) -> dict[str, Any]:
    def before(moment: datetime | None) -> bool:
        return moment is not None and moment < cut

    duplicates = [c for c in cases if before(c["duplicate_at"])]
    live = [c for c in cases if not before(c["duplicate_at"])]
    handled = [c for c in live if before(c["resolved_at"])]
    on_time = [c for c in handled if c["due_at"] is not None and c["resolved_at"] <= c["due_at"]]
    late = [c for c in handled if c["due_at"] is not None and c["resolved_at"] > c["due_at"]]
    overdue_open = [c for c in live if not before(c["resolved_at"]) and before(c["due_at"])]
    forwarded = [c for c in live if before(c["forwarded_at"])]
    fast = [c for c in forwarded if c["forwarded_at"] - c["received_at"] <= timedelta(minutes=5)]
    rated = [c for c in live if before(c["rated_at"])]
    numbers = [c["rating"] for c in rated if c["rating"] is not None]
    answered = [c["solved"] for c in rated if c["solved"] is not None]
    online = [c for c in live if c["channel"] in ONLINE]
    within = [c for c in handled if c["resolution_work"] <= LEGAL_WORK_MIN]

    def durations(moment: str, work: str) -> tuple:
        reached = [c for c in live if before(c[moment])]
        clock = [(c[moment] - c["received_at"]).total_seconds() / 60 for c in reached]
        worked = [c[work] for c in reached]
        return (len(reached), percentile(clock, 0.5), percentile(clock, 0.9), percentile(worked, 0.5),
                percentile(worked, 0.9), mean(clock), mean(worked))

    reopened = [c for c in live if before(c["reopened_at"])]
    return {
        "received": len(live), "handled": len(handled), "handled_on_time": len(on_time), "handled_late": len(late),
        "overdue_open": len(overdue_open), "overdue": len(late) + len(overdue_open),
        "in_progress": len(live) - len(handled), "no_deadline": sum(c["due_at"] is None for c in live),
        "duplicates": len(duplicates), "on_time_rate": share(len(on_time), len(on_time) + len(late)),
        "forwarded": len(forwarded), "forwarded_within_5min": len(fast), "forward_rule_rate": share(len(fast),
                                                                                                     len(forwarded)),
        "time_to_forward": durations("forwarded_at", "forward_work"),
        "first_response": durations("first_response_at", "response_work"),
        "resolution": durations("resolved_at", "resolution_work"),
        "reopened": len(reopened), "reopen_rate": share(len(reopened), len(handled)),
        "ratings": len(rated), "rating_mean": mean(numbers), "satisfied_share": share(sum(n >= 4 for n in numbers),
                                                                                     len(numbers)),
        "solved_share": share(sum(answered), len(answered)), "online": len(online),
        "online_share": share(len(online), len(live)), "within_legal_limit": len(within),
        "within_legal_rate": share(len(within), len(handled)),
    }


def actual(figures: Any) -> dict[str, Any]:
    out = {name: getattr(figures, name) for name in figures.__dataclass_fields__ if name != "key"}
    for name in ("time_to_forward", "first_response", "resolution"):
        out[name] = astuple(out[name])
    return out


def same(got: Any, want: Any) -> bool:
    if isinstance(want, tuple):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return got == want and type(got) is type(want)


def assert_same(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    wrong = {k: (got[k], want[k]) for k in want if not same(got[k], want[k])}
    assert not wrong, f"{where}: {wrong}"


GROUP_FACT = {"unit": "unit", "field": "field", "channel": "channel", "ward": "ward"}
PERIODS = [
    (periods.monthly(2026, 11), NOW),
    (periods.between("2026-10-05", "2026-12-20"), NOW),
    (periods.quarter(2026, 4), NOW),
    (periods.monthly(2027, 1), datetime(2027, 1, 10, 5, tzinfo=UTC)),  # not over yet: as of now
]


@pytest.fixture
async def generated(pool, units) -> list[dict[str, Any]]:
    await pool.executemany("INSERT INTO departments (code, name_vi, name_en, kind, ward_code) VALUES ($1, $2, $3, $4,"
                           " $5)", [("so-y-te", "Sở Y tế", "Department of Health", "department", None),
                                    ("cap-nuoc", "Sawaco", "Sawaco", "utility", None),
                                    ("ubnd-26734", "UBND phường Sài Gòn", "Sai Gon Ward People's Committee", "ward",
                                     "26734")])
    histories = generate(random.Random(SEED))
    await insert(pool, histories)
    assert await reports_store.refresh_facts(pool, CAL) == CASES
    return [expected_facts(h) for h in histories]


async def test_every_figure_matches_a_brute_force_count(pool, generated):
    checked = 0
    for period, now in PERIODS:
        cut = min(period.end, now)
        counted = [c for c in generated if period.start <= c["received_at"] < period.end]
        assert len(counted) > 50, period  # every period holds enough cases to mean something
        for by in GROUPS:
            report = await sla_report(pool, period, by, clock=CAL, now=now, min_handled=MIN_HANDLED)
            assert (report.as_of, report.period) == (cut, period)
            assert_same(actual(report.total), expected_figures(counted, cut), f"{period.label} total")
            groups: dict[Any, list[dict[str, Any]]] = {}
            for c in counted:
                groups.setdefault(c[GROUP_FACT[by]], []).append(c)
            assert {f.key for f in report.rows} == set(groups), f"{period.label} by {by}"
            for f in report.rows:
                assert_same(actual(f), expected_figures(groups[f.key], cut), f"{period.label} {by}={f.key}")
                assert f.key in report.names
                checked += 1
            received = [f.received for f in report.rows]
            assert received == sorted(received, reverse=True)
            if by == "unit":
                assert report.ranking is not None
                eligible = []
                for key, cases in groups.items():
                    fig = expected_figures(cases, cut)
                    if key is not None and fig["handled"] >= MIN_HANDLED and fig["on_time_rate"] is not None:
                        eligible.append((-fig["on_time_rate"], -fig["handled"], key))
                want = [key for *_, key in sorted(eligible)]
                assert [r.key for r in report.ranking.ranked] == want
                assert [r.key for r in report.ranking.top] == want[:5]
                assert [r.key for r in report.ranking.bottom] == list(reversed(want[-5:]))
                assert len(want) >= 3
    assert checked >= 100


async def test_dti_figures_match_a_brute_force_count(pool, generated):
    period, now = periods.quarter(2026, 4), NOW
    counted = [c for c in generated if period.start <= c["received_at"] < period.end]
    rows = await dti_report(pool, period, clock=CAL, now=now)
    units: dict[Any, list[dict[str, Any]]] = {}
    for c in counted:
        if c["unit"] is not None:
            units.setdefault(c["unit"], []).append(c)
    cut = min(period.end, now)
    assert [r.unit for r in rows] == [None, *sorted(units, key=lambda u: (-expected_figures(units[u], cut)["received"],
                                                                          u))]
    for row in rows:
        fig = expected_figures(counted if row.unit is None else units[row.unit], cut)
        want = {"received": fig["received"], "on_time_rate": fig["on_time_rate"],
                "avg_handling_work_hours": fig["resolution"][6] / 60 if fig["resolution"][6] is not None else None,
                "online_share": fig["online_share"], "satisfaction": fig["rating_mean"],
                "reopen_rate": fig["reopen_rate"], "within_legal_rate": fig["within_legal_rate"]}
        assert_same({k: getattr(row, k) for k in want}, want, f"DTI {row.unit}")
        assert row.period_label == "2026-Q4"


async def test_the_generated_histories_take_every_path(generated):
    """The generator must keep producing the cases the comparison is about, or the test proves little."""
    def count(check) -> int:
        return sum(1 for c in generated if check(c))

    assert count(lambda c: c["duplicate_at"] is not None) >= 10
    assert count(lambda c: c["reopened_at"] is not None) >= 20
    assert count(lambda c: c["rating"] is not None) >= 30
    assert count(lambda c: c["resolved_at"] is None) >= 30
    assert count(lambda c: c["due_at"] is not None and c["resolved_at"] and c["resolved_at"] > c["due_at"]) >= 20
    assert count(lambda c: c["due_at"] is not None and c["resolved_at"] and c["resolved_at"] <= c["due_at"]) >= 20
    assert count(lambda c: c["forwarded_at"] and c["forwarded_at"] - c["received_at"] <= timedelta(minutes=5)) >= 50
    assert count(lambda c: c["forwarded_at"] and c["forwarded_at"] - c["received_at"] > timedelta(minutes=5)) >= 50
    assert count(lambda c: c["resolution_work"] is not None and c["resolution_work"] > LEGAL_WORK_MIN) >= 10
    assert count(lambda c: c["unit"] is None) >= 20
