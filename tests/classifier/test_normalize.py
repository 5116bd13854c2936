"""The folded view: words typed with diacritics keep their meaning; shorthand typed without them expands."""

import pytest

from classifier.normalize import folded, normalise, views


def fold(text: str) -> str:
    return folded(normalise(text))


@pytest.mark.parametrize("text, expected", [
    ("đèn đường hỏng", "den duong hong"),  # broken, not "không"
    ("sổ hồng", "so hong"),
    ("hẻm 12 ngập", "hem 12 ngap"),  # an alley, not "không"
    ("đường bị lún", "duong bi lun"),  # sunken, not "luôn"
    ("cống bị bịt kín", "cong bi bit kin"),  # blocked, not "biết"
    ("bít cống", "bit cong"),
])
def test_words_typed_with_diacritics_are_not_read_as_shorthand(text, expected):
    assert fold(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("ko co nc", "khong co nuoc"),
    ("mất nc 2 ngày r mn ơi", "mat nuoc 2 ngay roi moi nguoi oi"),
    ("hok bik nộp hs ở đâu lun", "khong biet nop ho so o dau luon"),
    ("cúp điện hoài z, dc ko", "cup dien hoai vay , duoc khong"),
    ("SĐT 0901234567", "so dien thoai _phone_"),
    ("đt hư", "dien thoai hu"),
])
def test_shorthand_typed_without_diacritics_still_expands(text, expected):
    assert fold(text) == expected


@pytest.mark.parametrize("text", ["hem 12 ngap", "den duong hong", "a bit cloudy"])
def test_ambiguous_plain_forms_stay_as_typed(text):
    # Plain "hem" is the alley far more often than "không", plain "hong" is "hỏng"/"hồng", "bit" is "bịt"
    # or English: left alone, the text typed without diacritics folds as the text typed with them.
    assert fold(text) == text


def test_a_text_with_and_without_diacritics_folds_alike():
    assert views("Hẻm 5 đèn hỏng, cống bị bịt")[1] == views("Hem 5 den hong, cong bi bit")[1] \
        == "hem 5 den hong , cong bi bit"
