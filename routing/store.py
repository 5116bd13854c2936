"""SQL for units, rules, SLA policies, calendar overrides and duplicate candidates: routing's only asyncpg module."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import asyncpg

import kernel.cases
from kernel.text import fold
from routing.rules import Rule, Unit

DATA_DIR = Path(__file__).resolve().parent / "data"


async def version(conn: asyncpg.Connection) -> tuple:
    """Something that changes whenever units, rules, policies or the calendar change."""
    return tuple(await conn.fetchrow(
        "SELECT (SELECT (max(updated_at), count(*)) FROM routing_rules)::text,"
        " (SELECT (max(updated_at), count(*)) FROM sla_policies)::text,"
        " (SELECT (max(updated_at), count(*)) FROM departments)::text,"
        " (SELECT count(*) FROM calendar_overrides)::text || (SELECT string_agg(day::text || working::text, ',')"
        "  FROM calendar_overrides)"
    ))


async def load_units(conn: asyncpg.Connection) -> dict[str, Unit]:
    rows = await conn.fetch("SELECT code, name_vi, name_en, kind, ward_code, active FROM departments")
    return {r["code"]: Unit(r["code"], r["name_vi"], r["name_en"], r["kind"], r["ward_code"], r["active"])
            for r in rows}


async def load_rules(conn: asyncpg.Connection) -> list[Rule]:
    rows = await conn.fetch(
        "SELECT id, priority, field, ward_codes, urgent, channel, keywords, department, description"
        " FROM routing_rules WHERE active"
    )
    return [
        Rule(id=r["id"], department=r["department"], priority=r["priority"], field=r["field"],
             ward_codes=frozenset(r["ward_codes"]) if r["ward_codes"] else None, urgent=r["urgent"],
             channel=r["channel"], keywords=tuple(fold(k) for k in (r["keywords"] or []) if k.strip()),
             description=r["description"])
        for r in rows
    ]


async def load_policies(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, field, priority, forward_minutes, first_response_minutes, resolution_minutes, calendar, source"
        " FROM sla_policies WHERE active"
    )


async def load_overrides(conn: asyncpg.Connection) -> dict[date, bool]:
    return {r["day"]: r["working"] for r in await conn.fetch("SELECT day, working FROM calendar_overrides")}


async def seed(conn: asyncpg.Connection, policies: list) -> dict[str, int]:
    """Load the shipped units, wards, rules and policies; existing rows are kept (the city may have edited them)."""
    added = {"units": 0, "wards": 0, "rules": 0, "policies": 0}
    with (DATA_DIR / "units.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            status = await conn.execute(
                "INSERT INTO departments (code, name_vi, name_en, kind, accept_minutes, notes)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING",
                row["code"], row["name_vi"], row["name_en"], row["kind"], int(row["accept_minutes"]),
                row["notes"] or None)
            added["units"] += int(status.split()[-1])
    with (DATA_DIR / "wards.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            status = await conn.execute(
                "INSERT INTO departments (code, name_vi, name_en, kind, ward_code, accept_minutes)"
                " VALUES ($1, $2, $3, 'ward', $4, 480) ON CONFLICT (code) DO NOTHING",
                f"ubnd-{row['code']}", f"UBND {row['full_name']}", f"{row['full_name_en']} People's Committee",
                row["code"])
            added["wards"] += int(status.split()[-1])
    if not await conn.fetchval("SELECT count(*) FROM routing_rules"):
        with (DATA_DIR / "rules.csv").open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                await conn.execute(
                    "INSERT INTO routing_rules (priority, field, ward_codes, urgent, channel, keywords, department,"
                    " description) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    int(row["priority"]), row["field"] or None,
                    row["ward_codes"].split("|") if row["ward_codes"] else None,
                    {"true": True, "false": False}.get(row["urgent"]), row["channel"] or None,
                    row["keywords"].split("|") if row["keywords"] else None, row["department"], row["description"])
                added["rules"] += 1
    if not await conn.fetchval("SELECT count(*) FROM sla_policies"):
        for p in policies:
            await conn.execute(
                "INSERT INTO sla_policies (field, priority, forward_minutes, first_response_minutes,"
                " resolution_minutes, calendar, source) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                p.field, p.priority, p.forward_minutes, p.first_response_minutes, p.resolution_minutes, p.calendar,
                p.source)
            added["policies"] += 1
    return added


UNIT_COLUMNS = "code, name_vi, name_en, kind, ward_code, accept_minutes, notes, active, updated_at"
RULE_COLUMNS = ("id, priority, field, ward_codes, urgent, channel, keywords, department, description, active,"
                " updated_at")
POLICY_COLUMNS = ("id, field, priority, forward_minutes, first_response_minutes, resolution_minutes, calendar,"
                  " source, active, updated_at")


def _marks(count: int, first: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(first, first + count))


async def list_units(conn: asyncpg.Connection, kind: str | None = None) -> list[asyncpg.Record]:
    if kind:
        return await conn.fetch(f"SELECT {UNIT_COLUMNS} FROM departments WHERE kind = $1 ORDER BY code", kind)
    return await conn.fetch(f"SELECT {UNIT_COLUMNS} FROM departments ORDER BY kind, code")


async def upsert_unit(conn: asyncpg.Connection, code: str, values: dict) -> asyncpg.Record:
    columns = list(values)
    return await conn.fetchrow(
        f"INSERT INTO departments (code, {', '.join(columns)}) VALUES ($1, {_marks(len(columns), 2)})"
        f" ON CONFLICT (code) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in columns)}, updated_at = now()"
        f" RETURNING {UNIT_COLUMNS}",
        code, *values.values(),
    )


async def update_row(conn: asyncpg.Connection, table: str, key: str, key_value: object, values: dict,
                     returning: str) -> asyncpg.Record | None:
    assert table in ("departments", "routing_rules", "sla_policies") and key in ("code", "id")
    columns = list(values)
    sets = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
    return await conn.fetchrow(
        f"UPDATE {table} SET {sets}, updated_at = now() WHERE {key} = $1 RETURNING {returning}",
        key_value, *values.values(),
    )


async def list_rules(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {RULE_COLUMNS} FROM routing_rules ORDER BY priority DESC, id")


async def list_policies(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {POLICY_COLUMNS} FROM sla_policies ORDER BY field NULLS LAST, priority")


async def insert_row(conn: asyncpg.Connection, table: str, values: dict, returning: str) -> asyncpg.Record:
    assert table in ("routing_rules", "sla_policies")
    columns = list(values)
    return await conn.fetchrow(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(len(columns))}) RETURNING {returning}",
        *values.values(),
    )


async def list_overrides(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT day, working, note FROM calendar_overrides ORDER BY day")


async def set_override(conn: asyncpg.Connection, day: date, working: bool, note: str) -> None:
    await conn.execute(
        "INSERT INTO calendar_overrides (day, working, note) VALUES ($1, $2, $3)"
        " ON CONFLICT (day) DO UPDATE SET working = EXCLUDED.working, note = EXCLUDED.note",
        day, working, note,
    )


async def delete_override(conn: asyncpg.Connection, day: date) -> bool:
    return (await conn.execute("DELETE FROM calendar_overrides WHERE day = $1", day)).endswith(" 1")


async def unit_exists(conn: asyncpg.Connection, code: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM departments WHERE code = $1", code))


# --------------------------------------------------------------------------------------------------
# Duplicate candidates: open cases of a field near a point or in a ward, newest first (routing.duplicates
# scores them). Each search has a pure builder (SQL and arguments, also for EXPLAIN) and a fetch.
# --------------------------------------------------------------------------------------------------

DUPLICATE_CANDIDATE_LIMIT = 50
DUPLICATE_WARD_SCAN_LIMIT = 200

# The status list and `point(lon, lat)` must stay literally those of the partial indexes
# cases_open_point and cases_open_ward (0003_routing.sql), or the planner cannot use them.
_OPEN = f"status IN {kernel.cases.OPEN_SQL}"
_DUPLICATE_COLUMNS = "id, lat, lon, ward_code, description, address, created_at"
_RECENT = "duplicate_of IS NULL AND created_at >= $2 AND (created_at, id) < ($3, $4)"


def _ward_branch(ward_param: str, extra: str = "") -> str:
    # A ward can hold thousands of open cases of a field, old ones included (a backlog); walking
    # cases_open_ward newest first (ids grow with time) and stopping after DUPLICATE_WARD_SCAN_LIMIT rows
    # keeps the cost bounded whatever the backlog.
    return f"""
