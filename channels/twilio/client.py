"""Twilio's REST client, pointed at HOTLINE_TWILIO_API_URL (Twilio's own, or a local peer)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"


def rest_client(settings: Any) -> Client:
    """An async-capable client for the account; every api.twilio.com URL goes to settings.twilio_api_url."""
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=AsyncTwilioHttpClient())
    client.api.base_url = settings.twilio_api_url.rstrip("/")
    return client


def local_url(settings: Any, url: str) -> str:
    """A media or recording URL Twilio gave us, on the configured API host (the same path)."""
    parts = urlsplit(url)
    if settings.twilio_api_url.rstrip("/") == TWILIO_API or not parts.netloc.endswith("twilio.com"):
        return url
    return settings.twilio_api_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
