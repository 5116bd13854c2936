"""Search newest first (casework.store.cases.fetch_newest): the same rows as the plain query, whatever the probes."""

from __future__ import annotations

import random

from casework.store import cases
from console.store import InboxFilter, inbox

WORDS = ["ngap nuoc", "mat dien", "den duong", "karaoke", "cay do", "o ga", "xe buyt", "hem", "nguyen hue",
         "rac", "vi he", "hiem"]  # "hiem" and "vi he" are rare; "hem" is common and a prefix of nothing else
STATUSES = ["received", "triage", "forwarded", "in_progress", "closed", "answered", "reopened"]
CHANNELS = ["web", "sms", "voice", "telegram"]


async def _load(pool, n: int = 3000) -> list[str]:
    """`n` cases, ids growing with time, texts and filters drawn from a fixed seed; return the units used."""
    units = [f"search-unit-{i}" for i in range(3)]
    await pool.executemany("INSERT INTO departments (code, name_vi, name_en, kind) VALUES ($1, $1, $1, 'department')"
                           " ON CONFLICT DO NOTHING", [(u,) for u in units])
    rng = random.Random(1022)
    rows = []
    for i in range(n):
        words = [rng.choice(WORDS[:8]) for _ in range(rng.randrange(1, 3))]
        if rng.random() < 0.01:
            words.append("hiem")
        if rng.random() < 0.05:
            words.append("vi he")
        rows.append((f"HCM-S{i:06d}", rng.choice(STATUSES), rng.choice(CHANNELS), " ".join(words),
                     rng.choice([*units, None]), rng.random() < 0.1))
    await pool.executemany(
        "INSERT INTO cases (tracking_code, status, channel, description, search_text, department, urgent)"
        " VALUES ($1, $2, $3, $4, lower($1) || ' ' || $4, $5, $6)", rows)
    return units


async def _plain(conn, where: list[str], args: list, text: str, limit: int) -> list[int]:
    """The query the search replaces: every condition in one WHERE, sorted by id."""
    condition = cases.search_condition(text)
    assert condition is not None
    clauses = [*where, condition[0].replace("?", f"${len(args) + 1}")]
    rows = await conn.fetch(f"SELECT c.id FROM cases c WHERE {' AND '.join(clauses)} ORDER BY c.id DESC"
                            f" LIMIT ${len(args) + 2}", *args, condition[1], limit)
    return [r["id"] for r in rows]


async def test_fetch_newest_returns_the_plain_querys_rows_for_any_probes(pool):
    units = await _load(pool)
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM cases ORDER BY id")]
    rng = random.Random(7)
    paths = set()
    async with pool.acquire() as conn:
        for _ in range(300):
            where: list[str] = []
            args: list = []
            for column, values in (("status", STATUSES), ("channel", CHANNELS), ("department", units)):
                if rng.random() < 0.3:
                    args.append(rng.choice(values))
                    where.append(f"c.{column} = ${len(args)}")
            if rng.random() < 0.2:
                where.append("c.urgent")
            if rng.random() < 0.4:
                args.append(rng.choice(ids))
                where.append(f"c.id < ${len(args)}")
            text = rng.choice([*WORDS, "ngap nuo", "d", "hcm-s0012", "xe buyt hiem"])
            limit = rng.choice([1, 5, 21, 51])
            probes = rng.choice([(1,), (3, 20), (1, 1, 1), (20, 200), (250, 2000), (5000,)])
            got = [r["id"] for r in await cases.fetch_newest(conn, list(where), list(args), text, limit,
                                                             probes=probes)]
            expected = await _plain(conn, where, args, text, limit)
            assert got == expected, (where, args, text, limit, probes)
            paths.add(len(expected) == limit)
    assert paths == {True, False}  # full pages and short ones were both checked


async def test_the_inbox_and_the_staff_list_search_as_the_plain_query(pool):
    units = await _load(pool)
    async with pool.acquire() as conn:
        for text in WORDS:
            for queue, scope in (("all", None), ("triage", None), ("unit", units[0])):
                rows = await inbox(conn, InboxFilter(queue=queue, text=text), me=None, scope_department=scope,
                                   limit=51)
                where = {"all": [], "triage": ["c.status IN ('received', 'triage', 'rejected', 'reopened')"],
                         "unit": ["c.department = $1"]}[queue]
                assert [r["id"] for r in rows] == await _plain(conn, where, [scope] if scope else [], text, 51)
            rows = await cases.list_cases(conn, cases.CaseFilter(text=text, status="forwarded"),
                                          scope_department=None, after=None, limit=21)
            assert [r["id"] for r in rows] == await _plain(conn, ["c.status = $1"], ["forwarded"], text, 21)
            assert all(r["status"] == "forwarded" for r in rows)
            assert rows or text not in WORDS[:8]


async def test_a_tracking_code_finds_its_case_only(pool):
    await _load(pool, 50)
    code = "1234567897" if cases.codes.normalise("1234567897") else None
    async with pool.acquire() as conn:
        if code is not None:
            case_id = await conn.fetchval("UPDATE cases SET tracking_code = $1 WHERE id = (SELECT max(id) FROM cases)"
                                          " RETURNING id", code)
            rows = await cases.fetch_newest(conn, [], [], "1234 5678 97", 51)
            assert [r["id"] for r in rows] == [case_id]
