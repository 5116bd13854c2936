"""The build step: deterministic, names-only without polygons, documented data, and load_default."""

from __future__ import annotations

import hashlib
import pickle

import pytest

from integrations.geocoding import NoGazetteer, load_default
from integrations.geocoding.build import FORMAT, build_gazetteer, main
from integrations.geocoding.gazetteer import Gazetteer
from integrations.geocoding.paths import DATA_DIR

from .conftest import ADMIN_UNITS, needs_polygons


@needs_polygons
def test_build_is_deterministic(gazetteer_path, tmp_path):
    again = tmp_path / "again.pkl"
    build_gazetteer(ADMIN_UNITS, again)
    assert again.read_bytes() == gazetteer_path.read_bytes()


@needs_polygons
def test_artifact_holds_simplified_polygons_and_no_source_geometry(gazetteer_path):
    data = pickle.loads(gazetteer_path.read_bytes())
    assert data["format"] == FORMAT
    shapes = data["shapes"]
    assert len(shapes["codes"]) == 168 and shapes["tolerance_m"] == 10.0
    assert shapes["vertices"] < 100_000  # the source has 217k
    assert len(data["wards"]) == 168 and len(data["old_wards"]) == 441 and len(data["districts"]) == 38


def test_build_without_polygons_is_names_only(tmp_path):
    out = tmp_path / "build" / "g.pkl"
    report = build_gazetteer(tmp_path / "missing", out)
    assert not report.has_boundaries
    assert pickle.loads(out.read_bytes())["shapes"] is None
    assert Gazetteer.load(out).resolve("P5Q3").ward_code == "27154"


def test_build_main_prints_a_summary(tmp_path, capsys):
    assert main(["--admin-units", str(tmp_path), "--out", str(tmp_path / "g.pkl")]) == 0
    assert "168 wards, 441 old wards, 38 old districts; names only" in capsys.readouterr().out


def test_data_copies_match_their_documented_checksums():
    source = (DATA_DIR / "SOURCE.md").read_text(encoding="utf-8")
    for name in ("hcmc_wards_2025.csv", "hcmc_old_to_new_wards_2025.csv", "old_districts_pre2025_hcm_bd_brvt.csv"):
        digest = hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest()
        assert f"`{name}`" in source and digest in source, name
    assert not list(DATA_DIR.glob("*.geojson"))  # the polygons must not be copied into the repository


def test_load_default_builds_a_missing_artifact(tmp_path):
    path = tmp_path / "build" / "gazetteer.pkl"
    loaded = load_default(path, admin_units_dir=tmp_path / "missing")
    assert isinstance(loaded, Gazetteer) and path.is_file()
    assert loaded.resolve("P5Q3").ward_code == "27154"


def test_load_default_rebuilds_an_unreadable_artifact(tmp_path):
    path = tmp_path / "gazetteer.pkl"
    path.write_bytes(b"not a pickle")
    assert isinstance(load_default(path, admin_units_dir=tmp_path / "missing"), Gazetteer)


def test_load_default_rebuilds_a_stale_artifact(tmp_path, monkeypatch):
    path = tmp_path / "gazetteer.pkl"
    build_gazetteer(None, path)
    data = pickle.loads(path.read_bytes())
    data["sources"]["hcmc_wards_2025.csv"] = "0" * 64  # as if the CSV had changed since
    path.write_bytes(pickle.dumps(data))
    calls = []
    monkeypatch.setattr("integrations.geocoding.build.build_gazetteer",
                        lambda *a, **k: calls.append(a) or build_gazetteer(*a, **k))
    assert isinstance(load_default(path, admin_units_dir=tmp_path / "missing"), Gazetteer)
    assert len(calls) == 1
    assert isinstance(load_default(path, admin_units_dir=tmp_path / "missing"), Gazetteer)
    assert len(calls) == 1  # now current: loaded, not rebuilt


@needs_polygons
def test_load_default_upgrades_a_names_only_artifact_when_polygons_appear(tmp_path):
    path = tmp_path / "gazetteer.pkl"
    build_gazetteer(None, path)
    assert load_default(path, admin_units_dir=ADMIN_UNITS).has_boundaries


def test_load_default_falls_back_to_no_gazetteer(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("read-only file system")

    monkeypatch.setattr("integrations.geocoding.build.build_gazetteer", fail)
    loaded = load_default(tmp_path / "nothing.pkl", admin_units_dir=tmp_path)
    assert isinstance(loaded, NoGazetteer)
    assert loaded.geocode("P5Q3", None, None) is None


def test_stale_format_is_refused(tmp_path):
    out = tmp_path / "g.pkl"
    build_gazetteer(None, out)
    data = pickle.loads(out.read_bytes())
    with pytest.raises(ValueError, match="rebuild"):
        Gazetteer.from_artifact(data | {"format": FORMAT + 1})
