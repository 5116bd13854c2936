"""Duplicate detection: the decision on labelled pairs, the candidate query on a real database, its plan."""

from __future__ import annotations

import itertools
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from routing import duplicates as dup
from routing.duplicates import (
    FIELD_RULES,
    POINT_SQL,
    Candidate,
    Report,
    best_match,
    candidate_query,
    decide,
    find_duplicate,
    haversine_m,
    rule_for,
    score,
    text_similarity,
    within_gates,
)

PAIRS = [json.loads(line) for line in (Path(__file__).parent / "duplicate_pairs.jsonl").read_text("utf-8").splitlines()
         if line.strip()]
FIELDS = {"admin_procedures", "urban_infrastructure", "traffic", "public_transport", "water_supply",
          "drainage_flooding", "public_lighting", "trees", "electricity", "telecom", "urban_order", "environment",
          "noise", "security", "health"}
NOW = datetime(2025, 9, 15, 8, 0, tzinfo=UTC)
# Near the Opera House, District 1: 0.0009° of latitude is about 100 m.
LAT, LON = 10.7769, 106.7032
M_LAT = 1 / 111_195
M_LON = 1 / (111_195 * 0.98225)  # cos(10.777°)


# --------------------------------------------------------------------------------------------------
# Pure parts
# --------------------------------------------------------------------------------------------------


def confusion(pairs: list[dict], text_weight: float = dup.TEXT_WEIGHT, threshold: float = dup.THRESHOLD,
              ) -> tuple[int, int, int, int]:
    tp = fp = fn = tn = 0
    for p in pairs:
        rule = rule_for(p["field"])
        predicted = False
        if rule is not None and within_gates(rule, distance_m=p["distance_m"], hours_apart=p["hours_apart"],
                                             same_ward=p["same_ward"]):
            similarity = text_similarity(p["a"], p["b"])
            closeness = dup.WARD_CLOSENESS if p["distance_m"] is None else 1 - p["distance_m"] / rule.max_distance_m
            freshness = 1 - p["hours_apart"] / rule.window_hours
            value = text_weight * similarity + (1 - text_weight) * (closeness + freshness) / 2
            predicted = value >= threshold
        if predicted and p["duplicate"]:
            tp += 1
        elif predicted:
            fp += 1
        elif p["duplicate"]:
            fn += 1
        else:
            tn += 1
    return tp, fp, fn, tn


def test_labelled_pairs_are_well_formed():
    assert len(PAIRS) >= 120
    keys = {"a", "b", "field", "distance_m", "hours_apart", "same_ward", "duplicate"}
    for p in PAIRS:
        assert set(p) == keys, p
        assert p["field"] in FIELDS
    assert 0.35 < sum(p["duplicate"] for p in PAIRS) / len(PAIRS) < 0.65


def test_decision_on_labelled_pairs_reaches_precision_and_recall():
    tp, fp, fn, tn = 0, 0, 0, 0
    for p in PAIRS:
        predicted = decide(p["field"], similarity=text_similarity(p["a"], p["b"]), distance_m=p["distance_m"],
                           hours_apart=p["hours_apart"], same_ward=p["same_ward"])
        tp += predicted and p["duplicate"]
        fp += predicted and not p["duplicate"]
        fn += not predicted and p["duplicate"]
        tn += not predicted and not p["duplicate"]
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"\nlabelled pairs: {len(PAIRS)}  tp={tp} fp={fp} fn={fn} tn={tn}  "
          f"precision={precision:.3f} recall={recall:.3f}")
    assert (tp, fp, fn, tn) == confusion(PAIRS)  # the test's own arithmetic agrees with decide()
    assert precision >= 0.9
    assert recall >= 0.85


def test_two_parameters_refitted_on_half_the_pairs_hold_on_the_other_half():
    """Guard against overfitting: refit the two numbers on a coarse grid per fold, score the held-out half."""
    grid = [(w / 100, t / 1000) for w in range(60, 91, 5) for t in range(450, 651, 25)]
    order = list(range(len(PAIRS)))
    random.Random(1022).shuffle(order)
    for fold in range(2):
        held = {i for n, i in enumerate(order) if n % 2 == fold}
        train = [p for i, p in enumerate(PAIRS) if i not in held]
        test = [p for i, p in enumerate(PAIRS) if i in held]

        def f1(c: tuple[int, int, int, int]) -> float:
            tp, fp, fn, _ = c
            return 2 * tp / (2 * tp + fp + fn)

        weight, threshold = max(grid, key=lambda g: f1(confusion(train, *g)))
        held_out = confusion(test, weight, threshold)
        print(f"\nfold {fold}: fitted text_weight={weight} threshold={threshold}  held-out confusion={held_out} "
              f"f1={f1(held_out):.3f}")
        assert f1(held_out) >= 0.8


