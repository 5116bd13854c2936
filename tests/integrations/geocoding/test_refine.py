"""The optional online refinement: geopy's Nominatim behind a small contract, never required, never raising."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from integrations.geocoding.refine import HCMC_VIEWBOX, NominatimRefiner, geopy_available


class FakeGeopy:
    def __init__(self, answer=None, error=None):
        self.answer, self.error, self.calls = answer, error, []

    def geocode(self, query, **kwargs):
        self.calls.append((query, kwargs))
        if self.error is not None:
            raise self.error
        return self.answer


def test_locate_asks_for_one_answer_bounded_to_the_city():
    fake = FakeGeopy(SimpleNamespace(latitude=10.7769, longitude=106.7009))
    assert NominatimRefiner("https://nominatim.example", geocoder=fake).locate("Phường Sài Gòn") == (10.7769, 106.7009)
    (query, kwargs), = fake.calls
    assert query == "Phường Sài Gòn"
    assert kwargs == {"exactly_one": True, "country_codes": "vn", "viewbox": HCMC_VIEWBOX, "bounded": True}


def test_locate_returns_none_when_nothing_is_found_or_the_network_fails():
    assert NominatimRefiner("x", geocoder=FakeGeopy()).locate("nowhere") is None
    assert NominatimRefiner("x", geocoder=FakeGeopy(error=TimeoutError("slow"))).locate("anywhere") is None


@pytest.mark.skipif(geopy_available(), reason="geopy is installed here")
def test_without_geopy_the_refiner_cannot_be_built():
    with pytest.raises(RuntimeError, match="geopy is not installed"):
        NominatimRefiner("https://nominatim.example")


def test_a_url_is_required():
    with pytest.raises(ValueError):
        NominatimRefiner("")
