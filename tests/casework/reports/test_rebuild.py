"""`hotline report rebuild`: every case's facts computed again, as a real subprocess on the test database."""

from __future__ import annotations

import asyncio
import os
import sys

from redis.asyncio import Redis

from casework.reports import store as reports_store
from channels.web import stats
from tests.casework.reports.history import History, insert
from tests.casework.reports.test_sla import CAL, local


async def test_rebuild_computes_every_case(settings, pool, units):
    ids = await insert(pool, [History(local(2, 8)).route(local(2, 8, 2), "so-xay-dung", local(9, 17)),
                              History(local(3, 8), "sms")])
    await reports_store.refresh_facts(pool, CAL)
    await pool.execute("UPDATE case_facts SET channel = 'stale'")  # no new event: only a rebuild mends this
    redis = Redis.from_url(settings.redis_url)
    await redis.set(stats.KEY.format(label="2026-11"), b"{}")  # a month the public page keeps: computed again too
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "HOTLINE_VAR_DIR": str(settings.var_dir)}
    done = await asyncio.create_subprocess_exec(sys.executable, "-m", "hotline.cli", "report", "rebuild", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(done.communicate(), 120)
    assert done.returncode == 0, err.decode()
    assert out.decode().strip() == ("report facts computed again for 2 case(s); 1 stored month(s) of the public"
                                    " statistics dropped")
    assert not await redis.exists(stats.KEY.format(label="2026-11"))
    await redis.aclose()
    facts = await reports_store.case_facts(pool, ids)
    assert [facts[i]["channel"] for i in ids] == ["web", "sms"]
    assert facts[ids[0]]["unit"] == "so-xay-dung"
    assert await reports_store.pending_count(pool) == 0
