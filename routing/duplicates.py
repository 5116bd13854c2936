"""Duplicates across channels: is a new case another report of an open incident nearby?

The decision is pure and works on plain values (field, distance, hours apart, two texts). The one
function that touches the database, `find_duplicate`, fetches at most a hundred candidates with one
index-backed query (`candidate_query`) and hands them to `best_match`; linking, confirming and undoing
links, and telling the reporters belong to casework.

The rule, per field (`FIELD_RULES`):
  * gates: same field; the candidate is open, not itself linked to another case, and opened within
    the field's time window before the new case; within the field's distance, or in the same ward
    when either case has no point;
  * score = TEXT_WEIGHT * similarity + (1 - TEXT_WEIGHT) * (closeness + freshness) / 2, where
    closeness = 1 - distance / max distance (WARD_CLOSENESS for a same-ward match without a point),
    freshness = 1 - hours apart / window hours and similarity is `text_similarity`, all in [0, 1];
  * a likely duplicate when score >= THRESHOLD; the best score wins (the older case on a tie).
TEXT_WEIGHT and THRESHOLD are the only tuned numbers: the middle of the region of a coarse grid (weight
0.6–0.9 by 0.05, threshold 0.45–0.65 by 0.025) where precision >= 0.9 and recall >= 0.85 on the
labelled pairs in tests/routing/duplicate_pairs.jsonl; the tests also refit them on half the pairs
and check the other half.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import chain

import asyncpg

OPEN_STATUSES = ("received", "triage", "forwarded", "in_progress", "reopened")

TEXT_WEIGHT = 0.75
THRESHOLD = 0.55
WARD_CLOSENESS = 0.5  # a same-ward match counts as halfway to the distance limit
CANDIDATE_LIMIT = 50
WARD_SCAN_LIMIT = 200


@dataclass(frozen=True, slots=True)
class FieldRule:
    max_distance_m: float
    window: timedelta

    @property
    def window_hours(self) -> float:
        return self.window.total_seconds() / 3600


# Point incidents (a tree, a flooded street, a dark lamp) draw several reports from passers-by; the
# window is how long the same incident keeps drawing them. Lasting faults (lamps, potholes, dumping)
# get a week, events (a fallen tree, an outage, a fight) a few days or one. None: never linked
# automatically, because each report is a person's own matter (their file, their treatment).
FIELD_RULES: dict[str, FieldRule | None] = {
    "trees": FieldRule(200, timedelta(days=3)),
    "electricity": FieldRule(200, timedelta(days=2)),
    "drainage_flooding": FieldRule(200, timedelta(days=3)),
    "public_lighting": FieldRule(200, timedelta(days=7)),
    "urban_infrastructure": FieldRule(200, timedelta(days=7)),
    "traffic": FieldRule(200, timedelta(days=3)),
    "water_supply": FieldRule(300, timedelta(days=3)),  # a main break or an outage spans a few streets
    "telecom": FieldRule(200, timedelta(days=3)),
    "environment": FieldRule(300, timedelta(days=7)),  # a dump or a canal smells from afar
    "noise": FieldRule(100, timedelta(days=3)),  # the next karaoke bar is another source
    "urban_order": FieldRule(100, timedelta(days=7)),  # encroachment and building work are per address
    "security": FieldRule(100, timedelta(days=1)),
    "public_transport": FieldRule(100, timedelta(days=2)),  # a stop or a station; route complaints have no point
    "admin_procedures": None,
    "health": None,
}
DEFAULT_RULE = FieldRule(150, timedelta(days=2))

FIELD_NAMES: dict[str, tuple[str, str]] = {
    "admin_procedures": ("hành chính công", "public administrative services"),
    "urban_infrastructure": ("hạ tầng đô thị", "urban infrastructure"),
    "traffic": ("giao thông", "traffic"),
    "public_transport": ("vận tải hành khách công cộng", "public transport"),
    "water_supply": ("cấp nước", "water supply"),
    "drainage_flooding": ("thoát nước – ngập nước", "drainage and flooding"),
    "public_lighting": ("chiếu sáng công cộng", "public lighting"),
    "trees": ("cây xanh", "trees"),
    "electricity": ("điện lực", "electricity"),
    "telecom": ("viễn thông", "telecommunications"),
    "urban_order": ("trật tự đô thị", "urban order"),
    "environment": ("môi trường", "environment"),
    "noise": ("tiếng ồn", "noise"),
    "security": ("an ninh trật tự", "security"),
    "health": ("y tế", "health"),
}


def rule_for(field: str | None) -> FieldRule | None:
    """Return the field's rule, the default for an unknown field, None when the field is never linked."""
    if not field:
        return None
    return FIELD_RULES.get(field, DEFAULT_RULE)


