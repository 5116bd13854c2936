"""Public web pages and the report API: thin handlers around casework actions."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import jinja2
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from casework import actions, codes, ratings
from casework.public import public_case
from channels.base import Attachment, InboundEvent, MalformedPayload
from channels.intake import accept
from channels.web.adapter import (
    FORM_IDEMPOTENCY_FIELD,
    build_event,
    idempotency_key,
    report_from_mapping,
    sniff_image,
)
from channels.web.i18n import STRINGS, pick_language
from kernel.errors import BadRequest, HotlineError, NotFound, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from kernel.http import SERVICES, json_response, read_body
from kernel.text import clean
from kernel.time import LOCAL_TZ

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSRF_COOKIE = "hotline_csrf"
LANG_COOKIE = "lang"
FORM_FIELDS = ("text", "name", "phone", "email", "address", "lat", "lon", "locale", "csrf_token",
               FORM_IDEMPOTENCY_FIELD)
NOT_REPORT_FIELDS = ("csrf_token", FORM_IDEMPOTENCY_FIELD)
# A UTF-8 character is at most 4 bytes, so no field a valid report can hold needs more than this per character.
MAX_BYTES_PER_CHAR = 4

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
)


def _fmt(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%H:%M %d/%m/%Y") if value else ""


def _lang(request: web.Request) -> str:
    return pick_language(request.query.get("lang"), request.cookies.get(LANG_COOKIE), None)


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    lang = context.pop("lang", None) or _lang(request)
    html = _templates.get_template(name).render(lang=lang, t=STRINGS[lang], fmt=_fmt, **context)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    if request.query.get("lang") in STRINGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def _accept(request: web.Request, event: InboundEvent) -> actions.IntakeResult:
    """Store the report, then ask for its processing; a lost request loses nothing (the sweeper retries)."""
    return await accept(request.app[SERVICES], event)


MAX_PARTS = 64  # the form has a dozen fields and five photos; more parts is not a browser


async def _read_multipart(request: web.Request) -> tuple[dict[str, str], list[Attachment]]:
    """Read form fields and photos; a body that is not multipart as RFC 7578 writes it is 400."""
    try:
        return await _read_parts(request)
    except (ValueError, HttpProcessingError) as e:
        # No, an empty or an overlong boundary, a truncated body, a part header without its blank line.
        raise BadRequest({"field": None, "message": f"malformed multipart body: {str(e)[:200]}"},
                         code="malformed_multipart") from None


async def _read_parts(request: web.Request) -> tuple[dict[str, str], list[Attachment]]:
    """Read form fields and photos, enforcing count, size and image type as the parts arrive.

    A chunked body has no Content-Length to check up front, so every byte read, kept or not,
    counts against the whole body's limit.
    """
    settings = request.app[SERVICES].settings
    budget = _Budget(settings.max_multipart_bytes)
    fields: dict[str, str] = {}
    photos: list[Attachment] = []
    reader = await request.multipart()
    parts = 0
    while (part := await reader.next()) is not None:
        parts += 1
        if parts > MAX_PARTS:
            raise BadRequest({"field": None, "message": f"at most {MAX_PARTS} form parts"}, code="too_many_parts")
        if not isinstance(part, BodyPartReader):
            raise BadRequest({"field": None, "message": "a form part may not be multipart itself"},
                             code="malformed_multipart")
        if part.name == "photos" and part.filename is not None:
            if not part.filename and part.headers.get("Content-Type", "") == "application/octet-stream":
                await budget.drain(part)  # an empty file input
                continue
            if len(photos) >= settings.max_photos:
                raise BadRequest({"field": "photos", "message": f"at most {settings.max_photos} photos"},
                                 code="too_many_photos")
            data = await budget.read(part, settings.max_photo_bytes)
            if not data:
                continue
            declared = part.headers.get("Content-Type", "")
            actual = sniff_image(data, declared)
            if actual is None:
                raise UnsupportedMediaType({"field": "photos", "message": "images only (JPEG, PNG, GIF, WebP, HEIC)"})
            # Some clients percent-encode non-ASCII names (RFC 5987 filename*); browsers send UTF-8.
            filename = clean(Path(unquote(part.filename)).name)[:200] or "photo"
            photos.append(Attachment(filename=filename, content_type=actual, data=data))
        elif part.name in FORM_FIELDS:
            data = await budget.read(part, settings.max_text_chars * MAX_BYTES_PER_CHAR)
            fields[part.name] = data.decode("utf-8", errors="replace")
        else:
            await budget.drain(part)
    return fields, photos


class _Budget:
    """The bytes a multipart body may still bring; parts are read to their end, never cut."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.left = max_bytes

    async def read(self, part: BodyPartReader, max_part_bytes: int) -> bytes:
        """Read a part to its end; past its own cap or the body's, refuse it (413) rather than keep a cut."""
        # read_chunk returns only what has arrived, so a slow or chunked client needs the loop.
        data = bytearray()
        while chunk := await part.read_chunk(65536):
            data.extend(chunk)
            self._spend(len(chunk))
            if len(data) > max_part_bytes:
                raise PayloadTooLarge({"field": part.name, "max_bytes": max_part_bytes})
        return bytes(data)

    async def drain(self, part: BodyPartReader) -> None:
        """Skip a part we do not use, still counting its bytes."""
        while chunk := await part.read_chunk(65536):
            self._spend(len(chunk))

    def _spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise PayloadTooLarge({"field": None, "max_bytes": self.max_bytes})


