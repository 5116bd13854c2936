"""Procedure search: citizen wording parsed, candidates scored, the sample catalogue searched, cases suggested."""

from __future__ import annotations

import json

import asyncpg
import pytest

from integrations.procedures import search, suggest_for_case
from integrations.procedures.search import Candidate, concepts, index_text, parse_query, rank, score

# --- Parsing: pure --------------------------------------------------------------------------------

def test_query_is_folded_and_aliased_to_catalogue_words():
    q = parse_query("Làm lại CĂN CƯỚC bị mất")
    assert {t for t, w in q.terms.items() if w == 1.0} == {"cap", "lai", "the", "can", "cuoc"}
    assert q.terms["mat"] == q.terms["lam"] == 0.3  # the citizen's own words stay, lighter
    assert ("can", "cuoc") in q.pairs and ("cap", "lai") in q.pairs


def test_with_and_without_diacritics_parse_alike():
    assert parse_query("xin giấy phép xây dựng") == parse_query("xin giay phep xay dung")
    assert parse_query("đăng ký tạm trú") == parse_query("dang ky tam tru") == parse_query("dk tam tru")


def test_teencode_and_abbreviations_are_expanded():
    assert {"the", "can", "cuoc", "cap", "lai"} <= set(parse_query("e mun lm lai cccd").terms)
    assert {"giay", "phep", "lai", "xe"} <= set(parse_query("mất gplx").terms)
    assert "em" not in parse_query("e mun lm lai cccd").terms


def test_what_is_said_to_us_is_dropped():
    q = parse_query("cho hỏi thủ tục đăng ký kết hôn như thế nào ạ, cần giấy tờ gì")
    assert set(q.terms) == {"dang", "ky", "ket", "hon"}


def test_abbreviation_and_full_words_are_one_concept():
    q = parse_query("hoàn thuế thu nhập cá nhân")
    assert (("tncn",), ("thu", "nhap", "ca", "nhan")) in q.alternatives
    assert "tncn" in q.terms


def test_only_a_last_word_typed_without_a_space_is_a_prefix():
    assert parse_query("đăng ký khai si").prefix == "si"
    assert parse_query("đăng ký khai si ").prefix is None
    assert parse_query("căn cước").prefix is None  # replaced by an alias: whole catalogue words


# --- Scoring: pure --------------------------------------------------------------------------------

def candidate(code: str, name: str, field: str = "", level: str = "Cấp xã") -> Candidate:
    return Candidate(code, level, index_text(name, field))


FREQ = {"cap": 900, "lai": 380, "the": 120, "can": 80, "cuoc": 37, "mat": 50, "lam": 130, "doi": 200,
        "ho": 300, "chieu": 10, "pho": 40, "thong": 500, "bao": 200, "trinh": 100}


def test_rare_words_outweigh_common_ones():
    q = parse_query("cấp lại căn cước")
    weighted = concepts(q, FREQ, 2642)
    id_card = score(q, candidate("a", "Cấp đổi thẻ căn cước"), weighted)
    anything = score(q, candidate("b", "Cấp lại giấy phép kinh doanh"), weighted)
    assert id_card > anything


def test_name_start_and_word_order_decide_between_similar_names():
    q = parse_query("làm lại căn cước bị mất")
    weighted = concepts(q, FREQ, 2642)
    reissue = score(q, candidate("a", "Cấp lại thẻ căn cước"), weighted)
    exchange = score(q, candidate("b", "Cấp đổi thẻ căn cước"), weighted)
    central = score(q, candidate("c", "Cấp lại thẻ căn cước (thực hiện tại cấp trung ương)", level="Cấp bộ"),
                    weighted)
    assert reissue > central > exchange


def test_rank_is_best_first_stable_and_drops_weak_matches():
    q = parse_query("hộ chiếu")
    found = [candidate("2", "Cấp hộ chiếu phổ thông ở trong nước"),
             candidate("1", "Cấp hộ chiếu phổ thông ở trong nước"),
             candidate("3", "Trình báo mất hộ chiếu phổ thông", level="Cấp tỉnh"),
             candidate("4", "Cấp thẻ ABTC", field="Quản lý xuất nhập cảnh")]
    ranked = rank(q, found, FREQ, 2642, limit=10)
    assert [code for code, _ in ranked] == ["1", "2", "3"]
    assert ranked[0][1] == ranked[1][1] > ranked[2][1]


def test_query_with_no_known_word_scores_nothing():
    q = parse_query("xyzzy")
    assert concepts(q, {"xyzzy": 0}, 2642) == []
    assert score(q, candidate("1", "Cấp hộ chiếu"), []) == 0.0


# --- Search over the sample catalogue ---------------------------------------------------------------

