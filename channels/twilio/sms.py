"""Incoming SMS/MMS and delivery reports (stub: being written)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register POST /channels/twilio/sms and /channels/twilio/sms/status."""
