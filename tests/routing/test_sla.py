from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import holidays
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kernel.time import LOCAL_TZ
from routing.calendar import OVERRIDES_CSV, AroundTheClock, BusinessCalendar, load_overrides
from routing.sla import (
    FIELDS,
    Policy,
    default_policies,
    due_at,
    elapsed_fraction,
    policy_for,
)

HCM = LOCAL_TZ
CAL = BusinessCalendar.vietnam(range(2025, 2030))
PROPERTY = settings(derandomize=True, max_examples=200, deadline=None)

# An independent reading of the rules, to check the calendar against: the package's holidays, its make-up
# Saturdays, Mon–Fri, 07:30–11:30 and 13:00–17:00 local time.
VN = holidays.VN(years=range(2025, 2030))
MAKE_UP = set(VN.weekend_workdays)
PERIODS = ((time(7, 30), time(11, 30)), (time(13, 0), time(17, 0)))

instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31, 23, 59),
                        timezones=st.sampled_from([UTC, HCM]))
budgets = st.integers(min_value=1, max_value=30 * 480)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=HCM)


def oracle_working_day(day: date) -> bool:
    return day in MAKE_UP or (day.weekday() < 5 and day not in VN)


def oracle_minutes_between(a: datetime, b: datetime) -> float:
    total = timedelta()
    day = a.astimezone(HCM).date()
    while day <= b.astimezone(HCM).date():
        if oracle_working_day(day):
            for s, e in PERIODS:
                lo = max(datetime.combine(day, s, HCM), a)
                hi = min(datetime.combine(day, e, HCM), b)
                if hi > lo:
                    total += hi - lo
        day += timedelta(days=1)
    return total / timedelta(minutes=1)


def business(minutes: int, first_response: int = 480) -> Policy:
    return Policy("test.normal", "traffic", "normal", 5, first_response, minutes, "business", "test rule")


def around_the_clock(minutes: int) -> Policy:
    return Policy("test.urgent", "traffic", "urgent", 5, 30, minutes, "24x7", "test rule")


# -- the business calendar --------------------------------------------------------------------------

@PROPERTY
@given(opened=instants, budget=budgets)
def test_business_deadline_is_inside_working_time_or_at_a_period_end(opened, budget):
    due = CAL.add_working_minutes(opened, budget)
    assert due.utcoffset() == timedelta(0)
    at = due.astimezone(HCM)
    assert oracle_working_day(at.date()), at
    assert any(s < at.time() <= e for s, e in PERIODS), at
    assert CAL.is_working_time(due) or at.time() in (time(11, 30), time(17, 0))


@PROPERTY
@given(opened=instants, budget=budgets)
def test_working_minutes_between_is_the_exact_inverse_of_add(opened, budget):
    due = CAL.add_working_minutes(opened, budget)
    assert CAL.working_minutes_between(opened, due) == budget
    assert oracle_minutes_between(opened, due) == budget


@PROPERTY
@given(a=instants, span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)))
def test_working_minutes_between_matches_a_day_by_day_count(a, span):
    assert CAL.working_minutes_between(a, a + span) == oracle_minutes_between(a, a + span)
    assert CAL.working_minutes_between(a + span, a) == -oracle_minutes_between(a, a + span)


@PROPERTY
@given(dt=instants)
def test_next_working_time_is_the_first_working_instant(dt):
    nxt = CAL.next_working_time(dt)
    assert nxt >= dt and CAL.is_working_time(nxt)
    assert CAL.working_minutes_between(dt, nxt) == 0
    if CAL.is_working_time(dt):
        assert nxt == dt


def test_office_hours_and_breaks():
    assert CAL.is_working_time(local(2026, 11, 26, 7, 30))
    assert not CAL.is_working_time(local(2026, 11, 26, 7, 29))
    assert not CAL.is_working_time(local(2026, 11, 26, 11, 30))
    assert not CAL.is_working_time(local(2026, 11, 26, 12, 0))
    assert not CAL.is_working_time(local(2026, 11, 28, 9, 0))  # Saturday
    assert not CAL.is_working_time(local(2026, 11, 24, 9, 0))  # Vietnam Cultural Day
    assert CAL.next_working_time(local(2026, 11, 26, 11, 30)) == local(2026, 11, 26, 13, 0)
    assert CAL.next_working_time(local(2026, 11, 27, 17, 0)) == local(2026, 11, 30, 7, 30)


