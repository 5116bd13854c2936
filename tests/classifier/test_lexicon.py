"""The field lexicon: the file's shape, and matching on messages written for these tests."""

import re
import unicodedata
from collections import defaultdict

import pytest

from classifier.corpus import FIELDS, LABELS
from classifier.lexicon import COLUMNS, KINDS, LEXICON, Entry, Lexicon, LexiconError, keyword_field, read, scores
from classifier.normalize import strip_diacritics, views

SOURCES = LEXICON.parent / "SOURCES.md"


@pytest.fixture(scope="module")
def entries():
    return read(LEXICON)


def test_every_line_has_the_six_columns():
    lines = LEXICON.read_text(encoding="utf-8").splitlines()
    assert tuple(lines[0].split("\t")) == COLUMNS
    for number, line in enumerate(lines[1:], 2):
        assert len(line.split("\t")) == len(COLUMNS), f"line {number}"


def test_fields_kinds_languages_and_weights_are_valid(entries):
    assert len(entries) > 2000
    assert {e.field for e in entries} == set(LABELS)
    assert {e.kind for e in entries} <= KINDS
    assert {e.lang for e in entries} == {"vi", "en"}
    assert {e.weight for e in entries} == {1, 2, 3}


def test_every_source_is_defined_in_sources_md(entries):
    defined = set(re.findall(r"^\| `([a-z0-9]+)` \|", SOURCES.read_text(encoding="utf-8"), re.MULTILINE))
    assert "writer" in defined
    assert {e.source for e in entries} <= defined


def test_terms_are_nfc_and_trimmed(entries):
    for e in entries:
        assert e.term == unicodedata.normalize("NFC", e.term) == e.term.strip(), e.term


def test_no_term_is_repeated_within_a_field_once_folded(entries):
    seen: dict[tuple[str, str], str] = {}
    for e in entries:
        assert (e.field, e.key) not in seen, f"{e.term!r} and {seen[e.field, e.key]!r} fold alike in {e.field}"
        seen[e.field, e.key] = e.term


def test_no_term_weighs_two_or_more_in_two_fields(entries):
    strong = defaultdict(set)
    for e in entries:
        if e.weight >= 2:
            strong[e.key].add(e.field)
    assert {key: fields for key, fields in strong.items() if len(fields) > 1} == {}


@pytest.mark.parametrize("field", LABELS)
def test_every_field_has_its_vocabulary_in_both_languages(entries, field):
    vi = [e for e in entries if e.field == field and e.lang == "vi"]
    en = [e for e in entries if e.field == field and e.lang == "en"]
    assert len(vi) >= 60 and len(en) >= 40
    if field in FIELDS:
        assert any(e.weight == 3 for e in vi) and any(e.weight == 3 for e in en)


