"""Report periods: the city's month closes at 12:00 on the 25th (Vietnam time), quarters, ranges, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from casework.reports import periods
from casework.reports.periods import Period
from kernel.errors import BadRequest
from kernel.time import LOCAL_TZ


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=LOCAL_TZ)


def test_the_city_month_runs_from_noon_on_the_25th_to_noon_on_the_25th():
    p = periods.monthly(2026, 11)
    assert p == Period(local(2026, 10, 25, 12), local(2026, 11, 25, 12), "2026-11")
    assert p.start == datetime(2026, 10, 25, 5, tzinfo=UTC)  # 12:00 in Vietnam is 05:00 UTC
    assert p.start.tzinfo is UTC and p.end.tzinfo is UTC


def test_january_starts_on_the_25th_of_december_of_the_year_before():
    p = periods.monthly(2027, 1)
    assert (p.start, p.end, p.label) == (local(2026, 12, 25, 12), local(2027, 1, 25, 12), "2027-01")
    assert periods.monthly(2026, 12).end == p.start  # months tile the year with no gap and no overlap


def test_twelve_months_tile_a_year():
    months = [periods.monthly(2026, m) for m in range(1, 13)]
    for before, after in zip(months, months[1:], strict=False):
        assert before.end == after.start


@pytest.mark.parametrize("now, label", [
    (local(2026, 11, 25, 11, 59), "2026-11"),
    (local(2026, 11, 25, 12, 0), "2026-12"),   # noon on the 25th opens the next month's period
    (local(2026, 11, 1), "2026-11"),
    (local(2026, 12, 25, 12, 0), "2027-01"),   # December's close opens January of the next year
    (local(2026, 12, 31, 23, 59), "2027-01"),
    (datetime(2026, 11, 25, 4, 59, tzinfo=UTC), "2026-11"),  # 11:59 in Vietnam
    (datetime(2026, 11, 25, 5, 0, tzinfo=UTC), "2026-12"),
])
def test_the_current_month_is_the_one_now_falls_in(now, label):
    p = periods.current_month(now)
    assert p.label == label and p.start <= now < p.end


@pytest.mark.parametrize("y, q, first, after", [
    (2026, 1, local(2026, 1, 1), local(2026, 4, 1)),
    (2026, 2, local(2026, 4, 1), local(2026, 7, 1)),
    (2026, 3, local(2026, 7, 1), local(2026, 10, 1)),
    (2026, 4, local(2026, 10, 1), local(2027, 1, 1)),
])
def test_quarters_are_calendar_quarters_in_vietnam_time(y, q, first, after):
    assert periods.quarter(y, q) == Period(first, after, f"{y}-Q{q}")
    assert periods.parse_quarter(f"{y}-Q{q}") == periods.quarter(y, q)


def test_the_current_quarter_follows_vietnam_time_not_utc():
    assert periods.current_quarter(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)).label == "2027-Q1"  # 00:00 local
    assert periods.current_quarter(datetime(2026, 12, 31, 16, 59, tzinfo=UTC)).label == "2026-Q4"


def test_a_date_range_includes_its_last_day():
    p = periods.between("2026-11-01", "2026-11-30")
    assert (p.start, p.end, p.label) == (local(2026, 11, 1), local(2026, 12, 1), "2026-11-01..2026-11-30")
    assert periods.between(date(2026, 11, 5), date(2026, 11, 5)).end == local(2026, 11, 6)


def test_parse_month_reads_the_label():
    assert periods.parse_month("2026-11") == periods.monthly(2026, 11)


@pytest.mark.parametrize("call, field", [
    (lambda: periods.parse_month("2026-13"), "month"),
    (lambda: periods.parse_month("2026-00"), "month"),
    (lambda: periods.parse_month("2026-1"), "month"),
    (lambda: periods.parse_month("11/2026"), "month"),
    (lambda: periods.parse_month("٢٠٢٦-١١"), "month"),
    (lambda: periods.parse_month("1899-11"), "month"),
    (lambda: periods.parse_month(""), "month"),
    (lambda: periods.parse_quarter("2026-Q5"), "quarter"),
    (lambda: periods.parse_quarter("2026Q4"), "quarter"),
    (lambda: periods.parse_quarter("9999-Q1"), "quarter"),
    (lambda: periods.between("2026-11-31", "2026-12-01"), "from"),
    (lambda: periods.between("2026-11-01", "30/11/2026"), "to"),
    (lambda: periods.between("2026-11-02", "2026-11-01"), "to"),
    (lambda: periods.between("2026-11-01T00:00", "2026-11-02"), "from"),
    (lambda: periods.sla_period(month="2026-11", date_from="2026-11-01", now=local(2026, 11, 1)), "month"),
    (lambda: periods.sla_period(date_from="2026-11-01", now=local(2026, 11, 1)), "to"),
    (lambda: periods.sla_period(date_to="2026-11-01", now=local(2026, 11, 1)), "from"),
])
def test_bad_input_is_a_400_naming_the_parameter(call, field):
    with pytest.raises(BadRequest) as refused:
        call()
    assert refused.value.http_status == 400
    assert refused.value.detail["field"] == field and refused.value.detail["message"]


def test_an_sla_request_names_a_month_a_range_or_nothing():
    now = local(2026, 11, 26)
    assert periods.sla_period(now=now).label == "2026-12"
    assert periods.sla_period(month="2026-10", now=now).label == "2026-10"
    assert periods.sla_period(date_from="2026-11-01", date_to="2026-11-02", now=now).label == "2026-11-01..2026-11-02"
    assert periods.dti_period(now=now).label == "2026-Q4"
    assert periods.dti_period(quarter_text="2027-Q1", now=now).label == "2027-Q1"


def test_a_period_refuses_naive_or_empty_bounds():
    with pytest.raises(ValueError):
        Period(datetime(2026, 1, 1), datetime(2026, 2, 1), "x")
    with pytest.raises(ValueError):
        Period(local(2026, 2, 1), local(2026, 2, 1), "x")
