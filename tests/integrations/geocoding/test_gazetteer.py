"""Addresses to new wards: real-world forms, old and new names, split wards, old districts, errors."""

from __future__ import annotations

import pytest

from integrations.geocoding.gazetteer import Gazetteer
from integrations.geocoding.models import GeocodeError, Source
from integrations.geocoding.text import fold

# text, expected new ward code, expected old ward, expected old district (expectations read off the CSVs)
ADDRESSES = [
    # old numbered wards, every way of writing them
    ("Phường 5, Quận 3", "27154", "Phường 5", "Quận 3"),  # → Bàn Cờ
    ("P5Q3", "27154", "Phường 5", "Quận 3"),
    ("p.5 q.3", "27154", "Phường 5", "Quận 3"),
    ("P.05, Q.03", "27154", "Phường 5", "Quận 3"),
    ("P1,Q3", "27154", "Phường 1", "Quận 3"),
    ("Quận 3 phường 5 đường CMT8 số 12", "27154", "Phường 5", "Quận 3"),
    ("F5 Q.BT", "26905", "Phường 5", "Quận Bình Thạnh"),  # → Bình Lợi Trung
    ("phuong 5 quan binh thah", "26905", "Phường 5", "Quận Bình Thạnh"),  # typo in the district
    ("P.2 Q.TB", "26977", "Phường 2", "Quận Tân Bình"),  # → Tân Sơn Hoà
    ("P.9 Q.PN", "27043", "Phường 9", "Quận Phú Nhuận"),  # → Đức Nhuận
    ("P17 Q.GV", "26884", "Phường 17", "Quận Gò Vấp"),  # → Gò Vấp
    ("123/4 Nguyễn Trãi, P.2, Q.5, TP.HCM", "27301", "Phường 2", "Quận 5"),  # → Chợ Quán
    ("hẻm 42/7 Lê Văn Sỹ phường 13 quận Phú Nhuận", "27073", "Phường 13", "Quận Phú Nhuận"),
    ("Phường 25, Quận Bình Thạnh", "26956", "Phường 25", "Quận Bình Thạnh"),  # → Thạnh Mỹ Tây
    ("77 Lạc Long Quân P.10 Q.Tân Bình", "26983", "Phường 10", "Quận Tân Bình"),  # → Bảy Hiền
    ("Phường 1, Quận 10", "27190", "Phường 1", "Quận 10"),  # → Vườn Lài
    ("P.5 Q.11", "27211", "Phường 5", "Quận 11"),  # → Hoà Bình
    ("Phường 9 Quận 4", "27265", "Phường 9", "Quận 4"),  # → Khánh Hội
    ("Phường 26 Bình Thạnh", "26929", "Phường 26", "Quận Bình Thạnh"),  # district without a marker
    # old named wards, with and without diacritics, with typos
    ("P.Bến Nghé Q1", "26740", "Phường Bến Nghé", "Quận 1"),  # → Sài Gòn
    ("phuong ben nghe quan 1", "26740", "Phường Bến Nghé", "Quận 1"),
    ("PhườngBếnNghé Quận1", "26740", "Phường Bến Nghé", "Quận 1"),
    ("Nguyen Trai phuong Ben Nghe", "26740", "Phường Bến Nghé", "Quận 1"),
    ("Nguyen Trai phuong Ben Nge", "26740", "Phường Bến Nghé", "Quận 1"),  # typo
    ("Bến Nghé, Quận 1", "26740", "Phường Bến Nghé", "Quận 1"),  # no ward marker
    ("số 5 Nguyễn Huệ Bến Nghé Q1", "26740", "Phường Bến Nghé", "Quận 1"),  # ward glued to the street
    ("P. Bến Thàn, Q1", "26743", "Phường Bến Thành", "Quận 1"),  # typo
    ("Phường Phạm Ngũ Lão, Q.1", "26743", "Phường Phạm Ngũ Lão", "Quận 1"),
    ("Phường Võ Thị Sáu, Quận 3", "27139", "Phường Võ Thị Sáu", "Quận 3"),  # → Xuân Hoà
    ("Phường Tân Thuân Đông, Q.7", "27478", "Phường Tân Thuận Đông", "Quận 7"),  # typo → Tân Thuận
    ("Tân Phong, Q7", "27475", "Phường Tân Phong", "Quận 7"),  # → Tân Hưng
    ("Phường Hiệp Tân, Quận Tân Phú", "27028", "Phường Hiệp Tân", "Quận Tân Phú"),
    ("Phường Thạnh Lộc Quận 12", "26767", "Phường Thạnh Lộc", "Quận 12"),
    ("Xã Tân Nhựt H.Bình Chánh", "27595", "Xã Tân Nhựt", "Huyện Bình Chánh"),
    ("Thị trấn Củ Chi, Huyện Củ Chi", "27496", "Thị trấn Củ Chi", "Huyện Củ Chi"),  # → Tân An Hội
    ("Xã Bà Điểm Hóc Môn", "27592", "Xã Bà Điểm", "Huyện Hóc Môn"),
    ("xa phuoc kien nha be", "27655", "Xã Phước Kiển", "Huyện Nhà Bè"),
    ("12 Nguyen Tri Phuong, phuong cho quan", "27301", None, None),  # the new Chợ Quán
    # Thủ Đức city (and the Quận 2 / Quận 9 people still write)
    ("Phường Linh Trung, TP. Thủ Đức", "26800", "Phường Linh Trung", "Thành phố Thủ Đức"),  # → Linh Xuân
    ("phuong linh trung thu duc", "26800", "Phường Linh Trung", "Thành phố Thủ Đức"),
    ("P. Thảo Điền Quận 2", "27094", "Phường Thảo Điền", "Thành phố Thủ Đức"),  # → An Khánh
    ("45 Xa lộ Hà Nội, Thảo Điền, Q2", "27094", "Phường Thảo Điền", "Thành phố Thủ Đức"),
    ("Phường Bình Thọ, Quận Thủ Đức", "26824", "Phường Bình Thọ", "Thành phố Thủ Đức"),
    # Bình Dương and Bà Rịa–Vũng Tàu
    ("Phường Dĩ An, TX Dĩ An, Bình Dương", "25942", "Phường Dĩ An", "Thành phố Dĩ An"),
    ("Phường Lái Thiêu, TP Thuận An", "25966", "Phường Lái Thiêu", "Thành phố Thuận An"),
    ("Phường Uyên Hưng, Tân Uyên, BD", "25888", "Phường Uyên Hưng", "Thành phố Tân Uyên"),
    ("xã Thanh An, Dầu Tiếng", "25807", "Xã Thanh An", "Huyện Dầu Tiếng"),
    ("Phường Thắng Tam, TP Vũng Tàu", "26506", "Phường Thắng Tam", "Thành phố Vũng Tàu"),
    ("Xã Hòa Hiệp, Huyện Xuyên Mộc, BR-VT", "26647", "Xã Hòa Hiệp", "Huyện Xuyên Mộc"),
    ("ấp 3 xã Phước Tỉnh, huyện Long Điền, tỉnh Bà Rịa - Vũng Tàu", "26662", "Xã Phước Tỉnh", "Huyện Long Đất"),
    ("xa xa bang huyen chau duc", "26596", "Xã Xà Bang", "Huyện Châu Đức"),
    ("Xa Bang, Chau Duc", "26596", "Xã Xà Bang", "Huyện Châu Đức"),
    # new (post-2025) addresses
    ("Phường Sài Gòn", "26740", None, None),
    ("12 Lê Lợi, phường Bến Thành, TP.HCM", "26743", None, None),
    ("12 Le Loi, Ben Thanh, Thanh pho Ho Chi Minh, Viet Nam", "26743", None, None),
    ("phuong ban co", "27154", None, None),
    ("P. Nhiêu Lộc, TP.HCM", "27142", None, None),
    ("Phuong Tan Dihn", "26737", None, None),  # typo
    ("phường Xuân Hòa", "27139", None, None),  # the other tone placement (Hoà)
    ("Xã Thạnh An", "27676", None, None),  # diacritics tell it from Xã Thanh An (25807)
    ("12 Lê Lợi, Xã Thanh An, TP.HCM", "25807", None, None),  # ... and so does their absence in accented text
    ("Phường Rạch Dừa", "26536", None, None),
    ("Đặc khu Côn Đảo", "26732", None, None),
    ("Binh Thanh", "26929", None, None),
    ("Chợ Lớn", "27343", None, None),
]


