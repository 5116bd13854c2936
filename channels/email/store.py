"""The email channel's own SQL: where IMAP polling got to in each mailbox."""

from __future__ import annotations

import asyncpg


async def cursor(pool: asyncpg.Pool, mailbox: str, uid_validity: int) -> int:
    """The highest UID taken from the mailbox while it has this UIDVALIDITY; 0 when none (or it changed)."""
    last = await pool.fetchval(
        "SELECT last_uid FROM mail_cursors WHERE mailbox = $1 AND uid_validity = $2", mailbox, uid_validity)
    return int(last or 0)


async def advance(pool: asyncpg.Pool, mailbox: str, uid_validity: int, uid: int) -> None:
    """Record that the mail with this UID is taken (a cursor never moves back within one UIDVALIDITY)."""
    await pool.execute(
        "INSERT INTO mail_cursors (mailbox, uid_validity, last_uid) VALUES ($1, $2, $3)"
        " ON CONFLICT (mailbox) DO UPDATE SET"
        "   last_uid = CASE WHEN mail_cursors.uid_validity = excluded.uid_validity"
        "                   THEN greatest(mail_cursors.last_uid, excluded.last_uid) ELSE excluded.last_uid END,"
        "   uid_validity = excluded.uid_validity, updated_at = now()",
        mailbox, uid_validity, uid,
    )