@pytest.mark.parametrize(("a", "b"), [
    ("Cây đổ chắn ngang đường Pasteur", "cay do chan ngang duong pasteur"),
    ("Đường Nguyễn Hữu Cảnh ngập sâu", "ngập sâu đường Nguyễn Hữu Cảnh"),
    ("Đèn đường hẻm 212 Âu Cơ không sáng", "den duong hem 212 au co ko sang"),
])
def test_text_similarity_ignores_diacritics_word_order_and_shorthand(a, b):
    assert text_similarity(a, b) > 0.95


def test_text_similarity_tolerates_typos_and_separates_topics():
    typo = text_similarity("Cây đổ chắn ngang đường Pasteur gần số 120", "cay do chan ngang duong Pastuer gan so 120")
    assert typo > 0.75
    assert text_similarity("Cây đổ chắn đường Pasteur", "Mất điện khu Thảo Điền") < 0.1
    assert text_similarity("", "Cây đổ") == 0.0
    assert text_similarity("Cây đổ", "Cây đổ") == pytest.approx(1.0)


def test_text_similarity_is_fast():
    a = "Kính gửi Tổng đài 1022. Hiện cây sao trước số nhà 256 đường Nam Kỳ Khởi Nghĩa có thân bị nứt lớn."
    b = "cây sao 256 Nam Kỳ Khởi Nghĩa nứt thân, nghiêng vô nhà"
    features = dup.text_features.__wrapped__  # uncached: every report is new text
    start = time.perf_counter()
    for _ in range(2000):
        dup.features_similarity(features(a), features(b))
    per_call_us = (time.perf_counter() - start) / 2000 * 1e6
    print(f"\ntext_similarity: {per_call_us:.1f} µs per pair")
    assert per_call_us < 500  # generous for a loaded CI machine; about 30 µs on a laptop


def test_haversine_m():
    assert haversine_m(LAT, LON, LAT, LON) == 0
    assert haversine_m(LAT, LON, LAT + 100 * M_LAT, LON) == pytest.approx(100, rel=0.01)
    assert haversine_m(LAT, LON, LAT, LON + 100 * M_LON) == pytest.approx(100, rel=0.01)
    # Bến Thành market to Tân Sơn Nhất airport, about 6.4 km
    assert haversine_m(10.7725, 106.6980, 10.8185, 106.6588) == pytest.approx(6_640, rel=0.03)


def test_score_and_gates():
    trees = rule_for("trees")
    assert trees is not None and trees.max_distance_m == 200
    assert score(trees, similarity=1, distance_m=0, hours_apart=0) == pytest.approx(1)
    assert score(trees, similarity=0, distance_m=200, hours_apart=72) == pytest.approx(0)
    assert not within_gates(trees, distance_m=201, hours_apart=1, same_ward=True)
    assert not within_gates(trees, distance_m=10, hours_apart=73, same_ward=True)
    assert within_gates(trees, distance_m=None, hours_apart=1, same_ward=True)
    assert not within_gates(trees, distance_m=None, hours_apart=1, same_ward=False)
    assert rule_for("admin_procedures") is None and rule_for(None) is None
    assert rule_for("other") == dup.DEFAULT_RULE
    assert FIELD_RULES["noise"].max_distance_m == 100  # type: ignore[union-attr]
    assert not decide("health", similarity=1, distance_m=0, hours_apart=0, same_ward=True)


