"""The JSON Lines contract of `hotline classify`: one output line per input line, in order."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from classifier import Classification


def result_json(item_id: Any, result: Classification) -> dict[str, Any]:
    return {
        "id": item_id,
        "field": result.field,
        "confidence": result.confidence,
        "alternatives": [{"field": f, "confidence": p} for f, p in result.alternatives],
        "urgent": result.urgent,
        "language": result.language,
    }


def _parse(line: str) -> tuple[Any, str | None, str | None]:
    """Return (id, text, error) for one input line."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as e:
        return None, None, f"not valid JSON: {e.msg} at column {e.colno}"
    if not isinstance(item, dict):
        return None, None, "expected a JSON object with a text"
    item_id = item.get("id")
    text = item.get("text")
    if "text" not in item:
        return item_id, None, "missing text"
    if not isinstance(text, str):
        return item_id, None, "text must be a string"
    return item_id, text, None


def classify_lines(classifier: Any, lines: Iterable[str], batch_size: int = 256) -> Iterator[str]:
    """Classify JSONL input lines in batches; bad lines get an `error` line and the rest still flows."""
    pending: list[tuple[Any, str | None, str | None]] = []

    def drain() -> Iterator[str]:
        texts = [text for _, text, error in pending if error is None]
        results = iter(classifier.classify_batch(texts) if texts else [])
        for item_id, _, error in pending:
            body = {"id": item_id, "error": error} if error is not None else result_json(item_id, next(results))
            yield json.dumps(body, ensure_ascii=False)
        pending.clear()

    for line in lines:
        if not line.strip():
            continue
        pending.append(_parse(line))
        if len(pending) >= batch_size:
            yield from drain()
    yield from drain()
