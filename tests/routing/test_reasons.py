"""Why a case goes to its unit and by when, in words a citizen-facing agent can read out: Vietnamese and English."""

from datetime import datetime

import kernel.cases
from kernel.labels import CHANNEL_LABELS, FIELD_LABELS
from kernel.text import fold
from kernel.time import LOCAL_TZ
from routing import CaseFacts, Router
from routing.calendar import BusinessCalendar
from routing.rules import WARD_UNIT, Rule, Unit, as_written, choose_department, ordered
from routing.sla import default_policies

BEN_THANH, SAI_GON, CAN_GIO, CON_DAO = "26743", "26740", "27673", "26732"
UNITS = {
    "so-xay-dung": Unit("so-xay-dung", "Sở Xây dựng", "Department of Construction", "department"),
    "cong-an-tp": Unit("cong-an-tp", "Công an Thành phố Hồ Chí Minh", "Ho Chi Minh City Police", "department"),
    "tiep-nhan-1022": Unit("tiep-nhan-1022", "Trung tâm tiếp nhận 1022", "1022 Intake Centre", "hotline"),
    **{f"ubnd-{code}": Unit(f"ubnd-{code}", f"UBND {vi}", f"{en} People's Committee", "ward", code)
       for code, vi, en in ((BEN_THANH, "Phường Bến Thành", "Ben Thanh Ward"),
                            (SAI_GON, "Phường Sài Gòn", "Sai Gon Ward"),
                            (CAN_GIO, "Xã Cần Giờ", "Can Gio Commune"),
                            (CON_DAO, "Đặc khu Côn Đảo", "Con Dao Special administrative region"))},
}


def _choose(rules, field, ward=None, urgent=False, channel="web", text=""):
    choice = choose_department(field, ward, urgent, channel, fold(text), ordered(rules), UNITS, text=text)
    assert choice is not None
    return choice


def test_a_field_rule_names_the_field_the_ward_and_the_urgency():
    choice = _choose([Rule(id=3, department="so-xay-dung", field="traffic")], "traffic", BEN_THANH, urgent=True)
    assert choice.reason_vi == ("Lĩnh vực Giao thông tại phường Bến Thành (khẩn cấp) → Sở Xây dựng,"
                                " theo quy tắc định tuyến số 3: lĩnh vực Giao thông.")
    assert choice.reason_en == ("Traffic and road safety in Ben Thanh Ward (urgent) → Department of Construction,"
                                " by routing rule 3: field Traffic and road safety.")


def test_a_keyword_rule_quotes_the_words_as_the_citizen_wrote_them():
    rules = [Rule(id=7, department="cong-an-tp", field="traffic", keywords=(fold("đua xe"), fold("lạng lách")))]
    choice = _choose(rules, "traffic", text="Tối nào cũng có nhóm ĐUA   XE trên đường Lê Lợi")
    assert choice.reason_vi == ("Lĩnh vực Giao thông → Công an Thành phố Hồ Chí Minh, theo quy tắc định tuyến số 7:"
                                " lĩnh vực Giao thông, nội dung có “ĐUA XE”.")
    assert choice.reason_en == ("Traffic and road safety → Ho Chi Minh City Police, by routing rule 7:"
                                " field Traffic and road safety, the text mentions “ĐUA XE”.")
    # Typed without diacritics, the quote is what was typed; a keyword inside a word quotes the whole word.
    assert "nội dung có “lang lach”" in _choose(rules, "traffic", text="lang lach").reason_vi
    assert as_written("no", "nhà bên nổ lớn") == "nổ" and as_written("no", "trời nóng quá") == "nóng"
    assert as_written("chay", None) == "chay" and as_written("chay", "không có") == "chay"


