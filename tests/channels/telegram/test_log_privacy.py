"""The bot leaks no chat id, name, message text or bot token into any log record, the libraries' included.

Reports (text, photo, edit), commands, a rating, a refused send, flood control and a blocked bot all run
with every logger at DEBUG.
"""

from __future__ import annotations

import logging

import pytest

from casework import actions
from casework.models import Actor, Role
from hotline import pipeline
from tests.channels.telegram.conftest import CHAT, TOKEN, post, text_update, update
from tests.hotline.test_log_privacy import captured  # noqa: F401 - a fixture

AGENT = Actor(kind="staff", name="agent", id=None, role=Role.AGENT)
TEXT = "Tôi là Quyết, bồn Zanthorium tràn ra hẻm quibblestone"
SECRETS = (str(CHAT), "Lan", "Nguyễn", "lan_ng", "Zanthorium", "quibblestone", "Hàm Nghi", TOKEN, TOKEN.split(":")[1])


def leaks(handler) -> list[str]:
    found = []
    for record, line in zip(handler.records, handler.lines, strict=True):
        for text in (record.getMessage(), repr(record.args), record.exc_text or "", line):
            found += [f"{record.name}: {secret!r} in {text!r}" for secret in SECRETS if secret in text]
    return found


@pytest.fixture
def chatty_libraries():
    """httpx and python-telegram-bot at DEBUG, as an operator chasing a problem might set them."""
    loggers = [logging.getLogger(name) for name in ("httpx", "telegram")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


async def test_no_chat_id_name_text_or_token_reaches_any_log_record(bot, pool, chatty_libraries,
                                                                     captured):  # noqa: F811
    peer = bot.peer
    peer.add_file(b"\xff\xd8\xff\xe0 photo", "photos/file_1.jpg", file_id="AgACAgUAAxkBAAMqZ2Xh1_large")
    await bot.push(text_update(1, 1, TEXT))
    await bot.push(update("photo", update_id=2, chat={"id": CHAT + 5, "type": "private", "first_name": "Lan"}))
    await bot.push(update("edited_message", update_id=3, message_id=1, text=TEXT + " quibblestone"))
    await bot.push(text_update(4, 4, "/lang en"))
    await bot.push(text_update(5, 5, "/status 1234567894"))
    await bot.push(update("sticker", update_id=6))
    assert (await post(bot.client, text_update(7, 7, TEXT), secret="wrong")).status == 403
    await pipeline.process_pending(bot.worker)
    await pipeline.fetch_media_pending(bot.worker)
    peer.fail_next(429, retry_after=1)
    await pipeline.send_pending(bot.worker)
    bot.clock.advance(seconds=120)
    await pipeline.send_pending(bot.worker)
    case_id, code = await pool.fetchrow("SELECT id, tracking_code FROM cases ORDER BY id LIMIT 1")
    await actions.reply(pool, case_id, AGENT, TEXT, final=True, now=bot.clock())
    peer.block(CHAT)
    await pipeline.send_pending(bot.worker)
    await bot.push(update("callback_query", update_id=8, data=f"unsolved:{code}"))
    await bot.push(update("my_chat_member_blocked", update_id=9))
    statuses = {r["status"] for r in await pool.fetch("SELECT status FROM messages WHERE direction = 'out'")}
    assert statuses == {"sent", "failed"}
    assert len(captured.records) > 20
    assert any(record.name == "httpx" for record in captured.records)
    assert leaks(captured) == []