def test_a_budget_ending_at_a_break_is_due_at_the_break():
    assert CAL.add_working_minutes(local(2026, 11, 26, 7, 30), 240) == local(2026, 11, 26, 11, 30)
    assert CAL.add_working_minutes(local(2026, 11, 26, 7, 30), 241) == local(2026, 11, 26, 13, 1)
    assert CAL.add_working_minutes(local(2026, 11, 27, 13, 0), 240) == local(2026, 11, 27, 17, 0)
    assert CAL.add_working_minutes(local(2026, 11, 27, 20, 0), 0) == local(2026, 11, 30, 7, 30)


def test_results_are_in_utc_and_naive_datetimes_are_refused():
    due = CAL.add_working_minutes(local(2026, 11, 26, 9, 0), 60)
    assert due.tzinfo is UTC and due == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        CAL.add_working_minutes(datetime(2026, 11, 26, 9, 0), 60)


# -- Tết and make-up days ---------------------------------------------------------------------------

def test_tet_2027_is_skipped():
    deadline = due_at(business(480), local(2027, 2, 3, 16, 0), CAL)
    assert deadline.due_at == local(2027, 2, 11, 16, 0)
    assert "Tết Nguyên Đán 04/02–10/02/2027" in deadline.explanation_vi
    assert "16:00 03/02/2027" in deadline.explanation_vi and "16:00 11/02/2027" in deadline.explanation_vi
    assert "Lunar New Year 04/02–10/02/2027" in deadline.explanation_en


@PROPERTY
@given(opened=st.datetimes(min_value=datetime(2027, 2, 1), max_value=datetime(2027, 2, 10, 23, 59),
                           timezones=st.just(HCM)),
       budget=st.integers(min_value=1, max_value=3 * 480))
def test_no_business_deadline_falls_in_tet_2027(opened, budget):
    due = due_at(business(budget), opened, CAL).due_at.astimezone(HCM)
    assert not date(2027, 2, 4) <= due.date() <= date(2027, 2, 10)


def test_package_make_up_saturday_counts_and_is_named():
    assert CAL.is_working_time(local(2026, 8, 22, 8, 0))  # worked for Monday 31/08/2026
    assert not CAL.is_working_time(local(2026, 8, 31, 8, 0))
    deadline = due_at(business(2 * 480), local(2026, 8, 21, 8, 0), CAL)
    assert deadline.due_at == local(2026, 8, 24, 8, 0)
    assert "làm bù 22/08/2026" in deadline.explanation_vi
    assert "make-up working day 22/08/2026" in deadline.explanation_en


def test_overrides_add_a_working_saturday_and_a_day_off():
    plain = BusinessCalendar.vietnam([2026, 2027])
    local_cal = BusinessCalendar.vietnam([2026, 2027], {date(2026, 10, 10): True, date(2026, 10, 12): False,
                                                        date(2027, 2, 4): True})
    friday = local(2026, 10, 9, 16, 0)
    assert plain.add_working_minutes(friday, 120) == local(2026, 10, 12, 8, 30)
    assert local_cal.add_working_minutes(friday, 120) == local(2026, 10, 10, 8, 30)
    assert local_cal.add_working_minutes(local(2026, 10, 10, 16, 0), 120) == local(2026, 10, 13, 8, 30)
    assert local_cal.is_working_time(local(2027, 2, 4, 9, 0)) and not plain.is_working_time(local(2027, 2, 4, 9, 0))
    explained = due_at(business(480), local(2026, 10, 10, 16, 0), local_cal).explanation_en
    assert "Local day off 12/10/2026" in explained


def test_load_overrides_reads_rows_and_skips_comments(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text("day,working,note\n# a comment\n2026-10-10,true,làm bù\n\n2026-10-12,FALSE,nghỉ\n",
                    encoding="utf-8")
    assert load_overrides(path) == {date(2026, 10, 10): True, date(2026, 10, 12): False}
    path.write_text("day,working,note\n2026-10-10,maybe,x\n", encoding="utf-8")
    with pytest.raises(ValueError):
        load_overrides(path)
    shipped = load_overrides(OVERRIDES_CSV)
    assert all(isinstance(d, date) and isinstance(w, bool) for d, w in shipped.items())


# -- deadlines, pauses and the 24/7 clock -----------------------------------------------------------

@PROPERTY
@given(opened=instants, budget=budgets, at=st.floats(min_value=0, max_value=0.999),
       length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)))
