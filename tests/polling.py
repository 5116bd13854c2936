"""Waiting in tests for something another task or process does: poll, never sleep a fixed time."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable


async def until(check: Callable[[], object], *, seconds: float = 10, what: str = "the condition") -> object:
    """Poll `check` (sync or async) until it returns something true; fail after `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        await asyncio.sleep(0.05)
