"""The pure parts: status mapping, status notes, the 90-day window, form splitting, XML and the outbound adapter."""

from datetime import UTC, datetime, timedelta

import pytest

from casework.models import Status
from channels.base import OutboundMessage
from integrations.open311 import formats, models
from integrations.open311.adapter import Open311Adapter
from kernel.errors import BadRequest
from tests.integrations.open311.conftest import xml_document

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize("status, expected", [
    ("received", "open"), ("triage", "open"), ("forwarded", "open"), ("in_progress", "open"),
    ("reopened", "open"), ("rejected", "open"),
    ("answered", "closed"), ("closed", "closed"), ("duplicate", "closed"),
])
def test_every_case_status_is_open_or_closed(status, expected):
    assert models.open311_status(status) == expected


def test_open311_status_filters_name_case_statuses():
    assert models.case_statuses(()) is None and models.case_statuses(("open", "closed")) is None
    assert models.case_statuses(("closed",)) == ["answered", "closed", "duplicate"]
    assert set(models.case_statuses(("open",))) == set(Status) - {"answered", "closed", "duplicate"}


def _row(status, reply_at=None, status_at=None):
    return {"status": status, "reply_text": "Đã xử lý" if reply_at else None, "reply_at": reply_at,
            "status_at": status_at}


def test_status_notes_show_a_reply_only_while_it_is_current():
    earlier, later = NOW - timedelta(hours=1), NOW
    assert models.status_notes(_row("in_progress", reply_at=later, status_at=earlier), "vi") == "Đã xử lý"
    assert models.status_notes(_row("in_progress", reply_at=earlier, status_at=later), "en") == "In progress"
    assert models.status_notes(_row("closed", reply_at=earlier, status_at=later), "vi") == "Đã xử lý"
    assert models.status_notes(_row("triage", status_at=later), "vi") == "Đang phân loại"


@pytest.mark.parametrize("start, end, expected", [
    (None, None, (NOW - timedelta(days=90), None)),  # open-ended: the database stamps requests, not our clock
    (NOW - timedelta(days=200), None, (NOW - timedelta(days=200), NOW - timedelta(days=110))),
    (None, NOW - timedelta(days=10), (NOW - timedelta(days=100), NOW - timedelta(days=10))),
    (NOW - timedelta(days=90), NOW, (NOW - timedelta(days=90), NOW)),
])
def test_window_defaults_to_90_days(start, end, expected):
    assert models.window(start, end, NOW) == expected


@pytest.mark.parametrize("start, end", [(NOW - timedelta(days=91), NOW), (NOW, NOW - timedelta(seconds=1))])
def test_window_refuses_more_than_90_days_or_an_inverted_range(start, end):
    with pytest.raises(BadRequest):
        models.window(start, end, NOW)


def test_dates_without_a_zone_are_ho_chi_minh_time():
    assert models.parse_datetime("start_date", "2026-11-27") == datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    assert models.parse_datetime("start_date", "2026-11-27T10:00:00Z") == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert models.w3c(datetime(2026, 11, 27, 3, 0, tzinfo=UTC)) == "2026-11-27T10:00:00+07:00"


def test_ids_override_the_other_parameters_and_bad_ids_match_nothing():
    query = models.request_query({"service_request_id": "abc, 123", "status": "bogus"}, NOW)
    assert query.ids == () and query.start is None


def test_form_splits_attributes_and_keeps_the_first_of_repeated_fields():
    fields, attributes = models.split_form([("service_code", "trees"), ("service_code", "noise"),
                                            ("attribute[urgent]", "yes"), ("attribute[color][]", "red")])
    assert fields == {"service_code": "trees"} and attributes == {"urgent": "yes", "color": "red"}


def test_unknown_attributes_are_ignored():
    form = models.request_form({"service_code": "trees", "address_string": "1 Lê Lợi"},
                               {"urgent": "Yes", "color": "red"}, 100)
    assert form.attributes == {"urgent": "yes"} and form.urgent


def test_xml_escapes_text_and_spells_booleans_and_nulls():
    data = formats.to_xml("service_requests", [{"description": "<b>ngập & tắc</b>", "metadata": True,
                                                "zipcode": None}])
    assert xml_document(data) == ("service_requests", [{"description": "<b>ngập & tắc</b>", "metadata": "true",
                                                        "zipcode": None}])


async def test_outbound_messages_are_delivered_by_being_stored():
    receipt = await Open311Adapter().send(OutboundMessage(message_id=7, channel="open311", recipient=None, text="x"))
    assert (receipt.provider_message_id, receipt.status) == ("open311:7", "delivered")