def _report_fields(fields: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if k not in NOT_REPORT_FIELDS}


def _check_size(request: web.Request, limit: int) -> None:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge({"max_bytes": limit})


async def create_report(request: web.Request) -> web.Response:
    """POST /api/v1/reports: JSON (text only) or multipart (with photos); 201 with the case code."""
    services = request.app[SERVICES]
    adapter = services.adapters["web"]
    if request.content_type == "application/json":
        await adapter.verify(request)
        (event,) = adapter.parse(request.headers, await read_body(request, services.settings.max_json_bytes))
    elif request.content_type == "multipart/form-data":
        _check_size(request, services.settings.max_multipart_bytes)
        fields, photos = await _read_multipart(request)
        key = idempotency_key(request.headers, fields.get(FORM_IDEMPOTENCY_FIELD))
        report = report_from_mapping(_report_fields(fields), services.settings.max_text_chars)
        event = build_event(report, tuple(photos), key, report.model_dump(mode="json"))
    else:
        raise UnsupportedMediaType("send application/json or multipart/form-data")
    result = await _accept(request, event)
    return adapter.ack([event], [result])


async def get_report(request: web.Request) -> web.Response:
    """GET /api/v1/reports/{code}: the public view of a case."""
    lang = "en" if request.query.get("lang") == "en" else "vi"
    case = await public_case(request.app[SERVICES].pool, request.match_info["code"], lang)
    return json_response(case)


def _form(request: web.Request, status: int, values: dict[str, str], errors: list[dict[str, str | None]]
          ) -> web.Response:
    """The report form with a CSRF token and a fresh idempotency key, so a double click makes one case."""
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "form.html", status=status, csrf_token=token,
                      idempotency_key=secrets.token_urlsafe(24), values=values, errors=errors)
    response.set_cookie(CSRF_COOKIE, token, samesite="Strict", httponly=True)
    # A form shown again from the cache would carry a key already spent on another report.
    response.headers["Cache-Control"] = "no-store"
    return response


async def form_page(request: web.Request) -> web.Response:
    """GET /: the public report form."""
    return _form(request, 200, {}, [])


