"""Ward polygons in a local metric projection, and which ward a point falls in."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

# A local equirectangular projection: metres east and north, scaled at 10.8° N. Over HCMC (8.6° N at Côn
# Đảo to 11.5° N) the east-west scale is off by under 0.7 %, i.e. 0.3 m on a 50 m tolerance.
LAT0 = 10.8
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))

BORDER_M = 20.0  # nearer than this to a neighbour, a point could be on either side (polygons are ±10 m)
NEAR_M = 50.0  # a point this close outside every ward is still taken to be in the nearest one

INSIDE, ON_BORDER, IN_OVERLAP, JUST_OUTSIDE, OUTSIDE_NEAR = 0.98, 0.8, 0.7, 0.6, 0.5


def to_xy(lon: float, lat: float) -> tuple[float, float]:
    """Project degrees to local metres."""
    return lon * M_PER_DEG_LON, lat * M_PER_DEG_LAT


def to_lonlat(x: float, y: float) -> tuple[float, float]:
    """Unproject local metres to degrees."""
    return x / M_PER_DEG_LON, y / M_PER_DEG_LAT


def project(geometry: BaseGeometry) -> BaseGeometry:
    """Project a lon/lat geometry to local metres."""
    return shapely.transform(geometry, lambda c: c * np.array([M_PER_DEG_LON, M_PER_DEG_LAT]))


def unproject(geometry: BaseGeometry) -> BaseGeometry:
    """Unproject a geometry in local metres to lon/lat."""
    return shapely.transform(geometry, lambda c: c / np.array([M_PER_DEG_LON, M_PER_DEG_LAT]))


@dataclass(frozen=True, slots=True)
class PointHit:
    """The ward a point is in, how sure that is, and the other wards it could be in (nearest first)."""

    code: str
    confidence: float
    distance_m: float  # 0 inside the ward
    others: tuple[str, ...] = ()


class WardShapes:
    """The ward polygons (projected), indexed with an STRtree and prepared for fast point tests."""

    def __init__(self, codes: Sequence[str], geometries: Sequence[BaseGeometry]) -> None:
        self.codes = tuple(codes)
        self._geoms = np.array(geometries, dtype=object)
        shapely.prepare(self._geoms)
        self._boundaries = shapely.boundary(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        self._index = {c: i for i, c in enumerate(self.codes)}

    @classmethod
    def from_wkb(cls, codes: Sequence[str], blobs: Sequence[bytes]) -> WardShapes:
        return cls(codes, list(shapely.from_wkb(list(blobs))))

    def geometry(self, code: str) -> BaseGeometry:
        """Return a ward's polygon in local metres."""
        return self._geoms[self._index[code]]

    def distance_m(self, code: str, lon: float, lat: float) -> float:
        """Return the distance in metres from a point to a ward (0 inside)."""
        x, y = to_xy(lon, lat)
        return float(shapely.distance(self._geoms[self._index[code]], shapely.Point(x, y)))

    def locate(self, lon: float, lat: float) -> PointHit | None:
        """Return the ward a point is in, or the nearest within NEAR_M; None farther out."""
        x, y = to_xy(lon, lat)
        point = shapely.Point(x, y)
        near = self._tree.query(point, predicate="dwithin", distance=NEAR_M)
        if len(near) == 0:
            return None
        inside = shapely.contains_xy(self._geoms[near], x, y)
        if len(near) == 1 and inside[0]:
            return PointHit(self.codes[near[0]], INSIDE, 0.0)
        dist = shapely.distance(self._geoms[near], point)
        order = sorted(range(len(near)), key=lambda k: (dist[k], self.codes[near[k]]))
        n_inside = int(inside.sum())
        if n_inside == 1:
            k = int(np.flatnonzero(inside)[0])
            others = tuple(self.codes[near[j]] for j in order if j != k and dist[j] <= BORDER_M)
            return PointHit(self.codes[near[k]], ON_BORDER if others else INSIDE, 0.0, others)
        if n_inside > 1:  # slivers where the source polygons overlap by a few square metres
            ks = [int(k) for k in np.flatnonzero(inside)]
            depth = shapely.distance(self._boundaries[near[ks]], point)
            ks = [k for _, k in sorted(zip(-depth, ks, strict=True), key=lambda dk: (dk[0], self.codes[near[dk[1]]]))]
            return PointHit(self.codes[near[ks[0]]], IN_OVERLAP, 0.0, tuple(self.codes[near[k]] for k in ks[1:]))
        first = order[0]
        others = tuple(self.codes[near[j]] for j in order[1:])
        confidence = JUST_OUTSIDE if dist[first] <= BORDER_M else OUTSIDE_NEAR
        return PointHit(self.codes[near[first]], confidence, float(dist[first]), others)
