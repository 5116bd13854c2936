"""Report periods: the city's month (12:00 on the 25th to 12:00 on the 25th), quarters and date ranges.

Every period is half-open, [start, end), in UTC; its bounds are drawn in Vietnam time. The 1022
hotline closes its monthly figures at noon on the 25th (city practice, see docs/metrics.md), so the
period labelled "2026-11" runs from 25/10/2026 12:00 to 25/11/2026 12:00, Ho Chi Minh City time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from kernel.errors import BadRequest
from kernel.time import LOCAL_TZ

MONTH_CLOSE_DAY = 25
MONTH_CLOSE_TIME = time(12, 0)
FIRST_YEAR, LAST_YEAR = 2000, 2100  # far enough either way; beyond, a typo is likelier than a report

# ASCII digits only: int() would read "٢٠٢٦" too, and a report named in other digits is a typo.
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_QUARTER = re.compile(r"([0-9]{4})-[Qq]([1-4])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC, with the label a reader sees ("2026-11", "2026-Q4", "2026-11-01..2026-11-30")."""

    start: datetime
    end: datetime
    label: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period's bounds are timezone-aware")
        if not self.start < self.end:
            raise ValueError(f"a period ends after it starts: {self.start} .. {self.end}")


def _refuse(field: str, message: str) -> BadRequest:
    return BadRequest({"field": field, "message": message})


def _check_year(year: int, field: str) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise _refuse(field, f"a year from {FIRST_YEAR} to {LAST_YEAR}")


def _local(day: date, at: time = time(0, 0)) -> datetime:
    return datetime.combine(day, at, LOCAL_TZ).astimezone(UTC)


def monthly(year: int, month: int) -> Period:
    """The city's month `year-month`: 12:00 on the 25th of the month before to 12:00 on the 25th of this one."""
    _check_year(year, "month")
    if not 1 <= month <= 12:
        raise _refuse("month", "a month from 01 to 12")
    before = date(year - 1, 12, MONTH_CLOSE_DAY) if month == 1 else date(year, month - 1, MONTH_CLOSE_DAY)
    return Period(_local(before, MONTH_CLOSE_TIME), _local(date(year, month, MONTH_CLOSE_DAY), MONTH_CLOSE_TIME),
                  f"{year:04d}-{month:02d}")


def quarter(year: int, q: int) -> Period:
    """The calendar quarter `q` of `year` in Vietnam time (Q1 = January to March)."""
    _check_year(year, "quarter")
    if not 1 <= q <= 4:
        raise _refuse("quarter", "a quarter from 1 to 4")
    first = date(year, 3 * q - 2, 1)
    after = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return Period(_local(first), _local(after), f"{year:04d}-Q{q}")


def between(date_from: date | str, date_to: date | str) -> Period:
    """Local dates `date_from` to `date_to`, both included: 00:00 of the first to 00:00 after the last."""
    first = parse_date(date_from, "from")
    last = parse_date(date_to, "to")
    if last < first:
        raise _refuse("to", "the last day comes before the first")
    return Period(_local(first), _local(last + timedelta(days=1)), f"{first.isoformat()}..{last.isoformat()}")


def parse_date(value: date | str, field: str) -> date:
    """A local date written YYYY-MM-DD (a date passes through); 400 naming `field` otherwise."""
    if isinstance(value, datetime):
        raise _refuse(field, "a date, YYYY-MM-DD, not a date and time")
    if isinstance(value, date):
        day = value
    else:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise _refuse(field, "a date written YYYY-MM-DD")
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise _refuse(field, "no such date") from None
    _check_year(day.year, field)
    return day


def parse_month(text: str) -> Period:
    """The city's month from "2026-11"; 400 naming `month` for anything else."""
    found = _MONTH.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise _refuse("month", "a month written YYYY-MM, e.g. 2026-11")
    return monthly(int(found.group(1)), int(found.group(2)))


def parse_quarter(text: str) -> Period:
    """The quarter from "2026-Q4"; 400 naming `quarter` for anything else."""
    found = _QUARTER.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise _refuse("quarter", "a quarter written YYYY-Qn, e.g. 2026-Q4")
    return quarter(int(found.group(1)), int(found.group(2)))


def current_month(now: datetime) -> Period:
    """The city's month `now` falls in (from 12:00 on the 25th it is the next month's)."""
    local = now.astimezone(LOCAL_TZ)
    year, month = local.year, local.month
    if (local.day, local.time()) >= (MONTH_CLOSE_DAY, MONTH_CLOSE_TIME):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return monthly(year, month)


def current_quarter(now: datetime) -> Period:
    """The calendar quarter `now` falls in, in Vietnam time."""
    local = now.astimezone(LOCAL_TZ)
    return quarter(local.year, (local.month - 1) // 3 + 1)


def recent_months(now: datetime, count: int) -> list[Period]:
    """The city month in progress, then the ones before it, newest first: `count` in all."""
    year, month = (int(part) for part in current_month(now).label.split("-"))
    out = []
    for _ in range(count):
        out.append(monthly(year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out


def recent_quarters(now: datetime, count: int) -> list[Period]:
    """The quarter in progress, then the ones before it, newest first: `count` in all."""
    year, q = (int(part) for part in current_quarter(now).label.split("-Q"))
    out = []
    for _ in range(count):
        out.append(quarter(year, q))
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    return out


def sla_period(*, month: str | None = None, date_from: str | None = None, date_to: str | None = None,
               now: datetime) -> Period:
    """The period an SLA request names: a city month, or from and to (both), or by default the current month."""
    if month is not None and (date_from is not None or date_to is not None):
        raise _refuse("month", "give either month or from and to, not both")
    if month is not None:
        return parse_month(month)
    if date_from is None and date_to is None:
        return current_month(now)
    if date_from is None:
        raise _refuse("from", "from and to go together")
    if date_to is None:
        raise _refuse("to", "from and to go together")
    return between(date_from, date_to)


def dti_period(*, quarter_text: str | None = None, now: datetime) -> Period:
    """The quarter a DTI request names, by default the current one."""
    return current_quarter(now) if quarter_text is None else parse_quarter(quarter_text)
