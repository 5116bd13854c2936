"""Report exports: an SlaReport, or the DTI rows of a quarter, in; the bytes of a JSON, CSV, XLSX or PDF file out.

Pure: nothing here reads the database or the clock. JSON is the API's shape. CSV is UTF-8 with a BOM
(so Excel reads Vietnamese), one row per group and a total row, rates as decimals (0.875) and minutes
as numbers. XLSX has the figures, the ranking and notes on the time rules. The PDF reads as the
monthly report the 1022 centre sends to the city's leaders: A4 portrait, a title block, the key
numbers in sentences, charts, the ranking and the full table, page numbers in the footer, and the
same bytes for the same report. Formulas and time rules: docs/metrics.md.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any

from casework.reports.periods import Period
from casework.reports.sla import CITY, DtiFigures, Figures, RankedUnit, SlaReport
from kernel.errors import BadRequest
from kernel.http import json_dumps
from kernel.time import LOCAL_TZ

FORMATS = ("json", "csv", "xlsx", "pdf")
LANGS = ("vi", "en")
MEDIA_TYPES = {
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
BINARY = frozenset({"xlsx", "pdf"})

TITLE = ("Đường dây nóng 1022 — Báo cáo tình hình tiếp nhận và xử lý phản ánh, kiến nghị",
         "Hotline 1022 — Report on the intake and handling of citizens' reports and requests")
DTI_TITLE = ("Đường dây nóng 1022 — Số liệu phục vụ Chỉ số chuyển đổi số (DTI)",
             "Hotline 1022 — Figures for the Digital Transformation Index (DTI)")
TOTAL = ("Tổng cộng", "Total")
GROUP_NOUNS = {"unit": ("đơn vị", "unit"), "field": ("lĩnh vực", "field"), "channel": ("kênh tiếp nhận", "channel"),
               "ward": ("phường, xã", "ward")}
GROUP_HEADERS = {  # (code column, name column)
    "unit": (("Mã đơn vị", "Unit code"), ("Đơn vị", "Unit")),
    "field": (("Mã lĩnh vực", "Field code"), ("Lĩnh vực", "Field")),
    "channel": (("Mã kênh", "Channel code"), ("Kênh tiếp nhận", "Channel")),
    "ward": (("Mã phường, xã", "Ward code"), ("Phường, xã", "Ward")),
}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise BadRequest({"field": "format", "message": "one of " + ", ".join(FORMATS)})
    return fmt


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise BadRequest({"field": "lang", "message": "one of " + ", ".join(LANGS)})
    return lang


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "vi" else pair[1]


def filename(kind: str, period: Period, fmt: str, *, by: str | None = None, unit: str | None = None) -> str:
    """A download's name: `hotline1022-sla-2026-11-by-unit.pdf`, `hotline1022-dti-2026-Q4-so-xay-dung.xlsx`."""
    parts = ["hotline1022", kind, period.label.replace("..", "_")]
    if by is not None:
        parts.append(f"by-{by}")
    if unit is not None:
        parts.append(re.sub(r"[^A-Za-z0-9_-]", "", unit) or "unit")
    return "-".join(parts) + "." + fmt


# --- numbers and times as a reader sees them ---------------------------------------------------------------------

def _int(n: int, lang: str) -> str:
    text = f"{n:,}"
    return text.replace(",", ".") if lang == "vi" else text


def _dec(x: float, lang: str, digits: int = 1) -> str:
    text = f"{x:,.{digits}f}"
    if lang == "vi":  # 1.234,5: the point groups thousands, the comma marks decimals
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def _pct(x: float | None, lang: str, digits: int = 1) -> str:
    return "–" if x is None else _dec(100 * x, lang, digits) + "%"


def _num(x: float | None, lang: str, digits: int = 1) -> str:
    return "–" if x is None else _dec(x, lang, digits)


def _hours(minutes: float | None, lang: str) -> str:
    return _num(None if minutes is None else minutes / 60, lang)


def _when(at: datetime) -> str:
    return at.astimezone(LOCAL_TZ).strftime("%H:%M %d/%m/%Y")


def period_span(period: Period) -> str:
    """The bounds in Vietnam time, `12:00 25/10/2026 – 12:00 25/11/2026`, or whole days, `01/10/2026 – 31/12/2026`."""
    start, end = period.start.astimezone(LOCAL_TZ), period.end.astimezone(LOCAL_TZ)
    if start.time() == time(0) and end.time() == time(0):
        return f"{start:%d/%m/%Y} – {end - timedelta(days=1):%d/%m/%Y}"
    return f"{_when(start)} – {_when(end)}"


MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")


def period_name(period: Period, lang: str) -> str:
    """`tháng 11/2026` / `November 2026`, `quý 4/2026` / `Q4 2026`, or the span of a date range."""
    if found := re.fullmatch(r"([0-9]{4})-([0-9]{2})", period.label):
        year, month = int(found.group(1)), int(found.group(2))
        return f"tháng {month}/{year}" if lang == "vi" else f"{MONTHS_EN[month - 1]} {year}"
    if found := re.fullmatch(r"([0-9]{4})-Q([1-4])", period.label):
        year, q = found.group(1), found.group(2)
        return f"quý {q}/{year}" if lang == "vi" else f"Q{q} {year}"
    return period_span(period)


def _as_of(period: Period, computed_at: datetime) -> datetime:
    return min(period.end, computed_at)


# --- the columns of the figures --------------------------------------------------------------------------------

