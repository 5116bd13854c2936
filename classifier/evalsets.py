"""The evaluation sets unlike the corpus (data/eval/, CARD.md): loading, the dev/test split, the report per set.

Each set is one register the corpus is thin on (terse SMS, rambling, several problems, regional words,
English as written to 311 services, code-switching, no diacritics and typos, address-heavy, out of
scope). A stable hash of the text puts every line in a `dev` half (for tuning) or a `test` half (for
the scores); `report` scores a classifier on one half, set by set and pooled.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.corpus import DATA_DIR, FIELDS, LABELS
from classifier.evaluate import Report

EVAL_DIR = DATA_DIR / "eval"
SETS = ("sms_terse", "rambling", "multi_issue", "regional_vi", "english_311", "mixed_vi_en",
        "no_diacritics_typos", "address_heavy", "other_scope")
HALVES = ("dev", "test")
LANGS = ("vi", "en", "mixed")
OTHER = "other"
KEYS = {"text", "field", "also", "lang", "set", "urgent"}


class EvalSetError(ValueError):
    """An evaluation line that cannot be used."""


@dataclass(frozen=True, slots=True)
class EvalLine:
    text: str
    field: str
    also: tuple[str, ...]
    lang: str
    set: str
    urgent: bool

    @property
    def half(self) -> str:
        return half_of(self.text)

    @property
    def named(self) -> frozenset[str]:
        """Every field the line names: the one to route first and the others."""
        return frozenset((self.field, *self.also))


def half_of(text: str) -> str:
    """`dev` or `test`, from a hash of the NFC text: the same line is in the same half on every machine."""
    digest = hashlib.sha256(b"hotline-eval:" + unicodedata.normalize("NFC", text).encode()).digest()
    return HALVES[digest[0] % 2]


def read_set(path: Path) -> list[EvalLine]:
    """The lines of one set file, validated (unknown keys, fields or languages are errors, not skipped)."""
    out: list[EvalLine] = []
    with path.open(encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as e:
                raise EvalSetError(f"{where}: {e.msg}") from None
            if not isinstance(row, dict) or not {"text", "field", "lang", "set"} <= set(row) or set(row) - KEYS:
                raise EvalSetError(f"{where}: expected the keys {sorted(KEYS)}")
            text, field, also = row["text"], row["field"], row.get("also", [])
            if not isinstance(text, str) or not text.strip():
                raise EvalSetError(f"{where}: empty text")
            if field not in LABELS:
                raise EvalSetError(f"{where}: unknown field {field!r}")
            if not isinstance(also, list) or any(a not in FIELDS or a == field for a in also):
                raise EvalSetError(f"{where}: `also` must name other fields than {field!r}, got {also!r}")
            if row["lang"] not in LANGS:
                raise EvalSetError(f"{where}: unknown language {row['lang']!r}")
            if row["set"] != path.stem:
                raise EvalSetError(f"{where}: set {row['set']!r} in the file of {path.stem!r}")
            out.append(EvalLine(text=unicodedata.normalize("NFC", text).strip(), field=field, also=tuple(also),
                                lang=row["lang"], set=row["set"], urgent=bool(row.get("urgent", False))))
    return out


def load(names: Iterable[str] = SETS, half: str | None = None, directory: Path = EVAL_DIR) -> dict[str, list[EvalLine]]:
    """The named sets, each whole (half=None) or one half of it."""
    if half is not None and half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, not {half!r}")
    out = {}
    for name in names:
        if name not in SETS:
            raise EvalSetError(f"unknown set {name!r}; the sets are {', '.join(SETS)}")
        lines = read_set(directory / f"{name}.jsonl")
        out[name] = [line for line in lines if half is None or line.half == half]
    return out


# --- scores ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Bin:
    low: float
    high: float
    n: int
    confidence: float  # mean confidence of the lines in the bin (0 when empty)
    accuracy: float  # share of them whose top field was right (0 when empty)


def calibration(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> tuple[float, list[Bin]]:
    """Expected calibration error over `bins` equal-width bins, and the reliability table behind it.

    A confidence of exactly 1.0 falls in the last bin; ECE = Σ (n_bin / n) · |accuracy_bin − confidence_bin|.
    """
    table, total, error = [], len(confidence), 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [i for i, c in enumerate(confidence) if low <= c < high or (b == bins - 1 and c == high)]
        if not inside:
            table.append(Bin(low, high, 0, 0.0, 0.0))
            continue
        mean_confidence = sum(confidence[i] for i in inside) / len(inside)
        accuracy = sum(bool(correct[i]) for i in inside) / len(inside)
        error += len(inside) / total * abs(accuracy - mean_confidence)
        table.append(Bin(low, high, len(inside), mean_confidence, accuracy))
    return error, table


def top_choice(result: Any) -> tuple[str, float]:
    """The model's own top field and its confidence, before the abstention threshold turned it into `other`.

    An abstaining classifier answers `other` with the confidence of its top field, which then leads the
    alternatives; a model whose top field *is* `other` has alternatives no more likely than it.
    """
    if result.field != OTHER or not result.alternatives:
        return result.field, float(result.confidence)
    label, p = result.alternatives[0]
    return (label, float(p)) if p >= result.confidence else (OTHER, float(result.confidence))


def _share(hits: Sequence[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


@dataclass(frozen=True)
class SetScores:
    name: str
    n: int
    accuracy: float
    macro_f1: float
    in_scope: int  # lines whose field is not `other`
    in_scope_to_other: float | None  # share of them the classifier sent to `other` (abstained)
    answered_accuracy: float | None  # accuracy on the in-scope lines it did not send to `other`
    other_lines: int
    other_recall: float | None  # share of the `other` lines answered `other`
    any_named_accuracy: float  # the answer is the first field or one of `also`
    ece: float
    reliability: list[Bin]
    urgent: int
    urgent_recall: float | None
    urgent_precision: float | None

    def as_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {"set": self.name, "n": self.n, "accuracy": r(self.accuracy), "macro_f1": r(self.macro_f1),
                "in_scope": self.in_scope, "in_scope_to_other": r(self.in_scope_to_other),
                "answered_accuracy": r(self.answered_accuracy), "other_lines": self.other_lines,
                "other_recall": r(self.other_recall), "any_named_accuracy": r(self.any_named_accuracy),
                "ece": r(self.ece), "urgent": self.urgent, "urgent_recall": r(self.urgent_recall),
                "urgent_precision": r(self.urgent_precision),
                "reliability": [{"low": b.low, "high": b.high, "n": b.n, "confidence": r(b.confidence),
                                 "accuracy": r(b.accuracy)} for b in self.reliability]}


def score(name: str, lines: Sequence[EvalLine], results: Sequence[Any]) -> SetScores:
    """Scores of one set from its lines and the classifier's results for them, in the same order."""
    predicted = [r.field for r in results]
    if len(lines) != len(results):
        raise ValueError(f"{len(lines)} lines but {len(results)} results")
    base = Report(labels=list(LABELS), truth=[line.field for line in lines], predicted=predicted,
                  abstained=[p == OTHER for p in predicted], urgent_truth=[line.urgent for line in lines],
                  urgent_predicted=[bool(r.urgent) for r in results])
    in_scope = [(line, p) for line, p in zip(lines, predicted, strict=True) if line.field != OTHER]
    answered = [(line, p) for line, p in in_scope if p != OTHER]
    others = [p == OTHER for line, p in zip(lines, predicted, strict=True) if line.field == OTHER]
    tops = [top_choice(r) for r in results]
    ece, table = calibration([c for _, c in tops], [t == line.field for (t, _), line in zip(tops, lines, strict=True)])
    urgent_hits = [bool(r.urgent) for line, r in zip(lines, results, strict=True) if line.urgent]
    flagged = [line.urgent for line, r in zip(lines, results, strict=True) if r.urgent]
    return SetScores(
        name=name, n=len(lines), accuracy=base.accuracy, macro_f1=base.macro_f1 if lines else 0.0,
        in_scope=len(in_scope), in_scope_to_other=_share([p == OTHER for _, p in in_scope]),
        answered_accuracy=_share([p == line.field for line, p in answered]),
        other_lines=len(others), other_recall=_share(others),
        any_named_accuracy=_share([p in line.named for line, p in zip(lines, predicted, strict=True)]) or 0.0,
        ece=ece, reliability=table, urgent=len(urgent_hits), urgent_recall=_share(urgent_hits),
        urgent_precision=_share(flagged),
    )


