"""Assignment inside a unit: the least-loaded eligible person who is available gets the next case."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    load: int  # open cases assigned now
    capacity: int
    available: bool
    fields: frozenset[str] | None = None  # None: every field
    languages: frozenset[str] = frozenset({"vi"})
    last_assigned_at: datetime | None = None

    def can_take(self, field: str | None, language: str | None) -> bool:
        return (
            self.available
            and self.load < self.capacity
            and (self.fields is None or field is None or field in self.fields)
            and (language is None or language in self.languages)
        )


def choose_assignee(people: Iterable[Person], field: str | None, language: str | None) -> Person | None:
    """Least loaded first; among equals the one who waited longest since their last case, then the lowest id."""
    eligible = [p for p in people if p.can_take(field, language)]
    if not eligible:
        return None
    return min(eligible, key=lambda p: (p.load / p.capacity, p.load,
                                        p.last_assigned_at.timestamp() if p.last_assigned_at else 0.0, p.id))
