"""Duplicates across channels: is a new case another report of an open incident nearby?

The decision is pure and works on plain values (field, distance, hours apart, two texts). The one
function that touches the database, `find_duplicate`, has routing.store read at most a hundred
candidates with one index-backed query (`candidate_query` shows which) and hands them to `best_match`;
linking, confirming and undoing links, and telling the reporters belong to casework.

The rule, per field (`FIELD_RULES`):
  * gates: same field; the candidate is open, not itself linked to another case, and opened within
    the field's time window before the new case; within the field's distance, or in the same ward
    when either case has no point;
  * addresses (`compare`): the house or alley numbers each text places on a street (`street_addresses`;
    for the candidate also the address it was filed with). Both naming the same door is strong evidence
    even when the words differ: closeness counts as 1, the similarity is that of the rest of the texts
    (the problem itself, so one door with two problems does not read alike) and ADDRESS_BONUS is added.
    Both naming doors on a street, none of them the same or next door, subtracts ADDRESS_PENALTY;
  * score = TEXT_WEIGHT * similarity + (1 - TEXT_WEIGHT) * (closeness + freshness) / 2 (± the above), where
    closeness = 1 - distance / max distance (WARD_CLOSENESS for a same-ward match without a point),
    freshness = 1 - hours apart / window hours and similarity is `text_similarity`, all in [0, 1];
  * a likely duplicate when score >= THRESHOLD; the best score wins (the older case on a tie).
TEXT_WEIGHT and THRESHOLD are the tuned numbers: the middle of the region of a coarse grid (weight
0.6–0.9 by 0.05, threshold 0.45–0.65 by 0.025) where precision >= 0.9 and recall >= 0.85 on the
labelled pairs in tests/routing/duplicate_pairs.jsonl; the tests also refit them on half the pairs
and check the other half. ADDRESS_BONUS and ADDRESS_PENALTY came from a grid too (bonus 0–0.3 by 0.05,
penalty 0–0.3 by 0.1 or a veto) over those pairs and the paraphrases in duplicate_pairs_paraphrases.jsonl:
the pair whose region of precision >= 0.9 and recall >= 0.9 has the unchanged weight and threshold in
its middle.
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
from typing import NamedTuple

import asyncpg

import kernel.cases
from kernel.text import fold_chars as fold
from routing import store

OPEN_STATUSES = kernel.cases.OPEN_STATUSES

TEXT_WEIGHT = 0.75
THRESHOLD = 0.55
ADDRESS_BONUS = 0.15  # both name the same house number on the same street
ADDRESS_PENALTY = 0.3  # both name a house on a street, and no two of them are one door or next door
WARD_CLOSENESS = 0.5  # a same-ward match counts as halfway to the distance limit


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

_WORD = re.compile(r"\w+")

# SMS shorthand and southern/northern word pairs, after folding, so "cup dien" meets "mất điện", and the
# words of an English report that name the incident, so "power outage" meets "mất điện" too.
# Folded forms with two meanings are left alone: "be" (bể, bé), "nga" (ngã, ngã tư), "vo" (vỡ, vô); with
# diacritics "bể" is read as "vỡ" before folding (`_MARKED_ALIASES`).
_ALIASES = {
    "ko": "khong", "k": "khong", "kg": "khong", "hok": "khong",
    "dc": "duoc", "nc": "nuoc", "ng": "nguoi", "dg": "duong",
    "hu": "hong", "cup": "mat", "lut": "ngap", "rot": "roi",
    "st": "street", "streets": "street",
    "power": "dien", "electricity": "dien", "electric": "dien", "outage": "mat", "outages": "mat",
    "blackout": "mat dien", "water": "nuoc", "tree": "cay", "trees": "cay", "branch": "nhanh",
    "branches": "nhanh", "fell": "do", "fallen": "do", "pothole": "o ga", "potholes": "o ga",
    "light": "den", "lights": "den", "lamp": "den", "lamps": "den", "streetlight": "den duong",
    "streetlights": "den duong", "garbage": "rac", "trash": "rac", "rubbish": "rac", "flood": "ngap",
    "flooded": "ngap", "flooding": "ngap", "manhole": "ho ga", "pipe": "ong", "pipes": "ong", "burst": "vo",
    "broken": "hong", "noise": "on ao", "noisy": "on ao", "loud": "lon", "music": "nhac", "fight": "danh nhau",
    "fighting": "danh nhau", "theft": "trom", "stolen": "trom", "sidewalk": "via he", "pavement": "via he",
    "cable": "cap", "cables": "cap", "wire": "day", "wires": "day", "pole": "cot", "smell": "mui",
    "smells": "mui", "stink": "mui", "stinks": "mui", "leak": "ro ri", "leaking": "ro ri",
}
_MARKED_ALIASES = {"bể": "vỡ"}
# Southern "cây ngã" is "cây đổ", but "ngã tư" (a crossroads) stays; "bể ống" is "vỡ ống" with or without
# diacritics, where "be" alone may be "bé"; "no power" is "mất điện", where "no" alone may be "nổ".
_CROSSROADS = frozenset("tu ba nam sau bay 3 4 5 6 7".split())
# Words that carry no incident: courtesy, pronouns, address scaffolding, function words.
_STOPWORDS = frozenset(
    "kinh gui xin cam on de nghi mong som giup dum nho vui long tran trong a oi nhe da alo "
    "toi chung em anh chi ban minh nguoi dan ben "
    "cua va voi thi ma la cac nhung mot nay kia bi duoc o tai co rat qua lam roi nua cung ra "
    "duong so hem phuong quan khu vuc pho tp hcm 1022 tong dai "
    "the an is are was were of on in at to and or by for it its this that there near my we i "
    "has have been be please street".split()
)


@lru_cache(maxsize=65_536)
def _fold_word(word: str) -> str:
    return fold(word)


def _in_context(word: str, before: str, after: str) -> str:
    if word == "nga" and after not in _CROSSROADS:
        return "do"
    if word == "be" and "ong" in (before, after):
        return "vo"
    if word == "no" and after in ("dien", "nuoc"):
        return "mat"  # "no power", "no water"
    return word


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
    marked = (_MARKED_ALIASES.get(w, w) for w in _WORD.findall(unicodedata.normalize("NFC", text.lower())))
    folded = list(chain.from_iterable(_ALIASES.get(w, w).split() for w in map(_fold_word, marked)))
    words = [w for w in map(_in_context, folded, [""] + folded, folded[1:] + [""]) if w not in _STOPWORDS]
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
# Street addresses
# --------------------------------------------------------------------------------------------------
# Two reports that name the same house number on the same street are about the same door, however
# differently they word the problem. People write an address in many ways ("số 45 Lê Thánh Tôn",
# "45 le thanh ton", "Lê Thánh Tôn đoạn số 45", "No. 45 Le Thanh Ton St", "hẻm 12 đường số 3"), so
# the street is read next to the number: forwards from "45", or backwards from "số 45". Without a
# street list the end of a name is guessed: a capitalised name ends at the first word that is not (an
# exact reading); a name written in one case ends where the complaint starts ("mất", "bị", "ngập") or
# the place goes on ("phường", "quận"). An exact reading on one side is also looked for, word for word,
# next to the same number on the other side, so "27 nguyen dinh chieu" meets "27 Nguyễn Đình Chiểu"
# although "chieu" also reads "chiều" (afternoon). Word lists keep their diacritics, so "Lạc Long
# Quân" does not end at "quận" nor "Âu Cơ" at "có"; their folded forms apply to text typed without
# diacritics. A street that cannot be told apart is not read: no address is better than a wrong one.


@dataclass(frozen=True, slots=True)
class StreetAddress:
    """A house (or alley) number, the street read next to it, and the words around it, all folded."""

    number: str  # "45", "45/2", "12a"; an alley's is "hem 45"
    street: tuple[str, ...]  # ("le", "thanh", "ton"); ("so", "7") for "đường số 7"; () when not read
    exact: bool  # the street was written capitalised, so where it ends is known
    label: str  # "45 Lê Thánh Tôn", "hẻm 45 đường số 7": for the explanation
    span: tuple[int, int]  # where the address is written, as offsets in the NFC text
    after: tuple[str, ...] = ()  # the words after the number (a street marker skipped), up to punctuation
    before: tuple[str, ...] = ()  # the words before "số 45" (position words skipped), up to punctuation


@dataclass(frozen=True, slots=True)
class _Words:
    marked: frozenset[str]
    folded: frozenset[str]

    @classmethod
    def of(cls, words: str) -> _Words:
        split = words.split()
        return cls(frozenset(split), frozenset(fold(w) for w in split))


class _Token(NamedTuple):  # a tuple: texts are tokenised often, and a frozen dataclass is slower to build
    folded: str  # "" for punctuation, which ends a phrase
    text: str
    lower: str
    capital: bool
    start: int
    end: int

    def among(self, words: _Words) -> bool:
        return self.lower in words.marked if not self.lower.isascii() else self.folded in words.folded


_ADDRESS_TOKEN = re.compile(r"[\w/]+|[^\w\s]")
_HOUSE_NUMBER = re.compile(r"\d+[a-z]?(?:/\d+[a-z]?)*")
_SHORT_UNIT = re.compile(r"[pqf]\d+")  # "P5", "Q1", "F5": a ward or district written short
_MAX_STREET_WORDS = 5

_HOUSE_MARKERS = _Words.of("số sn nhà no number #")
_ALLEY_MARKERS = _Words.of("hẻm ngõ ngách alley")  # not "kiệt": Lý Thường Kiệt
_STREET_MARKERS = _Words.of("đường đ dg phố")  # before a name: "đường Lê Lợi", "đ. Lê Lợi"
_STREET_SUFFIXES = _Words.of("street st road rd avenue ave")  # after one: "Le Loi St"
_ABBREVIATIONS = _Words.of("đ dg p q tp st rd no sn f kp tx ave")  # "đ. Lê Lợi": the dot goes with it
# Between a street and "số 45": "Lê Thánh Tôn đoạn số 45", "Pasteur gần số 118".
_POSITION_WORDS = _Words.of("đoạn khúc trước gần ngay tại ở cạnh phía sau at near outside opposite by in front of")
# A number after these counts a ward, a floor, a bus route: no house.
_NOT_HOUSE_AFTER = _Words.of("phường p quận q kp tổ ấp tầng lầu lô block phòng căn tuyến buýt bus route xe ward "
                             "district khu")
# Where a name ends whatever the case: the ward, district and city that follow it, or another address.
_PLACE_WORDS = _Words.of(
    "phường p quận q tp huyện xã tỉnh kp ấp ward district city hcm hcmc tphcm chợ số sn nhà no number "
    "đường đ dg phố street st road rd avenue ave hẻm ngõ ngách alley")
# Where a name written in one case ends: the complaint starts. Syllables common in street names
# ("điện" of Điện Biên Phủ, "tháng" of Cách Mạng Tháng Tám, "tân", "hòa") are not here.
_COMPLAINT_WORDS = _Words.of(
    "mất cúp bị không ko k kg hok đang đã từ lúc rồi này sáng chiều tối đêm hôm qua ngày giờ phút tiếng tuần "
    "h m km mét cm cả cây đèn ngập lụt vỡ bể hư hỏng nghẹt tắc kẹt cháy nổ ồn hát karaoke loa rác mùi hôi "
    "thối xe người cột dây ống nắp ga cọc nghiêng sập ngã đổ đứt sụt lún nứt trôi tràn rò rỉ yếu chập chờn "
    "ở tại gần trước đoạn và với thì mà là có rất làm nữa cũng để hộ lần cái chiếc con nước điện "
    "and no power water since is has was were are outage out off light lights lamp tree fell flooded "
    "flooding flood blackout burst pipe leak leaking broken the at on in near from for all day morning "
    "night today yesterday still again causing making with")
# Short forms of long names, as people text them.
_STREET_ALIASES = {
    ("cmt8",): ("cach", "mang", "thang", "tam"),
    ("cach", "mang", "thang", "8"): ("cach", "mang", "thang", "tam"),
    ("ntmk",): ("nguyen", "thi", "minh", "khai"),
    ("nkkn",): ("nam", "ky", "khoi", "nghia"),
    ("dbp",): ("dien", "bien", "phu"),
    ("xvnt",): ("xo", "viet", "nghe", "tinh"),
    ("hbt",): ("hai", "ba", "trung"),
    ("3/2",): ("ba", "thang", "hai"),
    ("30/4",): ("ba", "muoi", "thang", "tu"),
}
_NEXT_DOOR = 4  # house numbers this close are neighbours (the same side goes by twos): "gần số 118" of 120


def _address_tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for m in _ADDRESS_TOKEN.finditer(text):
        raw = m.group().strip("/")
        if raw == "#" or raw[:1].isalnum():
            tokens.append(_Token(_fold_word(raw), raw, raw.lower(), raw[0].isupper(), m.start(), m.end()))
        elif not (raw == "." and tokens and tokens[-1].among(_ABBREVIATIONS)):
            tokens.append(_Token("", m.group(), "", False, m.start(), m.end()))
    return tokens


def _name_run(tokens: list[_Token], start: int, step: int, cased: bool) -> tuple[list[int], bool]:
    """Return the indices of a street name read from `start` in direction `step` (±1), and whether exact."""
    run: list[int] = []
    capitalised = False
    i = start
    while 0 <= i < len(tokens) and len(run) < _MAX_STREET_WORDS:
        t = tokens[i]
        if not t.folded or t.among(_PLACE_WORDS) or _SHORT_UNIT.fullmatch(t.folded):
            break
        month = step > 0 and t.folded.isdigit() and bool(run) and tokens[run[-1]].folded == "thang"
        if _HOUSE_NUMBER.fullmatch(t.folded) and not month:
            break  # a number ends a name, but for a month's ("Cách Mạng Tháng 8")
        if not run:
            capitalised = cased and t.capital
        if (not t.capital and not month) if capitalised else t.among(_COMPLAINT_WORDS):
            break
        run.append(i)
        i += step
    if step < 0:
        run.reverse()
    if not capitalised and len(run) < 2 and tuple(tokens[j].folded for j in run) not in _STREET_ALIASES:
        return [], False  # one lower-case word is too weak a sign of a street
    return run, capitalised


@dataclass(frozen=True, slots=True)
class _Street:
    words: tuple[str, ...]
    exact: bool
    label: str
    first: int  # token indices
    last: int


def _street(tokens: list[_Token], run: list[int], exact: bool) -> _Street | None:
    if not run:
        return None
    words = tuple(tokens[j].folded for j in run)
    label = " ".join(tokens[j].text for j in run)
    if label.islower():
        label = label.title()
    return _Street(_STREET_ALIASES.get(words, words), exact, label, run[0], run[-1])


def _street_after(tokens: list[_Token], j: int, cased: bool) -> _Street | None:
    """Read the street after a house number: "Lê Lợi", "đường Lê Lợi", "đường số 7", "đường 3/2"."""
    if j < len(tokens) and tokens[j].among(_STREET_MARKERS):
        j += 1
        if j + 1 < len(tokens) and tokens[j].folded == "so" and tokens[j + 1].folded.isdigit():
            return _Street(("so", tokens[j + 1].folded), True, f"đường số {tokens[j + 1].text}", j, j + 1)
        if j < len(tokens) and _HOUSE_NUMBER.fullmatch(tokens[j].folded):
            words = (tokens[j].folded,)
            return _Street(_STREET_ALIASES.get(words, words), True, f"đường {tokens[j].text}", j, j)
    return _street(tokens, *_name_run(tokens, j, 1, cased))


def _street_before(tokens: list[_Token], j: int, cased: bool) -> _Street | None:
    """Read the street before "số 45": "Lê Thánh Tôn đoạn số 45", "đường Pasteur gần số 118"."""
    run, exact = _name_run(tokens, j, -1, cased)
    if len(run) == 1 and not (run[0] and tokens[run[0] - 1].among(_STREET_MARKERS)):
        return None  # a lone word before "số" is as likely the complaint's last word as a street
    return _street(tokens, run, exact)


def _counts_something_else(before: _Token | None, before2: _Token | None) -> bool:
    """Say whether a number after these words counts something else than houses on a street."""
    if before is None:
        return False
    if before.among(_NOT_HOUSE_AFTER):
        return True  # "phường 5", "tầng 3"
    return before2 is not None and (
        before.among(_HOUSE_MARKERS) and before2.among(_NOT_HOUSE_AFTER)  # "xe buýt số 19"
        or before.folded == "pho" and before2.folded == "khu"  # "khu phố 4"
        or before.folded == "so" and before2.among(_STREET_MARKERS))  # "đường số 7" is a street


def _context(tokens: list[_Token], j: int, step: int) -> tuple[str, ...]:
    words: list[str] = []
    while 0 <= j < len(tokens) and tokens[j].folded and len(words) <= _MAX_STREET_WORDS:
        if step < 0 and tokens[j].among(_STREET_MARKERS):
            break
        words.append(tokens[j].folded)
        j += step
    return tuple(reversed(words)) if step < 0 else tuple(words)


@lru_cache(maxsize=16_384)
def street_addresses(text: str) -> tuple[StreetAddress, ...]:
    """Return the house and alley numbers in a text, each with the street read next to it if any."""
    if not any(c.isdigit() for c in text):
        return ()
    text = unicodedata.normalize("NFC", text)
    tokens = _address_tokens(text)
    cased = any(c.isupper() for c in text) and any(c.islower() for c in text)
    found: list[StreetAddress] = []
    for i, t in enumerate(tokens):
        if not _HOUSE_NUMBER.fullmatch(t.folded):
            continue
        before = tokens[i - 1] if i else None
        before2 = tokens[i - 2] if i > 1 else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if _counts_something_else(before, before2):
            continue
        if after is not None and (after.folded == "thang" or after.among(_ALLEY_MARKERS)):
            continue  # "3 tháng nay" is a date; in "số 12 hẻm 30" the alley is what places it
        alley = before is not None and before.among(_ALLEY_MARKERS)
        house = before is not None and before.among(_HOUSE_MARKERS)
        # Forwards past "đường" ("45 đường Lê Lợi", "số 45, đường Lê Lợi"); backwards from the house
        # marker past "nhà" of "số nhà 45", the position words and "street," of "Le Loi street, no 45".
        k = i + 1
        if k + 1 < len(tokens) and tokens[k].text == "," and tokens[k + 1].among(_STREET_MARKERS):
            k += 1
        street = _street_after(tokens, k, cased)
        if k < len(tokens) and tokens[k].among(_STREET_MARKERS):
            k += 1
        j = i - 2 if house else i - 1
        if house and j >= 0 and {tokens[j].folded, tokens[j + 1].folded} == {"so", "nha"}:
            j -= 1
        while j >= 0 and (tokens[j].among(_POSITION_WORDS) or tokens[j].among(_STREET_SUFFIXES)
                          or tokens[j].text == "," and j and tokens[j - 1].among(_STREET_SUFFIXES)):
            j -= 1
        first, last = (i - 1 if alley else i), (street.last if street else i)
        if street is None and house and not alley:
            street = _street_before(tokens, j, cased)
            first = street.first if street else i
            last = i
        while first and any(tokens[first - 1].among(w) for w in (_POSITION_WORDS, _HOUSE_MARKERS, _STREET_MARKERS)):
            first -= 1  # "trước nhà số 45": the words that place it go with the address
        number, shown = (f"hem {t.folded}", f"{tokens[i - 1].lower} {t.text}") if alley else (t.folded, t.text)
        found.append(StreetAddress(
            number, street.words if street else (), street.exact if street else False,
            f"{shown} {street.label}" if street else shown, (tokens[first].start, tokens[last].end),
            after=_context(tokens, k, 1), before=_context(tokens, j, -1) if house and not alley else (),
        ))
    return tuple(found)


def same_street(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Say whether two folded street names are one, allowing one read with a word too many."""
    if not a or not b:
        return False
    if a == b:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    n = len(short)
    return n >= 3 and (long[:n] == short or long[-n:] == short)


