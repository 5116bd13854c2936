"""The local Bot API peer as python-telegram-bot sees it: the methods the hotline uses, files, errors, polling."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.request import HTTPXRequest

from channels.telegram.peer import TelegramPeer
from tests.channels.telegram.conftest import CHAT, SECRET, TOKEN, text_update


@pytest.fixture
async def ptb(peer: TelegramPeer):
    bot = Bot(TOKEN, base_url=peer.api_url, base_file_url=peer.file_url)
    await bot.initialize()
    yield bot
    await bot.shutdown()


async def test_get_me_and_send_message_with_buttons(ptb, peer):
    assert ptb.username == "hotline1022_bot" and ptb.id == 7012345678
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("5⭐", callback_data="rate:1234567894:5")]])
    sent = await ptb.send_message(CHAT, "Xin chào, đây là câu trả lời", reply_markup=keyboard)
    assert (sent.chat.id, sent.text, sent.from_user.username) == (CHAT, "Xin chào, đây là câu trả lời",
                                                                   "hotline1022_bot")
    [message] = peer.sent_to(CHAT)
    assert message.message_id == sent.message_id and message.buttons() == [[("5⭐", "rate:1234567894:5")]]
    assert [call.method for call in peer.calls] == ["getMe", "sendMessage"]


async def test_our_messages_follow_the_user_s_in_the_chat_s_count(ptb, peer):
    peer.webhook = None
    await peer.push(text_update(1, 57, "Xin chào"))
    sent = await ptb.send_message(CHAT, "Chào bạn")
    assert sent.message_id == 58


async def test_files_are_fetched_with_get_file_and_downloaded(ptb, peer):
    file_id = peer.add_file(b"\xff\xd8\xff\xe0 picture", "photos/file_12.jpg")
    found = await ptb.get_file(file_id)
    assert found.file_size == 12 and found.file_path.endswith("/photos/file_12.jpg")
    assert bytes(await found.download_as_bytearray()) == b"\xff\xd8\xff\xe0 picture"
    with pytest.raises(BadRequest, match="(?i)invalid file_id"):
        await ptb.get_file("no-such-file")


async def test_errors_are_the_bot_api_s(ptb, peer):
    peer.block(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await ptb.send_message(CHAT, "?")
    peer.fail_next(429, retry_after=17)
    with pytest.raises(RetryAfter) as flood:
        await ptb.send_message(CHAT + 1, "?")
    assert flood.value.retry_after.total_seconds() == 17
    peer.fail_next(502)
    with pytest.raises(NetworkError):
        await ptb.send_message(CHAT + 1, "?")
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await ptb.send_message(CHAT + 1, " ")
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await ptb.send_message(CHAT + 1, "x" * 4097)
    assert [call.status for call in peer.calls_to("sendMessage")] == [403, 429, 502, 400, 400]
    request = HTTPXRequest()
    stranger = Bot("1:wrong", base_url=peer.api_url, request=request)
    with pytest.raises(InvalidToken):
        await stranger.get_me()
    await request.shutdown()


async def test_callback_queries_are_answered(ptb, peer):
    assert await ptb.answer_callback_query("3011865741283910871", text="Cảm ơn bạn đã đánh giá!")
    assert peer.callback_answers == [{"callback_query_id": "3011865741283910871", "text": "Cảm ơn bạn đã đánh giá!"}]


async def test_long_polling_serves_updates_and_forgets_those_confirmed(ptb, peer):
    waiting = asyncio.ensure_future(ptb.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    await peer.push(text_update(11, 1, "một"))
    [first] = await waiting  # the long poll returns as soon as an update comes
    assert first.update_id == 11 and first.message.text == "một"
    await peer.push(text_update(12, 2, "hai"))
    assert [u.update_id for u in await ptb.get_updates(timeout=0)] == [11, 12]
    assert [u.update_id for u in await ptb.get_updates(offset=12, timeout=0)] == [12]
    assert await ptb.get_updates(offset=13, timeout=0) == ()
    assert peer.pending_updates == []


async def test_a_webhook_gets_updates_with_the_secret_and_excludes_polling(ptb, peer, aiohttp_server):
    received = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    assert await ptb.set_webhook(str(server.make_url("/hook")), secret_token=SECRET,
                                 allowed_updates=["message", "callback_query"])
    info = await ptb.get_webhook_info()
    assert info.url.endswith("/hook") and info.allowed_updates == ("message", "callback_query")
    assert await peer.push(text_update(21, 3, "ba")) == 200
    assert received == [(SECRET, text_update(21, 3, "ba"))]
    with pytest.raises(Conflict):
        await ptb.get_updates(timeout=0)
    with pytest.raises(BadRequest, match="(?i)secret token"):
        await ptb.set_webhook(str(server.make_url("/hook")), secret_token="không hợp lệ")
    assert await ptb.delete_webhook()
    assert (await ptb.get_webhook_info()).url == ""
