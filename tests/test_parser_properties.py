"""Every parser at the HTTP edge, on arbitrary input, either returns what PostgreSQL can store or raises a
HotlineError (rendered as a 4xx), never another exception (a 500).

Each parser gets at least 10,000 inputs across its tests (each test checks its own count), derandomised
so a run is repeatable. Drawing a value costs hypothesis far more than parsing it, so the tests draw
batches, or pools of values that a seeded Random assembles into many inputs (`mixes`); the parsers are
pure functions, so the whole file takes seconds on an idle machine.
"""

from __future__ import annotations

import base64
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import BaseModel

from casework.views.cases import _cursor_decode, case_query
from channels.web.adapter import FORM_IDEMPOTENCY_FIELD, WebAdapter, build_event, idempotency_key, report_from_mapping
from channels.web.views import FORM_FIELDS, form_fields
from integrations.open311 import models as o311
from kernel.errors import HotlineError
from kernel.http import parse_body
from kernel.inputs import BIGINT_MAX, INT_MAX, loads_json, unstorable
from routing import views as admin

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


_calls = [0]


def counted(check: Any, *args: Any) -> None:
    _calls[0] += 1
    check(*args)


def _counting(test: Any, check: Any, n: int) -> Any:
    """The pytest test: the hypothesis run, then a check that it fed the parser at least n inputs."""

    def run() -> None:
        _calls[0] = 0
        test()
        assert _calls[0] >= n, f"{check.__name__} saw {_calls[0]} inputs, fewer than {n}"

    run.__name__ = run.__qualname__ = check.__name__
    run.__doc__ = check.__doc__
    return run


BATCH = 20  # inputs per generated example: hypothesis's fixed cost per example is paid once per batch


def inputs(n: int, *strategies: st.SearchStrategy) -> Any:
    """Run the decorated check on n generated inputs (tuples drawn from `strategies`), BATCH per example."""

    def wrap(check: Any) -> Any:
        @settings(max_examples=n // BATCH, derandomize=True, database=None, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much, HealthCheck.large_base_example])
        @given(st.lists(st.tuples(*strategies), min_size=BATCH, max_size=BATCH))
        def test(batch: list[tuple]) -> None:
            for args in batch:
                counted(check, *args)

        return _counting(test, check, n)

    return wrap


POOL = 16  # values drawn per key pool
PER_EXAMPLE = 50  # inputs assembled from one example's pools


@dataclass(frozen=True)
class Mix:
    """Dicts of some of `keys` (now and then an unknown key) with values from `values`."""

    keys: tuple[str, ...]
    values: st.SearchStrategy


@dataclass(frozen=True)
class Joined:
    """Text made of up to `most` fragments drawn from `fragments`, joined by `sep`."""

    fragments: st.SearchStrategy
    sep: str = ""
    most: int = 40


def mixes(n: int, *parts: st.SearchStrategy | Mix) -> Any:
    """Run the decorated check on n inputs assembled from pools of drawn values, PER_EXAMPLE per example.

    Drawing a value costs hypothesis far more than validating it, so each example draws a pool of
    values per argument and a seeded Random that assembles PER_EXAMPLE inputs from them (random key
    subsets for a Mix); a failure still shrinks through the pools.
    """

    def wrap(check: Any) -> Any:
        pools = [st.lists(p.values if isinstance(p, Mix) else p.fragments if isinstance(p, Joined) else p,
                          min_size=POOL, max_size=POOL) for p in parts]

        @settings(max_examples=n // PER_EXAMPLE, derandomize=True, database=None, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much, HealthCheck.large_base_example])
        @given(st.tuples(*pools), st.lists(text, min_size=4, max_size=4), st.randoms(use_true_random=True))
        def test(drawn: tuple[list, ...], odd_keys: list[str], rng: random.Random) -> None:
            for _ in range(PER_EXAMPLE):
                args = []
                for part, pool in zip(parts, drawn, strict=True):
                    if isinstance(part, Mix):
                        keys = rng.sample(part.keys, rng.randint(0, min(len(part.keys), 8)))
                        if rng.random() < 0.2:
                            keys.append(rng.choice(odd_keys))
                        args.append({k: rng.choice(pool) for k in keys})
                    elif isinstance(part, Joined):
                        args.append(part.sep.join(rng.choices(pool, k=rng.randint(0, part.most))))
                    else:
                        args.append(rng.choice(pool))
                counted(check, *args)

        return _counting(test, check, n)

    return wrap


# --- what arbitrary input looks like --------------------------------------------------------------

EDGE_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "x\udfff", "😀", "²", "٣", "1e400", "9" * 5000, "NaN", "-0",
             "0001-01-01", "9999-12-31", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
             "2026-11-27T10:00:00Z", "2026-13-45", "null", "true", "%00", "%ED%A0%80", "a" * 600]
# Any text, the edge cases above, and short strings of surrogates, control characters and Unicode digits.
text = st.one_of(st.text(max_size=20), st.sampled_from(EDGE_TEXT),
                 st.text(alphabet=st.characters(categories=("Cs", "Cc", "Nd", "No")), max_size=6))
JSON_TOKENS = ["{", "}", "[", "]", ",", ":", '"', '"text"', '"lat"', '"lon"', '"before"', "NaN", "-Infinity",
               "Infinity", "1e400", "-1e400", "1.5e-400", "9" * 4301, "-" + "9" * 4301, "\\u0000", "\\ud800",
               "\\udfff", "\\ud83d\\ude00", "null", "true", "0", "-0.0", " ", "[" * 40, "]" * 40, '"x"']
JSON_FRAGMENTS = st.sampled_from(JSON_TOKENS) | st.text(max_size=4)
json_soup = st.lists(JSON_FRAGMENTS, max_size=40).map("".join)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(), text)
# One level of nesting is enough here (and cheap to draw); deep nesting comes from json_soup's "[" * 40.
json_values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(text, scalars, max_size=4),
                        st.dictionaries(text, st.lists(scalars, max_size=2), max_size=2))


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def deep(n: int) -> bytes:
    return ("[" * n + "]" * n).encode()


