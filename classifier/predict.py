"""Classifying texts with a trained model: field, calibrated confidence, alternatives, urgency, language."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from classifier import Classification
from classifier.language import detect
from classifier.model import TrainedModel, softmax
from classifier.normalize import views
from classifier.urgency import hazards

OTHER = "other"


class TextClassifier:
    """A loaded model; `classify` for one text (with entities), `classify_batch` for throughput."""

    def __init__(self, model: TrainedModel, *, with_entities: bool = True) -> None:
        self.model = model
        self.version = model.version
        self._entities = None
        if with_entities:
            from classifier.entities import EntityExtractor

            self._entities = EntityExtractor()

    def classify(self, text: str) -> Classification:
        result = self.classify_batch([text])[0]
        if self._entities is not None and text.strip():
            entities = self._entities.extract(text)
            entities["hazards"] = result.entities.get("hazards", [])
            return replace(result, entities=entities)
        return result

    def classify_many(self, texts: list[str]) -> list[Classification]:
        """Classify a batch with entities: one model call and one spaCy pipe for all texts."""
        results = self.classify_batch(texts)
        if self._entities is None:
            return results
        live = [i for i, t in enumerate(texts) if t.strip()]
        for i, entities in zip(live, self._entities.extract_many([texts[i] for i in live]), strict=True):
            r = results[i]
            entities["hazards"] = r.entities.get("hazards", [])
            results[i] = replace(r, entities=entities)
        return results

    def classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        model = self.model
        out: list[Classification | None] = [None] * len(texts)
        live = [i for i, t in enumerate(texts) if t and t.strip()]
        for i, t in enumerate(texts):
            if i not in live:
                out[i] = Classification(field=OTHER, confidence=0.0, urgent=False, language=detect(t or ""),
                                        model_version=self.version, alternatives=())
        if live:
            folded = [views(texts[i])[1] for i in live]
            x = model.featurizer.transform_folded(folded)
            summed, strongest = model.evidence(folded)
            combined = model.combined(x, summed)
            probs = softmax(combined, model.temperature)
            urgent_p = model.urgent_probability(x)
            order = np.argsort(-probs, axis=1)[:, :4]
            for row, i in enumerate(live):
                best = int(order[row, 0])
                confidence = float(probs[row, best])
                field = model.labels[best]
                if confidence < model.threshold:
                    field = OTHER  # unsure: a person decides
                found = hazards(folded[row])
                out[i] = Classification(
                    field=field,
                    confidence=round(confidence, 4),
                    urgent=bool(found) or bool(urgent_p[row] >= model.urgent_threshold),
                    language=detect(texts[i]),
                    model_version=self.version,
                    alternatives=tuple((model.labels[int(j)], round(float(probs[row, int(j)]), 4))
                                       for j in order[row] if model.labels[int(j)] != field)[:2],
                    # Only beside a field the case is routed on: an unsure answer leaves it all to a person.
                    also=model.also(combined[row], strongest[row], best) if field != OTHER else (),
                    entities={"hazards": found},
                )
        return [o for o in out if o is not None]


def load_model(path: Path, *, with_entities: bool = True) -> TextClassifier:
    return TextClassifier(TrainedModel.load(path), with_entities=with_entities)
