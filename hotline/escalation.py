"""The escalation cron: mark cases at risk (80% of their time used) or overdue, and units slow to accept."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from casework import store
from casework.models import SYSTEM
from hotline.services import Services
from kernel.time import LOCAL_TZ
from routing import CaseFacts
from routing.escalation import MESSAGES, acceptance_due, sla_state
from routing.sla import elapsed_fraction

log = logging.getLogger(__name__)


def _local(dt: datetime) -> str:
    return dt.astimezone(LOCAL_TZ).strftime("%H:%M %d/%m/%Y")


async def escalate(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, int]:
    """Run once: update SLA states, record events and notify units and supervisors. Idempotent."""
    services: Services = ctx["services"]
    now = now or datetime.now(UTC)
    router = await services.current_router()
    counts = {"at_risk": 0, "overdue": 0, "not_accepted": 0}
    async with services.pool.acquire() as conn:
        cases = await store.cases_under_deadline(conn)
        pauses = await store.case_pauses(conn, [c["id"] for c in cases])
    for case in cases:
        facts = CaseFacts(field=case["field"], ward_code=None, urgent=case["urgent"], channel=case["channel"],
                          text=case["description"], opened_at=case["created_at"],
                          pauses=tuple(pauses.get(case["id"], ())))
        policy = router.policy_for(case["field"], case["urgent"])
        if policy is None or router.calendar is None:
            continue
        fraction = elapsed_fraction(policy, case["created_at"], now, router.calendar, pauses=facts.pauses)
        state = sla_state(fraction)
        if state == case["sla_state"] or state == "ok":
            continue
        text_vi, text_en = MESSAGES[state]
        message = text_vi.format(code=case["tracking_code"], pct=int(fraction * 100), due=_local(case["due_at"]))
        async with services.pool.acquire() as conn, conn.transaction():
            await store.update_case(conn, case["id"], {"sla_state": state})
            await store.insert_event(conn, case["id"], SYSTEM, f"sla_{state}",
                                     changes={"sla_state": [case["sla_state"], state], "used": round(fraction, 3)},
                                     reason=message)
            for audience, unit in (("unit", case["department"]), ("supervisors", None)):
                if audience == "unit" and unit is None:
                    continue
                await store.notify(conn, case_id=case["id"], audience=audience, department=unit, kind=state,
                                   deadline=case["due_at"], message=message)
        counts[state] += 1
    async with services.pool.acquire() as conn:
        late = await store.unaccepted_cases(conn, now)
    for case in late:
        message = MESSAGES["not_accepted"][0].format(code=case["tracking_code"], unit=case["name_vi"],
                                                     minutes=case["accept_minutes"])
        async with services.pool.acquire() as conn, conn.transaction():
            fresh = await store.notify(conn, case_id=case["id"], audience="supervisors", department=None,
                                       kind="not_accepted", deadline=acceptance_due(case["forwarded_at"],
                                                                                    case["accept_minutes"]),
                                       message=message)
            if fresh:
                await store.notify(conn, case_id=case["id"], audience="unit", department=case["department"],
                                   kind="not_accepted", deadline=acceptance_due(case["forwarded_at"],
                                                                                case["accept_minutes"]),
                                   message=message)
                await store.insert_event(conn, case["id"], SYSTEM, "not_accepted", reason=message)
                counts["not_accepted"] += 1
    if any(counts.values()):
        log.info("escalation: %(at_risk)s at risk, %(overdue)s overdue, %(not_accepted)s not accepted", counts)
    return counts