async def submit_form(request: web.Request) -> web.StreamResponse:
    """POST /report: the HTML form; redirects to the status page, or shows the form again with errors."""
    services = request.app[SERVICES]
    lang = _lang(request)
    t = STRINGS[lang]
    if request.content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return render(request, "error.html", status=415, message=t["bad_value"])
    values: dict[str, str] = {}
    try:
        _check_size(request, services.settings.max_multipart_bytes)
        if request.content_type == "multipart/form-data":
            values, photos = await _read_multipart(request)
        else:
            values, photos = await _read_urlencoded(request, services.settings.max_multipart_bytes), []
        cookie = request.cookies.get(CSRF_COOKIE)
        if not cookie or not _same_token(cookie, values.get("csrf_token", "")):
            return render(request, "error.html", status=403, message=t["csrf"])
        key = idempotency_key(request.headers, values.get(FORM_IDEMPOTENCY_FIELD))
        report = report_from_mapping(_report_fields(values), services.settings.max_text_chars)
        event = build_event(report, tuple(photos), key, report.model_dump(mode="json"))
    except HotlineError as e:
        errors = _form_errors(e, t, services.settings.max_text_chars)
        return _form(request, e.http_status, _report_fields(values), errors)
    try:
        result = await _accept(request, event)
    except Unprocessable as e:
        if e.code != "idempotency_key_reused":
            raise
        # The page was sent before with other content (a form restored by Back): show it again with a new key.
        return _form(request, e.http_status, _report_fields(values), [{"field": None, "message": t["resubmit"]}])
    raise web.HTTPSeeOther(f"/track/{result.tracking_code}?new=1&lang={lang}")


async def _read_urlencoded(request: web.Request, max_bytes: int) -> dict[str, str]:
    """The fields of a urlencoded form; bytes that are not UTF-8 show as U+FFFD (a citizen's words are kept)."""
    return form_fields(await read_body(request, max_bytes))


def form_fields(body: bytes) -> dict[str, str]:
    """Parse a urlencoded body (the last of repeated fields counts); bytes that are not UTF-8 become U+FFFD."""
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_PARTS)
    except ValueError:
        raise BadRequest({"field": None, "message": f"at most {MAX_PARTS} form fields"},
                         code="too_many_parts") from None
    return dict(pairs)


def _same_token(cookie: str, sent: str) -> bool:
    """Compare CSRF tokens in constant time; compare_digest refuses str with non-ASCII, bytes compare anything."""
    return secrets.compare_digest(cookie.encode("utf-8", "surrogatepass"), sent.encode("utf-8", "surrogatepass"))


def _form_errors(error: HotlineError, t: dict[str, str], max_text_chars: int) -> list[dict[str, str | None]]:
    detail = error.detail if isinstance(error.detail, dict) else {}
    field = detail.get("field")
    too_long_text = t["text_too_long"].format(max=max_text_chars)
    if isinstance(error, PayloadTooLarge):
        if field == "text":
            return [{"field": "text", "message": too_long_text}]
        if field in FORM_FIELDS:
            return [{"field": field, "message": f"{t.get(field, field)}: {t['too_long']}"}]
        return [{"field": "photos", "message": t["photo_too_large"]}]
    if isinstance(error, UnsupportedMediaType):
        return [{"field": "photos", "message": t["not_image"]}]
    if error.code == "too_many_photos":
        return [{"field": "photos", "message": t["too_many_photos"]}]
    problems = detail.get("problems") or [{"field": field, "message": detail.get("message")}]
    out = []
    for p in problems:
        label = t.get(p["field"] or "", p["field"] or "")
        if p["field"] == "text":
            message = too_long_text if "max_chars" in detail else t["text_required"]
        else:
            message = f"{label}: {t['bad_value']}"
        out.append({"field": p["field"], "message": message})
    return out


async def track_lookup(request: web.Request) -> web.StreamResponse:
    """GET /track: a box to type a code into."""
    code = request.query.get("code")
    if code:
        lang = _lang(request)
        raise web.HTTPSeeOther(f"/track/{''.join(ch for ch in code if ch.isdigit())}?lang={lang}")
    return render(request, "lookup.html", code=None, message=None)


async def track_page(request: web.Request) -> web.Response:
    """GET /track/{code}: the public status page (with the rating form for a web-form report once answered)."""
    return await _status_page(request, token=None)


async def rate_page(request: web.Request) -> web.Response:
    """GET /track/{code}/rate?t=…: the status page with the rating form, from the link under an answer."""
    return await _status_page(request, token=request.query.get("t") or None)


