"""The Telegram webhook's route (stub: being written)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register POST /channels/telegram/webhook."""
