"""Routing: which unit gets a case and by when; pure decisions on plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CaseFacts:
    field: str | None
    ward_code: str | None
    urgent: bool
    channel: str
    text: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    department: str
    reason: str
    due_at: datetime | None = None
    deadline_reason: str | None = None


class Router:
    """Routes by rules; with no rules loaded every case waits for a human."""

    def __init__(self, rules: list | None = None) -> None:
        self.rules = rules or []

    def route(self, facts: CaseFacts) -> RoutingDecision | None:
        return None
