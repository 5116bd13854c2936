"""The 168 wards of Hồ Chí Minh City (since 1 July 2025) for the console: names, and the GeoJSON of the map.

The layer is the geocoder's (`integrations.geocoding.geojson`, also served by the public statistics page),
kept in memory, gzipped, for the life of the process: the whole layer for the map, and each ward's Feature on
its own for the case page. Nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import logging

from integrations.geocoding.geojson import NoBoundaries, WardLayer, ward_layer, ward_names

__all__ = ["NoBoundaries", "WardLayer", "ward_layer", "ward_name", "ward_options", "ward_outline", "wards"]

log = logging.getLogger(__name__)


def wards() -> dict[str, tuple[str, str]]:
    """Ward code -> (Vietnamese full name, English full name)."""
    return ward_names()


def ward_name(code: str | None, lang: str = "vi") -> str:
    if not code:
        return ""
    names = wards().get(code)
    if names is None:
        return code
    return names[0] if lang == "vi" else names[1]


def split_layer(layer: WardLayer) -> dict[str, WardLayer]:
    """One GeoJSON Feature per ward, by code, each with its gzipped bytes (for the case page's single outline)."""
    outlines = {}
    for feature in json.loads(layer.body)["features"]:
        body = json.dumps(feature, ensure_ascii=False, separators=(",", ":")).encode()
        outlines[feature["properties"]["code"]] = WardLayer(body=body, gzipped=gzip.compress(body, 6, mtime=0),
                                                            features=1)
    return outlines


_outlines: dict[str, WardLayer] = {}  # split from the layer once per process


async def ward_outline(code: str) -> WardLayer | None:
    """One ward's Feature; None for a code that is no ward (known without building anything)."""
    if code not in wards():
        return None
    if not _outlines:
        outlines = await asyncio.to_thread(split_layer, await ward_layer())
        if not _outlines:  # two first requests may both split it: keep one
            _outlines.update(outlines)
    return _outlines.get(code)


@functools.cache
def ward_options(lang: str = "vi") -> list[tuple[str, str]]:
    """(code, name) of every ward, by name, for a filter's list."""
    index = 0 if lang == "vi" else 1
    return sorted(((code, names[index]) for code, names in wards().items()), key=lambda item: item[1])
