"""Text hygiene every context shares: Unicode NFC, control characters out, and the one diacritic fold.

`fold` is how 'ngập nước', 'Ngập Nước' and 'ngap nuoc' meet: case search, duplicate detection,
routing keywords, the classifier's folded view, the geocoder and the procedure search all use it.
`fold_chars` is the same fold keeping one output character per input character, for parsers that
map positions back to the original text.
"""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COMBINING = re.compile(r"[\u0300-\u036f]+")


def clean(text: str) -> str:
    """NFC-normalise, drop control characters, trim."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


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
