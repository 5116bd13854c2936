"""What a Telegram update asks of the hotline: pure, no I/O.

`read(update)` turns the Update JSON (read with python-telegram-bot's types) into one action: a report
or follow-up to store, a command to answer, an edit, a button pressed, the bot blocked or unblocked, or
something to acknowledge and forget. `inbound_event` makes a report casework's InboundEvent. Only
private chats are the hotline's: a group or channel the bot was added to is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatMemberStatus, ChatType

from casework import codes
from channels.base import InboundEvent, MalformedPayload, SenderIdentity
from channels.telegram import texts
from kernel.text import clean

CHANNEL = "telegram"
MEDIA_PREFIX = "telegram-file:"

# "/status@hotline1022_bot 123 456 789 0": the command, the bot's name (groups add it), the rest.
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?$", re.DOTALL)
COMMANDS = frozenset({"start", "help", "lang", "status", "new"})
# Message contents the bot answers with "send text, a photo...": a citizen tried to tell us something.
_UNSUPPORTED = ("sticker", "contact", "poll", "dice", "game", "story", "paid_media")
# Callback data on our buttons: "rate:<code>:<1-5>", "unsolved:<code>", "new".
_RATE = re.compile(r"^rate:(\d{10}):([1-5])$")
_UNSOLVED = re.compile(r"^unsolved:(\d{10})$")
NEW_BUTTON_DATA = "new"


@dataclass(frozen=True, slots=True)
class Report:
    """Something a citizen sent that becomes a case or joins one: text, media, a location."""

    update_id: int
    chat_id: int
    message_id: int
    text: str
    language_code: str | None = None
    display_name: str | None = None
    media: tuple[tuple[str, str | None], ...] = ()
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    new_case: bool = False  # "/new <text>" (or a caption starting with /new)
    case_code: str | None = None  # a code in the message this one replies to
    thread_refs: tuple[str, ...] = ()  # "<chat>:<message>" of the message this one replies to
    media_group_id: str | None = None  # an album: its photos arrive as messages of their own
    sent_at: datetime | None = None
    raw: dict[str, Any] | None = None

    @property
    def provider_id(self) -> str:
        return provider_id(self.chat_id, self.message_id)


@dataclass(frozen=True, slots=True)
class Command:
    """/start, /help, /lang, /status, /new (alone) or a command we do not know ("unknown")."""

    update_id: int
    chat_id: int
    name: str
    argument: str
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class Edit:
    """The citizen edited a message they sent."""

    update_id: int
    chat_id: int
    message_id: int
    text: str

    @property
    def provider_id(self) -> str:
        return provider_id(self.chat_id, self.message_id)


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button pressed: a rating (1-5), "not solved", "new case", or data we do not know."""

    update_id: int
    callback_id: str
    chat_id: int
    action: str  # rate | unsolved | new | unknown
    code: str | None = None
    rating: int | None = None
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class Membership:
    """The citizen blocked the bot (or deleted the chat), or started it again."""

    update_id: int
    chat_id: int
    reachable: bool


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A message we cannot take (a sticker, a contact, a poll): the citizen is told what we can take."""

    update_id: int
    chat_id: int
    what: str
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    """Nothing to do: acknowledged, logged by its kind."""

    update_id: int
    kind: str


Action = Report | Command | Edit | Button | Membership | Unsupported | Ignored


def provider_id(chat_id: int, message_id: int) -> str:
    """A message's id with us: message ids are counted per chat."""
    return f"{chat_id}:{message_id}"


def update_kind(data: dict[str, Any]) -> str:
    """The update's kind ("message", "callback_query", ...): its one field besides update_id."""
    return next((key for key in data if key != "update_id"), "empty")


def read(data: dict[str, Any]) -> Action:
    """What the update asks for. MalformedPayload when it is no update at all."""
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise MalformedPayload({"field": "update_id", "message": "an update carries an integer update_id"})
    try:
        update = Update.de_json(data, None)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise MalformedPayload({"field": update_kind(data), "message": "not an update Telegram sends"}) from e
    if update.message is not None:
        return _message(update.update_id, update.message, data)
    if update.edited_message is not None:
        return _edit(update.update_id, update.edited_message)
    if update.callback_query is not None:
        return _button(update)
    if update.my_chat_member is not None:
        member = update.my_chat_member
        if member.chat.type != ChatType.PRIVATE:
            return Ignored(update_id, "my_chat_member (not a private chat)")
        status = member.new_chat_member.status
        return Membership(update_id, member.chat.id, reachable=status not in (ChatMemberStatus.BANNED,
                                                                              ChatMemberStatus.LEFT))
    return Ignored(update_id, update_kind(data))


def _private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


