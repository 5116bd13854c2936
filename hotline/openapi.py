"""The OpenAPI 3.1 description of the public, staff, admin and Open311 API, served at GET /api/openapi.json.

Paths, parameters and answers are written here; request bodies are the views' own pydantic models
(`model_json_schema`), so a field added to a model shows in the document with no other edit.
tests/hotline/test_openapi.py fails when a route under /api/ or /open311/ is missing from it.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from casework.models import FIELDS, Status
from casework.reports.sla import GROUPS
from casework.views.cases import MAX_CURSOR, CaseUpdateIn
from casework.views.inputs import MAX_ID
from casework.views.lifecycle import AssignIn, ReasonIn, StatusIn, TransferIn, UnlinkIn
from casework.views.messages import TextIn
from casework.views.session import LoginIn, PresenceIn
from channels.web.adapter import ReportIn
from integrations.open311.models import SERVICE_CODES, URGENT_VALUES, RequestForm
from kernel.http import SERVICES, json_response
from kernel.inputs import INT_MAX, MAX_QUERY_CHARS
from routing.views import OverrideIn, PolicyIn, PreviewIn, RuleIn, UnitIn, UnitPatch

PATH = "/api/openapi.json"
REF = "#/components/schemas/{model}"
MODELS: tuple[type[BaseModel], ...] = (
    ReportIn, CaseUpdateIn, StatusIn, TextIn, TransferIn, ReasonIn, AssignIn, UnlinkIn, LoginIn, PresenceIn,
    UnitIn, UnitPatch, RuleIn, PolicyIn, OverrideIn, PreviewIn,
)
STAFF = [{"bearerAuth": []}, {"sessionCookie": []}]
ERRORS = {
    400: "Bad input: the detail names the field (`detail.field`) and says what is wrong",
    401: "No valid bearer token or session",
    403: "The role may not do this (or a missing CSRF token with a session cookie)",
    404: "No such resource (or one the caller may not see)",
    409: "The case's state refuses the move",
    413: "The body is larger than allowed",
    415: "Another content type is expected",
    422: "Well-formed but refused (an unknown unit, an Idempotency-Key reused with another body)",
    429: "Too many requests from this address (Retry-After)",
}


# --- building blocks ------------------------------------------------------------------------------

def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answers(ok: int, ok_schema: dict[str, Any] | None, *errors: int, description: str = "Done") -> dict[str, Any]:
    out: dict[str, Any] = {str(ok): {"description": description}}
    if ok_schema is not None:
        out[str(ok)]["content"] = _json(ok_schema)
    for code in errors:
        out[str(code)] = {"description": ERRORS[code], "content": _json(_ref("Error"))}
    return out


def _body(model: str | dict[str, Any], required: bool = True) -> dict[str, Any]:
    schema = _ref(model) if isinstance(model, str) else model
    return {"required": required, "content": _json(schema)}


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                   "description": "Replaying the same key with the same body answers the first result"}
CASE_ID = _path("case_id", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "The case's id")
TRACKING_CODE = _path("code", {"type": "string", "pattern": "^[0-9]{10}$"},
                      "The ten-digit tracking code (spaces, dots and dashes between digits are ignored)")
RULE_OR_POLICY_ID = _path("id", {"type": "integer", "minimum": 0, "maximum": INT_MAX}, "The row's id")
UNIT_CODE = _path("code", {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9-]+$"},
                  "The unit's code: letters, digits and dashes")
DAY = _path("day", {"type": "string", "format": "date"}, "A date, YYYY-MM-DD")
FORMAT = _path("format", {"type": "string", "enum": ["json", "xml"]}, "The answer's format")
LOCALE = _query("locale", {"type": "string", "maxLength": 20}, "`en` for English names; Vietnamese otherwise")
JURISDICTION = _query("jurisdiction_id", {"type": "string", "maxLength": 100},
                      "This server's jurisdiction (hcmc.gov.vn) or nothing")
LANG = _query("lang", {"type": "string", "enum": ["vi", "en"]}, "The language of labels")


def _case_list_parameters() -> list[dict[str, Any]]:
    text = {"type": "string", "maxLength": MAX_QUERY_CHARS}
    instant = {"type": "string", "description": "An ISO 8601 date or date-time; Ho Chi Minh City time when no offset"}
    return [
        _query("status", {"type": "string", "enum": [s.value for s in Status]}, "Only cases in this status"),
        _query("field", {"type": "string", "enum": sorted(FIELDS)}, "Only cases of this field"),
        _query("department", text, "Only cases with this unit"),
        _query("ward", text, "Only cases in this ward (code)"),
        _query("channel", text, "Only cases that came in on this channel"),
        _query("from", instant, "Created at or after"),
        _query("to", instant, "Created before"),
        _query("q", text, "Words in the description (diacritics optional)"),
        _query("urgent", {"type": "string", "enum": ["true", "false"]}, "Only urgent (or only other) cases"),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "Page size"),
        _query("cursor", {"type": "string", "maxLength": MAX_CURSOR}, "`next_cursor` of the previous page"),
    ]


# --- the public API -------------------------------------------------------------------------------

def _public() -> dict[str, Any]:
    report_form = {
        "type": "object",
        "required": ["text"],
        "properties": {
            **{k: {"type": "string"} for k in ("text", "name", "phone", "email", "address", "lat", "lon", "locale")},
            "idempotency_key": {"type": "string", "maxLength": 200},
            "photos": {"type": "array", "items": {"type": "string", "format": "binary"}, "maxItems": 5},
        },
    }
    created = {"type": "object", "required": ["tracking_code", "status_url", "status"], "properties": {
        "tracking_code": {"type": "string"}, "status_url": {"type": "string"}, "status": {"type": "string"}}}
    return {
        "/api/v1/reports": {"post": {
            "tags": ["public"], "operationId": "createReport",
            "summary": "Report a problem (JSON, or multipart with photos)",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("ReportIn")},
                "multipart/form-data": {"schema": report_form},
            }},
            "responses": _answers(201, created, 400, 413, 415, 422, 429, description="Stored; follow it by its code"),
        }},
        "/api/v1/reports/{code}": {"get": {
            "tags": ["public"], "operationId": "getReport", "summary": "The public view of a case",
            "parameters": [TRACKING_CODE, LANG],
            "responses": _answers(200, _ref("PublicCase"), 400, 404, 429),
        }},
        "/api/v1/procedures": {"get": {
            "tags": ["public"], "operationId": "searchProcedures", "summary": "Search administrative procedures",
            "parameters": [_query("q", {"type": "string", "minLength": 1, "maxLength": 500}, "Words", required=True),
                           _query("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
                                  "How many")],
            "responses": _answers(200, {"type": "object"}, 400, 429),
        }},
        "/api/v1/procedures/{code}": {"get": {
            "tags": ["public"], "operationId": "getProcedure", "summary": "One procedure",
            "parameters": [_path("code", {"type": "string", "pattern": "^[0-9A-Za-z._-]{1,40}$"}, "Its code")],
            "responses": _answers(200, {"type": "object"}, 404, 429),
        }},
        "/api/v1/session": {
            "post": {"tags": ["staff"], "operationId": "signIn", "summary": "Sign in: sets the session cookie",
                     "requestBody": _body("LoginIn"),
                     "responses": _answers(200, {"type": "object", "properties": {"csrf_token": {"type": "string"}}},
                                           400, 401, 415, 429)},
            "delete": {"tags": ["staff"], "operationId": "signOut", "summary": "Sign out", "security": STAFF,
                       "responses": _answers(204, None, 401, description="Signed out")},
        },
        PATH: {"get": {
            "tags": ["public"], "operationId": "openapi", "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": _json({"type": "object"})}},
        }},
    }


# --- the staff API --------------------------------------------------------------------------------

CASE = _ref("Case")


def _staff(method: str, op_id: str, summary: str, *, body: str | None = None, params: list | None = None,
           ok: int = 200, ok_schema: dict[str, Any] | None = CASE, errors: tuple[int, ...] = (),
           body_required: bool = True) -> dict[str, Any]:
    operation: dict[str, Any] = {"tags": ["staff"], "operationId": op_id, "summary": summary, "security": STAFF,
                                 "parameters": params or []}
    if body:
        operation["requestBody"] = _body(body, body_required)
        errors = (400, 413, 415, *errors)
    operation["responses"] = _answers(ok, ok_schema, *sorted({401, 403, *errors}))
    return {method: operation}


def _staff_api() -> dict[str, Any]:
    case_move = (400, 404, 409, 422)
    return {
        "/api/v1/cases": _staff("get", "listCases", "Cases, newest first, with filters and a cursor",
                                params=_case_list_parameters(), errors=(400,), ok_schema={
                                    "type": "object", "properties": {
                                        "items": {"type": "array", "items": _ref("Case")},
                                        "next_cursor": {"type": ["string", "null"]}}}),
        "/api/v1/cases/{case_id}": {
            **_staff("get", "getCase", "A case with its citizen, messages and events", params=[CASE_ID],
                     errors=(400, 404)),
            **_staff("patch", "updateCase", "Correct a case's field, ward or unit", body="CaseUpdateIn",
                     params=[CASE_ID], errors=case_move),
        },
        "/api/v1/cases/{case_id}/status": _staff("post", "changeStatus", "Move a case", body="StatusIn",
                                                 params=[CASE_ID, IDEMPOTENCY_KEY], errors=case_move),
        "/api/v1/cases/{case_id}/replies": _staff(
            "post", "reply", "Answer the citizen (queued for sending)", body="TextIn",
            params=[CASE_ID, IDEMPOTENCY_KEY], ok=201, errors=case_move,
            ok_schema={"type": "object", "properties": {"message_id": {"type": "integer"},
                                                        "status": {"type": "string"}}}),
        "/api/v1/cases/{case_id}/notes": _staff("post", "addNote", "An internal note", body="TextIn",
                                                params=[CASE_ID, IDEMPOTENCY_KEY], ok=201, errors=case_move,
                                                ok_schema={"type": "object"}),
        "/api/v1/cases/{case_id}/transfer": _staff("post", "transfer", "Hand a case to another unit",
                                                   body="TransferIn", params=[CASE_ID], errors=case_move),
        "/api/v1/cases/{case_id}/assign": _staff(
            "post", "assign", "Give a case to a person of its queue (its unit's staff, or the centre's agents); "
                              "null puts it back in the queue", body="AssignIn",
            params=[CASE_ID, IDEMPOTENCY_KEY], errors=case_move),
        "/api/v1/cases/{case_id}/pause": _staff("post", "pauseClock", "Stop the SLA clock (waiting on the citizen)",
                                                body="ReasonIn", params=[CASE_ID], errors=case_move),
        "/api/v1/cases/{case_id}/resume": _staff("post", "resumeClock", "Start the SLA clock again",
                                                 body="ReasonIn", body_required=False, params=[CASE_ID],
                                                 errors=case_move),
        "/api/v1/cases/{case_id}/duplicate/confirm": _staff("post", "confirmDuplicate",
                                                            "Confirm the suggested duplicate link", params=[CASE_ID],
                                                            errors=case_move),
        "/api/v1/cases/{case_id}/duplicate/unlink": _staff(
            "post", "unlinkDuplicate", "Not a duplicate after all: unlink it and send it back to work (its unit, "
                                       "or triage)", body="UnlinkIn", params=[CASE_ID, IDEMPOTENCY_KEY],
            errors=case_move),
        "/api/v1/notifications": _staff("get", "notifications", "Notifications for my unit (or supervisors)",
                                        ok_schema={"type": "object"}),
        "/api/v1/me/presence": _staff("put", "presence", "Say I am available (or away)", body="PresenceIn",
                                      ok_schema={"type": "object"}),
        "/api/v1/attachments/{attachment_id}": _staff(
            "get", "attachment", "A photo a citizen sent", errors=(400, 404),
            params=[_path("attachment_id", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "Its id")],
            ok_schema={}),
        "/api/v1/me": _staff("get", "me", "Who am I", ok_schema={"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "role": {"type": "string"},
            "department": {"type": ["string", "null"]}}}),
        "/api/v1/routing/preview": _staff("post", "previewRouting", "Where a case would go now, and by when",
                                          body="PreviewIn", ok_schema={"type": "object"}),
    }


def _stats() -> dict[str, Any]:
    """The reports' figures (formulas and time rules: docs/metrics.md); a unit's staff get their unit's only."""
    day = {"type": "string", "format": "date"}
    unit = _query("unit", {"type": "string", "minLength": 1, "maxLength": 64},
                  "One unit's cases only (a department user: their own, whatever is asked)")
    figures = {"type": "object", "description": "Counts, rates (null when nothing to divide by) and durations "
                                                "(median, 90th percentile and mean minutes, clock and working time)"}
    downloads = [_query("format", {"type": "string", "enum": ["json", "csv", "xlsx", "pdf"], "default": "json"},
                        "JSON, or a file to download: CSV (UTF-8), a spreadsheet, or the PDF report with charts"),
                 _query("lang", {"type": "string", "enum": ["vi", "en"], "default": "vi"},
                        "The language of a downloaded file's headings and text")]
    files = {"text/csv": {"schema": {"type": "string"}},
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                 "schema": {"type": "string", "format": "binary"}},
             "application/pdf": {"schema": {"type": "string", "format": "binary"}}}

    def with_files(operation: dict[str, Any]) -> dict[str, Any]:
        operation["get"]["responses"]["200"]["content"].update(files)
        return operation

    return {
        "/api/v1/stats/sla": with_files(_staff("get", "slaStats",
                                               "SLA figures of a period by unit, field, channel or ward",
                                    errors=(400,), params=[
                                        _query("from", day, "First day (Vietnam time), with `to`"),
                                        _query("to", day, "Last day, included"),
                                        _query("month", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                               "The city's month: 12:00 on the 25th before to 12:00 on the 25th "
                                               "(default: the current one)"),
                                        _query("by", {"type": "string", "enum": list(GROUPS), "default": "unit"},
                                               "The grouping of the rows"),
                                        unit, *downloads],
                                    ok_schema={"type": "object", "properties": {
                                        "period": {"type": "object"}, "by": {"type": "string"},
                                        "as_of": {"type": "string", "format": "date-time"},
                                        "total": figures, "rows": {"type": "array", "items": figures},
                                        "ranking": {"type": ["object", "null"]}}})),
        "/api/v1/stats/dti": with_files(_staff("get", "dtiStats", "DTI responsiveness figures of a quarter, per unit",
                                    errors=(400,), params=[
                                        _query("quarter", {"type": "string", "pattern": "^[0-9]{4}-[Qq][1-4]$"},
                                               "The calendar quarter, e.g. 2026-Q4 (default: the current one)"),
                                        unit, *downloads],
                                    ok_schema={"type": "object", "properties": {
                                        "period": {"type": "object"},
                                        "rows": {"type": "array", "items": {"type": "object"}}}})),
    }


