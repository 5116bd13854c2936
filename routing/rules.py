"""Routing rules as data, and the pure choice of a unit for a case."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kernel.labels import CHANNEL_LABELS, FIELD_LABELS, labels
from kernel.text import fold_chars, strip_marks

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

    def conditions(self, units: Mapping[str, Unit] | None = None, keyword: str | None = None) -> tuple[str, str]:
        """The cases this rule takes, in words: (Vietnamese, English); `keyword` is the one that matched."""
        vi: list[str] = []
        en: list[str] = []
        if self.field:
            field_vi, field_en = labels(FIELD_LABELS, self.field)
            vi.append(f"lĩnh vực {field_vi}")
            en.append(f"field {field_en}")
        else:
            vi.append("mọi lĩnh vực")
            en.append("any field")
        if self.urgent is not None:
            vi.append("khẩn cấp" if self.urgent else "không khẩn cấp")
            en.append("urgent" if self.urgent else "not urgent")
        if self.ward_codes is not None:
            names = [ward_names(code, units or {}) for code in sorted(self.ward_codes)]
            shown, more = names[:MAX_WARDS_SHOWN], len(names) - MAX_WARDS_SHOWN
            vi.append("tại " + ", ".join(_lower_first(n[0]) for n in shown)
                      + (f" và {more} phường/xã khác" if more > 0 else ""))
            en.append("in " + ", ".join(n[1] for n in shown) + (f" and {more} more wards" if more > 0 else ""))
        if self.channel:
            channel_vi, channel_en = labels(CHANNEL_LABELS, self.channel)
            vi.append(f"gửi qua kênh {channel_vi}")
            en.append(f"received via {channel_en}")
        if keyword is not None:
            vi.append(f"nội dung có “{keyword}”")
            en.append(f"the text mentions “{keyword}”")
        elif self.keywords:
            quoted = [f"“{k}”" for k in self.keywords]
            vi.append("nội dung có một trong các từ " + ", ".join(quoted))
            en.append("the text mentions " + _either(quoted))
        if self.department == WARD_UNIT:
            vi.append("giao UBND phường/xã nơi xảy ra")
            en.append("sent to the People's Committee of the ward where it happened")
        return ", ".join(vi), ", ".join(en)


MAX_WARDS_SHOWN = 3  # a rule for many wards names three and counts the rest
_WARD_KINDS = ("Phường ", "Xã ", "Đặc khu ", "Phường/xã ")


def ward_names(ward_code: str, units: Mapping[str, Unit]) -> tuple[str, str]:
    """Return the ward's names from its People's Committee's unit: ('Phường Bến Thành', 'Ben Thanh Ward')."""
    unit = units.get(ward_unit_code(ward_code))
    if unit is None:
        return f"Phường/xã {ward_code}", f"ward {ward_code}"
    return unit.name_vi.removeprefix("UBND "), unit.name_en.removesuffix(" People's Committee")


def _lower_first(name_vi: str) -> str:
    """'Phường Bến Thành' reads 'phường Bến Thành' inside a sentence (the ward's own name keeps its capitals)."""
    for kind in _WARD_KINDS:
        if name_vi.startswith(kind):
            return kind.lower() + name_vi.removeprefix(kind)
    return name_vi


def _either(quoted: list[str]) -> str:
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def as_written(keyword: str, text: str | None) -> str:
    """Return the words of `text` the folded keyword matched, as written (diacritics kept); else the keyword."""
    if not text:
        return keyword
    marked = strip_marks(text)  # fold_chars keeps one character per character of this
    found = re.search(r"\s+".join(re.escape(word) for word in keyword.split()), fold_chars(marked))
    if found is None:
        return keyword
    start, end = found.start(), found.end()
    while start > 0 and marked[start - 1].isalnum():  # a keyword inside a word quotes the whole word
        start -= 1
    while end < len(marked) and marked[end].isalnum():
        end += 1
    return " ".join(marked[start:end].split())


def ordered(rules: Iterable[Rule]) -> list[Rule]:
    """Most specific first: higher priority, then the older rule."""
    return sorted(rules, key=lambda r: (-r.priority, r.id))


@dataclass(frozen=True, slots=True)
class Choice:
    department: str
    rule: Rule
    reason_vi: str
    reason_en: str


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
    *,
    text: str | None = None,
) -> Choice | None:
    """The first matching rule's unit (rules already `ordered`), with why; None when no rule applies.

    `text`, the report as written, lets the reason quote a matched keyword with its diacritics.
    """
    for rule in rules:
        if not rule.matches(field, ward_code, urgent, channel, folded_text):
            continue
        code = ward_unit_code(ward_code) if rule.department == WARD_UNIT and ward_code else rule.department
        unit = units.get(code)
        if unit is None or not unit.active:
            continue  # a rule pointing at a missing or retired unit falls through to the next one
        keyword = next((k for k in rule.keywords if k in folded_text), None)
        reason_vi, reason_en = explain(field, ward_code, urgent, rule, unit, units,
                                       as_written(keyword, text) if keyword else None)
        return Choice(department=code, rule=rule, reason_vi=reason_vi, reason_en=reason_en)
    return None


def explain(field: str, ward_code: str | None, urgent: bool, rule: Rule, unit: Unit, units: Mapping[str, Unit],
            keyword: str | None = None) -> tuple[str, str]:
    """Why the case goes to `unit`, for a reader: (Vietnamese, English)."""
    field_vi, field_en = labels(FIELD_LABELS, field)
    lead_vi, lead_en = f"Lĩnh vực {field_vi}", field_en
    if ward_code and ward_unit_code(ward_code) in units:
        ward_vi, ward_en = ward_names(ward_code, units)
        lead_vi, lead_en = f"{lead_vi} tại {_lower_first(ward_vi)}", f"{lead_en} in {ward_en}"
    if urgent:
        lead_vi, lead_en = f"{lead_vi} (khẩn cấp)", f"{lead_en} (urgent)"
    conditions_vi, conditions_en = rule.conditions(units, keyword)
    return (f"{lead_vi} → {unit.name_vi}, theo quy tắc định tuyến số {rule.id}: {conditions_vi}.",
            f"{lead_en} → {unit.name_en}, by routing rule {rule.id}: {conditions_en}.")
