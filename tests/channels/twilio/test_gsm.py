"""GSM 03.38: the alphabet, folding Vietnamese into it, and counting SMS segments."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.twilio.gsm import BASIC, EXTENSION, GSM7, is_gsm7, segments, to_gsm7

VIETNAMESE = ("aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXY"
              "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")
gsm_texts = st.text(alphabet=st.sampled_from(sorted(GSM7)))
any_texts = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(VIETNAMESE))


def test_the_tables_are_the_standard_ones():
    assert len(BASIC) == 128 and len(set(BASIC)) == 128
    assert set(EXTENSION) == set("\f^{}\\[~]|€")
    assert "\x1b" not in GSM7  # the escape itself is not a character
    assert "`" not in GSM7 and "ă" not in GSM7 and "đ" not in GSM7


def test_vietnamese_folds_to_plain_letters():
    assert to_gsm7("Đường Lê Lợi ngập sâu 30cm, xin xử lý gấp!") == "Duong Le Loi ngap sau 30cm, xin xu ly gap!"
    assert to_gsm7("ĐẶNG THỊ Ư") == "DANG THI U"
    assert to_gsm7("Hồ sơ HS-0001 — “đã tiếp nhận”…") == 'Ho so HS-0001 - "da tiep nhan"...'


def test_decomposed_input_folds_like_composed():
    text = "Nước ngập ở hẻm 12 đường Nguyễn Trãi"
    assert to_gsm7(unicodedata.normalize("NFD", text)) == to_gsm7(text) == "Nuoc ngap o hem 12 duong Nguyen Trai"


def test_other_characters_become_question_marks():
    assert to_gsm7("Hỏa hoạn 🔥 ở 北京 `x`") == "Hoa hoan ? o ?? ?x?"
    assert to_gsm7("€5 {a} [b]") == "€5 {a} [b]"


def test_is_gsm7():
    assert is_gsm7("Ho so 12: da nhan. @£$¥ €")
    assert not is_gsm7("Hồ sơ")
    assert not is_gsm7("a\x1bb")
    assert is_gsm7("")


@pytest.mark.parametrize(("text", "expected"), [
    ("", 1),
    ("a" * 160, 1),
    ("a" * 161, 2),
    ("a" * 306, 2),
    ("a" * 307, 3),
    ("€" * 80, 1),  # two septets each
    ("€" * 81, 2),
    ("a" * 152 + "€", 1),
    ("a" * 159 + "€", 2),  # 161 septets
    ("a" * 152 + "€" + "a" * 10, 2),  # the escape pair is not split across parts: 152, then 2 + 10
    ("a" * 153 * 2 + "a", 3),
    ("ă" * 70, 1),
    ("ă" * 71, 2),
    ("ă" * 134, 2),
    ("ă" * 135, 3),
    ("🔥" * 35, 1),  # two UTF-16 units each
    ("🔥" * 36, 2),
    ("a" * 68 + "🔥", 1),  # 70 UTF-16 units
    ("a" * 69 + "🔥", 2),
])
def test_segments(text, expected):
    assert segments(text) == expected


def test_one_character_outside_gsm7_makes_the_whole_message_ucs2():
    assert segments("a" * 100) == 1
    assert segments("a" * 99 + "ă") == 2


def test_a_surrogate_pair_is_not_split_across_parts():
    assert segments("a" * 66 + "🔥" + "a" * 10) == 2  # 66, then 2 + 10
    assert segments("a" * 70 + "🔥") == 2


@given(any_texts)
def test_to_gsm7_is_always_gsm7(text):
    assert is_gsm7(to_gsm7(text))


@given(any_texts)
def test_to_gsm7_is_idempotent(text):
    once = to_gsm7(text)
    assert to_gsm7(once) == once


@given(gsm_texts)
def test_to_gsm7_keeps_plain_gsm7_characters(text):
    plain = "".join(ch for ch in text if unicodedata.normalize("NFD", ch) == ch)
    assert to_gsm7(plain) == plain


@given(any_texts, any_texts)
def test_segments_never_decrease_as_text_grows(text, more):
    assert 1 <= segments(text) <= segments(text + more)


@given(gsm_texts)
def test_gsm7_segments_follow_the_septet_count(text):
    septets = sum(2 if ch in EXTENSION else 1 for ch in text)
    count = segments(text)
    if septets <= 160:
        assert count == 1
    else:
        # At least what a split ignoring escape pairs needs, at most one part more per part.
        assert -(-septets // 153) <= count <= -(-septets // 152)


@given(any_texts)
def test_ucs2_segments_follow_the_utf16_length(text):
    if is_gsm7(text):
        return
    units = len(text.encode("utf-16-le")) // 2
    count = segments(text)
    if units <= 70:
        assert count == 1
    else:
        assert -(-units // 67) <= count <= -(-units // 66)
