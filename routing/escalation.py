"""Escalation decisions: where a case stands against its deadline and its unit's acceptance window."""

from __future__ import annotations

from datetime import datetime, timedelta

AT_RISK = 0.8  # share of the time budget used


def sla_state(fraction_used: float) -> str:
    """'ok', 'at_risk' (80% of the time used) or 'overdue' (all of it)."""
    if fraction_used >= 1.0:
        return "overdue"
    if fraction_used >= AT_RISK:
        return "at_risk"
    return "ok"


def acceptance_due(forwarded_at: datetime, accept_minutes: int) -> datetime:
    """When a unit must have accepted or rejected a forwarded case (a 24/7 clock: the hotline never closes)."""
    return forwarded_at + timedelta(minutes=accept_minutes)


def acceptance_overdue(forwarded_at: datetime | None, accepted_at: datetime | None, accept_minutes: int,
                       now: datetime) -> bool:
    return forwarded_at is not None and accepted_at is None and now >= acceptance_due(forwarded_at, accept_minutes)


MESSAGES = {
    "at_risk": ("Hồ sơ {code} đã dùng {pct}% thời hạn xử lý (hạn {due}).",
                "Case {code} has used {pct}% of its time (due {due})."),
    "overdue": ("Hồ sơ {code} đã quá hạn xử lý (hạn {due}).", "Case {code} is overdue (due {due})."),
    "not_accepted": ("Hồ sơ {code} chưa được đơn vị {unit} tiếp nhận hoặc trả lại sau {minutes} phút.",
                     "Case {code} was neither accepted nor rejected by {unit} within {minutes} minutes."),
}
