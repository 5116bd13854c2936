"""Optional online refinement: a point for an address from a configured Nominatim server, through geopy.

Off by default and never needed: the gazetteer works offline. When configured, the gazetteer keeps a
refined point only if it falls in the ward (or one of the candidate wards) that it found itself.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

# Ho Chi Minh City after 1 July 2025, Côn Đảo included: (south-west, north-east) as (lat, lon).
HCMC_VIEWBOX = ((8.5, 106.3), (11.6, 107.7))


def geopy_available() -> bool:
    """Tell whether geopy is installed (it is not a dependency of the project)."""
    return importlib.util.find_spec("geopy") is not None


class NominatimRefiner:
    """Looks an address up on a Nominatim server; returns (lat, lon) or None, never raises on network errors."""

    def __init__(self, url: str, *, user_agent: str = "hotline-1022-geocoder", timeout: float = 3.0,
                 geocoder: Any = None) -> None:
        if geocoder is None:
            if not url:
                raise ValueError("a Nominatim URL is required")
            if not geopy_available():
                raise RuntimeError("geopy is not installed: the online refinement is unavailable")
            from geopy.geocoders import Nominatim

            parts = urlsplit(url if "://" in url else "https://" + url)
            geocoder = Nominatim(domain=parts.netloc + parts.path.rstrip("/"), scheme=parts.scheme or "https",
                                 user_agent=user_agent, timeout=timeout)
        self._geocoder = geocoder

    def locate(self, address: str) -> tuple[float, float] | None:
        """Return the server's point for an address, bounded to the city; None when it has none or fails."""
        try:
            found = self._geocoder.geocode(address, exactly_one=True, country_codes="vn",
                                           viewbox=HCMC_VIEWBOX, bounded=True)
        except Exception as e:  # noqa: BLE001 - geopy raises many network error types; refinement is optional
            log.warning("nominatim lookup failed: %s", type(e).__name__)
            return None
        if found is None:
            return None
        return float(found.latitude), float(found.longitude)
