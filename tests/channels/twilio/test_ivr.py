"""The IVR's call flow, step by step: the TwiML each state and input give, read back with xml.etree."""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from casework import codes
from channels.twilio import ivr
from channels.twilio.ivr import CaseStatus, Config, Desk, Lang, Purpose, Receipt, State
from hotline.settings import Settings

BASE = "https://hotline.example.gov.vn/channels/twilio/voice"
CFG = Config(base_url=BASE, voice_vi="Google.vi-VN-Standard-A", voice_en="Polly.Joanna",
             agent_hours=(7 * 60, 21 * 60), queue_max=20, max_wait_seconds=180)
VI = State()
EN = State(Lang.EN)
CODE = "123456789" + codes.check_digit("123456789")
SPOKEN = ", ".join(CODE)


def parse(response) -> ET.Element:
    root = ET.fromstring(str(response))
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def said(element: ET.Element) -> list[str]:
    return [say.text or "" for say in element.iter("Say")]


def step_of(action: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(action)
    assert action.startswith(BASE + "/")
    return parts.path.rsplit("/", 1)[1], {k: v[0] for k, v in parse_qs(parts.query).items()}


def assert_voice(root: ET.Element, lang: Lang) -> None:
    """Every Say in the document speaks `lang` in its configured voice, except the offer of the other language."""
    for say in root.iter("Say"):
        if say.text in (ivr.TEXT["switch"][Lang.EN], ivr.TEXT["switch"][Lang.VI]):
            continue
        assert say.get("language") == lang.bcp47
        assert say.get("voice") == CFG.voice(lang)


def assert_menu(root: ET.Element, lang: Lang, tries: int) -> None:
    """The document ends with the one-key menu and a redirect that counts silence as a try."""
    gather, redirect = root[-2], root[-1]
    assert gather.tag == "Gather" and redirect.tag == "Redirect"
    assert gather.get("input") == "dtmf" and gather.get("numDigits") == "1"
    assert step_of(gather.get("action")) == ("menu", {"lang": lang.value, "tries": str(tries)})
    assert step_of(redirect.text) == ("menu", {"lang": lang.value, "tries": str(tries)})
    assert said(gather) == [ivr.TEXT["menu"][lang], ivr.TEXT["switch"][lang.other]]
    offer = gather[1]
    assert offer.get("language") == lang.other.bcp47 and offer.get("voice") == CFG.voice(lang.other)


def assert_goodbye(root: ET.Element, lang: Lang) -> None:
    assert verbs(root)[-2:] == ["Say", "Hangup"]
    assert root[-2].text == ivr.TEXT["goodbye"][lang]


def assert_recording(root: ET.Element, purpose: Purpose, lang: Lang = Lang.VI) -> None:
    record = root.find("Record")
    assert record is not None
    assert record.get("maxLength") == "120" and record.get("playBeep") == "true"
    assert step_of(record.get("action")) == ("recorded", {"lang": lang.value, "tries": "0",
                                                          "purpose": purpose.value})
    assert record.get("recordingStatusCallback") == f"{BASE}/recording"
    # Past the Record only when nothing was recorded: said so, then goodbye.
    after = verbs(root)[verbs(root).index("Record") + 1:]
    assert after == ["Say", "Say", "Hangup"]
    assert root[-3].text == ivr.TEXT["nothing_recorded"][lang]


# --- the welcome and the menu ------------------------------------------------------------------------

def test_a_call_is_greeted_in_vietnamese_and_offered_the_menu():
    root = parse(ivr.welcome(CFG, VI))
    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert root[0].text == "Đường dây nóng một không hai hai xin chào bạn."
    assert_menu(root, Lang.VI, 0)
    assert "bấm phím 1" in root[1][0].text and "bấm phím 2" in root[1][0].text and "bấm phím 0" in root[1][0].text
    assert root[1][1].text == "For English, press 9."
    assert_voice(root, Lang.VI)


def test_key_9_switches_to_english_and_back():
    root = parse(ivr.menu(CFG, VI, "9"))
    assert root[0].text == "Welcome to the one zero two two citizens' hotline."
    assert_menu(root, Lang.EN, 0)
    assert root[1][1].text == "Để nghe tiếng Việt, xin bấm phím 9."
    assert_voice(root, Lang.EN)
    back = parse(ivr.menu(CFG, EN, "9"))
    assert_menu(back, Lang.VI, 0)


def test_key_1_asks_for_the_report_by_speech_and_records_when_nothing_is_heard():
    root = parse(ivr.menu(CFG, State(Lang.VI, 2), "1"))
    gather = root[0]
    assert gather.tag == "Gather"
    assert (gather.get("input"), gather.get("language"), gather.get("speechTimeout")) == ("speech", "vi-VN", "auto")
    assert step_of(gather.get("action")) == ("report", {"lang": "vi", "tries": "0"})
    assert said(gather) == ["Xin mời bạn nói nội dung phản ánh, kiến nghị, kèm địa chỉ nơi xảy ra sự việc. "
                            "Nói xong, xin giữ máy."]
    assert verbs(root)[1:3] == ["Say", "Record"]
    assert root[1].text.startswith("Chúng tôi chưa nghe rõ. Xin mời bạn để lại lời phản ánh sau tiếng bíp")
    assert_recording(root, Purpose.REPORT)
    assert_voice(root, Lang.VI)


def test_key_1_in_english_listens_for_english():
    root = parse(ivr.menu(CFG, EN, "1"))
    assert root[0].get("language") == "en-US"
    assert_recording(root, Purpose.REPORT, Lang.EN)
    assert_voice(root, Lang.EN)


def test_key_2_asks_for_the_ten_digit_code():
    root = parse(ivr.menu(CFG, VI, "2"))
    assert verbs(root) == ["Gather", "Redirect"]
    gather = root[0]
    assert (gather.get("input"), gather.get("numDigits"), gather.get("finishOnKey")) == ("dtmf", "10", "#")
    assert step_of(gather.get("action")) == ("check", {"lang": "vi", "tries": "0"})
    assert step_of(root[1].text) == ("check", {"lang": "vi", "tries": "0"})
    assert said(gather) == ["Xin mời bạn nhập mã hồ sơ gồm 10 chữ số, rồi bấm phím thăng."]


def test_key_0_goes_to_the_agent_step():
    root = parse(ivr.menu(CFG, EN, "0"))
    assert verbs(root) == ["Redirect"]
    assert step_of(root[0].text) == ("agent", {"lang": "en", "tries": "0"})


@pytest.mark.parametrize("digits, wrong", [("5", True), ("*", True), ("12", True), (None, False), ("", False)])
def test_silence_or_a_wrong_key_repeats_the_menu(digits, wrong):
    root = parse(ivr.menu(CFG, VI, digits))
    assert ("Phím không hợp lệ." in said(root)) is wrong
    assert_menu(root, Lang.VI, 1)
    root = parse(ivr.menu(CFG, State(Lang.VI, 1), digits))
    assert_menu(root, Lang.VI, 2)


@pytest.mark.parametrize("digits", ["5", None])
def test_the_third_miss_ends_the_call_politely(digits):
    root = parse(ivr.menu(CFG, State(Lang.VI, 2), digits))
    assert "Gather" not in verbs(root)
    assert "Xin lỗi, chúng tôi chưa nhận được lựa chọn của bạn. Xin bạn vui lòng gọi lại sau." in said(root)
    assert_goodbye(root, Lang.VI)
    assert_voice(root, Lang.VI)


# --- the report --------------------------------------------------------------------------------------

@pytest.mark.parametrize("sms", [True, False])
def test_a_report_is_answered_with_its_code_twice_digit_by_digit(sms):
    root = parse(ivr.report(CFG, VI, Receipt(CODE, sms=sms)))
    words = said(root)
    assert words[0] == "Cảm ơn bạn. Phản ánh của bạn đã được tiếp nhận."
    assert f"Mã hồ sơ của bạn là: {SPOKEN}." in words
    assert f"Xin nhắc lại, mã hồ sơ của bạn là: {SPOKEN}." in words
    assert ("Mã hồ sơ cũng sẽ được gửi đến bạn qua tin nhắn SMS." in words) is sms
    assert "Pause" in verbs(root)
    assert_goodbye(root, Lang.VI)


def test_a_report_in_english_is_answered_in_english():
    root = parse(ivr.report(CFG, EN, Receipt(CODE, sms=True)))
    assert f"Your case code is: {SPOKEN}." in said(root)
    assert_voice(root, Lang.EN)


def test_a_report_with_nothing_understood_falls_back_to_a_recording():
    root = parse(ivr.report(CFG, VI, None))
    assert_recording(root, Purpose.REPORT)


@pytest.mark.parametrize("purpose, thanks", [
    (Purpose.REPORT, "Cảm ơn bạn. Phản ánh của bạn đã được tiếp nhận."),
    (Purpose.VOICEMAIL, "Cảm ơn bạn. Lời nhắn của bạn đã được ghi lại, tổng đài viên sẽ xử lý sớm."),
])
def test_a_recording_is_answered_with_its_code(purpose, thanks):
    root = parse(ivr.recorded(CFG, VI, purpose, Receipt(CODE, sms=True)))
    assert said(root)[0] == thanks
    assert f"Mã hồ sơ của bạn là: {SPOKEN}." in said(root)
    assert_goodbye(root, Lang.VI)


def test_no_recording_says_so_and_ends():
    root = parse(ivr.recorded(CFG, VI, Purpose.VOICEMAIL, None))
    assert verbs(root) == ["Say", "Say", "Hangup"]
    assert root[0].text == "Chúng tôi chưa nhận được lời nhắn của bạn."


def test_purpose_is_read_from_the_query():
    assert Purpose.of("voicemail") is Purpose.VOICEMAIL
    assert Purpose.of("report") is Purpose.REPORT and Purpose.of(None) is Purpose.REPORT


# --- checking a case ---------------------------------------------------------------------------------

def _typo(code: str) -> str:
    return code[:3] + str((int(code[3]) + 1) % 10) + code[4:]


@pytest.mark.parametrize("digits, reason", [
    (_typo(CODE), "Mã hồ sơ bạn nhập không đúng."),
    (CODE[1] + CODE[0] + CODE[2:], "Mã hồ sơ bạn nhập không đúng."),
    (CODE[:9], "Mã hồ sơ bạn nhập không đúng."),
    ("", "Chúng tôi chưa nhận được mã hồ sơ."),
    (None, "Chúng tôi chưa nhận được mã hồ sơ."),
])
def test_a_code_failing_its_check_digit_is_asked_again(digits, reason):
    root = parse(ivr.check(CFG, VI, digits, None))
    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert root[0].text == reason
    assert step_of(root[1].get("action")) == ("check", {"lang": "vi", "tries": "1"})
    root = parse(ivr.check(CFG, State(Lang.VI, 1), digits, None))
    assert step_of(root[1].get("action")) == ("check", {"lang": "vi", "tries": "2"})


def test_the_third_bad_code_goes_back_to_the_menu():
    root = parse(ivr.check(CFG, State(Lang.VI, 2), _typo(CODE), None))
    assert root[0].text == "Mã hồ sơ bạn nhập không đúng."
    assert all(g.get("numDigits") != "10" for g in root.iter("Gather"))
    assert "Nếu không cần hỗ trợ thêm, bạn có thể gác máy." in said(root)
    assert_menu(root, Lang.VI, 0)


def test_an_unknown_code_is_said_so():
    root = parse(ivr.check(CFG, VI, CODE, None))
    assert root[0].text == f"Không tìm thấy hồ sơ nào có mã {SPOKEN}."
    assert_menu(root, Lang.VI, 0)


DUE = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)  # 17:30 in Vietnam, a Saturday