# --------------------------------------------------------------------------------------------------
# Text similarity
# --------------------------------------------------------------------------------------------------

_COMBINING = re.compile(r"[\u0300-\u036f]")
_WORD = re.compile(r"\w+")

# SMS shorthand and southern/northern word pairs, after folding, so "cup dien" meets "mất điện".
# Folded forms with two meanings are left alone: "be" (bể, bé), "nga" (ngã, ngã tư), "vo" (vỡ, vô).
_ALIASES = {
    "ko": "khong", "k": "khong", "kg": "khong", "hok": "khong",
    "dc": "duoc", "nc": "nuoc", "ng": "nguoi", "dg": "duong",
    "hu": "hong", "cup": "mat", "lut": "ngap", "rot": "roi",
    "st": "street", "streets": "street", "lights": "light", "lamps": "lamp",
}
# Words that carry no incident: courtesy, pronouns, address scaffolding, function words.
_STOPWORDS = frozenset(
    "kinh gui xin cam on de nghi mong som giup dum nho vui long tran trong a oi nhe da alo "
    "toi chung em anh chi ban minh nguoi dan ben "
    "cua va voi thi ma la cac nhung mot nay kia bi duoc o tai co rat qua lam roi nua cung ra "
    "duong so hem phuong quan khu vuc pho tp hcm 1022 tong dai "
    "the an is are was were of on in at to and or by for it its this that there near my we i "
    "has have been be please street".split()
)


def fold(text: str) -> str:
    """Lower-case and strip diacritics (đ → d)."""
    return _COMBINING.sub("", unicodedata.normalize("NFD", text.lower().replace("đ", "d")))


@dataclass(frozen=True, slots=True)
class TextFeatures:
    words: frozenset[str]
    grams: Counter[str]
    norm: float


@lru_cache(maxsize=65_536)
def _word_grams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    return tuple(padded[i:i + 3] for i in range(len(padded) - 2))


# Cached because an open case is compared again with every new report nearby.
@lru_cache(maxsize=16_384)
def text_features(text: str) -> TextFeatures:
    """Fold, split into words (aliases applied, stop words dropped) and count padded letter trigrams."""
    words = [w for w in (_ALIASES.get(w, w) for w in _WORD.findall(fold(text))) if w not in _STOPWORDS]
    grams = Counter(chain.from_iterable(map(_word_grams, words)))
    return TextFeatures(frozenset(words), grams, math.sqrt(sum(c * c for c in grams.values())))


def features_similarity(a: TextFeatures, b: TextFeatures) -> float:
    """Blend word Jaccard (order-free) with trigram cosine (typo- and inflection-tolerant), half each."""
    if not a.words or not b.words:
        return 0.0
    jaccard = len(a.words & b.words) / len(a.words | b.words)
    small, large = (a.grams, b.grams) if len(a.grams) <= len(b.grams) else (b.grams, a.grams)
    dot = sum(c * large.get(g, 0) for g, c in small.items())
    cosine = dot / (a.norm * b.norm)
    return 0.5 * jaccard + 0.5 * cosine


def text_similarity(a: str, b: str) -> float:
    """Return how alike two reports read, in [0, 1], with or without diacritics."""
    return features_similarity(text_features(a), text_features(b))


# --------------------------------------------------------------------------------------------------
# Distance, score, decision
# --------------------------------------------------------------------------------------------------

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def within_gates(rule: FieldRule, *, distance_m: float | None, hours_apart: float, same_ward: bool) -> bool:
    """Say whether a pair is near enough in space and time to be compared at all."""
    if abs(hours_apart) > rule.window_hours:
        return False
    if distance_m is None:
        return same_ward
    return distance_m <= rule.max_distance_m