def assert_storable(value: Any) -> None:
    """What PostgreSQL takes: no NUL or lone surrogate in any text, no NaN or Infinity, JSON all the way down."""
    json.dumps(value, allow_nan=False, default=str)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            assert unstorable(item) is None, repr(item)
        elif isinstance(item, float):
            assert math.isfinite(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def raises_only_hotline_errors(parse, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001
    try:
        return parse(*args, **kwargs)
    except HotlineError as e:
        assert 400 <= e.http_status < 500
        return None


# --- read_json: kernel.inputs.loads_json ------------------------------------------------------------

@inputs(4000, st.binary(max_size=200) | st.sampled_from([deep(100_000), deep(900), b"\xff", b"\xed\xa0\x80"]))
def test_read_json_on_any_bytes(body: bytes) -> None:
    data = raises_only_hotline_errors(loads_json, body)
    assert_storable(data)


@inputs(4000, json_soup)
def test_read_json_on_json_like_text(source: str) -> None:
    body = source.encode("utf-8", "surrogatepass")
    assert_storable(raises_only_hotline_errors(loads_json, body))
    assert_storable(raises_only_hotline_errors(loads_json, body, text="clean"))


@inputs(2000, json_values)
def test_read_json_on_any_json_document(value: Any) -> None:
    body = dumps(value)
    assert_storable(raises_only_hotline_errors(loads_json, body))
    assert_storable(raises_only_hotline_errors(loads_json, body, text="clean"))


# --- the web report: channels.web.adapter and the form's fields ------------------------------------

REPORT_KEYS = ["text", "name", "phone", "email", "address", "lat", "lon", "locale"]
report_values = st.one_of(text, st.floats(), st.integers(), st.none(), st.booleans(), json_values,
                          st.sampled_from(["0901 234 567", "+84901234567", "an@example.vn", "10.77", "106.7"]))
headers = st.dictionaries(st.sampled_from(["Idempotency-Key", "X-Other"]), text, max_size=2).map(
    lambda h: CIMultiDictProxy(CIMultiDict(h)))
WEB = WebAdapter(SimpleNamespace(max_text_chars=2000, public_url="http://hotline.test"))


@mixes(6000, Mix(tuple(REPORT_KEYS), report_values), headers)
def test_web_json_report_on_any_document(data: dict, head: CIMultiDictProxy) -> None:
    events = raises_only_hotline_errors(WEB.parse, head, dumps(data))
    for event in events or ():
        assert_storable(event.raw)
        assert_storable([event.text, event.display_name, event.address, event.lat, event.lon])


@mixes(4000, Joined(JSON_FRAGMENTS), headers)
def test_web_json_report_on_any_body(source: str, head: CIMultiDictProxy) -> None:
    events = raises_only_hotline_errors(WEB.parse, head, source.encode("utf-8", "surrogatepass"))
    for event in events or ():
        assert_storable(event.raw)


def _form_report(fields: dict[str, str], head: CIMultiDictProxy) -> None:
    key = idempotency_key(head, fields.get(FORM_IDEMPOTENCY_FIELD))
    report = report_from_mapping({k: v for k, v in fields.items() if k in REPORT_KEYS}, 2000)
    event = build_event(report, (), key, report.model_dump(mode="json"))
    assert_storable(event.raw)
    assert_storable([event.text, event.display_name, event.address])


FORM_PAIRS = st.tuples(st.sampled_from(FORM_FIELDS) | text, text).map("=".join)


@mixes(5000, Joined(FORM_PAIRS, "&", 8), headers)
def test_web_form_report_on_any_body(source: str, head: CIMultiDictProxy) -> None:
    body = source.encode("utf-8", "surrogatepass")
    fields = raises_only_hotline_errors(form_fields, body)
    if fields is not None:
        raises_only_hotline_errors(_form_report, fields, head)


@mixes(5000, Mix(FORM_FIELDS, text | report_values.map(str)), headers)
def test_web_form_report_on_any_fields(fields: dict[str, str], head: CIMultiDictProxy) -> None:
    # Fields as the multipart reader gives them: decoded with U+FFFD for bad bytes, so no lone surrogates.
    fields = {k: v.encode("utf-8", "replace").decode() for k, v in fields.items()}
    raises_only_hotline_errors(_form_report, fields, head)


# --- Open311: the POST form and the GET filters -----------------------------------------------------

O311_KEYS = ["api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "email",
             "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url", "locale",
             "attribute[urgent]", "attribute[other]", "attribute[urgent][]"]
o311_values = st.one_of(text, st.sampled_from(["trees", "traffic", "10.77", "106.70", "yes", "no", "https://x.vn/a",
                                               "12 Nguyễn Huệ", "an@example.vn", "0901234567", "hcmc.gov.vn"]))
O311_PAIRS = st.tuples(st.sampled_from(O311_KEYS) | text, o311_values).map("=".join)


def _o311_request(body: bytes) -> None:
    pairs = o311.form_pairs(body)
    fields, attributes = o311.split_form(pairs)
    o311.check_jurisdiction(fields.get("jurisdiction_id"))
    form = o311.request_form(fields, attributes, 2000)
    raw = {k: v for k, v in pairs if k != "api_key"}
    event = o311.build_event(form, client_id=1, token="t" * 32, idempotency_key=None, raw=raw)
    assert_storable(event.raw)
    assert_storable(form.model_dump())


@inputs(4000, st.binary(max_size=120))
def test_open311_request_on_any_bytes(body: bytes) -> None:
    raises_only_hotline_errors(_o311_request, body)


@mixes(6000, Joined(O311_PAIRS, "&", 10))
def test_open311_request_on_any_form(source: str) -> None:
    raises_only_hotline_errors(_o311_request, source.encode("utf-8", "surrogatepass"))


offsets = st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-23 * 60 - 59, 23 * 60 + 59))
instants = st.one_of(
    st.datetimes(timezones=st.none() | offsets).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(EDGE_TEXT), text,
)
O311_QUERY_KEYS = ("service_request_id", "service_code", "status", "start_date", "end_date", "jurisdiction_id",
                   "locale")
