"""Vietnamese text folding: lower case, with and without diacritics, keeping character positions aligned."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from kernel.text import FOLD_TABLE, fold_chars, strip_marks

__all__ = ["FOLD_TABLE", "accent", "accent_key", "clean", "fold", "has_diacritics", "name_key", "strip_type"]


# Two spellings of the same syllable put the tone on different vowels ("Hòa" and "Hoà", "Thủy" and "Thuỷ").
_TONES = "\u0300\u0301\u0303\u0309\u0323"
_OLD_TONE = re.compile(rf"([oO])([{_TONES}])([aAeE])|([uU])([{_TONES}])([yY])")
_NON_ALNUM = re.compile(r"[^0-9a-zà-ỹđ]+")
_TYPE_PREFIX = re.compile(
    r"^(?:phuong|xa|thi tran|dac khu|quan|huyen|thanh pho|thi xa|tinh)\s+(?=\S)"
)

# The kernel's fold, one output character per input character, so parser positions map back;
# clean() is the NFC form without stray combining marks that the fold is aligned with.
fold = fold_chars
clean = strip_marks


def _move_tone(match: re.Match[str]) -> str:
    if match.group(1):
        return match.group(1) + match.group(3) + match.group(2)
    return match.group(4) + match.group(6) + match.group(5)


@lru_cache(maxsize=4096)
def accent(text: str) -> str:
    """Return text in lower case with diacritics, the tone placed the new way ("hoà", "thuỷ")."""
    nfd = unicodedata.normalize("NFD", text.lower())
    if any(t in nfd for t in _TONES):
        nfd = _OLD_TONE.sub(_move_tone, nfd)
    return unicodedata.normalize("NFC", nfd)


def strip_type(folded_name: str) -> str:
    """Drop a leading unit type ("phuong ", "quan ", "thanh pho ") from a folded name."""
    return _TYPE_PREFIX.sub("", folded_name, count=1)


@lru_cache(maxsize=65536)
def name_key(name: str, typed: bool = True) -> str:
    """Return the folded key of a place name: no diacritics, no spaces, numbers without leading zeros.

    A typed name ("Phường Bến Nghé", from the data) loses its type; a parsed one ("Xà Bang") is kept whole.
    """
    folded = " ".join(fold(name).split())
    key = _NON_ALNUM.sub("", strip_type(folded) if typed else folded)
    return str(int(key)) if key.isdigit() else key


@lru_cache(maxsize=65536)
def accent_key(name: str, typed: bool = True) -> str:
    """Return the key of a place name with its diacritics kept (to tell "Thanh An" from "Thạnh An")."""
    folded = " ".join(fold(name).split())
    words = accent(" ".join(clean(name).split())).split()
    drop = len(folded.split()) - len(strip_type(folded).split()) if typed else 0
    key = _NON_ALNUM.sub("", "".join(words[drop:]))
    return str(int(key)) if key.isdigit() else key


def has_diacritics(text: str) -> bool:
    """Tell whether text carries any Vietnamese diacritic (or đ)."""
    return fold(text) != text.lower()
