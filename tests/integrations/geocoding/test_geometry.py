"""Points to wards: label points, both sides of real borders, just outside the city, far away; point + address."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, shape

from integrations.geocoding.gazetteer import Gazetteer
from integrations.geocoding.geometry import INSIDE, project, to_lonlat
from integrations.geocoding.models import GeocodeError, Source

from .conftest import ADMIN_UNITS, needs_polygons
from .conftest import POLYGONS as POLYGONS_PATH

pytestmark = needs_polygons


@pytest.fixture(scope="module")
def original() -> dict[str, shapely.Geometry]:
    """The source polygons, projected like the gazetteer's but not simplified."""
    collection = json.loads((ADMIN_UNITS / POLYGONS_PATH).read_text(encoding="utf-8"))
    return {str(f["properties"]["code"]): project(shape(f["geometry"])) for f in collection["features"]}


def test_every_label_point_resolves_to_its_own_ward(gazetteer: Gazetteer):
    wrong = []
    for code, w in gazetteer.wards.items():
        result = gazetteer.resolve(lat=w.label_lat, lon=w.label_lon)
        if result.ward_code != code or result.source != Source.POINT:
            wrong.append((code, result.ward_code))
    assert wrong == []
    assert len(gazetteer.wards) == 168


def _border_samples(gazetteer: Gazetteer, limit: int = 120):
    """Midpoints of shared border segments at least 40 m long, with the unit normal, for adjacent ward pairs."""
    assert gazetteer.shapes is not None
    codes = sorted(gazetteer.wards)
    geoms = [gazetteer.shapes.geometry(c) for c in codes]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="touches")
    samples = []
    for i, j in sorted(zip(left.tolist(), right.tolist(), strict=True)):
        if i >= j:
            continue
        shared = shapely.line_merge(shapely.intersection(geoms[i].boundary, geoms[j].boundary))
        lines = [g for g in getattr(shared, "geoms", [shared]) if isinstance(g, LineString)]
        segments = [(a, b) for line in lines for a, b in zip(line.coords[:-1], line.coords[1:], strict=True)]
        segments = [s for s in segments if math.dist(*s) >= 40.0]
        if not segments:
            continue
        (x1, y1), (x2, y2) = max(segments, key=lambda s: (math.dist(*s), s))
        length = math.dist((x1, y1), (x2, y2))
        normal = (-(y2 - y1) / length, (x2 - x1) / length)
        samples.append((codes[i], codes[j], ((x1 + x2) / 2, (y1 + y2) / 2), normal))
        if len(samples) == limit:
            break
    return samples


def test_points_5_m_either_side_of_a_border_fall_in_each_ward(gazetteer: Gazetteer, original):
    samples = _border_samples(gazetteer)
    checked = 0
    for a, b, (mx, my), (nx, ny) in samples:
        side_one, side_two = Point(mx + 5 * nx, my + 5 * ny), Point(mx - 5 * nx, my - 5 * ny)
        if original[a].contains(side_two):
            side_one, side_two = side_two, side_one
        # The truth comes from the unsimplified source; skip spots where simplification moved the border >5 m.
        if not (original[a].contains(side_one) and original[b].contains(side_two)):
            continue
        for point, expected, other in ((side_one, a, b), (side_two, b, a)):
            lon, lat = to_lonlat(point.x, point.y)
            result = gazetteer.resolve(lat=lat, lon=lon)
            assert result.ward_code == expected, (a, b, lat, lon)
            assert result.confidence < INSIDE  # on a border: lower confidence, the neighbour as a candidate
            assert other in {c for c, _ in result.candidates}
        checked += 1
    assert checked >= 80, f"only {checked} border samples could be checked"


def test_simplified_borders_stay_within_11_m_of_the_source(gazetteer: Gazetteer, original):
    assert gazetteer.shapes is not None
    worst = max(shapely.hausdorff_distance(original[c], gazetteer.shapes.geometry(c)) for c in gazetteer.wards)
    assert worst <= 11.0
    assert gazetteer.meta["max_error_m"] == pytest.approx(worst, abs=0.01)


def _outside_point(gazetteer: Gazetteer, metres: float) -> tuple[float, float, str]:
    """A point `metres` outside the city's outer boundary, off a long edge of the largest land mass."""
    assert gazetteer.shapes is not None
    codes = sorted(gazetteer.wards)
    city = shapely.union_all([gazetteer.shapes.geometry(c) for c in codes])
    main = max(getattr(city, "geoms", [city]), key=lambda p: p.area)
    ring = np.asarray(main.exterior.coords)
    lengths = np.hypot(*(ring[1:] - ring[:-1]).T)
    k = int(np.argmax(lengths))
    (x1, y1), (x2, y2) = ring[k], ring[k + 1]
    nx, ny = -(y2 - y1) / lengths[k], (x2 - x1) / lengths[k]
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    if main.contains(Point(mx + nx, my + ny)):
        nx, ny = -nx, -ny
    point = Point(mx + metres * nx, my + metres * ny)
    nearest = min(codes, key=lambda c: gazetteer.shapes.geometry(c).distance(point))
    lon, lat = to_lonlat(point.x, point.y)
    return lat, lon, nearest


