"""The channel-adapter contract every channel implements, and the types that cross it.

Inbound: view → verify → parse → casework.actions.record_inbound (stored before acknowledging)
→ ask the jobs interface for processing → ack. The intake types (InboundEvent and its parts)
belong to casework, which knows no channel; they are re-exported here for adapters. Outbound: the
outbox job looks the adapter up in the hub's registry and calls send().
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from aiohttp import web
from multidict import CIMultiDictProxy

from casework.intake import Attachment, InboundEvent, SenderIdentity
from kernel.errors import HotlineError

__all__ = [  # the intake types are casework's; adapters meet them here with the rest of the contract
    "Attachment", "ChannelAdapter", "DeliveryReceipt", "InboundEvent", "InvalidSignature", "MalformedPayload",
    "MediaSource", "OutboundMessage", "PermanentSendError", "SendError", "SenderIdentity", "TransientSendError",
    "UnsupportedEvent",
]


class InvalidSignature(HotlineError):
    """The request did not come from the provider it claims."""

    code = "invalid_signature"
    http_status = 403


class MalformedPayload(HotlineError):
    """The payload cannot be read; the provider gets 400 with the reason."""

    code = "malformed_payload"
    http_status = 400


class UnsupportedEvent(Exception):
    """A provider event we do not handle; acknowledged and logged so the provider stops retrying."""

    def __init__(self, event_type: str, event_id: str | None = None) -> None:
        super().__init__(event_type)
        self.event_type = event_type
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message to a citizen, taken from the outbox."""

    message_id: int
    channel: str
    recipient: str | None
    text: str
    case_code: str | None = None
    locale: str = "vi"
    kind: str = "reply"  # ack | reply | notice
    case_status: str | None = None  # the case's status when it is sent ("answered": a reply that answered it)
    # The citizen's latest message ids on the case on this channel, newest first (mail: what we answer,
    # for In-Reply-To and References).
    thread_refs: tuple[str, ...] = ()
    # A message that answers its case (a final reply, the closing notice) asks for a rating: the signed link
    # to rate it on the status page (mail shows it; SMS asks for a reply "1"-"5" or "0" instead).
    rating_url: str | None = None

    @property
    def idempotency_key(self) -> str:
        """The key to hand providers that accept one, so a send retried after a crash is not repeated."""
        return f"hotline-msg-{self.message_id}"


class SendError(Exception):
    """A delivery the provider did not take. Subclass by what the outbox should do next."""

    def __init__(self, reason: str, *, provider_code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provider_code = provider_code


class TransientSendError(SendError):
    """Worth another try later: the provider is busy or down (429, 5xx, a timeout, a dropped connection)."""

    def __init__(self, reason: str, *, provider_code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason, provider_code=provider_code)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """No retry will help: a bad or unreachable recipient, a refused message. Failed at once, shown on the case."""


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    provider_message_id: str
    status: str = "sent"  # sent | delivered
    segments: int | None = None  # SMS segments the provider will charge for


@runtime_checkable
class MediaSource(Protocol):
    """A channel whose provider keeps media for us (MMS pictures, call recordings) until we fetch it."""

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        """The media's bytes and content type. Raise TransientSendError (try later) or PermanentSendError."""


@runtime_checkable
class ChannelAdapter(Protocol):
    """What every channel provides."""

    name: str

    async def verify(self, request: web.Request) -> None:
        """Check the provider's signature; raise InvalidSignature."""

    def parse(self, headers: CIMultiDictProxy[str], body: bytes) -> list[InboundEvent]:
        """Turn a provider payload into events; pure. Raise MalformedPayload or UnsupportedEvent."""

    def ack(self, events: list[InboundEvent], results: list[Any]) -> web.StreamResponse:
        """Answer the provider the way it expects once the events are stored."""

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Deliver one outbound message through the provider.

        Raise TransientSendError or PermanentSendError; any other exception counts as transient.
        Pass `message.idempotency_key` to providers that accept one.
        """