SELECT {_DUPLICATE_COLUMNS} FROM (
    SELECT {_DUPLICATE_COLUMNS}, duplicate_of FROM cases
     WHERE field = $1 AND ward_code = {ward_param} AND {_OPEN}
     ORDER BY id DESC LIMIT {DUPLICATE_WARD_SCAN_LIMIT}) recent
 WHERE {_RECENT}{extra}
 ORDER BY id DESC LIMIT {DUPLICATE_CANDIDATE_LIMIT}"""


# Near the point; plus, in the same ward, open cases that have no point of their own.
DUPLICATES_NEAR_SQL = f"""
(SELECT {_DUPLICATE_COLUMNS} FROM cases
  WHERE lat IS NOT NULL AND {_OPEN} AND point(lon, lat) <@ box(point($5, $6), point($7, $8))
    AND field = $1 AND {_RECENT}
  ORDER BY created_at DESC LIMIT {DUPLICATE_CANDIDATE_LIMIT})
UNION ALL
({_ward_branch("$9", " AND lat IS NULL")})
"""
DUPLICATES_IN_WARD_SQL = _ward_branch("$5")

Box = tuple[float, float, float, float]  # (lon1, lat1, lon2, lat2)


def duplicates_near_query(field: str | None, since: datetime, before: tuple[datetime, int], box: Box,
                          ward_code: str | None) -> tuple[str, list[object]]:
    """Return the SQL and arguments of `duplicate_candidates_near`; `before` is the new case's (created_at, id)."""
    return DUPLICATES_NEAR_SQL, [field, since, *before, *box, ward_code]


def duplicates_in_ward_query(field: str | None, since: datetime, before: tuple[datetime, int],
                             ward_code: str) -> tuple[str, list[object]]:
    """Return the SQL and arguments of `duplicate_candidates_in_ward`."""
    return DUPLICATES_IN_WARD_SQL, [field, since, *before, ward_code]


async def duplicate_candidates_near(conn: asyncpg.Connection | asyncpg.Pool, field: str | None, since: datetime,
                                    before: tuple[datetime, int], box: Box,
                                    ward_code: str | None) -> list[asyncpg.Record]:
    """Fetch the field's open, unlinked cases in the box and the ward's without a point, opened in [since, before)."""
    sql, args = duplicates_near_query(field, since, before, box, ward_code)
    return await conn.fetch(sql, *args)


async def duplicate_candidates_in_ward(conn: asyncpg.Connection | asyncpg.Pool, field: str | None, since: datetime,
                                       before: tuple[datetime, int], ward_code: str) -> list[asyncpg.Record]:
    """Fetch the field's open, unlinked cases in the ward, opened in [since, before)."""
    sql, args = duplicates_in_ward_query(field, since, before, ward_code)
    return await conn.fetch(sql, *args)