def test_point_just_outside_the_city_goes_to_the_nearest_ward_with_low_confidence(gazetteer: Gazetteer):
    lat, lon, nearest = _outside_point(gazetteer, 30.0)
    result = gazetteer.resolve(lat=lat, lon=lon)
    assert result.ward_code == nearest
    assert result.confidence <= 0.6
    assert "outside" in result.matched


def test_point_200_m_outside_the_city_is_an_error(gazetteer: Gazetteer):
    lat, lon, _ = _outside_point(gazetteer, 200.0)
    with pytest.raises(GeocodeError) as e:
        gazetteer.resolve(lat=lat, lon=lon)
    assert e.value.code == "outside"


@pytest.mark.parametrize(("lat", "lon"), [
    (21.0285, 105.8542),  # Hà Nội
    (11.5564, 104.9282),  # Phnom Penh
    (10.0, 109.0),  # the South China Sea
])
def test_points_far_outside_hcmc_are_errors(gazetteer: Gazetteer, lat, lon):
    with pytest.raises(GeocodeError) as e:
        gazetteer.resolve(lat=lat, lon=lon)
    assert e.value.code == "outside"
    assert gazetteer.geocode(None, lat, lon) is None


@pytest.mark.parametrize(("lat", "lon"), [(95.0, 106.7), (10.7, 200.0), (float("nan"), 106.7), (10.7, None)])
def test_invalid_points_are_errors(gazetteer: Gazetteer, lat, lon):
    with pytest.raises(GeocodeError) as e:
        gazetteer.resolve(lat=lat, lon=lon)
    assert e.value.code == "invalid_point"


def test_point_and_agreeing_address_raise_confidence(gazetteer: Gazetteer):
    lat, lon = gazetteer.label_point("26740")  # Sài Gòn, formerly Bến Nghé
    result = gazetteer.resolve("P.Bến Nghé Q1", lat, lon)
    assert (result.ward_code, result.source) == ("26740", Source.ADDRESS_AND_POINT)
    assert (result.lat, result.lon) == (lat, lon)
    assert result.old_ward == "Phường Bến Nghé"
    assert result.confidence >= gazetteer.resolve("P.Bến Nghé Q1").confidence


def test_point_settles_a_split_ward(gazetteer: Gazetteer):
    lat, lon = gazetteer.label_point("27058")  # Cầu Kiệu, one of the two halves of Phường 15 Phú Nhuận
    result = gazetteer.resolve("Phường 15, Quận Phú Nhuận", lat, lon)
    assert result.ward_code == "27058"
    assert result.candidates == ()
    assert result.confidence > gazetteer.resolve("Phường 15, Quận Phú Nhuận").confidence


def test_point_decides_when_the_address_is_a_neighbour(gazetteer: Gazetteer):
    lat, lon = gazetteer.label_point("26743")  # Bến Thành, next to Sài Gòn
    result = gazetteer.resolve("Phường Sài Gòn", lat, lon)
    assert result.ward_code == "26743"
    assert "26740" in {c for c, _ in result.candidates}
    assert result.confidence < INSIDE


def test_address_decides_when_the_point_is_far_away(gazetteer: Gazetteer):
    lat, lon = gazetteer.label_point("26506")  # Vũng Tàu, some 60 km from Quận 1
    result = gazetteer.resolve("P.Bến Nghé Q1", lat, lon)
    assert result.ward_code == "26740"
    assert (result.lat, result.lon) == gazetteer.label_point("26740")
    assert "26506" in {c for c, _ in result.candidates}
    assert result.confidence < gazetteer.resolve("P.Bến Nghé Q1").confidence


def test_point_alone_decides_when_the_address_is_unknown(gazetteer: Gazetteer):
    lat, lon = gazetteer.label_point("27154")
    result = gazetteer.resolve("xyz qwerty", lat, lon)
    assert (result.ward_code, result.source) == ("27154", Source.ADDRESS_AND_POINT)


class FakeNominatim:
    """Stands in for geopy's Nominatim: returns a fixed point, records the queries."""

    def __init__(self, point):
        self.point = point
        self.queries = []

    def locate(self, address):
        self.queries.append(address)
        return self.point


def test_refiner_point_is_kept_only_inside_the_ward(gazetteer_path):
    inside = gazetteer_path and Gazetteer.load(gazetteer_path)
    lat, lon = inside.label_point("27058")
    refined = Gazetteer.load(gazetteer_path, refiner=FakeNominatim((lat, lon)))
    result = refined.resolve("Phường 15, Quận Phú Nhuận")  # split: Cầu Kiệu or Phú Nhuận
    assert (result.ward_code, result.lat, result.lon, result.candidates) == ("27058", lat, lon, ())
    wrong = Gazetteer.load(gazetteer_path, refiner=FakeNominatim(inside.label_point("26506")))
    result = wrong.resolve("Phường 15, Quận Phú Nhuận")
    assert result.ward_code in {"27058", "27073"}
    assert len(result.candidates) == 2  # the contradicting online point was ignored
