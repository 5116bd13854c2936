"""The scikit-learn model: features on two views of the text, a linear classifier, calibrated confidence."""

from __future__ import annotations

import hashlib
import itertools
import math
import pickle
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from classifier.corpus import Example
from classifier.lexicon import Lexicon
from classifier.lexicon import tokens as lexicon_tokens
from classifier.normalize import views

MODEL_FORMAT = 1
TOKENS = r"(?u)\b\w+\b"


class Featurizer:
    """TF-IDF over the folded text (no diacritics, teencode expanded): words 1–2 and characters 2–4.

    A third view with diacritics kept was tried and dropped: on held-apart data it lowered macro-F1
    (0.951 against 0.961) and made text typed without diacritics score worse than the same text with
    them. On the folded view both score the same.

    scikit-learn fits the vocabularies and IDF weights; `transform_folded` then computes the same
    vectors without scikit-learn's per-call overhead and with each word's character n-grams cached
    (Vietnamese has a few thousand syllables, so nearly every word is a cache hit). A test checks
    that both give the same matrix.
    """

    CHAR_RANGE = (2, 4)

    def __init__(self) -> None:
        self.words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=TOKENS, lowercase=False,
                                     sublinear_tf=True, min_df=1, dtype=np.float32)
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=self.CHAR_RANGE, lowercase=False,
                                     sublinear_tf=True, min_df=2, dtype=np.float32)
        self._gram_cache: dict[str, list[int]] = {}

    @staticmethod
    def _folded(texts: Sequence[str]) -> list[str]:
        return [views(t)[1] for t in texts]

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        folded = self._folded(texts)
        return sp.hstack([self.words.fit_transform(folded), self.chars.fit_transform(folded)], format="csr")

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.transform_folded(self._folded(texts))

    def sklearn_transform_folded(self, folded: Sequence[str]) -> sp.csr_matrix:
        return sp.hstack([self.words.transform(folded), self.chars.transform(folded)], format="csr")

    def transform_folded(self, folded: Sequence[str]) -> sp.csr_matrix:
        """Transform texts already folded with `normalize.views` (callers that need the folded text too)."""
        if len(folded) <= 4:
            return self._transform_few(folded)
        word_ids, char_ids = [], []
        for doc in folded:
            words, chars = self._doc_ids(doc)
            word_ids.append(words)
            char_ids.append(chars)
        return sp.hstack([self._block(word_ids, self.words.idf_), self._block(char_ids, self.chars.idf_)],
                         format="csr")

    def _doc_ids(self, doc: str) -> tuple[list[int], list[int]]:
        vocab = self.words.vocabulary_
        tokens = self._token_re().findall(doc)
        grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
        chars: list[int] = []
        for word in doc.split():
            chars.extend(self._char_grams(word))
        return [vocab[g] for g in grams if g in vocab], chars

    def _transform_few(self, folded: Sequence[str]) -> sp.csr_matrix:
        """The same vectors for one or a few texts, in plain Python: sparse-matrix set-up costs more here."""
        idf_words, idf_chars = self._idf_lists()
        offset = len(idf_words)
        indptr, indices, data = [0], [], []
        for doc in folded:
            word_ids, char_ids = self._doc_ids(doc)
            for ids, idf, base in ((word_ids, idf_words, 0), (char_ids, idf_chars, offset)):
                if not ids:
                    continue
                counts = Counter(ids)
                cols = sorted(counts)
                values = [(1.0 + math.log(counts[c])) * idf[c] for c in cols]
                norm = math.sqrt(sum(v * v for v in values))
                indices.extend([c + base for c in cols])
                data.extend([v / norm for v in values])
            indptr.append(len(indices))
        return sp.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int32), indptr),
                             shape=(len(folded), offset + len(idf_chars)))

    def _idf_lists(self) -> tuple[list[float], list[float]]:
        cached = getattr(self, "_idf_cache", None)
        if cached is None:
            cached = self._idf_cache = (self.words.idf_.tolist(), self.chars.idf_.tolist())
        return cached

    @staticmethod
    def _block(doc_ids: list[list[int]], idf: np.ndarray) -> sp.csr_matrix:
        """Counts → sublinear tf × idf → l2 rows, as TfidfVectorizer(sublinear_tf=True) computes them."""
        lengths = np.fromiter((len(ids) for ids in doc_ids), dtype=np.int64, count=len(doc_ids))
        cols = np.fromiter(itertools.chain.from_iterable(doc_ids), dtype=np.int32, count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(doc_ids), dtype=np.int32), lengths)
        m = sp.csr_matrix((np.ones(len(cols), dtype=np.float64), (rows, cols)), shape=(len(doc_ids), len(idf)))
        m.sum_duplicates()
        m.data = (1.0 + np.log(m.data)) * idf[m.indices]
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        m.data /= np.repeat(norms, np.diff(m.indptr))
        return m.astype(np.float32)

    def _token_re(self):  # noqa: ANN202 - a compiled pattern
        pattern = getattr(self, "_token_pattern", None)
        if pattern is None:
            import re

            pattern = self._token_pattern = re.compile(TOKENS)
        return pattern

    def _char_grams(self, word: str) -> list[int]:
        """Vocabulary ids of a word's char_wb n-grams, as scikit-learn's `char_wb` analyzer makes them."""
        cached = self._gram_cache.get(word)
        if cached is not None:
            return cached
        vocab = self.chars.vocabulary_
        padded = f" {word} "
        grams = []
        low, high = self.CHAR_RANGE
        for n in range(low, high + 1):
            grams.extend(padded[i:i + n] for i in range(max(1, len(padded) - n + 1)))
            if len(padded) <= n:  # a short word counts once
                break
        ids = [vocab[g] for g in grams if g in vocab]
        if len(self._gram_cache) < 200_000:
            self._gram_cache[word] = ids
        return ids

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_gram_cache"] = {}
        state.pop("_token_pattern", None)
        state.pop("_idf_cache", None)
        return state

    @property
    def size(self) -> int:
        return len(self.words.vocabulary_) + len(self.chars.vocabulary_)