def test_a_case_status_is_read_with_unit_deadline_and_answer():
    case = CaseStatus(code=CODE, status="Đã trả lời", unit="Sở Xây dựng", due_at=DUE,
                      answer="Đã vá ổ gà trước số 12 Nguyễn Huệ.")
    root = parse(ivr.check(CFG, VI, CODE, case))
    assert said(root)[:4] == [
        f"Hồ sơ mã {SPOKEN}. Trạng thái: Đã trả lời.",
        "Đơn vị xử lý: Sở Xây dựng.",
        "Hạn xử lý: 17 giờ 30 phút, thứ Bảy, ngày 5 tháng 12 năm 2026.",
        "Nội dung trả lời: Đã vá ổ gà trước số 12 Nguyễn Huệ.",
    ]
    assert_menu(root, Lang.VI, 0)
    assert_voice(root, Lang.VI)


def test_a_case_status_in_english():
    case = CaseStatus(code=CODE, status="Forwarded to the responsible unit", unit="Department of Construction",
                      due_at=DUE, answer=None)
    root = parse(ivr.check(CFG, EN, CODE, case))
    assert said(root)[:3] == [
        f"Case {SPOKEN}. Status: Forwarded to the responsible unit.",
        "Handled by: Department of Construction.",
        "Due by 5:30 PM on Saturday, 5 December 2026.",
    ]
    assert not any(s.startswith("The answer") for s in said(root))


