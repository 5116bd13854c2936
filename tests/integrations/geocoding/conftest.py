"""The gazetteer, built once per session from the package CSVs and the shared ward polygons."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from integrations.geocoding.build import build_gazetteer
from integrations.geocoding.gazetteer import Gazetteer
from integrations.geocoding.paths import DATA_DIR, OLD_WARDS_CSV, POLYGONS, WARDS_CSV, default_admin_units_dir

ADMIN_UNITS = default_admin_units_dir()
HAS_POLYGONS = (ADMIN_UNITS / POLYGONS).is_file()
needs_polygons = pytest.mark.skipif(not HAS_POLYGONS, reason=f"no ward polygons at {ADMIN_UNITS / POLYGONS}")


@pytest.fixture(scope="session")
def gazetteer_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An artifact with boundaries when the shared polygons are there (names-only otherwise)."""
    path = tmp_path_factory.mktemp("gazetteer") / "gazetteer.pkl"
    build_gazetteer(ADMIN_UNITS, path)
    return path


@pytest.fixture(scope="session")
def gazetteer(gazetteer_path: Path) -> Gazetteer:
    return Gazetteer.load(gazetteer_path)


@pytest.fixture(scope="session")
def names_only(tmp_path_factory: pytest.TempPathFactory) -> Gazetteer:
    """A gazetteer built without polygons, as on a machine without the shared data."""
    path = tmp_path_factory.mktemp("names-only") / "gazetteer.pkl"
    build_gazetteer(tmp_path_factory.mktemp("no-admin-units"), path)
    return Gazetteer.load(path)


@pytest.fixture(scope="session")
def old_rows() -> list[dict[str, str]]:
    """The package's old→new table, read directly (the tests' independent view of the data)."""
    with (DATA_DIR / OLD_WARDS_CSV).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def ward_rows() -> list[dict[str, str]]:
    with (DATA_DIR / WARDS_CSV).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
