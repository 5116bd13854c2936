"""Wards and districts merged away on 1 January 2021 (1111/NQ-UBTVQH14) land where their successor went in 2025."""

from __future__ import annotations

import csv

import pytest

from integrations.geocoding.build import read_merged_2021, read_tables
from integrations.geocoding.gazetteer import Gazetteer
from integrations.geocoding.paths import DATA_DIR, MERGED_2021_CSV


def _successors(old_rows, district: str, ward: str) -> set[str]:
    """The 2025 unit(s) of a 2021–2025 ward, read directly off the package's old→new table."""
    codes = {r["new_ward_code"] for r in old_rows if r["old_district_name"] == district and r["old_ward_name"] == ward}
    assert codes, (district, ward)
    return codes


@pytest.mark.parametrize("text", [
    "123 Nguyễn Thị Minh Khai, phường 6, quận 3",
    "phuong 7 quan 3",
    "P.8, Q.3",
    "Ward 6, District 3, HCMC",
])
def test_quan_3_wards_6_7_8_land_where_vo_thi_sau_went(gazetteer: Gazetteer, old_rows, text):
    (expected,) = _successors(old_rows, "Quận 3", "Phường Võ Thị Sáu")  # Xuân Hoà in the data
    result = gazetteer.resolve(text)
    assert (result.ward_code, result.candidates) == (expected, ())
    assert result.old_district == "Quận 3" and result.old_ward in {"Phường 6", "Phường 7", "Phường 8"}
    assert 0.85 <= result.confidence < gazetteer.resolve("Phường Võ Thị Sáu, Quận 3").confidence
    assert "merged into Phường Võ Thị Sáu in 2021 (1111/NQ-UBTVQH14)" in result.matched


@pytest.mark.parametrize("text", [
    "phường Bình An, quận 2",
    "phuong binh khanh quan 2",
    "Bình Khánh, Q2",
    "phường Bình An, TP Thủ Đức",
])
def test_quan_2_wards_merged_into_an_khanh_land_where_an_khanh_went(gazetteer: Gazetteer, old_rows, text):
    (expected,) = _successors(old_rows, "Thành phố Thủ Đức", "Phường An Khánh")
    result = gazetteer.resolve(text)
    assert (result.ward_code, result.candidates) == (expected, ())
    assert result.old_district == "Thành phố Thủ Đức"
    assert result.confidence >= 0.85


def test_a_merged_name_needs_its_district(gazetteer: Gazetteer, old_rows):
    # Phường Bình An of Quận 2 is gone since 2021; without a district the name is Dĩ An's, which lived until 2025.
    (di_an,) = _successors(old_rows, "Thành phố Dĩ An", "Phường Bình An")
    (an_khanh,) = _successors(old_rows, "Thành phố Thủ Đức", "Phường An Khánh")
    assert gazetteer.resolve("phường Bình An, quận 2").ward_code == an_khanh
    assert gazetteer.resolve("phường Bình An").ward_code == di_an


@pytest.mark.parametrize(("text", "district", "successor"), [
    ("phường 12 quận 4", "Quận 4", "Phường 13"),
    ("P15 Q5", "Quận 5", "Phường 12"),
    ("phường 3 quận 10", "Quận 10", "Phường 2"),
    ("P.12 Q.PN", "Quận Phú Nhuận", "Phường 11"),
    ("phường 14, Phú Nhuận", "Quận Phú Nhuận", "Phường 13"),
])
def test_other_2021_mergers_land_where_their_successor_went(gazetteer: Gazetteer, old_rows, text, district,
                                                            successor):
    (expected,) = _successors(old_rows, district, successor)
    result = gazetteer.resolve(text)
    assert (result.ward_code, result.candidates, result.old_district) == (expected, (), district)
    assert result.confidence >= 0.85


def test_merged_into_a_ward_split_in_2025_gives_the_split_candidates(gazetteer: Gazetteer, old_rows):
    # Phường 5 of Quận 4 went into Phường 2 in 2021, which was split between two new wards in 2025.
    expected = _successors(old_rows, "Quận 4", "Phường 2")
    assert len(expected) == 2
    result = gazetteer.resolve("P.5 Q.4")
    assert {c for c, _ in result.candidates} == expected and result.ward_code in expected
    assert result.confidence <= 0.55
    assert result.old_ward == "Phường 5"


@pytest.mark.parametrize("text", ["Thủ Đức city", "Thu Duc City, Ho Chi Minh City", "TP. Thủ Đức City"])
def test_thu_duc_city_written_in_english_is_the_old_district(gazetteer: Gazetteer, old_rows, text):
    successors = {r["new_ward_code"] for r in old_rows if r["old_district_name"] == "Thành phố Thủ Đức"}
    result = gazetteer.resolve(text)
    assert result.old_district == "Thành phố Thủ Đức"
    assert {c for c, _ in result.candidates} == successors
    assert result.confidence <= 0.3


@pytest.mark.parametrize(("text", "district", "ward"), [
    ("Phường Linh Trung, Thủ Đức city", "Thành phố Thủ Đức", "Phường Linh Trung"),
    ("phường Bình An, Thủ Đức city", "Thành phố Thủ Đức", "Phường An Khánh"),
    ("Phú Hữu, District 9", "Thành phố Thủ Đức", "Phường Phú Hữu"),
    ("Tân Phú ward, District 9", "Thành phố Thủ Đức", "Phường Tân Phú"),
])
def test_wards_with_thu_duc_city_or_district_9_in_english(gazetteer: Gazetteer, old_rows, text, district, ward):
    (expected,) = _successors(old_rows, district, ward)
    result = gazetteer.resolve(text)
    assert (result.ward_code, result.candidates, result.old_district) == (expected, (), district)
    assert result.confidence >= 0.9
    assert "= Thành phố Thủ Đức" in result.matched  # the district was recognised, not guessed from the ward


def test_quan_2_and_9_come_from_the_merger_table():
    districts = {r["old_name"]: r["successor_district_code"] for r in _merger_rows() if r["level"] == "district"}
    assert districts == {"Quận 2": "769", "Quận 9": "769", "Quận Thủ Đức": "769"}
    assert {r["resolution"] for r in _merger_rows()} == {"1111/NQ-UBTVQH14"}


def _merger_rows() -> list[dict[str, str]]:
    with (DATA_DIR / MERGED_2021_CSV).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _row(**changes: str) -> dict[str, str]:
    row = {"level": "ward", "old_name": "Phường 6", "old_district": "Quận 3", "successor_name": "Phường Võ Thị Sáu",
           "successor_district_code": "770", "successor_district": "Quận 3", "resolution": "1111/NQ-UBTVQH14",
           "effective": "2021-01-01"}
    return row | changes


@pytest.mark.parametrize(("changes", "message"), [
    (dict(successor_name="Phường 99"), "not a pre-2025 ward"),
    (dict(old_name="Phường 9"), "already taken"),  # Phường 9 of Quận 3 lived until 2025
    (dict(successor_district="Quận 4"), "is not"),
    (dict(old_district="Quận 4"), "did not become"),
    (dict(resolution=""), "resolution"),
    (dict(level="province"), "level"),
])
def test_a_wrong_merger_row_fails_the_build(changes, message):
    tables = read_tables()
    with pytest.raises(ValueError, match=message):
        read_merged_2021([_row(**changes)], tables["old_wards"], tables["districts"])
