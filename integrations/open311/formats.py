"""The two formats GeoReport v2 speaks: JSON, and XML with the element names the specification gives."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from aiohttp import web

JSON = "json"
XML = "xml"
CONTENT_TYPES = {JSON: "application/json", XML: "text/xml"}

# The element of each item of a list, by the list's element name.
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


def format_of(path: str) -> str:
    """The format a path asks for by its extension; XML, the required format, otherwise."""
    return JSON if path.endswith(".json") else XML


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list | tuple):
        item_tag = ITEM_TAGS[tag]
        for child in value:
            element.append(_element(item_tag, child))
    else:
        element.text = _text(value)
    return element


def to_xml(root: str, body: Any) -> bytes:
    """Serialise a document under its root element, with the XML declaration the specification requires."""
    tree = _element(root, body)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, encoding="utf-8", xml_declaration=False)


def render(fmt: str, root: str, body: Any, status: int = 200) -> web.Response:
    """A response in the asked format; `root` names the XML root element (JSON has none)."""
    if fmt == JSON:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    else:
        data = to_xml(root, body)
    return web.Response(body=data, status=status, content_type=CONTENT_TYPES[fmt], charset="utf-8")


def errors(fmt: str, status: int, description: str) -> web.Response:
    """The specification's error document: a list of {code, description}."""
    return render(fmt, "errors", [{"code": status, "description": description}], status=status)
