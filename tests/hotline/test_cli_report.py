"""`hotline report sla` and `hotline report dti`, run as real subprocesses on the test database with a month of cases.

The command takes the wall clock as "now"; November 2026 closed on 25/11/2026 at noon, so its figures are
taken as of that close whenever the tests run. The quarter's figures here are counts that no later "now"
changes (every event of the month is in the past).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import sys

import pytest
from openpyxl import load_workbook

from tests.casework.reports.history import insert
from tests.casework.reports.test_sla import month_of_cases


async def _hotline(settings, *args: str, stdout: int | None = asyncio.subprocess.PIPE) -> tuple[int, bytes, str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "HOTLINE_VAR_DIR": str(settings.var_dir)}
    done = await asyncio.create_subprocess_exec(sys.executable, "-m", "hotline.cli", "report", *args, env=env,
                                                stdout=stdout, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(done.communicate(), 180)
    return done.returncode or 0, out or b"", err.decode()


@pytest.fixture
async def month(pool, units) -> list[int]:
    return await insert(pool, month_of_cases())


async def test_sla_json_to_stdout_is_the_api_shape(settings, month):
    code, out, err = await _hotline(settings, "sla", "--month", "2026-11")
    assert code == 0, err
    body = json.loads(out)
    assert body["period"] == {"label": "2026-11", "start": "2026-10-25T05:00:00Z", "end": "2026-11-25T05:00:00Z"}
    assert (body["by"], body["unit"], body["as_of"]) == ("unit", None, "2026-11-25T05:00:00Z")
    total = body["total"]
    assert (total["received"], total["handled"], total["duplicates"], total["overdue"]) == (6, 3, 1, 2)
    assert [(r["key"], r["received"]) for r in body["rows"]] == [("so-xay-dung", 3), ("evn-hcmc", 2), (None, 1)]


async def test_sla_by_channel_for_one_unit_and_a_date_range(settings, month):
    code, out, err = await _hotline(settings, "sla", "--from", "2026-11-01", "--to", "2026-11-05", "--by", "channel",
                                    "--unit", "so-xay-dung")
    assert code == 0, err
    body = json.loads(out)
    assert (body["period"]["label"], body["unit"]) == ("2026-11-01..2026-11-05", "so-xay-dung")
    assert {r["key"]: r["received"] for r in body["rows"]} == {"web": 1, "sms": 1}


async def test_sla_files_in_every_format(settings, month, tmp_path):
    files = {fmt: tmp_path / f"november.{fmt}" for fmt in ("csv", "xlsx", "pdf")}
    for fmt, path in files.items():
        code, out, err = await _hotline(settings, "sla", "--month", "2026-11", "--format", fmt, "--output", str(path))
        assert code == 0, err
        assert out.decode().startswith(f"{path}: {fmt}, ")

    data = files["csv"].read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    header, *rows = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    assert header[:3] == ["Mã đơn vị", "Đơn vị", "Tiếp nhận"]
    assert [(r[0], r[1], int(r[2])) for r in rows] == [
        ("so-xay-dung", "Sở Xây dựng", 3), ("evn-hcmc", "Tổng công ty Điện lực TP.HCM", 2),
        ("", "Tổng đài 1022 (chưa chuyển đơn vị)", 1), ("", "Tổng cộng", 6)]
    assert float(rows[-1][header.index("Tỷ lệ đúng hạn")]) == pytest.approx(2 / 3, abs=5e-5)

    wb = load_workbook(files["xlsx"])
    assert wb.sheetnames == ["Số liệu", "Xếp hạng", "Ghi chú"]
    assert [wb["Số liệu"].cell(n, 3).value for n in range(2, 6)] == [3, 2, 1, 6]

    pdf = files["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF-") and b"/CreationDate (D:" in pdf
    assert b"/Count 2" in pdf  # the title, summary and first chart; the channel chart, ranking, table and notes


async def test_sla_in_english_and_a_pdf_down_a_pipe(settings, month):
    code, out, err = await _hotline(settings, "sla", "--month", "2026-11", "--format", "csv", "--lang", "en")
    assert code == 0, err
    assert out.decode("utf-8-sig").splitlines()[-1].startswith(",Total,6,3,")
    code, out, err = await _hotline(settings, "sla", "--month", "2026-11", "--format", "pdf")
    assert code == 0, err
    assert out.startswith(b"%PDF-") and out.rstrip().endswith(b"%%EOF")


async def test_dti_of_the_quarter(settings, month, tmp_path):
    code, out, err = await _hotline(settings, "dti", "--quarter", "2026-Q4")
    assert code == 0, err
    body = json.loads(out)
    assert body["period"]["label"] == "2026-Q4"
    assert [(r["unit"], r["received"]) for r in body["rows"]] == [(None, 8), ("evn-hcmc", 3), ("so-xay-dung", 3)]
    path = tmp_path / "q4.xlsx"
    code, out, err = await _hotline(settings, "dti", "--quarter", "2026-Q4", "--unit", "evn-hcmc", "--format", "xlsx",
                                    "--output", str(path))
    assert code == 0, err
    ws = load_workbook(path)["Số liệu"]
    assert [ws.cell(2, n).value for n in (1, 2, 3)] == ["evn-hcmc", "Tổng công ty Điện lực TP.HCM", 3]


@pytest.mark.parametrize(("args", "message"), [
    (("sla", "--month", "2026-13"), "error: --month: a month from 01 to 12"),
    (("sla", "--month", "11/2026"), "error: --month: a month written YYYY-MM, e.g. 2026-11"),
    (("sla", "--from", "2026-11-01"), "error: --to: from and to go together"),
    (("sla", "--from", "2026-11-31", "--to", "2026-12-01"), "error: --from: no such date"),
    (("sla", "--month", "2026-11", "--from", "2026-11-01", "--to", "2026-11-02"),
     "error: --month: give either month or from and to, not both"),
    (("dti", "--quarter", "2026-Q5"), "error: --quarter: a quarter written YYYY-Qn, e.g. 2026-Q4"),
    (("sla", "--month", "2026-11", "--unit", "khong-co"), "error: --unit: no unit 'khong-co'"),
    (("dti", "--unit", "khong-co"), "error: --unit: no unit 'khong-co'"),
])
async def test_bad_input_exits_2_with_a_message(settings, units, args, message):
    code, out, err = await _hotline(settings, *args)
    assert (code, out) == (2, b"")
    assert err.strip().splitlines()[-1] == message and "Traceback" not in err


async def test_a_binary_format_is_not_written_to_a_terminal(settings, units, tmp_path):
    leader, follower = pty.openpty()
    try:
        code, _, err = await _hotline(settings, "sla", "--month", "2026-11", "--format", "xlsx", stdout=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert code == 2
    assert err.strip() == "error: xlsx is a binary file: give --output FILE (or send stdout to a file or a pipe)"
    code, _, err = await _hotline(settings, "sla", "--month", "2026-11", "--format", "pdf", "--output",
                                  str(tmp_path / "no-such-folder" / "x.pdf"))
    assert code == 2 and "error: cannot write" in err and "Traceback" not in err
