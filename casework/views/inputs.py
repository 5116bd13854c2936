"""What the staff API accepts: who may call, how large a body is, row ids, codes and idempotency keys."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, Field

from casework import actions
from casework.models import Role
from kernel.errors import BadRequest

ALL_STAFF = (Role.AGENT, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
EDITORS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
MAX_BODY = 64 * 1024

# Row ids are PostgreSQL bigints; a longer number, or a Unicode digit ("²", "٣") that str.isdigit()
# accepts and int() or the database does not, is refused before any lookup.
MAX_ID = 2**63 - 1


def path_id(request: web.Request, name: str) -> int:
    """Return the row id in the path segment `name`; 400 for anything but a bigint written in ASCII digits."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_ID:
        raise BadRequest({"field": name, "message": "not an id: a whole number from 0 to 2^63-1"})
    return int(raw)


def path_case_id(request: web.Request) -> int:
    """Return the case id of a /api/v1/cases/{case_id} path."""
    return path_id(request, "case_id")


def _code(value: str) -> str:
    if not value or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("a code: no spaces or control characters")
    return value


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; other control characters are dropped by kernel.text.clean.
    if "\x00" in value:
        raise ValueError("no NUL characters")
    return value


# Unit, field and ward codes, and reasons, as staff bodies carry them (lengths before the checks, so a
# too-long value is told as such).
Code = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_code)]
WardCode = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_code)]
Reason = Annotated[str, Field(max_length=2000), AfterValidator(_text)]


def request_key(request: web.Request, data: dict[str, Any]) -> actions.RequestKey | None:
    """The request's Idempotency-Key with a hash of its path and body; None when it sent none."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not (1 <= len(key) <= 200) or not key.isascii() or not key.isprintable():
        raise BadRequest({"field": "Idempotency-Key", "message": "1 to 200 printable ASCII characters"})
    digest = hashlib.sha256(f"{request.path}\n{json.dumps(data, sort_keys=True)}".encode()).hexdigest()
    return actions.RequestKey(key, digest)
