"""Where the geocoder's data, its source polygons and its built gazetteer live."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
DEFAULT_PATH = PACKAGE_DIR / "build" / "gazetteer.pkl"
ADMIN_UNITS_ENV = "HOTLINE_ADMIN_UNITS_DIR"
POLYGONS = Path("vietnamese_provinces_database") / "hcmc_wards_2025.merged.min.geojson"
WARDS_CSV, OLD_WARDS_CSV, DISTRICTS_CSV = (
    "hcmc_wards_2025.csv", "hcmc_old_to_new_wards_2025.csv", "old_districts_pre2025_hcm_bd_brvt.csv")
MERGED_2021_CSV = "hcmc_units_merged_2021.csv"  # units merged away on 1 January 2021 (1111/NQ-UBTVQH14)


def default_admin_units_dir() -> Path:
    """Return $HOTLINE_ADMIN_UNITS_DIR, else the shared data folder next to the repository."""
    # The one environment read of this package: the build step runs outside the app's Settings (make, tests).
    configured = os.environ.get(ADMIN_UNITS_ENV)
    if configured:
        return Path(configured)
    return PACKAGE_DIR.parent.parent.parent / "shared" / "data" / "admin_units"
