"""One Telegram update handled, the same way for the webhook and for long polling.

Reports and follow-ups are stored (casework joins a follow-up to its case) before Telegram hears back;
their answers (the acknowledgement with the case code, the follow-up notice) go through the outbox.
Only commands and buttons are answered directly through the bot. What a chat asked for that must
outlive the request (its language, "my next message is a new case", an album's case) is kept in Redis;
without Redis the bot still takes every report, it only forgets those.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError

from casework import actions, codes
from casework.public import public_case
from channels.intake import accept
from channels.telegram import texts, updates
from channels.telegram.adapter import TelegramAdapter
from channels.telegram.updates import CHANNEL, Button, Command, Edit, Ignored, Membership, Report, Unsupported
from kernel.errors import BadRequest, NotFound
from kernel.time import LOCAL_TZ

log = logging.getLogger(__name__)

PREFIX = "hotline:telegram"
# A retried update (Telegram had no answer in time) is recognised this long; stored messages are also
# recognised by their provider id for ever, so this only spares buttons and commands a second run.
SEEN_TTL = timedelta(days=1)
NEW_CASE_TTL = timedelta(days=1)  # /new: the next message within a day opens a case
ALBUM_TTL = timedelta(minutes=10)  # the photos of an album arrive within seconds of each other
ALBUM_CLAIM_TTL = timedelta(seconds=30)
ALBUM_WAIT_SECONDS = 5.0
_PENDING = "pending"


class ChatMemory:
    """What the bot remembers about chats and updates, in Redis; a Redis outage forgets, never fails intake."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    async def _call(self, what: str, call: Any, default: Any = None) -> Any:
        try:
            return await call
        except (RedisError, OSError) as e:
            log.warning("telegram: Redis unavailable for %s (%s)", what, type(e).__name__)
            return default

    async def seen(self, update_id: int) -> bool:
        return bool(await self._call("update ids", self.redis.exists(f"{PREFIX}:update:{update_id}"), False))

    async def remember(self, update_id: int) -> None:
        await self._call("update ids", self.redis.set(f"{PREFIX}:update:{update_id}", 1, ex=SEEN_TTL))

    async def language(self, chat_id: int) -> str | None:
        value = await self._call("languages", self.redis.get(f"{PREFIX}:lang:{chat_id}"))
        return value.decode() if isinstance(value, bytes) else value

    async def set_language(self, chat_id: int, locale: str) -> None:
        await self._call("languages", self.redis.set(f"{PREFIX}:lang:{chat_id}", locale))

    async def wants_new_case(self, chat_id: int) -> bool:
        return bool(await self._call("/new", self.redis.exists(f"{PREFIX}:new:{chat_id}"), False))

    async def ask_new_case(self, chat_id: int) -> None:
        await self._call("/new", self.redis.set(f"{PREFIX}:new:{chat_id}", 1, ex=NEW_CASE_TTL))

    async def forget_new_case(self, chat_id: int) -> None:
        await self._call("/new", self.redis.delete(f"{PREFIX}:new:{chat_id}"))

    async def album_case(self, group: str) -> tuple[bool, str | None]:
        """(first, code): whether this message is the album's first, else the code of the album's case.

        The first claims the album; the others wait (a few seconds at most) for its case's code.
        """
        key = f"{PREFIX}:album:{group}"
        if await self._call("albums", self.redis.set(key, _PENDING, ex=ALBUM_CLAIM_TTL, nx=True), True):
            return True, None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ALBUM_WAIT_SECONDS
        while True:
            value = await self._call("albums", self.redis.get(key))
            code = value.decode() if isinstance(value, bytes) else value
            if code and code != _PENDING:
                return False, code
            if value is None or loop.time() >= deadline:
                return True, None  # the first one failed, or Redis is gone: this one goes its own way
            await asyncio.sleep(0.05)

    async def set_album_case(self, group: str, code: str) -> None:
        await self._call("albums", self.redis.set(f"{PREFIX}:album:{group}", code, ex=ALBUM_TTL))


def _adapter(services: Any) -> TelegramAdapter:
    return services.adapters[CHANNEL]


async def handle_update(services: Any, data: dict[str, Any]) -> str:
    """Do what the update asks; what was done, for the log. MalformedPayload when it is no update."""
    action = updates.read(data)
    memory = ChatMemory(services.redis)
    if await memory.seen(action.update_id):
        outcome = "replayed"
    else:
        outcome = await _dispatch(services, memory, action)
        await memory.remember(action.update_id)
    log.info("telegram update %s (%s): %s", action.update_id, updates.update_kind(data), outcome)
    return outcome


async def _dispatch(services: Any, memory: ChatMemory, action: updates.Action) -> str:
    if isinstance(action, Report):
        return await _report(services, memory, action)
    if isinstance(action, Command):
        return await _command(services, memory, action)
    if isinstance(action, Edit):
        case_id = await actions.record_edit(services.pool, CHANNEL, action.provider_id, action.text,
                                            now=services.clock())
        return f"edit of case {case_id}" if case_id is not None else "edit of nothing we keep (or no change)"
    if isinstance(action, Button):
        return await _button(services, memory, action)
    if isinstance(action, Membership):
        changed = await actions.set_opt_out(services.pool, CHANNEL, str(action.chat_id), not action.reachable)
        state = "reachable" if action.reachable else "blocked the bot: opted out"
        return f"chat {state}" + ("" if changed else " (no change)")
    if isinstance(action, Unsupported):
        locale = updates.locale_for(await memory.language(action.chat_id), action.language_code)
        await _adapter(services).say(action.chat_id, texts.say(texts.UNSUPPORTED, locale))
        return f"unsupported content ({action.what})"
    assert isinstance(action, Ignored)
    return f"ignored: {action.kind}"