def full_scores(clf: Any, x: sp.csr_matrix, n_labels: int) -> np.ndarray:
    """Decision scores with one column per label, including labels absent from training (scored -10)."""
    raw = clf.decision_function(x)
    if raw.ndim == 1:
        raw = np.c_[-raw, raw]
    scores = np.full((x.shape[0], n_labels), -10.0)
    scores[:, clf.classes_] = raw
    return scores


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature that makes softmax(scores / T) best predict y (lowest log loss)."""
    def nll(t: float) -> float:
        p = softmax(scores, t)
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)).mean())

    return float(minimize_scalar(nll, bounds=(0.01, 20.0), method="bounded").x)


def lexicon_evidence(lexicon: Lexicon, folded: Sequence[str], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per text and label: the summed weight of the lexicon's terms found, and the weight of the strongest one."""
    index = {label: i for i, label in enumerate(labels)}
    summed = np.zeros((len(folded), len(labels)))
    strongest = np.zeros((len(folded), len(labels)))
    for row, text in enumerate(folded):
        for _, fields in lexicon.hits(text):
            for label, weight in fields:
                col = index[label]
                summed[row, col] += weight
                strongest[row, col] = max(strongest[row, col], weight)
    return summed, strongest


def lexicon_examples(lexicon: Lexicon, trained: Sequence[str]) -> list[Example]:
    """The lexicon's terms as short training lines: multi-word terms of weight 2 or 3, single words of weight 3.

    Terse reports ("Pothole", "Missed trash pickup", "Fly-tipping behind the shops") are the everyday names of
    the problems, and the corpus's long sentences teach them poorly. A single word of weight 2 names a thing
    ("tree", "bus"), not a problem, and a bare thing is `other` (too vague to act on); a term written as a
    whole corpus line keeps the corpus's label.
    """
    lines = {" ".join(lexicon_tokens(views(t)[1])) for t in trained}
    out, seen = [], set()
    for e in lexicon.entries:
        key = e.key
        if e.weight < 2 or (e.weight < 3 and " " not in key) or key in lines or (key, e.field) in seen:
            continue
        seen.add((key, e.field))
        out.append(Example(text=e.term, field=e.field, lang=e.lang, source="lexicon"))
    return out


def lexicon_prior(summed: np.ndarray, beta: float) -> np.ndarray:
    """What the lexicon adds to the model's scores: β·log(1 + weights), so a second term adds less than the first."""
    return beta * np.log1p(summed)


def choose_also_threshold(combined: np.ndarray, strongest: np.ndarray, named: Sequence[frozenset[int]],
                          exclude: int, min_weight: int) -> float:
    """The score from which a second field the text names is kept as `also`: the best F1 against `named`.

    The score is the field's own one-vs-rest score (the linear model's plus the lexicon prior), not its
    softmax probability: that one only says how far the field is behind the first, and a second
    problem is always behind the first.
    """
    primary = combined.argmax(axis=1)
    candidates = [(float(combined[r, c]), c in named[r]) for r in range(len(combined))
                  for c in range(combined.shape[1])
                  if c != primary[r] and c != exclude and strongest[r, c] >= min_weight]
    truth = sum(len(n - {int(p)}) for n, p in zip(named, primary, strict=True))
    best_t, best_f1 = float("inf"), 0.0
    for t in sorted({round(score, 2) for score, _ in candidates}):
        kept = [hit for score, hit in candidates if score >= t]
        f1 = 2 * sum(kept) / (len(kept) + truth) if kept else 0.0
        if f1 > best_f1:
            best_t, best_f1 = t, f1
    return best_t


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, miss_cost: float) -> float:
    """The confidence below which abstaining (human triage) costs less than a misrouted case.

    A wrong automatic route costs `miss_cost` times a case sent to triage: it reaches the wrong
    unit, waits, is rejected and comes back. The threshold minimises total cost on held-apart data.
    """
    best_t, best_cost = 0.0, float("inf")
    for t in np.unique(np.round(confidence, 3)):
        routed = confidence >= t
        cost = miss_cost * float((~correct & routed).sum()) + float((~routed).sum())
        if cost < best_cost:
            best_t, best_cost = float(t), cost
    return best_t


