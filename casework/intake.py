"""What a channel hands casework at intake: one thing a citizen sent, in casework's own types.

Casework owns these types so that it never imports a channel; every channel adapter builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SenderIdentity:
    """How the sender can be recognised and reached on this and other channels."""

    kind: str  # phone | email | telegram | web
    value: str


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One thing a citizen sent, as a channel understood it."""

    channel: str
    provider_message_id: str
    text: str
    sender: SenderIdentity | None = None
    other_identities: tuple[SenderIdentity, ...] = ()
    display_name: str | None = None
    locale: str = "vi"
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    attachments: tuple[Attachment, ...] = ()
    # Media the provider keeps for us (url, content type): fetched later by a job, then attached.
    remote_media: tuple[tuple[str, str | None], ...] = ()
    received_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    request_hash: str | None = None
    # Conversations. A channel whose citizens write again (SMS, chat, email) sets `reply_window`: a
    # follow-up from the same sender on the same channel then joins the sender's case when it quotes
    # the case's code (in the text, or `case_code` read apart: keypad, subject), or when it comes
    # within the window after our last message to the sender about a case still open. None (the web
    # form): every item opens a case. `new_case` is the citizen asking for a new one (SMS MOI/NEW).
    reply_window: timedelta | None = None
    case_code: str | None = None
    new_case: bool = False
    # Provider ids of earlier messages this one answers (mail's In-Reply-To and References): a reply
    # to one of ours or to the citizen's own earlier message joins that message's case.
    thread_refs: tuple[str, ...] = ()
    # False for what must not be answered (an auto-reply, a mailer daemon): stored, never acknowledged.
    acknowledge: bool = True