def _message(update_id: int, message: Message, data: dict[str, Any]) -> Action:
    if not _private(message):
        return Ignored(update_id, "message (not a private chat)")
    chat_id = message.chat.id
    user = message.from_user
    language = user.language_code if user is not None else None
    words = clean(message.text or message.caption or "")
    media = _media(message)
    new_case = False
    if words.startswith("/"):
        match = _COMMAND.match(words)
        if match is not None:
            name, argument = match.group(1).lower(), clean(match.group(2) or "")
            if name == "new" and (argument or media):
                new_case, words = True, argument  # "/new <report>" opens a case at once
            elif not media:
                return Command(update_id, chat_id, name if name in COMMANDS else "unknown", argument, language)
    lat = lon = None
    address = None
    place = message.venue.location if message.venue is not None else message.location
    if place is not None:
        lat, lon = place.latitude, place.longitude
        if message.venue is not None:
            address = clean(", ".join(part for part in (message.venue.title, message.venue.address) if part)) or None
    if not words and not media and place is None:
        found = next((what for what in _UNSUPPORTED if getattr(message, what, None) is not None), None)
        if found is not None:
            return Unsupported(update_id, chat_id, found, language)
        return Ignored(update_id, "message (no content we take)")
    if not words:
        words = _placeholder(message) if media else texts.LOCATION
    replied = message.reply_to_message
    quoted = codes.find_all(clean(replied.text or replied.caption or "")) if replied is not None else []
    return Report(
        update_id=update_id, chat_id=chat_id, message_id=message.message_id, text=words, language_code=language,
        display_name=_name(message), media=media, lat=lat, lon=lon, address=address, new_case=new_case,
        case_code=quoted[0] if quoted else None,
        thread_refs=(provider_id(chat_id, replied.message_id),) if replied is not None else (),
        media_group_id=message.media_group_id, sent_at=message.date, raw=data,
    )


def _name(message: Message) -> str | None:
    user = message.from_user
    if user is None:
        return None
    return clean(" ".join(part for part in (user.first_name, user.last_name) if part)) or None


def _media(message: Message) -> tuple[tuple[str, str | None], ...]:
    """The file the message carries (the largest size of a photo), as a URL for the media queue."""
    if message.photo:
        largest = max(message.photo, key=lambda size: (size.file_size or 0, size.width * size.height))
        return ((MEDIA_PREFIX + largest.file_id, "image/jpeg"),)
    # An animation (a GIF, sent as MP4) also fills `document`: the animation says what it is.
    for what, default in (("animation", "video/mp4"), ("video", "video/mp4"), ("video_note", "video/mp4"),
                          ("voice", "audio/ogg"), ("audio", "audio/mpeg"), ("document", None)):
        item = getattr(message, what)
        if item is not None:
            return ((MEDIA_PREFIX + item.file_id, getattr(item, "mime_type", None) or default),)
    return ()


def _placeholder(message: Message) -> str:
    if message.photo:
        return texts.PHOTO
    if message.voice is not None:
        return texts.VOICE
    if message.audio is not None:
        return texts.AUDIO
    if message.animation is not None or message.video is not None or message.video_note is not None:
        return texts.VIDEO
    return texts.DOCUMENT


def _edit(update_id: int, message: Message) -> Action:
    if not _private(message):
        return Ignored(update_id, "edited_message (not a private chat)")
    if message.location is not None:
        return Ignored(update_id, "edited_message (live location)")
    text = clean(message.text or message.caption or "")
    if not text:
        return Ignored(update_id, "edited_message (no text)")
    return Edit(update_id, message.chat.id, message.message_id, text)


def _button(update: Update) -> Action:
    query = update.callback_query
    assert query is not None
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    language = query.from_user.language_code
    data = query.data or ""
    if (match := _RATE.match(data)) is not None:
        return Button(update.update_id, query.id, chat_id, "rate", match.group(1), int(match.group(2)), language)
    if (match := _UNSOLVED.match(data)) is not None:
        return Button(update.update_id, query.id, chat_id, "unsolved", match.group(1), None, language)
    if data == NEW_BUTTON_DATA:
        return Button(update.update_id, query.id, chat_id, "new", language_code=language)
    return Button(update.update_id, query.id, chat_id, "unknown", language_code=language)


def locale_for(preference: str | None, language_code: str | None) -> str:
    """The chat's language: what it chose with /lang, else English for an English Telegram, else Vietnamese."""
    if preference in ("vi", "en"):
        return preference
    return "en" if (language_code or "").lower().startswith("en") else "vi"


def language_choice(argument: str) -> str | None:
    """The language /lang names ("vi", "en", "tiếng việt", "english"), None when it names none."""
    word = argument.strip().lower()
    if word in ("vi", "vn", "tiếng việt", "tieng viet", "vietnamese"):
        return "vi"
    if word in ("en", "english", "tiếng anh", "tieng anh"):
        return "en"
    return None


def inbound_event(report: Report, *, reply_window: timedelta, locale: str, new_case: bool,
                  case_code: str | None = None, acknowledge: bool = True) -> InboundEvent:
    """The report as casework's inbound event."""
    return InboundEvent(
        channel=CHANNEL,
        provider_message_id=report.provider_id,
        text=report.text,
        sender=SenderIdentity(CHANNEL, str(report.chat_id)),
        display_name=report.display_name,
        locale=locale,
        address=report.address,
        lat=report.lat,
        lon=report.lon,
        remote_media=report.media,
        received_at=report.sent_at,
        raw=report.raw or {},
        reply_window=reply_window,
        case_code=case_code or report.case_code,
        new_case=new_case,
        thread_refs=report.thread_refs,
        acknowledge=acknowledge,
    )
