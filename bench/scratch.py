"""What the database benchmarks share: a throw-away database's address on a local server, and percentiles."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def local_database(dsn: str, name: str) -> str:
    """The address of database `name` on the server of `dsn`; a server that is not this machine is refused."""
    parts = urlsplit(dsn)
    if parts.hostname not in (None, "", "127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing a non-local server: {parts.hostname}")
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def nearest_rank(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) of the values, by the nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
