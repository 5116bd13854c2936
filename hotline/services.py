"""The long-lived things a process holds: pool, Redis, models, channel adapters."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from arq import create_pool as create_redis_pool
from arq.connections import ArqRedis, RedisSettings

import classifier
from channels.base import ChannelAdapter
from channels.web.adapter import WebAdapter
from hotline.db import create_pool
from hotline.queue import WorkSignals
from hotline.settings import Settings
from integrations.geocoding import NoGazetteer, load_default
from integrations.geocoding.gazetteer import Gazetteer
from kernel.time import Clock, utc_now
from routing import Router
from routing import store as routing_store

Geocoder = Gazetteer | NoGazetteer
log = logging.getLogger(__name__)


def load_geocoder(settings: Settings) -> Geocoder:
    """The offline gazetteer (built by `make`, or built here on first use); NoGazetteer when turned off."""
    if settings.geocoder == "none":
        return NoGazetteer()
    refiner = None
    if settings.nominatim_url:
        from integrations.geocoding.refine import NominatimRefiner

        try:
            refiner = NominatimRefiner(settings.nominatim_url)
        except RuntimeError as e:
            log.error("online refinement off: %s", e)
    return load_default(admin_units_dir=settings.admin_units_dir, refiner=refiner)


def build_adapters(settings: Settings) -> dict[str, ChannelAdapter]:
    """The explicit channel registry: outbound messages are dispatched through it."""
    from integrations.open311.adapter import Open311Adapter

    adapters: dict[str, Any] = {"web": WebAdapter(settings), "open311": Open311Adapter()}
    if settings.twilio_enabled:
        from channels.twilio.adapter import TwilioAdapter

        # One adapter for both: callers are answered by SMS, and it fetches MMS pictures and recordings.
        adapters["sms"] = adapters["voice"] = TwilioAdapter(settings)
    if settings.telegram_enabled:
        from channels.telegram.adapter import TelegramAdapter

        adapters["telegram"] = TelegramAdapter(settings)
    if settings.email_enabled:
        from channels.email.adapter import EmailAdapter

        adapters["email"] = EmailAdapter(settings)
    return adapters


@dataclass
class Services:
    settings: Settings
    pool: asyncpg.Pool
    redis: ArqRedis
    classifier: classifier.Classifier
    router: Router
    geocoder: Geocoder
    jobs: WorkSignals
    adapters: dict[str, ChannelAdapter] = field(default_factory=dict)
    clock: Clock = utc_now
    # The live model file a processing process watches, and what it was when loaded (see refresh_classifier).
    model_file: Path | None = None
    model_stamp: tuple[int, int, int] | None = None

    @classmethod
    async def start(cls, settings: Settings, *, processing: bool = True) -> Services:
        """Open connections; `processing` also loads the models the worker needs (web-only skips them)."""
        assert settings.database_url and settings.redis_url, "resolve the server URLs first"
        pool = await create_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                                 keepalives=settings.db_keepalives)
        redis = await create_redis_pool(redis_settings(settings))
        jobs = WorkSignals(pool, background=settings.intake_enqueue == "background")
        jobs.start()
        model_file = live_model_file(settings) if processing else None
        stamp = file_stamp(model_file)  # before loading: a file replaced meanwhile is loaded again
        return cls(
            settings=settings,
            pool=pool,
            redis=redis,
            classifier=classifier.load(settings.classifier_model if processing else "none"),
            model_file=model_file,
            model_stamp=stamp,
            router=Router(),
            geocoder=load_geocoder(settings) if processing else NoGazetteer(),
            adapters=build_adapters(settings),
            jobs=jobs,
        )

    async def current_router(self) -> Router:
        """The routing snapshot, reloaded when units, rules, policies or the calendar changed."""
        async with self.pool.acquire() as conn:
            current = await routing_store.version(conn)
            if current != self.router.version:
                self.router = await load_router(conn, current)
        return self.router

    async def refresh_classifier(self) -> bool:
        """Load the live model again when its file was replaced (`hotline model promote`, `rollback`).

        Checked between batches: one stat. A promotion renames a whole file into place, so the file read
        is the old model or the new one; one that does not load (or is gone) leaves the current model working.
        """
        if self.model_file is None:
            return False
        stamp = file_stamp(self.model_file)
        if stamp is None or stamp == self.model_stamp:
            return False
        self.model_stamp = stamp
        try:
            loaded = await asyncio.to_thread(classifier.load, self.model_file)
        except Exception as e:
            log.error("the live model file changed but does not load (%s); model %s stays", type(e).__name__,
                      self.classifier.version)
            return False
        log.info("classifier model %s loaded (was %s)", loaded.version, self.classifier.version)
        self.classifier = loaded
        return True

    async def close(self) -> None:
        for adapter in {id(a): a for a in self.adapters.values()}.values():  # one adapter may serve two channels
            close = getattr(adapter, "close", None)
            if close is not None:
                await close()
        await self.jobs.close()
        await self.redis.aclose()
        await self.pool.close()


async def load_router(conn, version: tuple) -> Router:  # noqa: ANN001 - an asyncpg connection
    from datetime import UTC, datetime

    from routing.calendar import BusinessCalendar
    from routing.sla import Policy

    year = datetime.now(UTC).year
    # Ten years back: a report recomputed for a past period (`hotline report rebuild`) needs that year's holidays.
    calendar = BusinessCalendar.vietnam(range(year - 10, year + 3), await routing_store.load_overrides(conn))
    policies = [Policy(id=r["id"], field=r["field"], priority=r["priority"], forward_minutes=r["forward_minutes"],
                       first_response_minutes=r["first_response_minutes"], resolution_minutes=r["resolution_minutes"],
                       calendar=r["calendar"], source=r["source"]) for r in await routing_store.load_policies(conn)]
    return Router(rules=await routing_store.load_rules(conn), units=await routing_store.load_units(conn),
                  policies=policies, calendar=calendar, version=version)


def live_model_file(settings: Settings) -> Path | None:
    """The model file HOTLINE_CLASSIFIER_MODEL names ("auto": the built one), None for "none"."""
    if settings.classifier_model == "none":
        return None
    return classifier.DEFAULT_MODEL if settings.classifier_model == "auto" else Path(settings.classifier_model)


def file_stamp(path: Path | None) -> tuple[int, int, int] | None:
    """What changes when a file is replaced or rewritten: inode, size, modification time; None when absent."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def redis_settings(settings: Settings) -> RedisSettings:
    assert settings.redis_url
    return RedisSettings.from_dsn(settings.redis_url)
