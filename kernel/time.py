"""Time: UTC inside, Vietnam time when shown, RFC 3339 on the wire, and a clock that tests can set."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, aware and in UTC: the default Clock."""
    return datetime.now(UTC)


def rfc3339(value: datetime) -> str:
    """An aware datetime as RFC 3339 (`2026-12-03T13:40:38+07:00`, UTC as `Z`)."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes have no place on the wire")
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class FixedClock:
    """A clock that stays where it is put: for tests and replays."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("give an aware datetime")
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self.at += timedelta(**delta)
        return self.at