@pytest.mark.parametrize("line, error", [
    ("trees\tvi\tcây đổ\tcore\t4\twriter", "weight"),
    ("trees\tvi\tcây đổ\tcore\t0\twriter", "weight"),
    ("parks\tvi\tcây đổ\tcore\t3\twriter", "unknown field"),
    ("trees\tfr\tarbre\tcore\t3\twriter", "unknown language"),
    ("trees\tvi\tcây đổ\tslang\t3\twriter", "unknown kind"),
    ("trees\tvi\tcây đổ\tcore\t3", "columns"),
    ("trees\tvi\t - \tcore\t3\twriter", "empty"),
])
def test_a_bad_line_is_refused_with_its_number(tmp_path, line, error):
    path = tmp_path / "lexicon.tsv"
    path.write_text("\t".join(COLUMNS) + "\ntrees\tvi\tcây xanh\tcore\t3\twriter\n" + line + "\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=f"lexicon.tsv:3: .*{error}"):
        read(path)


def _lexicon(*rows: tuple[str, str, int]) -> Lexicon:
    return Lexicon(Entry(field, "vi", term, "core", weight, "writer") for field, term, weight in rows)


def test_the_longest_term_wins_and_its_parts_do_not_count():
    lexicon = _lexicon(("public_lighting", "cột đèn", 3), ("traffic", "cột đèn giao thông", 3),
                       ("traffic", "giao thông", 1))
    folded = views("Cột đèn giao thông bị nghiêng")[1]
    assert lexicon.hits(folded) == [("cot den giao thong", (("traffic", 3),))]
    assert lexicon.matches(folded) == {"traffic": 3.0}
    assert lexicon.matches(views("Cột đèn bị nghiêng, giao thông khó khăn")[1]) == {"public_lighting": 3.0,
                                                                                    "traffic": 1.0}


def test_a_longer_path_without_a_term_falls_back_to_the_shorter_term():
    lexicon = _lexicon(("trees", "cây", 1), ("trees", "cây xanh bị đổ", 3))
    assert lexicon.matches(views("cây xanh đẹp")[1]) == {"trees": 1.0}


def test_a_term_counts_once_however_often_it_is_written():
    lexicon = _lexicon(("environment", "rác", 2))
    assert lexicon.matches(views("rác, rác và rác khắp nơi")[1]) == {"environment": 2.0}


def test_a_term_shared_by_two_fields_scores_in_both():
    lexicon = _lexicon(("urban_infrastructure", "hố ga", 1), ("drainage_flooding", "hố ga", 1))
    assert lexicon.matches(views("hố ga")[1]) == {"urban_infrastructure": 1.0, "drainage_flooding": 1.0}


@pytest.mark.parametrize("text, absent", [
    ("Ngõ gác chuông nhà thờ", "urban_infrastructure"),  # "ngo gac" holds the letters of "o ga"
    ("The gasket of the pump is worn", "security"),  # "gas" is not in "gasket"
    ("The kitchen cabinet is broken", "environment"),  # "bin" is not in "cabinet"
    ("Bộ phận tiếp nhận bổ sung giấy tờ", "security"),  # "súng" is not a term: "bổ sung" folds to "bo sung"
])
def test_terms_match_whole_words_only(text, absent):
    assert absent not in scores(text)


@pytest.mark.parametrize("text, field", [
    ("Đường Võ Văn Kiệt có ổ gà lớn, xe máy té liên tục", "urban_infrastructure"),
    ("Hẻm nhà tôi bị cúp điện từ sáng tới giờ", "electricity"),
    ("Khu phố tôi mất nước hai ngày nay", "water_supply"),
    ("Mưa xong là đường ngập sâu, cống bị nghẹt", "drainage_flooding"),
    ("Trụ đèn chiếu sáng trước chợ không sáng cả tuần", "public_lighting"),
    ("Cây xanh bật gốc đè lên mái nhà", "trees"),
    ("Kẹt xe kéo dài ở vòng xoay, đèn tín hiệu không hoạt động", "traffic"),
    ("Xe buýt bỏ trạm, tài xế không dừng đón khách", "public_transport"),
    ("Dây cáp viễn thông chằng chịt, sóng điện thoại yếu", "telecom"),
    ("Quán ăn lấn chiếm vỉa hè, bày bàn ghế ra tận lòng đường", "urban_order"),
    ("Bãi rác tự phát bốc mùi hôi thối", "environment"),
    ("Nhà bên cạnh hát karaoke tới nửa đêm", "noise"),
    ("Tối qua có đối tượng khả nghi đột nhập trộm xe máy", "security"),
    ("Cả lớp bị ngộ độc thực phẩm sau bữa trưa", "health"),
    ("Tôi nộp hồ sơ đăng ký khai sinh cho con đã quá hẹn", "admin_procedures"),
    ("Công ty nợ lương công nhân ba tháng", "other"),
])
def test_vietnamese_messages_with_and_without_diacritics(text, field):
    plain = strip_diacritics(text)
    assert plain != text
    assert keyword_field(scores(text)) == field
    assert scores(plain) == scores(text)


@pytest.mark.parametrize("text, field", [
    ("mất nc 2 ngày r mn ơi", "water_supply"),  # teencode the normaliser expands: nc → nước
    ("cup dien hoai z", "electricity"),
    ("mạng lag quá, rớt wifi suốt", "telecom"),
    ("There is a pothole on my street", "urban_infrastructure"),
    ("Fly-tipping behind the shops again", "environment"),
    ("fly tipping behind the shops again", "environment"),
    ("Garbage has not been picked up for a week", "environment"),
    ("The rubbish bins have not been emptied", "environment"),
    ("Car double parked and blocking my driveway", "traffic"),
    ("The street light outside number 12 is out", "public_lighting"),
    ("Loud music from the bar until 3am", "noise"),
    ("I renewed my driver's license and the application status says rejected", "admin_procedures"),
])
def test_shorthand_and_english(text, field):
    assert keyword_field(scores(text)) == field


def test_greetings_alone_are_other_and_do_not_outweigh_a_field():
    assert keyword_field(scores("Xin chào, cảm ơn")) == "other"
    assert keyword_field(scores("Xin chào, đường bị ngập sâu, cảm ơn")) == "drainage_flooding"


def test_keyword_field_sends_ties_and_silence_to_other():
    assert keyword_field({}) == "other"
    assert keyword_field({"trees": 3.0, "traffic": 3.0}) == "other"
    assert keyword_field({"trees": 3.0, "traffic": 1.0}) == "trees"