COUNT, RATE, MINUTES, MEAN, HOURS = "count", "rate", "minutes", "mean", "hours"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an export: its header (vi, en), how to read it from a row, and what kind of number it is."""

    name: tuple[str, str]
    value: Callable[[Any], int | float | None]
    kind: str


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda row: getattr(row, name)


def _duration(name: str, stat: str) -> Callable[[Any], Any]:
    return lambda f: getattr(getattr(f, name), stat)


DURATIONS = (("time_to_forward", ("Chuyển đơn vị", "Time to forward")),
             ("first_response", ("Phản hồi đầu tiên", "First response")),
             ("resolution", ("Giải quyết", "Resolution")))
DURATION_STATS = (("count", ("số hồ sơ", "cases"), COUNT),
                  ("median_clock_min", ("trung vị, phút", "median, min"), MINUTES),
                  ("p90_clock_min", ("P90, phút", "p90, min"), MINUTES),
                  ("mean_clock_min", ("trung bình, phút", "mean, min"), MINUTES),
                  ("median_work_min", ("trung vị, phút làm việc", "median, working min"), MINUTES),
                  ("p90_work_min", ("P90, phút làm việc", "p90, working min"), MINUTES),
                  ("mean_work_min", ("trung bình, phút làm việc", "mean, working min"), MINUTES))

SLA_COLUMNS: tuple[Column, ...] = (
    Column(("Tiếp nhận", "Received"), _attr("received"), COUNT),
    Column(("Đã xử lý", "Handled"), _attr("handled"), COUNT),
    Column(("Xử lý đúng hạn", "Handled on time"), _attr("handled_on_time"), COUNT),
    Column(("Xử lý trễ hạn", "Handled late"), _attr("handled_late"), COUNT),
    Column(("Quá hạn chưa xử lý", "Overdue, open"), _attr("overdue_open"), COUNT),
    Column(("Quá hạn (trễ và chưa xử lý)", "Overdue (late and open)"), _attr("overdue"), COUNT),
    Column(("Đang xử lý", "In progress"), _attr("in_progress"), COUNT),
    Column(("Không có hạn xử lý", "No deadline"), _attr("no_deadline"), COUNT),
    Column(("Trùng lặp (đếm riêng)", "Duplicates (counted apart)"), _attr("duplicates"), COUNT),
    Column(("Tỷ lệ đúng hạn", "On-time rate"), _attr("on_time_rate"), RATE),
    Column(("Đã chuyển đơn vị", "Forwarded"), _attr("forwarded"), COUNT),
    Column(("Chuyển trong 5 phút", "Forwarded within 5 min"), _attr("forwarded_within_5min"), COUNT),
    Column(("Tỷ lệ chuyển trong 5 phút", "Forwarded within 5 min, rate"), _attr("forward_rule_rate"), RATE),
    *(Column((f"{what[0]} — {stat_name[0]}", f"{what[1]} — {stat_name[1]}"), _duration(name, stat), kind)
      for name, what in DURATIONS for stat, stat_name, kind in DURATION_STATS),
    Column(("Mở lại", "Reopened"), _attr("reopened"), COUNT),
    Column(("Tỷ lệ mở lại", "Reopen rate"), _attr("reopen_rate"), RATE),
    Column(("Lượt đánh giá", "Ratings"), _attr("ratings"), COUNT),
    Column(("Điểm hài lòng trung bình (1–5)", "Mean rating (1–5)"), _attr("rating_mean"), MEAN),
    Column(("Tỷ lệ hài lòng (4–5 điểm)", "Satisfied (4–5)"), _attr("satisfied_share"), RATE),
    Column(("Tỷ lệ người dân cho là đã giải quyết", "Solved, as citizens say"), _attr("solved_share"), RATE),
    Column(("Qua kênh trực tuyến", "Online"), _attr("online"), COUNT),
    Column(("Tỷ lệ trực tuyến", "Online share"), _attr("online_share"), RATE),
    Column(("Giải quyết trong thời hạn luật định", "Within the legal limit"), _attr("within_legal_limit"), COUNT),
    Column(("Tỷ lệ trong thời hạn luật định", "Within the legal limit, rate"), _attr("within_legal_rate"), RATE),
)

DTI_COLUMNS: tuple[Column, ...] = (
    Column(("Tiếp nhận", "Received"), _attr("received"), COUNT),
    Column(("Tỷ lệ đúng hạn", "On-time rate"), _attr("on_time_rate"), RATE),
    Column(("Thời gian xử lý trung bình (giờ làm việc)", "Mean handling time (working hours)"),
           _attr("avg_handling_work_hours"), HOURS),
    Column(("Tỷ lệ trực tuyến", "Online share"), _attr("online_share"), RATE),
    Column(("Mức độ hài lòng (1–5)", "Satisfaction (1–5)"), _attr("satisfaction"), MEAN),
    Column(("Tỷ lệ mở lại", "Reopen rate"), _attr("reopen_rate"), RATE),
    Column(("Tỷ lệ trong thời hạn luật định", "Within the legal limit, rate"), _attr("within_legal_rate"), RATE),
)

CSV_DIGITS = {RATE: 4, MINUTES: 1, MEAN: 2, HOURS: 2}


def _csv_value(value: int | float | None, kind: str) -> int | float | str:
    if value is None:
        return ""
    if kind == COUNT:
        return int(value)
    return round(float(value), CSV_DIGITS[kind])


def _name(report: SlaReport, key: str | None, lang: str) -> str:
    return _pick(report.names.get(key, (key or "", key or "")), lang)


def _group_rows(report: SlaReport, lang: str) -> list[tuple[str, str, Figures]]:
    """(code, name, figures) for each group, then the total."""
    rows = [(f.key or "", _name(report, f.key, lang), f) for f in report.rows]
    return [*rows, ("", _pick(TOTAL, lang), report.total)]


def _dti_rows(rows: Sequence[DtiFigures], lang: str) -> list[tuple[str, str, DtiFigures]]:
    """(code, name, figures) for each unit, then the city (or the one unit asked for, alone)."""
    units = [(r.unit or "", _pick((r.name_vi, r.name_en), lang) or (r.unit or ""), r) for r in rows if r.unit]
    city = [("", _pick(CITY, lang), r) for r in rows if r.unit is None]
    return [*units, *city]


# --- JSON ------------------------------------------------------------------------------------------------------

def dti_dict(rows: Sequence[DtiFigures], period: Period, *, computed_at: datetime,
             unit: str | None = None) -> dict[str, Any]:
    """The DTI figures as GET /api/v1/stats/dti gives them (datetimes left for the JSON encoder)."""
    return {"period": {"label": period.label, "start": period.start, "end": period.end},
            "unit": unit, "computed_at": computed_at, "rows": [r.as_dict() for r in rows]}


def sla_json(report: SlaReport) -> bytes:
    """The SLA report as GET /api/v1/stats/sla gives it."""
    return json_dumps(report.as_dict()).encode("utf-8")


def dti_json(rows: Sequence[DtiFigures], period: Period, *, computed_at: datetime, unit: str | None = None) -> bytes:
    """The DTI figures as GET /api/v1/stats/dti gives them."""
    return json_dumps(dti_dict(rows, period, computed_at=computed_at, unit=unit)).encode("utf-8")


# --- CSV -------------------------------------------------------------------------------------------------------

def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM tells Excel the file is UTF-8


def sla_csv(report: SlaReport, *, lang: str = "vi") -> bytes:
    """One row per group, then the total: code, name and every figure (rates as decimals, minutes as numbers)."""
    code, name = GROUP_HEADERS[report.by]
    header = [_pick(code, lang), _pick(name, lang), *(_pick(c.name, lang) for c in SLA_COLUMNS)]
    return _csv(header, [[key, label, *(_csv_value(c.value(f), c.kind) for c in SLA_COLUMNS)]
                         for key, label, f in _group_rows(report, lang)])


def dti_csv(rows: Sequence[DtiFigures], period: Period, *, lang: str = "vi") -> bytes:
    """One row per unit, then the whole city: code, name, quarter and the DTI figures."""
    code, name = GROUP_HEADERS["unit"]
    header = [_pick(code, lang), _pick(name, lang), _pick(("Kỳ", "Period"), lang),
              *(_pick(c.name, lang) for c in DTI_COLUMNS)]
    return _csv(header, [[key, label, period.label, *(_csv_value(c.value(r), c.kind) for c in DTI_COLUMNS)]
                         for key, label, r in _dti_rows(rows, lang)])


# --- XLSX ------------------------------------------------------------------------------------------------------

SHEETS = {"figures": ("Số liệu", "Figures"), "ranking": ("Xếp hạng", "Ranking"), "notes": ("Ghi chú", "Notes")}
XLSX_FORMATS = {RATE: "0.0%", MINUTES: "#,##0.0", MEAN: "0.00", HOURS: "#,##0.0", COUNT: "#,##0"}


def _rules(lang: str, *, dti: bool = False) -> list[str]:
    """The time rules in short (docs/metrics.md has them in full)."""
    if lang == "vi":
        rules = [
            "Một phản ánh được tính vào kỳ khi được tiếp nhận trong kỳ; mọi số liệu khác tính đến cuối kỳ "
            "(hoặc đến lúc lập báo cáo nếu kỳ chưa kết thúc).",
            "Kỳ tháng: từ 12:00 ngày 25 tháng trước đến 12:00 ngày 25 tháng báo cáo, giờ Việt Nam; "
            "kỳ quý: theo quý dương lịch.",
            "Đã xử lý: đã trả lời hoặc đã đóng; đúng hạn: xử lý xong không muộn hơn hạn xử lý; "
            "tỷ lệ đúng hạn tính trên các phản ánh đã xử lý có hạn xử lý.",
            "Quy tắc 5 phút: phản ánh được chuyển đến đơn vị xử lý trong vòng 5 phút kể từ khi tiếp nhận.",
            "Phút, giờ làm việc: theo lịch làm việc của tổng đài (trừ ngày nghỉ, ngày lễ và thời gian tạm dừng "
            "chờ người dân bổ sung).",
            "Phản ánh trùng lặp được đếm riêng và không tính vào các số liệu khác.",
            "Công thức chi tiết: docs/metrics.md.",
        ]
        if dti:
            rules.insert(5, "Thời gian xử lý trung bình: trung bình số giờ làm việc từ khi tiếp nhận đến khi "
                            "xử lý xong; mức độ hài lòng: điểm đánh giá trung bình của người dân (1–5).")
        return rules
    rules = [
        "A report counts in the period it was received in; every other figure is taken as of the period's end "
        "(or when the report was made, for a period not yet over).",
        "The month runs from 12:00 on the 25th of the month before to 12:00 on the 25th, Vietnam time; "
        "quarters are calendar quarters.",
        "Handled: answered or closed; on time: handled no later than its deadline; the on-time rate is over "
        "the handled reports that had a deadline.",
        "The 5-minute rule: a report reaches its unit within 5 minutes of being received.",
        "Working minutes and hours: on the centre's calendar (no weekends or holidays, no time paused while "
        "waiting for the citizen).",
        "Duplicates are counted apart and left out of every other figure.",
        "Formulas in full: docs/metrics.md.",
    ]
    if dti:
        rules.insert(5, "Mean handling time: the mean working hours from receipt to handled; satisfaction: "
                        "the citizens' mean rating (1–5).")
    return rules


def _workbook() -> Any:
    from openpyxl import Workbook

    return Workbook()


def _figures_sheet(ws: Any, header: list[str], columns: Sequence[Column], rows: list[tuple[list[Any], Any]],
                   *, name_columns: int, total_last: bool) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for lead, row in rows:
        ws.append([*lead, *(c.value(row) for c in columns)])
        for c, cell in zip(columns, ws[ws.max_row][name_columns:], strict=True):
            cell.number_format = XLSX_FORMATS[c.kind]
    if total_last and rows:
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
    ws.freeze_panes = ws.cell(row=2, column=name_columns + 1).coordinate
    widths = [14, 40, 10][:name_columns]
    for i in range(1, len(header) + 1):
        ws.column_dimensions[get_column_letter(i)].width = widths[i - 1] if i <= name_columns else 14
    ws.row_dimensions[1].height = 45


def _notes_sheet(ws: Any, facts: list[tuple[str, str]], rules: list[str], lang: str) -> None:
    from openpyxl.styles import Alignment, Font

    for label, value in facts:
        ws.append([label, value])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    ws.append([])
    ws.append([_pick(("Quy tắc tính", "Time rules"), lang)])
    ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    for rule in rules:
        ws.append(["", rule])
        ws.cell(row=ws.max_row, column=2).alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 100


def _save(wb: Any, computed_at: datetime) -> bytes:
    wb.properties.creator = "Hotline 1022"
    wb.properties.created = computed_at.replace(tzinfo=None)  # openpyxl writes naive datetimes as UTC
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sla_facts(report: SlaReport, lang: str) -> list[tuple[str, str]]:
    facts = [
        (_pick(("Báo cáo", "Report"), lang), _pick(TITLE, lang)),
        (_pick(("Kỳ báo cáo", "Period"), lang), f"{period_name(report.period, lang)}: {period_span(report.period)}"),
        (_pick(("Nhóm theo", "Grouped by"), lang), _pick(GROUP_NOUNS[report.by], lang)),
    ]
    if report.unit is not None:
        facts.append((_pick(("Đơn vị", "Unit"), lang), _scope_name(report, lang)))
    facts += [(_pick(("Số liệu tính đến", "Figures as of"), lang), _when(report.as_of)),
              (_pick(("Lập lúc", "Made at"), lang), _when(report.computed_at))]
    if report.ranking is not None:
        facts.append((_pick(("Xếp hạng", "Ranking"), lang), _ranking_rule(report.ranking.min_handled, lang)))
    return facts


def _ranking_rule(min_handled: int, lang: str) -> str:
    if lang == "vi":
        return (f"các đơn vị có ít nhất {min_handled} phản ánh đã xử lý trong kỳ, theo tỷ lệ đúng hạn "
                "(bằng nhau thì đơn vị xử lý nhiều hơn đứng trước); Tổng đài 1022 không xếp hạng")
    return (f"units with at least {min_handled} handled reports in the period, by on-time rate (ties: more "
            "handled first); the 1022 centre is not ranked")


def _scope_name(report: SlaReport, lang: str) -> str:
    unit = report.unit or ""
    if report.by == "unit" and unit in report.names:
        return f"{_pick(report.names[unit], lang)} ({unit})"
    return unit


def sla_xlsx(report: SlaReport, *, lang: str = "vi") -> bytes:
    """A workbook: the figures (a row per group and the total), the ranking (by unit) and the notes."""
    from openpyxl.styles import Font

    wb = _workbook()
    ws = wb.active
    ws.title = _pick(SHEETS["figures"], lang)
    code, name = GROUP_HEADERS[report.by]
    _figures_sheet(ws, [_pick(code, lang), _pick(name, lang), *(_pick(c.name, lang) for c in SLA_COLUMNS)],
                   SLA_COLUMNS, [([key, label], f) for key, label, f in _group_rows(report, lang)],
                   name_columns=2, total_last=True)
    if report.ranking is not None:
        ranks = wb.create_sheet(_pick(SHEETS["ranking"], lang))
        ranks.append([_pick(h, lang) for h in RANKING_HEADERS])
        for cell in ranks[1]:
            cell.font = Font(bold=True)
        for unit, mark in _ranked(report):
            ranks.append([unit.rank, unit.key, _name(report, unit.key, lang), unit.on_time_rate, unit.handled,
                          _pick(MARKS[mark], lang) if mark else ""])
            ranks.cell(row=ranks.max_row, column=4).number_format = XLSX_FORMATS[RATE]
        ranks.freeze_panes = "A2"
        for letter, width in zip("ABCDEF", (8, 16, 40, 16, 12, 22), strict=True):
            ranks.column_dimensions[letter].width = width
    _notes_sheet(wb.create_sheet(_pick(SHEETS["notes"], lang)), _sla_facts(report, lang), _rules(lang), lang)
    return _save(wb, report.computed_at)


def dti_xlsx(rows: Sequence[DtiFigures], period: Period, *, computed_at: datetime, unit: str | None = None,
             lang: str = "vi") -> bytes:
    """A workbook: the DTI figures (a row per unit and the city) and the notes."""
    wb = _workbook()
    ws = wb.active
    ws.title = _pick(SHEETS["figures"], lang)
    code, name = GROUP_HEADERS["unit"]
    _figures_sheet(ws, [_pick(code, lang), _pick(name, lang), *(_pick(c.name, lang) for c in DTI_COLUMNS)],
                   DTI_COLUMNS, [([key, label], r) for key, label, r in _dti_rows(rows, lang)],
                   name_columns=2, total_last=unit is None)
    facts = [(_pick(("Báo cáo", "Report"), lang), _pick(DTI_TITLE, lang)),
             (_pick(("Kỳ báo cáo", "Period"), lang), f"{period_name(period, lang)}: {period_span(period)}")]
    if unit is not None:
        facts.append((_pick(("Đơn vị", "Unit"), lang), unit))
    facts += [(_pick(("Số liệu tính đến", "Figures as of"), lang), _when(_as_of(period, computed_at))),
              (_pick(("Lập lúc", "Made at"), lang), _when(computed_at))]
    _notes_sheet(wb.create_sheet(_pick(SHEETS["notes"], lang)), facts, _rules(lang, dti=True), lang)
    return _save(wb, computed_at)


RANKING_HEADERS = (("Hạng", "Rank"), ("Mã đơn vị", "Unit code"), ("Đơn vị", "Unit"),
                   ("Tỷ lệ đúng hạn", "On-time rate"), ("Đã xử lý", "Handled"), ("Nhóm", "Group"))
MARKS = {"top": ("5 đơn vị dẫn đầu", "Top five"), "bottom": ("5 đơn vị cuối bảng", "Bottom five")}


def _ranked(report: SlaReport) -> list[tuple[RankedUnit, str | None]]:
    """Every ranked unit with its mark: "top" for the first five, "bottom" for the last five (top wins a tie)."""
    if report.ranking is None:
        return []
    top = {u.key for u in report.ranking.top}
    bottom = {u.key for u in report.ranking.bottom}
    return [(u, "top" if u.key in top else "bottom" if u.key in bottom else None) for u in report.ranking.ranked]


# --- PDF -------------------------------------------------------------------------------------------------------

A4 = (8.27, 11.69)  # inches, portrait
MARGIN = 0.6
TOP = 0.7
BOTTOM = 11.69 - 0.8  # the footer lives below
WIDTH = A4[0] - 2 * MARGIN
FONT = "DejaVu Sans"  # matplotlib's own font, with Vietnamese glyphs: nothing is fetched
INK, MUTED, RULE, SHADE = "#1a1a1a", "#5f6368", "#9aa0a6", "#eef1f4"
BLUE, GREEN, RED, GREY, AMBER = "#1f5fa8", "#2e7d32", "#c62828", "#b0bec5", "#ef8f00"
CHART_GROUPS = 15  # the largest groups in the received/handled/overdue chart; the table has them all
BARS_PER_CHART = 30
# matplotlib's rc_context sets process-wide parameters: one PDF at a time, so a thread's PDF never
# drawn with another's settings half restored (the API renders in worker threads).
_PDF_LOCK = threading.Lock()


@cache
def _font(bold: bool) -> Any:
    from matplotlib.font_manager import FontProperties, findfont, get_font

    return get_font(findfont(FontProperties(family=FONT, weight="bold" if bold else "normal"),
                             fallback_to_default=False))


def _width_pt(text: str, size: float, bold: bool = False) -> float:
    """The drawn width of `text` in points (measured with the font itself, so wrapping never overflows)."""
    font = _font(bold)
    font.set_size(size, 72)
    font.set_text(text, 0.0)
    return font.get_width_height()[0] / 64


def _wrap(text: str, size: float, width_in: float, bold: bool = False) -> list[str]:
    limit = width_in * 72
    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if line and _width_pt(trial, size, bold) > limit:
            lines.append(line)
            line = word
        else:
            line = trial
    return [*lines, line] if line else lines


def _fit(text: str, size: float, width_in: float, bold: bool = False) -> str:
    """`text`, cut with an ellipsis to fit `width_in`."""
    limit = width_in * 72
    if _width_pt(text, size, bold) <= limit:
        return text
    while text and _width_pt(text + "…", size, bold) > limit:
        text = text[:-1]
    return text.rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Cell:
    """A table column for the PDF: header, width in inches, alignment, and how to show a row's value."""

    header: str
    width: float
    show: Callable[[Any], str]
    align: str = "right"


