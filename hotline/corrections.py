"""Staff field corrections as training and evaluation examples for `hotline train --with-corrections`.

A stable hash of the case id puts each corrected case in a training share (80 %) or an evaluation
share (20 %): the evaluation share is never trained on, so `hotline model compare` can show on
real cases whether a new model learnt from the agents or only memorised them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from casework import store
from classifier.corpus import LABELS, Example, fingerprint
from classifier.language import detect

EVALUATION_PERCENT = 20


@dataclass(frozen=True, slots=True)
class Correction:
    """One corrected case: the field staff set (in `example`), and what the model had said."""

    case_id: int
    example: Example
    model_field: str | None
    model_version: str | None


@dataclass(frozen=True, slots=True)
class CorrectionSplit:
    train: list[Correction]
    evaluation: list[Correction]
    ignored: Mapping[str, int] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Of the training share: a model trained on other corrections gets another version."""
        return fingerprint(c.example for c in self.train)


def share_of(case_id: int) -> str:
    """`train` or `evaluation`, from a hash of the case id: a case stays in its share as corrections accumulate."""
    bucket = int.from_bytes(hashlib.sha256(f"hotline-correction:{case_id}".encode()).digest()[:4], "big") % 100
    return "evaluation" if bucket < EVALUATION_PERCENT else "train"


def usable(rows: Iterable[Mapping[str, Any]]) -> tuple[list[Correction], Counter[str]]:
    """The corrections worth learning from, and how many of the others were ignored, by reason."""
    out: list[Correction] = []
    ignored: Counter[str] = Counter()
    for r in rows:
        text = (r["description"] or "").strip()
        if r["field"] not in LABELS:
            ignored["unknown field"] += 1
        elif not text:
            ignored["empty text"] += 1
        elif r["duplicate"]:
            ignored["duplicate case"] += 1
        elif r["field"] == r["model_field"]:
            ignored["the model had it right"] += 1  # changed and changed back: noise, nothing to learn
        else:
            example = Example(text=text, field=r["field"], lang=detect(text), urgent=bool(r["urgent"]),
                              register="correction", source="staff-corrections")
            out.append(Correction(case_id=r["case_id"], example=example, model_field=r["model_field"],
                                  model_version=r["model_version"]))
    return out, ignored


def split(corrections: Iterable[Correction], ignored: Mapping[str, int] | None = None) -> CorrectionSplit:
    train, evaluation = [], []
    for c in corrections:
        (evaluation if share_of(c.case_id) == "evaluation" else train).append(c)
    return CorrectionSplit(train=train, evaluation=evaluation, ignored=dict(ignored or {}))


async def load_split(pool: asyncpg.Pool) -> CorrectionSplit:
    """The usable corrections, the latest per case, split into a training and an evaluation share."""
    async with pool.acquire() as conn:
        rows = await store.field_corrections(conn)
    corrections, ignored = usable(rows)
    return split(corrections, ignored)


async def load_corrections(pool: asyncpg.Pool) -> list[Example]:
    """Every usable correction as an example, both shares (`load_split` keeps the evaluation share apart)."""
    async with pool.acquire() as conn:
        rows = await store.field_corrections(conn)
    return [c.example for c in usable(rows)[0]]
