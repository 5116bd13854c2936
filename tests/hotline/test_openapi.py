"""GET /api/openapi.json: the document describes every route under /api/ and /open311/, and is served."""

from __future__ import annotations

from aiohttp import web

from hotline.openapi import document

METHODS = ("get", "put", "post", "patch", "delete")


def _routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path pattern) of every route of the app and its sub-applications."""
    found = set()
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            found |= _routes(resource._app)  # its resources carry the prefix already
            continue
        for route in resource:
            if route.method not in ("HEAD", "OPTIONS"):
                found.add((route.method.lower(), resource.canonical))
    return found


async def test_every_api_and_open311_route_is_in_the_document(client):
    registered = {(m, p) for m, p in _routes(client.app) if p.startswith(("/api/", "/open311/"))}
    described = {(m, p) for p, item in document()["paths"].items() for m in METHODS if m in item}
    assert registered - described == set(), "describe these routes in hotline/openapi.py"


async def test_the_document_is_served_with_this_deployments_address(client):
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    served = await resp.json()
    assert served["openapi"] == "3.1.0"
    assert served["servers"] == [{"url": "http://hotline.test"}]
    assert served["paths"].keys() == document()["paths"].keys()


def test_request_bodies_are_the_views_models():
    from casework.views.lifecycle import StatusIn
    from routing.views import UnitIn

    schemas = document()["components"]["schemas"]
    assert schemas["StatusIn"]["properties"]["duplicate_of"] == StatusIn.model_json_schema()["properties"][
        "duplicate_of"]
    assert schemas["UnitIn"]["required"] == UnitIn.model_json_schema()["required"]
    paths = document()["paths"]
    assert paths["/api/v1/cases/{case_id}/status"]["post"]["requestBody"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/StatusIn"}


def test_every_reference_resolves_and_staff_operations_need_a_token():
    doc = document()
    schemas = doc["components"]["schemas"]
    refs = []
    stack: list = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "$ref" in item:
                refs.append(item["$ref"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    assert {r.removeprefix("#/components/schemas/") for r in refs} <= schemas.keys()
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            secured = "security" in item[method]
            public = path.startswith("/open311/") or path in (
                "/api/v1/reports", "/api/v1/reports/{code}", "/api/v1/procedures", "/api/v1/procedures/{code}",
                "/api/openapi.json") or (path, method) == ("/api/v1/session", "post")
            assert secured != public, (method, path)
