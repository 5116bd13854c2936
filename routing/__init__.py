"""Routing: which unit gets a case and by when; pure decisions on plain values.

`Router` holds a snapshot of the rules, units, SLA policies and calendar (loaded by `routing.store`)
and answers `route(facts)` without I/O. The hub reloads the snapshot when the data changes, so an
edit through the admin API applies to the next decision without a restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from kernel.text import fold
from routing.rules import Rule, Unit, choose_department, ordered


@dataclass(frozen=True, slots=True)
class CaseFacts:
    field: str | None
    ward_code: str | None
    urgent: bool
    channel: str
    text: str
    opened_at: datetime
    pauses: tuple[tuple[datetime, datetime | None], ...] = ()


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The unit and the deadline, each with why in Vietnamese and English (`reason` is the Vietnamese one)."""

    department: str
    reason_vi: str
    reason_en: str
    due_at: datetime | None = None
    deadline_reason: str | None = None
    deadline_reason_en: str | None = None
    priority: str = "normal"
    policy_id: int | None = None
    rule_id: int | None = None

    @property
    def reason(self) -> str:
        return self.reason_vi


@dataclass
class Router:
    """A snapshot of the routing data; with no rules every case waits for a person."""

    rules: Sequence[Rule] = ()
    units: Mapping[str, Unit] = field(default_factory=dict)
    policies: Sequence = ()
    calendar: object | None = None
    version: tuple = ()

    def __post_init__(self) -> None:
        self.rules = ordered(self.rules)
        self._policies = {(p.field, p.priority): p for p in self.policies}

    def route(self, facts: CaseFacts, *, now: datetime | None = None) -> RoutingDecision | None:
        """Choose the unit and the deadline for a classified case; None when no rule applies."""
        if not facts.field or facts.field == "other" or not self.rules:
            return None
        choice = choose_department(facts.field, facts.ward_code, facts.urgent, facts.channel, fold(facts.text),
                                   self.rules, self.units, text=facts.text)
        if choice is None:
            return None
        deadline = self.deadline(facts, now=now)
        return RoutingDecision(
            department=choice.department, reason_vi=choice.reason_vi, reason_en=choice.reason_en,
            rule_id=choice.rule.id,
            priority="urgent" if facts.urgent else "normal",
            due_at=deadline.due_at if deadline else None,
            deadline_reason=deadline.explanation_vi if deadline else None,
            deadline_reason_en=deadline.explanation_en if deadline else None,
            policy_id=getattr(self.policy_for(facts.field, facts.urgent), "id", None),
        )

    def policy_for(self, field_code: str | None, urgent: bool):  # noqa: ANN201 - a routing.sla.Policy
        priority = "urgent" if urgent else "normal"
        return self._policies.get((field_code, priority)) or self._policies.get((None, priority))

    def deadline(self, facts: CaseFacts, *, kind: str = "resolution", now: datetime | None = None):  # noqa: ANN201
        """The case's deadline of this kind under its policy, with the explanation; None without a policy."""
        from routing.sla import due_at

        policy = self.policy_for(facts.field, facts.urgent)
        if policy is None or self.calendar is None:
            return None
        return due_at(policy, facts.opened_at, self.calendar, kind=kind, pauses=facts.pauses, now=now)
