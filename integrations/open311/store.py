"""SQL for Open311: clients, the requests they posted, and a read-only view of those requests' cases."""

from __future__ import annotations

from typing import Any

import asyncpg

from integrations.open311.models import RequestQuery

# The case behind each Open311 request, with what the public may see: the current field (or the
# service the citizen chose while the case is unclassified), the unit, and the latest answer and
# status change for status_notes. No citizen, message sender or identity column is selected.
REQUEST_COLUMNS = """
    c.id, c.tracking_code, c.status, c.description, c.address, c.lat, c.lon, c.due_at, c.created_at, c.updated_at,
    CASE WHEN c.field IS NULL OR c.field = 'other' THEN r.service_code ELSE c.field END AS service_code,
    d.name_vi AS unit_vi, d.name_en AS unit_en, r.token, r.address_id, r.media_url,
    a.text AS reply_text, a.created_at AS reply_at, e.at AS status_at
"""
REQUEST_FROM = """
    open311_requests r
    JOIN cases c ON c.id = r.case_id
    LEFT JOIN departments d ON d.code = c.department
    LEFT JOIN LATERAL (SELECT m.text, m.created_at FROM messages m
                       WHERE m.case_id = c.id AND m.direction = 'out' AND m.kind = 'reply'
                       ORDER BY m.id DESC LIMIT 1) a ON true
    LEFT JOIN LATERAL (SELECT ev.at FROM case_events ev
                       WHERE ev.case_id = c.id AND ev.public AND ev.to_status IS NOT NULL
                       ORDER BY ev.id DESC LIMIT 1) e ON true
"""
SERVICE_CODE = "CASE WHEN c.field IS NULL OR c.field = 'other' THEN r.service_code ELSE c.field END"


async def insert_client(conn: asyncpg.Connection, name: str, key_hash: str, jurisdiction_id: str) -> int:
    return await conn.fetchval(
        "INSERT INTO open311_clients (name, api_key_hash, jurisdiction_id) VALUES ($1, $2, $3) RETURNING id",
        name, key_hash, jurisdiction_id,
    )


async def revoke_clients(conn: asyncpg.Connection, name: str) -> int:
    status = await conn.execute(
        "UPDATE open311_clients SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL", name)
    return int(status.split()[-1])


async def client_by_key_hash(conn: asyncpg.Connection, key_hash: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, name, jurisdiction_id FROM open311_clients WHERE api_key_hash = $1 AND revoked_at IS NULL",
        key_hash,
    )


async def save_request(
    conn: asyncpg.Connection, *, token: str, case_id: int, client_id: int, service_code: str,
    address_id: str | None, media_url: str | None,
) -> str:
    """Remember an Open311 request for its case; a replayed request keeps the token it was first given."""
    # The SELECT cannot see the CTE's insert (one snapshot), so exactly one of the two gives a row.
    return await conn.fetchval(
        "WITH ins AS (INSERT INTO open311_requests (token, case_id, client_id, service_code, address_id, media_url)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (case_id) DO NOTHING RETURNING token)"
        " SELECT token FROM ins UNION ALL SELECT token FROM open311_requests WHERE case_id = $2 LIMIT 1",
        token, case_id, client_id, service_code, address_id, media_url,
    )


async def case_for_token(conn: asyncpg.Connection, token: str) -> str | None:
    """The tracking code of the case a token stands for."""
    return await conn.fetchval(
        "SELECT c.tracking_code FROM open311_requests r JOIN cases c ON c.id = r.case_id WHERE r.token = $1", token)


async def find_requests(conn: asyncpg.Connection, query: RequestQuery, case_statuses: list[str] | None,
                        limit: int) -> list[asyncpg.Record]:
    """Open311 requests matching the query, newest first."""
    where: list[str] = []
    args: list[Any] = []

    def add(clause: str, value: Any) -> None:
        args.append(value)
        where.append(clause.replace("?", f"${len(args)}"))

    if query.ids is not None:
        add("c.tracking_code = ANY(?::text[])", list(query.ids))
    else:
        if query.service_codes:
            add(f"{SERVICE_CODE} = ANY(?::text[])", list(query.service_codes))
        if case_statuses is not None:
            add("c.status = ANY(?::text[])", case_statuses)
        if query.start is not None:
            add("c.created_at >= ?", query.start)
        if query.end is not None:
            add("c.created_at <= ?", query.end)
    args.append(limit)
    sql = (f"SELECT {REQUEST_COLUMNS} FROM {REQUEST_FROM}"
           + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY c.created_at DESC, c.id DESC LIMIT ${len(args)}")
    return await conn.fetch(sql, *args)
