"""The JSON Lines contract of `hotline geocode`: one line out per non-empty line in, errors keep the id."""

from __future__ import annotations

import json

import pytest

from integrations.geocoding import NoGazetteer
from integrations.geocoding.cli import geocode_lines

from .conftest import HAS_POLYGONS

FIELDS = {"id", "ward_code", "ward_name", "old_ward", "old_district", "lat", "lon", "candidates", "confidence"}


def test_addresses_and_bad_lines_in_order(gazetteer):
    lines = [
        '{"id": "a1", "address": "P5Q3"}',
        "",
        "not json",
        '{"id": 2}',
        '["a list"]',
        '   ',
        '{"id": 3, "address": "Phường 15, Quận Phú Nhuận"}',
        '{"id": 4, "lat": 10.77}',
        '{"id": 5, "lat": "north", "lon": 106.7}',
        '{"id": 6, "address": 12}',
        '{"id": 7, "address": "Phường 5"}',
        '{"address": "Phường Sài Gòn"}',
    ]
    out = [json.loads(line) for line in geocode_lines(gazetteer, lines)]
    assert len(out) == 10
    assert out[0] == {"id": "a1", "ward_code": "27154", "ward_name": "Phường Bàn Cờ", "old_ward": "Phường 5",
                      "old_district": "Quận 3", "lat": round(gazetteer.label_point("27154")[0], 6),
                      "lon": round(gazetteer.label_point("27154")[1], 6), "candidates": [], "confidence": 0.95}
    assert out[1]["id"] is None and out[1]["error"] == "invalid_json"
    assert out[2] == {"id": 2, "error": "invalid_input", "detail": "give an address, or lat and lon"}
    assert out[3]["error"] == "invalid_input" and out[3]["id"] is None
    assert set(out[4]) == FIELDS and {c["code"] for c in out[4]["candidates"]} == {"27058", "27073"}
    assert all(set(c) == {"code", "name"} for c in out[4]["candidates"])
    assert [o.get("error") for o in out[5:9]] == ["invalid_input", "invalid_input", "invalid_input", "ambiguous"]
    assert [o["id"] for o in out[5:9]] == [4, 5, 6, 7]
    assert out[9]["id"] is None and out[9]["ward_code"] == "26740"


@pytest.mark.skipif(not HAS_POLYGONS, reason="no ward polygons")
def test_points_and_points_outside(gazetteer):
    lat, lon = gazetteer.label_point("26743")
    lines = [json.dumps({"id": 1, "lat": lat, "lon": lon}), '{"id": 2, "lat": 21.03, "lon": 105.85}']
    first, second = (json.loads(line) for line in geocode_lines(gazetteer, lines))
    assert (first["ward_code"], first["lat"], first["lon"]) == ("26743", round(lat, 6), round(lon, 6))
    assert second == {"id": 2, "error": "outside", "detail": "the point is outside Ho Chi Minh City"}


def test_names_only_gazetteer_reports_missing_boundaries(names_only):
    (line,) = geocode_lines(names_only, ['{"id": 9, "lat": 10.77, "lon": 106.69}'])
    assert json.loads(line) == {"id": 9, "error": "no_boundaries",
                                "detail": "no boundaries available: this gazetteer was built without polygons"}


def test_without_a_gazetteer_every_line_is_an_error():
    (line,) = geocode_lines(NoGazetteer(), ['{"id": 1, "address": "P5Q3"}'])
    assert json.loads(line)["error"] == "no_gazetteer"


def test_output_keeps_vietnamese_readable(gazetteer):
    (line,) = geocode_lines(gazetteer, ['{"id": 1, "address": "P.Bến Nghé Q1"}'])
    assert "Phường Sài Gòn" in line
