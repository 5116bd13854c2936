"""Procedure fixtures: an empty or sample-loaded procedures table, and the app with the procedure API mounted."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import asyncpg
import pytest

from integrations.procedures import import_procedures, views

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The catalogue sits beside the repository and carries no licence to copy it in, so the repository keeps
# only the codes of the records the tests use; the records are read from <repo>/../shared at test time.
REPO = Path(__file__).resolve().parents[3]
CATALOGUE = REPO.parent / "shared" / "data" / "procedures"


def _extract() -> tuple[Path, Path]:
    if not CATALOGUE.is_dir():
        pytest.skip(f"the procedure catalogue is not at {CATALOGUE}", allow_module_level=True)
    out = Path(tempfile.mkdtemp(prefix="hotline-procedures-"))
    codes = (FIXTURES / "sample_codes.txt").read_text(encoding="utf-8").split()
    found: dict[str, str] = {}
    for path in sorted((CATALOGUE / "jsonl_by_ministry").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            code = json.loads(line)["ma_thu_tuc"]
            if code in codes and code not in found:
                found[code] = line
    (out / "sample.jsonl").write_text("\n".join(found[c] for c in codes) + "\n", encoding="utf-8")
    summary_codes = set((FIXTURES / "summary_codes.txt").read_text(encoding="utf-8").split())
    with (CATALOGUE / "dvcqg_procedures_7_ministries_summary.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if r["ma_thu_tuc"] in summary_codes]
        fields = reader.fieldnames
    with (out / "summary.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out / "sample.jsonl", out / "summary.csv"


SAMPLE, SUMMARY = _extract()


@pytest.fixture
async def procedures(pool: asyncpg.Pool) -> asyncpg.Pool:
    """An empty procedures table (the session database outlives each test)."""
    await pool.execute("TRUNCATE procedures")
    return pool


@pytest.fixture
async def sample(procedures: asyncpg.Pool) -> asyncpg.Pool:
    """The 47 real records of fixtures/sample.jsonl, imported."""
    report = await import_procedures(procedures, SAMPLE)
    assert report.inserted == 47 and not report.errors
    return procedures


@pytest.fixture
async def api(aiohttp_client, settings, sample):
    """The whole hotline app with the procedure API mounted once, over the sample catalogue."""
    from hotline.app import create_app

    app = create_app(settings)
    if not any(r.canonical.startswith("/api/v1/procedures") for r in app.router.resources()):
        views.setup(app)
    return await aiohttp_client(app)
