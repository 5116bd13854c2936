"""One error family, rendered as {"error": code, "detail": ...} by one middleware."""

from __future__ import annotations

from typing import Any


class HotlineError(Exception):
    code = "error"
    http_status = 500

    def __init__(self, detail: Any = None, *, code: str | None = None) -> None:
        super().__init__(detail if isinstance(detail, str) else code or self.code)
        self.detail = detail
        if code:
            self.code = code


class BadRequest(HotlineError):
    code = "bad_request"
    http_status = 400


class Unauthorized(HotlineError):
    code = "unauthorized"
    http_status = 401


class Forbidden(HotlineError):
    code = "forbidden"
    http_status = 403


class NotFound(HotlineError):
    code = "not_found"
    http_status = 404


class Conflict(HotlineError):
    code = "conflict"
    http_status = 409


class Unprocessable(HotlineError):
    code = "unprocessable"
    http_status = 422


class PayloadTooLarge(HotlineError):
    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaType(HotlineError):
    code = "unsupported_media_type"
    http_status = 415
