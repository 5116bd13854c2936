"""Text hygiene at intake: Unicode NFC, control characters removed, and a search key without diacritics."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """NFC-normalise, drop control characters, trim."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


_COMBINING = re.compile(r"[\u0300-\u036f]")


def fold(text: str) -> str:
    """Lower-case and strip diacritics (đ → d) so 'ngập nước' and 'ngap nuoc' meet."""
    stripped = _COMBINING.sub("", unicodedata.normalize("NFD", text.lower().replace("đ", "d")))
    if not stripped.isascii():
        stripped = unicodedata.normalize("NFC", stripped)  # letters of other scripts stay whole
    return " ".join(stripped.split())
