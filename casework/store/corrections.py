"""Field corrections staff made on cases: the last field a person set on each case, with its text."""

from __future__ import annotations

import asyncpg


async def field_corrections(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """One row per corrected case: its text, urgent flag and duplicate state, the field a person last set, and
    what the model said (its last `classified` event, else the field before the first correction) with its version.
    """
    return await conn.fetch(
        "SELECT DISTINCT ON (e.case_id) e.case_id, c.description, c.urgent,"
        "  (c.status = 'duplicate' OR c.duplicate_of IS NOT NULL) AS duplicate,"
        "  e.changes -> 'field' ->> 1 AS field,"
        "  coalesce(m.field, (SELECT f.changes -> 'field' ->> 0 FROM case_events f"
        "     WHERE f.case_id = e.case_id AND f.kind = 'field_corrected' AND f.changes ? 'field'"
        "     ORDER BY f.id LIMIT 1)) AS model_field,"
        "  coalesce(m.model, c.classifier_version) AS model_version"
        " FROM case_events e JOIN cases c ON c.id = e.case_id"
        " LEFT JOIN LATERAL (SELECT k.changes ->> 'field' AS field, k.changes ->> 'model' AS model FROM case_events k"
        "   WHERE k.case_id = e.case_id AND k.kind = 'classified' ORDER BY k.id DESC LIMIT 1) m ON true"
        " WHERE e.kind = 'field_corrected' AND e.changes ? 'field'"
        " ORDER BY e.case_id, e.id DESC"
    )
