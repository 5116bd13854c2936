"""Text in, field out: the classifier's public interface.

Until a trained model exists, `load()` returns a classifier that declines every text, and the
pipeline sends the case to human triage instead of inventing a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Classification:
    field: str
    confidence: float
    urgent: bool
    language: str
    model_version: str
    alternatives: tuple[tuple[str, float], ...] = ()
    entities: dict[str, Any] = field(default_factory=dict)
    # Other fields the text clearly names besides `field` (several problems in one message): kept on the
    # case; `field` alone decides the routing.
    also: tuple[str, ...] = ()


class Classifier(Protocol):
    version: str

    def classify(self, text: str) -> Classification | None:
        """Classify one text; None when no model is available."""

    def classify_many(self, texts: list[str]) -> list[Classification | None]:
        """Classify a batch in one pass (one model call, one entity pipeline run)."""


class NoModel:
    """Declines everything: no trained model is installed."""

    version = "none"

    def classify(self, text: str) -> Classification | None:
        return None

    def classify_many(self, texts: list[str]) -> list[Classification | None]:
        return [None] * len(texts)


DEFAULT_MODEL = Path(__file__).resolve().parent / "build" / "model.pkl"


def load(setting: str | Path | None = "auto") -> Classifier:
    """Load a model: "auto" is the built one if it exists, "none" (or None) declines everything."""
    if setting is None or str(setting) == "none":
        return NoModel()
    path = DEFAULT_MODEL if str(setting) == "auto" else Path(setting)
    if str(setting) == "auto" and not path.exists():
        return NoModel()
    from classifier.predict import load_model

    return load_model(path)
