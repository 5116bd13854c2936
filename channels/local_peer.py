"""What the local stand-ins for providers' APIs (Twilio, Telegram's Bot API) share: a server on loopback
and a client session for the callbacks they post back."""

from __future__ import annotations

from typing import Any, Self

import aiohttp
from aiohttp import web


class LocalPeer:
    """An aiohttp server on `host:port` (0: a free port) and a client session; an async context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def routes(self, app: web.Application) -> None:
        """Add the provider's routes to `app`."""
        raise NotImplementedError

    def middlewares(self) -> list[Any]:
        return []

    async def start(self) -> Self:
        app = web.Application(middlewares=self.middlewares())
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()
        return self

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"
