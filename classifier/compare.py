"""Two models on the same examples: per-field scores before → after, and which cases changed.

Pure: two `evaluate.Report`s in, a `Comparison` out, and a text renderer for `hotline model compare`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from classifier.evaluate import Report


@dataclass(frozen=True, slots=True)
class Delta:
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class FieldRow:
    field: str
    precision: Delta
    recall: Delta
    f1: Delta
    support: tuple[int, int]  # before, after: the same when both reports score the same examples


@dataclass(frozen=True, slots=True)
class Comparison:
    n: tuple[int, int]
    rows: tuple[FieldRow, ...]
    macro_f1: Delta
    accuracy: Delta
    abstention: Delta

    @property
    def changed_fields(self) -> list[str]:
        return [r.field for r in self.rows if r.f1.change or r.precision.change or r.recall.change]


def compare(before: Report, after: Report) -> Comparison:
    """Per field, the scores of `before` and `after`; fields neither had nor predicted are left out."""
    b, a = before.per_label(), after.per_label()
    predicted = Counter(before.predicted) + Counter(after.predicted)
    rows = []
    for label in before.labels:
        sb, sa = b.get(label), a.get(label)
        if sb is None or sa is None or not (sb["support"] or sa["support"] or predicted[label]):
            continue
        rows.append(FieldRow(field=label, precision=Delta(sb["precision"], sa["precision"]),
                             recall=Delta(sb["recall"], sa["recall"]), f1=Delta(sb["f1"], sa["f1"]),
                             support=(int(sb["support"]), int(sa["support"]))))
    return Comparison(n=(len(before.truth), len(after.truth)), rows=tuple(rows),
                      macro_f1=Delta(before.macro_f1, after.macro_f1), accuracy=Delta(before.accuracy, after.accuracy),
                      abstention=Delta(before.abstention_rate, after.abstention_rate))


@dataclass(frozen=True, slots=True)
class Changes:
    """Examples whose prediction changed: fixed (wrong → right), broken (right → wrong), still wrong but different."""

    fixed: tuple[Hashable, ...]
    broken: tuple[Hashable, ...]
    moved: tuple[Hashable, ...]


def changed_predictions(ids: Sequence[Hashable], truth: Sequence[str], before: Sequence[str],
                        after: Sequence[str]) -> Changes:
    fixed, broken, moved = [], [], []
    for i, t, b, a in zip(ids, truth, before, after, strict=True):
        if a == b:
            continue
        if a == t:
            fixed.append(i)
        elif b == t:
            broken.append(i)
        else:
            moved.append(i)
    return Changes(tuple(fixed), tuple(broken), tuple(moved))


def _delta(d: Delta, *, percent: bool = False) -> str:
    if percent:
        return f"{d.before:.1%} → {d.after:.1%} ({d.change * 100:+.1f} pt)"
    return f"{d.before:.3f} → {d.after:.3f} ({d.change:+.3f})"


def _cell(d: Delta) -> str:
    mark = f"{d.change:+.3f}" if round(d.change, 3) else "     ="
    return f"{d.before:.3f}→{d.after:.3f} {mark}"


def render(c: Comparison) -> str:
    """The overall line, then one line per field: precision, recall and F1 before→after with the change."""
    n = str(c.n[0]) if c.n[0] == c.n[1] else f"{c.n[0]} → {c.n[1]}"
    lines = [f"examples {n}  macro-F1 {_delta(c.macro_f1)}  accuracy {_delta(c.accuracy)}",
             f"abstained (sent to triage) {_delta(c.abstention, percent=True)}",
             "", f"{'field':22} {'precision':>19} {'recall':>19} {'F1':>19} {'n':>9}"]
    for r in c.rows:
        support = str(r.support[0]) if r.support[0] == r.support[1] else f"{r.support[0]}→{r.support[1]}"
        lines.append(f"{r.field:22} {_cell(r.precision):>19} {_cell(r.recall):>19} {_cell(r.f1):>19} {support:>9}")
    return "\n".join(lines)
