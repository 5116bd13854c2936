"""Building the model from the corpus: a deterministic step (same corpus and config, same model)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from classifier import DEFAULT_MODEL  # noqa: F401 - where `hotline train` writes by default
from classifier.corpus import HELDOUT_DIR, LABELS, TRAIN_DIR, Example, fingerprint, load_dir, split_heldout
from classifier.evaluate import evaluate
from classifier.lexicon import LEXICON, Lexicon, read
from classifier.model import DEFAULT_CONFIG, TrainConfig, TrainedModel, train
from classifier.predict import TextClassifier

STAGES = ("corpus", "features", "classifier", "urgency", "calibration", "evaluation")


def build(
    *,
    extra: Sequence[Example] = (),
    train_dir: Path = TRAIN_DIR,
    heldout_dir: Path = HELDOUT_DIR,
    lexicon_path: Path | None = LEXICON,
    config: TrainConfig = DEFAULT_CONFIG,
    progress: Callable[[str], None] = lambda _: None,
) -> TrainedModel:
    """Train on the corpus (plus extra examples such as staff corrections), calibrate and test on held-out data.

    The field lexicon (`lexicon_path`; None for a model without it) trains the model with its terms and
    adds its prior to the scores (`classifier.model.train`).
    """
    progress("corpus")
    training = load_dir(train_dir) + list(extra)
    seen = {e.text.casefold() for e in training}
    # A held-out line that also appears in training would measure memory, not generalisation.
    heldout = [e for e in (load_dir(heldout_dir) if heldout_dir.exists() else []) if e.text.casefold() not in seen]
    calibration, test = split_heldout(heldout)
    lexicon = Lexicon(read(lexicon_path)) if lexicon_path is not None and lexicon_path.exists() else None
    model = train(training, calibration, LABELS, config, lexicon=lexicon, progress=progress)
    model.version = f"clf-{fingerprint(training)}-{_digest(config, lexicon_path if lexicon else None)}"
    progress("evaluation")
    if test:
        report = evaluate(TextClassifier(model, with_entities=False), test)
        model.info["test"] = report.summary()
        model.info["test_by_language"] = {
            lang: evaluate(TextClassifier(model, with_entities=False), [e for e in test if e.lang == lang]).summary()
            for lang in sorted({e.lang for e in test})
        }
    model.info.update(corpus=fingerprint(training), heldout_examples=len(heldout), test_examples=len(test),
                      extra_examples=len(extra))
    return model


def _digest(config: TrainConfig, lexicon_path: Path | None) -> str:
    """The settings part of the version: the config, and the lexicon's bytes (a new term is a new model)."""
    if lexicon_path is None:
        return config.digest()
    return hashlib.sha256(config.digest().encode() + lexicon_path.read_bytes()).hexdigest()[:8]


def with_seed(config: TrainConfig, seed: int) -> TrainConfig:
    return replace(config, seed=seed)