def _text(fig: Any, x: float, y: float, text: str, *, size: float = 9, bold: bool = False, ha: str = "left",
          color: str = INK) -> None:
    """`text` with its top at `y` inches from the page's top, `x` inches from its left."""
    fig.text(x / A4[0], 1 - y / A4[1], text, fontsize=size, fontweight="bold" if bold else "normal", ha=ha,
             va="top", color=color, family=FONT)


def _rule(fig: Any, y: float, x0: float, x1: float, color: str, width: float) -> None:
    from matplotlib.lines import Line2D

    fig.add_artist(Line2D([x0 / A4[0], x1 / A4[0]], [1 - y / A4[1]] * 2, color=color, linewidth=width))


class _Document:
    """A4 pages filled from top to bottom; a section that does not fit starts a new page."""

    def __init__(self, lang: str, footer: str) -> None:
        self.lang = lang
        self.footer = footer
        self.pages: list[Any] = []
        self.y = BOTTOM
        self.sections = 0

    def new_page(self) -> None:
        from matplotlib.figure import Figure

        self.pages.append(Figure(figsize=A4))
        self.y = TOP

    @property
    def fig(self) -> Any:
        return self.pages[-1]

    def room(self, height: float) -> None:
        if not self.pages or self.y + height > BOTTOM:
            self.new_page()

    def text(self, x: float, y: float, text: str, **style: Any) -> None:
        _text(self.fig, x, y, text, **style)

    def rule(self, y: float, x0: float = MARGIN, x1: float = A4[0] - MARGIN, color: str = RULE,
             width: float = 0.6) -> None:
        _rule(self.fig, y, x0, x1, color, width)

    def shade(self, y: float, height: float, x: float = MARGIN, width: float = WIDTH) -> None:
        from matplotlib.patches import Rectangle

        self.fig.add_artist(Rectangle((x / A4[0], 1 - (y + height) / A4[1]), width / A4[0], height / A4[1],
                                      facecolor=SHADE, edgecolor="none", zorder=0))

    def heading(self, title: str, keep: float = 0.5) -> None:
        """A numbered section title, kept on one page with the first `keep` inches of what follows."""
        self.sections += 1
        self.room(0.44 + keep)
        self.y += 0.12
        self.text(MARGIN, self.y, f"{_roman(self.sections)}. {title}", size=12, bold=True, color=BLUE)
        self.y += 0.32

    def paragraph(self, text: str, *, size: float = 10, leading: float = 1.45, color: str = INK) -> None:
        step = size * leading / 72
        for line in _wrap(text, size, WIDTH):
            self.room(step)
            self.text(MARGIN, self.y, line, size=size, color=color)
            self.y += step
        self.y += step / 2

    def axes(self, height: float, *, left: float = 0.0, top: float = 0.45, bottom: float = 0.4) -> Any:
        """An Axes `height` inches tall below the cursor: `left` inches kept for its labels, `top` for its title
        and legend, `bottom` for its ticks."""
        self.room(top + height + bottom)
        self.y += top
        box = [(MARGIN + left) / A4[0], 1 - (self.y + height) / A4[1], (WIDTH - left) / A4[0], height / A4[1]]
        self.y += height + bottom
        return self.fig.add_axes(box)

    def table(self, cells: Sequence[Cell], rows: Sequence[Any], *, size: float = 7.5,
              strong: Callable[[Any], bool] = lambda _: False,
              color: Callable[[Any], str] = lambda _: INK) -> None:
        """Rows under a header that is drawn again at the top of each page the table runs onto."""
        head_lines = [_wrap(c.header, size - 0.5, c.width - 0.06, bold=True) for c in cells]
        head_height = max(len(lines) for lines in head_lines) * (size + 1.5) / 72 + 0.1
        step = (size + 4.5) / 72

        def header() -> None:
            self.room(head_height + step)
            self.rule(self.y, color=INK, width=0.8)
            x = MARGIN
            for cell, lines in zip(cells, head_lines, strict=True):
                for i, line in enumerate(lines):
                    at = x + 0.03 if cell.align == "left" else x + cell.width - 0.03
                    self.text(at, self.y + 0.05 + i * (size + 1.5) / 72, line, size=size - 0.5, bold=True,
                              ha=cell.align)
                x += cell.width
            self.y += head_height
            self.rule(self.y, color=INK, width=0.8)

        header()
        for n, row in enumerate(rows):
            if self.y + step > BOTTOM:
                self.new_page()
                header()
            if n % 2:
                self.shade(self.y, step)
            x = MARGIN
            for cell in cells:
                text = _fit(cell.show(row), size, cell.width - 0.06, bold=strong(row))
                at = x + 0.03 if cell.align == "left" else x + cell.width - 0.03
                self.text(at, self.y + 0.035, text, size=size, bold=strong(row), ha=cell.align, color=color(row))
                x += cell.width
            self.y += step
        self.rule(self.y, color=INK, width=0.8)
        self.y += 0.2

    def finish(self, metadata: dict[str, Any]) -> bytes:
        from matplotlib.backends.backend_pdf import PdfPages

        total = len(self.pages)
        page_word = _pick(("Trang", "Page"), self.lang)
        out = io.BytesIO()
        with PdfPages(out, metadata=metadata) as pdf:
            for n, fig in enumerate(self.pages, 1):
                _rule(fig, A4[1] - 0.62, MARGIN, A4[0] - MARGIN, RULE, 0.5)
                _text(fig, MARGIN, A4[1] - 0.55, self.footer, size=7, color=MUTED)
                _text(fig, A4[0] - MARGIN, A4[1] - 0.55, f"{page_word} {n}/{total}", size=7, color=MUTED, ha="right")
                pdf.savefig(fig)
        return out.getvalue()


