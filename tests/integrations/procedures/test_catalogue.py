"""The real catalogue (2,642 procedures, beside the repository): imported whole, then searched in citizen wording.

Each phrasing lists the procedures that answer it (the same procedure at another level counts); one of
them must be among the top three.
"""

from __future__ import annotations

import time

import asyncpg
import pytest

from integrations.procedures import count_records, import_procedures, search

from .conftest import CATALOGUE

RELEVANCE = [
    # Identity card: diacritics or not, teencode, English.
    ("làm lại căn cước bị mất", {"1.014064", "2.001194", "1.000757"}),
    ("lam lai can cuoc bi mat", {"1.014064", "2.001194", "1.000757"}),
    ("mất cccd thì làm sao", {"1.014064", "2.001194", "1.000757"}),
    ("e mun lm lai cccd", {"1.014064", "2.001194", "1.000757", "1.014063", "2.001195", "1.000889"}),
    ("lost my ID card", {"1.014064", "2.001194", "1.000757"}),
    ("cho hỏi thủ tục cấp đổi thẻ căn cước hết hạn cần những gì", {"1.014063", "2.001195", "1.000889"}),
    ("căn cước cho bé dưới 14 tuổi", {"1.014062", "1.012549", "1.012543"}),
    # Building.
    ("xin giay phep xay dung", {"1.013225", "1.013236"}),
    ("xin phép xây nhà", {"1.013225"}),
    # Civil status.
    ("đăng ký khai sinh cho con", {"1.001193"}),
    ("lam giay khai sinh cho be", {"1.001193"}),
    ("birth certificate", {"1.001193"}),
    ("xin bản sao giấy khai sinh", {"2.000635"}),
    ("sửa tên trong giấy khai sinh", {"1.004859"}),
    ("đăng ký kết hôn", {"1.000894"}),
    ("dang ky ket hon voi nguoi nuoc ngoai", {"2.000806"}),
    ("xac nhan doc than", {"1.004873"}),
    ("khai tử cho bố", {"1.000656"}),
    ("nhận con nuôi", {"2.001263"}),
    ("ly hon", {"2.000554"}),
    # Residence.
    ("nhập hộ khẩu cho vợ", {"1.004222"}),
    ("dk tam tru", {"1.004194"}),
    ("gia hạn tạm trú", {"1.002755"}),
    ("xoá đăng ký thường trú", {"1.003197"}),
    # Land.
    ("mất sổ đỏ", {"1.012786"}),
    ("đổi sổ đỏ cũ sang sổ mới", {"1.012783"}),
    ("tách thửa đất", {"1.012784"}),
    # Passport, criminal record, certification.
    ("làm hộ chiếu", {"1.001456", "1.001471"}),
    ("passport", {"1.001456", "1.001471"}),
    ("xin lý lịch tư pháp", {"3.000333"}),
    ("criminal record certificate", {"3.000333"}),
    ("công chứng bản sao giấy tờ", {"2.000815"}),
    ("chứng thực di chúc", {"2.001019"}),
    # Vehicles and driving licences.
    ("đổi bằng lái xe", {"3.000347"}),
    ("mất bằng lái", {"3.000348"}),
    ("driving licence renewal", {"3.000347"}),
    ("sang tên xe máy", {"1.013076"}),
    ("cấp lại cà vẹt xe bị mất", {"1.013080", "1.013082"}),
    ("đăng ký xe máy mới mua", {"1.013067", "1.012575"}),
    # Business, tax, social insurance.
    ("mo quan an can dang ky kinh doanh", {"1.001612"}),
    ("thành lập công ty tnhh một thành viên", {"2.001583"}),
    ("mã số thuế cá nhân", {"1.008498"}),
    ("hoàn thuế thu nhập cá nhân", {"1.008562", "2.002233"}),
    ("rut bhxh 1 lan", {"1.001613"}),
    ("đăng ký tài khoản định danh điện tử mức 2", {"3.000228"}),
    # A case as a citizen writes it.
    ("Tôi nộp hồ sơ xin cấp giấy phép xây dựng nhà ở riêng lẻ tại phường đã 30 ngày chưa có kết quả", {"1.013225"}),
]


@pytest.mark.skipif(not CATALOGUE.is_dir(), reason=f"the shared catalogue is not at {CATALOGUE}")
async def test_real_catalogue_imports_and_answers_citizen_phrasings(procedures: asyncpg.Pool):
    assert count_records(CATALOGUE) == 2 * 2642  # the JSONL records and the CSV summary of the same codes
    started = time.perf_counter()
    report = await import_procedures(procedures, CATALOGUE)
    elapsed = time.perf_counter() - started
    assert (report.inserted, report.updated, report.errors, report.duplicates) == (2642, 0, (), 2642)
    assert elapsed < 30, f"import took {elapsed:.1f}s"
    counts = await procedures.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE detailed) AS detailed,"
        " count(*) FILTER (WHERE processing_time IS NOT NULL) AS timed,"
        " count(*) FILTER (WHERE jsonb_array_length(documents) > 0) AS with_documents,"
        " count(*) FILTER (WHERE cardinality(channels) > 0) AS with_channels FROM procedures")
    assert counts["total"] == counts["detailed"] == counts["with_channels"] == 2642
    assert counts["timed"] >= 2642 - 137  # SOURCE.md: no processing time for 137
    assert counts["with_documents"] >= 2600
    by_source = dict(await procedures.fetch("SELECT source, count(*) FROM procedures GROUP BY source"))
    assert by_source == {"bo-tai-chinh": 706, "bo-nong-nghiep-mt": 537, "bo-xay-dung": 525, "bo-cong-an": 339,
                         "bo-tu-phap": 271, "ngan-hang-nha-nuoc": 261, "toa-an-nhan-dan": 3}

    misses = []
    for phrase, expected in RELEVANCE:
        hits = await search(procedures, phrase, limit=3)
        if not expected & {h.code for h in hits}:
            misses.append((phrase, [(h.code, h.name[:60], h.score) for h in hits]))
    assert not misses, f"{len(RELEVANCE) - len(misses)}/{len(RELEVANCE)} phrasings hit the top three; missed: {misses}"