@dataclass
class TrainedModel:
    """Everything a worker needs to classify; pickled as one artifact."""

    version: str
    labels: list[str]
    featurizer: Featurizer
    classifier: Any
    temperature: float
    threshold: float
    urgent_classifier: Any
    urgent_threshold: float
    other_index: int
    info: dict[str, Any] = field(default_factory=dict)
    format: int = MODEL_FORMAT
    # The field lexicon as it was when the model was built, and how much it adds to the scores (a model
    # pickled before the lexicon prior existed loads with none: the defaults below).
    lexicon: Lexicon | None = None
    lexicon_weight: float = 0.0
    also_threshold: float = math.inf  # never
    also_min_weight: int = 2

    def scores(self, x: sp.csr_matrix) -> np.ndarray:
        """Decision scores, one column per label: x·Wᵀ + b straight, without scikit-learn's per-call checks."""
        weights, bias = self._linear_parts()
        return np.asarray(x @ weights) + bias

    def evidence(self, folded: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The lexicon's summed and strongest weights per label (zeros without a lexicon)."""
        if self.lexicon is None:
            zeros = np.zeros((len(folded), len(self.labels)))
            return zeros, zeros
        return lexicon_evidence(self.lexicon, folded, self.labels)

    def combined(self, x: sp.csr_matrix, summed: np.ndarray) -> np.ndarray:
        """The linear model's scores plus the lexicon prior; softmax at the temperature makes them probabilities."""
        return self.scores(x) + lexicon_prior(summed, self.lexicon_weight)

    def also(self, combined: np.ndarray, strongest: np.ndarray, best: int) -> tuple[str, ...]:
        """Other fields the text clearly names: a strong lexicon term of theirs, and a score above `also_threshold`."""
        return tuple(self.labels[c] for c in np.argsort(-combined) if c != best and c != self.other_index
                     and combined[c] >= self.also_threshold and strongest[c] >= self.also_min_weight)

    def urgent_probability(self, x: sp.csr_matrix) -> np.ndarray:
        clf = self.urgent_classifier
        z = np.asarray(x @ clf.coef_[0].astype(np.float32)).ravel() + clf.intercept_[0]
        return 1.0 / (1.0 + np.exp(-z))

    def _linear_parts(self) -> tuple[np.ndarray, np.ndarray]:
        cached = getattr(self, "_parts", None)
        if cached is None:
            n = len(self.labels)
            weights = np.zeros((self.classifier.coef_.shape[1], n), dtype=np.float32)
            bias = np.full(n, -10.0)  # labels absent from training never win
            weights[:, self.classifier.classes_] = self.classifier.coef_.T
            bias[self.classifier.classes_] = self.classifier.intercept_
            cached = self._parts = (weights, bias)
        return cached

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_parts", None)
        return state

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(self, protocol=5))
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> TrainedModel:
        model = pickle.loads(path.read_bytes())
        if not isinstance(model, TrainedModel) or model.format != MODEL_FORMAT:
            raise ValueError(f"{path} is not a model of format {MODEL_FORMAT}")
        return model


@dataclass(frozen=True)
class TrainConfig:
    # Part of the model version: change it when the features change.
    features: str = "folded:words1-2+chars2-4:teencode2"
    c: float = 0.5
    folds: int = 5
    miss_cost: float = 3.0
    # β of the lexicon prior: scores + β·log(1 + lexicon weights). Chosen on the corpus calibration half
    # and the evaluation sets' dev halves (classifier/DATA.md, "The lexicon prior").
    lexicon_weight: float = 0.2
    # The lexicon's terms also train the linear model as short lines (`lexicon_examples`), each counting
    # for this much of a corpus line.
    lexicon_example_weight: float = 0.5
    # `also`: another field the text names by a lexicon term of weight 2 or more, with a combined score
    # (linear model plus prior) of at least also_score; chosen on the dev halves (`choose_also_threshold`).
    also_score: float = -0.83
    also_min_weight: int = 2
    urgent_min_recall: float = 0.85
    seed: int = 1022

    def digest(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:8]


