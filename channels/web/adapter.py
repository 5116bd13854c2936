"""The web channel on the adapter contract: reports arrive as JSON or a form, replies show on the status page."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from casework.actions import FRESH_ID_PREFIX
from channels.base import (
    Attachment,
    DeliveryReceipt,
    InboundEvent,
    MalformedPayload,
    OutboundMessage,
)
from channels.contact import EmailAddress, PhoneNumber
from channels.contact import identities as contact_identities
from kernel.inputs import loads_json
from kernel.text import clean

CHANNEL = "web"
IMAGE_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "image/heic": (b"",),
}
MAX_IDEMPOTENCY_KEY = 200
FORM_IDEMPOTENCY_FIELD = "idempotency_key"


class ReportIn(BaseModel):
    """A citizen's report as the web form or the JSON API sends it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    text: str = Field(min_length=1)
    name: str | None = Field(default=None, max_length=200)
    phone: PhoneNumber | None = None
    email: EmailAddress | None = None
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    locale: str = "vi"

    @field_validator("text", "name", "address", mode="before")
    @classmethod
    def _clean(cls, v: Any) -> Any:
        return clean(v) if isinstance(v, str) else v

    @field_validator("name", "phone", "email", "address", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("lat", "lon", mode="before")
    @classmethod
    def _blank_number(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("locale", mode="before")
    @classmethod
    def _locale(cls, v: Any) -> str:
        return "en" if isinstance(v, str) and v.lower().startswith("en") else "vi"


def validation_detail(error: ValidationError) -> dict[str, Any]:
    """The first field at fault, and every problem found."""
    problems = [{"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]} for e in error.errors()]
    return {"field": problems[0]["field"], "message": problems[0]["message"], "problems": problems}


def sniff_image(data: bytes, declared: str) -> str | None:
    """Return the image type the bytes really are, or None when they are not an accepted image."""
    for content_type, magics in IMAGE_TYPES.items():
        if content_type == "image/heic":
            if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
                return content_type
            continue
        if any(magic and data.startswith(magic) for magic in magics):
            if content_type == "image/webp" and data[8:12] != b"WEBP":
                continue
            return content_type
    return None


def request_hash(report: ReportIn, attachments: tuple[Attachment, ...]) -> str:
    canonical = json.dumps(report.model_dump(), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode())
    for a in attachments:
        digest.update(hashlib.sha256(a.data).digest())
    return digest.hexdigest()


def build_event(
    report: ReportIn, attachments: tuple[Attachment, ...], idempotency_key: str | None, raw: dict[str, Any]
) -> InboundEvent:
    """Turn a validated report into the channel-neutral inbound event."""
    identities = contact_identities(report.phone, report.email)
    provider_id = f"key:{idempotency_key}" if idempotency_key else f"{FRESH_ID_PREFIX}{secrets.token_hex(16)}"
    return InboundEvent(
        channel=CHANNEL,
        provider_message_id=provider_id,
        text=report.text,
        sender=identities[0] if identities else None,
        other_identities=tuple(identities[1:]),
        display_name=report.name,
        locale=report.locale,
        address=report.address,
        lat=report.lat,
        lon=report.lon,
        attachments=attachments,
        raw=raw,
        # Only a client-chosen key can be replayed, so only then is the body's hash worth keeping.
        request_hash=request_hash(report, attachments) if idempotency_key else None,
    )


def idempotency_key(headers: CIMultiDictProxy[str], form_value: str | None = None) -> str | None:
    """The client's key: the Idempotency-Key header, else the form's hidden field (a blank field is no key)."""
    key, field = headers.get("Idempotency-Key"), "Idempotency-Key"
    if key is None:
        if form_value is None or not form_value.strip():
            return None
        key, field = form_value, FORM_IDEMPOTENCY_FIELD
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise MalformedPayload({"field": field, "message": "1 to 200 printable characters"})
    return key


def report_from_mapping(data: dict[str, Any], max_text_chars: int) -> ReportIn:
    try:
        report = ReportIn.model_validate(data)
    except ValidationError as e:
        raise MalformedPayload(validation_detail(e), code="invalid_report") from None
    if len(report.text) > max_text_chars:
        raise MalformedPayload({"field": "text", "message": f"at most {max_text_chars} characters",
                                "max_chars": max_text_chars}, code="invalid_report")
    if (report.lat is None) != (report.lon is None):
        raise MalformedPayload({"field": "lat" if report.lat is None else "lon",
                                "message": "give both lat and lon, or neither"}, code="invalid_report")
    return report


class WebAdapter:
    """Reports from the public form and the JSON API; replies are published on the status page."""

    name = CHANNEL

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    async def verify(self, request: web.Request) -> None:
        """The web channel has no provider signature; the HTML form is protected by a CSRF token."""

    def parse(self, headers: CIMultiDictProxy[str], body: bytes) -> list[InboundEvent]:
        # A citizen's words are cleaned, never refused: NUL dropped, lone surrogates as U+FFFD (raw included).
        data = loads_json(body, text="clean")
        if not isinstance(data, dict):
            raise MalformedPayload({"field": None, "message": "expected a JSON object"}, code="malformed_json")
        report = report_from_mapping(data, self.settings.max_text_chars)
        return [build_event(report, (), idempotency_key(headers), data)]  # the raw payload, as sent

    def ack(self, events: list[InboundEvent], results: list[Any]) -> web.StreamResponse:
        result = results[0]
        replayed = not result.created
        return web.json_response(
            {
                "tracking_code": result.tracking_code,
                "status_url": f"{self.settings.public_url}/track/{result.tracking_code}",
                "status": "received",
            },
            status=201,
            headers={"Idempotent-Replayed": "true"} if replayed else None,
        )

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        # Nothing to push: the status page reads replies from the outbox, so stored is delivered.
        return DeliveryReceipt(provider_message_id=f"web:{message.message_id}", status="delivered")
