"""SLA and DTI figures for a period, from the case_facts projection (formulas and time rules: docs/metrics.md).

A case counts in a period P = [start, end) when it was received in P; every other figure is taken
as of P's end (or now, for a period not yet over): handled = resolved before then, overdue = past its
deadline then, and so on. Duplicates are counted apart and left out of everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from casework.models import FIELD_LABELS
from casework.reports import store
from casework.reports.periods import Period
from kernel import labels
from kernel.errors import BadRequest
from routing.calendar import Clock

GROUPS = ("unit", "field", "channel", "ward")
FORWARD_RULE_MINUTES = 5  # the city's rule: a case reaches its unit within 5 minutes of receipt
LEGAL_ANSWER_DAYS = 10  # default of HOTLINE_LEGAL_ANSWER_DAYS: the longest limit in topic 44.12's rules
MIN_HANDLED = 10  # a unit is ranked once it has handled this many cases in the period
RANKED_SHOWN = 5  # top and bottom
ONLINE_CHANNELS = store.ONLINE_CHANNELS

CHANNEL_LABELS = labels.CHANNEL_LABELS
NO_UNIT = ("Tổng đài 1022 (chưa chuyển đơn vị)", "1022 centre (not forwarded)")
NO_FIELD = ("Chưa phân loại", "Not classified")
NO_WARD = ("Chưa xác định phường, xã", "Ward unknown")
CITY = ("Toàn thành phố", "Whole city")


@dataclass(frozen=True, slots=True)
class Durations:
    """Minutes from receipt to a moment, over the cases that reached it: percentiles (percentile_cont) and means.

    Clock minutes are the plain difference; working minutes count the calendar's working time only,
    without the time the clock was paused (waiting for the citizen).
    """

    count: int
    median_clock_min: float | None
    p90_clock_min: float | None
    median_work_min: float | None
    p90_work_min: float | None
    mean_clock_min: float | None = None
    mean_work_min: float | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    """The SLA figures of one group (`key`: a unit, field, channel or ward code; None: none) or of the total."""

    key: str | None
    received: int
    handled: int
    handled_on_time: int
    handled_late: int
    overdue_open: int
    overdue: int
    in_progress: int
    no_deadline: int
    duplicates: int
    on_time_rate: float | None
    forwarded: int
    forwarded_within_5min: int
    forward_rule_rate: float | None
    time_to_forward: Durations
    first_response: Durations
    resolution: Durations
    reopened: int
    reopen_rate: float | None
    ratings: int
    rating_mean: float | None
    satisfied_share: float | None
    solved_share: float | None
    online: int
    online_share: float | None
    within_legal_limit: int
    within_legal_rate: float | None


@dataclass(frozen=True, slots=True)
class RankedUnit:
    rank: int
    key: str
    on_time_rate: float
    handled: int


@dataclass(frozen=True, slots=True)
class Ranking:
    """Units with at least `min_handled` handled cases, by on-time rate (ties: more handled first, then code).

    `top` is the first RANKED_SHOWN of `ranked`; `bottom` the last RANKED_SHOWN, worst first.
    """

    min_handled: int
    ranked: list[RankedUnit]
    top: list[RankedUnit]
    bottom: list[RankedUnit]


@dataclass(frozen=True, slots=True)
class SlaReport:
    """The SLA report of a period by one dimension; `names` gives (vi, en) for every key of `rows`."""

    period: Period
    by: str
    total: Figures
    rows: list[Figures]
    names: dict[str | None, tuple[str, str]]
    ranking: Ranking | None
    computed_at: datetime
    as_of: datetime  # the instant the figures are taken at: the period's end, or computed_at if sooner
    unit: str | None = None  # the report covers this unit's cases only

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (datetimes left for the JSON encoder); each row carries its names."""
        def row(f: Figures) -> dict[str, Any]:
            name_vi, name_en = self.names.get(f.key, (f.key or "", f.key or ""))
            return {"key": f.key, "name_vi": name_vi, "name_en": name_en, **_figures_dict(f)}

        return {
            "period": {"label": self.period.label, "start": self.period.start, "end": self.period.end},
            "by": self.by, "unit": self.unit, "as_of": self.as_of, "computed_at": self.computed_at,
            "total": {"key": None, "name_vi": CITY[0], "name_en": CITY[1], **_figures_dict(self.total)},
            "rows": [row(f) for f in self.rows],
            "ranking": asdict(self.ranking) if self.ranking is not None else None,
        }


