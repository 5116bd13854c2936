"""Messages to Telegram chats through the Bot API (stub: being written)."""

from __future__ import annotations

from typing import Any

from channels.base import DeliveryReceipt, OutboundMessage, PermanentSendError


class TelegramAdapter:
    name = "telegram"

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        raise PermanentSendError("the Telegram adapter is not written yet")
