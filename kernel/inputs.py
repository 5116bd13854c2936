"""What may cross the HTTP edge: strict JSON, text PostgreSQL can store, bounded query values, ids, instants.

PostgreSQL's text and jsonb hold neither NUL nor a lone UTF-16 surrogate, jsonb has no NaN or Infinity,
and bigint, int and timestamptz have ranges; Python's int() refuses numbers past 4,300 digits. Each of
these once turned a bad request into a 500. Here they become a 400 naming the field, or, for a citizen's
own words, are cleaned (NUL dropped, a lone surrogate shown as U+FFFD) so that no report is lost.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kernel.errors import BadRequest
from kernel.time import LOCAL_TZ

# No body of this API nests more than a few levels; a deeper one is refused before anything walks it.
MAX_DEPTH = 32
MAX_INT_DIGITS = sys.int_info.default_max_str_digits  # 4300: past it int() raises ValueError
MAX_QUERY_CHARS = 500
BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused:
    """Stands in for a number the parser met and JSON (or PostgreSQL) has no room for."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


_NOT_FINITE = _Refused("NaN and Infinity are not JSON numbers")
_TOO_LARGE = _Refused("a number too large to store")
_TOO_LONG = _Refused(f"an integer of more than {MAX_INT_DIGITS} digits")


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _TOO_LARGE


def _int(text: str) -> int | _Refused:
    return _TOO_LONG if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def _malformed(message: str, field: str | None = None) -> BadRequest:
    return BadRequest({"field": field, "message": f"malformed JSON: {message}"}, code="malformed_json")


def _path(parts: tuple[str | int, ...]) -> str | None:
    return ".".join(str(p) for p in parts) or None


def loads_json(body: bytes, *, text: str = "refuse") -> Any:
    """Parse a JSON body strictly; text="refuse" refuses NUL and lone surrogates (400), "clean" cleans them.

    Refused as 400 `malformed_json`, naming the field where it can: bytes that are not UTF-8, syntax
    errors, NaN and Infinity (also 1e400, which float() makes infinite), integers past 4,300 digits,
    nesting deeper than MAX_DEPTH.
    """
    try:
        source = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _malformed(f"not UTF-8 ({e.reason} at byte {e.start})") from None
    try:
        data = json.loads(source, parse_constant=lambda _: _NOT_FINITE, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as e:
        raise _malformed(f"{e.msg}: line {e.lineno} column {e.colno} (char {e.pos})") from None
    except ValueError as e:  # int() on an exotic literal; kept as the reason
        raise _malformed(str(e)) from None
    except RecursionError:  # "[[[[…" nested past the parser's depth fits in a small body
        raise _malformed("nested too deeply") from None
    _check(data, refuse_text=text == "refuse")
    return scrub(data) if text == "clean" else data


def _check(data: Any, *, refuse_text: bool) -> None:
    """Walk the parsed document without recursion: depth, refused numbers, and (if asked) unstorable text."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, where = stack.pop()
        if len(where) > MAX_DEPTH:
            raise _malformed(f"nested deeper than {MAX_DEPTH} levels", _path(where[:MAX_DEPTH]))
        if isinstance(value, _Refused):
            raise _malformed(value.message, _path(where))
        if isinstance(value, str):
            if refuse_text and (problem := unstorable(value)):
                raise BadRequest({"field": _path(where), "message": problem}, code="invalid_body")
        elif isinstance(value, dict):
            for key, item in value.items():
                if refuse_text and (problem := unstorable(key)):
                    raise BadRequest({"field": _path((*where, key)), "message": f"a key with {problem[3:]}"},
                                     code="invalid_body")
                stack.append((item, (*where, key)))
        elif isinstance(value, list):
            stack.extend((item, (*where, i)) for i, item in enumerate(value))


def unstorable(text: str) -> str | None:
    """Why PostgreSQL cannot store this text (a NUL, a lone surrogate), or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "no NUL characters" if found.group() == "\x00" else "no lone UTF-16 surrogates (not Unicode text)"


def clean_text(text: str) -> str:
    """The text without NUL, each lone surrogate shown as U+FFFD: what a citizen wrote, storable."""
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def scrub(value: Any) -> Any:
    """A copy of a parsed JSON value with every string and key cleaned (depth bounded by loads_json)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def query_text(query: Mapping[str, str], name: str, max_chars: int = MAX_QUERY_CHARS) -> str | None:
    """A query-string value PostgreSQL can take: None when absent; 400 for NUL, surrogates or past max_chars."""
    value = query.get(name)
    if value is None:
        return None
    problem = unstorable(value)
    if problem is None and len(value) > max_chars:
        problem = f"at most {max_chars} characters"
    if problem:
        raise BadRequest({"field": name, "message": problem})
    return value


def whole_number(name: str, raw: str, *, maximum: int = BIGINT_MAX, message: str | None = None) -> int:
    """A whole number from 0 to maximum written in ASCII digits; 400 otherwise ("²" and "1e400" included)."""
    # str.isdigit() accepts "²" and "٣", which int() or PostgreSQL then refuse.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(maximum)) or int(raw) > maximum:
        raise BadRequest({"field": name, "message": message or f"a whole number from 0 to {maximum}"})
    return int(raw)


def instant(name: str, raw: str) -> datetime:
    """An ISO 8601 date or time, local (Asia/Ho_Chi_Minh) when it has no offset, as aware UTC; 400 otherwise.

    A value that cannot be moved to UTC (0001-01-01 in local time, 9999-12-31 west of Greenwich) is refused
    here rather than overflowing in the database driver.
    """
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise BadRequest({"field": name, "message": "use an ISO 8601 date or time"}) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadRequest({"field": name, "message": "a date between the years 1 and 9999 in UTC"}) from None
