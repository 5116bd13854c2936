"""The case vocabulary every context agrees on.

A case is *open* while the city still owes the citizen work on it: received, in triage, forwarded,
accepted (in progress) or reopened. Answered, closed, rejected (a passing state) and duplicate cases
are not open. Duplicate search, assignment load, escalation and the console's queues all count
this one set; the partial indexes of migration 0009 are written for the same set.
"""

from __future__ import annotations

OPEN_STATUSES: tuple[str, ...] = ("received", "triage", "forwarded", "in_progress", "reopened")

# The same set as an SQL list literal, for predicates that must match the partial indexes.
OPEN_SQL = "(" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"

# The city's interaction fields (see shared/data/taxonomy/fields.md) and `other` for what fits none.
FIELD_CODES: tuple[str, ...] = (
    "admin_procedures", "urban_infrastructure", "traffic", "public_transport", "water_supply",
    "drainage_flooding", "public_lighting", "trees", "electricity", "telecom", "urban_order",
    "environment", "noise", "security", "health", "other",
)
