"""The 168 wards as a light GeoJSON layer (WGS 84), for maps that draw the wards as their only base layer.

The polygons come from the gazetteer artifact (`make gazetteer`, git-ignored: the shared administrative-unit
data is GPL and stays outside this repository); when that artifact is missing or names-only, they are read
from the shared data folder. They are simplified once more (coverage simplification at TOLERANCE_M, so shared
borders stay shared) and rounded to about a metre. Each Feature carries the ward's code, names and type, and
nothing else. Nothing is downloaded. The console's map and the public statistics page both serve this layer.
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

from .build import FORMAT, read_shapes, read_tables
from .geometry import unproject
from .paths import DATA_DIR, DEFAULT_PATH, POLYGONS, WARDS_CSV, default_admin_units_dir

log = logging.getLogger(__name__)

TOLERANCE_M = 20.0  # on top of the gazetteer's 10 m: about 40k vertices, 860 kB of JSON, 210 kB gzipped
GRID_DEG = 1e-5  # coordinates rounded to about 1.1 m


class NoBoundaries(Exception):
    """Neither the gazetteer artifact nor the shared data folder holds the ward polygons."""


@dataclass(frozen=True, slots=True)
class WardLayer:
    """A GeoJSON document, its gzipped bytes and how many Features it holds."""

    body: bytes
    gzipped: bytes
    features: int


@functools.cache
def ward_names() -> dict[str, tuple[str, str]]:
    """Ward code -> (Vietnamese full name, English full name), from the package's ward list."""
    with (DATA_DIR / WARDS_CSV).open(encoding="utf-8", newline="") as f:
        return {row["code"]: (row["full_name"], row["full_name_en"]) for row in csv.DictReader(f)}


def _sources(artifact_path: Path, admin_units_dir: Path | None) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """The ward rows and their (projected, simplified) shapes: from the artifact, else from the shared data."""
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
    """Build the ward FeatureCollection (lon/lat) with code, name, full names (vi, en) and type per ward."""
    rows, shapes = _sources(artifact_path, admin_units_dir)
    by_code = {w[0]: w for w in rows}
    english = ward_names()
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
    return layer_of({"type": "FeatureCollection", "features": features})


def layer_of(document: dict[str, Any]) -> WardLayer:
    """A GeoJSON document as compact UTF-8 bytes and gzipped bytes (deterministic: no timestamp in the gzip)."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    count = len(document["features"]) if document.get("type") == "FeatureCollection" else 1
    return WardLayer(body=body, gzipped=gzip.compress(body, 6, mtime=0), features=count)


_layer: list[WardLayer] = []  # built once per process, shared by every page that draws the wards


async def ward_layer() -> WardLayer:
    """The ward layer, built once per process in a thread (it takes a fraction of a second); NoBoundaries if absent."""
    if not _layer:
        layer = await asyncio.to_thread(build_layer)
        if not _layer:  # two first requests may both build it: keep one
            _layer.append(layer)
            log.info("ward layer built: %d wards, %d bytes", layer.features, len(layer.body))
    return _layer[0]
