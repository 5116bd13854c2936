"""Mail to citizens through SMTP (stub: being written)."""

from __future__ import annotations

from typing import Any

from channels.base import DeliveryReceipt, OutboundMessage, PermanentSendError


class EmailAdapter:
    name = "email"

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        raise PermanentSendError("the email adapter is not written yet")