RATED_RESULTS = ("rated", "reopened", "too_late")
SCORES = ("1", "2", "3", "4", "5")
MAX_RATING_FORM_BYTES = 4096


async def _status_page(request: web.Request, *, token: str | None, status: int = 200,
                       error: str | None = None) -> web.Response:
    """The status page; the rating form when the case is answered and the visitor may rate it (403: a bad link)."""
    services = request.app[SERVICES]
    lang = _lang(request)
    t = STRINGS[lang]
    raw = request.match_info["code"]
    try:
        case = await public_case(services.pool, raw, lang)
    except BadRequest:
        return render(request, "lookup.html", status=400, code=raw, message=t["invalid_code"])
    except NotFound:
        return render(request, "lookup.html", status=404, code=raw, message=t["not_found"])
    form = await ratings.rating_form(services.pool, case["tracking_code"], key=services.settings.signing_key,
                                     token=token, now=services.clock())
    if token is not None and not form.allowed:
        return render(request, "error.html", status=403, message=t["rate_forbidden"])
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    rated = request.query.get("rated")
    response = render(request, "track.html", status=status, case=case, submitted=request.query.get("new") == "1",
                      rated=rated if rated in RATED_RESULTS else None, rating=form, token=token, csrf_token=csrf,
                      error=error, scores=SCORES)
    if form.show:
        response.set_cookie(CSRF_COOKIE, csrf, samesite="Strict", httponly=True)
        response.headers["Cache-Control"] = "no-store"
    return response


async def rate_answer(request: web.Request) -> web.StreamResponse:
    """POST /track/{code}/rate: the rating form (solved yes/no, 1-5 stars), with a link's token or, for a
    web-form report, the code alone; then the status page says thank you."""
    services = request.app[SERVICES]
    lang = _lang(request)
    t = STRINGS[lang]
    if request.content_type != "application/x-www-form-urlencoded":
        return render(request, "error.html", status=415, message=t["bad_value"])
    try:
        values = form_fields(await read_body(request, MAX_RATING_FORM_BYTES))
    except HotlineError as e:
        return render(request, "error.html", status=e.http_status, message=t["bad_value"])
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not _same_token(cookie, values.get("csrf_token", "")):
        return render(request, "error.html", status=403, message=t["csrf"])
    token = values.get("t") or None
    code = codes.normalise(request.match_info["code"])
    if code is None:
        return render(request, "lookup.html", status=400, code=request.match_info["code"], message=t["invalid_code"])
    solved, score = values.get("solved", ""), values.get("rating", "")
    problem = ("rate_need_solved" if solved not in ("yes", "no") else "rate_bad_score" if score not in ("", *SCORES)
               else "rate_need_score" if solved == "yes" and not score else None)
    if problem is not None:
        return await _status_page(request, token=token, status=400, error=t[problem])
    result = await ratings.rate_by_link(services.pool, code, key=services.settings.signing_key, token=token,
                                        rating=int(score) if score else None, solved=solved == "yes",
                                        now=services.clock())
    if result == "not_found":
        return render(request, "lookup.html", status=404, code=code, message=t["not_found"])
    if result == "forbidden":
        return render(request, "error.html", status=403, message=t["rate_forbidden"])
    if result == "not_answered":
        return render(request, "error.html", status=409, message=t["rate_not_answered"])
    log.info("case %s: rated on the status page (%s)", code, result)
    raise web.HTTPSeeOther(f"/track/{code}?rated={result}&lang={lang}")


def setup(app: web.Application) -> None:
    app.router.add_get("/", form_page)
    app.router.add_post("/report", submit_form)
    app.router.add_get("/track", track_lookup)
    app.router.add_get("/track/{code}", track_page)
    app.router.add_get("/track/{code}/rate", rate_page)
    app.router.add_post("/track/{code}/rate", rate_answer)
    app.router.add_post("/api/v1/reports", create_report)
    app.router.add_get("/api/v1/reports/{code}", get_report)
    app.router.add_static("/static", HERE / "static", append_version=False)


__all__ = ["setup", "MalformedPayload"]