def _written_next_to(exact: StreetAddress, other: StreetAddress) -> bool:
    """Say whether an exactly read street stands next to the other text's number, word for word."""
    n = len(exact.street)
    return exact.exact and n > 0 and (other.after[:n] == exact.street or other.before[-n:] == exact.street)


def same_address(x: StreetAddress, y: StreetAddress) -> bool:
    """Say whether two addresses are one door: the same number on the same street."""
    return x.number == y.number and (
        same_street(x.street, y.street) or _written_next_to(x, y) or _written_next_to(y, x))


def _numbers(address: StreetAddress) -> set[int]:
    return {int(n) for n in re.findall(r"\d+", address.number)}


def next_door(x: StreetAddress, y: StreetAddress) -> bool:
    """Say whether two addresses on one street are neighbours or share a part ("33/10" and "hẻm 10")."""
    return same_street(x.street, y.street) and any(
        abs(m - n) <= _NEXT_DOOR for m in _numbers(x) for n in _numbers(y))


@dataclass(frozen=True, slots=True)
class AddressMatch:
    """How the addresses two reports name compare: one door, different doors, or nothing to compare."""

    shared: tuple[StreetAddress, StreetAddress] | None  # the door both name, as each writes it
    different: bool  # both name doors on a street, and no two of them are the same or next door

    @property
    def label(self) -> str:
        """Return the shared address as best written: read exactly, with diacritics, the longer name."""
        if self.shared is None:
            return ""
        return max(self.shared, key=lambda s: (s.exact, not s.label.isascii(), len(s.street))).label


