"""The procedures table: the row type, batch upserts, and the queries behind search."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from dataclasses import field as default
from typing import Any

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection  # a pool, a connection, or a pool's connection proxy


@dataclass(frozen=True, slots=True)
class Procedure:
    """One catalogue procedure as stored; `detailed` is false for a summary (CSV) row."""

    code: str
    name: str
    search_text: str
    field: str = ""
    level: str = ""
    agency: str = ""
    processing_time: str | None = None
    fees: str | None = None
    documents: list[dict[str, str]] = default(default_factory=list)
    channels: list[str] = default(default_factory=list)
    where_to_apply: str | None = None
    link: str | None = None
    source: str = ""
    detailed: bool = False


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    inserted: int
    updated: int
    skipped: int


@asynccontextmanager
async def connection(db: Db) -> AsyncIterator[asyncpg.Connection]:
    """Borrow a connection from a pool, or use the connection given."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
    else:
        yield db


_COLUMNS = ("code", "name", "field", "level", "agency", "processing_time", "fees", "documents", "channels",
            "where_to_apply", "link", "source", "detailed", "search_text")
_TYPES = {"documents": "jsonb", "channels": "text[]", "detailed": "boolean"}
_RECORDSET = ", ".join(f"{c} {_TYPES.get(c, 'text')}" for c in _COLUMNS)
_CHANGED = ", ".join(f"p.{c}" for c in _COLUMNS[1:]), ", ".join(f"EXCLUDED.{c}" for c in _COLUMNS[1:])

# A summary row never replaces a full record, and an unchanged row is not rewritten (so updated_at
# means "changed"). (xmax = 0) tells an inserted row from an updated one.
UPSERT = f"""
INSERT INTO procedures AS p ({", ".join(_COLUMNS)})
SELECT {", ".join(f"r.{c}" for c in _COLUMNS)} FROM jsonb_to_recordset($1::text::jsonb) AS r({_RECORDSET})
ON CONFLICT (code) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[1:])}, updated_at = now()
WHERE (EXCLUDED.detailed OR NOT p.detailed) AND ({_CHANGED[0]}) IS DISTINCT FROM ({_CHANGED[1]})
RETURNING (xmax = 0) AS inserted
"""


async def upsert(conn: asyncpg.Connection, procedures: Sequence[Procedure]) -> UpsertCounts:
    """Insert or update one batch (codes must be unique within it)."""
    if not procedures:
        return UpsertCounts(0, 0, 0)
    payload = json.dumps([asdict(p) for p in procedures], ensure_ascii=False)
    rows = await conn.fetch(UPSERT, payload)
    inserted = sum(1 for r in rows if r["inserted"])
    return UpsertCounts(inserted, len(rows) - inserted, len(procedures) - len(rows))


DETAIL_COLUMNS = ("code, name, field, level, agency, processing_time, fees, documents, channels, where_to_apply,"
                  " link, source, detailed, updated_at")


def _decoded(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    if isinstance(row.get("documents"), str):  # a connection without the pool's jsonb codec
        row["documents"] = json.loads(row["documents"])
    row["channels"] = list(row.get("channels") or [])
    return row


async def get(db: Db, code: str) -> dict[str, Any] | None:
    async with connection(db) as conn:
        row = await conn.fetchrow(f"SELECT {DETAIL_COLUMNS} FROM procedures WHERE code = $1", code)
    return _decoded(row) if row else None


async def get_many(conn: asyncpg.Connection, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {DETAIL_COLUMNS} FROM procedures WHERE code = ANY($1::text[])", list(codes))
    return {r["code"]: _decoded(r) for r in rows}


async def document_frequencies(conn: asyncpg.Connection, queries: Sequence[str]) -> tuple[int, list[int]]:
    """The number of procedures, and how many match each tsquery (each one an index lookup)."""
    rows = await conn.fetch(
        "SELECT 0 AS i, count(*) AS n FROM procedures"
        " UNION ALL"
        " SELECT q.i::int, (SELECT count(*) FROM procedures p WHERE p.search_vector @@ to_tsquery('simple', q.query))"
        " FROM unnest($1::text[]) WITH ORDINALITY AS q(query, i)",
        list(queries),
    )
    by_index = {r["i"]: r["n"] for r in rows}
    return by_index[0], [by_index[i] for i in range(1, len(queries) + 1)]


async def candidates(conn: asyncpg.Connection, tsquery: str, limit: int) -> list[asyncpg.Record]:
    """Procedures matching any term of the query, best full-text rank first, for scoring in Python."""
    return await conn.fetch(
        "SELECT code, level, search_text FROM procedures WHERE search_vector @@ to_tsquery('simple', $1)"
        " ORDER BY ts_rank(search_vector, to_tsquery('simple', $1)) DESC, code LIMIT $2",
        tsquery, limit,
    )


async def count(db: Db) -> int:
    """How many procedures the catalogue holds."""
    async with connection(db) as conn:
        return await conn.fetchval("SELECT count(*) FROM procedures")
