"""Procedure lookup: the city's administrative-procedure catalogue, imported and searched in citizen wording.

    report = await import_procedures(pool, path, progress=bar.update)   # a .jsonl/.csv file or a folder
    hits = await search(pool, "làm lại căn cước bị mất")                  # ranked ProcedureHit list
    suggestions = await suggest_for_case(conn, case_text)               # top three, JSON-able
"""

from __future__ import annotations

from typing import Any

from integrations.procedures.importer import ImportReport, RecordError, count_records, import_procedures, iter_records
from integrations.procedures.search import ProcedureHit, search
from integrations.procedures.store import Db, Procedure

__all__ = [
    "ImportReport", "Procedure", "ProcedureHit", "RecordError", "count_records", "import_procedures", "iter_records",
    "search", "suggest_for_case", "suggestion",
]

SUGGESTIONS = 3
SUGGEST_MIN_SCORE = 0.35  # below this a case text shares words with a procedure but is not about it
SUGGEST_DOCUMENTS = 5
CASE_TEXT_CHARS = 1000


def _short(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit - 1].rstrip() + "…"


def suggestion(hit: ProcedureHit) -> dict[str, Any]:
    """A procedure as an agent or a chat reply shows it: what to bring, how long, how much, where."""
    return {
        "code": hit.code,
        "name": hit.name,
        "processing_time": hit.processing_time,
        "fees": _short(hit.fees, 300),
        "documents": hit.documents[:SUGGEST_DOCUMENTS],
        "where_to_apply": _short(hit.where_to_apply or hit.agency or None, 300),
        "channels": hit.channels,
        "link": hit.link,
        "score": hit.score,
    }


async def suggest_for_case(conn: Db, text: str) -> list[dict[str, Any]]:
    """The top three procedures for a case's text (for cases.procedure_suggestions); [] when none fits."""
    hits = await search(conn, text[:CASE_TEXT_CHARS], limit=SUGGESTIONS, min_score=SUGGEST_MIN_SCORE)
    return [suggestion(h) for h in hits]
