"""Build the gazetteer artifact from the package CSVs and, when available, the ward polygons.

    python -m integrations.geocoding.build [--admin-units DIR] [--out PATH]

Sources (data/SOURCE.md says where each comes from): the 168 new wards, the pre-2025 communes mapped to
them (Resolution 1685/NQ-UBTVQH15), the pre-2025 districts, and the units merged away on 1 January 2021
(Resolution 1111/NQ-UBTVQH14: Phường 6, 7, 8 of Quận 3 into Võ Thị Sáu; Quận 2, Quận 9 and Quận Thủ Đức
into Thành phố Thủ Đức...), each resolved through the 2021–2025 unit that took it in.

Deterministic: the same inputs give the same bytes. The polygons are read from the shared data folder and
only a simplified copy goes into the (git-ignored) artifact; without them the gazetteer is names-only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import pickle
import re
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from .geometry import LAT0, project
from .paths import (
    DATA_DIR,
    DEFAULT_PATH,
    DISTRICTS_CSV,
    MERGED_2021_CSV,
    OLD_WARDS_CSV,
    POLYGONS,
    WARDS_CSV,
    default_admin_units_dir,
)
from .text import fold, name_key

log = logging.getLogger(__name__)

FORMAT = 2  # 2: the units merged away in 2021
# Coverage simplification keeps shared borders shared (no new gaps or overlaps). At 10 m the largest
# displacement of any border, measured as the Hausdorff distance per ward, is about 10 m; 62k of 217k
# vertices remain.
TOLERANCE_M = 10.0
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class BuildReport:
    out: Path
    wards: int
    old_wards: int
    districts: int
    has_boundaries: bool
    vertices: int
    max_error_m: float
    merged_2021: int = 0


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _order_targets(old_code: str, old_name: str, targets: list[str], names: dict[str, str],
                   locality: Counter[str]) -> tuple[str, ...]:
    """Put first the new unit most likely to hold a split old ward's centre.

    The GSO reuses the code of the unit a new one is built around, and usually its name; failing both, the
    new unit that took most of the old district's other wards.
    """
    folded = fold(old_name).split(" ", 1)[-1]

    def rank(code: str) -> tuple[int, int, int, str]:
        same_name = fold(names[code]).split(" ", 1)[-1] == folded
        return (code != old_code, not same_name, -locality[code], code)

    return tuple(sorted(targets, key=rank))


def read_merged_2021(rows: list[dict[str, str]], old_wards: list[tuple[Any, ...]],
                     districts: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str]]]:
    """Resolve the units merged away in 2021 through the pre-2025 unit that took them in.

    A ward becomes one more old ward of its successor's district, with the successor's new unit(s) as
    targets; a district becomes another name of its successor. Every row is checked against the pre-2025
    data, so a wrong or stale row fails the build instead of misplacing addresses.
    """
    by_key = {(o[3], name_key(o[1])): o for o in old_wards}
    district_names = {d[0]: d[1] for d in districts}
    wards: dict[tuple[str, str], tuple[Any, ...]] = {}
    aliases: dict[str, tuple[str, str, str]] = {}
    moved = {r["old_name"]: r["successor_district_code"] for r in rows if r["level"] == "district"}
    for r in rows:
        where = f"{MERGED_2021_CSV}: {r['old_name']}"
        code = r["successor_district_code"]
        if district_names.get(code) != r["successor_district"]:
            raise ValueError(f"{where}: district {code} is not {r['successor_district']!r}")
        if not r["resolution"] or not _DATE.fullmatch(r["effective"]):
            raise ValueError(f"{where}: needs its resolution and an effective date (YYYY-MM-DD)")
        if r["level"] == "district":
            if r["successor_name"] != r["successor_district"] or name_key(r["old_name"]) in aliases:
                raise ValueError(f"{where}: a district row names its successor district once")
            aliases[name_key(r["old_name"])] = (r["old_name"], code, r["resolution"])
        elif r["level"] == "ward":
            key = (code, name_key(r["old_name"]))
            successor = by_key.get((code, name_key(r["successor_name"])))
            if successor is None or successor[1] != r["successor_name"]:
                raise ValueError(f"{where}: {r['successor_name']!r} is not a pre-2025 ward of {code}")
            if key in by_key or key in wards:
                raise ValueError(f"{where}: the name is already taken in {r['successor_district']}")
            if r["old_district"] != r["successor_district"] and moved.get(r["old_district"]) != code:
                raise ValueError(f"{where}: its district {r['old_district']!r} did not become {code}")
            _, successor_name, ward_type, _, province, targets = successor
            wards[key] = (f"{code}/{r['old_name']}", r["old_name"], ward_type, code, province, targets,
                          successor_name, r["resolution"])
        else:
            raise ValueError(f"{where}: level must be 'ward' or 'district', not {r['level']!r}")
    return sorted(wards.values()), sorted(aliases.values())


def read_tables(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """Read the four CSVs into the artifact's plain tuples."""
    wards_rows = _rows(data_dir / WARDS_CSV)
    old_rows = _rows(data_dir / OLD_WARDS_CSV)
    district_rows = _rows(data_dir / DISTRICTS_CSV)
    names = {r["code"]: r["full_name"] for r in wards_rows}
    wards = sorted(
        (r["code"], r["name"], r["full_name"], r["type"], float(r["label_lat"]), float(r["label_lon"]),
         tuple(c.rstrip("*") for c in r["merged_from_old_codes"].split(";") if c))
        for r in wards_rows
    )
    by_old: dict[str, list[dict[str, str]]] = defaultdict(list)
    per_district: dict[str, Counter[str]] = defaultdict(Counter)
    for r in old_rows:
        if r["new_ward_code"] not in names:
            raise ValueError(f"old ward {r['old_ward_code']} maps to unknown new unit {r['new_ward_code']}")
        by_old[r["old_ward_code"]].append(r)
        # A whole old ward counts 2, half of a split one 1: the district's main successor comes first.
        per_district[r["old_district_code"]][r["new_ward_code"]] += 2 if r["part"] == "full" else 1
    old_wards = []
    for code, rows in sorted(by_old.items()):
        if not code:
            continue  # Huyện Côn Đảo had no communes: it maps as a district
        first = rows[0]
        if int(first["n_targets"]) != len(rows):
            raise ValueError(f"old ward {code}: n_targets {first['n_targets']} but {len(rows)} rows")
        targets = _order_targets(code, first["old_ward_name"], [r["new_ward_code"] for r in rows], names,
                                 per_district[first["old_district_code"]])
        old_wards.append((code, first["old_ward_name"], first["old_ward_type"], first["old_district_code"],
                          first["old_province_code"], targets))
    districts = []
    for r in sorted(district_rows, key=lambda r: r["district_code"]):
        counts = per_district[r["district_code"]]
        targets = tuple(sorted(counts, key=lambda c: (-counts[c], c)))
        districts.append((r["district_code"], r["district_name"], r["district_type"], r["province_code"], targets))
    merged_wards, merged_districts = read_merged_2021(_rows(data_dir / MERGED_2021_CSV), old_wards, districts)
    return {"wards": wards, "old_wards": old_wards, "districts": districts,
            "merged_2021_wards": merged_wards, "merged_2021_districts": merged_districts,
            "sources": {name: _sha256(data_dir / name)
                        for name in (WARDS_CSV, OLD_WARDS_CSV, DISTRICTS_CSV, MERGED_2021_CSV)}}


