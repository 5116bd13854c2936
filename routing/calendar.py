"""Clocks for service levels: a business calendar for Asia/Ho_Chi_Minh and a 24/7 clock.

Every method takes timezone-aware datetimes in any zone and returns them in UTC. Working time is a
set of half-open periods [start, end) in local wall time, by default Mon–Fri 07:30–11:30 and
13:00–17:00 (Vietnamese public-administration hours). Public holidays come from the `holidays`
package (Tết included); the make-up Saturdays it knows (`weekend_workdays`) count as working days;
`routing/data/calendar_overrides.csv` corrects both locally.

Convention for deadlines: `add_working_minutes` returns the earliest instant at which the budget is
used up, so a budget that runs out exactly at 11:30 is due at 11:30, not at 13:00. A result is
therefore inside working time or exactly at the end of a working period, never in a break, at night
or on a day off. `working_minutes_between` is its exact inverse.

Speed: per-day period bounds are computed once per date (as integer microseconds since the epoch)
and whole days are skipped by their total, so ten working days take a dozen dictionary lookups.

Holidays are only known for the years the calendar was built with: build it for every year a deadline
can reach (this year and the next).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from kernel.time import LOCAL_TZ

HO_CHI_MINH = LOCAL_TZ
OFFICE_HOURS: tuple[tuple[time, time], ...] = ((time(7, 30), time(11, 30)), (time(13, 0), time(17, 0)))
MONDAY_TO_FRIDAY = frozenset(range(5))
OVERRIDES_CSV = Path(__file__).parent / "data" / "calendar_overrides.csv"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
_ONE_DAY = timedelta(days=1)
# A calendar with no working day for ten years is misconfigured; stop instead of looping forever.
_MAX_EMPTY_DAYS = 3660

_WEEKDAYS_VI = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LOCAL_DAY_OFF = ("Ngày nghỉ theo điều chỉnh địa phương", "Local day off")
_PUBLIC_HOLIDAY = ("Ngày nghỉ lễ", "Public holiday")
_SUFFIX_VI = re.compile(r"\s*\((?:nghỉ bù|dự kiến|nghỉ bù, dự kiến)\)$")
_SUFFIX_EN = re.compile(r"\s*\((?:observed|estimated|observed, estimated)\)$")

Lang = Literal["vi", "en"]


def _us(dt: datetime) -> int:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is required, got {dt!r}")
    return (dt - _EPOCH) // _US


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _minutes_to_us(minutes: float) -> int:
    if minutes < 0:
        raise ValueError(f"minutes must not be negative, got {minutes}")
    return round(minutes * _US_PER_MINUTE)


@dataclass(frozen=True, slots=True)
class DaysOff:
    """A run of public holidays, joined across the weekends between them, with display names."""

    first: date
    last: date
    name_vi: str
    name_en: str
    days: tuple[date, ...]


class Clock(Protocol):
    """What a service-level deadline is counted on: working time or every minute."""

    @property
    def name(self) -> str: ...

    @property
    def tz(self) -> ZoneInfo: ...

    @property
    def day_minutes(self) -> int: ...

    def describe(self, lang: Lang) -> str: ...

    def is_working_time(self, dt: datetime) -> bool: ...

    def next_working_time(self, dt: datetime) -> datetime: ...

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime: ...

    def working_minutes_between(self, a: datetime, b: datetime) -> float: ...

    def days_off_between(self, a: datetime, b: datetime) -> tuple[DaysOff, ...]: ...

    def extra_working_days_between(self, a: datetime, b: datetime) -> tuple[date, ...]: ...


@dataclass(frozen=True, slots=True)
class AroundTheClock:
    """Count every minute, day and night, holidays included (urgent cases, the hotline centre's duties)."""

    tz: ZoneInfo = HO_CHI_MINH

    @property
    def name(self) -> str:
        return "24x7"

    @property
    def day_minutes(self) -> int:
        return 1440

    def describe(self, lang: Lang) -> str:
        return "liên tục 24/7" if lang == "vi" else "around the clock, 24/7"

    def is_working_time(self, dt: datetime) -> bool:
        _us(dt)
        return True

    def next_working_time(self, dt: datetime) -> datetime:
        return _dt(_us(dt))

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        return _dt(_us(start) + _minutes_to_us(minutes))

    def working_minutes_between(self, a: datetime, b: datetime) -> float:
        return (_us(b) - _us(a)) / _US_PER_MINUTE

    def days_off_between(self, a: datetime, b: datetime) -> tuple[DaysOff, ...]:
        return ()

    def extra_working_days_between(self, a: datetime, b: datetime) -> tuple[date, ...]:
        return ()


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working hours on working days in one time zone; holidays and make-up days as plain dates."""

    tz: ZoneInfo = HO_CHI_MINH
    working_periods: tuple[tuple[time, time], ...] = OFFICE_HOURS
    weekdays: frozenset[int] = MONDAY_TO_FRIDAY
    holidays: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    # date -> (Vietnamese name, English name), for explanations only.
    holiday_names: Mapping[date, tuple[str, str]] = field(default_factory=dict, compare=False, repr=False)
    _days: dict[date, tuple[tuple[tuple[int, int], ...], int]] = field(
        default_factory=dict, init=False, compare=False, repr=False)
    _runs: tuple[DaysOff, ...] = field(default=(), init=False, compare=False, repr=False)
    _extra_sorted: tuple[date, ...] = field(default=(), init=False, compare=False, repr=False)
    _text: tuple[str, str] = field(default=("", ""), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        previous_end = time.min
        for start, end in self.working_periods:
            if not previous_end <= start < end:
                raise ValueError(f"working periods must be ordered and non-overlapping: {self.working_periods}")
            previous_end = end
        object.__setattr__(self, "holiday_names", MappingProxyType(dict(self.holiday_names)))
        object.__setattr__(self, "_runs", self._holiday_runs())
        object.__setattr__(self, "_extra_sorted", tuple(sorted(self.extra_working_days)))
        object.__setattr__(self, "_text", (self._describe("vi"), self._describe("en")))

    @classmethod
    def vietnam(cls, years: Iterable[int], overrides: Mapping[date, bool] | None = None) -> BusinessCalendar:
        """Build the Vietnamese public-administration calendar for `years` (True = working, False = day off)."""
        import holidays as holidays_package

        years = sorted(set(years))
        names_vi = holidays_package.VN(years=years, language="vi")
        names_en = holidays_package.VN(years=years, language="en_US")
        days_off = set(names_vi)
        names = {d: (names_vi[d], names_en.get(d, names_vi[d])) for d in days_off}
        # The package records the Saturday worked to pay for a bridge day off (e.g. 26/04/2025 for 02/05/2025).
        extra = {d for d in names_vi.weekend_workdays if d.year in years}
        for day, working in (overrides or {}).items():
            if working:
                days_off.discard(day)
                names.pop(day, None)
                if day.weekday() not in MONDAY_TO_FRIDAY:
                    extra.add(day)
            else:
                extra.discard(day)
                days_off.add(day)
                names.setdefault(day, _LOCAL_DAY_OFF)
        return cls(holidays=frozenset(days_off), extra_working_days=frozenset(extra), holiday_names=names)

    # -- working days and periods -------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def _day(self, day: date) -> tuple[tuple[tuple[int, int], ...], int]:
        got = self._days.get(day)
        if got is None:
            periods: tuple[tuple[int, int], ...] = ()
            if self.is_working_day(day):
                periods = tuple((_us(datetime.combine(day, s, self.tz)), _us(datetime.combine(day, e, self.tz)))
                                for s, e in self.working_periods)
            got = (periods, sum(e - s for s, e in periods))
            self._days[day] = got
        return got

    def _local_date(self, dt: datetime) -> date:
        return dt.astimezone(self.tz).date()

    @property
    def name(self) -> str:
        return "business"

    @property
    def day_minutes(self) -> int:
        """Minutes in a regular working day (480 for office hours)."""
        return sum((e.hour * 60 + e.minute) - (s.hour * 60 + s.minute) for s, e in self.working_periods)

    def describe(self, lang: Lang) -> str:
        return self._text[0] if lang == "vi" else self._text[1]

    def _describe(self, lang: Lang) -> str:
        names = _WEEKDAYS_VI if lang == "vi" else _WEEKDAYS_EN
        days = sorted(self.weekdays)
        if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            when = f"{names[days[0]]}–{names[days[-1]]}"
        else:
            when = ", ".join(names[d] for d in days)
        hours = ", ".join(f"{_hm(s)}–{_hm(e)}" for s, e in self.working_periods)
        return f"giờ hành chính {when} {hours}" if lang == "vi" else f"office hours {when} {hours}"

    # -- the clock ----------------------------------------------------------------------------

    def is_working_time(self, dt: datetime) -> bool:
        t = _us(dt)
        return any(s <= t < e for s, e in self._day(self._local_date(dt))[0])

    def next_working_time(self, dt: datetime) -> datetime:
        """Return `dt` itself (in UTC) if it is working time, else the start of the next working period."""
        t = _us(dt)
        day = self._local_date(dt)
        for _ in range(_MAX_EMPTY_DAYS):
            for s, e in self._day(day)[0]:
                if t < e:
                    return _dt(max(s, t))
            day += _ONE_DAY
        raise ValueError("no working time within ten years: check the calendar")

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        """Return the earliest instant at which `minutes` working minutes from `start` are used up."""
        remaining = _minutes_to_us(minutes)
        if remaining == 0:
            t = _us(start)
            # Already at a period end (the zero budget is used up there) or in working time: no move.
            if self.is_working_time(start) or any(e == t for _, e in self._day(self._local_date(start))[0]):
                return _dt(t)
            return self.next_working_time(start)
        t = _us(start)
        day = self._local_date(start)
        empty = 0
        while True:
            periods, total = self._day(day)
            if periods:
                empty = 0
                left = total if t <= periods[0][0] else sum(e - max(s, t) for s, e in periods if e > t)
                if remaining > left:
                    # The whole (rest of the) day fits in the budget: take it in one step.
                    remaining -= left
                else:
                    for s, e in periods:
                        if e <= t:
                            continue
                        begin = max(s, t)
                        if remaining <= e - begin:
                            return _dt(begin + remaining)
                        remaining -= e - begin
            else:
                empty += 1
                if empty > _MAX_EMPTY_DAYS:
                    raise ValueError("no working time within ten years: check the calendar")
            day += _ONE_DAY

    def working_minutes_between(self, a: datetime, b: datetime) -> float:
        """Return the working minutes in [a, b], negative when b is before a."""
        ta, tb = _us(a), _us(b)
        if tb < ta:
            return -self.working_minutes_between(b, a)
        first, last = self._local_date(a), self._local_date(b)
        total = 0
        day = first
        while day <= last:
            periods, day_total = self._day(day)
            if first < day < last:
                total += day_total
            else:
                total += sum(max(0, min(e, tb) - max(s, ta)) for s, e in periods)
            day += _ONE_DAY
        return total / _US_PER_MINUTE

    # -- for explanations ---------------------------------------------------------------------

    def _holiday_runs(self) -> tuple[DaysOff, ...]:
        runs: list[list[date]] = []
        for day in sorted(self.holidays):
            if runs and all(not self.is_working_day(runs[-1][-1] + timedelta(days=i))
                            for i in range(1, (day - runs[-1][-1]).days)):
                runs[-1].append(day)
            else:
                runs.append([day])
        out = []
        for days in runs:
            name_vi, name_en = _run_names([self.holiday_names.get(d, _PUBLIC_HOLIDAY) for d in days])
            out.append(DaysOff(days[0], days[-1], name_vi, name_en, tuple(days)))
        return tuple(out)

    def days_off_between(self, a: datetime, b: datetime) -> tuple[DaysOff, ...]:
        """Return the holiday runs that took a weekday out of the local dates from `a` to `b`."""
        first, last = self._local_date(a), self._local_date(b)
        return tuple(run for run in self._runs if run.first <= last and run.last >= first
                     and any(first <= d <= last and d.weekday() in self.weekdays for d in run.days))

    def extra_working_days_between(self, a: datetime, b: datetime) -> tuple[date, ...]:
        first, last = self._local_date(a), self._local_date(b)
        return tuple(d for d in self._extra_sorted if first <= d <= last)


def _hm(t: time) -> str:
    return f"{t.hour}:{t.minute:02d}"


def _run_names(names: list[tuple[str, str]]) -> tuple[str, str]:
    """Name a run by its distinct holidays: 'Lunar New Year' covers 'Second Day of Lunar New Year'."""
    bases: dict[str, str] = {}
    for vi, en in names:
        bases.setdefault(_SUFFIX_EN.sub("", en), _SUFFIX_VI.sub("", vi))
    real = [en for en in bases if not en.startswith("Day off")]
    if real:
        bases = {en: bases[en] for en in real}
    kept = [en for en in bases if not any(other != en and other in en for other in bases)]
    return ", ".join(bases[en] for en in kept), ", ".join(kept)


def load_overrides(path: str | Path = OVERRIDES_CSV) -> dict[date, bool]:
    """Read local calendar overrides (columns day,working,note; lines starting with '#' are comments)."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = [line for line in f if line.strip() and not line.lstrip().startswith("#")]
    out: dict[date, bool] = {}
    for row in csv.DictReader(lines):
        day = date.fromisoformat((row.get("day") or "").strip())
        flag = (row.get("working") or "").strip().lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{path}: 'working' must be true or false for {day}, got {flag!r}")
        if day in out:
            raise ValueError(f"{path}: {day} is listed twice")
        out[day] = flag in ("true", "1", "yes")
    return out