# --- the admin API --------------------------------------------------------------------------------

def _admin(method: str, op_id: str, summary: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("ok_schema", {"type": "object"})
    operation = _staff(method, op_id, summary, **kwargs)
    operation[method]["tags"] = ["admin"]
    return operation


def _admin_api() -> dict[str, Any]:
    listing = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}}
    partial = "Only the keys given change, each checked as on creation"
    return {
        "/api/v1/admin/units": _admin("get", "listUnits", "Units", ok_schema=listing, errors=(400,), params=[
            _query("kind", {"type": "string", "maxLength": MAX_QUERY_CHARS}, "Only units of this kind")]),
        "/api/v1/admin/units/{code}": {
            **_admin("put", "putUnit", "Create or replace a unit", body="UnitIn", params=[UNIT_CODE]),
            **_admin("patch", "patchUnit", "Change a unit", body="UnitPatch", params=[UNIT_CODE], errors=(404,)),
        },
        "/api/v1/admin/rules": {
            **_admin("get", "listRules", "Routing rules", ok_schema=listing),
            **_admin("post", "createRule", "A routing rule", body="RuleIn", ok=201, errors=(422,)),
        },
        "/api/v1/admin/rules/{id}": {
            **_admin("patch", "patchRule", partial, body="RulePatch", params=[RULE_OR_POLICY_ID], errors=(404, 422)),
            **_admin("delete", "retireRule", "Retire a rule (kept for the decisions that name it)",
                     params=[RULE_OR_POLICY_ID], errors=(400, 404)),
        },
        "/api/v1/admin/policies": {
            **_admin("get", "listPolicies", "SLA policies", ok_schema=listing),
            **_admin("post", "createPolicy", "An SLA policy", body="PolicyIn", ok=201, errors=(422,)),
        },
        "/api/v1/admin/policies/{id}": _admin("patch", "patchPolicy", partial, body="PolicyPatch",
                                              params=[RULE_OR_POLICY_ID], errors=(404, 422)),
        "/api/v1/admin/jobs/failed": _admin("get", "listFailed", "Dead letters: what kept failing, newest first",
                                            ok_schema=listing, errors=(400,), params=[
                                                _query("kind", {"type": "string", "maxLength": MAX_QUERY_CHARS},
                                                       "case, message or job"),
                                                _query("limit", {"type": "integer", "minimum": 1}, "How many")]),
        "/api/v1/admin/jobs/failed/{kind}/{id}/replay": _admin(
            "post", "replayFailed", "Replay one dead letter", errors=(400, 404, 409), params=[
                _path("kind", {"type": "string"}, "case, message or job"),
                _path("id", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "Its id")]),
        "/api/v1/admin/calendar": _admin("get", "listCalendar", "Calendar overrides", ok_schema=listing),
        "/api/v1/admin/calendar/{day}": {
            **_admin("put", "putCalendarDay", "Make a day working or not", body="OverrideIn", params=[DAY]),
            **_admin("delete", "deleteCalendarDay", "Remove a day's override", params=[DAY], ok=204, ok_schema=None,
                     errors=(400, 404)),
        },
    }


