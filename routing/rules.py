"""Routing rules as data, and the pure choice of a unit for a case."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

WARD_UNIT = "@ward"  # a rule's department meaning "the People's Committee of the case's ward"


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name_vi: str
    name_en: str
    kind: str
    ward_code: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    department: str
    priority: int = 0
    field: str | None = None
    ward_codes: frozenset[str] | None = None
    urgent: bool | None = None
    channel: str | None = None
    keywords: tuple[str, ...] = ()  # folded
    description: str = ""

    def matches(self, field: str, ward_code: str | None, urgent: bool, channel: str, folded_text: str) -> bool:
        if self.field is not None and self.field != field:
            return False
        if self.ward_codes is not None and ward_code not in self.ward_codes:
            return False
        if self.urgent is not None and self.urgent != urgent:
            return False
        if self.channel is not None and self.channel != channel:
            return False
        if self.department == WARD_UNIT and ward_code is None:
            return False
        return not self.keywords or any(k in folded_text for k in self.keywords)

    def conditions(self) -> str:
        parts = [f"field {self.field}" if self.field else "any field"]
        if self.ward_codes is not None:
            parts.append(f"wards {', '.join(sorted(self.ward_codes))}")
        if self.urgent is not None:
            parts.append("urgent" if self.urgent else "not urgent")
        if self.channel:
            parts.append(f"channel {self.channel}")
        if self.keywords:
            parts.append("keywords " + "|".join(self.keywords))
        return ", ".join(parts)


def ordered(rules: Iterable[Rule]) -> list[Rule]:
    """Most specific first: higher priority, then the older rule."""
    return sorted(rules, key=lambda r: (-r.priority, r.id))


@dataclass(frozen=True, slots=True)
class Choice:
    department: str
    rule: Rule
    reason: str


def ward_unit_code(ward_code: str) -> str:
    return f"ubnd-{ward_code}"


def choose_department(
    field: str,
    ward_code: str | None,
    urgent: bool,
    channel: str,
    folded_text: str,
    rules: Sequence[Rule],
    units: Mapping[str, Unit],
) -> Choice | None:
    """The first matching rule's unit (rules already `ordered`), with why; None when no rule applies."""
    for rule in rules:
        if not rule.matches(field, ward_code, urgent, channel, folded_text):
            continue
        code = ward_unit_code(ward_code) if rule.department == WARD_UNIT and ward_code else rule.department
        unit = units.get(code)
        if unit is None or not unit.active:
            continue  # a rule pointing at a missing or retired unit falls through to the next one
        ward_unit = units.get(ward_unit_code(ward_code)) if ward_code else None
        where = f", ward {ward_unit.name_vi.removeprefix('UBND ')}" if ward_unit else ""
        flags = ", urgent" if urgent else ""
        reason = f"field {field}{where}{flags}, rule {rule.id} ({rule.conditions()}) → {unit.name_vi}"
        return Choice(department=code, rule=rule, reason=reason)
    return None
