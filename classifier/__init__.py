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


class Classifier(Protocol):
    version: str

    def classify(self, text: str) -> Classification | None:
        """Classify one text; None when no model is available."""


class NoModel:
    """Declines everything: no trained model is installed."""

    version = "none"

    def classify(self, text: str) -> Classification | None:
        return None


def load(path: Path | None = None) -> Classifier:
    """Load the trained model at path (or the default one); NoModel when there is none."""
    return NoModel()
