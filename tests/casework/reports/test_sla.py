"""The projection's refresh and the SLA and DTI figures, on a small month worked out by hand."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import astuple, replace
from datetime import UTC, datetime

import pytest

from casework import actions, store
from casework.intake import InboundEvent
from casework.models import SYSTEM, Status
from casework.reports import periods
from casework.reports import store as reports_store
from casework.reports.facts import CaseFacts, facts_from_events
from casework.reports.sla import Durations, RankedUnit, dti_report, rank_units, sla_report
from kernel.errors import BadRequest
from kernel.time import LOCAL_TZ
from routing.calendar import BusinessCalendar
from tests.casework.reports.history import History, insert
from tests.polling import until

CAL = BusinessCalendar.vietnam(range(2025, 2028))
NOVEMBER = periods.monthly(2026, 11)  # 25/10 12:00 -> 25/11 12:00
AFTER = datetime(2026, 12, 20, tzinfo=UTC)


def local(d: int, h: int, mi: int = 0, mo: int = 11) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=LOCAL_TZ)


def month_of_cases() -> list[History]:
    c1 = History(local(2, 8), "web").route(local(2, 8, 2), "so-xay-dung", local(9, 17))
    c1.add(local(3, 9), "reply").move(local(4, 10), "answered")
    c1.add(local(4, 11), "rated", rating=5, solved=True, channel="web")
    c2 = History(local(3, 8), "sms").route(local(3, 8, 10), "so-xay-dung", local(5, 17))
    c2.move(local(10, 9), "answered").move(local(11, 9), "reopened").move(local(12, 9), "answered")
    c3 = History(local(20, 8), "telegram").route(local(20, 8, 1), "so-xay-dung", local(23, 17))
    c4 = History(local(5, 8), "voice").route(local(5, 8, 3), "evn-hcmc", local(12, 17))
    c4.move(local(12, 16), "answered").add(local(13, 8), "rated", rating=2, solved=False, channel="sms")
    c5 = History(local(6, 8), "web").move(local(6, 8), "triage")
    c6 = History(local(7, 8), "web").move(local(7, 8, 1), "duplicate")
    c7 = History(local(25, 12), "web")  # at the period's end: the next month's
    c8 = History(local(25, 11, 59, mo=10), "sms").route(local(25, 12, mo=10), "evn-hcmc", local(1, 17))
    c9 = History(local(9, 8), "email").route(local(9, 8, 4), "evn-hcmc", local(30, 17))
    c9.move(local(26, 9), "answered")  # after the period: not handled as of its end
    return [c1, c2, c3, c4, c5, c6, c7, c8, c9]


@pytest.fixture
async def month(pool, units) -> list[int]:
    return await insert(pool, month_of_cases())


async def test_the_month_by_unit_as_worked_out_by_hand(pool, month):
    report = await sla_report(pool, NOVEMBER, "unit", clock=CAL, now=AFTER, min_handled=1)
    t = report.total
    assert (t.received, t.duplicates, t.handled, t.handled_on_time, t.handled_late) == (6, 1, 3, 2, 1)
    assert (t.overdue_open, t.overdue, t.in_progress, t.no_deadline) == (1, 2, 3, 1)
    assert t.on_time_rate == pytest.approx(2 / 3)
    assert (t.forwarded, t.forwarded_within_5min, t.forward_rule_rate) == (5, 4, 0.8)
    # Minutes to forward: 2, 10, 1, 3, 4 -> median 3, 90th percentile 4 + 0.6 * (10 - 4) (linear interpolation).
    assert astuple(t.time_to_forward) == pytest.approx((5, 3.0, 7.6, 3.0, 7.6, 4.0, 4.0))
    assert (t.reopened, t.reopen_rate) == (1, pytest.approx(1 / 3))
    assert (t.ratings, t.rating_mean, t.satisfied_share, t.solved_share) == (2, 3.5, 0.5, 0.5)
    assert (t.online, t.online_share) == (4, pytest.approx(4 / 6))
    assert (t.within_legal_limit, t.within_legal_rate) == (3, 1.0)
    assert t.first_response.count == 1 and t.first_response.median_clock_min == 25 * 60
    assert t.resolution.count == 3

    rows = {f.key: f for f in report.rows}
    assert [f.key for f in report.rows] == ["so-xay-dung", "evn-hcmc", None]  # by received, the centre last
    assert (rows["so-xay-dung"].received, rows["so-xay-dung"].handled, rows["so-xay-dung"].overdue_open) == (3, 2, 1)
    assert (rows["evn-hcmc"].received, rows["evn-hcmc"].handled, rows["evn-hcmc"].in_progress) == (2, 1, 1)
    assert (rows[None].received, rows[None].duplicates, rows[None].no_deadline) == (1, 1, 1)
    assert report.names["so-xay-dung"] == ("Sở Xây dựng", "Department of Construction")
    assert report.names[None][1] == "1022 centre (not forwarded)"
    assert report.ranking is not None
    assert report.ranking.ranked == [RankedUnit(1, "evn-hcmc", 1.0, 1), RankedUnit(2, "so-xay-dung", 0.5, 2)]
    assert report.ranking.bottom[0].key == "so-xay-dung"
    assert (report.as_of, report.computed_at) == (NOVEMBER.end, AFTER)


async def test_durations_count_working_minutes_on_the_calendar(pool, month):
    report = await sla_report(pool, NOVEMBER, "unit", clock=CAL, now=AFTER)
    # c1 took Mon 08:00 -> Wed 10:00: 450 working minutes on Monday, 480 on Tuesday, 150 on Wednesday.
    c1 = CAL.working_minutes_between(local(2, 8), local(4, 10))
    assert c1 == 450 + 480 + 150
    rows = {f.key: f for f in report.rows}
    assert rows["evn-hcmc"].resolution.median_work_min == CAL.working_minutes_between(local(5, 8), local(12, 16))
    assert rows["so-xay-dung"].resolution.count == 2
    assert min(rows["so-xay-dung"].resolution.median_work_min, c1) == c1


async def test_a_unit_is_ranked_once_it_has_handled_enough(pool, month):
    report = await sla_report(pool, NOVEMBER, "unit", clock=CAL, now=AFTER)
    assert report.ranking is not None and report.ranking.ranked == []  # nobody has handled 10 cases
    assert (await sla_report(pool, NOVEMBER, "field", clock=CAL, now=AFTER)).ranking is None


async def test_figures_are_taken_as_of_now_in_a_period_not_over(pool, month):
    before_c3_due = await sla_report(pool, NOVEMBER, "unit", clock=CAL, now=local(22, 8))
    after_c3_due = await sla_report(pool, NOVEMBER, "unit", clock=CAL, now=local(24, 8))
    assert before_c3_due.as_of == local(22, 8)
    assert (before_c3_due.total.overdue_open, after_c3_due.total.overdue_open) == (0, 1)


@pytest.mark.parametrize("by, keys", [
    ("field", {"trees": 5, None: 1}),
    ("channel", {"web": 2, "sms": 1, "telegram": 1, "voice": 1, "email": 1}),
    ("ward", {None: 6}),
])
async def test_other_groupings_share_the_total(pool, month, by, keys):
    report = await sla_report(pool, NOVEMBER, by, clock=CAL, now=AFTER)
    assert {f.key: f.received for f in report.rows} == keys
    assert report.total.received == 6
    assert report.total == (await sla_report(pool, NOVEMBER, "unit", clock=CAL, now=AFTER)).total
    assert all(f.key in report.names for f in report.rows)


async def test_a_units_report_counts_its_cases_only(pool, month):
    report = await sla_report(pool, NOVEMBER, "channel", unit="evn-hcmc", clock=CAL, now=AFTER)
    assert report.unit == "evn-hcmc"
    assert report.total.received == 2 and {f.key for f in report.rows} == {"voice", "email"}


async def test_an_unknown_grouping_is_a_400(pool):
    with pytest.raises(BadRequest) as refused:
        await sla_report(pool, NOVEMBER, "district", clock=CAL, now=AFTER)
    assert refused.value.detail["field"] == "by"


async def test_dti_figures_for_the_quarter(pool, month):
    q4 = periods.quarter(2026, 4)
    city, *units = await dti_report(pool, q4, clock=CAL, now=AFTER)
    # The quarter holds c7 and c8 too, and c9's answer of 26/11.
    assert (city.unit, city.period_label, city.received) == (None, "2026-Q4", 8)
    assert city.on_time_rate == pytest.approx(3 / 4)  # c1, c4, c9 on time; c2 late
    assert city.online_share == pytest.approx(5 / 8)
    # c9 took 13 working days and more, past the 10-day legal limit.
    assert (city.satisfaction, city.reopen_rate, city.within_legal_rate) == (3.5, 0.25, 0.75)
    assert city.name_en == "Whole city"
    assert [u.unit for u in units] == ["evn-hcmc", "so-xay-dung"]
    evn = units[0]
    assert evn.received == 3 and evn.avg_handling_work_hours == pytest.approx(
        (CAL.working_minutes_between(local(5, 8), local(12, 16))
         + CAL.working_minutes_between(local(9, 8), local(26, 9))) / 2 / 60)
    mine = await dti_report(pool, q4, unit="so-xay-dung", clock=CAL, now=AFTER)
    assert [(d.unit, d.received) for d in mine] == [("so-xay-dung", 3)]
    none = await dti_report(pool, q4, unit="ubnd-ben-thanh", clock=CAL, now=AFTER)
    assert [(d.unit, d.received, d.on_time_rate, d.name_en) for d in none] == [
        ("ubnd-ben-thanh", 0, None, "Ben Thanh Ward People's Committee")]


def test_ranking_ties_go_to_more_handled_then_to_the_code():
    from casework.reports.sla import _empty

    def unit(key, on_time, handled):
        return replace(_empty(key), handled=handled, on_time_rate=on_time)

    rows = [unit("b", 0.9, 10), unit("a", 0.9, 10), unit("c", 0.9, 12), unit("d", 1.0, 10), unit(None, 1.0, 99),
            unit("e", None, 50), unit("f", 0.1, 9)]
    ranking = rank_units(rows)
    assert [r.key for r in ranking.ranked] == ["d", "c", "a", "b"]
    assert [r.rank for r in ranking.ranked] == [1, 2, 3, 4]
    assert [r.key for r in ranking.bottom] == ["b", "a", "c", "d"]


# --- the refresh ---------------------------------------------------------------------------------------

async def _facts_now(pool, case_id: int) -> CaseFacts:
    async with pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
        events = await store.case_events(conn, case_id)
    return facts_from_events(case, events, CAL)


async def test_every_new_event_marks_its_case_and_the_refresh_clears_exactly_those(pool, units):
    result = await actions.record_inbound(pool, InboundEvent(channel="web", provider_message_id="r-1", text="Ổ gà"))
    assert await reports_store.pending_count(pool) == 1
    assert await reports_store.refresh_facts(pool, CAL) == 1
    assert await reports_store.pending_count(pool) == 0
    stored = await reports_store.case_facts(pool, [result.case_id])
    expected = await _facts_now(pool, result.case_id)
    assert stored[result.case_id] == {f: getattr(expected, f) for f in reports_store.COLUMNS}
    await actions.change_status(pool, result.case_id, Status.FORWARDED, SYSTEM, department="so-xay-dung")
    assert await reports_store.pending_count(pool) == 1
    assert await reports_store.refresh_facts(pool, CAL) == 1
    stored = await reports_store.case_facts(pool, [result.case_id])
    assert stored[result.case_id]["unit"] == "so-xay-dung" and stored[result.case_id]["event_count"] == 2


async def test_an_event_committed_during_a_refresh_is_not_lost(pool, units):
    result = await actions.record_inbound(pool, InboundEvent(channel="web", provider_message_id="r-2", text="Ổ gà"))
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await store.insert_event(conn, result.case_id, SYSTEM, "routed", changes={"department": "evn-hcmc"})
        # The refresh cannot see the uncommitted event, nor its pending row: it computes without it ...
        assert await reports_store.refresh_facts(pool, CAL) == 1
        await tx.commit()
    # ... and the event, once committed, has its own pending row: the next refresh takes it.
    assert await reports_store.pending_count(pool) == 1
    await reports_store.refresh_facts(pool, CAL)
    assert (await reports_store.case_facts(pool, [result.case_id]))[result.case_id]["unit"] == "evn-hcmc"


async def test_a_stale_computation_never_overwrites_a_fresher_one(pool, units):
    result = await actions.record_inbound(pool, InboundEvent(channel="web", provider_message_id="r-3", text="Ổ gà"))
    await actions.change_status(pool, result.case_id, Status.FORWARDED, SYSTEM, department="so-xay-dung")
    await reports_store.refresh_facts(pool, CAL)
    stale = CaseFacts(case_id=result.case_id, received_at=AFTER, channel="web", event_count=1)
    async with pool.acquire() as conn:
        await reports_store._save(conn, [stale])
    assert (await reports_store.case_facts(pool, [result.case_id]))[result.case_id]["unit"] == "so-xay-dung"


async def test_a_rebuild_computes_every_case_again_on_a_new_calendar(pool, month):
    await reports_store.refresh_facts(pool, CAL)
    assert await reports_store.queue_all(pool) == 9
    day_off = BusinessCalendar.vietnam(range(2025, 2028), {local(3, 0).date(): False})  # 3/11 made a day off
    assert await reports_store.refresh_facts(pool, day_off) == 9
    facts = await reports_store.case_facts(pool, [month[0]])
    assert facts[month[0]]["resolution_work_min"] == 450 + 150  # c1 lost Tuesday's 480 working minutes


async def test_refreshes_in_parallel_agree(pool, month):
    await reports_store.queue_all(pool)
    counts = await asyncio.gather(*(reports_store.refresh_facts(pool, CAL, limit=2) for _ in range(3)))
    assert sum(counts) == 9 and await reports_store.pending_count(pool) == 0


async def test_the_worker_keeps_the_facts_fresh(settings, pool, units):
    from hotline.services import Services
    from hotline.worker import build_worker

    fast = settings.model_copy(update={"sweep_interval_seconds": 1})
    services = await Services.start(fast, processing=False)
    worker = build_worker(fast, services)
    task = asyncio.create_task(worker.async_run())
    try:
        result = await actions.record_inbound(pool, InboundEvent(channel="sms", provider_message_id="r-4",
                                                                 text="Mất điện"))
        rows = await until(lambda: reports_store.case_facts(pool, [result.case_id]), what="the facts computed")
        assert rows[result.case_id]["channel"] == "sms"
    finally:
        await worker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await services.close()


async def test_the_durations_of_no_case_are_empty(pool, units):
    report = await sla_report(pool, NOVEMBER, "unit", clock=CAL, now=AFTER)
    assert report.total.received == 0 and report.rows == []
    assert report.total.time_to_forward == Durations(0, None, None, None, None, None, None)
    assert report.total.on_time_rate is None

