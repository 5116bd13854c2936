"""HTTP plumbing shared by every context's views: error rendering, JSON in and out, the services key."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from kernel.errors import BadRequest, HotlineError, PayloadTooLarge, UnsupportedMediaType
from kernel.inputs import loads_json
from kernel.logs import exception_summary
from kernel.outage import is_outage
from kernel.time import rfc3339

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The composition root puts its services (pool, jobs, clock, settings, ...) here for every view.
SERVICES = web.AppKey("services", object)
# What a 503 asks clients to wait, in seconds (the Retry-After header); the composition root sets it.
RETRY_AFTER = web.AppKey("retry_after_seconds", int)
DEFAULT_RETRY_AFTER = 5
# Paths that answer JSON (or their own format) whatever the client accepts; the rest are pages.
API_PATHS = ("/api/", "/open311/", "/healthz", "/metrics")

_UNAVAILABLE_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Tạm thời gián đoạn / Temporarily unavailable</title></head>
<body><h1>Hệ thống tạm thời gián đoạn</h1>
<p>Yêu cầu của bạn có thể chưa được ghi nhận. Vui lòng thử lại sau {seconds} giây.
Nếu việc khẩn cấp, hãy gọi 1022.</p>
<p lang="en">The service is briefly unavailable and your request may not have been recorded. Please try
again in {seconds} seconds. For an emergency, call 1022.</p></body></html>
"""


def error_response(code: str, status: int, detail: Any = None) -> web.Response:
    body: dict[str, Any] = {"error": code}
    if detail is not None:
        body["detail"] = detail
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HotlineError as e:
        return error_response(e.code, e.http_status, e.detail)
    except web.HTTPRequestEntityTooLarge as e:
        return error_response("payload_too_large", 413, {"max_bytes": e.max_size if hasattr(e, "max_size") else None})
    except web.HTTPException as e:
        if e.status >= 400 and request.path.startswith(("/api/", "/healthz")):
            return error_response(e.reason.lower().replace(" ", "_"), e.status)
        raise
    except Exception as e:
        # The route's pattern, not the path: a path can carry what a client typed (a phone number as a code).
        if is_outage(e):
            log.warning("unavailable: %s on %s %s", type(e).__name__, request.method, route_name(request))
            return unavailable_response(request)
        log.error("unhandled error on %s %s\n%s", request.method, route_name(request), exception_summary(e))
        return error_response("internal_error", 500)


def route_name(request: web.Request) -> str:
    """The route's pattern ("/track/{code}"), which names the endpoint without what the client put in the path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


def retry_after(request: web.Request) -> int:
    return request.config_dict.get(RETRY_AFTER, DEFAULT_RETRY_AFTER)


def wants_page(request: web.Request) -> bool:
    """Whether an error should be a page: a browser's request (it accepts HTML) for anything but an API path."""
    if request.path.startswith(API_PATHS):
        return False
    accept = request.headers.get("Accept", "*/*")
    return any(kind in accept for kind in ("text/html", "text/*", "*/*"))


def retry_later(request: web.Request, response: web.Response) -> web.Response:
    """Mark a 503 with Retry-After and keep it out of caches."""
    response.headers["Retry-After"] = str(retry_after(request))
    response.headers["Cache-Control"] = "no-store"
    return response


def unavailable_response(request: web.Request) -> web.Response:
    """503 service_unavailable: a short bilingual page for browsers, the JSON error for API clients."""
    seconds = retry_after(request)
    if wants_page(request):
        response = web.Response(text=_UNAVAILABLE_PAGE.format(seconds=seconds), status=503,
                                content_type="text/html", charset="utf-8")
    else:
        response = error_response("service_unavailable", 503, {
            "message": "briefly unavailable: try again shortly (a write with the same Idempotency-Key)",
            "retry_after": seconds,
        })
    return retry_later(request, response)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)  # RFC 3339, not str(datetime)'s space-separated form
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=json_dumps)


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """Read a whole body, refusing with 413 as soon as it passes max_bytes."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge({"max_bytes": max_bytes})
    body = await request.content.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise PayloadTooLarge({"max_bytes": max_bytes})
    return body


async def read_json(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """Read a JSON object body: 415 for another type, 413 when too large, 400 when unreadable."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send application/json")
    body = await read_body(request, max_bytes)
    # Strict: no NaN, Infinity, 4,300-digit integers, deep nesting, NUL or lone surrogates (400 naming the field).
    data = loads_json(body)
    if not isinstance(data, dict):
        raise BadRequest({"field": None, "message": "expected a JSON object"}, code="malformed_json")
    return data


def parse_body(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """Validate a JSON body into its model; 400 naming the first field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        raise BadRequest({"field": ".".join(str(p) for p in first["loc"]) or None, "message": first["msg"]},
                         code="invalid_body") from None