def test_a_new_case_has_no_unit_and_no_deadline_yet():
    root = parse(ivr.check(CFG, VI, CODE, CaseStatus(CODE, "Đã tiếp nhận", None, None, None)))
    assert said(root)[:2] == [f"Hồ sơ mã {SPOKEN}. Trạng thái: Đã tiếp nhận.",
                              "Hồ sơ chưa được chuyển đến đơn vị xử lý."]
    assert not any(s.startswith("Hạn xử lý") for s in said(root))


def test_a_long_answer_is_cut_for_the_phone():
    long = "Đã xử lý. " * 400
    root = parse(ivr.check(CFG, VI, CODE, CaseStatus(CODE, "Đã trả lời", None, None, long)))
    answer = next(s for s in said(root) if s.startswith("Nội dung trả lời"))
    assert answer.endswith("…") and len(answer) < ivr.MAX_ANSWER_CHARS + 30


def test_case_status_from_the_public_page():
    public = {"tracking_code": CODE, "status": "answered", "status_label": "Đã trả lời",
              "unit": {"code": "so-xay-dung", "name": "Sở Xây dựng"}, "due_at": DUE,
              "answers": [{"text": "Lần một", "at": DUE}, {"text": "Lần hai", "at": DUE}]}
    assert CaseStatus.from_public(public) == CaseStatus(CODE, "Đã trả lời", "Sở Xây dựng", DUE, "Lần hai")
    bare = {"tracking_code": CODE, "status": "received", "status_label": None, "unit": None, "due_at": None,
            "answers": []}
    assert CaseStatus.from_public(bare) == CaseStatus(CODE, "received", None, None, None)