# --- Open311 GeoReport v2 -------------------------------------------------------------------------

def _open311_answers(ok: int, *errors: int) -> dict[str, Any]:
    error_list = {"type": "array", "items": {"type": "object", "properties": {
        "code": {"type": "integer"}, "description": {"type": "string"}}}}
    content = {"application/json": {"schema": {}}, "text/xml": {"schema": {"type": "string"}}}
    out: dict[str, Any] = {str(ok): {"description": "As GeoReport v2 specifies", "content": content}}
    for code in errors:
        out[str(code)] = {"description": ERRORS[code], "content": {
            "application/json": {"schema": error_list}, "text/xml": {"schema": {"type": "string"}}}}
    return out


def _open311_form() -> dict[str, Any]:
    schema = RequestForm.model_json_schema(by_alias=True, ref_template=REF)
    schema["properties"].pop("attributes", None)
    schema["properties"]["service_code"]["enum"] = list(SERVICE_CODES)
    schema["properties"]["api_key"] = {"type": "string", "description": "The key issued to the client application"}
    schema["properties"]["attribute[urgent]"] = {"type": "string", "enum": list(URGENT_VALUES),
                                                 "description": "Immediate danger to people or property"}
    schema["required"] = ["api_key", "service_code"]
    schema["description"] = ("A service request; a location is required (lat and long, address_string or "
                             "address_id). Other cities' attribute[...] fields are ignored.")
    return schema


