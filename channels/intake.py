"""What every channel's webhook does once it has an InboundEvent: store it, then ask for the work it needs."""

from __future__ import annotations

from typing import Any

from casework import actions
from casework.intake import InboundEvent
from kernel import metrics


async def accept(services: Any, event: InboundEvent) -> actions.IntakeResult:
    """Store the item (before the provider hears back), then ask for processing or for the follow-up's notice.

    A lost request for work loses nothing: cases and the outbox are their own queues, which the
    workers poll.
    """
    result = await actions.record_inbound(services.pool, event, now=services.clock())
    if not result.created:
        metrics.INTAKE_REPLAYED.labels(event.channel).inc()
        return result
    metrics.intake_counter(event.channel).inc()
    if result.new_case or result.reprocess:
        await services.jobs.process(result.case_id)
    if result.send_ids:
        await services.jobs.send(*result.send_ids)
    return result
