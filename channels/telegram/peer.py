"""A local stand-in for Telegram's Bot API, on 127.0.0.1, for tests and demos; never production.

`TelegramPeer` answers POST /bot<token>/<method> for the methods the hotline uses (getMe, sendMessage,
answerCallbackQuery, getFile, setWebhook, deleteWebhook, getWebhookInfo, getUpdates with long polling)
and GET /file/bot<token>/<path> for downloads, with the Bot API's JSON: {"ok": true, "result": ...}, or
{"ok": false, "error_code": ..., "description": ...} (and `parameters.retry_after` for 429). python-telegram-bot
talks to it unchanged (`base_url=peer.api_url`). Updates a test or demo makes go to the webhook that
was set, with its secret header, or wait for getUpdates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from channels.local_peer import LocalPeer
from kernel.time import Clock, utc_now

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_POLL_SECONDS = 50  # Telegram's own cap on getUpdates' timeout
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Parameters the Bot API takes as JSON inside a form field.
_JSON_FIELDS = {"reply_markup", "allowed_updates", "entities", "link_preview_options", "reply_parameters"}
_INT_FIELDS = {"chat_id", "offset", "limit", "timeout", "message_id", "cache_time"}
_BOOL_FIELDS = {"show_alert", "drop_pending_updates", "disable_notification"}


class BotApiError(Exception):
    """A refused call: answered with `status` and the Bot API's error JSON."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def response(self) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


PARAMS = web.RequestKey("params", dict)
BLOCKED = BotApiError(403, "Forbidden: bot was blocked by the user")