def _open311() -> dict[str, Any]:
    def get(op_id: str, summary: str, params: list, *errors: int) -> dict[str, Any]:
        return {"get": {"tags": ["open311"], "operationId": op_id, "summary": summary,
                        "parameters": [FORMAT, *params], "responses": _open311_answers(200, *errors)}}

    listing = [
        JURISDICTION, LOCALE,
        _query("service_request_id", {"type": "string"}, "Comma-separated ids; other filters are then ignored"),
        _query("service_code", {"type": "string"}, "Comma-separated service codes"),
        _query("status", {"type": "string"}, "open, closed or both, comma-separated"),
        _query("start_date", {"type": "string"}, "W3C datetime; the window is at most 90 days"),
        _query("end_date", {"type": "string"}, "W3C datetime"),
    ]
    return {
        "/open311/discovery.{format}": get("open311DiscoveryRoot", "Where the endpoint is and what it speaks", []),
        "/open311/v2/discovery.{format}": get("open311Discovery", "Where the endpoint is and what it speaks", []),
        "/open311/v2/services.{format}": get("open311Services", "The services (the hotline's fields)",
                                             [JURISDICTION, LOCALE], 404),
        "/open311/v2/services/{service_code}.{format}": get(
            "open311ServiceDefinition", "The attributes a service takes",
            [_path("service_code", {"type": "string", "enum": list(SERVICE_CODES)}, "The service"), JURISDICTION,
             LOCALE], 404),
        "/open311/v2/requests.{format}": {
            **get("open311Requests", "Requests by id, or by service, status and a window", listing, 400, 404),
            "post": {"tags": ["open311"], "operationId": "open311CreateRequest", "summary": "Submit a request",
                     "parameters": [FORMAT, IDEMPOTENCY_KEY],
                     "requestBody": {"required": True, "content": {
                         "application/x-www-form-urlencoded": {"schema": _open311_form()}}},
                     "responses": {**_open311_answers(201, 400, 403, 404, 413, 415, 422, 429)}},
        },
        "/open311/v2/requests/{service_request_id}.{format}": get(
            "open311Request", "One request",
            [_path("service_request_id", {"type": "string"}, "Its tracking code"), JURISDICTION, LOCALE], 404),
        "/open311/v2/tokens/{token}.{format}": get(
            "open311Token", "The request a token stands for",
            [_path("token", {"type": "string"}, "The token POST answered"), JURISDICTION], 404),
    }


