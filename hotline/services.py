"""The long-lived things a process holds: pool, Redis, models, channel adapters."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from arq import create_pool as create_redis_pool
from arq.connections import ArqRedis, RedisSettings

import classifier
from channels.base import ChannelAdapter
from channels.web.adapter import WebAdapter
from hotline.db import create_pool
from hotline.queue import BackgroundEnqueuer
from hotline.settings import Settings
from integrations.geocoding import NoGazetteer
from routing import Router


def build_adapters(settings: Settings) -> dict[str, ChannelAdapter]:
    """The explicit channel registry: outbound messages are dispatched through it."""
    return {"web": WebAdapter(settings)}


@dataclass
class Services:
    settings: Settings
    pool: asyncpg.Pool
    redis: ArqRedis
    classifier: classifier.Classifier
    router: Router
    geocoder: NoGazetteer
    adapters: dict[str, ChannelAdapter] = field(default_factory=dict)
    enqueuer: BackgroundEnqueuer | None = None

    @classmethod
    async def start(cls, settings: Settings, *, processing: bool = True) -> Services:
        """Open connections; `processing` also loads the models the worker needs (web-only skips them)."""
        assert settings.database_url and settings.redis_url, "resolve the server URLs first"
        pool = await create_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
        redis = await create_redis_pool(redis_settings(settings))
        enqueuer = None
        if settings.intake_enqueue == "background":
            enqueuer = BackgroundEnqueuer(redis, settings.queue_name)
            enqueuer.start()
        return cls(
            settings=settings,
            pool=pool,
            redis=redis,
            classifier=classifier.load(settings.classifier_model if processing else "none"),
            router=Router(),
            geocoder=NoGazetteer(),
            adapters=build_adapters(settings),
            enqueuer=enqueuer,
        )

    async def close(self) -> None:
        if self.enqueuer is not None:
            await self.enqueuer.close()
        await self.redis.aclose()
        await self.pool.close()


def redis_settings(settings: Settings) -> RedisSettings:
    assert settings.redis_url
    return RedisSettings.from_dsn(settings.redis_url)