def score(rule: FieldRule, *, similarity: float, distance_m: float | None, hours_apart: float) -> float:
    """Combine text similarity, closeness and freshness into one number in [0, 1]."""
    if distance_m is None:
        closeness = WARD_CLOSENESS
    else:
        closeness = max(0.0, 1.0 - distance_m / rule.max_distance_m)
    freshness = max(0.0, 1.0 - abs(hours_apart) / rule.window_hours)
    return TEXT_WEIGHT * similarity + (1.0 - TEXT_WEIGHT) * (closeness + freshness) / 2


def decide(field: str | None, *, similarity: float, distance_m: float | None, hours_apart: float,
           same_ward: bool) -> bool:
    """Say whether two reports of a field are likely the same incident (distance None: no point)."""
    rule = rule_for(field)
    if rule is None or not within_gates(rule, distance_m=distance_m, hours_apart=hours_apart, same_ward=same_ward):
        return False
    return score(rule, similarity=similarity, distance_m=distance_m, hours_apart=hours_apart) >= THRESHOLD


@dataclass(frozen=True, slots=True)
class Report:
    """The new case, as the duplicate check sees it."""

    case_id: int
    field: str | None
    lat: float | None
    lon: float | None
    ward_code: str | None
    text: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open case that may be the incident the new case reports again."""

    case_id: int
    lat: float | None
    lon: float | None
    ward_code: str | None
    text: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    parent_id: int
    distance_m: float | None  # None: matched by ward, one of the cases has no point
    similarity: float
    score: float
    explanation_vi: str
    explanation_en: str

    @property
    def explanation(self) -> str:
        return f"{self.explanation_vi} / {self.explanation_en}"


def _ago(hours: float) -> tuple[str, str]:
    if hours < 1:
        return f"{hours * 60:.0f} phút", f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.0f} giờ", f"{hours:.0f} h"
    return f"{hours / 24:.0f} ngày", f"{hours / 24:.0f} days"


def _explain(field: str, parent_id: int, distance_m: float | None, hours: float, similarity: float,
             value: float) -> tuple[str, str]:
    name_vi, name_en = FIELD_NAMES.get(field, (field, field))
    where_vi = "cùng phường/xã" if distance_m is None else f"cách {distance_m:.0f} m"
    where_en = "same ward" if distance_m is None else f"{distance_m:.0f} m away"
    ago_vi, ago_en = _ago(hours)
    strong = value >= THRESHOLD + 0.2
    vi = (f"{'Trùng khả năng cao' if strong else 'Có thể trùng'} với hồ sơ #{parent_id}: cùng lĩnh vực {name_vi}, "
          f"{where_vi}, phản ánh trước đó {ago_vi}, nội dung giống {similarity:.0%}")
    en = (f"{'Likely' if strong else 'Possible'} duplicate of case #{parent_id}: same field ({name_en}), "
          f"{where_en}, reported {ago_en} earlier, text {similarity:.0%} alike")
    return vi, en


def best_match(report: Report, candidates: Iterable[Candidate]) -> DuplicateMatch | None:
    """Return the best-scoring candidate that passes the gates and the threshold, or None."""
    rule = rule_for(report.field)
    if rule is None:
        return None
    mine = text_features(report.text)
    best: tuple[float, int, float | None, float, float] | None = None
    for c in candidates:
        if c.case_id == report.case_id:
            continue
        distance: float | None = None
        if report.lat is not None and report.lon is not None and c.lat is not None and c.lon is not None:
            distance = haversine_m(report.lat, report.lon, c.lat, c.lon)
        hours = (report.opened_at - c.opened_at).total_seconds() / 3600
        same_ward = report.ward_code is not None and report.ward_code == c.ward_code
        if not within_gates(rule, distance_m=distance, hours_apart=hours, same_ward=same_ward):
            continue
        similarity = features_similarity(mine, text_features(c.text))
        value = score(rule, similarity=similarity, distance_m=distance, hours_apart=hours)
        if value >= THRESHOLD and (best is None or (value, -c.case_id) > (best[0], -best[1])):
            best = (value, c.case_id, distance, similarity, hours)
    if best is None:
        return None
    value, parent_id, distance, similarity, hours = best
    vi, en = _explain(report.field or "", parent_id, distance, hours, similarity, value)
    return DuplicateMatch(parent_id=parent_id, distance_m=distance, similarity=round(similarity, 3),
                          score=round(value, 3), explanation_vi=vi, explanation_en=en)


# --------------------------------------------------------------------------------------------------
# The candidate query: the only I/O in routing.
# --------------------------------------------------------------------------------------------------

# The status list and `point(lon, lat)` must stay literally those of the partial indexes
# cases_open_point and cases_open_ward (0003_routing.sql), or the planner cannot use them.
_OPEN = "status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened')"
_COLUMNS = "id, lat, lon, ward_code, description, created_at"
_RECENT = "duplicate_of IS NULL AND created_at >= $2 AND (created_at, id) < ($3, $4)"


def _ward_branch(ward_param: str, extra: str = "") -> str:
    # A ward can hold thousands of open cases of a field, old ones included (a backlog); walking
    # cases_open_ward newest first (ids grow with time) and stopping after WARD_SCAN_LIMIT rows keeps
    # the cost bounded whatever the backlog.
    return f"""
