"""The IVR's webhooks (stub: being written)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register POST /channels/twilio/voice and the IVR's action URLs."""
