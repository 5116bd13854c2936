"""Exports of hand-built reports: JSON as the API gives it, CSV and XLSX read back, the PDF's pages and text."""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from casework.reports import exports, periods
from casework.reports.sla import CITY, NO_UNIT, Durations, Figures, SlaReport, dti_figures, rank_units
from kernel.errors import BadRequest
from kernel.http import json_dumps

NOVEMBER = periods.monthly(2026, 11)
Q4 = periods.quarter(2026, 4)
MADE = datetime(2026, 12, 3, 1, 15, tzinfo=UTC)  # 08:15 on 3 December, Vietnam time
NOTHING = Durations(0, None, None, None, None, None, None)


def figures(key: str | None, received: int, handled: int, on_time: int, late: int, overdue_open: int, *,
            duplicates: int = 0, ratings: int = 0, rating_mean: float | None = None) -> Figures:
    """Figures that hold together: counts, and rates taken from them."""
    resolution = Durations(handled, 2880.0, 8640.0, 600.0, 1800.0, 3000.0, 720.5) if handled else NOTHING
    forwarded = received if key is not None else 0
    return Figures(
        key=key, received=received, handled=handled, handled_on_time=on_time, handled_late=late,
        overdue_open=overdue_open, overdue=late + overdue_open, in_progress=received - handled,
        no_deadline=handled - on_time - late, duplicates=duplicates,
        on_time_rate=on_time / (on_time + late) if on_time + late else None,
        forwarded=forwarded, forwarded_within_5min=forwarded * 9 // 10,
        forward_rule_rate=(forwarded * 9 // 10) / forwarded if forwarded else None,
        time_to_forward=Durations(forwarded, 3.0, 7.6, 3.0, 7.6, 4.0, 4.0) if forwarded else NOTHING,
        first_response=NOTHING, resolution=resolution,
        reopened=1 if handled else 0, reopen_rate=1 / handled if handled else None,
        ratings=ratings, rating_mean=rating_mean, satisfied_share=0.75 if ratings else None,
        solved_share=0.5 if ratings else None, online=received // 2, online_share=(received // 2) / received,
        within_legal_limit=handled, within_legal_rate=1.0 if handled else None,
    )


UNITS = {
    "so-xay-dung": ("Sở Xây dựng", "Department of Construction"),
    "evn-hcmc": ("Tổng công ty Điện lực TP.HCM", "Ho Chi Minh City Power Corporation"),
    "so-gtvt": ("Sở Giao thông vận tải", "Department of Transport"),
    **{f"ubnd-p{n:02d}": (f"Ủy ban nhân dân phường {n}", f"Ward {n} People's Committee") for n in range(1, 10)},
}


def month_by_unit() -> SlaReport:
    """Twelve units (eleven ranked: one handled too few) and the 1022 centre."""
    rows = [figures(code, 60 - 3 * i, 40 - 2 * i, 36 - 3 * i, 2 + i, 1 + i % 3) for i, code in enumerate(UNITS)]
    rows[-1] = figures("ubnd-p09", 8, 5, 5, 0, 0)  # 5 handled: below the ranking's 10
    rows.append(figures(None, 6, 1, 0, 0, 0, duplicates=3))
    total = figures(None, sum(f.received for f in rows), sum(f.handled for f in rows),
                    sum(f.handled_on_time for f in rows), sum(f.handled_late for f in rows),
                    sum(f.overdue_open for f in rows), duplicates=3, ratings=40, rating_mean=4.125)
    rows.sort(key=lambda f: (-f.received, f.key is None, f.key or ""))
    return SlaReport(period=NOVEMBER, by="unit", total=total, rows=rows, names={**UNITS, None: NO_UNIT},
                     ranking=rank_units(rows), computed_at=MADE, as_of=NOVEMBER.end)


def month_by_channel() -> SlaReport:
    rows = [figures("web", 30, 20, 18, 2, 1), figures("voice", 25, 15, 12, 3, 0), figures("sms", 5, 1, 1, 0, 0)]
    total = figures(None, 60, 36, 31, 5, 1)
    names = {"web": ("Cổng thông tin", "Web form"), "voice": ("Điện thoại", "Phone call"),
             "sms": ("Tin nhắn SMS", "SMS")}
    return SlaReport(period=NOVEMBER, by="channel", total=total, rows=rows, names=names, ranking=None,
                     computed_at=MADE, as_of=NOVEMBER.end)


def quarter_rows() -> list:
    report = month_by_unit()
    units = [dti_figures(f, Q4.label, report.names[f.key]) for f in report.rows if f.key is not None]
    return [dti_figures(report.total, Q4.label, CITY), *units]


# --- periods and names ---------------------------------------------------------------------------------------

def test_periods_read_as_the_city_writes_them():
    assert exports.period_span(NOVEMBER) == "12:00 25/10/2026 – 12:00 25/11/2026"
    assert exports.period_span(Q4) == "01/10/2026 – 31/12/2026"
    assert exports.period_span(periods.between("2026-11-01", "2026-11-05")) == "01/11/2026 – 05/11/2026"
    assert (exports.period_name(NOVEMBER, "vi"), exports.period_name(NOVEMBER, "en")) == ("tháng 11/2026",
                                                                                          "November 2026")
    assert (exports.period_name(Q4, "vi"), exports.period_name(Q4, "en")) == ("quý 4/2026", "Q4 2026")


def test_download_names_carry_the_period():
    assert exports.filename("sla", NOVEMBER, "pdf", by="unit") == "hotline1022-sla-2026-11-by-unit.pdf"
    assert exports.filename("dti", Q4, "xlsx", unit="so-xay-dung") == "hotline1022-dti-2026-Q4-so-xay-dung.xlsx"
    assert exports.filename("sla", periods.between("2026-11-01", "2026-11-05"), "csv", by="ward") == (
        "hotline1022-sla-2026-11-01_2026-11-05-by-ward.csv")


def test_unknown_format_or_language_is_a_bad_request():
    with pytest.raises(BadRequest) as bad:
        exports.sla_export(month_by_unit(), "docx")
    assert bad.value.detail["field"] == "format"
    with pytest.raises(BadRequest) as bad:
        exports.sla_export(month_by_unit(), "csv", lang="fr")
    assert bad.value.detail["field"] == "lang"


# --- JSON ----------------------------------------------------------------------------------------------------

def test_json_is_the_api_shape():
    report = month_by_unit()
    body = json.loads(exports.sla_json(report))
    assert body == json.loads(json_dumps(report.as_dict()))
    assert body["period"] == {"label": "2026-11", "start": "2026-10-25T05:00:00Z", "end": "2026-11-25T05:00:00Z"}
    assert body["rows"][0]["name_vi"] == "Sở Xây dựng" and body["ranking"]["ranked"][0]["key"] == "so-xay-dung"
    assert "Sở Xây dựng".encode() in exports.sla_json(report)  # UTF-8, not \u escapes

    rows = quarter_rows()
    dti = json.loads(exports.dti_json(rows, Q4, computed_at=MADE))
    assert (dti["period"]["label"], dti["unit"], dti["computed_at"]) == ("2026-Q4", None, "2026-12-03T01:15:00Z")
    assert [r["unit"] for r in dti["rows"]][:2] == [None, "so-xay-dung"]
    assert dti["rows"][1]["on_time_rate"] == rows[1].on_time_rate


# --- CSV -----------------------------------------------------------------------------------------------------

def _csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads the file as UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _same(cell: str, value: float | None, within: float) -> bool:
    """A CSV cell holds `value` (rounded to `within`); an empty cell stands for None."""
    return cell == "" if value is None else abs(float(cell) - value) <= within


def test_sla_csv_has_a_row_per_group_and_the_total_with_the_numbers():
    report = month_by_unit()
    header, *rows = _csv(exports.sla_csv(report))
    column = {name: i for i, name in enumerate(header)}
    assert header[:4] == ["Mã đơn vị", "Đơn vị", "Tiếp nhận", "Đã xử lý"]
    assert len(rows) == len(report.rows) + 1
    for row, f in zip(rows, [*report.rows, report.total], strict=True):
        assert row[column["Mã đơn vị"]] == (f.key or "")
        assert int(row[column["Tiếp nhận"]]) == f.received
        assert int(row[column["Quá hạn (trễ và chưa xử lý)"]]) == f.overdue
        assert _same(row[column["Tỷ lệ đúng hạn"]], f.on_time_rate, 5e-5)
        assert _same(row[column["Giải quyết — trung vị, phút làm việc"]], f.resolution.median_work_min, 0)
        assert _same(row[column["Giải quyết — trung bình, phút làm việc"]], f.resolution.mean_work_min, 0.05)
    assert rows[0][1] == "Sở Xây dựng" and rows[-2][1] == "Tổng đài 1022 (chưa chuyển đơn vị)"
    assert rows[-1][:3] == ["", "Tổng cộng", str(report.total.received)]
    assert rows[-1][column["Điểm hài lòng trung bình (1–5)"]] == "4.12"  # rounded to 2 places (4.125 -> 4.12)
    assert rows[-2][column["Tỷ lệ đúng hạn"]] == ""  # no on-time rate: an empty cell, not 0

    english = _csv(exports.sla_csv(report, lang="en"))
    assert english[0][:3] == ["Unit code", "Unit", "Received"] and english[-1][1] == "Total"
    assert english[1][1] == "Department of Construction"


def test_dti_csv_lists_the_units_then_the_city():
    rows = quarter_rows()
    header, *lines = _csv(exports.dti_csv(rows, Q4))
    assert header[:4] == ["Mã đơn vị", "Đơn vị", "Kỳ", "Tiếp nhận"]
    assert [line[0] for line in lines] == [r.unit for r in rows[1:]] + [""]
    assert lines[-1][1:4] == ["Toàn thành phố", "2026-Q4", str(rows[0].received)]
    hours = header.index("Thời gian xử lý trung bình (giờ làm việc)")
    assert float(lines[0][hours]) == pytest.approx(rows[1].avg_handling_work_hours, abs=0.005)


# --- XLSX ----------------------------------------------------------------------------------------------------

def test_sla_xlsx_figures_ranking_and_notes():
    report = month_by_unit()
    wb = load_workbook(io.BytesIO(exports.sla_xlsx(report)))
    assert wb.sheetnames == ["Số liệu", "Xếp hạng", "Ghi chú"]
    ws = wb["Số liệu"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["Mã đơn vị", "Đơn vị", "Tiếp nhận"]
    assert all(c.font.b for c in ws[1]) and ws.freeze_panes == "C2"
    assert ws.column_dimensions["B"].width == 40
    rate = header.index("Tỷ lệ đúng hạn") + 1
    median = header.index("Giải quyết — trung vị, phút làm việc") + 1
    assert ws.max_row == len(report.rows) + 2
    for n, f in enumerate([*report.rows, report.total], start=2):
        assert ws.cell(n, 3).value == f.received
        assert ws.cell(n, rate).value == f.on_time_rate  # full precision; the format shows a percent
        assert ws.cell(n, rate).number_format == "0.0%"
        assert ws.cell(n, median).value == f.resolution.median_work_min
    assert ws.cell(ws.max_row, 2).value == "Tổng cộng" and ws.cell(ws.max_row, 2).font.b

    ranks = wb["Xếp hạng"]
    ranked = [[c.value for c in row] for row in ranks.iter_rows(min_row=2)]
    assert [r[0] for r in ranked] == list(range(1, 12))  # eleven units; ubnd-p09 handled too few
    assert ranked[0][1:4] == ["so-xay-dung", "Sở Xây dựng", report.ranking.ranked[0].on_time_rate]
    assert [r[5] for r in ranked] == ["5 đơn vị dẫn đầu"] * 5 + [None] + ["5 đơn vị cuối bảng"] * 5
    assert ranks.cell(2, 4).number_format == "0.0%"

    notes = "\n".join(str(c.value) for row in wb["Ghi chú"].iter_rows() for c in row if c.value)
    assert "tháng 11/2026: 12:00 25/10/2026 – 12:00 25/11/2026" in notes
    assert "Số liệu tính đến\n12:00 25/11/2026" in notes and "docs/metrics.md" in notes


def test_xlsx_without_a_ranking_and_in_english():
    wb = load_workbook(io.BytesIO(exports.sla_xlsx(month_by_channel(), lang="en")))
    assert wb.sheetnames == ["Figures", "Notes"]
    assert [c.value for c in wb["Figures"][1]][:3] == ["Channel code", "Channel", "Received"]
    assert [wb["Figures"].cell(n, 2).value for n in range(2, 6)] == ["Web form", "Phone call", "SMS", "Total"]


def test_dti_xlsx():
    rows = quarter_rows()
    wb = load_workbook(io.BytesIO(exports.dti_xlsx(rows, Q4, computed_at=MADE)))
    assert wb.sheetnames == ["Số liệu", "Ghi chú"]
    ws = wb["Số liệu"]
    assert ws.cell(ws.max_row, 2).value == "Toàn thành phố" and ws.cell(ws.max_row, 3).value == rows[0].received
    assert ws.cell(2, 4).value == rows[1].on_time_rate and ws.cell(2, 4).number_format == "0.0%"


# --- PDF -----------------------------------------------------------------------------------------------------

def _pages(pdf: bytes) -> int:
    counts = re.findall(rb"/Type /Pages[^>]*?/Count (\d+)|/Count (\d+)[^>]*?/Type /Pages", pdf)
    assert len(counts) == 1
    return int(next(c for c in counts[0] if c))


def _mapped_text(pdf: bytes) -> set[str]:
    """Every character the embedded fonts map a glyph to (the ToUnicode maps): what the pages can show."""
    chars: set[str] = set()
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            data = zlib.decompress(stream)
        except zlib.error:
            continue
        if b"beginbfrange" in data or b"beginbfchar" in data:
            for target in re.findall(rb"\[([^\]]*)\]", data):
                chars.update(chr(int(h, 16)) for h in re.findall(rb"<([0-9a-fA-F]{4})>", target))
            for _, target in re.findall(rb"<([0-9a-fA-F]{4})>\s*<([0-9a-fA-F]{4})>\s*\n", data):
                chars.add(chr(int(target, 16)))
    return chars


def _info(pdf: bytes, key: str) -> bytes:
    """The string `key` of the document's information dictionary, its escapes undone."""
    start = pdf.index(b"/" + key.encode() + b" (") + len(key) + 3
    out, i = bytearray(), start
    while pdf[i:i + 1] != b")":
        if pdf[i:i + 1] == b"\\":
            i += 1
        out += pdf[i:i + 1]
        i += 1
    return bytes(out)


def test_sla_pdf_reads_as_the_monthly_report():
    report = month_by_unit()
    pdf = exports.sla_pdf(report)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert _pages(pdf) == 4  # title and summary; charts; on-time chart and ranking; the table and notes
    title = "Đường dây nóng 1022 — Báo cáo tình hình tiếp nhận và xử lý phản ánh, kiến nghị"
    assert _info(pdf, "Title") == b"\xfe\xff" + title.encode("utf-16-be")
    assert _info(pdf, "CreationDate") == b"D:20261203011500Z"  # the report's computed_at: no wall clock
    shown = _mapped_text(pdf)
    assert set("ĐƯỜNG DÂY NÓNG " + title.replace("—", "")) <= shown  # the page breaks the title at its dash
    assert set("Kỳ báo cáo tháng 11/2026 Xếp hạng Ủy ban nhân dân phường") <= shown
    assert pdf == exports.sla_pdf(report)  # the same report, the same bytes
    assert pdf != exports.sla_pdf(replace(report, computed_at=datetime(2026, 12, 4, tzinfo=UTC)))


def test_sla_pdf_in_english_and_by_channel():
    pdf = exports.sla_pdf(month_by_channel(), lang="en")
    assert _pages(pdf) == 2
    title = "Hotline 1022 — Report on the intake and handling of citizens' reports and requests"
    assert _info(pdf, "Title") == b"\xfe\xff" + title.encode("utf-16-be")
    assert set("Report on the intake and handling Intake by channel Phone call") <= _mapped_text(pdf)


def test_a_long_table_runs_over_pages():
    report = month_by_unit()
    many = [replace(report.rows[0], key=f"ubnd-x{n:03d}", received=500 - n) for n in range(120)]
    names = {f.key: (f"Phường thử {n}", f"Test ward {n}") for n, f in enumerate(many)}
    big = replace(report, by="ward", rows=many, names=names, ranking=None)
    # the title and summary; the volume and channel charts; 120 on-time bars in 4 charts of 30, two to a page;
    # 120 table rows (from under the last chart, 55 to a page) and the notes
    assert _pages(exports.sla_pdf(big)) == 9


def test_an_empty_month_still_makes_a_report():
    report = month_by_unit()
    nothing = replace(report.total, received=0, handled=0, handled_on_time=0, handled_late=0, overdue_open=0,
                      overdue=0, in_progress=0, no_deadline=0, duplicates=0, on_time_rate=None, online=0,
                      online_share=None, forwarded=0, forwarded_within_5min=0, forward_rule_rate=None,
                      resolution=NOTHING, time_to_forward=NOTHING, reopened=0, reopen_rate=None, ratings=0,
                      rating_mean=None, satisfied_share=None, solved_share=None, within_legal_limit=0,
                      within_legal_rate=None)
    pdf = exports.sla_pdf(replace(report, total=nothing, rows=[], names={None: NO_UNIT}, ranking=rank_units([])))
    assert _pages(pdf) == 1
    assert set("Trong kỳ chưa tiếp nhận phản ánh, kiến nghị nào. Chưa có đơn vị nào vẽ biểu đồ") <= _mapped_text(pdf)


def test_dti_pdf():
    rows = quarter_rows()
    pdf = exports.dti_pdf(rows, Q4, computed_at=MADE)
    assert pdf.startswith(b"%PDF-") and _pages(pdf) == 2
    title = "Đường dây nóng 1022 — Số liệu phục vụ Chỉ số chuyển đổi số (DTI)"
    assert _info(pdf, "Title") == b"\xfe\xff" + title.encode("utf-16-be")
    assert pdf == exports.dti_pdf(rows, Q4, computed_at=MADE)
    assert set("Toàn thành phố") <= _mapped_text(pdf)


# --- the API's downloads -------------------------------------------------------------------------------------

@pytest.fixture
async def api_month(client, pool, units, tokens):
    from kernel.http import SERVICES
    from kernel.time import FixedClock
    from tests.casework.reports.history import insert
    from tests.casework.reports.test_sla import local, month_of_cases

    client.app[SERVICES].clock = FixedClock(local(20, 9, mo=12))  # after November's close, in Q4
    return await insert(pool, month_of_cases())


async def test_the_api_gives_each_format_as_a_download_named_after_the_period(client, tokens, api_month):
    from tests.conftest import auth

    headers = auth(tokens["supervisor"])
    as_json = await client.get("/api/v1/stats/sla", params={"month": "2026-11"}, headers=headers)
    assert as_json.content_type == "application/json" and "Content-Disposition" not in as_json.headers
    expected = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    for fmt, media in expected.items():
        resp = await client.get("/api/v1/stats/sla", params={"month": "2026-11", "format": fmt}, headers=headers)
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"] == media
        assert resp.headers["Content-Disposition"] == f'attachment; filename="hotline1022-sla-2026-11-by-unit.{fmt}"'
        body = await resp.read()
        if fmt == "csv":
            assert _csv(body)[-1][:3] == ["", "Tổng cộng", "6"]
        elif fmt == "xlsx":
            assert load_workbook(io.BytesIO(body)).sheetnames == ["Số liệu", "Xếp hạng", "Ghi chú"]
        else:
            assert body.startswith(b"%PDF-") and _info(body, "CreationDate") == b"D:20261220020000Z"

    mine = await client.get("/api/v1/stats/dti", params={"quarter": "2026-Q4", "format": "csv", "lang": "en"},
                            headers=auth(tokens["department"]))  # a unit: its own row only
    assert mine.headers["Content-Disposition"] == 'attachment; filename="hotline1022-dti-2026-Q4-so-xay-dung.csv"'
    rows = [row[:2] for row in _csv(await mine.read())]
    assert rows == [["Unit code", "Unit"], ["so-xay-dung", "Department of Construction"]]


@pytest.mark.parametrize(("params", "field"), [({"format": "docx"}, "format"), ({"lang": "fr"}, "lang")])
async def test_the_api_refuses_an_unknown_format_or_language(client, tokens, api_month, params, field):
    from tests.conftest import auth

    for path in ("/api/v1/stats/sla", "/api/v1/stats/dti"):
        resp = await client.get(path, params=params, headers=auth(tokens["supervisor"]))
        assert resp.status == 400 and (await resp.json())["detail"]["field"] == field
