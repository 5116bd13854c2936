"""SQL for cases, messages, citizens and events: the only module of casework that talks to asyncpg."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from casework.models import Actor
from kernel.cases import OPEN_SQL

CASE_COLUMNS = """
    c.id, c.tracking_code, c.status, c.channel, c.citizen_id, c.description, c.locale, c.language, c.field,
    c.confidence, c.classifier_version, c.urgent, c.entities, c.address, c.lat, c.lon, c.ward_code,
    c.geocode_confidence, c.department, d.name_vi AS department_name_vi, d.name_en AS department_name_en,
    c.routing_reason, c.due_at, c.deadline_reason, c.duplicate_of, c.processed_at, c.process_error,
    c.priority, c.sla_policy_id, c.forwarded_at, c.accepted_at, c.first_response_at, c.resolved_at, c.sla_state,
    c.clock_paused_at, c.assignee, c.assigned_at, c.duplicate_score, c.procedure_suggestions, c.created_at,
    c.updated_at
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


async def list_cases(
    conn: asyncpg.Connection,
    flt: CaseFilter,
    *,
    scope_department: str | None,
    after: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first, keyset-paginated on the id (ids grow with time)."""
    where: list[str] = []
    args: list[Any] = []

    def add(clause: str, value: Any) -> None:
        args.append(value)
        where.append(clause.replace("?", f"${len(args)}"))

    if scope_department is not None:
        add("c.department = ?", scope_department)
    for column in ("status", "field", "department", "channel"):
        value = getattr(flt, column)
        if value is not None:
            add(f"c.{column} = ?", value)
    if flt.ward is not None:
        add("c.ward_code = ?", flt.ward)
    if flt.urgent is not None:
        add("c.urgent = ?", flt.urgent)
    if flt.since is not None:
        add("c.created_at >= ?", flt.since)
    if flt.until is not None:
        add("c.created_at < ?", flt.until)
    if flt.text:
        words = re.findall(r"\w+", flt.text)
        if words:
            # Every word the staff typed, each as a prefix: "ngap nuo" finds "ngập nước".
            add("to_tsvector('simple', c.search_text) @@ to_tsquery('simple', ?)", " & ".join(f"{w}:*" for w in words))
    if after is not None:
        add("c.id < ?", after)
    args.append(limit)
    sql = (
        f"SELECT {CASE_COLUMNS} FROM {CASE_FROM}"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY c.id DESC LIMIT ${len(args)}"
    )
    return await conn.fetch(sql, *args)


async def case_messages(conn: asyncpg.Connection, case_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT m.id, m.direction, m.channel, m.kind, m.text, m.status, m.created_at, m.sent_at, m.author_id,"
        " m.sender, m.recipient, m.error,"
        " coalesce((SELECT json_agg(json_build_object('id', a.id, 'filename', a.filename,"
        " 'content_type', a.content_type, 'size', a.size) ORDER BY a.id)"
        " FROM attachments a WHERE a.message_id = m.id), '[]'::json) AS files"
        " FROM messages m WHERE m.case_id = $1 ORDER BY m.id",
        case_id,
    )


async def case_events(conn: asyncpg.Connection, case_id: int, *, public_only: bool = False) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, at, actor_kind, actor_id, actor_name, kind, from_status, to_status, changes, reason, public"
        " FROM case_events WHERE case_id = $1" + (" AND public" if public_only else "") + " ORDER BY id",
        case_id,
    )


async def insert_event(
    conn: asyncpg.Connection,
    case_id: int,
    actor: Actor,
    kind: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    changes: dict[str, Any] | None = None,
    reason: str | None = None,
    public: bool = False,
) -> None:
    await conn.execute(
        "INSERT INTO case_events (case_id, actor_kind, actor_id, actor_name, kind, from_status, to_status,"
        " changes, reason, public) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        case_id, actor.kind, actor.id, actor.name, kind, from_status, to_status, changes or {}, reason, public,
    )


_UPDATABLE = frozenset({
    "priority", "sla_policy_id", "forwarded_at", "accepted_at", "first_response_at", "resolved_at", "sla_state",
    "clock_paused_at", "paused_seconds", "assignee", "assigned_at", "duplicate_score", "procedure_suggestions",
    "status", "field", "confidence", "classifier_version", "urgent", "entities", "language", "ward_code",
    "geocode_confidence", "lat", "lon", "address", "department", "routing_reason", "due_at",
    "deadline_reason", "duplicate_of", "processed_at", "process_error", "process_attempts",
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


async def link_citizen(conn: asyncpg.Connection, case_id: int) -> int | None:
    return await conn.fetchval("SELECT link_citizen($1)", case_id)


async def bump_attempts(conn: asyncpg.Connection, case_id: int) -> int:
    return await conn.fetchval(
        "UPDATE cases SET process_attempts = process_attempts + 1 WHERE id = $1 RETURNING process_attempts",
        case_id,
    )


async def citizen_address(conn: asyncpg.Connection, citizen_id: int | None, kind: str) -> str | None:
    if citizen_id is None:
        return None
    return await conn.fetchval(
        "SELECT value FROM citizen_identities WHERE citizen_id = $1 AND kind = $2 ORDER BY id LIMIT 1",
        citizen_id, kind,
    )


async def citizen(conn: asyncpg.Connection, citizen_id: int | None) -> dict[str, Any] | None:
    if citizen_id is None:
        return None
    row = await conn.fetchrow("SELECT id, display_name, locale FROM citizens WHERE id = $1", citizen_id)
    if row is None:
        return None
    idents = await conn.fetch(
        "SELECT kind, value FROM citizen_identities WHERE citizen_id = $1 ORDER BY id", citizen_id
    )
    return {
        "id": row["id"], "name": row["display_name"], "locale": row["locale"],
        "identities": [{"kind": r["kind"], "value": r["value"]} for r in idents],
    }


async def insert_outbound(
    conn: asyncpg.Connection,
    *,
    case_id: int,
    citizen_id: int | None,
    channel: str,
    key: str,
    recipient: str | None,
    text: str,
    kind: str,
    author_id: int | None,
) -> int | None:
    """Queue a message in the outbox; None when the same key was queued before."""
    return await conn.fetchval(
        "INSERT INTO messages (case_id, citizen_id, direction, channel, provider_message_id, recipient, text,"
        " kind, status, author_id) VALUES ($1, $2, 'out', $3, $4, $5, $6, $7, 'queued', $8)"
        " ON CONFLICT (channel, direction, provider_message_id) WHERE provider_message_id NOT LIKE 'auto:%'"
        " DO NOTHING RETURNING id",
        case_id, citizen_id, channel, key, recipient, text, kind, author_id,
    )


async def claim_outbound(conn: asyncpg.Connection, message_id: int) -> asyncpg.Record | None:
    """Move a queued outbound message to `sending`; None if someone else has it or it is done."""
    return await conn.fetchrow(
        "UPDATE messages m SET status = 'sending', attempts = attempts + 1, claimed_at = now()"
        " FROM (SELECT id FROM messages WHERE id = $1 AND direction = 'out' AND status = 'queued'"
        "       FOR UPDATE SKIP LOCKED) q"
        " WHERE m.id = q.id"
        " RETURNING m.id, m.case_id, m.channel, m.recipient, m.text, m.attempts,"
        " (SELECT tracking_code FROM cases WHERE id = m.case_id) AS tracking_code,"
        " (SELECT locale FROM cases WHERE id = m.case_id) AS locale",
        message_id,
    )


async def finish_outbound(
    conn: asyncpg.Connection, message_id: int, *, status: str, external_id: str | None, error: str | None
) -> None:
    await conn.execute(
        "UPDATE messages SET status = $2, external_id = coalesce($3, external_id), error = $4,"
        " sent_at = CASE WHEN $2 IN ('sent', 'delivered') THEN now() ELSE sent_at END WHERE id = $1",
        message_id, status, external_id, error,
    )


async def unprocessed_cases(conn: asyncpg.Connection, older_than_seconds: int, limit: int = 500) -> list[int]:
    rows = await conn.fetch(
        "SELECT id FROM cases WHERE processed_at IS NULL"
        " AND created_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2",
        float(older_than_seconds), limit,
    )
    return [r["id"] for r in rows]


async def stale_outbox(conn: asyncpg.Connection, older_than_seconds: int, stuck_after_seconds: int,
                       limit: int = 500) -> list[int]:
    """Outbound messages still queued, or stuck in sending (a worker died mid-send), for re-enqueueing.

    `stuck_after_seconds` must stay well above any real send time: a message another worker is
    sending right now must not be handed out again.
    """
    await conn.execute(
        "UPDATE messages SET status = 'queued' WHERE direction = 'out' AND status = 'sending'"
        " AND claimed_at < now() - make_interval(secs => $1)",
        float(stuck_after_seconds),
    )
    rows = await conn.fetch(
        "SELECT id FROM messages WHERE direction = 'out' AND status = 'queued'"
        " AND created_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2",
        float(older_than_seconds), limit,
    )
    return [r["id"] for r in rows]


async def public_replies(conn: asyncpg.Connection, case_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT text, created_at FROM messages WHERE case_id = $1 AND direction = 'out' AND kind = 'reply'"
        " ORDER BY id",
        case_id,
    )


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


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def cases_under_deadline(conn: asyncpg.Connection, limit: int = 5000) -> list[asyncpg.Record]:
    """Open cases with a deadline that are not yet marked overdue, oldest deadline first."""
    return await conn.fetch(
        "SELECT c.id, c.tracking_code, c.field, c.urgent, c.channel, c.description, c.created_at, c.due_at,"
        " c.sla_state, c.department, c.clock_paused_at FROM cases c"
        f" WHERE c.due_at IS NOT NULL AND c.status IN {OPEN_SQL}"
        " AND c.sla_state <> 'overdue' ORDER BY c.due_at LIMIT $1",
        limit,
    )


async def case_pauses(conn: asyncpg.Connection, case_ids: list[int]) -> dict[int, list[tuple]]:
    rows = await conn.fetch(
        "SELECT case_id, started_at, ended_at FROM case_pauses WHERE case_id = ANY($1) ORDER BY id", case_ids)
    out: dict[int, list[tuple]] = {}
    for r in rows:
        out.setdefault(r["case_id"], []).append((r["started_at"], r["ended_at"]))
    return out


async def unaccepted_cases(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Forwarded cases their unit has neither accepted nor rejected within its acceptance window."""
    return await conn.fetch(
        "SELECT c.id, c.tracking_code, c.department, c.forwarded_at, d.accept_minutes, d.name_vi FROM cases c"
        " JOIN departments d ON d.code = c.department"
        " WHERE c.status = 'forwarded' AND c.accepted_at IS NULL AND c.forwarded_at IS NOT NULL"
        " AND c.forwarded_at + make_interval(mins => d.accept_minutes) <= $1",
        now,
    )


async def notify(conn: asyncpg.Connection, *, case_id: int, audience: str, department: str | None, kind: str,
                 deadline: datetime | None, message: str) -> bool:
    """Record a notice once per case, audience, kind and deadline; False when it was already sent."""
    status = await conn.execute(
        "INSERT INTO notifications (case_id, audience, department, kind, deadline, message)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        case_id, audience, department, kind, deadline, message,
    )
    return status.endswith(" 1")


async def notifications(conn: asyncpg.Connection, *, department: str | None, supervisors: bool,
                        limit: int = 100) -> list[asyncpg.Record]:
    if supervisors:
        return await conn.fetch(
            "SELECT * FROM notifications WHERE audience = 'supervisors' ORDER BY id DESC LIMIT $1", limit)
    return await conn.fetch(
        "SELECT * FROM notifications WHERE audience = 'unit' AND department = $1 ORDER BY id DESC LIMIT $2",
        department, limit)


async def duplicates_of(conn: asyncpg.Connection, parent_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.duplicate_of = $1 ORDER BY c.id",
                            parent_id)


async def start_pause(conn: asyncpg.Connection, case_id: int, at: datetime, reason: str) -> None:
    await conn.execute("INSERT INTO case_pauses (case_id, started_at, reason) VALUES ($1, $2, $3)", case_id, at, reason)


async def end_pause(conn: asyncpg.Connection, case_id: int, at: datetime) -> None:
    await conn.execute("UPDATE case_pauses SET ended_at = $2 WHERE case_id = $1 AND ended_at IS NULL", case_id, at)


async def pauses_of(conn: asyncpg.Connection, case_id: int) -> list[tuple]:
    rows = await conn.fetch("SELECT started_at, ended_at FROM case_pauses WHERE case_id = $1 ORDER BY id", case_id)
    return [(r["started_at"], r["ended_at"]) for r in rows]


async def bump_paused(conn: asyncpg.Connection, case_id: int, seconds: int) -> None:
    await conn.execute("UPDATE cases SET paused_seconds = paused_seconds + $2 WHERE id = $1", case_id, seconds)


async def claim_request(conn: asyncpg.Connection, actor_id: int, key: str, *, action: str, case_id: int,
                        request_hash: str) -> asyncpg.Record | None:
    """Claim an idempotency key inside the caller's transaction; the earlier request's row if it was used.

    A concurrent request with the same key waits on the primary key until the first one commits
    (then sees its row) or rolls back (then claims the key itself).
    """
    claimed = await conn.fetchval(
        "INSERT INTO staff_requests (actor_id, idempotency_key, action, case_id, request_hash)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
        actor_id, key, action, case_id, request_hash,
    )
    if claimed:
        return None
    return await conn.fetchrow(
        "SELECT action, case_id, request_hash, result FROM staff_requests WHERE actor_id = $1 AND idempotency_key = $2",
        actor_id, key,
    )


async def finish_request(conn: asyncpg.Connection, actor_id: int, key: str, result: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE staff_requests SET result = $3 WHERE actor_id = $1 AND idempotency_key = $2", actor_id, key, result)