async def _report(services: Any, memory: ChatMemory, report: Report) -> str:
    """Store a report or follow-up; casework opens its case or joins it, and queues what answers it."""
    chat = report.chat_id
    locale = updates.locale_for(await memory.language(chat), report.language_code)
    first_of_album, album_code = True, None
    if report.media_group_id is not None:
        first_of_album, album_code = await memory.album_case(report.media_group_id)
    if album_code is not None:
        # One album, one report: the other photos join the first's case, without a notice each.
        event = updates.inbound_event(report, reply_window=_window(services), locale=locale, new_case=False,
                                      case_code=album_code, acknowledge=False)
        flagged = False
    else:
        flagged = not report.new_case and await memory.wants_new_case(chat)
        event = updates.inbound_event(report, reply_window=_window(services), locale=locale,
                                      new_case=report.new_case or flagged)
    result = await accept(services, event)
    if flagged:
        await memory.forget_new_case(chat)
    if report.media_group_id is not None and first_of_album:
        await memory.set_album_case(report.media_group_id, result.tracking_code)
    if not result.created:
        return f"replayed message {result.message_id} of case {result.case_id}"
    kind = "follow-up of" if result.joined else "new"
    return f"message {result.message_id}: {kind} case {result.case_id}" + (" (reopened)" if result.reopened else "")


def _window(services: Any) -> timedelta:
    return timedelta(hours=services.settings.telegram_reply_window_hours)


async def _command(services: Any, memory: ChatMemory, command: Command) -> str:
    chat = command.chat_id
    bot = _adapter(services)
    locale = updates.locale_for(await memory.language(chat), command.language_code)
    if command.name == "lang":
        chosen = updates.language_choice(command.argument)
        if chosen is None:
            await bot.say(chat, texts.say(texts.LANG_USAGE, locale))
            return "/lang without a language"
        await memory.set_language(chat, chosen)
        await bot.say(chat, texts.say(texts.LANG_SET, chosen))
        return f"/lang {chosen}"
    if command.name == "status":
        await bot.say(chat, await status_text(services, command.argument, locale))
        return "/status"
    if command.name == "new":
        await memory.ask_new_case(chat)
        await bot.say(chat, texts.say(texts.NEW_PROMPT, locale))
        return "/new: the next message opens a case"
    if command.name == "start":
        # /start again after unblocking the bot: the chat is reachable.
        await actions.set_opt_out(services.pool, CHANNEL, str(chat), False)
    await bot.say(chat, texts.say(texts.START, locale))
    return f"/{command.name}"


async def status_text(services: Any, argument: str, locale: str) -> str:
    """The answer to /status <code>: the case's status, field, unit, deadline and latest answer."""
    if not argument:
        return texts.say(texts.STATUS_USAGE, locale)
    try:
        case = await public_case(services.pool, argument, locale)
    except BadRequest:
        return texts.say(texts.STATUS_INVALID, locale)
    except NotFound:
        return texts.say(texts.STATUS_NOT_FOUND, locale, code=codes.display(codes.normalise(argument) or argument))
    lines = [texts.say(texts.STATUS, locale, code=case["tracking_code_display"], status=case["status_label"])]
    if case["field_label"]:
        lines.append(texts.say(texts.STATUS_FIELD, locale, value=case["field_label"]))
    if case["unit"]:
        lines.append(texts.say(texts.STATUS_UNIT, locale, value=case["unit"]["name"]))
    if case["due_at"] and case["status"] not in ("answered", "closed", "duplicate"):
        due = case["due_at"].astimezone(LOCAL_TZ).strftime("%H:%M %d/%m/%Y")
        lines.append(texts.say(texts.STATUS_DUE, locale, value=due))
    if case["answers"]:
        lines.append(texts.say(texts.STATUS_ANSWER, locale, value=case["answers"][-1]["text"]))
    lines.append(texts.say(texts.STATUS_LINK, locale,
                           value=f"{services.settings.public_url}/track/{case['tracking_code']}"))
    return "\n".join(lines)


async def _button(services: Any, memory: ChatMemory, button: Button) -> str:
    bot = _adapter(services)
    locale = updates.locale_for(await memory.language(button.chat_id), button.language_code)
    if button.action == "new":
        await memory.ask_new_case(button.chat_id)
        await bot.answer_button(button.callback_id)
        await bot.say(button.chat_id, texts.say(texts.NEW_PROMPT, locale))
        return "button: the next message opens a case"
    if button.action in ("rate", "unsolved") and button.code is not None:
        result = await actions.rate_answer(
            services.pool, button.code, channel=CHANNEL, sender_kind=CHANNEL, sender=str(button.chat_id),
            rating=button.rating, solved=button.action == "rate", now=services.clock())
        await bot.answer_button(button.callback_id,
                                texts.say(texts.RATED[result], locale, code=codes.display(button.code)))
        return f"button {button.action}: {result}"
    await bot.answer_button(button.callback_id)
    return "button we do not know"
