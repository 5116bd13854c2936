"""Conversations: which case a citizen's follow-up belongs to, opt-outs, provider delivery states, media to fetch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

# A follow-up may join a case in these states: open ones, an answered one (which it may reopen), and a
# duplicate (the citizen's own case, which staff linked to another).
JOINABLE = ("received", "triage", "forwarded", "in_progress", "reopened", "answered", "duplicate")


async def case_quoted_by(conn: asyncpg.Connection, codes: list[str], kind: str, sender: str) -> int | None:
    """The first of `codes` that is a joinable case this sender reported or is the citizen of; None otherwise.

    A code alone proves nothing (it is printed on a public page): the sender must be the case's own.
    """
    if not codes:
        return None
    return await conn.fetchval(
        "SELECT c.id FROM unnest($1::text[]) WITH ORDINALITY AS q(code, ord)"
        " JOIN cases c ON c.tracking_code = q.code"
        " WHERE c.status = ANY($4::text[]) AND ("
        "   EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id AND m.direction = 'in' AND m.sender = $3)"
        "   OR c.citizen_id IN (SELECT citizen_id FROM citizen_identities WHERE kind = $2 AND value = $3))"
        " ORDER BY q.ord LIMIT 1",
        codes, kind, sender, list(JOINABLE),
    )


async def case_referenced(conn: asyncpg.Connection, channel: str, refs: list[str]) -> int | None:
    """The joinable case of the latest message on `channel` whose provider id is one of `refs`: an inbound
    message of the citizen's, or one of ours (its provider id is our `external_id`)."""
    if not refs:
        return None
    return await conn.fetchval(
        "SELECT m.case_id FROM messages m JOIN cases c ON c.id = m.case_id"
        " WHERE m.channel = $1 AND c.status = ANY($3::text[]) AND ("
        "   (m.direction = 'in' AND m.provider_message_id = ANY($2::text[]))"
        "   OR (m.direction = 'out' AND m.external_id = ANY($2::text[])))"
        " ORDER BY m.id DESC LIMIT 1",
        channel, refs, list(JOINABLE),
    )


async def locate_case(conn: asyncpg.Connection, case_id: int, lat: float, lon: float) -> bool:
    """Set the case's point from a location the citizen shared; True when the case is to be processed again.

    A case not yet past triage is processed again, so its ward (and, if still waiting, its route) follows
    the point; a case already with a unit keeps its route (staff see the new point and the event).
    """
    again = await conn.fetchval(
        "UPDATE cases SET lat = $2, lon = $3, updated_at = now(),"
        " processed_at = CASE WHEN status IN ('received', 'triage') THEN NULL ELSE processed_at END,"
        " process_after = NULL"
        " WHERE id = $1 RETURNING status IN ('received', 'triage')",
        case_id, lat, lon,
    )
    return bool(again)


async def record_edit(conn: asyncpg.Connection, channel: str, provider_id: str, text: str, search_prefix: str,
                      at: datetime) -> asyncpg.Record | None:
    """Replace an inbound message's text, keeping the earlier one in its history; the case's description too
    when it is the case's first message. None when there is no such message."""
    row = await conn.fetchrow(
        "UPDATE messages m SET edits = m.edits || jsonb_build_array(jsonb_build_object("
        "   'text', m.text, 'replaced_at', $4::timestamptz)), text = $3"
        " WHERE m.channel = $1 AND m.direction = 'in' AND m.provider_message_id = $2 AND m.text IS DISTINCT FROM $3"
        " RETURNING m.id, m.case_id,"
        " m.id = (SELECT min(f.id) FROM messages f WHERE f.case_id = m.case_id AND f.direction = 'in') AS first",
        channel, provider_id, text, at,
    )
    if row is not None and row["first"]:
        await conn.execute(
            "UPDATE cases SET description = $2, search_text = tracking_code || ' ' || $3, updated_at = now()"
            " WHERE id = $1", row["case_id"], text, search_prefix)
    return row


# What rating an answer needs of its case.
_RATED_COLUMNS = ("c.id, c.tracking_code, c.status, c.channel, c.locale, c.citizen_id, c.resolved_at, c.answers,"
                  " c.answered_at")


async def own_case_by_code(conn: asyncpg.Connection, code: str, kind: str, sender: str) -> asyncpg.Record | None:
    """The case with this code if this sender reported it or is its citizen (for ratings and the like), locked."""
    return await conn.fetchrow(
        "SELECT " + _RATED_COLUMNS + " FROM cases c WHERE c.tracking_code = $1 AND ("
        "   EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id AND m.direction = 'in' AND m.sender = $3)"
        "   OR c.citizen_id IN (SELECT citizen_id FROM citizen_identities WHERE kind = $2 AND value = $3))"
        " FOR UPDATE OF c",
        code, kind, sender,
    )


