"""Addresses and points to the wards of Ho Chi Minh City, offline: old (pre-2025) and new addresses both resolve.

    gazetteer = load_default()
    gazetteer.geocode("123/4 Nguyễn Trãi, P.2, Q.5", None, None)   # GeocodeResult or None
    gazetteer.resolve(lat=10.7769, lon=106.7009)                     # GeocodeResult or GeocodeError

A leaf package: it imports no other package of the project, and needs no network (the optional
NominatimRefiner in refine.py is used only when geopy is installed and a URL is configured).

Build the artifact with `python -m integrations.geocoding.build` (see build.py) into the git-ignored
build/gazetteer.pkl. Without the ward polygons the gazetteer is names-only: addresses still resolve (to
the ward's label point), while a point raises GeocodeError("no_boundaries", "no boundaries available…")
from resolve() and gives None from geocode(); with an address and a point, the address decides.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

from .models import AddressParts, GeocodeError, GeocodeResult
from .paths import DEFAULT_PATH, default_admin_units_dir

if TYPE_CHECKING:
    from .gazetteer import Gazetteer, Refiner

__all__ = ["DEFAULT_PATH", "AddressParts", "GeocodeError", "GeocodeResult", "NoGazetteer", "load_default"]

log = logging.getLogger(__name__)


class NoGazetteer:
    """Resolves nothing: no gazetteer is loaded."""

    has_boundaries = False

    def geocode(self, address: str | None, lat: float | None, lon: float | None) -> GeocodeResult | None:
        return None

    def resolve(self, address: str | None = None, lat: float | None = None,
                lon: float | None = None) -> GeocodeResult:
        raise GeocodeError("no_gazetteer", "no gazetteer is loaded")


def load_default(path: Path = DEFAULT_PATH, admin_units_dir: Path | None = None,
                 refiner: Refiner | None = None) -> Gazetteer | NoGazetteer:
    """Load the built gazetteer; build it first if it is missing or stale; NoGazetteer if neither works.

    Stale: a package CSV changed since the build, or it was built names-only and the polygons are now there.
    """
    from .build import build_gazetteer, stale_reason
    from .gazetteer import Gazetteer

    admin_units_dir = admin_units_dir or default_admin_units_dir()
    if path.is_file():
        try:
            loaded = Gazetteer.load(path, refiner)
        except (OSError, ValueError, KeyError, TypeError, pickle.UnpicklingError, EOFError) as e:
            log.warning("gazetteer at %s unusable (%s): rebuilding it", path, e)
        else:
            reason = stale_reason(loaded.meta["sources"], loaded.has_boundaries, admin_units_dir)
            if reason is None:
                return loaded
            log.info("gazetteer at %s is stale (%s): rebuilding it", path, reason)
    try:
        build_gazetteer(admin_units_dir, path)
        return Gazetteer.load(path, refiner)
    except (OSError, ValueError, KeyError) as e:
        log.error("no gazetteer: building %s failed (%s); addresses will not be geocoded", path, e)
        return NoGazetteer()