@dataclass(frozen=True)
class SetsReport:
    half: str
    model_version: str
    sets: list[SetScores]
    overall: SetScores

    def as_dict(self) -> dict[str, Any]:
        return {"half": self.half, "model": self.model_version, "sets": [s.as_dict() for s in self.sets],
                "overall": self.overall.as_dict()}

    def table(self, *, reliability: bool = False) -> str:
        def pct(v: float | None) -> str:
            return "—" if v is None else f"{v:.1%}"

        def num(v: float | None) -> str:
            return "—" if v is None else f"{v:.3f}"

        head = (f"{'set':20} {'n':>4} {'accuracy':>8} {'macro-F1':>8} {'in-scope→other':>14} "
                f"{'acc. answered':>13} {'other recall':>12} {'any named':>9} {'ECE':>6}")
        lines = [f"evaluation sets, {self.half} half, model {self.model_version}", "", head, "-" * len(head)]
        for s in [*self.sets, self.overall]:
            if s is self.overall:
                lines.append("-" * len(head))
            lines.append(f"{s.name:20} {s.n:4d} {s.accuracy:8.3f} {s.macro_f1:8.3f} {pct(s.in_scope_to_other):>14} "
                         f"{num(s.answered_accuracy):>13} {pct(s.other_recall):>12} {s.any_named_accuracy:9.3f} "
                         f"{s.ece:6.3f}")
        o = self.overall
        lines += ["", f"urgent lines {o.urgent}: recall {num(o.urgent_recall)}, precision {num(o.urgent_precision)}",
                  "in-scope→other: in-scope lines sent to `other` (triage); acc. answered: accuracy on the rest; "
                  "any named: the answer is the first field or one in `also`; ECE: the top field's confidence "
                  "against its accuracy, 10 bins"]
        for s in ([*self.sets, o] if reliability else [o]):
            lines += ["", f"reliability: {s.name}", f"{'confidence':>12} {'n':>5} {'mean conf.':>10} {'accuracy':>9}"]
            lines += [f"{b.low:5.1f}–{b.high:<5.1f} {b.n:6d} {b.confidence:10.3f} {b.accuracy:9.3f}"
                      for b in s.reliability if b.n]
        return "\n".join(lines)


def report(model: Any, sets: Mapping[str, Sequence[EvalLine]] | None = None, half: str | None = "test") -> SetsReport:
    """Score a classifier (anything with `classify_batch(texts)`) on one half of each set, and on all of them."""
    chosen = load() if sets is None else sets
    picked = {name: [line for line in lines if half is None or line.half == half] for name, lines in chosen.items()}
    every = [line for lines in picked.values() for line in lines]
    results = list(model.classify_batch([line.text for line in every])) if every else []
    rows, start = [], 0
    for name, lines in picked.items():
        rows.append(score(name, lines, results[start:start + len(lines)]))
        start += len(lines)
    return SetsReport(half=half or "all", model_version=str(getattr(model, "version", "?")), sets=rows,
                      overall=score("overall", every, results))
