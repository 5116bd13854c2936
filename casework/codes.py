"""Tracking codes: ten digits, the last a Damm check digit, drawn at random.

Digits only so a caller can key the code on a phone and an IVR can read it back. The Damm check
digit catches every single-digit error and every swap of two adjacent digits, so a mistyped code
is refused before any lookup. Nine random digits (first non-zero) give 900 million codes, so one
code says nothing about the next.
"""

from __future__ import annotations

import re
import secrets

LENGTH = 10

# The standard Damm quasigroup of order 10 (weakly totally anti-symmetric).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

_SEPARATORS = re.compile(r"[\s\-.]")


def check_digit(digits: str) -> str:
    """Return the Damm check digit of a string of digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return str(interim)


def new_code() -> str:
    """Draw a fresh random tracking code with its check digit."""
    body = str(10 ** (LENGTH - 2) + secrets.randbelow(9 * 10 ** (LENGTH - 2)))
    return body + check_digit(body)


def normalise(raw: str) -> str | None:
    """Return the canonical code for what a citizen typed, or None when it cannot be a valid code."""
    code = _SEPARATORS.sub("", raw or "")
    if len(code) != LENGTH or not code.isascii() or not code.isdigit() or code[0] == "0":
        return None
    return code if check_digit(code) == "0" else None


# Ten digits, perhaps grouped as we print them (123 456 789 0) or with dashes or dots.
_IN_TEXT = re.compile(r"(?<![\d])[1-9](?:[ \-.]?\d){9}(?![\d])")


def find_all(text: str) -> list[str]:
    """The valid codes quoted in a text, in order, each once; a typo's code fails its check digit."""
    found: list[str] = []
    for match in _IN_TEXT.finditer(text or ""):
        code = normalise(match.group())
        if code is not None and code not in found:
            found.append(code)
    return found


def display(code: str) -> str:
    """Group a code for reading aloud or printing: 123 456 789 0."""
    return f"{code[:3]} {code[3:6]} {code[6:9]} {code[9:]}"