NO_ADDRESS = AddressMatch(None, False)


def match_addresses(a: tuple[StreetAddress, ...], b: tuple[StreetAddress, ...]) -> AddressMatch:
    """Compare the addresses two reports name."""
    for x in a:
        for y in b:
            if same_address(x, y):
                return AddressMatch((x, y), False)
    read_a, read_b = [x for x in a if x.street], [y for y in b if y.street]
    if not read_a or not read_b or any(next_door(x, y) for x in read_a for y in read_b):
        return NO_ADDRESS
    return AddressMatch(None, True)


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


@dataclass(frozen=True, slots=True)
class Comparison:
    """What two reports' words say: how alike they read, and how the addresses they name compare."""

    similarity: float  # of the whole texts, or of the rest when both name one address
    address: AddressMatch


def _without(text: str, address: StreetAddress) -> str:
    start, end = address.span
    text = unicodedata.normalize("NFC", text)
    return f"{text[:start]} {text[end:]}"


def compare(a: str, b: str, *, b_address: str | None = None) -> Comparison:
    """Compare two reports; `b_address` is the address the second was filed with, if any.

    When both name one address, the address no longer tells the two apart: the similarity is that of
    the rest, the problem itself, so a power cut and a wasps' nest at the same door do not read alike.
    """
    in_b = street_addresses(b)
    match = match_addresses(street_addresses(a), in_b + (street_addresses(b_address) if b_address else ()))
    if match.shared is None:
        return Comparison(text_similarity(a, b), match)
    mine, theirs = match.shared
    rest_b = _without(b, theirs) if any(theirs is x for x in in_b) else b
    return Comparison(text_similarity(_without(a, mine), rest_b), match)


