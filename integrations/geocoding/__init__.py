"""Addresses and points to wards; the offline gazetteer arrives with its own issue."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    ward_code: str
    ward_name: str
    lat: float | None
    lon: float | None
    confidence: float


class NoGazetteer:
    """Resolves nothing: no gazetteer is loaded."""

    def geocode(self, address: str | None, lat: float | None, lon: float | None) -> GeocodeResult | None:
        return None