def _roman(n: int) -> str:
    return ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")[n - 1] if 1 <= n <= 10 else str(n)


def _rc() -> dict[str, Any]:
    return {"font.family": FONT, "font.size": 8, "pdf.fonttype": 42, "pdf.compression": 6,
            "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": RULE, "axes.labelcolor": INK,
            "xtick.color": MUTED, "ytick.color": INK, "axes.titleweight": "bold", "axes.titlesize": 9.5,
            "axes.titlelocation": "left", "legend.frameon": False, "path.simplify": False}


def _title_block(doc: _Document, title: tuple[str, str], lines: list[str]) -> None:
    doc.new_page()
    lang = doc.lang
    head, _, rest = _pick(title, lang).partition(" — ")
    doc.text(A4[0] / 2, doc.y, head.upper(), size=15, bold=True, ha="center", color=BLUE)
    doc.y += 0.34
    for line in _wrap(rest, 13, WIDTH - 0.6, bold=True):
        doc.text(A4[0] / 2, doc.y, line, size=13, bold=True, ha="center")
        doc.y += 0.26
    doc.y += 0.08
    for line in lines:
        doc.text(A4[0] / 2, doc.y, line, size=9.5, ha="center", color=MUTED)
        doc.y += 0.2
    doc.y += 0.08
    doc.rule(doc.y, x0=A4[0] / 2 - 1.2, x1=A4[0] / 2 + 1.2, color=INK, width=0.8)
    doc.y += 0.2


