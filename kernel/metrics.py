"""Prometheus metrics: intake by channel, job latency, queue depth, the workers' loops."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

INTAKE = Counter("hotline_intake_total", "Inbound items stored, by channel", ["channel"], registry=REGISTRY)
INTAKE_REPLAYED = Counter(
    "hotline_intake_replayed_total", "Inbound items already stored (idempotent replays)", ["channel"],
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "hotline_job_seconds", "Time spent running a job", ["job"], registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOB_FAILURES = Counter("hotline_job_failures_total", "Job runs that raised", ["job"], registry=REGISTRY)
PROCESS_LAG = Histogram(
    "hotline_intake_to_processed_seconds", "From intake to the case being classified and routed",
    registry=REGISTRY, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
QUEUE_DEPTH = Gauge("hotline_queue_depth", "Cases waiting to be processed", registry=REGISTRY)
OUTBOX_DEPTH = Gauge("hotline_outbox_depth", "Outbound messages queued and not yet sent", registry=REGISTRY)
SWEPT = Counter("hotline_swept_total", "Messages a dead worker left in sending, put back by the sweeper", ["kind"],
                registry=REGISTRY)
WORKERS_ALIVE = Gauge("hotline_workers_alive", "Workers whose heartbeat is fresh (within worker_alive_seconds)",
                      registry=REGISTRY)
WORKER_LOOP_AGE = Gauge(
    "hotline_worker_loop_last_round_age_seconds", "Seconds since each loop of each live worker finished a round",
    ["worker", "loop"], registry=REGISTRY,
)


def set_workers(now: datetime, workers: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
    """Show the live workers (id, loops as their heartbeat wrote them); workers gone since the last scrape vanish."""
    rows = list(workers)
    WORKERS_ALIVE.set(len(rows))
    WORKER_LOOP_AGE.clear()
    for worker_id, loops in rows:
        for loop, state in loops.items():
            try:
                last = datetime.fromisoformat(state["last_round"])
            except (KeyError, TypeError, ValueError):
                continue
            WORKER_LOOP_AGE.labels(worker_id, loop).set(max(0.0, (now - last).total_seconds()))


_INTAKE_BY_CHANNEL: dict[str, object] = {}


def intake_counter(channel: str):  # noqa: ANN201 - a prometheus_client counter child
    """The intake counter of one channel, looked up once (labels() takes a lock on every call)."""
    child = _INTAKE_BY_CHANNEL.get(channel)
    if child is None:
        child = _INTAKE_BY_CHANNEL[channel] = INTAKE.labels(channel)
    return child
