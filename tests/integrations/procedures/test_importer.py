"""The catalogue importer: the portal's flattened tables parsed, files read, upserts counted, bad lines survived."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import asyncpg
import pytest

from integrations.procedures import count_records, import_procedures, iter_records
from integrations.procedures.importer import (
    RecordError,
    Way,
    from_record,
    from_summary,
    parse_documents,
    parse_ways,
)

from .conftest import SAMPLE, SUMMARY


def sample_record(code: str) -> dict:
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["ma_thu_tuc"] == code:
            return record
    raise KeyError(code)


def summary_row(code: str) -> dict:
    with SUMMARY.open(encoding="utf-8", newline="") as f:
        return next(r for r in csv.DictReader(f) if r["ma_thu_tuc"] == code)


# --- Parsing the portal's flattened tables --------------------------------------------------------

def test_ways_split_channel_time_fee_and_description():
    ways = parse_ways(sample_record("1.011325")["cach_thuc_thuc_hien"])
    assert [w.channel for w in ways] == ["Trực tuyến", "Dịch vụ bưu chính", "Trực tiếp"]
    assert {w.time for w in ways} == {"5 Ngày làm việc"}
    assert all(w.fee.startswith("2,000,000 Việt Nam Đồng (Phí kiểm tra và cấp giấy chứng nhận") for w in ways)
    assert all(w.fee.endswith("2.000.000 đồng/01 đơn hàng)") for w in ways)


def test_channel_words_inside_a_description_do_not_start_a_row():
    ways = parse_ways(sample_record("1.000232")["cach_thuc_thuc_hien"])
    assert ways == [
        Way("Trực tiếp", None, None, "nộp hồ sơ trực tiếp tại trụ sở Cục Quản lý xuất nhập cảnh."),
        Way("Dịch vụ bưu chính", None, None, "Gửi hồ sơ và nhận kết quả qua đường bưu điện."),
        Way("Trực tuyến", None, None,
            "Trực tuyến: nộp hồ sơ trực tuyến qua Cổng dịch vụ công quốc gia hoặc Cổng dịch vụ công Bộ Công an."),
    ]


def test_free_procedure_has_free_fee_and_trivial_notes_dropped():
    ways = parse_ways("Hình thức nộpThời gianPhí, lệ phíMô tảTrực tiếp15 NgàyMiễn phí(Không có)Trực tuyến15 Ngày"
                      "Miễn phí")
    assert ways == [Way("Trực tiếp", "15 Ngày", "Miễn phí", ""), Way("Trực tuyến", "15 Ngày", "Miễn phí", "")]


def test_documents_keep_name_quantity_and_section_and_drop_attached_form_names():
    text = ("--Tên giấy tờMẫu đơn, tờ khaiSố lượngDự thảo Điều lệ của công ty luật1 bản chính"
            "Giấy tờ chứng minh về trụ sở của tổ chức hành nghề luật sư.0 bản chính,1 bản sao"
            "Giấy đề nghị đăng ký hoạt động theo mẫu thống nhấtMẫu TP-LS-02-sđ.docx1 bản chính"
            "(2) Trường hợp cấp lại:Tên giấy tờMẫu đơn, tờ khaiSố lượngVăn bản ngày 24/07/20231 bản chính,01 bản sao")
    assert parse_documents(text) == [
        {"name": "Dự thảo Điều lệ của công ty luật", "quantity": "1 bản chính"},
        {"name": "Giấy tờ chứng minh về trụ sở của tổ chức hành nghề luật sư", "quantity": "1 bản sao"},
        {"name": "Giấy đề nghị đăng ký hoạt động theo mẫu thống nhất", "quantity": "1 bản chính"},
        {"name": "Văn bản ngày 24/07/2023", "quantity": "1 bản chính, 1 bản sao", "group": "(2) Trường hợp cấp lại"},
    ]


def test_record_becomes_a_procedure():
    p = from_record(sample_record("1.014064"), "ignored")
    assert (p.code, p.name, p.field, p.level, p.agency) == (
        "1.014064", "Cấp lại thẻ căn cước", "Cấp, quản lý căn cước", "Cấp xã", "Công an cấp Xã")
    assert p.processing_time == "7 Ngày làm việc"
    assert p.fees.startswith("70,000 Việt Nam Đồng (")
    assert p.channels == ["Trực tiếp", "Trực tuyến", "Dịch vụ bưu chính"]
    assert {"name": "Giấy tờ, tài liệu có giá trị pháp lý chứng minh là người đại diện hợp pháp của người dưới 14"
                    " tuổi", "quantity": "1 bản chính"} in p.documents
    assert p.link == "https://dichvucong.gov.vn/thu-tuc-hanh-chinh/019d2bf7-9e0b-7681-bd68-83f1e84c1cc7"
    assert p.source == "bo-cong-an" and p.detailed
    assert p.search_text.split("\n")[0] == "cap lai the can cuoc"


def test_level_note_is_left_out_of_the_searchable_name():
    p = from_record(sample_record("1.000757"), "bo-cong-an")
    assert p.name == "Cấp lại thẻ căn cước (thực hiện tại cấp trung ương)"
    assert p.search_text.split("\n")[0] == "cap lai the can cuoc"


def test_address_and_in_person_description_give_where_to_apply():
    assert from_record(sample_record("1.000232"), "x").where_to_apply.startswith(
        "Cơ quan, tổ chức tại Việt Nam trực tiếp nộp hoặc gửi hồ sơ đến một trong hai trụ sở")
    record = dict(sample_record("1.000232"), dia_chi_tiep_nhan="")
    assert from_record(record, "x").where_to_apply == "nộp hồ sơ trực tiếp tại trụ sở Cục Quản lý xuất nhập cảnh."


def test_summary_row_becomes_a_summary_procedure():
    p = from_summary(summary_row("1.001613"), "summary")
    assert (p.code, p.name, p.level) == ("1.001613", "Giải quyết hưởng bảo hiểm xã hội một lần", "Cấp tỉnh, Cấp xã")
    assert (p.processing_time, p.fees, p.documents, p.detailed) == ("5 Ngày làm việc", "Miễn phí", [], False)
    assert p.channels == ["Trực tuyến", "Dịch vụ bưu chính", "Trực tiếp"]
    assert from_summary(summary_row("2.001263"), "s").agency == "Ủy ban Nhân dân xã, phường, thị trấn."


# --- Files ---------------------------------------------------------------------------------------

def test_folder_reads_jsonl_before_csv_and_keeps_one_record_per_code(tmp_path: Path):
    (tmp_path / "a_summary.csv").write_text(SUMMARY.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "ministry.jsonl").write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    records = list(iter_records(tmp_path))
    by_code = {p.code: p for p in records}
    assert len(records) == len(by_code) == 47 + 3  # 1.014064 and 1.001612 are in both files
    assert by_code["1.014064"].detailed and by_code["1.014064"].documents
    assert not by_code["1.001613"].detailed
    assert count_records(tmp_path) == 47 + 5


def test_unsupported_file_is_refused(tmp_path: Path):
    path = tmp_path / "catalogue.xlsx"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="not a .jsonl or .csv file"):
        list(iter_records(path))


# --- Import --------------------------------------------------------------------------------------

async def test_import_inserts_then_reimport_skips_unchanged(procedures: asyncpg.Pool):
    first = await import_procedures(procedures, SAMPLE)
    assert (first.inserted, first.updated, first.skipped, first.errors, first.duplicates) == (47, 0, 0, (), 0)
    again = await import_procedures(procedures, SAMPLE)
    assert (again.inserted, again.updated, again.skipped) == (0, 0, 47)
    row = await procedures.fetchrow("SELECT * FROM procedures WHERE code = '1.013225'")
    assert row["name"].startswith("Cấp giấy phép xây dựng mới đối với công trình cấp III, cấp IV")
    assert row["channels"] == ["Trực tuyến", "Dịch vụ bưu chính", "Trực tiếp"]
    assert row["documents"][0]["quantity"] == "1 bản chính, 1 bản sao"
    assert row["source"] == "bo-xay-dung" and row["detailed"]


async def test_changed_record_is_updated(procedures: asyncpg.Pool, tmp_path: Path):
    await import_procedures(procedures, SAMPLE)
    record = dict(sample_record("1.001193"), ten_thu_tuc="Thủ tục đăng ký khai sinh (sửa)")
    path = tmp_path / "changed.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    report = await import_procedures(procedures, path)
    assert (report.inserted, report.updated, report.skipped) == (0, 1, 0)
    assert await procedures.fetchval("SELECT name FROM procedures WHERE code = '1.001193'") == record["ten_thu_tuc"]


async def test_summary_never_overwrites_a_full_record_but_a_full_record_replaces_a_summary(procedures: asyncpg.Pool):
    summary = await import_procedures(procedures, SUMMARY)
    assert (summary.inserted, summary.updated, summary.skipped) == (5, 0, 0)
    full = await import_procedures(procedures, SAMPLE)
    assert (full.inserted, full.updated, full.skipped) == (45, 2, 0)  # 1.014064 and 1.001612 upgraded
    again = await import_procedures(procedures, SUMMARY)
    assert (again.inserted, again.updated, again.skipped) == (0, 0, 5)
    row = await procedures.fetchrow("SELECT detailed, documents FROM procedures WHERE code = '1.014064'")
    assert row["detailed"] and len(row["documents"]) == 4


async def test_bad_lines_are_counted_and_reported_not_fatal(procedures: asyncpg.Pool, tmp_path: Path):
    good = SAMPLE.read_text(encoding="utf-8").splitlines()[:3]
    lines = [good[0], '{"ma_thu_tuc": "9.999999", "ten_thu_tuc": "Thủ tục cắt ngang', "", good[1], "[1, 2, 3]",
             json.dumps({"ma_thu_tuc": "", "ten_thu_tuc": "Không mã"}), "not json at all", good[2]]
    path = tmp_path / "broken.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"ma_thu_tuc": "9.1", "ten_thu_tuc": "\xff"}\n')
    report = await import_procedures(procedures, path)
    assert report.inserted == 3
    assert [(e.source, e.line) for e in report.errors] == [("broken.jsonl", n) for n in (2, 5, 6, 7, 9)]
    assert report.errors[1].reason == "not a JSON object"
    assert report.errors[2].reason == "missing ma_thu_tuc or ten_thu_tuc"
    assert report.errors[4].reason == "not UTF-8"
    assert str(report.errors[0]).startswith("broken.jsonl:2: ")
    assert await procedures.fetchval("SELECT count(*) FROM procedures") == 3


async def test_bad_csv_rows_and_headers_are_reported(procedures: asyncpg.Pool, tmp_path: Path):
    rows = SUMMARY.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "summary.csv"
    path.write_text("\n".join([rows[0], rows[1], "bo-cong-an,,,,,,,,,,,,,"] + rows[2:]) + "\n", encoding="utf-8")
    report = await import_procedures(procedures, path)
    assert report.inserted == 5
    assert report.errors == (RecordError("summary.csv", 3, "missing ma_thu_tuc or ten_thu_tuc"),)
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    report = await import_procedures(procedures, other)
    assert report.errors == (RecordError("other.csv", 1, "no ma_thu_tuc column in the header"),)


async def test_progress_reports_every_input_record(procedures: asyncpg.Pool, tmp_path: Path):
    (tmp_path / "s.csv").write_text(SUMMARY.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "s.jsonl").write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    steps: list[int] = []
    report = await import_procedures(procedures, tmp_path, progress=steps.append)
    assert sum(steps) == count_records(tmp_path) == 52
    assert (report.inserted, report.duplicates) == (50, 2)
