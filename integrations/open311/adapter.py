"""Open311 in the outbound channel registry: clients poll for news, so there is nothing to push."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

from channels.base import DeliveryReceipt, InboundEvent, OutboundMessage
from integrations.open311.models import CHANNEL


class Open311Adapter:
    """Replies to an Open311 case are published as its status_notes; the acknowledgement is the POST answer.

    Intake does not go through verify/parse/ack: an Open311 key is checked against the database and the
    answer is the specification's document, so `integrations.open311.views` runs that flow itself.
    """

    name = CHANNEL

    async def verify(self, request: web.Request) -> None:
        raise NotImplementedError("Open311 intake runs in integrations.open311.views")

    def parse(self, headers: CIMultiDictProxy[str], body: bytes) -> list[InboundEvent]:
        raise NotImplementedError("Open311 intake runs in integrations.open311.views")

    def ack(self, events: list[InboundEvent], results: list[Any]) -> web.StreamResponse:
        raise NotImplementedError("Open311 intake runs in integrations.open311.views")

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        # Stored is delivered: GET requests reads the latest reply from the outbox.
        return DeliveryReceipt(provider_message_id=f"{CHANNEL}:{message.message_id}", status="delivered")