async def case_to_rate(conn: asyncpg.Connection, code: str, *, lock: bool = False) -> asyncpg.Record | None:
    """The case with this code as rating needs it (a signed link or the web form's code proves who asks)."""
    return await conn.fetchrow(
        "SELECT " + _RATED_COLUMNS + " FROM cases c WHERE c.tracking_code = $1" + (" FOR UPDATE OF c" if lock else ""),
        code,
    )


async def case_answered_to(conn: asyncpg.Connection, channel: str, recipient: str,
                           since: datetime) -> asyncpg.Record | None:
    """The case of our latest message to `recipient` on `channel`, if answered or closed after `since`; locked.

    A reply "1"-"5" or "0" rates the answer it follows: the case our latest message was about. When a
    newer message was about another case, the digit is not taken for a rating.
    """
    return await conn.fetchrow(
        "SELECT " + _RATED_COLUMNS + " FROM cases c"
        " WHERE c.id = (SELECT m.case_id FROM messages m WHERE m.direction = 'out' AND m.channel = $1"
        "               AND m.recipient = $2 ORDER BY m.id DESC LIMIT 1)"
        " AND c.status IN ('answered', 'closed') AND c.answered_at > $3"
        " FOR UPDATE OF c",
        channel, recipient, since,
    )


async def answers_of(conn: asyncpg.Connection, case_id: int) -> int:
    """How many times the case was answered (or closed): the number of its latest answer."""
    return await conn.fetchval("SELECT answers FROM cases WHERE id = $1", case_id) or 0


async def save_rating(conn: asyncpg.Connection, case_id: int, answer_no: int, rating: int | None, solved: bool,
                      channel: str, at: datetime) -> None:
    """Keep the rating of the case's answer `answer_no`; a second one of the same answer replaces it.

    A "not solved" without a score keeps the score given before (the verdict is the latest).
    """
    await conn.execute(
        "INSERT INTO case_ratings (case_id, answer_no, rating, solved, channel, rated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (case_id, answer_no) DO UPDATE SET rating = coalesce(EXCLUDED.rating, case_ratings.rating),"
        " solved = EXCLUDED.solved, channel = EXCLUDED.channel, rated_at = EXCLUDED.rated_at",
        case_id, answer_no, rating, solved, channel, at,
    )


async def case_in_reply_window(conn: asyncpg.Connection, channel: str, recipient: str, since: datetime) -> int | None:
    """The joinable case of our latest message to `recipient` on `channel` sent after `since`; None otherwise."""
    return await conn.fetchval(
        "SELECT m.case_id FROM messages m JOIN cases c ON c.id = m.case_id"
        " WHERE m.direction = 'out' AND m.channel = $1 AND m.recipient = $2 AND m.created_at > $3"
        " AND c.status = ANY($4::text[])"
        " ORDER BY m.id DESC LIMIT 1",
        channel, recipient, since, list(JOINABLE),
    )


async def intake_follow_up(conn: asyncpg.Connection, *, case_id: int, channel: str, provider_id: str, text: str,
                           sender: str | None, identities: Any, name: str | None, raw: Any, attachments_meta: Any,
                           reopen: bool, reopen_reason: str) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT * FROM intake_follow_up($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        case_id, channel, provider_id, text, sender, identities, name, raw, attachments_meta, reopen, reopen_reason,
    )


async def inbound_message(conn: asyncpg.Connection, channel: str, provider_id: str) -> asyncpg.Record | None:
    """The inbound message a provider knows by `provider_id` (an SMS's MessageSid, a call's CallSid)."""
    return await conn.fetchrow(
        "SELECT id, case_id FROM messages WHERE channel = $1 AND direction = 'in' AND provider_message_id = $2",
        channel, provider_id)


async def set_opt_out(conn: asyncpg.Connection, channel: str, address: str, opted_out: bool) -> bool:
    """Record STOP (True) or START (False) for an address; True when it changed anything."""
    if opted_out:
        status = await conn.execute(
            "INSERT INTO contact_opt_outs (channel, address) VALUES ($1, $2) ON CONFLICT DO NOTHING", channel, address)
    else:
        status = await conn.execute(
            "DELETE FROM contact_opt_outs WHERE channel = $1 AND address = $2", channel, address)
    return not status.endswith(" 0")