# --- the document ---------------------------------------------------------------------------------

def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    # PATCH of a rule or a policy: the same keys, none required.
    for name, base in (("RulePatch", "RuleIn"), ("PolicyPatch", "PolicyIn")):
        patch = copy.deepcopy(schemas[base])
        patch.pop("required", None)
        patch["title"] = name
        patch["minProperties"] = 1
        schemas[name] = patch
    schemas["Error"] = {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string", "description": "A stable code, e.g. invalid_body"},
                       "detail": {"description": "A message, or {field, message} naming the field at fault"}},
    }
    schemas["Case"] = {"type": "object", "description": "A case as staff see it", "properties": {
        "id": {"type": "integer"}, "tracking_code": {"type": "string"}, "status": _ref("Status"),
        "channel": {"type": "string"}, "field": {"type": ["string", "null"]}, "urgent": {"type": "boolean"},
        "description": {"type": "string"}, "department": {"type": ["string", "null"]},
        "routing_reason": {"type": ["string", "null"], "description": "Why this unit, in Vietnamese"},
        "routing_reason_en": {"type": ["string", "null"],
                              "description": "Why this unit, in English (null where only one reason was kept)"},
        "due_at": {"type": ["string", "null"], "format": "date-time"},
        "deadline_reason": {"type": ["string", "null"], "description": "How the deadline was computed, in Vietnamese"},
        "deadline_reason_en": {"type": ["string", "null"],
                               "description": "How the deadline was computed, in English (null when none was given)"},
        "created_at": {"type": "string", "format": "date-time"}}}
    schemas["PublicCase"] = {"type": "object", "description": "What anyone with the code may see", "properties": {
        "tracking_code": {"type": "string"}, "status": {"type": "string"}, "timeline": {"type": "array"}}}
    return schemas


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The whole document (without `servers`, which depend on the deployment)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hotline 1022 API",
            "version": "1",
            "description": "The citizen hotline's HTTP API: public intake and status, the staff case API, the "
                           "admin API for units, rules, SLA policies and the calendar, and Open311 GeoReport v2. "
                           "Errors are `{\"error\": code, \"detail\": ...}` (Open311: its own error list).",
        },
        "tags": [{"name": "public"}, {"name": "staff"}, {"name": "admin"}, {"name": "open311"}],
        "paths": {**_public(), **_staff_api(), **_stats(), **_admin_api(), **_open311()},
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token (`hotline token NAME`)"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "hotline_session",
                                  "description": "The console's session; writes also need X-CSRF-Token"},
            },
        },
    }


def served(public_url: str) -> dict[str, Any]:
    """The document with this deployment's address."""
    return {**document(), "servers": [{"url": public_url}]}


async def openapi_view(request: web.Request) -> web.Response:
    """GET /api/openapi.json: this API's OpenAPI 3.1 document."""
    return json_response(served(request.app[SERVICES].settings.public_url))


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, openapi_view)
