"""Messages to Telegram chats and files from them, through python-telegram-bot's Bot.

The outbox sends acknowledgements, replies and notices here. A reply that answered its case carries the
rating buttons (1-5 and "not solved"); the notice that a message joined an open case carries a "new case"
button, for a citizen who meant to report something else. The webhook's handler also answers commands
and buttons directly through `say` and `answer_button`.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from casework import conversation
from channels.base import DeliveryReceipt, OutboundMessage, PermanentSendError, TransientSendError
from channels.telegram import texts
from channels.telegram.updates import MEDIA_PREFIX, NEW_BUTTON_DATA, provider_id

log = logging.getLogger(__name__)

# Telegram takes 4,096 characters a message; longer texts go as several, the buttons under the last.
MAX_TEXT = 4000
_CHAT_ID = re.compile(r"^-?\d{1,20}$")
# In an API or file URL, whatever follows /bot up to the next slash is the token (its colon may be escaped,
# its digits already masked as a phone number).
_TOKEN = re.compile(r'/bot[^/\s"]+')
# File paths Telegram gives that the standard table does not know (voice notes are .oga).
_TYPES = {".oga": "audio/ogg", ".ogg": "audio/ogg", ".jpg": "image/jpeg", ".webp": "image/webp",
          ".mp4": "video/mp4", ".m4a": "audio/mp4", ".mp3": "audio/mpeg"}


class _HideToken(logging.Filter):
    """httpx logs every request's URL, and Bot API URLs carry the bot's token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN.search(message):
            record.msg, record.args = _TOKEN.sub("/bot<token>", message), ()
        return True


def quiet_library_logs() -> None:
    """No bot token in httpx's request lines, no message text in python-telegram-bot's debug lines."""
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _HideToken) for f in httpx_log.filters):
        httpx_log.addFilter(_HideToken())
    library = logging.getLogger("telegram")
    if library.level == logging.NOTSET or library.level < logging.INFO:
        library.setLevel(logging.INFO)


def file_url(settings: Any) -> str:
    """The base of file downloads: the setting, else the API URL with /file before its last part (.../file/bot)."""
    if settings.telegram_file_url:
        return settings.telegram_file_url
    base, _, last = settings.telegram_api_url.rstrip("/").rpartition("/")
    return f"{base}/file/{last}"


def chat_id_of(recipient: str | None) -> int:
    """The chat id an outbox message names; PermanentSendError when it names none."""
    if not recipient or not _CHAT_ID.match(recipient):
        raise PermanentSendError("no Telegram chat to send to")
    return int(recipient)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """The text in pieces Telegram takes, cut at a line break or a space where there is one."""
    pieces = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut <= limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest)
    return [piece for piece in pieces if piece] or [text]


def rating_keyboard(code: str, locale: str) -> InlineKeyboardMarkup:
    """1-5 stars on one row, "not solved" under them; each button names the case."""
    stars = [InlineKeyboardButton(f"{n}{texts.STAR}", callback_data=f"rate:{code}:{n}") for n in range(1, 6)]
    unsolved = InlineKeyboardButton(texts.say(texts.NOT_SOLVED_BUTTON, locale), callback_data=f"unsolved:{code}")
    return InlineKeyboardMarkup([stars, [unsolved]])


def new_case_keyboard(locale: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.say(texts.NEW_CASE_BUTTON, locale),
                                                       callback_data=NEW_BUTTON_DATA)]])


def is_follow_up_notice(message: OutboundMessage) -> bool:
    """Whether the message is casework's notice that a citizen's message joined their open case.

    A reopening notice gets no button: the citizen said the answered problem persists, so it belongs there.
    """
    if message.kind != "notice" or not message.case_code:
        return False
    return message.text in {conversation.follow_up_text(locale, message.case_code, reopened=False)
                            for locale in ("vi", "en")}


