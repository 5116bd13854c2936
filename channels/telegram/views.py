"""POST /channels/telegram/webhook: the updates Telegram pushes to the bot.

The secret set with setWebhook comes back in X-Telegram-Bot-Api-Secret-Token on every call; without
it (or with no secret configured) nothing is read. The update is handled (stored, for a report) before
Telegram gets its 200; a failure to store answers 5xx, and Telegram sends the update again.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from channels.base import InvalidSignature, MalformedPayload
from channels.telegram.handler import handle_update
from kernel.errors import NotFound
from kernel.http import SERVICES, read_body
from kernel.inputs import loads_json

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/channels/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# An update is a few KB (a 4,096-character message with its entities and a quoted reply).
MAX_UPDATE_BYTES = 256 * 1024
_warned_no_secret = False


def check_secret(configured: str | None, given: str | None) -> None:
    """InvalidSignature unless the header carries the configured secret; with none configured, refuse all."""
    global _warned_no_secret
    if not configured:
        if not _warned_no_secret:
            _warned_no_secret = True
            log.error("telegram webhook: HOTLINE_TELEGRAM_SECRET is not set, so every update is refused (403); "
                      "set it and run `hotline telegram set-webhook`")
        raise InvalidSignature("the webhook has no secret configured")
    if not given or not hmac.compare_digest(given.encode(), configured.encode()):
        raise InvalidSignature("the X-Telegram-Bot-Api-Secret-Token does not match")


async def webhook(request: web.Request) -> web.Response:
    """One update: 404 while the channel is off, 403 without the secret, 413 too large, 400 unreadable."""
    services = request.app[SERVICES]
    settings = services.settings
    if not settings.telegram_enabled:
        raise NotFound("the Telegram channel is not configured")
    check_secret(settings.telegram_secret, request.headers.get(SECRET_HEADER))
    data = loads_json(await read_body(request, MAX_UPDATE_BYTES))
    if not isinstance(data, dict):
        raise MalformedPayload({"field": None, "message": "an update is a JSON object"})
    await handle_update(services, data)
    return web.Response(status=200)


def setup(app: web.Application) -> None:
    """Register POST /channels/telegram/webhook."""
    app.router.add_post(WEBHOOK_PATH, webhook)
