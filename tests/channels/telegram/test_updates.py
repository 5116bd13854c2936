"""Updates read into actions: one real-shaped fixture per event type, each parsed exactly; pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casework import codes
from channels.base import MalformedPayload, SenderIdentity
from channels.telegram import texts, updates
from channels.telegram.updates import Button, Command, Edit, Ignored, Membership, Report, Unsupported
from tests.channels.telegram.conftest import CHAT, FIXTURES, text_update, update

SENT_AT = datetime.fromtimestamp(1764216000, UTC)
CODE = "1234567894"  # a valid code (its check digit is right)
NAME = "Lan Nguyễn"

EXPECTED = {
    "text": Report(483920101, CHAT, 41, "Đèn đường trước nhà số 12 Lê Lợi, phường Bến Thành bị hỏng 3 ngày nay",
                   "vi", NAME, sent_at=SENT_AT),
    "photo": Report(483920102, CHAT, 42, "Rác đổ trộm ở góc đường Hàm Nghi", "vi", NAME,
                    media=(("telegram-file:AgACAgUAAxkBAAMqZ2Xh1_large", "image/jpeg"),), sent_at=SENT_AT),
    "document": Report(483920103, CHAT, 43, "Đơn phản ánh về tiếng ồn công trình ban đêm", "vi", NAME,
                       media=(("telegram-file:BQACAgUAAxkBAAMrZ2Xh2_doc", "application/pdf"),), sent_at=SENT_AT),
    "voice": Report(483920104, CHAT, 44, texts.VOICE, "vi", NAME,
                    media=(("telegram-file:AwACAgUAAxkBAAMsZ2Xh3_voice", "audio/ogg"),), sent_at=SENT_AT),
    "video": Report(483920105, CHAT, 45, texts.VIDEO, "vi", NAME,
                    media=(("telegram-file:BAACAgUAAxkBAAMtZ2Xh4_video", "video/mp4"),), sent_at=SENT_AT),
    "location": Report(483920106, CHAT, 46, texts.LOCATION, "vi", NAME, lat=10.772105, lon=106.698285,
                       sent_at=SENT_AT),
    "edited_message": Edit(483920107, CHAT, 41,
                           "Đèn đường trước nhà số 12 Lê Lợi, phường Bến Thành bị hỏng 5 ngày nay"),
    "callback_query": Button(483920108, "3011865741283910871", CHAT, "unknown", language_code="vi"),
    "command": Command(483920109, CHAT, "start", "", "vi"),
    "my_chat_member_blocked": Membership(483920110, CHAT, reachable=False),
    "sticker": Unsupported(483920111, CHAT, "sticker", "vi"),
    "channel_post": Ignored(483920112, "channel_post"),
}


def _without_raw(action: updates.Action) -> updates.Action:
    if isinstance(action, Report):
        from dataclasses import replace

        return replace(action, raw=None)
    return action


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_reads_as_its_action(name):
    data = update(name)
    action = updates.read(data)
    assert _without_raw(action) == EXPECTED[name]
    if isinstance(action, Report):
        assert action.raw == data


def test_every_fixture_has_a_test():
    assert sorted(path.stem for path in FIXTURES.glob("*.json")) == sorted(EXPECTED)


def test_a_callback_names_its_rating_or_not_solved():
    rate = update("callback_query", data=f"rate:{CODE}:4")
    assert updates.read(rate) == Button(483920108, "3011865741283910871", CHAT, "rate", CODE, 4, "vi")
    unsolved = update("callback_query", data=f"unsolved:{CODE}")
    assert updates.read(unsolved) == Button(483920108, "3011865741283910871", CHAT, "unsolved", CODE, None, "vi")
    assert updates.read(update("callback_query", data="new")).action == "new"
    assert updates.read(update("callback_query", data=f"rate:{CODE}:6")).action == "unknown"


@pytest.mark.parametrize(("text", "name", "argument"), [
    ("/start", "start", ""),
    ("/help", "help", ""),
    ("/lang en", "lang", "en"),
    ("/status 123 456 789 4", "status", "123 456 789 4"),
    ("/status@hotline1022_bot 1234567894", "status", "1234567894"),
    ("/new", "new", ""),
    ("/NEW", "new", ""),
    ("/whatever x", "unknown", "x"),
])
def test_commands(text, name, argument):
    assert updates.read(text_update(1, 2, text)) == Command(1, CHAT, name, argument, "vi")


def test_new_with_a_report_opens_a_case_at_once():
    action = updates.read(text_update(1, 2, "/new Cây đổ chắn ngang đường Pasteur"))
    assert isinstance(action, Report) and action.new_case and action.text == "Cây đổ chắn ngang đường Pasteur"
    photo = updates.read(update("photo", caption="/new"))
    assert isinstance(photo, Report) and photo.new_case and photo.text == texts.PHOTO


def test_a_reply_to_our_message_names_its_code_and_the_message():
    ours = {"message_id": 40, "from": {"id": 7012345678, "is_bot": True, "first_name": "Hotline 1022"},
            "chat": {"id": CHAT, "type": "private"}, "date": 1764215000,
            "text": f"Đường dây nóng 1022 đã tiếp nhận phản ánh của bạn. Mã hồ sơ: {codes.display(CODE)}."}
    action = updates.read(text_update(1, 50, "Vẫn chưa ai đến sửa", reply_to_message=ours))
    assert isinstance(action, Report)
    assert (action.case_code, action.thread_refs) == (CODE, (f"{CHAT}:40",))


def test_english_telegram_users_get_english_until_they_choose():
    assert updates.locale_for(None, "en-GB") == "en"
    assert updates.locale_for(None, "vi") == "vi"
    assert updates.locale_for(None, None) == "vi"
    assert updates.locale_for("vi", "en") == "vi"
    assert updates.locale_for("en", "vi") == "en"
    assert updates.language_choice("English") == "en" and updates.language_choice("tiếng việt") == "vi"
    assert updates.language_choice("fr") is None


def test_group_chats_and_live_locations_are_ignored():
    group = update("text", chat={"id": -100987, "type": "supergroup", "title": "Khu phố 3"})
    assert updates.read(group) == Ignored(483920101, "message (not a private chat)")
    live = update("edited_message", text=None, location={"latitude": 10.7, "longitude": 106.7, "live_period": 900})
    assert updates.read(live) == Ignored(483920107, "edited_message (live location)")


def test_a_venue_is_a_location_with_its_address():
    venue = {"location": {"latitude": 10.7769, "longitude": 106.7009}, "title": "Chợ Bến Thành",
             "address": "Lê Lợi, Bến Thành, Quận 1"}
    action = updates.read(update("location", location=venue["location"], venue=venue))
    assert isinstance(action, Report)
    assert (action.lat, action.lon, action.address) == (10.7769, 106.7009, "Chợ Bến Thành, Lê Lợi, Bến Thành, Quận 1")


def test_an_unblocked_bot_makes_the_chat_reachable():
    data = update("my_chat_member_blocked")
    data["my_chat_member"]["new_chat_member"] = {"user": data["my_chat_member"]["new_chat_member"]["user"],
                                                 "status": "member"}
    assert updates.read(data) == Membership(483920110, CHAT, reachable=True)


@pytest.mark.parametrize("data", [{}, {"update_id": "1"}, {"update_id": True}, {"update_id": 1, "message": 5},
                                  {"update_id": 1, "message": {"message_id": 1}}])
def test_what_is_no_update_is_malformed(data):
    with pytest.raises(MalformedPayload):
        updates.read(data)


def test_the_inbound_event_is_casework_s():
    report = updates.read(update("photo"))
    assert isinstance(report, Report)
    event = updates.inbound_event(report, reply_window=timedelta(hours=720), locale="en", new_case=True)
    assert event.channel == "telegram" and event.provider_message_id == f"{CHAT}:42"
    assert event.sender == SenderIdentity("telegram", str(CHAT)) and event.display_name == NAME
    assert event.remote_media == (("telegram-file:AgACAgUAAxkBAAMqZ2Xh1_large", "image/jpeg"),)
    assert (event.locale, event.new_case, event.reply_window) == ("en", True, timedelta(hours=720))