def outgoing(message: OutboundMessage) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text to send and the buttons under it."""
    if message.kind == "reply" and message.case_status == "answered" and message.case_code:
        text = f"{message.text}\n\n{texts.say(texts.RATE_PROMPT, message.locale)}"
        return text, rating_keyboard(message.case_code, message.locale)
    if is_follow_up_notice(message):
        return message.text, new_case_keyboard(message.locale)
    return message.text, None


def seconds(value: int | float | timedelta) -> float:
    """A duration python-telegram-bot gives (seconds, or a timedelta with PTB_TIMEDELTA) in seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def send_error(e: TelegramError) -> TransientSendError | PermanentSendError:
    """What a Bot API error means for the outbox. Telegram's descriptions name no person; they are kept short."""
    description = str(e)[:200]
    if isinstance(e, RetryAfter):
        return TransientSendError("Telegram's flood control", provider_code="429", retry_after=seconds(e.retry_after))
    if isinstance(e, ChatMigrated):
        return PermanentSendError("the group became a supergroup", provider_code="chat_migrated")
    if isinstance(e, Forbidden):
        blocked = "blocked" in description.lower()
        return PermanentSendError(f"Telegram refused: {description}",
                                  provider_code="blocked" if blocked else "forbidden")
    if isinstance(e, InvalidToken):
        # The operator's mistake, not the citizen's: the messages wait (and are retried) until it is fixed.
        return TransientSendError("Telegram refused the bot token", provider_code="invalid_token")
    if isinstance(e, BadRequest):
        return PermanentSendError(f"Telegram refused: {description}", provider_code="bad_request")
    if isinstance(e, TimedOut):
        return TransientSendError("Telegram did not answer in time", provider_code="timeout")
    if isinstance(e, NetworkError):
        return TransientSendError(f"Telegram unreachable or failing: {description}", provider_code="network")
    return TransientSendError(f"Telegram error: {type(e).__name__}", provider_code="error")


class TelegramAdapter:
    """The bot: one python-telegram-bot Bot, made and initialised (getMe) on first use, closed by close()."""

    name = "telegram"

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._bot: Bot | None = None
        self._requests: tuple[HTTPXRequest, HTTPXRequest] | None = None
        self._ready: asyncio.Lock | None = None

    async def bot(self) -> Bot:
        """The initialised Bot (TelegramError when Telegram cannot be reached or refuses the token)."""
        if self._ready is None:
            self._ready = asyncio.Lock()
        async with self._ready:
            if self._bot is None:
                quiet_library_logs()
                # Our own request objects, so that close() can shut them even if getMe never succeeded.
                self._requests = (HTTPXRequest(), HTTPXRequest(connection_pool_size=1))
                self._bot = Bot(self.settings.telegram_token, base_url=self.settings.telegram_api_url,
                                base_file_url=file_url(self.settings), request=self._requests[0],
                                get_updates_request=self._requests[1])
            await self._bot.initialize()  # getMe once; nothing more once it succeeded
            return self._bot

    async def close(self) -> None:
        """Close the Bot's HTTP connections."""
        if self._requests is not None:
            for request in self._requests:
                await request.shutdown()
        self._bot = None
        self._requests = None

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Send one message to the chat (several if it is long); the buttons it needs go under the last."""
        chat_id = chat_id_of(message.recipient)
        text, keyboard = outgoing(message)
        pieces = split_text(text)
        try:
            bot = await self.bot()
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                sent = await bot.send_message(chat_id, piece, reply_markup=keyboard if last else None)
        except TelegramError as e:
            raise send_error(e) from None
        return DeliveryReceipt(provider_message_id=provider_id(chat_id, sent.message_id), status="sent")

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        """A file a citizen sent (getFile, then the download): its bytes and content type ("" when unknown)."""
        if not url.startswith(MEDIA_PREFIX) or len(url) == len(MEDIA_PREFIX):
            raise PermanentSendError("not a Telegram file")
        limit = self.settings.max_media_bytes
        try:
            bot = await self.bot()
            found = await bot.get_file(url.removeprefix(MEDIA_PREFIX))
            if found.file_size is not None and found.file_size > limit:
                raise PermanentSendError(f"media larger than {limit} bytes")
            data = bytes(await found.download_as_bytearray())
        except TelegramError as e:
            raise send_error(e) from None
        return data, content_type_of(found.file_path or "")

    async def say(self, chat_id: int, text: str, keyboard: InlineKeyboardMarkup | None = None) -> bool:
        """Answer a chat at once (a command's answer); False, logged, when Telegram did not take it."""
        try:
            bot = await self.bot()
            for piece in split_text(text):
                await bot.send_message(chat_id, piece, reply_markup=keyboard)
        except TelegramError as e:
            log.warning("telegram: direct answer not sent (%s)", type(e).__name__)
            return False
        return True

    async def answer_button(self, callback_id: str, text: str | None = None) -> bool:
        """Stop the pressed button's spinner, with a short note; False, logged, when Telegram did not take it."""
        try:
            bot = await self.bot()
            await bot.answer_callback_query(callback_id, text=text)
        except TelegramError as e:
            log.warning("telegram: button answer not sent (%s)", type(e).__name__)
            return False
        return True


def content_type_of(path: str) -> str:
    """The content type a Telegram file path suggests ("" when it suggests none: the update's type is used)."""
    suffix = path[path.rfind("."):].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or ""
