"""SQL for the map: open cases with a point, and open cases per ward (a unit's only, or all)."""

from __future__ import annotations

from typing import Any

import asyncpg

from kernel.cases import OPEN_STATUSES


def _where(department: str | None, field: str | None) -> tuple[str, list[Any]]:
    clauses = ["c.status = ANY($1::text[])"]
    args: list[Any] = [list(OPEN_STATUSES)]
    if department is not None:
        args.append(department)
        clauses.append(f"c.department = ${len(args)}")
    if field is not None:
        args.append(field)
        clauses.append(f"c.field = ${len(args)}")
    return " AND ".join(clauses), args


async def open_points(conn: asyncpg.Connection, department: str | None, field: str | None,
                      limit: int) -> list[asyncpg.Record]:
    """Open cases with a point, newest first."""
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
    where, args = _where(department, field)
    return await conn.fetch(
        f"SELECT c.ward_code, count(*) AS open FROM cases c WHERE {where} GROUP BY c.ward_code ORDER BY c.ward_code",
        *args,
    )
