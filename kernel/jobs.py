"""The jobs interface contexts use to ask for background work, without knowing the queue behind it.

Both calls are made after the caller's transaction has committed and never raise: the rows they name
are already stored, so a lost request only delays the work until the sweeper finds the row.
"""

from __future__ import annotations

from typing import Protocol


class Jobs(Protocol):
    async def process(self, *case_ids: int) -> None:
        """Ask for stored cases to be classified, geocoded and routed."""

    async def send(self, *message_ids: int) -> None:
        """Ask for queued outbox messages to be delivered."""