async def opted_out(conn: asyncpg.Connection, channel: str, address: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM contact_opt_outs WHERE channel = $1 AND address = $2", channel, address))


async def record_provider_status(conn: asyncpg.Connection, channel: str, external_id: str, *, provider_status: str,
                                 status: str | None, error: str | None, at: datetime,
                                 message_id: int | None = None) -> asyncpg.Record | None:
    """Record a delivery report on our message `message_id`, else the one the provider knows as `external_id`.

    None when there is none. A report can come before we recorded the provider's id (the provider
    answered the send and reported at once): our id in the callback URL finds the message then.

    Reports can arrive out of order (delivered before sent): a later state never goes back, so
    `status` only moves forward (sending → sent → delivered, or to failed).
    """
    return await conn.fetchrow(
        "UPDATE messages m SET provider_status = $3, provider_status_at = $6,"
        " provider_error = coalesce($5, m.provider_error),"
        " status = CASE"
        "   WHEN $4::text IS NULL THEN m.status"
        "   WHEN m.status = 'failed' OR (m.status = 'delivered' AND $4 <> 'failed') THEN m.status"
        "   WHEN m.status = 'sent' AND $4 = 'sending' THEN m.status"
        "   ELSE $4 END,"
        " error = CASE WHEN $4 = 'failed' AND m.status <> 'failed' THEN coalesce($5, m.error) ELSE m.error END,"
        " sent_at = CASE WHEN $4 IN ('sent', 'delivered') THEN coalesce(m.sent_at, $6) ELSE m.sent_at END,"
        " external_id = coalesce(m.external_id, $2)"
        " FROM (SELECT id, status AS previous FROM messages WHERE channel = $1 AND direction = 'out'"
        "       AND (id = $7 OR ($7::bigint IS NULL AND external_id = $2))"
        "       ORDER BY id DESC LIMIT 1 FOR UPDATE) o"
        " WHERE m.id = o.id AND (m.external_id IS NULL OR m.external_id = $2)"
        " RETURNING m.id, m.case_id, m.channel, m.status, o.previous, m.provider_status, m.provider_error",
        channel, external_id, provider_status, status, error, at, message_id,
    )


async def set_segments(conn: asyncpg.Connection, message_id: int, segments: int) -> None:
    await conn.execute("UPDATE messages SET segments = $2 WHERE id = $1", message_id, segments)


async def queue_media(conn: asyncpg.Connection, message_id: int, channel: str,
                      media: list[tuple[str, str | None]]) -> None:
    """Queue provider media (url, content type) of a message for fetching; a repeated url is queued once."""
    await conn.executemany(
        "INSERT INTO media_fetches (message_id, channel, url, content_type) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (message_id, url) DO NOTHING",
        [(message_id, channel, url, content_type) for url, content_type in media],
    )


async def claim_media(conn: asyncpg.Connection, limit: int, now: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        "UPDATE media_fetches f SET status = 'fetching', attempts = attempts + 1, claimed_at = $2"
        " FROM (SELECT id FROM media_fetches WHERE status = 'queued'"
        "       AND (next_attempt_at IS NULL OR next_attempt_at <= $2)"
        "       ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) q"
        " WHERE f.id = q.id"
        " RETURNING f.id, f.message_id, f.channel, f.url, f.content_type, f.attempts,"
        " (SELECT case_id FROM messages WHERE id = f.message_id) AS case_id",
        limit, now,
    )


async def finish_media(conn: asyncpg.Connection, fetch_id: int, *, status: str, attachment_id: int | None = None,
                       error: str | None = None, retry_at: datetime | None = None) -> None:
    await conn.execute(
        "UPDATE media_fetches SET status = $2, attachment_id = $3, error = $4, next_attempt_at = $5 WHERE id = $1",
        fetch_id, status, attachment_id, error, retry_at,
    )


async def store_media(conn: asyncpg.Connection, message_id: int, filename: str, content_type: str, sha256: str,
                      data: bytes) -> int:
    """Keep fetched media as an attachment of its message and list it in the message's attachments."""
    attachment_id = await conn.fetchval(
        "INSERT INTO attachments (message_id, filename, content_type, size, sha256, data)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        message_id, filename, content_type, len(data), sha256, data,
    )
    await conn.execute(
        "UPDATE messages SET attachments = attachments || jsonb_build_array(jsonb_build_object("
        " 'filename', $2::text, 'content_type', $3::text, 'size', $4::int)) WHERE id = $1",
        message_id, filename, content_type, len(data),
    )
    return attachment_id


async def reset_stuck_media(conn: asyncpg.Connection, stuck_after_seconds: float) -> int:
    status = await conn.execute(
        "UPDATE media_fetches SET status = 'queued' WHERE status = 'fetching'"
        " AND claimed_at < now() - make_interval(secs => $1)", float(stuck_after_seconds))
    return int(status.split()[-1])