@pytest.mark.parametrize(("text", "code", "old_ward", "old_district"), ADDRESSES, ids=[a[0] for a in ADDRESSES])
def test_address_resolves_to_new_ward(gazetteer: Gazetteer, text, code, old_ward, old_district):
    result = gazetteer.resolve(text)
    assert (result.ward_code, result.old_ward, result.old_district) == (code, old_ward, old_district)
    assert result.ward_name == gazetteer.wards[code].full_name
    assert (result.lat, result.lon) == gazetteer.label_point(code)
    assert result.source == Source.ADDRESS
    assert 0.0 < result.confidence <= 1.0


def test_address_table_is_large_enough():
    assert len(ADDRESSES) >= 40


def test_every_new_name_resolves_in_three_spellings(gazetteer: Gazetteer):
    failures = []
    for w in gazetteer.wards.values():
        for text in (w.full_name, fold(w.full_name), w.full_name.replace(" ", "")):
            result = gazetteer.resolve(text)
            if w.code not in (result.ward_code, *(c for c, _ in result.candidates)):
                failures.append((text, result.ward_code))
    assert failures == []


def test_every_old_ward_with_its_district_resolves_to_one_of_its_targets(gazetteer: Gazetteer, old_rows):
    targets: dict[tuple[str, str], set[str]] = {}
    for r in old_rows:
        if r["old_ward_code"]:
            targets.setdefault((r["old_ward_name"], r["old_district_name"]), set()).add(r["new_ward_code"])
    assert len(targets) == 441
    failures = []
    for (ward, district), codes in sorted(targets.items()):
        for text in (f"{ward}, {district}", fold(f"{ward} {district}")):
            result = gazetteer.resolve(text)
            if result.ward_code not in codes or result.old_ward is None or fold(result.old_ward) != fold(ward):
                failures.append((text, result.ward_code, codes))
    assert failures == []


