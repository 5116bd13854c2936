"""Outbound messages: the outbox (queue, claim, finish, recover) and the messages of a case."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def insert_outbound(
    conn: asyncpg.Connection,
    *,
    case_id: int,
    citizen_id: int | None,
    channel: str,
    key: str,
    recipient_kind: str,
    text: str,
    kind: str,
    author_id: int | None,
    recipient: str | None = None,
) -> int | None:
    """Queue a message in the outbox to `recipient`, else the citizen's first identity of `recipient_kind`.

    One statement; None when the same key was queued before.
    """
    return await conn.fetchval(
        "INSERT INTO messages (case_id, citizen_id, direction, channel, provider_message_id, recipient, text,"
        " kind, status, author_id) VALUES ($1, $2, 'out', $3, $4,"
        " coalesce($9, (SELECT value FROM citizen_identities WHERE citizen_id = $2 AND kind = $5 ORDER BY id LIMIT 1)),"
        " $6, $7, 'queued', $8)"
        " ON CONFLICT (channel, direction, provider_message_id) WHERE provider_message_id NOT LIKE 'auto:%'"
        " DO NOTHING RETURNING id",
        case_id, citizen_id, channel, key, recipient_kind, text, kind, author_id, recipient,
    )


async def claim_outbound(conn: asyncpg.Connection, message_id: int) -> asyncpg.Record | None:
    """Move a queued outbound message to `sending`; None if someone else has it or it is done."""
    return await conn.fetchrow(
        "UPDATE messages m SET status = 'sending', attempts = attempts + 1, claimed_at = now()"
        " FROM (SELECT id FROM messages WHERE id = $1 AND direction = 'out' AND status = 'queued'"
        "       FOR UPDATE SKIP LOCKED) q"
        " WHERE m.id = q.id" + _CLAIMED,
        message_id,
    )


_CLAIMED = (
    " RETURNING m.id, m.case_id, m.channel, m.recipient, m.text, m.attempts, m.kind,"
    " (SELECT tracking_code FROM cases WHERE id = m.case_id) AS tracking_code,"
    " (SELECT locale FROM cases WHERE id = m.case_id) AS locale,"
    " (SELECT status FROM cases WHERE id = m.case_id) AS case_status,"
    " CASE WHEN m.channel = 'email' THEN ARRAY(SELECT i.provider_message_id FROM messages i"
    "   WHERE i.case_id = m.case_id AND i.direction = 'in' AND i.channel = 'email' ORDER BY i.id DESC LIMIT 5)"
    " END AS thread_refs,"
    " EXISTS (SELECT 1 FROM contact_opt_outs o WHERE o.channel = m.channel AND o.address = m.recipient) AS opted_out"
)


async def claim_outbound_batch(conn: asyncpg.Connection, limit: int, now: datetime) -> list[asyncpg.Record]:
    """Move up to `limit` queued messages whose time has come to `sending`, oldest first, and return them.

    Acknowledgements and replies are claimed here, by their own loop, so they never wait behind
    case processing.
    """
    return await conn.fetch(
        "UPDATE messages m SET status = 'sending', attempts = attempts + 1, claimed_at = $2"
        " FROM (SELECT id FROM messages WHERE direction = 'out' AND status = 'queued'"
        "       AND (next_attempt_at IS NULL OR next_attempt_at <= $2)"
        "       ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) q"
        " WHERE m.id = q.id" + _CLAIMED,
        limit, now,
    )


async def finish_outbound(
    conn: asyncpg.Connection, message_id: int, *, status: str, external_id: str | None, error: str | None,
    retry_at: datetime | None = None, segments: int | None = None,
) -> None:
    """Record how a send ended; a message going back to `queued` waits until `retry_at`.

    A delivery report may have come before this commit (providers are fast): a status it set
    further along (delivered, failed) is kept.
    """
    await conn.execute(
        "UPDATE messages SET status = CASE WHEN status = 'sending' OR $2 <> 'sent' THEN $2 ELSE status END,"
        " external_id = coalesce($3, external_id),"
        " error = CASE WHEN $4::text IS NOT NULL THEN $4 WHEN status = 'failed' THEN error END,"
        " next_attempt_at = $5, segments = coalesce($6, segments),"
        " sent_at = CASE WHEN $2 IN ('sent', 'delivered') THEN coalesce(sent_at, now()) ELSE sent_at END"
        " WHERE id = $1",
        message_id, status, external_id, error, retry_at, segments,
    )


async def outbox_waiting(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'queued'")


async def reset_stuck_sends(conn: asyncpg.Connection, stuck_after_seconds: float) -> list[int]:
    """Put back in the queue the messages claimed longer ago than a send may take (their worker died).

    `stuck_after_seconds` must stay above the send timeout: a message another worker is sending
    right now must not be handed out again.
    """
    rows = await conn.fetch(
        "UPDATE messages SET status = 'queued' WHERE direction = 'out' AND status = 'sending'"
        " AND claimed_at < now() - make_interval(secs => $1) RETURNING id",
        float(stuck_after_seconds),
    )
    return [r["id"] for r in rows]


async def public_replies(conn: asyncpg.Connection, case_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT text, created_at FROM messages WHERE case_id = $1 AND direction = 'out' AND kind = 'reply'"
        " ORDER BY id",
        case_id,
    )


async def case_messages(conn: asyncpg.Connection, case_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT m.id, m.direction, m.channel, m.kind, m.text, m.status, m.created_at, m.sent_at, m.author_id,"
        " m.sender, m.recipient, m.error, m.provider_status, m.provider_error, m.segments,"
        " coalesce((SELECT json_agg(json_build_object('id', a.id, 'filename', a.filename,"
        " 'content_type', a.content_type, 'size', a.size) ORDER BY a.id)"
        " FROM attachments a WHERE a.message_id = m.id), '[]'::json) AS files"
        " FROM messages m WHERE m.case_id = $1 ORDER BY m.id",
        case_id,
    )