@dataclass
class Fault:
    """The next `remaining` calls of `method` (any method when None) fail with `status`."""

    status: int
    remaining: int
    method: str | None = "sendMessage"
    retry_after: int | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the bot sent."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    result: dict[str, Any]

    def buttons(self) -> list[list[tuple[str, str]]]:
        """The inline keyboard as rows of (text, callback_data)."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(b["text"], b.get("callback_data", "")) for b in row] for row in rows]


@dataclass(frozen=True, slots=True)
class Call:
    """One API call the peer answered."""

    method: str
    status: int
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None


@dataclass(frozen=True, slots=True)
class PostedUpdate:
    """An update the peer posted to the webhook, and the HTTP status it got (None: unreachable)."""

    update: dict[str, Any]
    status: int | None


class TelegramPeer(LocalPeer):
    """The Bot API for one bot on 127.0.0.1: `async with TelegramPeer(token) as peer: ...`."""

    def __init__(self, token: str, *, host: str = "127.0.0.1", port: int = 0, username: str = "hotline1022_bot",
                 clock: Clock = utc_now, on_message: Callable[[SentMessage], None] | None = None) -> None:
        self.token = token
        super().__init__(host, port)
        self.clock = clock
        self.on_message = on_message
        bot_id = token.split(":", 1)[0]
        self.me = {"id": int(bot_id) if bot_id.isdigit() else 1022, "is_bot": True, "first_name": "Hotline 1022",
                   "username": username, "can_join_groups": False, "can_read_all_group_messages": False,
                   "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}
        self.sent: list[SentMessage] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.blocked: set[int] = set()
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self.webhook: Webhook | None = None
        self.posted: list[PostedUpdate] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 100_000
        self._message_ids: dict[int, int] = {}
        self._faults: list[Fault] = []
        self._arrived = asyncio.Condition()

    # -- lifecycle

    def middlewares(self) -> list[Any]:
        return [self._middleware]

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)

    @property
    def api_url(self) -> str:
        """python-telegram-bot's base_url (HOTLINE_TELEGRAM_API_URL): the token is appended to it."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        return f"{self.base_url}/file/bot"

    # -- what tests and demos arrange

    def fail_next(self, status: int, times: int = 1, *, method: str | None = "sendMessage",
                  retry_after: int | None = None, description: str | None = None) -> None:
        """Answer the next `times` calls of `method` with `status` (429 with `retry_after`)."""
        self._faults.append(Fault(status, times, method, retry_after, description))

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sending to the chat is Forbidden."""
        self.blocked.add(chat_id)

    def add_file(self, data: bytes, file_path: str, file_id: str | None = None) -> str:
        """Keep a file a user sent (a photo's size, a voice note...); its file_id."""
        file_id = file_id or "BQACAgIAAxkBAAI" + secrets.token_urlsafe(24)
        self.files[file_id] = (file_path, data)
        return file_id

    def next_update_id(self) -> int:
        self._next_update_id += 1
        return self._next_update_id

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [message for message in self.sent if message.chat_id == chat_id]

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    async def push(self, update: dict[str, Any]) -> int | None:
        """An update from a user: posted to the webhook (with its secret) when one is set, else kept for getUpdates.

        Returns the webhook's HTTP status (None when it was unreachable or there is no webhook).
        """
        update.setdefault("update_id", self.next_update_id())
        self._next_update_id = max(self._next_update_id, update["update_id"])
        message = update.get("message") or update.get("edited_message")
        if isinstance(message, dict) and "chat" in message:
            self.note_incoming(message["chat"]["id"], message["message_id"])
        if self.webhook is None:
            async with self._arrived:
                self._updates.append(update)
                self._updates.sort(key=lambda u: u["update_id"])  # Telegram serves them in order
                self._arrived.notify_all()
            return None
        return await self.post_to_webhook(update)

    async def post_to_webhook(self, update: dict[str, Any]) -> int | None:
        """POST an update to the webhook as Telegram does (again, for a retry)."""
        assert self.webhook is not None and self._session is not None
        headers = {"Content-Type": "application/json"}
        if self.webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook.secret_token
        status: int | None = None
        try:
            async with self._session.post(self.webhook.url, data=json.dumps(update), headers=headers,
                                          timeout=aiohttp.ClientTimeout(total=60)) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as e:
            log.warning("update %s not delivered to the webhook: %s", update["update_id"], type(e).__name__)
        self.posted.append(PostedUpdate(update, status))
        return status

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._updates)

    # -- the API

    @web.middleware
    async def _middleware(self, request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        method = request.match_info.get("method", "file")
        params: dict[str, Any] = {}
        try:
            if request.match_info.get("token") != self.token:
                raise BotApiError(401, "Unauthorized")
            params = await _params(request)
            fault = self._take_fault(method)
            if fault is not None:
                raise BotApiError(fault.status, fault.description or _DESCRIPTIONS.get(fault.status, "Error"),
                                  fault.retry_after)
            request[PARAMS] = params
            response = await handler(request)
        except BotApiError as e:
            response = e.response()
        except web.HTTPException as e:
            response = BotApiError(e.status, e.reason).response()
        self.calls.append(Call(method, response.status, params))
        return response

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.method in (None, method):
                fault.remaining -= 1
                return fault
        return None

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        handler = self._methods().get(method.lower())
        if handler is None:
            raise BotApiError(404, "Not Found: method not found")
        result = await handler(request[PARAMS])
        body: dict[str, Any] = {"ok": True, "result": result}
        if method.lower() in ("setwebhook", "deletewebhook"):
            body["description"] = "Webhook was set" if method.lower() == "setwebhook" and result else (
                "Webhook was deleted")
        return web.json_response(body)

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
        return {
            "getme": self._get_me, "sendmessage": self._send_message,
            "answercallbackquery": self._answer_callback_query, "getfile": self._get_file,
            "setwebhook": self._set_webhook, "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info, "getupdates": self._get_updates,
        }

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.me

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        text = params.get("text")
        if chat_id is None:
            raise BotApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int):
            raise BotApiError(400, "Bad Request: chat not found")
        if not text or not str(text).strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        if len(str(text)) > MAX_TEXT:
            raise BotApiError(400, "Bad Request: message is too long")
        if chat_id in self.blocked:
            raise BLOCKED
        message_id = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = message_id
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup", "first_name": "Citizen"}
        result: dict[str, Any] = {"message_id": message_id, "from": self.me, "chat": chat,
                                  "date": int(self.clock().timestamp()), "text": str(text)}
        markup = params.get("reply_markup")
        if markup:
            result["reply_markup"] = markup
        message = SentMessage(chat_id, message_id, str(text), markup or None, result)
        self.sent.append(message)
        if self.on_message is not None:
            self.on_message(message)
        return result

    def note_incoming(self, chat_id: int, message_id: int) -> None:
        """Messages in a chat share one count: our messages' ids follow the user's."""
        self._message_ids[chat_id] = max(self._message_ids.get(chat_id, 0), message_id)

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise BotApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.callback_answers.append(params)
        return True

    async def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.files:
            raise BotApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": "AgAD" + file_id[-8:], "file_size": len(data),
                "file_path": path}

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        for file_path, data in self.files.values():
            if file_path == path:
                return web.Response(body=data, content_type="application/octet-stream")
        raise BotApiError(404, "Not Found")

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            self.webhook = None
            return True
        if not url.startswith(("https://", "http://")):
            raise BotApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET.match(str(secret)):
            raise BotApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = Webhook(url, str(secret) if secret else None, params.get("allowed_updates"))
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self.webhook.url if self.webhook else "", "has_custom_certificate": False,
                                "pending_update_count": len(self._updates)}
        if self.webhook is not None and self.webhook.allowed_updates is not None:
            info["allowed_updates"] = self.webhook.allowed_updates
        return info

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise BotApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                   "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0, min(MAX_POLL_SECONDS, int(params.get("timeout") or 0)))
        allowed = params.get("allowed_updates")
        async with self._arrived:
            # An offset confirms every update before it: Telegram forgets them.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._wanted(allowed) and timeout:
                try:
                    await asyncio.wait_for(self._arrived.wait_for(lambda: bool(self._wanted(allowed))), timeout)
                except TimeoutError:
                    pass
            return self._wanted(allowed)[:limit]

    def _wanted(self, allowed: list[str] | None) -> list[dict[str, Any]]:
        if not allowed:
            return list(self._updates)
        return [u for u in self._updates if any(kind in u for kind in allowed)]


_DESCRIPTIONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    409: "Conflict", 429: "Too Many Requests: retry later", 500: "Internal Server Error", 502: "Bad Gateway",
}


async def _params(request: web.Request) -> dict[str, Any]:
    """The call's parameters, from the query, a form (values JSON where the Bot API wants objects) or JSON."""
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise BotApiError(400, "Bad Request: parameters must be a JSON object")
            return {**raw, **body}
        form = await request.post()
        raw.update({key: value for key, value in form.items() if isinstance(value, str)})
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _JSON_FIELDS:
            try:
                params[key] = json.loads(value)
            except ValueError:
                raise BotApiError(400, f"Bad Request: can't parse {key} JSON object") from None
        elif key in _INT_FIELDS:
            params[key] = int(value) if re.fullmatch(r"-?\d+", value) else value
        elif key in _BOOL_FIELDS:
            params[key] = value.lower() in ("true", "1")
        else:
            params[key] = value
    return params
