"""The JSON Lines contract of `hotline geocode`: one result or error line per non-empty input line, in order.

In:  {"id": "a1", "address": "P.5, Q.3"}   or   {"id": 7, "lat": 10.77, "lon": 106.69}   (both allowed)
Out: {"id", "ward_code", "ward_name", "old_ward", "old_district", "lat", "lon", "candidates", "confidence"}
     with candidates as [{"code", "name"}], or {"id", "error", "detail"} when the line cannot be geocoded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from .models import GeocodeError, GeocodeResult


class Resolver(Protocol):
    def resolve(self, address: str | None = None, lat: float | None = None,
                lon: float | None = None) -> GeocodeResult: ...


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise GeocodeError("invalid_input", f"{name} must be a number")
    try:
        number = float(value)
    except ValueError as e:
        raise GeocodeError("invalid_input", f"{name} must be a number") from e
    if not math.isfinite(number):
        raise GeocodeError("invalid_input", f"{name} must be a finite number")
    return number


def geocode_line(gazetteer: Resolver, line: str) -> dict[str, Any]:
    """Geocode one JSON line into the output object (never raises on bad input)."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as e:
        return {"id": None, "error": "invalid_json", "detail": f"invalid JSON: {e.msg} at column {e.colno}"}
    if not isinstance(item, dict):
        return {"id": None, "error": "invalid_input", "detail": "each line must be a JSON object"}
    ident = item.get("id")
    try:
        address = item.get("address")
        if address is not None and not isinstance(address, str):
            raise GeocodeError("invalid_input", "address must be a string")
        lat, lon = _number(item.get("lat"), "lat"), _number(item.get("lon"), "lon")
        if (lat is None) != (lon is None):
            raise GeocodeError("invalid_input", "give both lat and lon, or neither")
        if not (address or "").strip() and lat is None:
            raise GeocodeError("invalid_input", "give an address, or lat and lon")
        result = gazetteer.resolve(address, lat, lon)
    except GeocodeError as e:
        return {"id": ident, "error": e.code, "detail": e.detail}
    return {
        "id": ident,
        "ward_code": result.ward_code,
        "ward_name": result.ward_name,
        "old_ward": result.old_ward,
        "old_district": result.old_district,
        "lat": None if result.lat is None else round(result.lat, 6),
        "lon": None if result.lon is None else round(result.lon, 6),
        "candidates": [{"code": code, "name": name} for code, name in result.candidates],
        "confidence": result.confidence,
    }


def geocode_lines(gazetteer: Resolver, lines: Iterable[str]) -> Iterator[str]:
    """Yield one JSON line per non-empty input line: the result, or an error with the input's id."""
    for line in lines:
        if not line.strip():
            continue
        yield json.dumps(geocode_line(gazetteer, line), ensure_ascii=False)