def _splits(old_rows) -> list[tuple[str, str, frozenset[str]]]:
    found: dict[tuple[str, str], set[str]] = {}
    for r in old_rows:
        if int(r["n_targets"]) > 1:
            found.setdefault((r["old_ward_name"], r["old_district_name"]), set()).add(r["new_ward_code"])
    return [(w, d, frozenset(c)) for (w, d), c in sorted(found.items())]


def test_split_wards_return_all_targets_as_candidates(gazetteer: Gazetteer, old_rows):
    splits = _splits(old_rows)
    assert len(splits) == 47
    whole = gazetteer.resolve("Phường 5, Quận 3").confidence
    for ward, district, codes in splits:
        result = gazetteer.resolve(f"{ward}, {district}")
        assert {c for c, _ in result.candidates} == codes, ward
        assert result.ward_code in codes
        assert result.confidence < whole
        assert all(name == gazetteer.wards[c].full_name for c, name in result.candidates)


@pytest.mark.parametrize(("text", "codes"), [
    ("Phường 15, Quận Phú Nhuận", {"27058", "27073"}),  # Cầu Kiệu / Phú Nhuận
    ("P.Đa Kao, Q.1", {"26737", "26740"}),  # Tân Định / Sài Gòn
    ("phuong hiep thanh tp thu dau mot", {"25747", "25750"}),  # Thủ Dầu Một / Phú Lợi
    ("Phường Long Thạnh Mỹ, Quận 9", {"26833", "26842"}),  # Long Bình / Tăng Nhơn Phú
    ("P.7 Q.8", {"27424", "27619"}),  # Bình Đông / Xã Bình Hưng
])
def test_split_ward_examples(gazetteer: Gazetteer, text, codes):
    result = gazetteer.resolve(text)
    assert {c for c, _ in result.candidates} == codes
    assert result.confidence <= 0.55


def test_three_way_split_is_less_certain_than_two_way(gazetteer: Gazetteer):
    three = gazetteer.resolve("Phường Sơn Kỳ, Quận Tân Phú")
    two = gazetteer.resolve("Phường 15, Quận Phú Nhuận")
    assert len(three.candidates) == 3
    assert three.confidence < two.confidence


def test_old_district_alone_gives_its_successors_as_candidates(gazetteer: Gazetteer, old_rows):
    thu_duc = {r["new_ward_code"] for r in old_rows if r["old_district_name"] == "Thành phố Thủ Đức"}
    result = gazetteer.resolve("TP Thủ Đức")
    assert {c for c, _ in result.candidates} == thu_duc
    assert result.ward_code in thu_duc
    assert result.old_district == "Thành phố Thủ Đức"
    assert result.confidence <= 0.3


