"""Fixtures for the Twilio channel: settings with an account, and webhooks signed as Twilio signs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from hotline.settings import Settings

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
HOTLINE_NUMBER = "+842812345678"
CITIZEN = "+84901234567"


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    """The suite's settings with a Twilio account on (the API URL points nowhere until a peer is started)."""
    return settings.model_copy(update={
        "twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN, "twilio_number": HOTLINE_NUMBER,
        "twilio_api_url": "http://127.0.0.1:9", "public_base_url": "https://hotline.example.gov.vn",
    })


def sign(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature for a POST of `form` to the public `url`."""
    return RequestValidator(token).compute_signature(url, form)


@pytest.fixture
def twilio_client(aiohttp_client, twilio_settings: Settings):
    """A test client on an app with the Twilio channel on."""
    from hotline.app import create_app

    async def make(**overrides: Any):
        settings = twilio_settings.model_copy(update=overrides) if overrides else twilio_settings
        return await aiohttp_client(create_app(settings))

    return make


@pytest.fixture
def post_signed(twilio_settings: Settings) -> Callable[..., Any]:
    """POST a form to a path as Twilio would: signed for the public URL (path with its query)."""

    async def post(client, path: str, form: dict[str, str], *, signature: str | None = None, token: str = AUTH_TOKEN):
        url = twilio_settings.public_url + path
        headers = {"X-Twilio-Signature": signature if signature is not None else sign(url, form, token)}
        return await client.post(path, data=form, headers=headers)

    return post