def _key_figures(doc: _Document, items: list[tuple[str, str]]) -> None:
    """Two columns of label → value, shaded every other line."""
    step = 0.21
    half = (len(items) + 1) // 2
    doc.room(half * step + 0.2)
    top = doc.y
    col = WIDTH / 2
    for i, (label, value) in enumerate(items):
        x = MARGIN + (col if i >= half else 0)
        y = top + (i % half) * step
        if i % half % 2 == 0:
            doc.shade(y, step, x, col - 0.1)
        doc.text(x + 0.06, y + 0.045, _fit(label, 8.5, col - 1.3), size=8.5)
        doc.text(x + col - 0.16, y + 0.045, value, size=8.5, bold=True, ha="right")
    doc.y = top + half * step + 0.25


def _percent_axis(ax: Any, lang: str) -> None:
    ticks = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ax.set_xlim(0, 1.12)
    ax.set_xticks(ticks, [_pct(t, lang, 0) for t in ticks])


def _bar_labels(ax: Any, bars: Any, texts: list[str], size: float = 6.5) -> None:
    for bar, text in zip(bars, texts, strict=True):
        ax.text(bar.get_x() + bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + text, va="center",
                ha="left", fontsize=size, color=INK)


def _labels(names: list[str], size: float, width_in: float) -> list[str]:
    return [_fit(n, size, width_in) for n in names]


def _volume_chart(doc: _Document, report: SlaReport) -> bool:
    """Received, handled and overdue by group: grouped horizontal bars, the largest groups first."""
    import numpy as np

    lang = doc.lang
    rows = report.rows[:CHART_GROUPS]
    names = [_name(report, f.key, lang) for f in rows]
    values = [(f.received, f.handled, f.overdue) for f in rows]
    if not values:
        return False
    label_width = 2.3
    rest = report.rows[CHART_GROUPS:]
    height = _volume_height(report)
    ax = doc.axes(height, left=label_width, bottom=0.6 if rest else 0.4)
    if rest:
        others = sum(f.received for f in rest)
        ax.text(0, -0.4 / height, _pick(
            (f"Còn {_int(len(rest), lang)} {GROUP_NOUNS[report.by][0]} khác ({_int(others, lang)} phản ánh): "
             "xem bảng số liệu.",
             f"{_int(len(rest), lang)} other {GROUP_NOUNS[report.by][1]}{_s(len(rest))} "
             f"({_int(others, lang)} received): see the table."), lang),
            transform=ax.transAxes, fontsize=7, color=MUTED, va="top")
    y = np.arange(len(values))
    series = ((("Tiếp nhận", "Received"), BLUE), (("Đã xử lý", "Handled"), GREEN), (("Quá hạn", "Overdue"), RED))
    for i, (label, colour) in enumerate(series):
        bars = ax.barh(y + (i - 1) * 0.27, [v[i] for v in values], height=0.26, color=colour,
                       label=_pick(label, lang))
        _bar_labels(ax, bars, [_int(v[i], lang) for v in values], 6)
    ax.set_yticks(y, _labels(names, 7.5, label_width - 0.1), fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlim(0, max(max(v) for v in values) * 1.15 or 1)
    ax.xaxis.set_major_formatter(_int_formatter(lang))
    ax.set_title(_pick(("Tiếp nhận, đã xử lý và quá hạn theo ", "Received, handled and overdue by "), lang)
                 + _pick(GROUP_NOUNS[report.by], lang), x=-label_width / (WIDTH - label_width))
    ax.legend(loc="lower right", fontsize=7, ncols=3, bbox_to_anchor=(1.0, 1.0))
    return True


def _volume_height(report: SlaReport) -> float:
    return 0.45 * len(report.rows[:CHART_GROUPS]) + 0.2


def _int_formatter(lang: str) -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: _int(int(v), lang) if float(v).is_integer() else "")


