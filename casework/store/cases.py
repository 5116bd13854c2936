"""Cases: intake, reading, listing and updating them, their attachments, the units they go to."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from casework import codes

CASE_COLUMNS = """
    c.id, c.tracking_code, c.status, c.channel, c.citizen_id, c.description, c.locale, c.language, c.field,
    c.confidence, c.classifier_version, c.urgent, c.entities, c.address, c.lat, c.lon, c.ward_code,
    c.geocode_confidence, c.department, d.name_vi AS department_name_vi, d.name_en AS department_name_en,
    c.routing_reason, c.routing_reason_en, c.due_at, c.deadline_reason, c.deadline_reason_en, c.duplicate_of,
    c.processed_at, c.process_error, c.priority, c.sla_policy_id, c.forwarded_at, c.accepted_at,
    c.first_response_at, c.resolved_at, c.sla_state, c.clock_paused_at, c.assignee, c.assigned_at,
    c.duplicate_score, c.procedure_suggestions, c.created_at, c.updated_at, c.acknowledge
"""
CASE_FROM = "cases c LEFT JOIN departments d ON d.code = c.department"


async def intake(
    conn: asyncpg.Connection,
    *,
    channel: str,
    provider_id: str,
    check_existing: bool,
    request_hash: str | None,
    text: str,
    search_text: str,
    sender: str | None,
    identities: list[dict[str, str]],
    name: str | None,
    locale: str,
    address: str | None,
    lat: float | None,
    lon: float | None,
    raw: dict[str, Any],
    attachments_meta: list[dict[str, Any]],
    code: str,
) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT * FROM intake_message($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
        channel, provider_id, check_existing, request_hash, text, search_text, sender,
        identities or None, name, locale,
        address, lat, lon, raw, attachments_meta or None, code,
    )


async def insert_attachments(conn: asyncpg.Connection, message_id: int, rows: list[tuple]) -> None:
    await conn.executemany(
        "INSERT INTO attachments (message_id, filename, content_type, size, sha256, data)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(message_id, *row) for row in rows],
    )


async def get_case(conn: asyncpg.Connection, case_id: int, *, lock: bool = False) -> asyncpg.Record | None:
    if lock:
        # Lock the case row only; the department join is read as it is.
        await conn.execute("SELECT 1 FROM cases WHERE id = $1 FOR UPDATE", case_id)
    return await conn.fetchrow(f"SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.id = $1", case_id)


async def get_case_by_code(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.tracking_code = $1", code)


@dataclass(frozen=True, slots=True)
class CaseFilter:
    status: str | None = None
    field: str | None = None
    department: str | None = None
    ward: str | None = None
    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None  # already folded (no diacritics, lower case)
    urgent: bool | None = None


_TEXT_MATCH = "to_tsvector('simple', {alias}.search_text) @@ to_tsquery('simple', ?)"
# How many of the newest cases passing the other filters are searched row by row, in two widening steps, before
# the rest is left to the full-text index (see `fetch_newest`).
SEARCH_PROBES = (250, 2000)


def search_condition(text: str) -> tuple[str, Any] | None:
    """The condition (with one `?`) and value for staff search text, already folded.

    A tracking code (its check digit right, spaces allowed) is looked up by the unique index; other text
    matches when every word is a prefix of a word of the case's folded text: "ngap nuo" finds "ngập nước".
    """
    code = codes.normalise(text)
    if code is not None:
        return "c.tracking_code = ?", code
    query = _tsquery(text)
    if query is None:
        return None
    return _TEXT_MATCH.format(alias="c"), query


def _tsquery(text: str) -> str | None:
    words = re.findall(r"\w+", text)
    return " & ".join(f"{w}:*" for w in words) if words else None


async def fetch_newest(conn: asyncpg.Connection, where: list[str], args: list[Any], text: str | None,
                       limit: int, *, probes: tuple[int, ...] = SEARCH_PROBES) -> list[asyncpg.Record]:
    """The cases passing `where` (over `args` as $1, $2...) and the search text, newest first, at most `limit`.

    The full-text index cannot return rows newest first: a common word ("mat dien" matches one case in
    twelve) costs a bitmap of all its matches however few are shown, ANDed with the other filters' indexes.
    So the newest cases passing the other filters are read in id order and matched one by one, in widening
    steps (`probes`: 250 cases, then the 2,000 before them), stopping as soon as the page is full; what is
    older is left to the index, at once if the first step matched nothing (a rare word: the index is quick).
    A common word costs a few hundred rows, a rare one a step plus the index. Either way the rows are those
    of the plain query. `probes` is changed only by tests.
    """
    condition = search_condition(text) if text else None
    if condition is None:
        return await _fetch(conn, where, args, limit)
    if condition[0] != _TEXT_MATCH.format(alias="c"):  # a tracking code: one row by its unique index
        return await _fetch(conn, [*where, condition[0].replace("?", f"${len(args) + 1}")],
                            [*args, condition[1]], limit)
    query = condition[1]
    rows: list[asyncpg.Record] = []
    older: list[Any] = []  # the lowest id looked at so far, once a step is done
    for size in probes:
        clauses = [*where, *([f"c.id < ${len(args) + 1}"] if older else [])]
        n = len(args) + len(older)
        newest = ("SELECT c.id, c.search_text FROM cases c" + (" WHERE " + " AND ".join(clauses) if clauses else "")
                  + f" ORDER BY c.id DESC LIMIT ${n + 1}")
        rows += await conn.fetch(
            f"SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.id = ANY(ARRAY("
            f"SELECT p.id FROM ({newest}) p WHERE {_TEXT_MATCH.format(alias='p').replace('?', f'${n + 2}')}"
            f" ORDER BY p.id DESC LIMIT ${n + 3})) ORDER BY c.id DESC",
            *args, *older, size, query, limit - len(rows))
        if len(rows) >= limit:
            return rows
        seen, floor = await conn.fetchrow(f"SELECT count(*), min(id) FROM ({newest}) p", *args, *older, size)
        if seen < size:  # every case passing the filters was looked at
            return rows
        older = [floor]
        if not rows:  # nothing among the newest: a rare word, which the index finds quickly
            break
    clauses = [*where, f"c.id < ${len(args) + 1}", condition[0].replace("?", f"${len(args) + 2}")]
    return rows + await _fetch(conn, clauses, [*args, *older, query], limit - len(rows))


async def _fetch(conn: asyncpg.Connection, where: list[str], args: list[Any], limit: int) -> list[asyncpg.Record]:
    sql = (f"SELECT {CASE_COLUMNS} FROM {CASE_FROM}" + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY c.id DESC LIMIT ${len(args) + 1}")
    return await conn.fetch(sql, *args, limit)


class Where:
    """A WHERE clause being built: each `?` of an added condition becomes the next `$n`."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def add(self, clause: str, *values: Any) -> None:
        for value in values:
            self.args.append(value)
            clause = clause.replace("?", f"${len(self.args)}", 1)
        self.clauses.append(clause)


