"""Folding Vietnamese text, and the keys names are matched on."""

from __future__ import annotations

import pytest

from integrations.geocoding.fuzzy import FuzzyIndex, distance, ratio
from integrations.geocoding.text import accent_key, fold, has_diacritics, name_key


@pytest.mark.parametrize(("text", "folded"), [
    ("Phường Bến Nghé", "phuong ben nghe"),
    ("ĐƯỜNG Đồng Khởi", "duong dong khoi"),
    ("Thủ Đức", "thu duc"),
    ("Phu\u031bo\u031b\u0300ng", "phuong"),  # decomposed input
    ("Hòa Hoà", "hoa hoa"),
])
def test_fold(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize(("name", "typed", "key"), [
    ("Phường Bến Nghé", True, "bennghe"),
    ("Phường 05", True, "5"),
    ("Thị trấn Củ Chi", True, "cuchi"),
    ("Thành phố Thủ Đức", True, "thuduc"),
    ("Xã Xà Bang", True, "xabang"),
    ("Xà Bang", False, "xabang"),  # a parsed name keeps its first word even when it folds to a type
])
def test_name_key(name, typed, key):
    assert name_key(name, typed) == key


def test_accent_key_tells_names_apart_and_ignores_tone_placement():
    assert accent_key("Xã Thanh An") != accent_key("Xã Thạnh An")
    assert accent_key("Phường Hòa Hưng") == accent_key("Phường Hoà Hưng")
    assert accent_key("Thủy", typed=False) == accent_key("Thuỷ", typed=False)


def test_has_diacritics():
    assert has_diacritics("Bến Nghé") and has_diacritics("đa kao") and not has_diacritics("Ben Nghe")


@pytest.mark.parametrize(("a", "b", "d"), [
    ("bennghe", "bennghe", 0), ("bennghe", "bennge", 1), ("tandinh", "tandihn", 1), ("abc", "xyz", 3),
])
def test_distance_counts_swaps_once(a, b, d):
    assert distance(a, b, 5) == d


def test_ratio_and_index():
    assert ratio("bennge", "bennghe") == pytest.approx(6 / 7)
    index = FuzzyIndex(["bennghe", "benthanh", "tandinh", "5"])
    assert [k for k, _ in index.best("benthan", 0.8)] == ["benthanh"]
    assert index.best("5", 0.8) == []
    assert index.best("zzzzzz", 0.8) == []