def test_a_rule_for_some_wards_names_them_and_counts_the_rest():
    two = Rule(id=4, department="so-xay-dung", field="urban_order", ward_codes=frozenset({BEN_THANH, CAN_GIO}))
    choice = _choose([two], "urban_order", CAN_GIO)
    assert choice.reason_vi.startswith("Lĩnh vực Trật tự đô thị tại xã Cần Giờ → Sở Xây dựng")
    assert choice.reason_vi.endswith(": lĩnh vực Trật tự đô thị, tại phường Bến Thành, xã Cần Giờ.")
    assert choice.reason_en.endswith(": field Urban order and construction, in Ben Thanh Ward, Can Gio Commune.")
    five = Rule(id=5, department="so-xay-dung", ward_codes=frozenset({BEN_THANH, SAI_GON, CAN_GIO, CON_DAO, "1"}))
    vi, en = five.conditions(UNITS)
    assert vi == "mọi lĩnh vực, tại phường/xã 1, đặc khu Côn Đảo, phường Sài Gòn và 2 phường/xã khác"
    assert en == "any field, in ward 1, Con Dao Special administrative region, Sai Gon Ward and 2 more wards"


def test_a_rule_on_channel_and_urgency_says_so():
    rule = Rule(id=8, department="tiep-nhan-1022", field="noise", urgent=False, channel="voice")
    choice = _choose([rule], "noise", channel="voice")
    assert choice.reason_vi == ("Lĩnh vực Tiếng ồn → Trung tâm tiếp nhận 1022, theo quy tắc định tuyến số 8:"
                                " lĩnh vực Tiếng ồn, không khẩn cấp, gửi qua kênh Điện thoại.")
    assert choice.reason_en == ("Noise → 1022 Intake Centre, by routing rule 8:"
                                " field Noise, not urgent, received via Phone call.")


def test_a_ward_rule_says_the_ward_takes_it():
    choice = _choose([Rule(id=9, department=WARD_UNIT, field="noise", keywords=("karaoke",))], "noise", SAI_GON,
                     text="Karaoke ồn đến 2 giờ sáng")
    assert choice.department == f"ubnd-{SAI_GON}"
    assert choice.reason_vi == ("Lĩnh vực Tiếng ồn tại phường Sài Gòn → UBND Phường Sài Gòn, theo quy tắc định tuyến"
                                " số 9: lĩnh vực Tiếng ồn, nội dung có “Karaoke”, giao UBND phường/xã nơi xảy ra.")
    assert choice.reason_en == ("Noise in Sai Gon Ward → Sai Gon Ward People's Committee, by routing rule 9:"
                                " field Noise, the text mentions “Karaoke”, sent to the People's Committee of the"
                                " ward where it happened.")


def test_a_rule_read_on_its_own_lists_its_keywords():
    rule = Rule(id=2, department="cong-an-tp", field="security", urgent=True, keywords=("chay", "no", "khi gas"))
    assert rule.conditions() == (
        "lĩnh vực An ninh trật tự, khẩn cấp, nội dung có một trong các từ “chay”, “no”, “khi gas”",
        "field Security and public order, urgent, the text mentions “chay”, “no” or “khi gas”")


def test_the_router_explains_the_unit_and_the_deadline_in_both_languages():
    router = Router(rules=[Rule(id=3, department="so-xay-dung", field="traffic")], units=UNITS,
                    policies=default_policies(), calendar=BusinessCalendar.vietnam(range(2026, 2028)))
    opened = datetime(2026, 11, 26, 14, 5, tzinfo=LOCAL_TZ)
    decision = router.route(CaseFacts("traffic", BEN_THANH, False, "web", "kẹt xe", opened), now=opened)
    assert decision.reason == decision.reason_vi
    assert decision.reason_vi.startswith("Lĩnh vực Giao thông tại phường Bến Thành → Sở Xây dựng")
    assert decision.reason_en.startswith("Traffic and road safety in Ben Thanh Ward → Department of Construction")
    assert decision.deadline_reason.startswith("Hạn giải quyết 10 ngày làm việc")
    assert decision.deadline_reason_en.startswith("Resolution due in 10 working days")


def test_routing_names_fields_and_channels_as_casework_and_the_console_do():
    from casework.models import FIELD_LABELS as CASEWORK_FIELDS
    from console.case_page import CHANNEL_LABELS as CONSOLE_CHANNELS

    assert tuple(FIELD_LABELS) == kernel.cases.FIELD_CODES
    assert CASEWORK_FIELDS is FIELD_LABELS and CONSOLE_CHANNELS is CHANNEL_LABELS  # one table, not copies
