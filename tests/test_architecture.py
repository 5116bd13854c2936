"""The layers hold: import contracts (import-linter) and SQL only in store modules."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hotline", "kernel", "channels", "classifier", "routing", "casework", "console", "integrations")
# Connection plumbing of the composition root: applying migrations and the health probe.
NOT_A_STORE_BUT_ALLOWED = {"hotline/db.py", "hotline/app.py"}
SQL_CALL = re.compile(r"\.(fetch|fetchrow|fetchval|execute|executemany|copy_records_to_table)\(\s*f?[\"']")


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-logo", "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _is_store(path: Path) -> bool:
    return path.name == "store.py" or path.parent.name == "store"


def test_sql_lives_only_in_store_modules():
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if _is_store(path) or relative in NOT_A_STORE_BUT_ALLOWED:
                continue
            text = path.read_text(encoding="utf-8")
            for match in SQL_CALL.finditer(text):  # the SQL string may start on the next line
                number = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{relative}:{number}: {text.splitlines()[number - 1].strip()}")
    assert not offenders, "SQL outside store modules:\n" + "\n".join(offenders)


def test_the_contract_catches_a_context_importing_the_root(tmp_path):
    # The check itself must be able to fail: a copy of the tree with one forbidden import breaks it.
    import shutil

    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("build", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "routing" / "rules.py").open("a", encoding="utf-8") as f:
        f.write("\nimport hotline.settings  # noqa: E402, F401\n")
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-logo", "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode != 0 and "routing.rules -> hotline.settings" in done.stdout