@dataclass(frozen=True, slots=True)
class DtiFigures:
    """A unit's responsiveness figures for a quarter, as the DTI index asks them (unit None: the whole city)."""

    unit: str | None
    period_label: str
    received: int
    on_time_rate: float | None
    avg_handling_work_hours: float | None
    online_share: float | None
    satisfaction: float | None  # the mean rating, 1 to 5
    reopen_rate: float | None
    within_legal_rate: float | None
    name_vi: str = ""
    name_en: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _figures_dict(f: Figures) -> dict[str, Any]:
    out = asdict(f)
    out.pop("key")
    return out


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _durations(row: Mapping[str, Any], name: str) -> Durations:
    return Durations(row[f"{name}_count"], row[f"{name}_median_clock"], row[f"{name}_p90_clock"],
                     row[f"{name}_median_work"], row[f"{name}_p90_work"], row[f"{name}_mean_clock"],
                     row[f"{name}_mean_work"])


def figures_from_row(row: Mapping[str, Any], key: str | None = None) -> Figures:
    """Figures from one row of the aggregate query (rates computed here, from the counts)."""
    received, handled = row["received"], row["handled"]
    on_time, late = row["handled_on_time"], row["handled_late"]
    return Figures(
        key=key, received=received, handled=handled, handled_on_time=on_time, handled_late=late,
        overdue_open=row["overdue_open"], overdue=late + row["overdue_open"], in_progress=received - handled,
        no_deadline=row["no_deadline"], duplicates=row["duplicates"], on_time_rate=_rate(on_time, on_time + late),
        forwarded=row["forwarded"], forwarded_within_5min=row["forwarded_within"],
        forward_rule_rate=_rate(row["forwarded_within"], row["forwarded"]),
        time_to_forward=_durations(row, "forward"), first_response=_durations(row, "response"),
        resolution=_durations(row, "resolution"),
        reopened=row["reopened"], reopen_rate=_rate(row["reopened"], handled),
        ratings=row["ratings"], rating_mean=row["rating_mean"],
        satisfied_share=_rate(row["satisfied"], row["rated_numbers"]),
        solved_share=_rate(row["solved"], row["solved_answers"]),
        online=row["online"], online_share=_rate(row["online"], received),
        within_legal_limit=row["within_legal"], within_legal_rate=_rate(row["within_legal"], handled),
    )


def _empty(key: str | None = None) -> Figures:
    nothing = Durations(0, None, None, None, None, None, None)
    return Figures(key, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, 0, 0, None, nothing, nothing, nothing, 0, None, 0, None,
                   None, None, 0, None, 0, None)


def rank_units(rows: list[Figures], min_handled: int = MIN_HANDLED) -> Ranking:
    """Rank the units (never the 1022 centre, key None) with enough handled cases and a known on-time rate."""
    eligible = [f for f in rows if f.key is not None and f.handled >= min_handled and f.on_time_rate is not None]
    eligible.sort(key=lambda f: (-(f.on_time_rate or 0.0), -f.handled, f.key or ""))
    ranked = [RankedUnit(i + 1, f.key or "", f.on_time_rate or 0.0, f.handled) for i, f in enumerate(eligible)]
    return Ranking(min_handled, ranked, ranked[:RANKED_SHOWN], list(reversed(ranked[-RANKED_SHOWN:])))


def check_group(by: str) -> str:
    """`by` if it names a group; 400 naming `by` otherwise."""
    if by not in GROUPS:
        raise BadRequest({"field": "by", "message": "one of " + ", ".join(GROUPS)})
    return by