def test_best_match_prefers_the_higher_score_and_explains_itself():
    report = Report(case_id=10, field="trees", lat=LAT, lon=LON, ward_code="26734",
                    text="Cây đổ chắn ngang đường Pasteur trước số 120", opened_at=NOW)
    near = Candidate(case_id=3, lat=LAT + 40 * M_LAT, lon=LON, ward_code="26734",
                     text="cay do ngang duong pasteur so 120, ket xe", opened_at=NOW - timedelta(hours=2))
    other = Candidate(case_id=4, lat=LAT, lon=LON, ward_code="26734", text="Cây xanh cần cắt tỉa trên Lê Duẩn",
                      opened_at=NOW - timedelta(hours=1))
    match = best_match(report, [other, near])
    assert match is not None and match.parent_id == 3
    assert match.distance_m == pytest.approx(40, abs=1)
    assert "hồ sơ #3" in match.explanation_vi and "cây xanh" in match.explanation_vi
    assert "cách 40 m" in match.explanation_vi
    assert "case #3" in match.explanation_en and "40 m away" in match.explanation_en
    assert best_match(report, [other]) is None


def test_candidate_query_box_holds_the_circle():
    report = Report(case_id=1, field="trees", lat=LAT, lon=LON, ward_code=None, text="x", opened_at=NOW)
    sql, args = candidate_query(report, rule_for("trees"))  # type: ignore[arg-type,misc]
    lon1, lat1, lon2, lat2 = args[4:8]
    assert sql == POINT_SQL
    assert haversine_m(LAT, LON, LAT, lon1) >= 200 and haversine_m(LAT, LON, lat2, LON) >= 200
    assert haversine_m(LAT, LON, LAT, lon2) < 210
    assert candidate_query(Report(1, "trees", None, None, None, "x", NOW), rule_for("trees")) is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# On PostgreSQL
# --------------------------------------------------------------------------------------------------

_codes = itertools.count(1_000_000_000)


async def insert_case(pool: asyncpg.Pool, *, text: str, field: str | None = "trees", lat: float | None = LAT,
                      lon: float | None = LON, ward_code: str | None = "26734", status: str = "received",
                      created_at: datetime = NOW - timedelta(hours=2), duplicate_of: int | None = None) -> int:
    return await pool.fetchval(
        "INSERT INTO cases (tracking_code, channel, description, search_text, field, lat, lon, ward_code, status,"
        " created_at, duplicate_of) VALUES ($1, 'sms', $2, lower($2), $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        str(next(_codes)), text, field, lat, lon, ward_code, status, created_at, duplicate_of,
    )


UNSTORED = 10**12  # a report that is not in the table
NEW_TEXT = "cay do ngang duong pasteur gan so 118, ket xe qua troi"
OLD_TEXT = "Cây xanh trước số 120 Pasteur bị đổ chắn ngang đường, xe không qua được"


async def check(pool: asyncpg.Pool, *, lat: float | None = LAT + 30 * M_LAT, lon: float | None = LON,
                ward_code: str | None = "26734", field: str = "trees", text: str = NEW_TEXT, case_id: int | None = None,
                opened_at: datetime = NOW):
    if case_id is None:
        case_id = await insert_case(pool, text=text, field=field, lat=lat, lon=lon, ward_code=ward_code,
                                    created_at=opened_at)
    async with pool.acquire() as conn:
        return await find_duplicate(conn, case_id=case_id, field=field, lat=lat, lon=lon, ward_code=ward_code,
                                    text=text, opened_at=opened_at)


async def test_finds_the_nearby_open_case_of_the_same_field(pool):
    parent = await insert_case(pool, text=OLD_TEXT, status="in_progress")
    match = await check(pool)
    assert match is not None
    assert match.parent_id == parent
    assert match.distance_m == pytest.approx(30, abs=1)
    assert match.score >= dup.THRESHOLD
    assert f"#{parent}" in match.explanation_vi


@pytest.mark.parametrize("status", ["answered", "closed", "rejected", "duplicate"])
async def test_ignores_cases_that_are_not_open(pool, status):
    await insert_case(pool, text=OLD_TEXT, status=status)
    assert await check(pool) is None


async def test_ignores_other_fields_far_points_and_old_cases(pool):
    await insert_case(pool, text=OLD_TEXT, field="electricity")
    await insert_case(pool, text=OLD_TEXT, lat=LAT + 500 * M_LAT)
    # Inside the bounding box but outside the 200 m circle: 190 m north and 190 m east is 269 m away.
    await insert_case(pool, text=OLD_TEXT, lat=LAT + 30 * M_LAT + 190 * M_LAT, lon=LON + 190 * M_LON)
    await insert_case(pool, text=OLD_TEXT, created_at=NOW - timedelta(days=4))
    assert await check(pool) is None


