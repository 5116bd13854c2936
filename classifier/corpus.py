"""The training corpus: loading, validating and splitting the hand-written JSONL files."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAIN_DIR = DATA_DIR / "train"
HELDOUT_DIR = DATA_DIR / "heldout"

FIELDS = (
    "admin_procedures", "urban_infrastructure", "traffic", "public_transport", "water_supply",
    "drainage_flooding", "public_lighting", "trees", "electricity", "telecom", "urban_order", "environment",
    "noise", "security", "health",
)
LABELS = (*FIELDS, "other")


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    field: str
    lang: str = "vi"
    urgent: bool = False
    register: str = ""
    source: str = ""


class CorpusError(ValueError):
    """A corpus line that cannot be used."""


def read_jsonl(path: Path) -> Iterator[Example]:
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text = unicodedata.normalize("NFC", row["text"]).strip()
                field = row["field"]
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
                raise CorpusError(f"{path.name}:{number}: {e}") from None
            if field not in LABELS:
                raise CorpusError(f"{path.name}:{number}: unknown field {field!r}")
            yield Example(text=text, field=field, lang=row.get("lang", "vi"), urgent=bool(row.get("urgent")),
                          register=row.get("register", ""), source=f"{path.parent.name}/{path.name}")


def load_dir(directory: Path) -> list[Example]:
    """Every example in a folder of JSONL files, in a stable order, exact duplicates dropped."""
    seen: set[str] = set()
    out: list[Example] = []
    for path in sorted(directory.glob("*.jsonl")):
        for example in read_jsonl(path):
            key = example.text.casefold()
            if key in seen:
                continue
            seen.add(key)
            out.append(example)
    return out


def split_heldout(examples: Iterable[Example]) -> tuple[list[Example], list[Example]]:
    """Split the held-apart examples into a calibration half and a test half, by a hash of the text."""
    calibration, test = [], []
    for e in examples:
        bucket = hashlib.sha256(e.text.encode()).digest()[0] % 2
        (calibration if bucket == 0 else test).append(e)
    return calibration, test


def fingerprint(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.text, e.field, e.urgent], ensure_ascii=False).encode())
    return digest.hexdigest()[:12]