def test_a_pause_extends_the_deadline_by_the_working_time_inside_it(opened, budget, at, length):
    plain = CAL.add_working_minutes(opened, budget)
    start = opened + (plain - opened) * at
    assume(start < plain)
    end = start + length
    got = due_at(business(budget), opened, CAL, pauses=[(start, end)]).due_at
    inside = CAL.working_minutes_between(start, end)
    assert got == CAL.add_working_minutes(opened, budget + inside)
    assert oracle_minutes_between(opened, got) - oracle_minutes_between(start, end) == pytest.approx(budget, abs=1e-6)


def test_a_pause_after_the_deadline_changes_nothing():
    opened = local(2026, 11, 26, 9, 0)
    plain = due_at(business(480), opened, CAL).due_at
    later = due_at(business(480), opened, CAL, pauses=[(plain, plain + timedelta(days=3))]).due_at
    assert later == plain == local(2026, 11, 27, 9, 0)


def test_an_open_pause_runs_until_now_and_needs_now():
    opened, start, now = local(2026, 11, 26, 9, 0), local(2026, 11, 26, 10, 0), local(2026, 11, 26, 15, 0)
    open_ = due_at(business(480), opened, CAL, pauses=[(start, None)], now=now)
    closed = due_at(business(480), opened, CAL, pauses=[(start, now)])
    assert open_.due_at == closed.due_at == local(2026, 11, 27, 14, 0)  # 3 h 30 min of working time paused
    assert "tạm tính đến 15:00 26/11/2026" in open_.explanation_vi
    with pytest.raises(ValueError):
        due_at(business(480), opened, CAL, pauses=[(start, None)])


def test_overlapping_pauses_count_once():
    opened = local(2026, 11, 26, 9, 0)
    pauses = [(local(2026, 11, 26, 10, 0), local(2026, 11, 26, 11, 0)),
              (local(2026, 11, 26, 10, 30), local(2026, 11, 26, 11, 30))]
    assert due_at(business(480), opened, CAL, pauses=pauses).due_at == local(2026, 11, 27, 10, 30)


@PROPERTY
@given(opened=instants, budget=st.integers(min_value=0, max_value=30 * 1440))
def test_24x7_deadlines_are_plain_minutes_and_ignore_holidays(opened, budget):
    deadline = due_at(around_the_clock(budget), opened, CAL)
    assert deadline.due_at == opened + timedelta(minutes=budget)
    assert "bỏ qua" not in deadline.explanation_vi and "skipping" not in deadline.explanation_en


def test_urgent_case_in_tet_is_due_three_hours_later():
    urgent = policy_for(default_policies(), "drainage_flooding", "urgent")
    deadline = due_at(urgent, local(2027, 2, 6, 23, 0), CAL)
    assert deadline.due_at == local(2027, 2, 7, 2, 0)
    assert deadline.explanation_vi.startswith("Hạn giải quyết 3 giờ (180 phút, liên tục 24/7) tính từ 23:00 06/02/2027")
    assert due_at(urgent, local(2027, 2, 6, 23, 0), CAL, kind="first_response").due_at == local(2027, 2, 6, 23, 30)


def test_forwarding_runs_around_the_clock_even_on_a_business_policy():
    normal = policy_for(default_policies(), "traffic", "normal")
    saturday_night = local(2026, 11, 28, 22, 0)
    assert due_at(normal, saturday_night, CAL, kind="forward").due_at == local(2026, 11, 28, 22, 5)
    assert due_at(normal, saturday_night, CAL, kind="first_response").due_at == local(2026, 11, 30, 17, 0)
    assert due_at(normal, saturday_night, AroundTheClock(), kind="forward").due_at == local(2026, 11, 28, 22, 5)


def test_explanation_says_how_the_deadline_was_computed():
    normal = policy_for(default_policies(), "traffic", "normal")
    deadline = due_at(normal, local(2026, 11, 26, 14, 5), CAL,
                      pauses=[(local(2026, 11, 27, 9, 0), local(2026, 11, 27, 11, 30))])
    assert deadline.kind == "resolution"
    assert deadline.due_at == local(2026, 12, 10, 16, 35)
    assert deadline.explanation_vi == (
        "Hạn giải quyết 10 ngày làm việc (4.800 phút làm việc, giờ hành chính T2–T6 7:30–11:30, 13:00–17:00)"
        " tính từ 14:05 26/11/2026; cộng 2 giờ 30 phút làm việc tạm dừng chờ người dân bổ sung"
        " → 16:35 10/12/2026 (giờ Asia/Ho_Chi_Minh). Căn cứ: " + normal.source + ".")
    assert deadline.explanation_en == (
        "Resolution due in 10 working days (4,800 working minutes, office hours Mon–Fri 7:30–11:30, 13:00–17:00)"
        " counted from 14:05 26/11/2026; plus 2 h 30 min of working time paused waiting for the citizen"
        " → 16:35 10/12/2026 (Asia/Ho_Chi_Minh time). Source: " + normal.source + ".")


