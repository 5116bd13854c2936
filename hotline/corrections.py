"""Staff field corrections as training examples for `hotline train --with-corrections`."""

from __future__ import annotations

import asyncpg

from casework import store
from classifier.corpus import LABELS, Example
from classifier.language import detect


async def load_corrections(pool: asyncpg.Pool) -> list[Example]:
    """The last field a person set on each case, with the case's text."""
    async with pool.acquire() as conn:
        rows = await store.field_corrections(conn)
    return [
        Example(text=r["description"], field=r["field"], lang=detect(r["description"]), urgent=r["urgent"],
                register="correction", source="staff-corrections")
        for r in rows if r["field"] in LABELS and r["description"].strip()
    ]
