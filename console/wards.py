"""The 168 wards of Hồ Chí Minh City (since 1 July 2025): their names, and a light GeoJSON for the map.

Names come from the geocoder's ward list (a package data file). The polygons come from the gazetteer the
geocoder builds (`make gazetteer`, git-ignored: the shared administrative-unit data is GPL and stays outside
this repository); when that artifact is missing or names-only, the geocoder's own reader builds the shapes
from the shared data folder. They are simplified once more (coverage simplification at TOLERANCE_M, so shared
borders stay shared), rounded to about a metre and kept in memory, gzipped, for the life of the process: the
whole layer for the map, and each ward's Feature on its own for the case page. Nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import gzip
import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from integrations.geocoding.build import FORMAT, read_shapes, read_tables
from integrations.geocoding.geometry import unproject
from integrations.geocoding.paths import DATA_DIR, DEFAULT_PATH, POLYGONS, WARDS_CSV, default_admin_units_dir

log = logging.getLogger(__name__)

TOLERANCE_M = 20.0  # on top of the gazetteer's 10 m: about 40k vertices, 860 kB of JSON, 210 kB gzipped
GRID_DEG = 1e-5  # coordinates rounded to about 1.1 m


@functools.cache
def wards() -> dict[str, tuple[str, str]]:
    """Ward code -> (Vietnamese full name, English full name)."""
    with (DATA_DIR / WARDS_CSV).open(encoding="utf-8", newline="") as f:
        return {row["code"]: (row["full_name"], row["full_name_en"]) for row in csv.DictReader(f)}


def ward_name(code: str | None, lang: str = "vi") -> str:
    if not code:
        return ""
    names = wards().get(code)
    if names is None:
        return code
    return names[0] if lang == "vi" else names[1]


class NoBoundaries(Exception):
    """Neither the gazetteer artifact nor the shared data folder holds the ward polygons."""


@dataclass(frozen=True, slots=True)
class WardLayer:
    """The GeoJSON FeatureCollection and its gzipped bytes."""

    body: bytes
    gzipped: bytes
    features: int


def _sources(artifact_path: Path, admin_units_dir: Path | None) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """Return the ward rows and the (projected, simplified) shapes: from the artifact, else from the shared data."""
    if artifact_path.is_file():
        with artifact_path.open("rb") as f:
            data = pickle.load(f)  # noqa: S301 - our own build output, never user input
        if data.get("format") == FORMAT and data.get("shapes"):
            return data["wards"], data["shapes"]
    polygons = (admin_units_dir or default_admin_units_dir()) / POLYGONS
    if not polygons.is_file():
        raise NoBoundaries(f"no ward polygons: build the gazetteer (make gazetteer) or provide {polygons}")
    rows = read_tables()["wards"]
    return rows, read_shapes(polygons, [w[0] for w in rows])


def build_layer(artifact_path: Path = DEFAULT_PATH, admin_units_dir: Path | None = None) -> WardLayer:
    """Build the ward FeatureCollection (lon/lat, WGS 84) with code, names and type per ward."""
    rows, shapes = _sources(artifact_path, admin_units_dir)
    by_code = {w[0]: w for w in rows}
    english = wards()
    geoms = np.array(shapely.from_wkb(shapes["wkb"]), dtype=object)
    simplified = shapely.make_valid(shapely.coverage_simplify(geoms, TOLERANCE_M))
    lonlat = shapely.set_precision(np.array([unproject(g) for g in simplified], dtype=object), GRID_DEG)
    features = []
    for code, geometry in zip(shapes["codes"], lonlat, strict=True):
        _, name, full_name, kind = by_code[code][:4]
        features.append({
            "type": "Feature",
            "id": code,
            "properties": {"code": code, "name": name, "full_name": full_name,
                           "full_name_en": english.get(code, (full_name, full_name))[1], "type": kind},
            "geometry": json.loads(shapely.to_geojson(geometry)),
        })
    body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                      separators=(",", ":")).encode()
    return WardLayer(body=body, gzipped=gzip.compress(body, 6, mtime=0), features=len(features))


_layer: list[WardLayer] = []  # built once per process


async def ward_layer() -> WardLayer:
    """The ward layer, built once per process in a thread (it takes a fraction of a second)."""
    if not _layer:
        layer = await asyncio.to_thread(build_layer)
        if not _layer:  # two first requests may both build it: keep one
            _layer.append(layer)
            log.info("ward layer built: %d wards, %d bytes", layer.features, len(layer.body))
    return _layer[0]


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