def test_explanation_names_holidays_and_a_late_start():
    normal = policy_for(default_policies(), "noise", "normal")
    deadline = due_at(normal, local(2026, 8, 28, 20, 0), CAL)
    assert deadline.due_at == local(2026, 9, 16, 17, 0)
    assert "tính từ 20:00 28/08/2026 (đồng hồ bắt đầu chạy lúc 07:30 03/09/2026)" in deadline.explanation_vi
    assert "counted from 20:00 28/08/2026 (the clock starts at 07:30 03/09/2026)" in deadline.explanation_en
    assert "bỏ qua nghỉ Quốc khánh 31/08–02/09/2026" in deadline.explanation_vi
    assert "skipping National Day 31/08–02/09/2026" in deadline.explanation_en


# -- elapsed fraction -------------------------------------------------------------------------------

@PROPERTY
@given(opened=instants, budget=budgets, steps=st.lists(st.floats(min_value=0, max_value=1.5), min_size=2, max_size=8),
       pause=st.one_of(st.none(), st.tuples(st.floats(min_value=0, max_value=0.9),
                                            st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5)))))
def test_elapsed_fraction_runs_from_zero_at_open_to_one_at_due(opened, budget, steps, pause):
    policy = business(budget)
    plain = CAL.add_working_minutes(opened, budget)
    pauses = []
    if pause is not None:
        start = opened + (plain - opened) * pause[0]
        pauses = [(start, start + pause[1])]
    due = due_at(policy, opened, CAL, pauses=pauses).due_at
    assert elapsed_fraction(policy, opened, opened, CAL, pauses=pauses) == 0.0
    assert elapsed_fraction(policy, opened, due, CAL, pauses=pauses) == pytest.approx(1.0, abs=1e-9)
    if not pauses:
        assert elapsed_fraction(policy, opened, due, CAL) == 1.0
    nows = sorted(opened + (due - opened) * s for s in steps)
    fractions = [elapsed_fraction(policy, opened, now, CAL, pauses=pauses) for now in nows]
    assert fractions == sorted(fractions)


def test_elapsed_fraction_marks_at_risk_at_eighty_percent():
    policy = business(4800)
    opened = local(2026, 11, 26, 8, 0)
    assert elapsed_fraction(policy, opened, CAL.add_working_minutes(opened, 3840), CAL) == 0.8
    assert elapsed_fraction(policy, opened, local(2026, 11, 26, 9, 0), CAL) == 60 / 4800
    urgent = around_the_clock(180)
    assert elapsed_fraction(urgent, opened, opened + timedelta(hours=6), CAL) == 2.0


# -- default policies -------------------------------------------------------------------------------

def test_default_policies_cover_every_field_and_priority_once():
    policies = default_policies()
    keys = [(p.field, p.priority) for p in policies]
    assert len(keys) == len(set(keys)) == 32
    assert {f for f, _ in keys} == {*FIELDS, None}
    assert all(p.source and p.forward_minutes == 5 for p in policies)


@pytest.mark.parametrize(("field", "days"), [
    ("traffic", 10), ("admin_procedures", 10), ("urban_order", 15), ("environment", 15),
    ("water_supply", 5), ("public_lighting", 5), ("electricity", 5), ("telecom", 5), ("trees", 5), (None, 10),
])
def test_default_resolution_budgets(field, days):
    normal = policy_for(default_policies(), field, "normal")
    assert (normal.resolution_minutes, normal.calendar) == (days * 480, "business")
    urgent = policy_for(default_policies(), field, "urgent")
    assert (urgent.first_response_minutes, urgent.resolution_minutes, urgent.calendar) == (30, 180, "24x7")


def test_unknown_field_falls_back_to_the_default_policy():
    fallback = policy_for(default_policies(), "astrology", "normal")
    assert fallback.field is None and fallback.first_response_minutes == 60
