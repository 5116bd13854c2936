"""One ward's outline for the case page: GET /console/wards/{ward_code}.geojson (staff only, a Feature, gzip)."""

from __future__ import annotations

import gzip
import json

import shapely
from shapely.geometry import shape

from console import wards
from tests.conftest import auth
from tests.integrations.geocoding.conftest import needs_polygons

BEN_THANH, SAI_GON = "26743", "26740"


@needs_polygons  # the ward boundaries come from the shared admin-units data beside the repository
async def test_a_wards_outline_is_one_feature_with_its_code_and_shape(client, tokens):
    response = await client.get(f"/console/wards/{BEN_THANH}.geojson", headers=auth(tokens["department"]))
    assert response.status == 200
    assert response.content_type == "application/geo+json"
    assert response.headers["Cache-Control"] == "private, max-age=86400"
    feature = json.loads(await response.read())
    assert feature["type"] == "Feature" and feature["properties"]["code"] == BEN_THANH
    assert feature["properties"]["full_name"] == "Phường Bến Thành"
    outline = shape(feature["geometry"])
    assert outline.is_valid and outline.contains(shapely.Point(106.698, 10.772))  # Chợ Bến Thành
    assert not outline.contains(shapely.Point(106.7025, 10.7875))  # Thảo Cầm Viên, a kilometre and more away

    layer = json.loads((await wards.ward_layer()).body)
    assert feature == next(f for f in layer["features"] if f["properties"]["code"] == BEN_THANH)
    assert len(await response.read()) * 50 < len((await wards.ward_layer()).body)  # one ward, not 168


@needs_polygons  # the ward boundaries come from the shared admin-units data beside the repository
async def test_a_wards_outline_is_gzipped_for_a_client_that_takes_it(client, tokens):
    zipped = await client.get(f"/console/wards/{SAI_GON}.geojson",
                              headers={**auth(tokens["agent"]), "Accept-Encoding": "gzip"})
    assert zipped.status == 200 and zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    plain = await client.get(f"/console/wards/{SAI_GON}.geojson",
                             headers={**auth(tokens["agent"]), "Accept-Encoding": "identity"})
    assert plain.status == 200 and "Content-Encoding" not in plain.headers
    assert json.loads(await zipped.read()) == json.loads(await plain.read())  # the client unzipped the first
    outline = await wards.ward_outline(SAI_GON)
    assert outline is not None and gzip.decompress(outline.gzipped) == outline.body
    assert len(outline.gzipped) < len(outline.body)


@needs_polygons  # the ward boundaries come from the shared admin-units data beside the repository
async def test_every_ward_of_the_layer_has_its_outline():
    outlines = wards.split_layer(await wards.ward_layer())
    assert sorted(outlines) == sorted(wards.wards()) and len(outlines) == 168
    assert all(json.loads(o.body)["properties"]["code"] == code for code, o in outlines.items())


async def test_an_unknown_ward_is_not_found(client, tokens):
    for code in ("99999", "ben-thanh", "26743x"):
        response = await client.get(f"/console/wards/{code}.geojson", headers=auth(tokens["agent"]))
        assert response.status == 404, code
        assert (await response.json())["error"] == "not_found"


async def test_a_wards_outline_is_for_signed_in_staff_only(client, tokens):
    response = await client.get(f"/console/wards/{BEN_THANH}.geojson")
    assert response.status == 401
    unknown = await client.get("/console/wards/99999.geojson")
    assert unknown.status == 401  # who asks is checked before what is asked for
