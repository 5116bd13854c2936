"""Outbound SMS through Twilio's REST API, and fetching media Twilio keeps (stub: being written)."""

from __future__ import annotations

from typing import Any

from channels.base import DeliveryReceipt, OutboundMessage, PermanentSendError


class TwilioAdapter:
    """SMS out (acknowledgements, replies, notices) and media in (MMS pictures, call recordings)."""

    name = "sms"

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        raise PermanentSendError("the Twilio adapter is not written yet")

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        raise PermanentSendError("the Twilio adapter is not written yet")
