"""The routing matrix: pure decisions from the shipped rules and units."""

import csv
from datetime import UTC, datetime

import pytest

from kernel.text import fold
from routing import CaseFacts, Router
from routing.rules import Rule, Unit, choose_department, ordered
from routing.store import DATA_DIR


def _shipped() -> tuple[list[Rule], dict[str, Unit]]:
    units = {}
    with (DATA_DIR / "units.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            units[row["code"]] = Unit(row["code"], row["name_vi"], row["name_en"], row["kind"])
    with (DATA_DIR / "wards.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = f"ubnd-{row['code']}"
            units[code] = Unit(code, f"UBND {row['full_name']}", row["full_name_en"], "ward", row["code"])
    rules = []
    with (DATA_DIR / "rules.csv").open(encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), 1):
            rules.append(Rule(
                id=i, priority=int(row["priority"]), field=row["field"] or None, department=row["department"],
                urgent={"true": True, "false": False}.get(row["urgent"]), channel=row["channel"] or None,
                ward_codes=frozenset(row["ward_codes"].split("|")) if row["ward_codes"] else None,
                keywords=tuple(fold(k) for k in row["keywords"].split("|")) if row["keywords"] else ()))
    return ordered(rules), units


RULES, UNITS = _shipped()
BEN_THANH = "26743"

MATRIX = [
    # field, ward, urgent, text, expected unit
    ("electricity", BEN_THANH, False, "mất điện cả khu", "evn-hcmc"),
    ("electricity", None, True, "dây điện tóe lửa", "evn-hcmc"),
    ("water_supply", None, False, "mất nước", "sawaco"),
    ("drainage_flooding", BEN_THANH, False, "ngập sâu", "thoat-nuoc"),
    ("trees", None, True, "cây đổ", "cay-xanh"),
    ("public_lighting", None, False, "đèn đường tắt", "chieu-sang"),
    ("urban_infrastructure", BEN_THANH, False, "ổ gà", "ttqlhtkt"),
    ("public_transport", None, False, "xe buýt bỏ trạm", "ttqlgtcc"),
    ("traffic", None, False, "đèn tín hiệu ngã tư hỏng", "ttqlhtkt"),
    ("traffic", None, False, "den giao thong hu", "ttqlhtkt"),  # keywords match without diacritics
    ("traffic", None, False, "nhóm thanh niên đua xe mỗi tối", "cong-an-tp"),
    ("traffic", None, False, "kẹt xe giờ cao điểm", "so-xay-dung"),
    ("urban_order", BEN_THANH, False, "lấn chiếm vỉa hè", f"ubnd-{BEN_THANH}"),
    ("urban_order", None, False, "xây dựng không phép", "so-xay-dung"),
    ("noise", BEN_THANH, False, "karaoke ồn", f"ubnd-{BEN_THANH}"),
    ("noise", None, False, "karaoke ồn", "cong-an-tp"),
    ("environment", BEN_THANH, False, "rác không thu gom", f"ubnd-{BEN_THANH}"),
    ("environment", BEN_THANH, False, "nhà máy xả khói đen", "so-nong-nghiep-moi-truong"),
    ("admin_procedures", BEN_THANH, False, "làm căn cước", f"ubnd-{BEN_THANH}"),
    ("admin_procedures", None, False, "làm căn cước", "ttphcc"),
    ("security", None, True, "nhà bên cạnh đang cháy lớn", "cong-an-tp"),
    ("security", None, False, "trộm xe", "cong-an-tp"),
    ("health", None, False, "ngộ độc thực phẩm", "so-y-te"),
    ("telecom", None, False, "cáp viettel chằng chịt", "viettel-hcm"),
    ("telecom", None, False, "cáp treo thấp", "so-khoa-hoc-cong-nghe"),
]


@pytest.mark.parametrize("field, ward, urgent, text, unit", MATRIX)
def test_routing_matrix(field, ward, urgent, text, unit):
    choice = choose_department(field, ward, urgent, "web", fold(text), RULES, UNITS)
    assert choice is not None and choice.department == unit


def test_every_field_has_a_default():
    from casework.models import FIELDS

    for field in FIELDS - {"other"}:
        assert choose_department(field, None, False, "sms", "", RULES, UNITS) is not None, field


def test_the_decision_explains_itself():
    choice = choose_department("electricity", BEN_THANH, False, "web", "mat dien", RULES, UNITS)
    rule = choice.rule.id
    assert choice.reason_vi == ("Lĩnh vực Điện lực tại phường Bến Thành → Tổng công ty Điện lực TP.HCM,"
                                f" theo quy tắc định tuyến số {rule}: lĩnh vực Điện lực.")
    assert choice.reason_en == ("Electricity in Ben Thanh Ward → HCMC Power Corporation,"
                                f" by routing rule {rule}: field Electricity.")


def test_a_rule_for_a_retired_unit_falls_through():
    units = {**UNITS, "evn-hcmc": Unit("evn-hcmc", "EVN", "EVN", "utility", active=False)}
    rules = ordered([Rule(id=1, department="evn-hcmc", priority=10, field="electricity"),
                     Rule(id=2, department="so-xay-dung", priority=0)])
    assert choose_department("electricity", None, False, "web", "", rules, units).department == "so-xay-dung"


def test_conditions_on_channel_urgency_and_area():
    rules = ordered([
        Rule(id=1, department="a", priority=30, field="noise", channel="sms"),
        Rule(id=2, department="b", priority=20, field="noise", urgent=True),
        Rule(id=3, department="c", priority=10, field="noise", ward_codes=frozenset({"1", "2"})),
        Rule(id=4, department="d", priority=0, field="noise"),
    ])
    units = {c: Unit(c, c, c, "department") for c in "abcd"}
    assert choose_department("noise", "1", True, "sms", "", rules, units).department == "a"
    assert choose_department("noise", "1", True, "web", "", rules, units).department == "b"
    assert choose_department("noise", "2", False, "web", "", rules, units).department == "c"
    assert choose_department("noise", "3", False, "web", "", rules, units).department == "d"
    assert choose_department("trees", "3", False, "web", "", rules, units) is None


def test_router_declines_other_and_unknown():
    router = Router(rules=RULES, units=UNITS)
    now = datetime.now(UTC)
    assert router.route(CaseFacts("other", None, False, "web", "x", now)) is None
    assert router.route(CaseFacts(None, None, False, "web", "x", now)) is None
    assert Router().route(CaseFacts("trees", None, False, "web", "x", now)) is None
