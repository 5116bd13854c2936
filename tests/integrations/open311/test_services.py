"""Discovery, the service list and service definitions, in both formats, with the specification's errors."""

import pytest

from casework.models import FIELD_LABELS
from integrations.open311.models import CHANGESET, JURISDICTION_ID, SERVICE_CODES, SPECIFICATION
from tests.integrations.open311.conftest import FORMATS, read, spec_error

SERVICE_KEYS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
ATTRIBUTE_KEYS = ["variable", "code", "datatype", "required", "datatype_description", "order", "description",
                  "values"]


def _bool(value, fmt):
    return value if fmt == "json" else {"true": True, "false": False}[value]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", ["/open311/v2/discovery", "/open311/discovery"])
async def test_discovery_names_the_endpoint_and_its_formats(o311, fmt, path):
    resp = await o311.get(f"{path}.{fmt}")
    assert resp.status == 200
    doc = await read(resp, fmt, "discovery")
    assert doc["changeset"] == CHANGESET and doc["contact"] and doc["key_service"]
    (endpoint,) = doc["endpoints"]
    assert endpoint == {"specification": SPECIFICATION, "url": "http://hotline.test/open311/v2",
                        "changeset": CHANGESET, "type": "production", "formats": ["text/xml", "application/json"]}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_services_are_the_fifteen_fields(o311, fmt):
    resp = await o311.get(f"/open311/v2/services.{fmt}")
    assert resp.status == 200
    services = await read(resp, fmt, "services")
    assert [s["service_code"] for s in services] == list(SERVICE_CODES)
    assert len(services) == 15 and "other" not in SERVICE_CODES
    for s in services:
        assert list(s) == SERVICE_KEYS
        assert s["service_name"] == FIELD_LABELS[s["service_code"]][0]
        assert _bool(s["metadata"], fmt) is True and s["type"] == "realtime"
        assert s["description"] and s["group"] and FIELD_LABELS[s["service_code"]][1] in s["keywords"]
    traffic = next(s for s in services if s["service_code"] == "traffic")
    assert traffic["service_name"] == "Giao thông" and traffic["group"] == "Hạ tầng – giao thông"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_locale_en_gives_english_names(o311, fmt):
    services = await read(await o311.get(f"/open311/v2/services.{fmt}?locale=en"), fmt, "services")
    traffic = next(s for s in services if s["service_code"] == "traffic")
    assert traffic["service_name"] == "Traffic and road safety"
    assert traffic["group"] == "Infrastructure and transport"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_our_jurisdiction_is_accepted_and_another_is_404(o311, fmt):
    ok = await o311.get(f"/open311/v2/services.{fmt}", params={"jurisdiction_id": JURISDICTION_ID})
    assert ok.status == 200
    resp = await o311.get(f"/open311/v2/services.{fmt}", params={"jurisdiction_id": "sfgov.org"})
    assert "jurisdiction_id" in await spec_error(resp, fmt, 404)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_service_definition_has_the_urgent_attribute(o311, fmt):
    resp = await o311.get(f"/open311/v2/services/drainage_flooding.{fmt}")
    assert resp.status == 200
    definition = await read(resp, fmt, "service_definition")
    assert definition["service_code"] == "drainage_flooding"
    (attribute,) = definition["attributes"]
    assert list(attribute) == ATTRIBUTE_KEYS
    assert attribute["code"] == "urgent" and attribute["datatype"] == "singlevaluelist"
    assert _bool(attribute["variable"], fmt) is True and _bool(attribute["required"], fmt) is False
    assert str(attribute["order"]) == "1" and attribute["datatype_description"] is None
    assert attribute["values"] == [{"key": "yes", "name": "Có"}, {"key": "no", "name": "Không"}]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", ["potholes", "other"])
async def test_unknown_service_definition_is_404(o311, fmt, code):
    resp = await o311.get(f"/open311/v2/services/{code}.{fmt}")
    assert "service_code" in await spec_error(resp, fmt, 404)


@pytest.mark.parametrize("path, fmt", [
    ("/open311/v2/nothing.json", "json"),
    ("/open311/v2/services.csv", "xml"),
    ("/open311/v2/services", "xml"),
])
async def test_unknown_paths_answer_in_the_specification_format(o311, path, fmt):
    await spec_error(await o311.get(path), fmt, 404)


async def test_wrong_method_is_405_in_the_specification_format(o311):
    await spec_error(await o311.delete("/open311/v2/services.json"), "json", 405)


async def test_hotline_errors_elsewhere_keep_their_own_format(o311):
    resp = await o311.get("/api/v1/cases")
    assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"
