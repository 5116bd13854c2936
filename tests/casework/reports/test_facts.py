"""A case's reporting facts from its event log: one life made by the real actions, and hand-built logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from casework import actions, staff, store
from casework.intake import InboundEvent, SenderIdentity
from casework.models import SYSTEM, Actor, Role, Status
from casework.reports.facts import CaseFacts, facts_from_events
from kernel.time import LOCAL_TZ
from routing.calendar import AroundTheClock, BusinessCalendar

CAL = BusinessCalendar.vietnam(range(2025, 2028))


def local(d: int, h: int, mi: int = 0, mo: int = 11) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=LOCAL_TZ)


# --- one life, written by the real actions on the real database ---------------------------------------

async def test_facts_of_a_case_lived_through_the_real_actions(pool, units):
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # the rows' clock; the events are stamped by the database
    agent_id = await staff.create_user(pool, "lan", role="agent", password="lan-secret")
    agent = Actor(kind="staff", name="lan", id=agent_id, role=Role.AGENT)
    phone = SenderIdentity("phone", "+84901234567")
    intake = await actions.record_inbound(pool, InboundEvent(
        channel="sms", provider_message_id="SM-facts-1", text="Cống trước số 12 bị nghẹt", sender=phone))
    case_id = intake.case_id
    async with pool.acquire() as conn:  # what the pipeline writes for a case it cannot route
        await store.insert_events(conn, [
            store.Event(case_id, SYSTEM, "classified", changes={"field": "drainage_flooding", "confidence": 0.9}),
            store.Event(case_id, SYSTEM, "geocoded", changes={"ward_code": "26734", "confidence": 0.8}),
            store.Event(case_id, SYSTEM, "status", from_status=Status.RECEIVED, to_status=Status.TRIAGE),
        ])
        await store.update_case(conn, case_id, {"status": Status.TRIAGE.value, "field": "drainage_flooding"})
    due = t0 + timedelta(days=5)
    await actions.change_status(pool, case_id, Status.FORWARDED, agent, department="so-xay-dung",
                                deadline=actions.Deadline(due, "hạn 5 ngày làm việc"), now=t0)
    await actions.reply(pool, case_id, agent, "Đã chuyển Sở Xây dựng", now=t0)
    await actions.change_status(pool, case_id, Status.IN_PROGRESS, agent, now=t0)
    await actions.reply(pool, case_id, agent, "Đã nạo vét xong", final=True, now=t0)
    reopened = await actions.rate_answer(pool, intake.tracking_code, channel="sms", sender_kind="phone",
                                         sender=phone.value, rating=None, solved=False, now=t0 + timedelta(hours=1))
    assert reopened == "reopened"
    await actions.reply(pool, case_id, agent, "Đã xử lý lại", final=True, now=t0 + timedelta(hours=2))
    rated = await actions.rate_answer(pool, intake.tracking_code, channel="sms", sender_kind="phone",
                                      sender=phone.value, rating=5, solved=True, now=t0 + timedelta(hours=3))
    assert rated == "rated"

    async with pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
        events = await store.case_events(conn, case_id)
    at = {}
    for e in events:  # the first event of each kind or move
        at.setdefault((e["kind"], e["to_status"]), e["at"])
    facts = facts_from_events(case, events, CAL)

    received = at[("received", "received")]
    resolved = at[("status", "answered")]
    assert facts == CaseFacts(
        case_id=case_id, received_at=received, channel="sms", field="drainage_flooding", ward_code="26734",
        unit="so-xay-dung", forwarded_at=at[("status", "forwarded")], first_response_at=at[("reply", None)],
        resolved_at=resolved, reopened_at=at[("status", "reopened")], due_at=due, duplicate_at=None,
        rating=5, solved=True, rated_at=[e["at"] for e in events if e["kind"] == "rated"][-1],
        forward_work_min=CAL.working_minutes_between(received, at[("status", "forwarded")]),
        response_work_min=CAL.working_minutes_between(received, at[("reply", None)]),
        resolution_work_min=CAL.working_minutes_between(received, resolved),
        event_count=len(events),
    )
    # Two answers, one reopening: the first answer counts as the resolution, and the reopening after it.
    moves = [e["to_status"] for e in events if e["to_status"]]
    assert moves == ["received", "triage", "forwarded", "in_progress", "answered", "reopened", "answered"]
    assert facts.reopened_at > facts.resolved_at


# --- hand-built logs --------------------------------------------------------------------------------

class Log:
    """Events for one case, numbered in order, with the cases row they belong to."""

    def __init__(self, received: datetime, channel: str = "web", **row: Any) -> None:
        self.row = {"id": 7, "created_at": received, "channel": channel, "due_at": None, **row}
        self.events: list[dict[str, Any]] = []
        self.add("received", received, to_status="received", changes={"channel": channel})

    def add(self, kind: str, at: datetime, *, from_status: str | None = None, to_status: str | None = None,
            changes: dict[str, Any] | None = None) -> Log:
        self.events.append({"id": len(self.events) + 1, "at": at, "kind": kind, "from_status": from_status,
                            "to_status": to_status, "changes": changes or {}})
        return self

    def move(self, at: datetime, target: str, **changes: Any) -> Log:
        return self.add("status", at, to_status=target, changes=changes)

    def facts(self, clock=CAL) -> CaseFacts:
        return facts_from_events(self.row, self.events, clock)


def routed(received: datetime, unit: str = "so-xay-dung", due: datetime | None = None) -> Log:
    log = Log(received)
    log.add("classified", received, changes={"field": "trees"})
    log.add("routed", received + timedelta(minutes=2),
            changes={"department": unit, "due_at": due.isoformat() if due else None})
    return log.move(received + timedelta(minutes=2), "forwarded")


def test_a_transfer_moves_the_unit_and_its_logged_deadline():
    due1, due2 = local(9, 17), local(12, 17)
    log = routed(local(2, 8), due=due1)
    log.add("transferred", local(3, 9), to_status="forwarded",
            changes={"department": ["so-xay-dung", "evn-hcmc"], "due_at": [due1.isoformat(), due2.isoformat()]})
    log.move(local(4, 10), "answered")
    facts = log.facts()
    assert (facts.unit, facts.due_at, facts.forwarded_at) == ("evn-hcmc", due2, local(2, 8, 2))
    assert facts.resolved_at == local(4, 10)


def test_a_transfer_that_did_not_log_its_deadline_takes_the_rows():
    due1, row_due = local(9, 17), local(16, 17)
    log = routed(local(2, 8), due=due1)
    log.row["due_at"] = row_due
    log.add("transferred", local(3, 9), to_status="forwarded", changes={"department": ["so-xay-dung", "evn-hcmc"]})
    assert log.facts().due_at == row_due
    log.move(local(4, 10), "answered")
    assert log.facts().due_at == row_due  # resolved with the transfer's deadline in force


def test_the_deadline_in_force_at_resolution_is_kept_after_a_reopening_moves_it():
    due1, due2 = local(9, 17), local(20, 17)
    log = routed(local(2, 8), due=due1)
    log.move(local(10, 9), "answered")
    log.move(local(10, 15), "reopened")
    log.move(local(11, 8), "forwarded", due_at=[due1.isoformat(), due2.isoformat()])
    log.row["due_at"] = due2
    facts = log.facts()
    assert (facts.resolved_at, facts.due_at, facts.reopened_at) == (local(10, 9), due1, local(10, 15))


def test_a_pause_takes_its_working_minutes_out_of_every_duration():
    # Mon 2 Nov 08:00 received; paused Mon 09:00 to Tue 09:00 (8 working hours); answered Wed 08:00.
    log = routed(local(2, 8), due=local(9, 17))
    log.add("clock_paused", local(2, 9))
    log.add("reply", local(2, 10))
    log.add("clock_resumed", local(3, 9), changes={"paused_seconds": 86400})
    log.move(local(4, 8), "answered")
    facts = log.facts()
    whole = CAL.working_minutes_between(local(2, 8), local(4, 8))
    assert whole == 2 * 480
    assert facts.resolution_work_min == whole - 480
    assert facts.response_work_min == 60  # 08:00 to 09:00 counts; the pause began before the reply
    assert facts.forward_work_min == 2
    # The clock time is not shortened by a pause: the reports compute it from the instants.
    assert facts.resolved_at - facts.received_at == timedelta(days=2)


def test_a_pause_still_open_counts_up_to_the_moment():
    log = routed(local(2, 8))
    log.add("clock_paused", local(2, 9))
    log.move(local(3, 9), "closed")
    assert log.facts().resolution_work_min == 60


def test_working_minutes_follow_the_clock_given():
    log = routed(local(7, 8, mo=11))  # a Saturday
    log.move(local(9, 8), "answered")  # Monday 08:00
    assert log.facts().resolution_work_min == 30  # the weekend is no working time; Monday from 07:30 is
    assert log.facts(AroundTheClock()).resolution_work_min == 2 * 1440


def test_a_rejection_returns_the_case_to_the_1022_centre():
    log = routed(local(2, 8), due=local(9, 17))
    log.move(local(2, 14), "rejected")
    log.move(local(2, 14), "triage", department=["so-xay-dung", None])
    facts = log.facts()
    assert facts.unit is None
    assert facts.forwarded_at == local(2, 8, 2)  # it was forwarded once: the 5-minute rule counts that
    log.move(local(3, 8), "forwarded", department=[None, "evn-hcmc"])
    assert log.facts().unit == "evn-hcmc" and log.facts().forwarded_at == local(2, 8, 2)


def test_corrections_of_field_ward_and_unit_are_the_latest_word():
    log = routed(local(2, 8))
    log.add("geocoded", local(2, 8), changes={"ward_code": "26734"})
    log.add("field_corrected", local(2, 9),
            changes={"field": ["trees", "electricity"], "ward_code": ["26734", "26737"]})
    log.add("updated", local(2, 10), changes={"department": ["so-xay-dung", "evn-hcmc"]})
    facts = log.facts()
    assert (facts.field, facts.ward_code, facts.unit) == ("electricity", "26737", "evn-hcmc")


def test_a_duplicate_counts_apart_until_it_is_unlinked():
    log = Log(local(2, 8))
    log.add("duplicate_detected", local(2, 8, 1), changes={"duplicate_of": 3})
    log.move(local(2, 8, 1), "duplicate")
    facts = log.facts()
    assert facts.duplicate_at == local(2, 8, 1) and facts.unit is None
    log.add("duplicate_unlinked", local(3, 9), changes={"duplicate_of": [3, None]})
    log.move(local(3, 9), "reopened")
    log.move(local(3, 9), "forwarded", department=[None, "so-xay-dung"], due_at=[None, local(10, 9).isoformat()])
    facts = log.facts()
    assert facts.duplicate_at is None
    assert facts.reopened_at is None  # reopened from duplicate, never resolved: not a reopening of an answer
    assert (facts.unit, facts.forwarded_at, facts.due_at) == ("so-xay-dung", local(3, 9), local(10, 9))


def test_a_duplicate_linked_again_counts_from_its_last_link():
    log = Log(local(2, 8))
    log.move(local(2, 9), "duplicate")
    log.move(local(3, 9), "reopened")
    log.move(local(4, 9), "duplicate")
    assert log.facts().duplicate_at == local(4, 9)


def test_the_latest_rating_counts_and_a_missing_number_keeps_the_one_before():
    log = routed(local(2, 8))
    log.move(local(3, 8), "answered")
    log.add("rated", local(3, 9), changes={"rating": 2, "solved": True, "channel": "sms"})
    log.add("rated", local(3, 10), changes={"rating": None, "solved": False, "channel": "sms"})
    facts = log.facts()
    assert (facts.rating, facts.solved, facts.rated_at) == (2, False, local(3, 10))


def test_a_case_without_a_received_event_falls_back_to_its_row():
    row = {"id": 9, "created_at": local(2, 8), "channel": "voice", "due_at": local(9, 8)}
    facts = facts_from_events(row, [], CAL)
    assert facts == CaseFacts(case_id=9, received_at=local(2, 8), channel="voice", due_at=local(9, 8), event_count=0)


def test_events_are_read_in_log_order_whatever_order_they_come_in():
    log = routed(local(2, 8), due=local(9, 17))
    log.move(local(3, 8), "answered")
    log.move(local(3, 9), "reopened")
    assert facts_from_events(log.row, list(reversed(log.events)), CAL) == log.facts()


@pytest.mark.parametrize("target", ["answered", "closed"])
def test_resolution_is_the_first_answer_or_closing(target):
    log = routed(local(2, 8))
    log.move(local(3, 8), target)
    log.move(local(3, 9), "closed")
    assert log.facts().resolved_at == local(3, 8)