def _channel_chart(doc: _Document, report: SlaReport, channels: SlaReport | None) -> bool:
    """Intake by channel: every channel when known, else online against phone and SMS."""
    lang = doc.lang
    source = report if report.by == "channel" else channels
    if source is not None:
        pairs = [(_name(source, f.key, lang), f.received) for f in source.rows]
        total = source.total.received
    else:
        t = report.total
        pairs = [(_pick(("Kênh trực tuyến", "Online channels"), lang), t.online),
                 (_pick(("Điện thoại, SMS", "Phone, SMS"), lang), t.received - t.online)]
        total = t.received
    if not total:
        return False
    label_width = 2.3
    ax = doc.axes(0.3 * len(pairs) + 0.2, left=label_width)
    bars = ax.barh(range(len(pairs)), [v for _, v in pairs], height=0.6, color=BLUE)
    _bar_labels(ax, bars, [f"{_int(v, lang)} ({_pct(v / total, lang)})" for _, v in pairs])
    ax.set_yticks(range(len(pairs)), _labels([n for n, _ in pairs], 7.5, label_width - 0.1), fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlim(0, max(v for _, v in pairs) * 1.3 or 1)
    ax.xaxis.set_major_formatter(_int_formatter(lang))
    ax.set_title(_pick(("Tiếp nhận theo kênh", "Intake by channel"), lang), x=-label_width / (WIDTH - label_width))
    return True


def _on_time_chart(doc: _Document, report: SlaReport) -> bool:
    """The on-time rate by unit (the ranked ones, top and bottom five marked) or by the report's group."""
    from matplotlib.patches import Patch

    lang = doc.lang
    if report.ranking is not None:
        bars = [(_name(report, u.key, lang), u.on_time_rate, u.handled,
                 GREEN if mark == "top" else RED if mark == "bottom" else GREY) for u, mark in _ranked(report)]
    else:
        rated = sorted((f for f in report.rows if f.on_time_rate is not None),
                       key=lambda f: (-(f.on_time_rate or 0.0), -f.handled, f.key or ""))
        bars = [(_name(report, f.key, lang), f.on_time_rate or 0.0, f.handled, BLUE) for f in rated]
    if not bars:
        return False
    label_width = 2.3
    title = _pick(("Tỷ lệ xử lý đúng hạn theo ", "On-time rate by "), lang) + _pick(GROUP_NOUNS[report.by], lang)
    for start in range(0, len(bars), BARS_PER_CHART):
        chunk = bars[start:start + BARS_PER_CHART]
        ax = doc.axes(0.24 * len(chunk) + 0.2, left=label_width)
        drawn = ax.barh(range(len(chunk)), [b[1] for b in chunk], height=0.7, color=[b[3] for b in chunk])
        _bar_labels(ax, drawn, [f"{_pct(b[1], lang)} ({_int(b[2], lang)})" for b in chunk])
        ax.set_yticks(range(len(chunk)), _labels([b[0] for b in chunk], 7, label_width - 0.1), fontsize=7)
        ax.invert_yaxis()
        _percent_axis(ax, lang)
        suffix = "" if len(bars) <= BARS_PER_CHART else f" ({start + 1}–{start + len(chunk)}/{len(bars)})"
        ax.set_title(title + suffix, x=-label_width / (WIDTH - label_width))
        if report.ranking is not None and start == 0:
            ax.legend(handles=[Patch(color=GREEN, label=_pick(MARKS["top"], lang)),
                               Patch(color=RED, label=_pick(MARKS["bottom"], lang)),
                               Patch(color=GREY, label=_pick(("Các đơn vị khác", "Other units"), lang))],
                      loc="lower right", fontsize=7, ncols=3, bbox_to_anchor=(1.0, 1.0))
    return True


NO_CHART = ("Trong kỳ chưa có số liệu để vẽ biểu đồ.", "There is nothing to chart for the period.")


def _summary(report: SlaReport, lang: str) -> list[str]:
    """The key numbers in sentences, as a report to the city's leaders opens: intake and handling, then quality."""
    t = report.total
    n = lambda v: _int(v, lang)  # noqa: E731
    p = lambda v: _pct(v, lang)  # noqa: E731
    vi = lang == "vi"
    if not t.received:
        text = ("Trong kỳ chưa tiếp nhận phản ánh, kiến nghị nào" if vi else "No report was received in the period")
        if t.duplicates:
            text += (f" (ngoài {n(t.duplicates)} phản ánh trùng lặp)" if vi
                     else f" (besides {n(t.duplicates)} duplicate{_s(t.duplicates)})")
        return [text + "."]
    out = []
    if vi:
        s = f"Trong kỳ, đã tiếp nhận {n(t.received)} phản ánh, kiến nghị"
        if t.duplicates:
            s += f" (không kể {n(t.duplicates)} phản ánh trùng lặp được đếm riêng)"
        out.append(s + f", trong đó {n(t.online)} phản ánh ({p(t.online_share)}) qua các kênh trực tuyến.")
        s = f"Đã xử lý xong {n(t.handled)} phản ánh ({p(t.handled / t.received)})"
        if t.on_time_rate is not None:
            s += (f", trong đó {n(t.handled_on_time)} phản ánh đúng hạn và {n(t.handled_late)} phản ánh trễ hạn; "
                  f"tỷ lệ xử lý đúng hạn đạt {p(t.on_time_rate)}.")
        else:
            s += "; chưa có phản ánh đã xử lý nào có hạn xử lý để tính tỷ lệ đúng hạn."
        out.append(s)
        s = f"Còn {n(t.in_progress)} phản ánh đang xử lý"
        s += (f", trong đó {n(t.overdue_open)} phản ánh đã quá hạn" if t.overdue_open
              else ", chưa có phản ánh nào quá hạn")
        out.append(s + f"; tổng số phản ánh quá hạn (kể cả xử lý trễ) là {n(t.overdue)}.")
        if t.forwarded:
            out.append(f"Có {n(t.forwarded_within_5min)}/{n(t.forwarded)} phản ánh ({p(t.forward_rule_rate)}) "
                       "được chuyển đến đơn vị xử lý trong vòng 5 phút kể từ khi tiếp nhận.")
        split = len(out)
        r = t.resolution
        if r.count and r.median_work_min is not None:
            out.append(f"Thời gian giải quyết trung vị là {_hours(r.median_work_min, lang)} giờ làm việc "
                       f"({_num((r.median_clock_min or 0) / 1440, lang)} ngày theo lịch); "
                       f"{n(t.within_legal_limit)} phản ánh ({p(t.within_legal_rate)}) được giải quyết "
                       "trong thời hạn luật định.")
        if t.first_response.count and t.first_response.median_work_min is not None:
            out.append(f"Phản hồi đầu tiên đến người dân sau trung vị {_hours(t.first_response.median_work_min, lang)}"
                       " giờ làm việc.")
        if t.handled:
            out.append(f"{n(t.reopened)} phản ánh ({p(t.reopen_rate)}) phải mở lại sau khi đã xử lý.")
        if t.ratings:
            s = (f"Người dân đã gửi {n(t.ratings)} lượt đánh giá, điểm hài lòng trung bình "
                 f"{_num(t.rating_mean, lang)}/5; {p(t.satisfied_share)} hài lòng (4–5 điểm)")
            if t.solved_share is not None:
                s += f", {p(t.solved_share)} cho biết vấn đề đã được giải quyết"
            out.append(s + ".")
        else:
            out.append("Chưa có lượt đánh giá nào của người dân.")
    else:
        s = f"In the period, {n(t.received)} report{_s(t.received)} and request{_s(t.received)} were received"
        if t.duplicates:
            s += f" (not counting {n(t.duplicates)} duplicate{_s(t.duplicates)}, counted apart)"
        out.append(s + f", {n(t.online)} of them ({p(t.online_share)}) through online channels.")
        s = f"{n(t.handled)} ({p(t.handled / t.received)}) have been handled"
        if t.on_time_rate is not None:
            s += (f": {n(t.handled_on_time)} on time and {n(t.handled_late)} late, an on-time rate of "
                  f"{p(t.on_time_rate)}.")
        else:
            s += "; none of those handled had a deadline, so there is no on-time rate yet."
        out.append(s)
        s = f"{n(t.in_progress)} {'is' if t.in_progress == 1 else 'are'} in progress"
        s += (f", {n(t.overdue_open)} of them past the deadline" if t.overdue_open else ", none past the deadline")
        out.append(s + f"; {n(t.overdue)} in all went past the deadline (late or still open).")
        if t.forwarded:
            out.append(f"{n(t.forwarded_within_5min)} of {n(t.forwarded)} ({p(t.forward_rule_rate)}) reached their "
                       "unit within 5 minutes of being received.")
        split = len(out)
        r = t.resolution
        if r.count and r.median_work_min is not None:
            out.append(f"The median resolution took {_hours(r.median_work_min, lang)} working hours "
                       f"({_num((r.median_clock_min or 0) / 1440, lang)} calendar days); "
                       f"{n(t.within_legal_limit)} ({p(t.within_legal_rate)}) were resolved within the legal limit.")
        if t.first_response.count and t.first_response.median_work_min is not None:
            out.append(f"The first reply reached the citizen after a median of "
                       f"{_hours(t.first_response.median_work_min, lang)} working hours.")
        if t.handled:
            out.append(f"{n(t.reopened)} ({p(t.reopen_rate)}) had to be reopened after being handled.")
        if t.ratings:
            s = (f"Citizens gave {n(t.ratings)} rating{_s(t.ratings)}, a mean of {_num(t.rating_mean, lang)}/5; "
                 f"{p(t.satisfied_share)} were satisfied (4–5)")
            if t.solved_share is not None:
                s += f", and {p(t.solved_share)} said the problem was solved"
            out.append(s + ".")
        else:
            out.append("No citizen has rated an answer yet.")
    ranking = report.ranking
    if ranking is not None and len(ranking.ranked) >= 2:
        best, worst = ranking.ranked[0], ranking.ranked[-1]
        out.append(_pick((f"Đơn vị có tỷ lệ đúng hạn cao nhất là {_name(report, best.key, lang)} "
                          f"({p(best.on_time_rate)}), thấp nhất là {_name(report, worst.key, lang)} "
                          f"({p(worst.on_time_rate)}).",
                          f"The best on-time rate was {_name(report, best.key, lang)}'s ({p(best.on_time_rate)}), "
                          f"the lowest {_name(report, worst.key, lang)}'s ({p(worst.on_time_rate)})."), lang))
    return [" ".join(out[:split]), " ".join(out[split:])]


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _key_items(t: Figures, lang: str) -> list[tuple[str, str]]:
    return [
        (_pick(("Tiếp nhận", "Received"), lang), _int(t.received, lang)),
        (_pick(("Đã xử lý", "Handled"), lang), _int(t.handled, lang)),
        (_pick(("Xử lý đúng hạn", "Handled on time"), lang), _int(t.handled_on_time, lang)),
        (_pick(("Xử lý trễ hạn", "Handled late"), lang), _int(t.handled_late, lang)),
        (_pick(("Đang xử lý", "In progress"), lang), _int(t.in_progress, lang)),
        (_pick(("Quá hạn chưa xử lý", "Overdue, open"), lang), _int(t.overdue_open, lang)),
        (_pick(("Trùng lặp (đếm riêng)", "Duplicates (apart)"), lang), _int(t.duplicates, lang)),
        (_pick(("Tỷ lệ đúng hạn", "On-time rate"), lang), _pct(t.on_time_rate, lang)),
        (_pick(("Chuyển đơn vị trong 5 phút", "Forwarded within 5 min"), lang), _pct(t.forward_rule_rate, lang)),
        (_pick(("Giải quyết, trung vị (giờ làm việc)", "Resolution, median (working h)"), lang),
         _hours(t.resolution.median_work_min, lang)),
        (_pick(("Trong thời hạn luật định", "Within the legal limit"), lang), _pct(t.within_legal_rate, lang)),
        (_pick(("Tỷ lệ mở lại", "Reopen rate"), lang), _pct(t.reopen_rate, lang)),
        (_pick(("Qua kênh trực tuyến", "Online"), lang), _pct(t.online_share, lang)),
        (_pick(("Điểm hài lòng (1–5)", "Mean rating (1–5)"), lang), _num(t.rating_mean, lang)),
    ]


def _sla_table_cells(report: SlaReport, lang: str) -> list[Cell]:
    n = lambda v: _int(v, lang)  # noqa: E731
    return [
        Cell(_pick(GROUP_HEADERS[report.by][1], lang), 2.07, lambda r: r[1], "left"),
        Cell(_pick(("Tiếp nhận", "Received"), lang), 0.52, lambda r: n(r[2].received)),
        Cell(_pick(("Đã xử lý", "Handled"), lang), 0.52, lambda r: n(r[2].handled)),
        Cell(_pick(("Đúng hạn", "On time"), lang), 0.52, lambda r: n(r[2].handled_on_time)),
        Cell(_pick(("Quá hạn", "Overdue"), lang), 0.52, lambda r: n(r[2].overdue)),
        Cell(_pick(("Đang xử lý", "In progress"), lang), 0.52, lambda r: n(r[2].in_progress)),
        Cell(_pick(("Tỷ lệ đúng hạn", "On-time rate"), lang), 0.58, lambda r: _pct(r[2].on_time_rate, lang)),
        Cell(_pick(("Chuyển trong 5 phút", "5-minute rule"), lang), 0.58,
             lambda r: _pct(r[2].forward_rule_rate, lang)),
        Cell(_pick(("Giải quyết, trung vị (giờ LV)", "Median time to solve (work h)"), lang), 0.62,
             lambda r: _hours(r[2].resolution.median_work_min, lang)),
        Cell(_pick(("Hài lòng (1–5)", "Rating (1–5)"), lang), 0.52, lambda r: _num(r[2].rating_mean, lang)),
    ]


def _ranking_section(doc: _Document, report: SlaReport) -> None:
    lang = doc.lang
    assert report.ranking is not None
    doc.heading(_pick(("Xếp hạng đơn vị theo tỷ lệ xử lý đúng hạn", "Units ranked by on-time rate"), lang))
    doc.paragraph(_pick(("Xếp hạng ", "Ranked: "), lang) + _ranking_rule(report.ranking.min_handled, lang) + ".",
                  size=8.5, color=MUTED)
    ranked = _ranked(report)
    if not ranked:
        doc.paragraph(_pick((f"Chưa có đơn vị nào có đủ {report.ranking.min_handled} phản ánh đã xử lý để xếp hạng.",
                             f"No unit has handled {report.ranking.min_handled} reports yet: no ranking."), lang))
        return
    cells = [Cell(_pick(RANKING_HEADERS[0], lang), 0.5, lambda r: str(r[0].rank)),
             Cell(_pick(RANKING_HEADERS[2], lang), 3.4, lambda r: _name(report, r[0].key, lang), "left"),
             Cell(_pick(RANKING_HEADERS[3], lang), 0.95, lambda r: _pct(r[0].on_time_rate, lang)),
             Cell(_pick(RANKING_HEADERS[4], lang), 0.8, lambda r: _int(r[0].handled, lang)),
             Cell(_pick(RANKING_HEADERS[5], lang), 1.4, lambda r: _pick(MARKS[r[1]], lang) if r[1] else "", "left")]
    doc.table(cells, ranked, size=8, color=lambda r: GREEN if r[1] == "top" else RED if r[1] == "bottom" else INK)


def _notes_section(doc: _Document, rules: list[str]) -> None:
    doc.heading(_pick(("Ghi chú về cách tính", "How the figures are counted"), doc.lang))
    for rule in rules:
        doc.paragraph("– " + rule, size=8.5, leading=1.35, color=MUTED)


def _metadata(title: str, subject: str, computed_at: datetime) -> dict[str, Any]:
    return {"Title": title, "Subject": subject, "Author": "Hotline 1022", "Creator": "Hotline 1022",
            "CreationDate": computed_at, "ModDate": computed_at}


def sla_pdf(report: SlaReport, *, lang: str = "vi", channels: SlaReport | None = None) -> bytes:
    """The monthly report to the city's leaders: title, summary, charts, ranking, full table and notes.

    `channels`, the same period's report by channel, gives the intake-by-channel chart every channel
    (without it, and unless the report is by channel, the chart shows online against phone and SMS).
    """
    import matplotlib

    check_lang(lang)
    name = period_name(report.period, lang)
    span = period_span(report.period)
    footer = f"{_pick(TITLE, lang).partition(' — ')[0]} · {_pick(('Báo cáo', 'Report'), lang)} {name}"
    with _PDF_LOCK, matplotlib.rc_context(_rc()):
        doc = _Document(lang, footer)
        lines = [_pick((f"Kỳ báo cáo {name}: {span}", f"Period {name}: {span}"), lang)]
        if report.unit is not None:
            lines.append(_pick(("Đơn vị: ", "Unit: "), lang) + _scope_name(report, lang))
        lines.append(_pick((f"Số liệu tính đến {_when(report.as_of)} · lập lúc {_when(report.computed_at)}",
                            f"Figures as of {_when(report.as_of)} · made at {_when(report.computed_at)}"), lang))
        _title_block(doc, TITLE, lines)
        doc.heading(_pick(("Tình hình chung", "Summary"), lang))
        for text in _summary(report, lang):
            doc.paragraph(text)
        _key_figures(doc, _key_items(report.total, lang))
        doc.heading(_pick(("Biểu đồ", "Charts"), lang), keep=_volume_height(report) + 0.85)
        drawn = [_volume_chart(doc, report), _channel_chart(doc, report, channels), _on_time_chart(doc, report)]
        if not any(drawn):
            doc.paragraph(_pick(NO_CHART, lang))
        if report.ranking is not None:
            _ranking_section(doc, report)
        doc.heading(_pick(("Bảng số liệu theo ", "Figures by "), lang) + _pick(GROUP_NOUNS[report.by], lang))
        rows = _group_rows(report, lang)
        doc.table(_sla_table_cells(report, lang), rows, strong=lambda r: r[2] is report.total)
        _notes_section(doc, _rules(lang))
        return doc.finish(_metadata(_pick(TITLE, lang), f"{name}: {span}", report.computed_at))


def _dti_summary(rows: Sequence[DtiFigures], lang: str) -> str:
    city = next((r for r in rows if r.unit is None), rows[0] if rows else None)
    if city is None or not city.received:
        return _pick(("Trong kỳ chưa tiếp nhận phản ánh, kiến nghị nào.", "No report was received in the period."),
                     lang)
    n, p = _int(city.received, lang), lambda v: _pct(v, lang)
    if lang == "vi":
        return (f"Trong kỳ, đã tiếp nhận {n} phản ánh, kiến nghị; tỷ lệ xử lý đúng hạn {p(city.on_time_rate)}; "
                f"thời gian xử lý trung bình {_num(city.avg_handling_work_hours, lang)} giờ làm việc; "
                f"tỷ lệ tiếp nhận trực tuyến {p(city.online_share)}; mức độ hài lòng "
                f"{_num(city.satisfaction, lang)}/5; tỷ lệ mở lại {p(city.reopen_rate)}; tỷ lệ giải quyết trong "
                f"thời hạn luật định {p(city.within_legal_rate)}.")
    return (f"In the period, {n} report{_s(city.received)} and request{_s(city.received)} were received; on-time "
            f"rate {p(city.on_time_rate)}; mean handling time {_num(city.avg_handling_work_hours, lang)} working "
            f"hours; online share {p(city.online_share)}; satisfaction {_num(city.satisfaction, lang)}/5; reopen "
            f"rate {p(city.reopen_rate)}; within the legal limit {p(city.within_legal_rate)}.")


def _dti_chart(doc: _Document, units: list[tuple[str, str, DtiFigures]]) -> None:
    lang = doc.lang
    rated = sorted((u for u in units if u[2].on_time_rate is not None),
                   key=lambda u: (-(u[2].on_time_rate or 0.0), -u[2].received, u[0]))
    label_width = 2.3
    for start in range(0, len(rated), BARS_PER_CHART):
        chunk = rated[start:start + BARS_PER_CHART]
        ax = doc.axes(0.24 * len(chunk) + 0.2, left=label_width)
        drawn = ax.barh(range(len(chunk)), [u[2].on_time_rate or 0.0 for u in chunk], height=0.7, color=BLUE)
        _bar_labels(ax, drawn, [_pct(u[2].on_time_rate, lang) for u in chunk])
        ax.set_yticks(range(len(chunk)), _labels([u[1] for u in chunk], 7, label_width - 0.1), fontsize=7)
        ax.invert_yaxis()
        _percent_axis(ax, lang)
        ax.set_title(_pick(("Tỷ lệ xử lý đúng hạn theo đơn vị", "On-time rate by unit"), lang),
                     x=-label_width / (WIDTH - label_width))


def dti_pdf(rows: Sequence[DtiFigures], period: Period, *, computed_at: datetime, unit: str | None = None,
            lang: str = "vi") -> bytes:
    """The quarter's DTI figures: title, the city's figures in sentences, on-time rate by unit, the table, notes."""
    import matplotlib

    check_lang(lang)
    name = period_name(period, lang)
    span = period_span(period)
    footer = f"{_pick(DTI_TITLE, lang).partition(' — ')[0]} · DTI {name}"
    table_rows = _dti_rows(rows, lang)
    with _PDF_LOCK, matplotlib.rc_context(_rc()):
        doc = _Document(lang, footer)
        lines = [_pick((f"Kỳ báo cáo {name}: {span}", f"Period {name}: {span}"), lang)]
        if unit is not None:
            lines.append(_pick(("Đơn vị: ", "Unit: "), lang) + (table_rows[0][1] if table_rows else unit))
        lines.append(_pick((f"Số liệu tính đến {_when(_as_of(period, computed_at))} · lập lúc {_when(computed_at)}",
                            f"Figures as of {_when(_as_of(period, computed_at))} · made at {_when(computed_at)}"),
                           lang))
        _title_block(doc, DTI_TITLE, lines)
        doc.heading(_pick(("Tình hình chung", "Summary"), lang))
        doc.paragraph(_dti_summary(rows, lang))
        units = [r for r in table_rows if r[2].unit is not None]
        if len(units) > 1:
            doc.heading(_pick(("Biểu đồ", "Charts"), lang))
            _dti_chart(doc, units)
        doc.heading(_pick(("Bảng số liệu theo đơn vị", "Figures by unit"), lang))
        cells = [Cell(_pick(GROUP_HEADERS["unit"][1], lang), 2.27, lambda r: r[1], "left"),
                 *(Cell(_pick(c.name, lang), 0.68, _shower(c, lang)) for c in DTI_COLUMNS)]
        doc.table(cells, table_rows, strong=lambda r: r[2].unit is None)
        _notes_section(doc, _rules(lang, dti=True))
        return doc.finish(_metadata(_pick(DTI_TITLE, lang), f"{name}: {span}", computed_at))


def _shower(column: Column, lang: str) -> Callable[[Any], str]:
    def show(row: Any) -> str:
        value = column.value(row[2])
        if column.kind == COUNT:
            return _int(int(value or 0), lang)
        if column.kind == RATE:
            return _pct(value, lang)
        return _num(value, lang, 2 if column.kind == MEAN else 1)

    return show


# --- one door for the CLI and the API ---------------------------------------------------------------------------

def sla_export(report: SlaReport, fmt: str, *, lang: str = "vi", channels: SlaReport | None = None) -> bytes:
    """The SLA report in `fmt` (FORMATS)."""
    check_format(fmt)
    check_lang(lang)
    if fmt == "json":
        return sla_json(report)
    if fmt == "csv":
        return sla_csv(report, lang=lang)
    if fmt == "xlsx":
        return sla_xlsx(report, lang=lang)
    return sla_pdf(report, lang=lang, channels=channels)


def dti_export(rows: Sequence[DtiFigures], period: Period, fmt: str, *, computed_at: datetime,
               unit: str | None = None, lang: str = "vi") -> bytes:
    """The DTI figures in `fmt` (FORMATS)."""
    check_format(fmt)
    check_lang(lang)
    if fmt == "json":
        return dti_json(rows, period, computed_at=computed_at, unit=unit)
    if fmt == "csv":
        return dti_csv(rows, period, lang=lang)
    if fmt == "xlsx":
        return dti_xlsx(rows, period, computed_at=computed_at, unit=unit, lang=lang)
    return dti_pdf(rows, period, computed_at=computed_at, unit=unit, lang=lang)
