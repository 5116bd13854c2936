"""The long-lived things a process holds: pool, Redis, models, channel adapters."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
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

    @classmethod
    async def start(cls, settings: Settings, *, processing: bool = True) -> Services:
        """Open connections; `processing` also loads the models the worker needs (web-only skips them)."""
        assert settings.database_url and settings.redis_url, "resolve the server URLs first"
        pool = await create_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                                 keepalives=settings.db_keepalives)
        redis = await create_redis_pool(redis_settings(settings))
        jobs = WorkSignals(pool, background=settings.intake_enqueue == "background")
        jobs.start()
        return cls(
            settings=settings,
            pool=pool,
            redis=redis,
            classifier=classifier.load(settings.classifier_model if processing else "none"),
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
    calendar = BusinessCalendar.vietnam(range(year - 1, year + 3), await routing_store.load_overrides(conn))
    policies = [Policy(id=r["id"], field=r["field"], priority=r["priority"], forward_minutes=r["forward_minutes"],
                       first_response_minutes=r["first_response_minutes"], resolution_minutes=r["resolution_minutes"],
                       calendar=r["calendar"], source=r["source"]) for r in await routing_store.load_policies(conn)]
    return Router(rules=await routing_store.load_rules(conn), units=await routing_store.load_units(conn),
                  policies=policies, calendar=calendar, version=version)


def redis_settings(settings: Settings) -> RedisSettings:
    assert settings.redis_url
    return RedisSettings.from_dsn(settings.redis_url)