@pytest.mark.parametrize(("text", "district"), [
    ("TX Dĩ An", "Thành phố Dĩ An"),
    ("H. Củ Chi", "Huyện Củ Chi"),
    ("Q.TB", "Quận Tân Bình"),
    ("Quận 9", "Thành phố Thủ Đức"),
    ("TP. Thủ Dầu Một, Bình Dương", "Thành phố Thủ Dầu Một"),
    ("Huyện Xuyên Mộc, Bà Rịa - Vũng Tàu", "Huyện Xuyên Mộc"),
])
def test_old_district_names_resolve(gazetteer: Gazetteer, old_rows, text, district):
    successors = {r["new_ward_code"] for r in old_rows if r["old_district_name"] == district}
    result = gazetteer.resolve(text)
    assert result.old_district == district
    assert result.ward_code in successors
    assert {c for c, _ in result.candidates} == successors


def test_con_dao_district_maps_to_its_single_successor(gazetteer: Gazetteer):
    result = gazetteer.resolve("Huyện Côn Đảo, Bà Rịa - Vũng Tàu")
    assert (result.ward_code, result.candidates) == ("26732", ())
    assert result.confidence >= 0.9


def test_ward_abolished_before_2025_falls_back_to_its_district(gazetteer: Gazetteer):
    # Phường 13, Quận 3 was merged into Phường 12 on 1 January 2025 (1278/NQ-UBTVQH15): neither the 2025 data
    # nor the 2021 merger table has it.
    result = gazetteer.resolve("hẻm 42/7 Lê Văn Sỹ phường 13 quận 3")
    assert result.old_district == "Quận 3"
    assert result.confidence <= 0.3
    assert "not found" in result.matched


def test_new_name_wins_over_old_name_but_says_so(gazetteer: Gazetteer):
    # Phường An Phú is a new ward (ex-Thuận An) and an old ward of Thủ Đức city (now split).
    new = gazetteer.resolve("Phường An Phú")
    assert new.ward_code == "25975"
    assert {"27094", "27097"} <= {c for c, _ in new.candidates}
    assert new.confidence < gazetteer.resolve("Phường Sài Gòn").confidence
    # With its old district the address is in the old form.
    old = gazetteer.resolve("Phường An Phú, TP Thủ Đức")
    assert old.ward_code in {"27094", "27097"}
    assert old.old_ward == "Phường An Phú"


def test_same_name_without_diacritics_is_ambiguous(gazetteer: Gazetteer):
    result = gazetteer.resolve("xa thanh an")
    assert {c for c, _ in result.candidates} == {"25807", "27676"}
    assert result.confidence <= 0.4


@pytest.mark.parametrize(("text", "code"), [
    ("Phường 5", "ambiguous"),  # nine districts have a Phường 5
    ("12 Nguyễn Trãi", "not_found"),
    ("xyz qwerty", "not_found"),
    ("   ", "no_input"),
])
def test_unresolvable_addresses_raise_with_a_code(gazetteer: Gazetteer, text, code):
    with pytest.raises(GeocodeError) as e:
        gazetteer.resolve(text)
    assert e.value.code == code
    assert gazetteer.geocode(text, None, None) is None


def test_results_are_cached_but_errors_are_raised_every_time(gazetteer: Gazetteer):
    for _ in range(2):
        with pytest.raises(GeocodeError):
            gazetteer.resolve("Phường 5")
        assert gazetteer.resolve("P5Q3").ward_code == "27154"


def test_names_only_gazetteer_resolves_addresses_to_label_points(names_only: Gazetteer):
    assert not names_only.has_boundaries
    result = names_only.resolve("P.Bến Nghé Q1")
    assert (result.ward_code, (result.lat, result.lon)) == ("26740", names_only.label_point("26740"))
    with pytest.raises(GeocodeError) as e:
        names_only.resolve(lat=10.7769, lon=106.7009)
    assert e.value.code == "no_boundaries"
    assert str(e.value).startswith("no boundaries available")
    assert names_only.geocode(None, 10.7769, 106.7009) is None
    # With both, the address decides: the point cannot be placed.
    assert names_only.resolve("P.Bến Nghé Q1", 10.80, 106.65).ward_code == "26740"