SAMPLE_PHRASINGS = [
    ("làm lại căn cước bị mất", {"1.014064", "2.001194", "1.000757"}),
    ("xin giay phep xay dung", {"1.013225", "1.013236"}),
    ("đăng ký khai sinh cho con", {"1.001193"}),
    ("mất sổ đỏ", {"1.012786"}),
    ("đổi bằng lái xe", {"3.000347"}),
    ("sang tên xe máy", {"1.013076"}),
    ("passport", {"1.001456"}),
]


@pytest.mark.parametrize(("phrase", "expected"), SAMPLE_PHRASINGS)
async def test_citizen_phrasing_finds_the_procedure(sample: asyncpg.Pool, phrase: str, expected: set[str]):
    hits = await search(sample, phrase, limit=3)
    assert expected & {h.code for h in hits}, [(h.code, h.name, h.score) for h in hits]


async def test_search_with_and_without_diacritics_gives_the_same_ranking(sample: asyncpg.Pool):
    with_marks = await search(sample, "làm lại căn cước bị mất")
    without = await search(sample, "lam lai can cuoc bi mat")
    assert [h.code for h in with_marks] == [h.code for h in without]
    assert with_marks[0].code == "1.014064" and with_marks[0].level == "Cấp xã"


async def test_hit_carries_what_a_citizen_needs(sample: asyncpg.Pool):
    hit = (await search(sample, "cấp lại thẻ căn cước", limit=1))[0]
    assert hit.code == "1.014064" and hit.name == "Cấp lại thẻ căn cước"
    assert hit.processing_time == "7 Ngày làm việc" and hit.fees.startswith("70,000 Việt Nam Đồng")
    assert hit.channels == ["Trực tiếp", "Trực tuyến", "Dịch vụ bưu chính"]
    assert hit.agency == "Công an cấp Xã" and hit.link.startswith("https://dichvucong.gov.vn/")
    # Papers to bring come before notes.
    assert hit.documents[0].startswith("Phiếu đề nghị giải quyết thủ tục về căn cước")
    assert hit.documents[0].endswith("(1 bản chính)")
    assert hit.documents[-1].startswith("Phiếu này là biểu mẫu điện tử")
    assert json.loads(json.dumps(hit.as_dict(), ensure_ascii=False))["code"] == "1.014064"


async def test_a_procedure_code_finds_that_procedure_first(sample: asyncpg.Pool):
    hits = await search(sample, "thủ tục 1.004873 là gì")
    assert hits[0].code == "1.004873" and hits[0].score == 1.0


async def test_half_typed_last_word_is_completed(sample: asyncpg.Pool):
    hits = await search(sample, "xác nhận tình trạng hôn nh", limit=1)
    assert hits[0].code == "1.004873"


async def test_unrelated_words_find_nothing(sample: asyncpg.Pool):
    assert await search(sample, "xyzzy plugh") == []
    assert await search(sample, "ạ ơi nhé") == []


async def test_limit_is_respected(sample: asyncpg.Pool):
    assert len(await search(sample, "đăng ký", limit=2)) == 2


# --- Suggestions for a case -------------------------------------------------------------------------

async def test_case_text_gets_three_small_suggestions(sample: asyncpg.Pool):
    text = ("Chào tổng đài, em bị mất căn cước công dân khi đi xe buýt hôm qua. Giờ em muốn làm lại thì cần"
            " giấy tờ gì, mất bao lâu, lệ phí bao nhiêu và nộp ở đâu ạ?")
    async with sample.acquire() as conn:
        suggestions = await suggest_for_case(conn, text)
    assert [s["code"] for s in suggestions] == ["1.014064", "2.001194", "1.000757"]
    first = suggestions[0]
    assert set(first) == {"code", "name", "processing_time", "fees", "documents", "where_to_apply", "channels",
                          "link", "score"}
    assert first["where_to_apply"] == "Công an cấp Xã"  # no address in the record: the agency
    assert len(first["documents"]) <= 5 and len(first["fees"]) <= 300
    # Stored as the pipeline will store it.
    await sample.execute("INSERT INTO cases (tracking_code, channel, description, search_text)"
                         " VALUES ('HL-TEST', 'web', $1, $1)", text)
    await sample.execute("UPDATE cases SET procedure_suggestions = $1 WHERE tracking_code = 'HL-TEST'", suggestions)
    stored = await sample.fetchval("SELECT procedure_suggestions FROM cases WHERE tracking_code = 'HL-TEST'")
    assert stored == suggestions


async def test_case_about_something_else_gets_no_suggestion(sample: asyncpg.Pool):
    text = "Đèn đường trước nhà số 12 Lê Lợi bị hỏng ba ngày nay, buổi tối rất tối, mong phường sửa giúp."
    assert await suggest_for_case(sample, text) == []
