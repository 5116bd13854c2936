"""Connecting the bot to Telegram: registering the webhook, or long polling where there is no public URL.

Polling hands each update to the webhook's own handler, in order; the offset that confirms an update to
Telegram moves past it only once it is handled (stored, for a report), so a crash or an outage means
the update comes again, never that it is lost.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError

from channels.telegram.adapter import TelegramAdapter, seconds
from channels.telegram.handler import handle_update
from channels.telegram.updates import CHANNEL
from channels.telegram.views import WEBHOOK_PATH

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
POLL_TIMEOUT_SECONDS = 30
MAX_BACKOFF_SECONDS = 60.0
# What Telegram accepts as a webhook's secret_token.
SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def webhook_url(settings: Any) -> str:
    return settings.public_url + WEBHOOK_PATH


async def set_webhook(adapter: TelegramAdapter, url: str, secret: str | None) -> None:
    """Point Telegram at `url`, signing each call with `secret`; ValueError when the secret cannot be one."""
    if not secret or not SECRET.match(secret):
        raise ValueError("HOTLINE_TELEGRAM_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    bot = await adapter.bot()
    await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)


class Poller:
    """Long polling for one bot: `offset` is the next update to fetch, past the last one handled."""

    def __init__(self, services: Any, *, timeout: int = POLL_TIMEOUT_SECONDS) -> None:
        self.services = services
        self.timeout = timeout
        self.offset: int | None = None

    async def poll_once(self) -> int:
        """Fetch the waiting updates (waiting up to `timeout` seconds for one) and handle them in order.

        Returns how many were handled. An update that fails raises: it and those after it come again.
        """
        bot = await self.services.adapters[CHANNEL].bot()
        batch = await bot.get_updates(offset=self.offset, timeout=self.timeout, allowed_updates=ALLOWED_UPDATES)
        for update in batch:
            await handle_update(self.services, update.to_dict())
            self.offset = update.update_id + 1
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; any webhook is removed first (Telegram serves one or the other)."""
        bot = await self.services.adapters[CHANNEL].bot()
        if (await bot.get_webhook_info()).url:
            await bot.delete_webhook()
            log.warning("telegram: the webhook was removed for polling; `hotline telegram set-webhook` sets it again")
        failures = 0
        while not stop.is_set():
            round_ = asyncio.ensure_future(self.poll_once())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({round_, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not round_.done():
                # Stopped while waiting: what the round had not handled comes again next time.
                round_.cancel()
                await asyncio.gather(round_, return_exceptions=True)
                break
            try:
                round_.result()
                failures = 0
                continue
            except InvalidToken:
                raise
            except RetryAfter as e:
                delay = seconds(e.retry_after)
            except TelegramError as e:
                failures += 1
                delay = _backoff(failures)
                if isinstance(e, Conflict):
                    log.error("telegram: another process polls this bot, or a webhook was set again")
                else:
                    log.warning("telegram: polling failed (%s); next try in %.0f s", type(e).__name__, delay)
            except Exception as e:  # storing failed (the database is down): the same updates come again
                failures += 1
                delay = _backoff(failures)
                log.warning("telegram: an update could not be handled (%s); next try in %.0f s",
                            type(e).__name__, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass


def _backoff(failures: int) -> float:
    return min(MAX_BACKOFF_SECONDS, 2.0 ** failures)
