"""What every Twilio webhook shares: the channel is on, the body is a signed form, the answer is TwiML."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from twilio.request_validator import RequestValidator

from channels.base import InvalidSignature, MalformedPayload
from kernel.errors import NotFound
from kernel.http import SERVICES, read_body

# Twilio's webhooks are small forms (an SMS with ten media URLs is a few KB).
MAX_WEBHOOK_BYTES = 64 * 1024
FORM = "application/x-www-form-urlencoded"
TWIML = "text/xml"


def settings_of(request: web.Request) -> Any:
    """The settings, when the Twilio channel is configured; 404 otherwise (the routes do not exist)."""
    settings = request.app[SERVICES].settings
    if not settings.twilio_enabled:
        raise NotFound("the Twilio channel is not configured")
    return settings


def public_url(settings: Any, request: web.Request) -> str:
    """The URL Twilio requested: the public base (we may be behind a proxy) with this path and query."""
    return settings.public_url + request.path_qs


async def signed_form(request: web.Request) -> dict[str, str]:
    """The webhook's form fields, once its X-Twilio-Signature is right for the public URL; 403 otherwise.

    404 while the channel is off, 413 past MAX_WEBHOOK_BYTES, 415 for another body type. Bytes that are
    not UTF-8 become U+FFFD (the signature then fails: Twilio signs what it sent).
    """
    settings = settings_of(request)
    body = await read_body(request, MAX_WEBHOOK_BYTES)
    if request.content_type != FORM:
        raise MalformedPayload({"field": None, "message": f"expected {FORM}"}, code="unsupported_media_type")
    form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(settings.twilio_auth_token)
    if not signature or not validator.validate(public_url(settings, request), form, signature):
        raise InvalidSignature("the X-Twilio-Signature does not match this request")
    return form


def required(form: dict[str, str], *names: str) -> list[str]:
    """The named fields; 400 naming the first missing or empty one."""
    values = []
    for name in names:
        value = form.get(name, "").strip()
        if not value:
            raise MalformedPayload({"field": name, "message": "required"})
        values.append(value)
    return values


def twiml(response: Any) -> web.Response:
    """A TwiML document (VoiceResponse or MessagingResponse) as Twilio expects it."""
    return web.Response(text=str(response), content_type=TWIML, charset="utf-8")
