"""The address parser on the ways people really write addresses, and on every unit name in the data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.geocoding.parser import parse_address, province_of
from integrations.geocoding.text import fold

# text → the parts that must come out (the others must be empty)
FORMS = [
    ("Phường 5, Quận 3", dict(ward="5", ward_type="phuong", district="3", district_type="quan")),
    ("P.Bến Nghé Q1", dict(ward="Bến Nghé", ward_type="phuong", district="1", district_type="quan")),
    ("phuong ben nghe quan 1", dict(ward="ben nghe", ward_type="phuong", district="1", district_type="quan")),
    ("F5 Q.BT", dict(ward="5", ward_type="phuong", district="Bình Thạnh", district_type="quan")),
    ("f.12 q.tb", dict(ward="12", ward_type="phuong", district="Tân Bình", district_type="quan")),
    ("P.9 Q.PN", dict(ward="9", ward_type="phuong", district="Phú Nhuận", district_type="quan")),
    ("P17 Q.GV", dict(ward="17", ward_type="phuong", district="Gò Vấp", district_type="quan")),
    ("Q.TP", dict(district="Tân Phú", district_type="quan")),
    ("TP Thủ Đức", dict(district="Thủ Đức", district_type="thanh pho")),
    ("TX Dĩ An", dict(district="Dĩ An", district_type="thi xa")),
    ("H. Củ Chi", dict(district="Củ Chi", district_type="huyen")),
    ("P1,Q3", dict(ward="1", ward_type="phuong", district="3", district_type="quan")),
    ("p.5 q.3", dict(ward="5", ward_type="phuong", district="3", district_type="quan")),
    ("P5Q3", dict(ward="5", ward_type="phuong", district="3", district_type="quan")),
    ("P.05, Q.03", dict(ward="5", ward_type="phuong", district="3", district_type="quan")),
    ("Xã Tân Nhựt H.Bình Chánh", dict(ward="Tân Nhựt", ward_type="xa", district="Bình Chánh", district_type="huyen")),
    ("123/4 Nguyễn Trãi, P.2, Q.5, TP.HCM",
     dict(house_number="123/4", alley="123", street="Nguyễn Trãi", ward="2", ward_type="phuong", district="5",
          district_type="quan", city="HCM", province_code="79")),
    ("hẻm 42/7 Lê Văn Sỹ phường 13 quận 3",
     dict(alley="42/7", street="Lê Văn Sỹ", ward="13", ward_type="phuong", district="3", district_type="quan")),
    ("Nguyen Trai phuong Ben Nghe", dict(street="Nguyen Trai", ward="Ben Nghe", ward_type="phuong")),
    ("quan binh thanh", dict(district="binh thanh", district_type="quan")),
    ("Quận 3 phường 5 đường CMT8 số 12",
     dict(house_number="12", street="Cách Mạng Tháng 8", ward="5", ward_type="phuong", district="3",
          district_type="quan")),
    ("PhườngBếnNghé Quận1", dict(ward="Bến Nghé", ward_type="phuong", district="1", district_type="quan")),
    ("Thị trấn Củ Chi, Huyện Củ Chi",
     dict(ward="Củ Chi", ward_type="thi tran", district="Củ Chi", district_type="huyen")),
    ("TT Nhà Bè", dict(ward="Nhà Bè", ward_type="thi tran")),
    ("Bến Nghé, Quận 1", dict(district="1", district_type="quan", unlabeled=("Bến Nghé",))),
    ("12 Le Loi, Ben Thanh, Thanh pho Ho Chi Minh, Viet Nam",
     dict(house_number="12", street="Le Loi", city="Ho Chi Minh", province_code="79", unlabeled=("Ben Thanh",))),
    # marker words that are syllables of names, written without diacritics
    ("12 Nguyen Tri Phuong, phuong cho quan",
     dict(house_number="12", street="Nguyen Tri Phuong", ward="cho quan", ward_type="phuong")),
    ("77 Lạc Long Quân P.10 Q.Tân Bình",
     dict(house_number="77", street="Lạc Long Quân", ward="10", ward_type="phuong", district="Tân Bình",
          district_type="quan")),
    ("45 Xa lộ Hà Nội, Thảo Điền, Q2",
     dict(house_number="45", street="Xa lộ Hà Nội", district="2", district_type="quan", unlabeled=("Thảo Điền",))),
    ("77 lac long quan p10 q tan binh",
     dict(house_number="77", street="lac long quan", ward="10", ward_type="phuong", district="tan binh",
          district_type="quan")),
    ("Xa Bang, Chau Duc", dict(unlabeled=("Xa Bang", "Chau Duc"))),
    ("xa xa bang huyen chau duc", dict(ward="xa bang", ward_type="xa", district="chau duc", district_type="huyen")),
    ("Phường Chợ Quán, Quận 5", dict(ward="Chợ Quán", ward_type="phuong", district="5", district_type="quan")),
    ("ấp 3 xã Phước Tỉnh, huyện Long Điền, tỉnh Bà Rịa - Vũng Tàu",
     dict(ward="Phước Tỉnh", ward_type="xa", district="Long Điền", district_type="huyen", city="Bà Rịa - Vũng Tàu",
          province_code="77")),
    ("Phường Bình Dương, TP Thủ Dầu Một, Bình Dương",
     dict(ward="Bình Dương", ward_type="phuong", district="Thủ Dầu Một", district_type="thanh pho",
          city="Bình Dương", province_code="74")),
    ("số 9 hẻm 120 Bà Huyện Thanh Quan, P.9, Q.3",
     dict(house_number="9", alley="120", street="Bà Huyện Thanh Quan", ward="9", ward_type="phuong", district="3",
          district_type="quan")),
    ("KP 3, P. Linh Trung, TP. Thủ Đức",
     dict(ward="Linh Trung", ward_type="phuong", district="Thủ Đức", district_type="thanh pho")),
    ("Đường số 5, P. Bình An", dict(street="Đường số 5", ward="Bình An", ward_type="phuong")),
    # English unit words, before the name and after it
    ("Ward 6, District 3, HCMC",
     dict(ward="6", ward_type="phuong", district="3", district_type="quan", city="HCMC", province_code="79")),
    ("Linh Trung Ward, Thu Duc City, Ho Chi Minh City",
     dict(ward="Linh Trung", ward_type="phuong", district="Thu Duc", district_type="thanh pho",
          city="Ho Chi Minh City", province_code="79")),
    ("P. Bình An, TP. Thủ Đức City", dict(ward="Bình An", ward_type="phuong", district="Thủ Đức",
                                          district_type="thanh pho")),
]
EMPTY = dict(house_number=None, alley=None, street=None, ward=None, ward_type=None, district=None,
             district_type=None, city=None, province_code=None, unlabeled=())


@pytest.mark.parametrize(("text", "expected"), FORMS, ids=[t for t, _ in FORMS])
def test_parse_real_world_forms(text, expected):
    parts = parse_address(text)
    got = {k: getattr(parts, k) for k in EMPTY}
    assert got == EMPTY | expected


@pytest.mark.parametrize(("text", "ward_old", "district_old"), [
    ("Phường 5, Quận 3", True, True),
    ("P.Bến Nghé Q1", False, True),
    ("Thị trấn Củ Chi", True, False),
    ("Phường Sài Gòn", False, False),
])
def test_parse_flags_the_old_forms(text, ward_old, district_old):
    parts = parse_address(text)
    assert (parts.ward_is_old, parts.district_is_old) == (ward_old, district_old)


def test_parse_ignores_order():
    a = parse_address("Quận 3, Phường 5, 12 CMT8")
    b = parse_address("12 CMT8, Phường 5, Quận 3")
    assert (a.ward, a.district) == (b.ward, b.district) == ("5", "3")


def _all_unit_names(ward_rows, old_rows):
    names = {(r["type"], r["name"]) for r in ward_rows}
    for r in old_rows:
        if r["old_ward_code"]:
            typed = r["old_ward_name"]
            unit_type = r["old_ward_type"]
            names.add((unit_type, typed[len(unit_type):].strip()))
    return sorted(names)


def test_every_ward_name_survives_parsing_with_and_without_diacritics(ward_rows, old_rows):
    failures = []
    for unit_type, name in _all_unit_names(ward_rows, old_rows):
        for text in (f"{unit_type} {name}, Quận 1", f"{unit_type} {name} Quận 1", fold(f"{unit_type} {name} quan 1")):
            parts = parse_address(text)
            if fold(parts.ward or "") != fold(name) or parts.district != "1":
                failures.append((text, parts.ward, parts.district))
    assert failures == []


def test_every_old_district_name_survives_parsing(old_rows):
    failures = []
    for full in sorted({r["old_district_name"] for r in old_rows}):
        for text in (f"Phường 1, {full}", f"{full} Phường 1", fold(f"{full} phuong 1")):
            parts = parse_address(text)
            name = full.split(" ", 2)[-1] if full.startswith("Thành phố") else full.split(" ", 1)[-1]
            if fold(parts.district or "") != fold(name) or parts.ward != "1":
                failures.append((text, parts.district))
    assert failures == []


@pytest.mark.parametrize(("city", "code"), [
    ("TP.HCM", "79"), ("Hồ Chí Minh", "79"), ("Sài Gòn", "79"), ("Bình Dương", "74"), ("BR-VT", "77"),
    ("Bà Rịa - Vũng Tàu", "77"), ("Hà Nội", None),
])
def test_province_of_city_names(city, code):
    assert province_of(city) == code


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from(list("PpQqFfHh.,/- 0123456789abđườngxãuậnTPBếNghé\u0301\u0323")),
               max_size=60))
def test_parse_never_raises_and_is_deterministic(text):
    assert parse_address(text) == parse_address.__wrapped__(text)