def read_shapes(polygons: Path, codes: list[str]) -> dict[str, Any]:
    """Read, project and simplify the ward polygons; return codes, WKB and the measured error."""
    collection = json.loads(polygons.read_text(encoding="utf-8"))
    found = {str(f["properties"]["code"]): shape(f["geometry"]) for f in collection["features"]}
    if sorted(found) != sorted(codes):
        missing, extra = sorted(set(codes) - set(found)), sorted(set(found) - set(codes))
        raise ValueError(f"polygons do not match the ward list: missing {missing}, unexpected {extra}")
    original = np.array([project(found[c]) for c in codes], dtype=object)
    simplified = shapely.coverage_simplify(original, TOLERANCE_M)
    simplified = shapely.make_valid(simplified)
    error = max(shapely.hausdorff_distance(a, b) for a, b in zip(original, simplified, strict=True))
    return {
        "codes": list(codes),
        "wkb": [shapely.to_wkb(g, byte_order=1) for g in simplified],
        "tolerance_m": TOLERANCE_M,
        "max_error_m": round(float(error), 2),
        "vertices": int(shapely.get_num_coordinates(simplified).sum()),
        "lat0": LAT0,
        "source_sha256": hashlib.sha256(polygons.read_bytes()).hexdigest(),
    }


def build_gazetteer(admin_units_dir: Path | None, out: Path, *, data_dir: Path = DATA_DIR) -> BuildReport:
    """Write the gazetteer artifact to out; names-only when admin_units_dir has no ward polygons."""
    artifact: dict[str, Any] = {"format": FORMAT, **read_tables(data_dir), "shapes": None}
    polygons = admin_units_dir / POLYGONS if admin_units_dir is not None else None
    if polygons is not None and polygons.is_file():
        artifact["shapes"] = read_shapes(polygons, [w[0] for w in artifact["wards"]])
    else:
        log.warning("no ward polygons at %s: building a names-only gazetteer", polygons)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=out.name, suffix=".tmp", delete=False) as f:
        pickle.dump(artifact, f, protocol=4)
        tmp = Path(f.name)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    shapes = artifact["shapes"] or {}
    return BuildReport(out=out, wards=len(artifact["wards"]), old_wards=len(artifact["old_wards"]),
                       districts=len(artifact["districts"]), has_boundaries=bool(shapes),
                       vertices=shapes.get("vertices", 0), max_error_m=shapes.get("max_error_m", 0.0),
                       merged_2021=len(artifact["merged_2021_wards"]) + len(artifact["merged_2021_districts"]))


def stale_reason(sources: dict[str, str], has_boundaries: bool, admin_units_dir: Path | None,
                 data_dir: Path = DATA_DIR) -> str | None:
    """Say why an artifact built from `sources` should be rebuilt now, or None when it is current."""
    for name, digest in sorted(sources.items()):
        path = data_dir / name
        if not path.is_file() or _sha256(path) != digest:
            return f"{name} changed"
    if not has_boundaries and admin_units_dir is not None and (admin_units_dir / POLYGONS).is_file():
        return "built names-only, and the polygons are now available"
    return None


def main(argv: list[str] | None = None) -> int:
    """Build the artifact from the command line and print what it holds."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-units", type=Path, default=None,
                        help="the admin_units folder (default: $HOTLINE_ADMIN_UNITS_DIR or ../shared/data/admin_units)")
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    report = build_gazetteer(args.admin_units or default_admin_units_dir(), args.out)
    boundaries = (f"{report.vertices} vertices, border error <= {report.max_error_m} m" if report.has_boundaries
                  else "names only (no polygons found)")
    print(f"{report.out}: {report.wards} wards, {report.old_wards} old wards, {report.districts} old districts; "
          f"{boundaries}; {report.merged_2021} units merged away in 2021")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
