"""Fixtures for the Telegram channel: the local Bot API peer, an app with the bot on, and real-shaped updates."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from channels.telegram import polling
from channels.telegram.peer import TelegramPeer
from channels.telegram.views import SECRET_HEADER, WEBHOOK_PATH
from hotline.services import Services
from hotline.settings import Settings
from kernel.http import SERVICES
from kernel.time import FixedClock

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "7012345678:AAH4k2vS1n0m3-Te1egram_t0ken-f0r-tests"
SECRET = "hotline-webhook-secret_0123456789"
CHAT = 701234567  # the chat of every fixture


def update(name: str, **changes: Any) -> dict[str, Any]:
    """A fixture update (fixtures/<name>.json); `changes` replace fields of its message (or of the update)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    body = next(value for key, value in data.items() if key != "update_id")
    for key, value in changes.items():
        target = data if key == "update_id" else body
        if value is None:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)
    return data


def text_update(update_id: int, message_id: int, text: str, **changes: Any) -> dict[str, Any]:
    """The text fixture with another update id, message id and text."""
    return update("text", update_id=update_id, message_id=message_id, text=text, **changes)


@pytest.fixture
def telegram_settings(settings: Settings) -> Settings:
    """The suite's settings with the bot on (its API pointing nowhere until a peer is started)."""
    return settings.model_copy(update={
        "telegram_token": TOKEN, "telegram_secret": SECRET, "telegram_api_url": "http://127.0.0.1:9/bot",
        "public_base_url": "https://hotline.example.gov.vn",
    })


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer(TOKEN) as running:
        yield running


@pytest.fixture
async def bot(aiohttp_client, telegram_settings: Settings, peer: TelegramPeer, pool):
    """The hotline with its bot at the peer, the webhook registered there (set-webhook's own code), and a worker.

    `bot.push(update)` sends an update the way Telegram does; `bot.worker` is a worker's services on a set clock.
    """
    from hotline.app import create_app

    settings = telegram_settings.model_copy(update={"telegram_api_url": peer.api_url})
    client = await aiohttp_client(create_app(settings))
    services = client.app[SERVICES]
    await polling.set_webhook(services.adapters["telegram"], str(client.make_url(WEBHOOK_PATH)), SECRET)
    worker = await Services.start(settings, processing=False)
    worker.clock = FixedClock(await pool.fetchval("SELECT now()"))
    services.clock = worker.clock

    async def push(data: dict[str, Any]) -> int | None:
        return await peer.push(data)

    try:
        yield SimpleNamespace(client=client, services=services, worker=worker, peer=peer, push=push,
                              settings=settings, clock=worker.clock)
    finally:
        await worker.close()


async def post(client, data: dict[str, Any] | bytes | str, *, secret: str | None = SECRET):
    """POST an update to the webhook directly, with the given secret header (None: no header)."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    body = data if isinstance(data, bytes | str) else json.dumps(data)
    return await client.post(WEBHOOK_PATH, data=body, headers=headers)
