"""SQL for the map: open cases with a point, and open cases per ward (a unit's only, or all)."""

from __future__ import annotations

from typing import Any

import asyncpg

from kernel.cases import OPEN_SQL


def _where(department: str | None, field: str | None) -> tuple[str, list[Any]]:
    # The open statuses as literals: the partial indexes (migration 0016) serve only a predicate they imply.
    clauses = [f"c.status IN {OPEN_SQL}"]
    args: list[Any] = []
    if department is not None:
        args.append(department)
        clauses.append(f"c.department = ${len(args)}")
    if field is not None:
        args.append(field)
        clauses.append(f"c.field = ${len(args)}")
    return " AND ".join(clauses), args


async def open_points(conn: asyncpg.Connection, department: str | None, field: str | None,
                      limit: int) -> list[asyncpg.Record]:
    """Open cases with a point, newest first (an index-only scan of cases_open_located[_all])."""
    where, args = _where(department, field)
    args.append(limit)
    return await conn.fetch(
        "SELECT c.id, c.tracking_code, c.status, c.field, c.urgent, c.ward_code, c.lat, c.lon, c.sla_state"
        f" FROM cases c WHERE {where} AND c.lat IS NOT NULL AND c.lon IS NOT NULL"
        f" ORDER BY c.id DESC LIMIT ${len(args)}",
        *args,
    )


async def open_counts_by_ward(conn: asyncpg.Connection, department: str | None,
                              field: str | None) -> list[asyncpg.Record]:
    """Open cases per ward (cases without a ward are counted under NULL)."""
    if department is None:
        return await _all_units_by_ward(conn, field)
    where, args = _where(department, field)  # one unit's open cases: a range of cases_open_board
    return await conn.fetch(
        f"SELECT c.ward_code, count(*) AS open FROM cases c WHERE {where} GROUP BY c.ward_code ORDER BY c.ward_code",
        *args,
    )


async def _all_units_by_ward(conn: asyncpg.Connection, field: str | None) -> list[asyncpg.Record]:
    """Every unit's open cases per ward, from the counters of migration 0017 (exact: rollup + pending deltas)."""
    await conn.execute("SELECT console_fold_open_counts()")
    return await conn.fetch(
        "SELECT ward_code, sum(n)::bigint AS open FROM ("
        " SELECT ward_code, field, n FROM console_open_wards"
        " UNION ALL SELECT ward_code, field, n FROM console_open_deltas) o"
        " WHERE $1::text IS NULL OR field = $1"
        " GROUP BY ward_code HAVING sum(n) <> 0 ORDER BY ward_code",
        field,
    )
