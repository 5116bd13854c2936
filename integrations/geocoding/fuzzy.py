"""Typo-tolerant matching of name keys: an edit-distance ratio with cheap filters first."""

from __future__ import annotations

from collections.abc import Sequence


def distance(a: str, b: str, limit: int) -> int:
    """Return the edit distance of a and b (swaps of neighbours count once), or limit + 1 when it exceeds limit."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    before: list[int] | None = None
    previous = list(range(lb + 1))
    for i in range(1, la + 1):
        current = [i] + [0] * lb
        ca = a[i - 1]
        best = current[0]
        for j in range(1, lb + 1):
            cb = b[j - 1]
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if before is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, before[j - 2] + 1)
            current[j] = value
            if value < best:
                best = value
        if best > limit:
            return limit + 1
        before, previous = previous, current
    return previous[lb] if previous[lb] <= limit else limit + 1


def ratio(a: str, b: str, cutoff: float = 0.0) -> float:
    """Return 1 - distance / longer length (0 when below cutoff)."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    limit = int((1.0 - cutoff) * longest + 1e-9)
    d = distance(a, b, limit)
    return 0.0 if d > limit else 1.0 - d / longest


def _bigrams(s: str) -> frozenset[str]:
    return frozenset(s[i:i + 2] for i in range(len(s) - 1))


class FuzzyIndex:
    """Keys to compare a misspelt key with; bigram overlap picks the few worth an edit distance."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(dict.fromkeys(k for k in keys if k and not k.isdigit()))
        self._grams = tuple(_bigrams(k) for k in self.keys)

    def best(self, key: str, cutoff: float, shortlist: int = 8) -> list[tuple[str, float]]:
        """Return the keys whose ratio to key is at least cutoff, best first (ties in index order)."""
        if not key or key.isdigit():
            return []
        grams = _bigrams(key)
        n = len(key)
        scored: list[tuple[float, int]] = []
        for i, (k, g) in enumerate(zip(self.keys, self._grams, strict=True)):
            if abs(len(k) - n) > (1.0 - cutoff) * max(len(k), n) + 1e-9:
                continue
            overlap = len(grams & g)
            if overlap:
                scored.append((-overlap / (len(grams) + len(g)), i))
        scored.sort()
        found = []
        for _, i in scored[:shortlist]:
            r = ratio(key, self.keys[i], cutoff)
            if r >= cutoff:
                found.append((self.keys[i], r))
        found.sort(key=lambda kr: -kr[1])
        return found
