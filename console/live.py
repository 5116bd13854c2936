"""Live updates: one LISTEN connection per web process, fanned out to its Server-Sent Events clients.

PostgreSQL announces every change to a case (migration 0015: channel `hotline_cases`, the case id as payload)
and every "someone is typing" beat (channel `hotline_console_typing`, sent by whichever web process took the
beat), so clients of any process hear of changes made through any other. Each client hears only of cases it
may see: a department user only of their unit's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import web

from casework import store as casework_store
from console import store

log = logging.getLogger(__name__)

CASES_CHANNEL = "hotline_cases"
TYPING_CHANNEL = "hotline_console_typing"
TYPING_SECONDS = 10
RECONNECT_SECONDS = 2.0
APPLICATION_NAME = "hotline-console-listen"
BATCH_SECONDS = 0.1  # changes arriving this close together are looked up in one query
QUEUE_SIZE = 500  # a client this far behind is dropped; its browser reconnects and reloads
KNOWN_UNITS = 100_000  # cases whose last seen unit the hub remembers, to tell a unit of a case that left it


@dataclass(eq=False)
class Client:
    """One open stream: whose it is (a unit, or None for all) and which case page it watches, if any."""

    department: str | None
    case_id: int | None = None
    queue: asyncio.Queue[tuple[str, str] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def push(self, event: str, data: str) -> None:
        try:
            self.queue.put_nowait((event, data))
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    self.queue.get_nowait()
            self.queue.put_nowait(None)  # tells the stream to end


class Hub:
    """The process's LISTEN connection and its clients; started with the first client."""

    def __init__(self) -> None:
        self.dsn = ""
        self.pool: Any = None
        self.clients: set[Client] = set()
        self._pending: set[int] = set()
        self._flush: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closed = False
        self._deliveries: set[asyncio.Task[None]] = set()  # held, so a running delivery is not collected
        self._units: dict[int, str | None] = {}  # each case's unit when last seen (insertion order: oldest first)

    async def join(self, client: Client, dsn: str, pool: Any) -> None:
        self.clients.add(client)
        if self._task is None:
            self.dsn, self.pool = dsn, pool
            self._task = asyncio.create_task(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 5)  # so a change right after connecting is not missed

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for client in list(self.clients):
            client.queue.put_nowait(None)

    async def _listen(self) -> None:
        connected_before = False
        while not self._closed:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn, server_settings={"application_name": APPLICATION_NAME})
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CASES_CHANNEL, self._on_case)
                await conn.add_listener(TYPING_CHANNEL, self._on_typing)
                self._ready.set()
                if connected_before:  # what changed while nobody listened was told to nobody: pages catch up
                    self._units.clear()
                    for client in list(self.clients):
                        client.push("resync", "")
                connected_before = True
                await lost.wait()
                log.warning("console: the LISTEN connection was lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError) as e:
                log.warning("console: LISTEN failed (%s); retrying", type(e).__name__)
            finally:
                self._ready.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(RECONNECT_SECONDS)

    def _on_case(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if not payload.isdigit():
            return
        self._pending.add(int(payload))
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(BATCH_SECONDS, self._start_flush)

    def _start_flush(self) -> None:
        self._flush = None
        ids, self._pending = sorted(self._pending), set()
        task = asyncio.get_running_loop().create_task(self._deliver(ids))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, ids: list[int]) -> None:
        scoped = any(c.department is not None for c in self.clients)
        units: dict[int, str | None] = {}
        before: dict[int, str | None] = {}
        if scoped:
            try:
                async with self.pool.acquire() as conn:
                    units = await store.departments_of(conn, ids)
                    before = await self._units_before(conn, ids, units)
            except (OSError, asyncpg.PostgresError, TimeoutError) as e:
                log.warning("console: could not scope %d live changes (%s)", len(ids), type(e).__name__)
                for case_id in ids:
                    self._units.pop(case_id, None)
                return
        else:
            self._units.clear()  # changes go unscoped now, so what the hub remembers would grow stale
        for client in list(self.clients):
            # A unit hears of its cases, and of a case that has just left it (transferred, returned, reassigned),
            # so its inbox can drop the row: the row's fragment comes back empty for that unit.
            visible = [i for i in ids
                       if client.department is None or client.department in (units.get(i), before.get(i))]
            if client.case_id is not None:
                visible = [i for i in visible if i == client.case_id]
            if visible:
                client.push("cases", ",".join(map(str, visible)))

    async def _units_before(self, conn: Any, ids: list[int], units: dict[int, str | None]) -> dict[int, str | None]:
        """Each case's unit before this change, when it had another one; remembers the units now."""
        before: dict[int, str | None] = {}
        for case_id in ids:
            if case_id not in units:
                self._units.pop(case_id, None)
                continue
            now = units[case_id]
            if case_id in self._units:
                previous = self._units.pop(case_id)
            else:  # not seen since this process started listening: its history says where it was
                previous = last_unit_change(await casework_store.case_events(conn, case_id), now)
            if previous is not None and previous != now:
                before[case_id] = previous
            self._units[case_id] = now
        while len(self._units) > KNOWN_UNITS:
            del self._units[next(iter(self._units))]
        return before

    def _on_typing(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            beat = json.loads(payload)
            case_id = int(beat["case"])
        except (ValueError, KeyError, TypeError):
            return
        for client in list(self.clients):
            if client.case_id == case_id:
                client.push("typing", payload)


def last_unit_change(events: Any, now: str | None) -> str | None:
    """The unit a case left in its latest move to its unit `now` (events with changes.department [from, to])."""
    for event in reversed(list(events)):
        changes = event["changes"]
        moved = changes.get("department") if isinstance(changes, dict) else None
        if isinstance(moved, list) and len(moved) == 2 and moved[1] == now:
            return moved[0] if isinstance(moved[0], str) else None
        if moved is not None:
            return None  # the latest move was not to this unit: nothing to tell
    return None


HUB = web.AppKey("console_hub", Hub)


def setup(app: web.Application) -> None:
    app[HUB] = Hub()

    async def close_hub(app: web.Application) -> None:
        await app[HUB].close()

    app.on_shutdown.append(close_hub)


def typing_key(case_id: int, user_id: int) -> str:
    return f"hotline:console:typing:{case_id}:{user_id}"


async def announce_typing(pool: Any, redis: Any, case_id: int, user_id: int, name: str) -> None:
    """Remember that this person is typing on this case for a few seconds, and tell every process."""
    payload = json.dumps({"case": case_id, "user": user_id, "name": name}, ensure_ascii=False)
    await redis.set(typing_key(case_id, user_id), payload, ex=TYPING_SECONDS)
    async with pool.acquire() as conn:
        await store.notify(conn, TYPING_CHANNEL, payload)


async def typing_now(redis: Any, case_id: int) -> list[str]:
    """Who is typing on a case now (beats younger than TYPING_SECONDS), as the payloads sent."""
    keys = [k async for k in redis.scan_iter(match=f"hotline:console:typing:{case_id}:*", count=100)]
    if not keys:
        return []
    values = await redis.mget(keys)
    return [v.decode() if isinstance(v, bytes) else v for v in values if v]