# --- an agent ----------------------------------------------------------------------------------------

def _local(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 3, hour, minute, tzinfo=ivr.LOCAL_TZ)


@pytest.mark.parametrize("now, agents, expected", [
    (_local(6, 59), 2, Desk.CLOSED),
    (_local(7, 0), 2, Desk.OPEN),
    (_local(20, 59), 2, Desk.OPEN),
    (_local(21, 0), 2, Desk.CLOSED),
    (_local(12), 0, Desk.NOBODY),
    (datetime(2026, 12, 3, 1, 0, tzinfo=UTC), 1, Desk.OPEN),  # 08:00 in Vietnam
    (datetime(2026, 12, 3, 15, 0, tzinfo=UTC), 1, Desk.CLOSED),  # 22:00 in Vietnam
])
def test_the_desk_opens_in_agent_hours_local_time_with_someone_on_call(now, agents, expected):
    assert ivr.desk(CFG, now, agents) is expected


def test_hours_may_span_midnight_and_the_queue_may_be_off():
    night = replace(CFG, agent_hours=ivr.parse_hours("22:00-06:00"))
    assert ivr.desk(night, _local(23), 1) is Desk.OPEN
    assert ivr.desk(night, _local(5, 59), 1) is Desk.OPEN
    assert ivr.desk(night, _local(12), 1) is Desk.CLOSED
    assert ivr.desk(replace(CFG, queue_max=0), _local(12), 3) is Desk.NO_QUEUE
    assert ivr.parse_hours("00:00-24:00") == (0, 1440)
    assert ivr.desk(replace(CFG, agent_hours=(0, 1440)), _local(23, 59), 1) is Desk.OPEN


def test_an_open_desk_queues_the_caller():
    root = parse(ivr.agent(CFG, VI, Desk.OPEN))
    assert verbs(root) == ["Say", "Enqueue"]
    assert root[0].text == "Xin bạn vui lòng giữ máy, cuộc gọi đang được chuyển đến tổng đài viên."
    enqueue = root[1]
    assert enqueue.text == "1022"
    assert step_of(enqueue.get("waitUrl")) == ("wait", {"lang": "vi", "tries": "0"})
    assert step_of(enqueue.get("action")) == ("dequeued", {"lang": "vi", "tries": "0"})
    assert enqueue.get("maxQueueSize") == "20"