DEFAULT_CONFIG = TrainConfig()


def _linear(config: TrainConfig) -> LinearSVC:
    return LinearSVC(C=config.c, class_weight="balanced", random_state=config.seed, max_iter=5000)


def train(
    train_set: Sequence[Example],
    calibration_set: Sequence[Example],
    labels: Sequence[str],
    config: TrainConfig = DEFAULT_CONFIG,
    *,
    lexicon: Lexicon | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> TrainedModel:
    """Fit features and classifier on train_set; calibrate confidence and pick thresholds on calibration_set.

    The lexicon's terms train the linear model as short lines (`lexicon_examples`), and its hits are
    added to the scores at a fixed β (`TrainConfig.lexicon_weight`). Its hits are not features of the
    linear model: the corpus uses the lexicon's words so often that a weight learned on it trusts them
    more than other text deserves (on the evaluation sets' dev halves: 0.81–0.86 accuracy, the prior 0.90).
    """
    label_index = {label: i for i, label in enumerate(labels)}
    texts = [e.text for e in train_set]
    y = np.array([label_index[e.field] for e in train_set])
    terms = lexicon_examples(lexicon, texts) if lexicon is not None else []
    progress("features")
    featurizer = Featurizer()
    x_all = featurizer.fit_transform(texts + [e.text for e in terms])
    x = x_all[:len(texts)]
    progress("classifier")
    y_all = np.concatenate([y, np.array([label_index[e.field] for e in terms], dtype=y.dtype)])
    sample_weight = np.concatenate([np.ones(len(texts)), np.full(len(terms), config.lexicon_example_weight)])
    clf = _linear(config).fit(x_all, y_all, sample_weight=sample_weight)
    progress("urgency")
    u = np.array([e.urgent for e in train_set])
    urgent_clf = LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000).fit(x, u)

    progress("calibration")
    if calibration_set:
        held = [e.text for e in calibration_set]
        xc = featurizer.transform(held)
        yc = np.array([label_index[e.field] for e in calibration_set])
        scores = full_scores(clf, xc, len(labels))
        urgent_p = urgent_clf.predict_proba(xc)[:, 1]
        uc = np.array([e.urgent for e in calibration_set])
    else:
        # No held-apart data (a tiny test corpus): calibrate on out-of-fold predictions instead.
        held, scores, yc = texts, _out_of_fold_scores(x, y, len(labels), config), y
        urgent_p, uc = urgent_clf.predict_proba(x)[:, 1], u
    weight = config.lexicon_weight if lexicon is not None else 0.0
    summed = (lexicon_evidence(lexicon, [views(t)[1] for t in held], labels)[0] if lexicon is not None
              else np.zeros_like(scores))
    combined = scores + lexicon_prior(summed, weight)
    temperature = fit_temperature(combined, yc)
    probs = softmax(combined, temperature)
    predicted = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    other = label_index.get("other", -1)
    # Predicting `other` goes to triage anyway, so it counts as correct only when the truth is other.
    threshold = choose_threshold(confidence, predicted == yc, config.miss_cost)
    urgent_threshold = _urgent_threshold(urgent_p, uc, config.urgent_min_recall)
    return TrainedModel(
        version="", labels=list(labels), featurizer=featurizer, classifier=clf, temperature=temperature,
        threshold=threshold, urgent_classifier=urgent_clf, urgent_threshold=urgent_threshold, other_index=other,
        info={"features": featurizer.size, "train_examples": len(train_set), "lexicon_examples": len(terms),
              "calibration_examples": len(calibration_set), "config": repr(config)},
        lexicon=lexicon, lexicon_weight=weight, also_threshold=config.also_score if lexicon is not None else math.inf,
        also_min_weight=config.also_min_weight,
    )


def _out_of_fold_scores(x: sp.csr_matrix, y: np.ndarray, n_labels: int, config: TrainConfig) -> np.ndarray:
    counts = np.bincount(y)
    folds = max(2, min(config.folds, int(counts[counts > 0].min())))
    scores = np.zeros((x.shape[0], n_labels), dtype=np.float64)
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=config.seed).split(x, y):
        model = _linear(config).fit(x[train_idx], y[train_idx])
        scores[test_idx] = full_scores(model, x[test_idx], n_labels)
    return scores


def _urgent_threshold(p: np.ndarray, truth: np.ndarray, min_recall: float) -> float:
    """The highest threshold that still finds min_recall of the urgent cases (missing one is costly)."""
    if not truth.any():
        return 0.5
    urgent_scores = np.sort(p[truth])[::-1]
    k = int(np.ceil(min_recall * len(urgent_scores))) - 1
    return float(min(0.5, urgent_scores[max(k, 0)]))
