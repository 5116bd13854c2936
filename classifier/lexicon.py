"""The field lexicon: the words of each field, matched on the classifier's folded view of a text.

`data/lexicon/lexicon.tsv` holds the everyday vocabulary of the 15 fields and the cues of `other`, in
Vietnamese (standard, southern, northern, SMS shorthand, teencode) and English (US and UK 311 terms),
each with a weight: 3 decides on its own ('ổ gà', 'pothole'), 1 only suggests. `SOURCES.md` beside it
says where the terms come from. A term is folded exactly as a text is (`classifier.normalize`), so
'Ổ GÀ', 'ổ gà' and 'o ga' are one term, and it matches whole tokens only ('gas' is not in 'gasket').
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from classifier.corpus import LABELS
from classifier.normalize import folded, normalise, views

LEXICON = Path(__file__).resolve().parent / "data" / "lexicon" / "lexicon.tsv"
COLUMNS = ("field", "lang", "term", "kind", "weight", "source")
LANGS = frozenset({"vi", "en"})
KINDS = frozenset({"core", "everyday", "southern", "northern", "sms", "teencode", "us311", "uk311", "catalogue"})
OTHER = "other"

# Hyphens, slashes and apostrophes join words ('fly-tipping', 'roads/highways', "driver's"): with or
# without them it is the same term. Other punctuation stays a token, so no term spans a comma.
_JOINERS = frozenset({"-", "/", "'", "\u2019", "\u2018"})
_END = ""  # the key of a term's fields in the trie; never a token, since tokens are never empty


class LexiconError(ValueError):
    """A lexicon line that cannot be used."""


@dataclass(frozen=True, slots=True)
class Entry:
    field: str
    lang: str
    term: str
    kind: str
    weight: int
    source: str

    @property
    def key(self) -> str:
        return term_key(self.term)


def tokens(folded_text: str) -> list[str]:
    """The tokens of a folded text that terms are matched on (word joiners dropped)."""
    return [t for t in folded_text.split() if t not in _JOINERS]


def term_key(term: str) -> str:
    """The folded form a term matches by: the classifier's folded view of it, joiners dropped."""
    return " ".join(tokens(folded(normalise(term))))


def read(path: Path = LEXICON) -> list[Entry]:
    """Every entry of a lexicon file, checked: columns, field, language, kind and weight."""
    entries: list[Entry] = []
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        if tuple(next(rows, ())) != COLUMNS:
            raise LexiconError(f"{path.name}:1: the header must be {' '.join(COLUMNS)}")
        for number, row in enumerate(rows, 2):
            if len(row) != len(COLUMNS):
                raise LexiconError(f"{path.name}:{number}: {len(row)} columns, expected {len(COLUMNS)}")
            field, lang, term, kind, weight, source = row
            if field not in LABELS:
                raise LexiconError(f"{path.name}:{number}: unknown field {field!r}")
            if lang not in LANGS:
                raise LexiconError(f"{path.name}:{number}: unknown language {lang!r}")
            if kind not in KINDS:
                raise LexiconError(f"{path.name}:{number}: unknown kind {kind!r}")
            if weight not in ("1", "2", "3"):
                raise LexiconError(f"{path.name}:{number}: weight must be 1, 2 or 3, not {weight!r}")
            if not term_key(term) or not source:
                raise LexiconError(f"{path.name}:{number}: empty term or source")
            entries.append(Entry(field, lang, term, kind, int(weight), source))
    return entries


class Lexicon:
    """Weighted field hits in folded texts: a token trie, longest match first, each term counted once."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = tuple(entries)
        by_key: dict[str, dict[str, int]] = {}
        for e in self.entries:
            fields = by_key.setdefault(e.key, {})
            fields[e.field] = max(e.weight, fields.get(e.field, 0))
        self._root: dict = {}
        for key, fields in by_key.items():
            node = self._root
            for token in key.split():
                node = node.setdefault(token, {})
            node[_END] = (key, tuple(fields.items()))

    def hits(self, folded_text: str) -> list[tuple[str, tuple[tuple[str, int], ...]]]:
        """The terms found, left to right, as (folded term, ((field, weight), ...)); each term once."""
        words = tokens(folded_text)
        root, n, i = self._root, len(words), 0
        found: dict[str, tuple[tuple[str, int], ...]] = {}
        while i < n:
            node = root.get(words[i])
            if node is None:
                i += 1
                continue
            best, end, j = node.get(_END), i + 1, i + 1
            while j < n:
                node = node.get(words[j])
                if node is None:
                    break
                j += 1
                if _END in node:
                    best, end = node[_END], j
            if best is None:
                i += 1
                continue
            found.setdefault(best[0], best[1])
            i = end
        return list(found.items())

    def matches(self, folded_text: str) -> dict[str, float]:
        """Summed weights per field of the terms in a folded text (`classifier.normalize.views(text)[1]`)."""
        totals: dict[str, float] = {}
        for _, fields in self.hits(folded_text):
            for field, weight in fields:
                totals[field] = totals.get(field, 0.0) + weight
        return totals


@functools.cache
def load(path: Path = LEXICON) -> Lexicon:
    """The lexicon, read once per process."""
    return Lexicon(read(path))


def matches(folded_text: str) -> dict[str, float]:
    """Weighted hits per field in a folded text (the classifier's folded view: `views(text)[1]`)."""
    return load().matches(folded_text)


def scores(text: str) -> dict[str, float]:
    """Weighted hits per field in a raw text."""
    return matches(views(text)[1])


def keyword_field(field_scores: Mapping[str, float]) -> str:
    """The field with the highest score; `other` when nothing hit or the top is shared."""
    if not field_scores:
        return OTHER
    top = max(field_scores.values())
    leaders = [f for f, s in field_scores.items() if s == top]
    return leaders[0] if len(leaders) == 1 else OTHER