SELECT {_COLUMNS} FROM (
    SELECT {_COLUMNS}, duplicate_of FROM cases
     WHERE field = $1 AND ward_code = {ward_param} AND {_OPEN}
     ORDER BY id DESC LIMIT {WARD_SCAN_LIMIT}) recent
 WHERE {_RECENT}{extra}
 ORDER BY id DESC LIMIT {CANDIDATE_LIMIT}"""


# Near the point; plus, in the same ward, open cases that have no point of their own.
POINT_SQL = f"""
(SELECT {_COLUMNS} FROM cases
  WHERE lat IS NOT NULL AND {_OPEN} AND point(lon, lat) <@ box(point($5, $6), point($7, $8))
    AND field = $1 AND {_RECENT}
  ORDER BY created_at DESC LIMIT {CANDIDATE_LIMIT})
UNION ALL
({_ward_branch("$9", " AND lat IS NULL")})
"""
WARD_SQL = _ward_branch("$5")


def bounding_box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    """Return (lon1, lat1, lon2, lat2) of a box that holds the circle of `metres` around the point."""
    dlat = metres / 111_000  # a degree of latitude is at least 110.5 km: the box errs on the large side
    dlon = metres / (111_000 * max(0.01, math.cos(math.radians(lat))))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def candidate_query(report: Report, rule: FieldRule) -> tuple[str, list[object]] | None:
    """Return the SQL and arguments that fetch the report's candidates, or None when nothing can match."""
    common: list[object] = [report.field, report.opened_at - rule.window, report.opened_at, report.case_id]
    if report.lat is not None and report.lon is not None:
        return POINT_SQL, [*common, *bounding_box(report.lat, report.lon, rule.max_distance_m), report.ward_code]
    if report.ward_code:
        return WARD_SQL, [*common, report.ward_code]
    return None


async def find_duplicate(conn: asyncpg.Connection | asyncpg.Pool, *, case_id: int, field: str | None,
                         lat: float | None, lon: float | None, ward_code: str | None, text: str,
                         opened_at: datetime) -> DuplicateMatch | None:
    """Return the open incident this case most likely reports again, or None."""
    report = Report(case_id=case_id, field=field, lat=lat, lon=lon, ward_code=ward_code, text=text,
                    opened_at=opened_at)
    rule = rule_for(field)
    query = candidate_query(report, rule) if rule is not None else None
    if query is None:
        return None
    sql, args = query
    rows = await conn.fetch(sql, *args)
    return best_match(report, (
        Candidate(case_id=r["id"], lat=r["lat"], lon=r["lon"], ward_code=r["ward_code"], text=r["description"],
                  opened_at=r["created_at"])
        for r in rows
    ))
