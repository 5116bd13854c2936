"""Which failures mean a server we need cannot be reached now: those answer 503 "try again", never 500.

PostgreSQL stopped, restarting, failing over or out of connections shows up in many shapes: the pool's
acquire timing out, the socket refused or reset (OSError), the server closing sessions as it shuts
down (57P01 and its kin, not class 08), a connection found closed (asyncpg's InterfaceError), a
standby that took over refusing writes. None of them is a bug, and none lasts: the pool reconnects
by itself once the server is back.
"""

from __future__ import annotations

import asyncpg
from asyncpg import exceptions as pg
from redis import exceptions as redis_errors

_POSTGRES = (
    asyncpg.PostgresConnectionError,  # class 08: ConnectionDoesNotExistError, ConnectionFailureError, ...
    pg.AdminShutdownError,
    pg.CrashShutdownError,
    pg.CannotConnectNowError,  # starting up, shutting down, in recovery
    pg.IdleSessionTimeoutError,
    pg.TooManyConnectionsError,
    pg.ReadOnlySQLTransactionError,  # a standby promoted in a failover, or still read-only
)
# OSError covers refused and reset sockets, and TimeoutError: the pool's acquire timeout among them.
_NETWORK = (OSError, redis_errors.ConnectionError, redis_errors.TimeoutError)


def _direct(error: BaseException) -> bool:
    if isinstance(error, _POSTGRES + _NETWORK):
        return True
    # asyncpg says "connection is closed" or "pool is closing" with the class it also uses for misuse.
    if isinstance(error, asyncpg.InterfaceError):
        return "closed" in str(error) or "closing" in str(error)
    # A connection that got the server's FATAL (shutting down) while it sat idle in the pool fails its next query
    # with the protocol still consuming that error (state 2) or failed; other InternalClientErrors are bugs.
    message = str(error) if isinstance(error, pg.InternalClientError) else ""
    return "another operation (2) is in progress" in message or 'protocol is in the "failed" state' in message


def is_outage(error: BaseException) -> bool:
    """Whether the error, or one it was raised from or while handling, means a server is unreachable now."""
    stack = [error]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if _direct(current):
            return True
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False
