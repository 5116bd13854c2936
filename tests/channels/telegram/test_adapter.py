"""The Telegram adapter against the local Bot API peer: messages and their buttons, errors, files."""

from __future__ import annotations

import pytest

from casework import conversation
from channels.base import OutboundMessage, PermanentSendError, TransientSendError
from channels.telegram import adapter as telegram_adapter
from channels.telegram import texts
from channels.telegram.adapter import TelegramAdapter, content_type_of, file_url, split_text
from tests.channels.telegram.conftest import CHAT

CODE = "1234567894"


@pytest.fixture
async def adapter(telegram_settings, peer):
    made = TelegramAdapter(telegram_settings.model_copy(update={"telegram_api_url": peer.api_url}))
    yield made
    await made.close()


def message(text: str = "Đường dây nóng 1022 đã tiếp nhận phản ánh của bạn.", **fields) -> OutboundMessage:
    values = {"message_id": 7, "channel": "telegram", "recipient": str(CHAT), "text": text, "case_code": CODE,
              "locale": "vi", "kind": "ack"}
    return OutboundMessage(**{**values, **fields})


async def test_a_message_reaches_the_chat_and_its_receipt_names_chat_and_message(adapter, peer):
    receipt = await adapter.send(message())
    [sent] = peer.sent
    assert (sent.chat_id, sent.text, sent.reply_markup) == (CHAT, message().text, None)
    assert (receipt.provider_message_id, receipt.status) == (f"{CHAT}:{sent.message_id}", "sent")
    assert [call.method for call in peer.calls] == ["getMe", "sendMessage"]
    await adapter.send(message())
    assert [call.method for call in peer.calls] == ["getMe", "sendMessage", "sendMessage"]  # getMe once


async def test_the_reply_that_answered_a_case_asks_for_a_rating(adapter, peer):
    await adapter.send(message("Đã thay bóng đèn.", kind="reply", case_status="answered", locale="en"))
    [sent] = peer.sent
    assert sent.text == "Đã thay bóng đèn.\n\n" + texts.RATE_PROMPT["en"]
    assert sent.buttons() == [[(f"{n}⭐", f"rate:{CODE}:{n}") for n in range(1, 6)],
                              [("Not solved", f"unsolved:{CODE}")]]
    await adapter.send(message("Chúng tôi đang kiểm tra.", kind="reply", case_status="in_progress"))
    assert peer.sent[1].buttons() == []


async def test_the_follow_up_notice_offers_a_new_case(adapter, peer):
    notice = conversation.follow_up_text("vi", CODE, reopened=False)
    await adapter.send(message(notice, kind="notice"))
    assert peer.sent[0].buttons() == [[("Mở hồ sơ mới", "new")]]
    reopened = conversation.follow_up_text("vi", CODE, reopened=True)
    await adapter.send(message(reopened, kind="notice"))
    assert peer.sent[1].buttons() == []


async def test_a_long_reply_goes_in_pieces_with_the_buttons_under_the_last(adapter, peer):
    text = ("Nội dung trả lời dài. " * 400).strip()
    await adapter.send(message(text, kind="reply", case_status="answered"))
    assert len(peer.sent) == 3 and all(len(m.text) <= 4096 for m in peer.sent)
    assert [bool(m.buttons()) for m in peer.sent] == [False, False, True]
    assert " ".join(m.text for m in peer.sent).startswith(text)


async def test_a_blocked_bot_is_refused_for_good(adapter, peer):
    peer.block(CHAT)
    with pytest.raises(PermanentSendError) as refused:
        await adapter.send(message())
    assert refused.value.provider_code == "blocked"


async def test_flood_control_and_outages_are_worth_another_try(adapter, peer):
    peer.fail_next(429, retry_after=23)
    with pytest.raises(TransientSendError) as flood:
        await adapter.send(message())
    assert (flood.value.provider_code, flood.value.retry_after) == ("429", 23.0)
    peer.fail_next(502)
    with pytest.raises(TransientSendError) as outage:
        await adapter.send(message())
    assert outage.value.provider_code == "network"
    await adapter.send(message())
    assert [call.status for call in peer.calls_to("sendMessage")] == [429, 502, 200]


async def test_a_refused_message_or_recipient_is_permanent(adapter, peer):
    peer.fail_next(400, description="Bad Request: chat not found")
    with pytest.raises(PermanentSendError) as refused:
        await adapter.send(message())
    assert refused.value.provider_code == "bad_request"
    for recipient in (None, "", "+84901234567", "abc"):
        with pytest.raises(PermanentSendError):
            await adapter.send(message(recipient=recipient))


async def test_an_unreachable_api_is_transient(telegram_settings):
    nowhere = TelegramAdapter(telegram_settings)  # its API URL points at a closed port
    try:
        with pytest.raises(TransientSendError):
            await nowhere.send(message())
    finally:
        await nowhere.close()


async def test_files_are_fetched_by_file_id(adapter, peer):
    voice = peer.add_file(b"OggS voice note", "voice/file_3.oga")
    assert await adapter.fetch_media(f"telegram-file:{voice}") == (b"OggS voice note", "audio/ogg")
    document = peer.add_file(b"%PDF-1.7", "documents/file_4.pdf")
    assert await adapter.fetch_media(f"telegram-file:{document}") == (b"%PDF-1.7", "application/pdf")
    with pytest.raises(PermanentSendError):
        await adapter.fetch_media("telegram-file:no-such-file")
    with pytest.raises(PermanentSendError):
        await adapter.fetch_media("https://example.com/x.jpg")
    peer.fail_next(500, method="getFile")
    with pytest.raises(TransientSendError):
        await adapter.fetch_media(f"telegram-file:{voice}")


async def test_files_larger_than_the_limit_are_not_downloaded(telegram_settings, peer):
    small = TelegramAdapter(telegram_settings.model_copy(update={"telegram_api_url": peer.api_url,
                                                                 "max_media_bytes": 10}))
    big = peer.add_file(b"x" * 11, "videos/file_5.mp4")
    try:
        with pytest.raises(PermanentSendError, match="larger"):
            await small.fetch_media(f"telegram-file:{big}")
    finally:
        await small.close()
    assert [call.method for call in peer.calls][-1] == "getFile"  # no download


def test_the_file_url_follows_the_api_url(telegram_settings):
    assert file_url(telegram_settings.model_copy(update={"telegram_api_url": "https://api.telegram.org/bot"})) == (
        "https://api.telegram.org/file/bot")
    assert file_url(telegram_settings.model_copy(update={"telegram_file_url": "http://files.local/f/bot"})) == (
        "http://files.local/f/bot")


def test_texts_are_split_at_spaces_and_content_types_read_from_paths():
    assert split_text("ngắn") == ["ngắn"]
    assert split_text("aaa bbb ccc", limit=8) == ["aaa bbb", "ccc"]
    assert split_text("a" * 10, limit=4) == ["aaaa", "aaaa", "aa"]
    assert content_type_of("photos/file_0.jpg") == "image/jpeg"
    assert content_type_of("voice/file_1.oga") == "audio/ogg"
    assert content_type_of("documents/file_2") == ""


def test_the_bot_token_never_reaches_the_log(caplog):
    import logging

    telegram_adapter.quiet_library_logs()
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info('HTTP Request: POST %s "HTTP/1.1 200 OK"',
                                        "https://api.telegram.org/bot7012345678:AAH4k2vS1n0m3/sendMessage")
    assert caplog.messages == ['HTTP Request: POST https://api.telegram.org/bot<token>/sendMessage "HTTP/1.1 200 OK"']