def test_out_of_hours_the_caller_leaves_a_voicemail():
    root = parse(ivr.agent(CFG, VI, Desk.CLOSED))
    assert root[0].text == "Tổng đài viên làm việc từ 7 giờ đến 21 giờ hằng ngày."
    assert "Enqueue" not in verbs(root)
    assert_recording(root, Purpose.VOICEMAIL)
    english = parse(ivr.agent(replace(CFG, agent_hours=(7 * 60 + 30, 0)), EN, Desk.CLOSED))
    assert english[0].text == "Our agents take calls every day from 7:30 AM to 12 AM."


@pytest.mark.parametrize("desk", [Desk.NOBODY, Desk.NO_QUEUE])
def test_with_nobody_to_answer_the_caller_leaves_a_voicemail(desk):
    root = parse(ivr.agent(CFG, VI, desk))
    assert root[0].text == "Xin lỗi, hiện chưa có tổng đài viên nào có thể nghe máy."
    assert_recording(root, Purpose.VOICEMAIL)


def test_the_wait_says_the_position_and_holds():
    root = parse(ivr.wait(CFG, VI, position=2, queue_time=30))
    assert verbs(root) == ["Say", "Pause"]
    assert root[0].text == "Bạn đang ở vị trí số 2 trong hàng chờ. Xin vui lòng giữ máy."
    assert root[1].get("length") == "15"
    near_the_end = parse(ivr.wait(CFG, EN, position=None, queue_time=176))
    assert said(near_the_end) == ["Please hold."] and near_the_end[1].get("length") == "4"


@pytest.mark.parametrize("position, queue_time", [(1, 180), (1, 600), (21, 0)])
def test_the_wait_leaves_after_the_longest_wait_or_past_the_queue_size(position, queue_time):
    root = parse(ivr.wait(CFG, VI, position=position, queue_time=queue_time))
    assert verbs(root) == ["Leave"]


@pytest.mark.parametrize("result", ["leave", "queue-full", "error", "system-error", ""])
def test_a_caller_nobody_took_leaves_a_voicemail(result):
    root = parse(ivr.dequeued(CFG, VI, result))
    assert root[0].text == "Xin lỗi, hiện chưa có tổng đài viên nào có thể nghe máy."
    assert_recording(root, Purpose.VOICEMAIL)


def test_an_answered_or_abandoned_call_hangs_up():
    assert verbs(parse(ivr.dequeued(CFG, VI, "bridged")))[-1] == "Hangup"
    assert_goodbye(parse(ivr.dequeued(CFG, VI, "bridged")), Lang.VI)
    assert verbs(parse(ivr.dequeued(CFG, VI, "hangup"))) == ["Hangup"]


def test_an_agent_answering_takes_the_first_caller_from_the_queue():
    assert ivr.agent_twiml() == "<Response><Dial><Queue>1022</Queue></Dial></Response>"


# --- state, speech and settings ------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ({}, State(Lang.VI, 0)),
    ({"lang": "en", "tries": "2"}, State(Lang.EN, 2)),
    ({"lang": "fr", "tries": "x"}, State(Lang.VI, 0)),
    ({"lang": "vi", "tries": "-1"}, State(Lang.VI, 0)),
    ({"tries": "١"}, State(Lang.VI, 0)),  # an Arabic-Indic digit is not a try count
    ({"tries": "999"}, State(Lang.VI, 0)),
])
def test_state_travels_in_the_query_and_odd_values_start_over(query, expected):
    assert State.from_query(query) == expected


def test_state_round_trips_through_an_action_url():
    state = State(Lang.EN, 2)
    _, query = step_of(ivr.url(CFG, "menu", state))
    assert State.from_query(query) == state


@pytest.mark.parametrize("minutes, lang, expected", [
    (0, Lang.VI, "0 giờ"), (7 * 60 + 5, Lang.VI, "7 giờ 5 phút"), (12 * 60, Lang.EN, "12 PM"),
    (0, Lang.EN, "12 AM"), (21 * 60 + 45, Lang.EN, "9:45 PM"), (24 * 60, Lang.VI, "24 giờ"),
])
def test_times_are_said_naturally(minutes, lang, expected):
    assert ivr.spoken_clock(minutes, lang) == expected