def legal_work_minutes(clock: Clock, days: int = LEGAL_ANSWER_DAYS) -> float:
    """The legal answer limit in working minutes: `days` working days on the clock."""
    return float(days * clock.day_minutes)


async def unit_exists(pool: asyncpg.Pool, code: str) -> bool:
    return bool(await store.unit_names(pool, [code]))


async def _names(pool: asyncpg.Pool, by: str, keys: list[str | None]) -> dict[str | None, tuple[str, str]]:
    codes = [k for k in keys if k is not None]
    if by == "unit":
        found = await store.unit_names(pool, codes)
        names = {k: found.get(k, (k, k)) for k in codes}
        return {**names, None: NO_UNIT}
    if by == "ward":
        found = await store.ward_names(pool, codes)
        return {**{k: found.get(k, (k, k)) for k in codes}, None: NO_WARD}
    if by == "field":
        return {**{k: FIELD_LABELS.get(k, (k, k)) for k in codes}, None: NO_FIELD}
    return {k: CHANNEL_LABELS.get(k, (k, k)) for k in codes}


async def sla_report(pool: asyncpg.Pool, period: Period, by: str, *, unit: str | None = None, clock: Clock,
                     now: datetime, legal_answer_days: int = LEGAL_ANSWER_DAYS, min_handled: int = MIN_HANDLED,
                     refresh: bool = True) -> SlaReport:
    """The SLA report of `period` grouped by `by` (GROUPS), for one `unit` or all.

    First the facts of cases with new events are computed (`refresh`), so the report is exact; then
    one aggregate query gives every group and the total. `clock` is the router's calendar.
    """
    check_group(by)
    if refresh:
        await store.refresh_facts(pool, clock)
    now = now.astimezone(UTC)
    as_of = min(period.end, now)
    result = await store.aggregate(pool, by, period.start, period.end, as_of, unit,
                                   legal_work_minutes(clock, legal_answer_days), FORWARD_RULE_MINUTES)
    total = _empty()
    rows: list[Figures] = []
    for row in result:
        if row["is_total"]:
            total = figures_from_row(row)
        else:
            rows.append(figures_from_row(row, row["key"]))
    rows.sort(key=lambda f: (-f.received, f.key is None, f.key or ""))
    return SlaReport(
        period=period, by=by, total=total, rows=rows, names=await _names(pool, by, [f.key for f in rows]),
        ranking=rank_units(rows, min_handled) if by == "unit" else None, computed_at=now, as_of=as_of, unit=unit,
    )


def dti_figures(f: Figures, label: str, names: tuple[str, str]) -> DtiFigures:
    hours = f.resolution.mean_work_min / 60 if f.resolution.mean_work_min is not None else None
    return DtiFigures(unit=f.key, period_label=label, received=f.received, on_time_rate=f.on_time_rate,
                      avg_handling_work_hours=hours, online_share=f.online_share, satisfaction=f.rating_mean,
                      reopen_rate=f.reopen_rate, within_legal_rate=f.within_legal_rate,
                      name_vi=names[0], name_en=names[1])


async def dti_report(pool: asyncpg.Pool, period: Period, *, unit: str | None = None, clock: Clock, now: datetime,
                     legal_answer_days: int = LEGAL_ANSWER_DAYS, refresh: bool = True) -> list[DtiFigures]:
    """The DTI responsiveness figures of `period`: the whole city first (unit None), then each unit.

    Cases still with the 1022 centre count in the city's row only. With `unit`, that unit's row alone.
    """
    report = await sla_report(pool, period, "unit", unit=unit, clock=clock, now=now,
                              legal_answer_days=legal_answer_days, refresh=refresh)
    if unit is not None:
        mine = next((f for f in report.rows if f.key == unit), _empty(unit))
        names = report.names.get(unit) or (await store.unit_names(pool, [unit])).get(unit, (unit, unit))
        return [dti_figures(mine, period.label, names)]
    units = [dti_figures(f, period.label, report.names[f.key]) for f in report.rows if f.key is not None]
    return [dti_figures(report.total, period.label, CITY), *units]
