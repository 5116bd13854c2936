"""Open311 GeoReport v2 under /open311/: thin handlers; every error in the specification's format.

The routes live in a sub-application so that its middleware, not the hotline's JSON error middleware,
renders errors: `[{"code": 404, "description": ...}]` or `<errors><error>…</error></errors>`.
Names, descriptions and status notes are Vietnamese; `?locale=en` (or the form field `locale` on
POST) gives English.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from aiohttp import web

from casework import codes
from integrations.open311 import actions, formats, models, store
from kernel import metrics
from kernel.errors import BadRequest, HotlineError, NotFound, UnsupportedMediaType
from kernel.http import SERVICES, Handler, read_body, retry_later, route_name
from kernel.outage import is_outage

log = logging.getLogger(__name__)

PREFIX = "/open311"
FORMAT = "{format:(json|xml)}"
MAX_IDEMPOTENCY_KEY = 200
TOKEN = re.compile(r"^[0-9A-Za-z_-]{1,100}$")


def _description(error: HotlineError) -> str:
    if isinstance(error.detail, str):
        return error.detail
    if isinstance(error.detail, dict) and error.detail.get("message"):
        field = error.detail.get("field")
        return f"{field}: {error.detail['message']}" if field else str(error.detail["message"])
    return error.code


@web.middleware
async def spec_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure as the specification's error document, in the format the path asks for."""
    fmt = formats.format_of(request.path)
    try:
        return await handler(request)
    except HotlineError as e:
        return formats.errors(fmt, e.http_status, _description(e))
    except web.HTTPException as e:
        if e.status < 400:
            raise
        reason = "not found: use /open311/v2/{resource}.json or .xml" if e.status == 404 else e.reason.lower()
        return formats.errors(fmt, e.status, reason)
    except Exception as e:
        if is_outage(e):  # 503 with Retry-After, as on every other endpoint, in the specification's format
            log.warning("open311 unavailable: %s on %s %s", type(e).__name__, request.method, route_name(request))
            return retry_later(request, formats.errors(fmt, 503, "service unavailable: try again shortly"))
        log.exception("open311: unhandled error on %s %s", request.method, route_name(request))
        return formats.errors(fmt, 500, "internal error")


def _lang(request: web.Request) -> str:
    return models.language(request.query.get("locale"))


def _base_url(request: web.Request) -> str:
    return request.config_dict[SERVICES].settings.public_url


async def discovery(request: web.Request) -> web.Response:
    """GET discovery.{format}: where the endpoint is and what it speaks."""
    return formats.render(request.match_info["format"], "discovery", models.discovery(_base_url(request)))


async def list_services(request: web.Request) -> web.Response:
    """GET services.{format}: one service per field of the hotline."""
    models.check_jurisdiction(request.query.get("jurisdiction_id"))
    lang = _lang(request)
    return formats.render(request.match_info["format"], "services",
                          [models.service(code, lang) for code in models.SERVICE_CODES])


async def service_definition(request: web.Request) -> web.Response:
    """GET services/{service_code}.{format}: the attributes a service takes."""
    models.check_jurisdiction(request.query.get("jurisdiction_id"))
    code = request.match_info["service_code"]
    if code not in models.SERVICE_CODES:
        raise NotFound("service_code not found")
    return formats.render(request.match_info["format"], "service_definition",
                          models.service_definition(code, _lang(request)))


async def _form(request: web.Request, max_bytes: int) -> list[tuple[str, str]]:
    if request.content_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("send application/x-www-form-urlencoded")
    return models.form_pairs(await read_body(request, max_bytes))


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise BadRequest("Idempotency-Key: 1 to 200 printable characters")
    return key


async def _enqueue(request: web.Request, case_id: int) -> None:
    """Queue processing like every channel; a Redis failure loses nothing (the sweeper retries)."""
    await request.config_dict[SERVICES].jobs.process(case_id)