def score(rule: FieldRule, *, similarity: float, distance_m: float | None, hours_apart: float,
          address: AddressMatch = NO_ADDRESS, text_weight: float = TEXT_WEIGHT) -> float:
    """Combine text similarity, closeness, freshness and the addresses named into one number in [0, 1]."""
    if address.shared is not None:
        closeness = 1.0  # the same door, however far apart the points (a ward's label point, a rough pin)
    elif distance_m is None:
        closeness = WARD_CLOSENESS
    else:
        closeness = max(0.0, 1.0 - distance_m / rule.max_distance_m)
    freshness = max(0.0, 1.0 - abs(hours_apart) / rule.window_hours)
    value = text_weight * similarity + (1.0 - text_weight) * (closeness + freshness) / 2
    if address.shared is not None:
        value += ADDRESS_BONUS
    elif address.different:
        value -= ADDRESS_PENALTY
    return min(1.0, max(0.0, value))


def decide(field: str | None, *, similarity: float, distance_m: float | None, hours_apart: float,
           same_ward: bool, address: AddressMatch = NO_ADDRESS) -> bool:
    """Say whether two reports of a field are likely the same incident (distance None: no point)."""
    rule = rule_for(field)
    if rule is None or not within_gates(rule, distance_m=distance_m, hours_apart=hours_apart, same_ward=same_ward):
        return False
    return score(rule, similarity=similarity, distance_m=distance_m, hours_apart=hours_apart,
                 address=address) >= THRESHOLD


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
    address: str | None = None  # as filed (the web form's "where it happened"), read for its street address


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    parent_id: int
    distance_m: float | None  # None: matched by ward, one of the cases has no point
    similarity: float
    score: float
    explanation_vi: str
    explanation_en: str
    address: str | None = None  # the street address both reports name, as best written

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
             value: float, address: str | None) -> tuple[str, str]:
    name_vi, name_en = FIELD_NAMES.get(field, (field, field))
    where_vi = "cùng phường/xã" if distance_m is None else f"cách {distance_m:.0f} m"
    where_en = "same ward" if distance_m is None else f"{distance_m:.0f} m away"
    text_vi, text_en = f"nội dung giống {similarity:.0%}", f"text {similarity:.0%} alike"
    if address:
        where_vi, where_en = f"cùng địa chỉ {address} ({where_vi})", f"same address {address} ({where_en})"
        text_vi = f"nội dung ngoài địa chỉ giống {similarity:.0%}"
        text_en = f"text besides the address {similarity:.0%} alike"
    ago_vi, ago_en = _ago(hours)
    strong = value >= THRESHOLD + 0.2
    vi = (f"{'Trùng khả năng cao' if strong else 'Có thể trùng'} với hồ sơ #{parent_id}: cùng lĩnh vực {name_vi}, "
          f"{where_vi}, phản ánh trước đó {ago_vi}, {text_vi}")
    en = (f"{'Likely' if strong else 'Possible'} duplicate of case #{parent_id}: same field ({name_en}), "
          f"{where_en}, reported {ago_en} earlier, {text_en}")
    return vi, en


