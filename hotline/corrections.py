"""Staff field corrections as training examples for `hotline train --with-corrections`."""

from __future__ import annotations

import asyncpg

from classifier.corpus import LABELS, Example
from classifier.language import detect


async def load_corrections(pool: asyncpg.Pool) -> list[Example]:
    """The last field a person set on each case, with the case's text."""
    rows = await pool.fetch(
        "SELECT DISTINCT ON (e.case_id) c.description, c.urgent, e.changes -> 'field' ->> 1 AS field"
        " FROM case_events e JOIN cases c ON c.id = e.case_id"
        " WHERE e.kind = 'field_corrected' AND e.changes ? 'field'"
        " ORDER BY e.case_id, e.id DESC"
    )
    return [
        Example(text=r["description"], field=r["field"], lang=detect(r["description"]), urgent=r["urgent"],
                register="correction", source="staff-corrections")
        for r in rows if r["field"] in LABELS and r["description"].strip()
    ]