def filter_cases(where: Where, flt: Any, *, scope_department: str | None, after: int | None) -> None:
    """The filters the staff API's list and the console's inbox share (`flt` has CaseFilter's fields)."""
    if scope_department is not None:
        where.add("c.department = ?", scope_department)
    for column in ("status", "field", "department", "channel"):
        value = getattr(flt, column)
        if value is not None:
            where.add(f"c.{column} = ?", value)
    if flt.ward is not None:
        where.add("c.ward_code = ?", flt.ward)
    if flt.urgent is not None:
        where.add("c.urgent = ?", flt.urgent)
    if flt.since is not None:
        where.add("c.created_at >= ?", flt.since)
    if flt.until is not None:
        where.add("c.created_at < ?", flt.until)
    if after is not None:
        where.add("c.id < ?", after)


async def list_cases(
    conn: asyncpg.Connection,
    flt: CaseFilter,
    *,
    scope_department: str | None,
    after: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first, keyset-paginated on the id (ids grow with time)."""
    where = Where()
    filter_cases(where, flt, scope_department=scope_department, after=after)
    return await fetch_newest(conn, where.clauses, where.args, flt.text, limit)


_UPDATABLE = frozenset({
    "priority", "sla_policy_id", "forwarded_at", "accepted_at", "first_response_at", "resolved_at", "sla_state",
    "clock_paused_at", "paused_seconds", "assignee", "assigned_at", "duplicate_score", "procedure_suggestions",
    "status", "field", "confidence", "classifier_version", "urgent", "entities", "language", "ward_code",
    "geocode_confidence", "lat", "lon", "address", "department", "routing_reason", "routing_reason_en", "due_at",
    "deadline_reason", "deadline_reason_en", "duplicate_of", "processed_at", "process_error", "process_attempts",
    "process_after", "acknowledge",
})


async def update_case(conn: asyncpg.Connection, case_id: int, values: dict[str, Any]) -> None:
    unknown = set(values) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    columns = list(values)
    assignments = ", ".join(f"{col} = ${i + 2}" for i, col in enumerate(columns))
    await conn.execute(
        f"UPDATE cases SET {assignments}, updated_at = now() WHERE id = $1",
        case_id, *(values[c] for c in columns),
    )


async def claim_unprocessed(conn: asyncpg.Connection, limit: int, now: datetime) -> list[asyncpg.Record]:
    """Lock up to `limit` cases waiting for processing, oldest first, skipping those another worker holds.

    Call inside a transaction: the locks are the claim, released by the commit (or by the worker's
    connection dropping, should it die).
    """
    # NO KEY UPDATE: workers still exclude each other, but the reports' projection (whose rows point at the
    # case, taking a key-share lock) never hides a case from a worker.
    return await conn.fetch(
        f"SELECT {CASE_COLUMNS}, c.process_attempts FROM {CASE_FROM} WHERE c.id IN ("
        " SELECT id FROM cases WHERE processed_at IS NULL AND (process_after IS NULL OR process_after <= $2)"
        " ORDER BY id LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED) ORDER BY c.id",
        limit, now,
    )


async def claim_case(conn: asyncpg.Connection, case_id: int) -> asyncpg.Record | None:
    """Lock one case for processing now, back-off or not; None if processed or held by another worker."""
    return await conn.fetchrow(
        f"SELECT {CASE_COLUMNS}, c.process_attempts FROM {CASE_FROM} WHERE c.id IN ("
        " SELECT id FROM cases WHERE id = $1 AND processed_at IS NULL FOR NO KEY UPDATE SKIP LOCKED)",
        case_id,
    )


async def record_process_failure(conn: asyncpg.Connection, case_id: int, error: str,
                                 retry_at: datetime | None) -> int:
    """Count a failed try, keep its error and set when to try again; return the tries so far."""
    return await conn.fetchval(
        "UPDATE cases SET process_attempts = process_attempts + 1, process_error = $2, process_after = $3"
        " WHERE id = $1 RETURNING process_attempts",
        case_id, error, retry_at,
    )


async def unprocessed_count(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM cases WHERE processed_at IS NULL")


async def duplicates_of(conn: asyncpg.Connection, parent_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.duplicate_of = $1 ORDER BY c.id",
                            parent_id)


async def attachment(conn: asyncpg.Connection, attachment_id: int, *, scope_department: str | None = None
                     ) -> asyncpg.Record | None:
    """An attachment, only if its case is visible: with a scope, only on that unit's cases."""
    return await conn.fetchrow(
        "SELECT a.id, a.filename, a.content_type, a.data, m.case_id FROM attachments a"
        " JOIN messages m ON m.id = a.message_id JOIN cases c ON c.id = m.case_id"
        " WHERE a.id = $1 AND ($2::text IS NULL OR c.department = $2)",
        attachment_id, scope_department,
    )


async def department_exists(conn: asyncpg.Connection, code: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM departments WHERE code = $1 AND active", code))


async def department_names(conn: asyncpg.Connection, codes: list[str]) -> dict[str, tuple[str, str]]:
    """Units' Vietnamese and English names by code (unknown codes left out)."""
    rows = await conn.fetch("SELECT code, name_vi, name_en FROM departments WHERE code = ANY($1::text[])", codes)
    return {r["code"]: (r["name_vi"], r["name_en"]) for r in rows}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