async def test_ignores_the_case_itself_and_later_cases(pool):
    first = await insert_case(pool, text=OLD_TEXT)
    await insert_case(pool, text=NEW_TEXT, lat=LAT + 30 * M_LAT, created_at=NOW)
    assert await check(pool, case_id=first, lat=LAT, text=OLD_TEXT, opened_at=NOW - timedelta(hours=2)) is None


async def test_links_to_the_incident_never_to_one_of_its_duplicates(pool):
    parent = await insert_case(pool, text="Cây đổ chắn ngang đường Pasteur, xe không qua được",
                               created_at=NOW - timedelta(hours=5))
    # The child reads exactly like the new report, but it is already linked to the parent.
    await insert_case(pool, text=NEW_TEXT, status="received", duplicate_of=parent)
    await insert_case(pool, text=NEW_TEXT, status="duplicate", duplicate_of=parent)
    match = await check(pool)
    assert match is not None and match.parent_id == parent


# Without a point the text has to carry more of the decision.
WARD_TEXT = "Cây đổ chắn ngang đường Pasteur trước số 118, xe không qua được"


async def test_matches_by_ward_when_there_is_no_point(pool):
    parent = await insert_case(pool, text=OLD_TEXT, lat=None, lon=None)
    await insert_case(pool, text=OLD_TEXT, lat=None, lon=None, ward_code="27007")
    match = await check(pool, lat=None, lon=None, text=WARD_TEXT)
    assert match is not None and match.parent_id == parent and match.distance_m is None
    assert "cùng phường/xã" in match.explanation_vi


async def test_a_report_with_a_point_meets_an_open_case_without_one_in_its_ward(pool):
    parent = await insert_case(pool, text=OLD_TEXT, lat=None, lon=None)
    match = await check(pool, text=WARD_TEXT, case_id=UNSTORED)
    assert match is not None and match.parent_id == parent and match.distance_m is None
    assert await check(pool, ward_code="27007", text=WARD_TEXT, case_id=UNSTORED) is None


async def test_ward_only_report_needs_a_ward(pool):
    await insert_case(pool, text=OLD_TEXT, lat=None, lon=None)
    assert await check(pool, lat=None, lon=None, ward_code=None, text=WARD_TEXT) is None


async def test_fields_never_linked_are_not_queried(pool):
    await insert_case(pool, text="Hồ sơ sổ hồng trễ hẹn", field="admin_procedures")
    assert await check(pool, field="admin_procedures", text="Hồ sơ sổ hồng trễ hẹn") is None


async def test_candidate_queries_use_the_partial_indexes(pool):
    # 30,000 cases around the city, most open, so that a sequential scan is clearly the worse plan.
    await pool.execute(
        """
        INSERT INTO cases (tracking_code, channel, description, search_text, field, lat, lon, ward_code, status,
                           created_at)
        SELECT 'x' || g, 'sms', 'cay do', 'cay do',
               (ARRAY['trees','traffic','noise','electricity','environment'])[1 + g % 5],
               10.35 + random() * 0.85, 106.35 + random() * 0.7, (26700 + g % 168)::text,
               CASE WHEN g % 10 = 0 THEN 'closed' ELSE 'received' END,
               now() - random() * interval '30 days'
          FROM generate_series(1, 30000) g
        """
    )
    await pool.execute("ANALYZE cases")
    plans = {}
    async with pool.acquire() as conn:
        for name, report in {
            "point": Report(0, "trees", LAT, LON, "26734", "x", datetime.now(UTC)),
            "ward": Report(0, "trees", None, None, "26734", "x", datetime.now(UTC)),
        }.items():
            sql, args = candidate_query(report, rule_for("trees"))  # type: ignore[arg-type,misc]
            rows = await conn.fetch("EXPLAIN " + sql, *args)
            plans[name] = "\n".join(r[0] for r in rows)
    print("\n" + "\n\n".join(plans.values()))
    assert "cases_open_point" in plans["point"]
    assert "cases_open_ward" in plans["point"]  # the branch for open cases of the ward that have no point
    assert "cases_open_ward" in plans["ward"]
    assert "Seq Scan" not in plans["point"] and "Seq Scan" not in plans["ward"]