o311_query_values = st.one_of(
    text, instants, st.sampled_from(["trees", "trees,traffic", "nope", "open", "closed", "open,closed", "hcmc.gov.vn",
                                     "1234567897", "1234567897,0000000000", "\x00,1234567897"]),
    st.lists(st.sampled_from(["1234567897", "0000000000", "\x00", "open"]) | text, max_size=5).map(",".join))


@mixes(10000, Mix(O311_QUERY_KEYS, o311_query_values))
def test_open311_query_on_any_parameters(params: dict[str, str]) -> None:
    query = raises_only_hotline_errors(o311.request_query, params, NOW)
    if query is not None and query.ids is None:
        # asyncpg sends timestamptz as UTC: both ends must have one (the default range has no end).
        assert query.end is None or query.start.astimezone(UTC) <= query.end.astimezone(UTC)
        assert query.start.astimezone(UTC)


# --- the staff case list: filters and cursors ------------------------------------------------------

CASE_KEYS = ("status", "field", "department", "ward", "channel", "q", "from", "to", "urgent", "limit", "cursor")
case_values = st.one_of(text, instants, st.integers().map(str), st.sampled_from(
    ["received", "forwarded", "trees", "true", "false", "ngập nước", "ổ gà & | !", "eyJiZWZvcmUiOiAxMn0"]))