async def post_request(request: web.Request) -> web.Response:
    """POST requests.{format}: a citizen's request becomes a case; answers its code and token at once."""
    services = request.config_dict[SERVICES]
    pairs = await _form(request, services.settings.max_json_bytes)
    fields, attributes = models.split_form(pairs)
    client = await actions.authenticate(services.pool, fields.get("api_key"))
    models.check_jurisdiction(fields.get("jurisdiction_id"))
    form = models.request_form(fields, attributes, services.settings.max_text_chars)
    raw: dict[str, str] = {}
    for key, value in pairs:
        if key != "api_key":
            raw.setdefault(key, value)
    submitted = await actions.submit_request(services.pool, client, form, raw=raw,
                                             idempotency_key=_idempotency_key(request))
    if submitted.created:
        metrics.INTAKE.labels(models.CHANNEL).inc()
        await _enqueue(request, submitted.case_id)
    else:
        metrics.INTAKE_REPLAYED.labels(models.CHANNEL).inc()
    body = [{
        "service_request_id": submitted.tracking_code,
        "token": submitted.token,
        "service_notice": models.notice(submitted.tracking_code, _base_url(request), form.locale),
        "account_id": None,
    }]
    return formats.render(request.match_info["format"], "service_requests", body, status=201)


async def _requests(request: web.Request, query: models.RequestQuery) -> list[dict]:
    async with request.config_dict[SERVICES].pool.acquire() as conn:
        rows = await store.find_requests(conn, query, models.case_statuses(query.statuses), models.MAX_REQUESTS)
    lang, base_url = _lang(request), _base_url(request)
    return [models.service_request(row, lang, base_url) for row in rows]


async def list_requests(request: web.Request) -> web.Response:
    """GET requests.{format}: by ids, or by service, status and a window of at most 90 days."""
    models.check_jurisdiction(request.query.get("jurisdiction_id"))
    query = models.request_query(request.query, datetime.now(UTC))
    return formats.render(request.match_info["format"], "service_requests", await _requests(request, query))


async def get_request(request: web.Request) -> web.Response:
    """GET requests/{service_request_id}.{format}: one request, in a list as the specification shows it."""
    models.check_jurisdiction(request.query.get("jurisdiction_id"))
    code = codes.normalise(request.match_info["service_request_id"])
    found = await _requests(request, models.RequestQuery(ids=(code,))) if code else []
    if not found:
        raise NotFound("service_request_id not found")
    return formats.render(request.match_info["format"], "service_requests", found)


async def get_token(request: web.Request) -> web.Response:
    """GET tokens/{token}.{format}: the service_request_id a token stands for."""
    models.check_jurisdiction(request.query.get("jurisdiction_id"))
    token = request.match_info["token"]
    if not TOKEN.match(token):  # ours are hex; anything else (a NUL included) cannot be one
        raise NotFound("token not found")
    async with request.config_dict[SERVICES].pool.acquire() as conn:
        code = await store.case_for_token(conn, token)
    if code is None:
        raise NotFound("token not found")
    return formats.render(request.match_info["format"], "service_requests",
                          [{"service_request_id": code, "token": token}])


def build_app() -> web.Application:
    app = web.Application(middlewares=[spec_errors])
    app.router.add_get(f"/discovery.{FORMAT}", discovery)
    app.router.add_get(f"/v2/discovery.{FORMAT}", discovery)
    app.router.add_get(f"/v2/services.{FORMAT}", list_services)
    app.router.add_get(f"/v2/services/{{service_code}}.{FORMAT}", service_definition)
    app.router.add_get(f"/v2/requests.{FORMAT}", list_requests)
    app.router.add_post(f"/v2/requests.{FORMAT}", post_request)
    app.router.add_get(f"/v2/requests/{{service_request_id}}.{FORMAT}", get_request)
    app.router.add_get(f"/v2/tokens/{{token}}.{FORMAT}", get_token)
    return app


def setup(app: web.Application) -> None:
    """Mount Open311 at /open311/ on the hotline's app."""
    app.add_subapp(PREFIX, build_app())
