"""The GSM 03.38 alphabet: which texts fit in GSM-7, folding Vietnamese into it, and counting SMS segments.

An SMS in GSM-7 carries 160 characters (153 a part once split); one character outside it makes the
whole message UCS-2, 70 UTF-16 code units (67 a part). Vietnamese with its diacritics is always UCS-2,
so `to_gsm7` folds it ("Đường ngập" → "Duong ngap") when the hotline chooses cheaper SMS over accents.
"""

from __future__ import annotations

import unicodedata

# The basic set, in code order (0x1B, the escape to the extension table, is not a character of a text).
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as ESC + a character, so it takes two septets.
EXTENSION = "\f^{}\\[~]|€"

_BASIC = frozenset(BASIC) - {"\x1b"}
_EXTENSION = frozenset(EXTENSION)
GSM7 = _BASIC | _EXTENSION

SINGLE_GSM7 = 160  # septets in one SMS
PART_GSM7 = 153  # septets in each part of a concatenated SMS (the rest is the part header)
SINGLE_UCS2 = 70  # UTF-16 code units in one SMS
PART_UCS2 = 67

# Typography phones and word processors put in texts, as the plain characters GSM-7 has.
_PUNCTUATION = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\t": " ", "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u2009": " ", "\u200a": " ",
    "\u2002": " ", "\u2003": " ", "\u00b7": ".", "\u2022": "-", "\u00d7": "x",
    "\u0111": "d", "\u0110": "D",  # đ and Đ have no decomposition
}


def is_gsm7(text: str) -> bool:
    """Whether every character of `text` is in the GSM 03.38 basic set or its extension table."""
    return all(ch in GSM7 for ch in text)


def _fold_char(ch: str) -> str:
    if ch in _PUNCTUATION:
        return _PUNCTUATION[ch]
    if unicodedata.combining(ch):
        return ""  # a diacritic left on its own after NFC
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    if base and base != ch and is_gsm7(base):
        return base  # a letter without its diacritics: ầ → a, Ç → C, é → e
    if ch in GSM7:
        return ch
    return "?"


def to_gsm7(text: str) -> str:
    """`text` in GSM-7: NFC first, diacritics stripped (đ → d), typographic punctuation made plain, anything else '?'.

    Every accented letter loses its marks, also those GSM-7 has (é, à, ù): Vietnamese written without
    marks reads evenly, while half its tone marks kept would mislead.
    """
    return "".join(_fold_char(ch) for ch in unicodedata.normalize("NFC", text))


def _pack(weights: list[int], single: int, part: int) -> int:
    """Parts needed for units of these sizes; a unit (an escape pair, a surrogate pair) is never split."""
    if sum(weights) <= single:
        return 1
    parts, used = 1, 0
    for weight in weights:
        if used + weight > part:
            parts += 1
            used = 0
        used += weight
    return parts


def segments(text: str) -> int:
    """SMS segments the text is sent in (what the provider charges for); an empty text is one."""
    if is_gsm7(text):
        return _pack([2 if ch in _EXTENSION else 1 for ch in text], SINGLE_GSM7, PART_GSM7)
    return _pack([2 if ord(ch) > 0xFFFF else 1 for ch in text], SINGLE_UCS2, PART_UCS2)
