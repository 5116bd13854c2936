"""Text hygiene every context shares: Unicode NFC, control characters out, and the one diacritic fold.

`fold` is how 'ngập nước', 'Ngập Nước' and 'ngap nuoc' meet: case search, duplicate detection,
routing keywords, the classifier's folded view, the geocoder and the procedure search all use it.
`fold_chars` is the same fold keeping one output character per input character, for parsers that
map positions back to the original text. `jsonb_safe` makes a payload PostgreSQL's jsonb accepts.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COMBINING = re.compile(r"[\u0300-\u036f]+")
# What jsonb refuses in a string: NUL (\u0000) and lone UTF-16 surrogates (json.loads joins the pairs).
_NOT_JSONB = re.compile("[\x00\ud800-\udfff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """NFC-normalise, drop control characters, show lone surrogates as U+FFFD (UTF-8 has no room for them), trim."""
    return _LONE_SURROGATE.sub("\ufffd", _CONTROL.sub("", unicodedata.normalize("NFC", text))).strip()


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for cp in list(range(0x00C0, 0x0250)) + list(range(0x1E00, 0x1F00)):
        ch = chr(cp)
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        if len(base) == 1 and base != ch:
            table[cp] = base.lower() if ch.islower() else base
    table[ord("đ")] = "d"
    table[ord("Đ")] = "D"
    return table


FOLD_TABLE = _fold_table()


def strip_marks(text: str) -> str:
    """NFC text without stray combining marks, so that every character folds to exactly one."""
    return _COMBINING.sub("", unicodedata.normalize("NFC", text))


def strip_diacritics(text: str) -> str:
    """Letters without diacritics, case kept (đ → d, Đ → D): 'Đường ngập' → 'Duong ngap'."""
    return strip_marks(text).translate(FOLD_TABLE)


def fold_chars(text: str) -> str:
    """Lower case without diacritics (đ → d), one character out per character of `strip_marks(text)`."""
    return strip_diacritics(text).lower()


def fold(text: str) -> str:
    """Lower case without diacritics (đ → d), runs of white space squeezed: the search and matching key."""
    return " ".join(fold_chars(text).split())


def _jsonb_string(text: str) -> str:
    if _NOT_JSONB.search(text) is None:
        return text
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def jsonb_safe(value: Any) -> Any:
    """A copy of a JSON-like value jsonb accepts: NUL dropped, lone surrogates as U+FFFD, NaN and Infinity as null.

    PostgreSQL refuses such a value and logs the JSON around the fault, which is a citizen's text, so
    nothing a request brought is sent to a jsonb column without this. Walks without recursion: depth
    is whatever the parser let through.
    """
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (value, where its copy goes, key there)
    while stack:
        item, parent, key = stack.pop()
        if isinstance(item, str):
            parent[key] = _jsonb_string(item)
        elif isinstance(item, float) and not math.isfinite(item):
            parent[key] = None
        elif isinstance(item, dict):
            copy: dict[str, Any] = {}
            parent[key] = copy
            for k, v in item.items():
                k = _jsonb_string(k) if isinstance(k, str) else k
                copy[k] = None
                stack.append((v, copy, k))
        elif isinstance(item, list | tuple):
            items: list[Any] = [None] * len(item)
            parent[key] = items
            stack.extend((v, items, i) for i, v in enumerate(item))
        else:
            parent[key] = item
    return root[0]
