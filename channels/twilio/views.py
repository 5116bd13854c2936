"""The Twilio webhooks' routes: each module registers its own under /channels/twilio/."""

from __future__ import annotations

from aiohttp import web

from channels.twilio import sms, voice


def setup(app: web.Application) -> None:
    sms.setup(app)
    voice.setup(app)