def test_codes_are_said_digit_by_digit():
    assert ivr.spoken_digits("1234") == "1, 2, 3, 4"


def test_every_prompt_is_nfc_and_vietnamese_has_diacritics():
    for key, texts in ivr.TEXT.items():
        assert set(texts) == {Lang.VI, Lang.EN}, key
        assert all(unicodedata.is_normalized("NFC", words) for words in texts.values()), key
        assert not texts[Lang.VI].isascii() and texts[Lang.EN].isascii(), key
    assert unicodedata.is_normalized("NFC", ivr.VOICEMAIL_TEXT) and "ờ" in ivr.VOICEMAIL_TEXT


def test_config_from_the_settings():
    twilio_settings = Settings(public_base_url="https://hotline.example.gov.vn/", ivr_agent_hours="07:00-21:00")
    cfg = Config.from_settings(twilio_settings)
    assert cfg.base_url == "https://hotline.example.gov.vn/channels/twilio/voice"
    assert cfg.agent_hours == (7 * 60, 21 * 60)
    assert (cfg.voice(Lang.VI), cfg.voice(Lang.EN)) == (twilio_settings.ivr_voice_vi, twilio_settings.ivr_voice_en)
    assert (cfg.queue_max, cfg.max_wait_seconds) == (twilio_settings.ivr_queue_max,
                                                      twilio_settings.ivr_max_wait_seconds)


def test_an_open_case_is_followed_by_the_offer_to_add_to_it_and_a_closed_one_is_not():
    root = parse(ivr.check(CFG, VI, CODE, CaseStatus(CODE, "Đã trả lời", None, None, None)))
    offer, menu = root.findall("Gather")
    assert said(offer) == ["Để bổ sung thông tin cho hồ sơ này, xin bấm phím 1."]
    assert (offer.get("input"), offer.get("numDigits")) == ("dtmf", "1")
    assert step_of(offer.get("action")) == ("more", {"lang": "vi", "tries": "0", "code": CODE})
    assert step_of(menu.get("action"))[0] == "menu"
    closed = parse(ivr.check(CFG, VI, CODE, CaseStatus(CODE, "Đã đóng", None, None, None, open=False)))
    assert [step_of(g.get("action"))[0] for g in closed.findall("Gather")] == ["menu"]


def test_key_1_after_the_status_listens_for_the_addition_and_another_key_goes_back():
    root = parse(ivr.more(CFG, EN, "1", CODE))
    listen = root.find("Gather")
    assert (listen.get("input"), listen.get("language")) == ("speech", "en-US")
    assert step_of(listen.get("action")) == ("add", {"lang": "en", "tries": "0", "code": CODE})
    assert said(listen) == ["Please say what you would like to add. Stay on the line when you have finished."]
    for digits in ("5", "", None):
        back = parse(ivr.more(CFG, VI, digits, CODE))
        assert [step_of(g.get("action"))[0] for g in back.findall("Gather")] == ["menu"]
    assert [step_of(g.get("action"))[0] for g in parse(ivr.more(CFG, VI, "1", None)).findall("Gather")] == ["menu"]


def test_an_addition_is_confirmed_or_becomes_a_report_of_its_own():
    joined = parse(ivr.added(CFG, VI, CODE, True, Receipt(CODE, sms=True)))
    assert said(joined)[0] == f"Cảm ơn bạn. Thông tin bổ sung đã được ghi vào hồ sơ {SPOKEN}."
    assert_goodbye(joined, Lang.VI)
    other = "987654321" + codes.check_digit("987654321")
    own = parse(ivr.added(CFG, VI, CODE, False, Receipt(other, sms=True)))
    assert said(own)[0].startswith("Hồ sơ này không được gửi từ số điện thoại của bạn")
    assert f"Mã hồ sơ của bạn là: {', '.join(other)}." in said(own)
    nothing = parse(ivr.added(CFG, VI, CODE, None, None))
    assert said(nothing)[0] == "Xin lỗi, chúng tôi chưa nghe được thông tin bổ sung."
    assert [step_of(g.get("action"))[0] for g in nothing.findall("Gather")] == ["menu"]