@mixes(7000, Mix(CASE_KEYS, case_values))
def test_case_list_on_any_query(params: dict[str, str]) -> None:
    query = raises_only_hotline_errors(case_query, params)
    if query is None:
        return
    flt = query.filter
    for value in (flt.department, flt.ward, flt.channel, flt.text):
        assert value is None or unstorable(value) is None
    for value in (flt.since, flt.until):
        assert value is None or value.astimezone(UTC)
    assert query.after is None or 0 < query.after <= BIGINT_MAX
    assert 1 <= query.limit <= 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@inputs(3000, text | json_values.map(lambda v: _b64(dumps({"before": v}))) | json_soup.map(
    lambda s: _b64(s.encode("utf-8", "surrogatepass"))))
def test_case_cursor_on_any_text(cursor: str) -> None:
    after = raises_only_hotline_errors(_cursor_decode, cursor)
    assert after is None or 0 < after <= BIGINT_MAX


# --- the admin API's bodies and paths --------------------------------------------------------------

ADMIN_MODELS: list[type[BaseModel]] = [admin.UnitIn, admin.UnitPatch, admin.RuleIn, admin.PolicyIn,
                                       admin.OverrideIn, admin.PreviewIn]
ADMIN_KEYS = tuple(sorted({name for model in ADMIN_MODELS for name in model.model_fields}))
admin_values = st.one_of(json_values, st.sampled_from(["agency", "trees", "urgent", "24x7", "business", "so-xay-dung"]),
                         st.integers(-2000, 2000), st.lists(text, max_size=3))


def _check_row(values: dict[str, Any]) -> None:
    assert_storable(values)
    for value in values.values():
        if isinstance(value, int) and not isinstance(value, bool):
            assert -INT_MAX - 1 <= value <= INT_MAX  # the admin tables' integers are int4


def _admin_body(model: type[BaseModel], data: dict[str, Any]) -> None:
    data = loads_json(dumps(data))  # as read_json gives it
    body = parse_body(model, data)
    values = body.model_dump(exclude_unset=model is admin.UnitPatch)
    if model is admin.UnitPatch:
        admin._no_nulls(values, nullable={"notes"})
    _check_row(values)


def _admin_patch(model: type[BaseModel], data: dict[str, Any]) -> None:
    _check_row(admin._partial(model, loads_json(dumps(data))))


@mixes(7000, st.sampled_from(ADMIN_MODELS), Mix(ADMIN_KEYS, admin_values))
def test_admin_bodies_on_any_document(model: type[BaseModel], data: dict[str, Any]) -> None:
    raises_only_hotline_errors(_admin_body, model, data)


@mixes(3000, st.sampled_from([admin.RuleIn, admin.PolicyIn]), Mix(ADMIN_KEYS, admin_values))
def test_admin_partial_updates_on_any_document(model: type[BaseModel], data: dict[str, Any]) -> None:
    raises_only_hotline_errors(_admin_patch, model, data)


@inputs(3000, text | st.integers().map(str))
def test_admin_paths_on_any_text(raw: str) -> None:
    for parse in (admin.unit_code, admin.calendar_day, admin.row_id):
        value = raises_only_hotline_errors(parse, raw)
        if isinstance(value, int):
            assert 0 <= value <= INT_MAX
        elif isinstance(value, str):
            assert unstorable(value) is None
