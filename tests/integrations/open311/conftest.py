"""Open311 fixtures: the hotline app with Open311 mounted, an API key, and readers for both formats."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from aiohttp import ClientResponse

from integrations.open311 import actions, views

FORMATS = ("json", "xml")


@pytest.fixture
async def o311(aiohttp_client, settings):
    """The whole hotline app (staff API included) with Open311 mounted once."""
    from hotline.app import create_app

    app = create_app(settings)
    if not any(r.canonical.startswith(views.PREFIX) for r in app.router.resources()):
        views.setup(app)
    return await aiohttp_client(app)


@pytest.fixture
async def api_key(pool) -> str:
    # TRUNCATE cases … CASCADE empties open311_requests; the clients table needs its own.
    await pool.execute("TRUNCATE open311_requests, open311_clients RESTART IDENTITY CASCADE")
    return await actions.create_client(pool, "fixmycity")


LIST_TAGS = {"services", "service_requests", "attributes", "values", "endpoints", "formats", "errors"}


def _value(element: ET.Element) -> Any:
    if element.tag in LIST_TAGS:
        return [_value(c) for c in element]
    if len(element):
        return {c.tag: _value(c) for c in element}
    return element.text


def xml_document(data: bytes) -> tuple[str, Any]:
    """The root tag and the content of an XML answer, lists as lists and records as dicts (all text)."""
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(data)
    return root.tag, _value(root)


async def read(resp: ClientResponse, fmt: str, root: str | None = None) -> Any:
    """The body of an answer in either format; for XML the root element must be `root`."""
    if fmt == "json":
        assert resp.content_type == "application/json" and resp.charset == "utf-8"
        return await resp.json()
    assert resp.content_type == "text/xml" and resp.charset == "utf-8"
    tag, value = xml_document(await resp.read())
    assert tag == root, f"root element {tag}, expected {root}"
    return value


async def spec_error(resp: ClientResponse, fmt: str, status: int) -> str:
    """Check an error is the specification's document with the HTTP status as its code; return the description."""
    assert resp.status == status, await resp.text()
    errors = await read(resp, fmt, "errors")
    assert isinstance(errors, list) and len(errors) == 1
    assert int(errors[0]["code"]) == status
    assert errors[0]["description"]
    return errors[0]["description"]