def best_match(report: Report, candidates: Iterable[Candidate]) -> DuplicateMatch | None:
    """Return the best-scoring candidate that passes the gates and the threshold, or None."""
    rule = rule_for(report.field)
    if rule is None:
        return None
    best: tuple[float, int, float | None, Comparison, float] | None = None
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
        found = compare(report.text, c.text, b_address=c.address)
        value = score(rule, similarity=found.similarity, distance_m=distance, hours_apart=hours,
                      address=found.address)
        if value >= THRESHOLD and (best is None or (value, -c.case_id) > (best[0], -best[1])):
            best = (value, c.case_id, distance, found, hours)
    if best is None:
        return None
    value, parent_id, distance, found, hours = best
    address = found.address.label or None
    vi, en = _explain(report.field or "", parent_id, distance, hours, found.similarity, value, address)
    return DuplicateMatch(parent_id=parent_id, distance_m=distance, similarity=round(found.similarity, 3),
                          score=round(value, 3), explanation_vi=vi, explanation_en=en, address=address)


# --------------------------------------------------------------------------------------------------
# The candidate search: which one, with which arguments; routing.store runs it (the only I/O here).
# --------------------------------------------------------------------------------------------------


def bounding_box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    """Return (lon1, lat1, lon2, lat2) of a box that holds the circle of `metres` around the point."""
    dlat = metres / 111_000  # a degree of latitude is at least 110.5 km: the box errs on the large side
    dlon = metres / (111_000 * max(0.01, math.cos(math.radians(lat))))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def candidate_query(report: Report, rule: FieldRule) -> tuple[str, list[object]] | None:
    """Return the SQL and arguments `find_duplicate` has the store run, or None when nothing can match."""
    field, since, before = report.field, report.opened_at - rule.window, (report.opened_at, report.case_id)
    if report.lat is not None and report.lon is not None:
        box = bounding_box(report.lat, report.lon, rule.max_distance_m)
        return store.duplicates_near_query(field, since, before, box, report.ward_code)
    if report.ward_code:
        return store.duplicates_in_ward_query(field, since, before, report.ward_code)
    return None


async def find_duplicate(conn: asyncpg.Connection | asyncpg.Pool, *, case_id: int, field: str | None,
                         lat: float | None, lon: float | None, ward_code: str | None, text: str,
                         opened_at: datetime) -> DuplicateMatch | None:
    """Return the open incident this case most likely reports again, or None."""
    report = Report(case_id=case_id, field=field, lat=lat, lon=lon, ward_code=ward_code, text=text,
                    opened_at=opened_at)
    rule = rule_for(field)
    if rule is None:
        return None
    since, before = opened_at - rule.window, (opened_at, case_id)
    if lat is not None and lon is not None:
        box = bounding_box(lat, lon, rule.max_distance_m)
        rows = await store.duplicate_candidates_near(conn, field, since, before, box, ward_code)
    elif ward_code:
        rows = await store.duplicate_candidates_in_ward(conn, field, since, before, ward_code)
    else:
        return None
    return best_match(report, (
        Candidate(case_id=r["id"], lat=r["lat"], lon=r["lon"], ward_code=r["ward_code"], text=r["description"],
                  opened_at=r["created_at"], address=r["address"])
        for r in rows
    ))
