"""Scoring a classifier on labelled texts: accuracy, macro-F1, per-field scores, abstention, confusion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from classifier.corpus import LABELS, Example

OTHER = "other"


@dataclass
class Report:
    labels: list[str]
    truth: list[str]
    predicted: list[str]
    abstained: list[bool]
    urgent_truth: list[bool]
    urgent_predicted: list[bool]

    @property
    def accuracy(self) -> float:
        return float(np.mean([t == p for t, p in zip(self.truth, self.predicted, strict=True)])) if self.truth else 0.0

    def per_label(self) -> dict[str, dict[str, float]]:
        p, r, f, s = precision_recall_fscore_support(self.truth, self.predicted, labels=self.labels, zero_division=0)
        return {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                for i, label in enumerate(self.labels)}

    @property
    def macro_f1(self) -> float:
        present = [v["f1"] for v in self.per_label().values() if v["support"] > 0]
        return float(np.mean(present)) if present else 0.0

    @property
    def abstention_rate(self) -> float:
        return float(np.mean(self.abstained)) if self.abstained else 0.0

    @property
    def answered_accuracy(self) -> float:
        pairs = [(t, p) for t, p, a in zip(self.truth, self.predicted, self.abstained, strict=True) if not a]
        return float(np.mean([t == p for t, p in pairs])) if pairs else 0.0

    def urgent_scores(self) -> dict[str, float]:
        t, p = np.array(self.urgent_truth), np.array(self.urgent_predicted)
        tp = float((t & p).sum())
        return {"precision": tp / max(p.sum(), 1), "recall": tp / max(t.sum(), 1), "support": int(t.sum())}

    def matrix(self) -> np.ndarray:
        return confusion_matrix(self.truth, self.predicted, labels=self.labels)

    def summary(self) -> dict[str, Any]:
        return {"n": len(self.truth), "accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4),
                "abstention_rate": round(self.abstention_rate, 4),
                "accuracy_when_answered": round(self.answered_accuracy, 4),
                "urgent": {k: round(v, 4) for k, v in self.urgent_scores().items()}}

    def text(self) -> str:
        lines = [f"examples {len(self.truth)}  accuracy {self.accuracy:.3f}  macro-F1 {self.macro_f1:.3f}",
                 f"abstained (sent to triage) {self.abstention_rate:.1%}"
                 f"  accuracy on the rest {self.answered_accuracy:.3f}",
                 "urgent: precision {precision:.3f} recall {recall:.3f} (support {support})".format(
                     **self.urgent_scores()),
                 "", f"{'field':22} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>5}"]
        for label, s in self.per_label().items():
            lines.append(f"{label:22} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f} {s['support']:5d}")
        short = [label[:6] for label in self.labels]
        lines += ["", "confusion (rows: truth, columns: predicted)", " " * 22 + " ".join(f"{s:>6}" for s in short)]
        for label, row in zip(self.labels, self.matrix(), strict=True):
            lines.append(f"{label:22}" + " ".join(f"{v:6d}" for v in row))
        return "\n".join(lines)

    def plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        m = self.matrix()
        fig, ax = plt.subplots(figsize=(10, 9))
        ax.imshow(m, cmap="Blues")
        ax.set_xticks(range(len(self.labels)), self.labels, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(self.labels)), self.labels, fontsize=8)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if m[i, j]:
                    ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if m[i, j] > m.max() / 2 else "black")
        ax.set_xlabel("predicted")
        ax.set_ylabel("truth")
        ax.set_title(f"accuracy {self.accuracy:.3f}, macro-F1 {self.macro_f1:.3f}")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def evaluate(classifier: Any, examples: Sequence[Example]) -> Report:
    results = classifier.classify_batch([e.text for e in examples])
    labels = list(LABELS)
    return Report(
        labels=labels,
        truth=[e.field for e in examples],
        predicted=[r.field for r in results],
        abstained=[r.field == OTHER for r in results],
        urgent_truth=[e.urgent for e in examples],
        urgent_predicted=[r.urgent for r in results],
    )
