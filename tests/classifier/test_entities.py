"""Entities found with spaCy rules on pyvi-segmented text."""

import pytest

from classifier.entities import EntityExtractor


@pytest.fixture(scope="module")
def extractor():
    return EntityExtractor()


def test_contacts_codes_and_plates(extractor):
    found = extractor.extract(
        "Gọi tôi 0901 234 567 hoặc email an.nguyen@example.vn, hồ sơ 701 734 074 3, xe 59-X1 123.45 và 51F-123.45")
    assert found["phones"] == ["+84901234567"]
    assert found["emails"] == ["an.nguyen@example.vn"]
    assert found["case_codes"] == ["7017340743"]
    assert found["plates"] == ["59-X1 123.45", "51F-123.45"]


def test_address_parts_with_diacritics(extractor):
    found = extractor.extract("Cây đổ ở số 12 hẻm 42/7 Nguyễn Trãi, P.Bến Thành, Q.1, TP.HCM")
    assert found["address"] == {"house_number": "số 12", "alley": "hẻm 42/7", "street": "Nguyễn Trãi",
                                "ward": "P.Bến Thành", "district": "Q.1", "city": "TP.HCM"}


def test_address_parts_without_diacritics(extractor):
    found = extractor.extract("nha toi o 45/12 duong le van sy phuong 13 quan 3 bi mat nuoc")
    assert found["address"] == {"house_number": "45/12", "street": "duong le van sy", "ward": "phuong 13",
                                "district": "quan 3"}
    assert found["address_text"] == "45/12, duong le van sy, phuong 13, quan 3"


def test_short_forms_and_new_units(extractor):
    assert extractor.extract("ko có nước 3 ngày r, p5 q8")["address"] == {"ward": "p5", "district": "q8"}
    found = extractor.extract("Đường Lê Lợi, phường Bến Thành ngập")
    assert found["address"] == {"street": "Đường Lê Lợi", "ward": "phường Bến Thành"}


def test_nothing_found_in_plain_text(extractor):
    found = extractor.extract("Quán karaoke hát suốt đêm")
    assert found["phones"] == found["emails"] == found["plates"] == [] and found["address"] == {}
