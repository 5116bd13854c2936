"""Split a Vietnamese address as people write it into house number, alley, street, ward, district and city.

Pure: no gazetteer, no I/O. Markers ("phường", "P.", "F", "Q.", "H.", "TP", "TX", "xã", "hẻm", "số"...) open
a part; the rest of the part runs to the next marker or separator, so the order does not matter and commas
are optional ("P5Q3", "phuong ben nghe quan 1"). Without diacritics a marker word can also be part of a
name ("Chợ Quán", "Bình Dương", "Nguyễn Tri Phương"); the bigrams below keep those names whole. Pieces with
no marker are left in `unlabeled` for the gazetteer, which knows the names. English forms count too: "Ward 6,
District 3" (markers before the name) and "Thu Duc City", "Binh Thanh District", "An Phu Ward" (after it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from .models import AddressParts
from .text import FOLD_TABLE, accent, clean

WARD, DISTRICT, CITY, STREET, HOUSE, ALLEY, SUB = "ward", "district", "city", "street", "house", "alley", "sub"


@dataclass(frozen=True, slots=True)
class _Marker:
    role: str
    unit_type: str | None
    accents: frozenset[str]  # how the marker is spelled with diacritics; a word with other diacritics is a name
    needs_number: bool = False  # "số", "tổ", "hẻm", "kiệt" count only before a number
    needs_dot: bool = False  # "X.", "Ph.", "D." count only as abbreviations


def _m(role: str, unit_type: str | None, *accents: str, number: bool = False, dot: bool = False) -> _Marker:
    return _Marker(role, unit_type, frozenset(accents), number, dot)


_MARKERS: dict[tuple[str, ...], _Marker] = {
    ("phuong",): _m(WARD, "phuong", "phường"),
    ("p",): _m(WARD, "phuong"),
    ("f",): _m(WARD, "phuong"),
    ("ph",): _m(WARD, "phuong", dot=True),
    ("xa",): _m(WARD, "xa", "xã"),
    ("x",): _m(WARD, "xa", dot=True),
    ("thi", "tran"): _m(WARD, "thi tran", "thị trấn"),
    ("tt",): _m(WARD, "thi tran"),
    ("dac", "khu"): _m(WARD, "dac khu", "đặc khu"),
    ("quan",): _m(DISTRICT, "quan", "quận"),
    ("q",): _m(DISTRICT, "quan"),
    ("huyen",): _m(DISTRICT, "huyen", "huyện"),
    ("h",): _m(DISTRICT, "huyen"),
    ("thi", "xa"): _m(DISTRICT, "thi xa", "thị xã"),
    ("tx",): _m(DISTRICT, "thi xa"),
    ("thanh", "pho"): _m(DISTRICT, "thanh pho", "thành phố"),
    ("tp",): _m(DISTRICT, "thanh pho"),
    ("t", "p"): _m(DISTRICT, "thanh pho"),
    ("district",): _m(DISTRICT, "quan"),
    ("ward",): _m(WARD, "phuong"),
    ("tinh",): _m(CITY, "tinh", "tỉnh"),
    ("duong",): _m(STREET, None, "đường"),
    ("d",): _m(STREET, None, "đ", dot=True),
    ("so",): _m(HOUSE, None, "số", number=True),
    ("so", "nha"): _m(HOUSE, None, "số nhà", number=True),
    ("sn",): _m(HOUSE, None, number=True),
    ("hem",): _m(ALLEY, None, "hẻm", number=True),
    ("hxh",): _m(ALLEY, None, number=True),
    ("hem", "xe", "hoi"): _m(ALLEY, None, "hẻm xe hơi", number=True),
    ("ngo",): _m(ALLEY, None, "ngõ", number=True),
    ("kiet",): _m(ALLEY, None, "kiệt", number=True),
    ("ngach",): _m(ALLEY, None, "ngách", number=True),
    ("khu", "pho"): _m(SUB, None, "khu phố"),
    ("kp",): _m(SUB, None),
    ("to",): _m(SUB, None, "tổ", number=True),
    ("to", "dan", "pho"): _m(SUB, None, "tổ dân phố"),
    ("tdp",): _m(SUB, None),
    ("ap",): _m(SUB, None, "ấp"),
}
_MAX_MARKER_WORDS = max(len(k) for k in _MARKERS)
_FIRST_WORDS = frozenset(k[0] for k in _MARKERS)

# Names of units and of common streets in which a marker word is a syllable: inside such a run of words it
# is part of the name. Most differ from the marker by their diacritics, but not all ("Phước Tỉnh", "Bà Huyện
# Thanh Quan"), so runs are matched folded. tests/.../test_parser.py checks every unit name in the data.
_NAME_RUNS = (
    ("cho", "quan"), ("binh", "duong"), ("phuoc", "tinh"), ("xa", "bang"),
    ("lac", "long", "quan"), ("ba", "huyen", "thanh", "quan"), ("nguyen", "tri", "phuong"),
    ("kinh", "duong", "vuong"), ("an", "duong", "vuong"), ("xo", "viet", "nghe", "tinh"), ("xa", "lo"),
    ("tinh", "lo"), ("huyen", "tran", "cong", "chua"), ("vo", "van", "kiet"), ("ngo", "gia", "tu"),
    ("ngo", "quyen"), ("to", "hien", "thanh"),
)
_RUNS_BY_WORD: dict[str, list[tuple[tuple[str, ...], int]]] = {}
for _run in _NAME_RUNS:
    for _at, _word in enumerate(_run):
        _RUNS_BY_WORD.setdefault(_word, []).append((_run, _at))

_CITY_KEYS: dict[str, str] = {
    **dict.fromkeys(
        ("hcm", "tphcm", "hcmc", "tphcmc", "hochiminh", "tphochiminh", "thanhphohochiminh", "hochiminhcity",
         "hochiminhvietnam", "saigon", "tpsaigon", "sg", "tpsg", "sgn"), "79"),
    **dict.fromkeys(("binhduong", "tinhbinhduong"), "74"),
    **dict.fromkeys(("bariavungtau", "tinhbariavungtau", "brvt", "bariavt"), "77"),
}
_COUNTRY_KEYS = frozenset({"vietnam", "vn", "vietnamese", "socialistrepublicofvietnam"})
# English unit words written after the name ("Thu Duc City"); no Vietnamese syllable folds to one of them.
_SUFFIXES = {"city": (DISTRICT, "thanh pho"), "district": (DISTRICT, "quan"), "ward": (WARD, "phuong")}

_DISTRICT_ABBREVIATIONS = {
    "bt": "Bình Thạnh", "tb": "Tân Bình", "tp": "Tân Phú", "pn": "Phú Nhuận", "gv": "Gò Vấp", "btan": "Bình Tân",
    "td": "Thủ Đức", "cc": "Củ Chi", "hm": "Hóc Môn", "bc": "Bình Chánh", "nb": "Nhà Bè", "cg": "Cần Giờ",
    "tdm": "Thủ Dầu Một",
}
_STREET_ABBREVIATIONS = {
    "cmt8": "Cách Mạng Tháng 8", "cmtt": "Cách Mạng Tháng Tám", "nkkn": "Nam Kỳ Khởi Nghĩa",
    "ntmk": "Nguyễn Thị Minh Khai", "xvnt": "Xô Viết Nghệ Tĩnh", "dbp": "Điện Biên Phủ", "hbt": "Hai Bà Trưng",
    "ndc": "Nguyễn Đình Chiểu", "pvd": "Phạm Văn Đồng", "ltk": "Lý Thường Kiệt", "nvl": "Nguyễn Văn Linh",
    "3/2": "3 Tháng 2", "32": "3 Tháng 2",
}

_NUM = r"\d+(?:[a-z](?![a-z0-9]))?"
_TOKEN = re.compile(rf"(?P<num>{_NUM}(?:[/-]{_NUM})*)|(?P<word>[a-z]+)(?P<dot>\.)?|(?P<sep>[,;:\n\r\t|()\[\]{{}}<>]+)")


def _case_classes() -> tuple[str, str]:
    chars = [chr(c) for c in list(range(0x41, 0x5B)) + list(range(0x61, 0x7B)) + list(range(0xC0, 0x250))
             + list(range(0x1E00, 0x1F00))]
    lower = "".join(c for c in chars if c.islower())
    upper = "".join(c for c in chars if c.isupper())
    return re.escape(lower), re.escape(upper)


_LOWER, _UPPER = _case_classes()
_CAMEL = re.compile(rf"(?<=[{_LOWER}])(?=[{_UPPER}])")


class _Token(NamedTuple):
    kind: str  # "num", "word", "sep"
    fold: str
    acc: str
    start: int
    end: int
    dotted: bool


@dataclass(slots=True)
class _Segment:
    role: str | None
    unit_type: str | None
    tokens: list[_Token]
    after: str | None = None  # the role of the marked part this piece continues (no separator between)
    before: str | None = None  # the role of the marked part that directly follows it


def _tokenize(text: str) -> tuple[str, list[_Token], frozenset[int]]:
    """Return the text as shown (camel case split), its tokens, and where a camel-case split made a word start."""
    shown = clean(text)
    glued: frozenset[int] = frozenset()
    if not (shown.islower() or shown.isupper()):
        glued = frozenset(m.start() + k for k, m in enumerate(_CAMEL.finditer(shown), start=1))
        if glued:
            shown = _CAMEL.sub(" ", shown)
    low = shown.lower()
    if len(low) != len(shown):  # a character whose lower case is two ("İ"): keep positions aligned
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in shown)
    folded = low if low.isascii() else low.translate(FOLD_TABLE)
    tokens = []
    for m in _TOKEN.finditer(folded):
        num, word, dot, _ = m.groups()
        start = m.start()
        if num is not None:
            end = start + len(num)
            tokens.append(_Token("num", num, low[start:end], start, end, False))
        elif word is not None:
            end = start + len(word)
            tokens.append(_Token("word", word, low[start:end], start, end, dot is not None))
        else:
            tokens.append(_Token("sep", "", "", start, m.end(), False))
    return shown, tokens, glued


def _marker_at(tokens: list[_Token], i: int, glued: frozenset[int]) -> tuple[_Marker, int] | None:
    for n in range(min(_MAX_MARKER_WORDS, len(tokens) - i), 0, -1):
        words = tokens[i:i + n]
        if any(t.kind != "word" for t in words):
            continue
        spec = _MARKERS.get(tuple(t.fold for t in words))
        if spec is None:
            continue
        if n == 1 and len(tokens[i].fold) == 1 and i + 1 < len(tokens) and tokens[i + 1].start in glued:
            continue  # "Bìn hHòa": a letter stuck to the next word is a typo, not "H." for huyện
        if _is_marker(tokens, i, n, spec):
            return spec, n
    return None


def _is_marker(tokens: list[_Token], i: int, n: int, spec: _Marker) -> bool:
    words = tokens[i:i + n]
    folded = " ".join(t.fold for t in words)
    spelled = accent(" ".join(t.acc for t in words))
    nxt = tokens[i + n] if i + n < len(tokens) else None
    if nxt is None or nxt.kind == "sep":
        return False  # a marker names something that follows it
    if _in_name_run(tokens, i):
        return False
    if spelled != folded:
        if spelled not in spec.accents:
            return False  # "Quán", "Dương", "Xà": diacritics that are not the marker's
    elif spec.needs_dot and not words[-1].dotted:
        return False
    return not spec.needs_number or nxt.kind == "num"


def _in_name_run(tokens: list[_Token], i: int) -> bool:
    for run, at in _RUNS_BY_WORD.get(tokens[i].fold, ()):
        start = i - at
        if start >= 0 and start + len(run) <= len(tokens) and all(
                tokens[start + k].fold == word for k, word in enumerate(run)):
            return True
    return False


def _segments(tokens: list[_Token], glued: frozenset[int]) -> list[_Segment]:
    segments: list[_Segment] = []
    current: _Segment | None = None
    i, name_next = 0, False
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "sep":
            current, name_next = None, False
            i += 1
            continue
        found = None if name_next or token.fold not in _FIRST_WORDS else _marker_at(tokens, i, glued)
        if found is not None:
            spec, n = found
            if current is not None and current.role is None:
                current.before = spec.role
            previous_role = current.role if current is not None else None
            current = _Segment(spec.role, spec.unit_type, [], after=previous_role)
            segments.append(current)
            i += n
            name_next = True
            continue
        name_next = False
        if current is not None and current.role in (WARD, DISTRICT, HOUSE, ALLEY, SUB) and current.tokens \
                and current.tokens[0].kind == "num":
            # "Phường 5 Nguyễn Trãi", "hẻm 42/7 Lê Văn Sỹ": a number closes the part; the rest is new.
            current = _Segment(None, None, [], after=current.role)
            segments.append(current)
        elif current is not None and current.role in (WARD, DISTRICT, CITY) and current.tokens \
                and token.kind == "num":
            # "Phường Hoà Bình 493 Nguyễn Trãi": no unit name has a number after words; a house number starts.
            current = _Segment(None, None, [], after=current.role)
            segments.append(current)
        elif current is None:
            current = _Segment(None, None, [])
            segments.append(current)
        current.tokens.append(token)
        i += 1
    return [s for s in segments if s.tokens]


def _text(shown: str, tokens: list[_Token]) -> str:
    return shown[tokens[0].start:tokens[-1].end].strip(" .-/")


def _number(token: _Token) -> str:
    return str(int(token.fold)) if token.fold.isdigit() else token.acc.upper()


def _key(tokens: list[_Token]) -> str:
    return "".join(t.fold for t in tokens)


def _street(shown: str, tokens: list[_Token]) -> str:
    return _STREET_ABBREVIATIONS.get(_key(tokens)) or _text(shown, tokens)


def _suffixed(toks: list[_Token]) -> tuple[str, str] | None:
    """Return the role and unit type an English word after a name gives it ("Thu Duc City")."""
    if len(toks) > 1 and toks[-1].kind == "word" and toks[-2].kind == "word":
        return _SUFFIXES.get(toks[-1].fold)
    return None


def _names_city(seg: _Segment) -> bool:
    key = _key(seg.tokens)
    return seg.role == CITY or (seg.role in (None, DISTRICT) and seg.unit_type in (None, "thanh pho")
                                and key in _CITY_KEYS)


@lru_cache(maxsize=8192)
def parse_address(text: str) -> AddressParts:
    """Split an address into its parts; every part is optional and nothing is looked up."""
    shown, tokens, glued = _tokenize(text)
    found: dict[str, str] = {}
    types: dict[str, str | None] = {}
    unlabeled: list[str] = []
    province: str | None = None
    segments = _segments(tokens, glued)
    first_place = next((k for k, s in enumerate(segments) if s.role in (WARD, DISTRICT, CITY)), len(segments))

    def put(role: str, value: str, unit_type: str | None = None) -> bool:
        if role in found or not value:
            return False
        found[role] = value
        types[role] = unit_type
        return True

    for k, seg in enumerate(segments):
        toks = seg.tokens
        key = _key(toks)
        if seg.role in (WARD, DISTRICT):
            suffix = _suffixed(toks)
            if suffix is not None and suffix[0] == seg.role:
                toks = toks[:-1]  # "TP. Thủ Đức City": the marker already says it
                key = _key(toks)
            if toks[0].kind == "num":
                value = _number(toks[0])
            elif seg.role == DISTRICT and len(toks) == 1 and key in _DISTRICT_ABBREVIATIONS:
                value = _DISTRICT_ABBREVIATIONS[key]
            else:
                value = _text(shown, toks)
            if seg.role == DISTRICT and seg.unit_type == "thanh pho" and key in _CITY_KEYS:
                province = province or _CITY_KEYS[key]
                put(CITY, value)
            elif not put(seg.role, value, seg.unit_type):
                unlabeled.append(value)
        elif seg.role == CITY:
            province = province or _CITY_KEYS.get(key) or _CITY_KEYS.get("tinh" + key)
            put(CITY, _text(shown, toks))
        elif seg.role in (HOUSE, ALLEY):
            if toks[0].kind == "num":
                put(seg.role, _number(toks[0]))
            elif seg.role == ALLEY and not put(STREET, _text(shown, toks)):
                unlabeled.append(_text(shown, toks))
        elif seg.role == STREET:
            numbered = toks[0].fold == "so" and len(toks) > 1 and toks[1].kind == "num"
            put(STREET, "Đường " + _text(shown, toks) if numbered else _street(shown, toks))  # "Đường số 5"
        elif seg.role == SUB:
            continue
        elif key in _CITY_KEYS and not any(_names_city(s) for s in segments[k + 1:]):
            # the last city-like piece is the city; an earlier one is a name ("Bình Dương, TP.HCM": the ward)
            province = province or _CITY_KEYS[key]
            put(CITY, _text(shown, toks))
        elif key in _COUNTRY_KEYS:
            continue
        elif toks[0].kind == "num" and k < first_place and HOUSE not in found:
            found[HOUSE] = _number(toks[0])
            if len(toks) > 1:
                put(STREET, _street(shown, toks[1:]))
        elif toks[0].kind == "num" and seg.after in (WARD, DISTRICT) and HOUSE not in found and len(toks) > 1:
            found[HOUSE] = _number(toks[0])  # "Phường Hoà Bình 493 Nguyễn Trãi"
            put(STREET, _street(shown, toks[1:]))
        elif toks[0].kind == "num" and len(toks) == 1:
            if toks[0].fold.isdigit() and len(toks[0].fold) <= 2 and DISTRICT not in found:
                unlabeled.append(_number(toks[0]))  # "P.Hiệp Thành, 12": a district number without "Q."
            # otherwise a postcode or a stray number
        elif (suffix := _suffixed(toks)) is not None and key not in _CITY_KEYS:
            role, unit_type = suffix
            if not put(role, _text(shown, toks[:-1]), unit_type):
                unlabeled.append(_text(shown, toks[:-1]))
        elif seg.after in (HOUSE, ALLEY) or (seg.before == WARD and k < first_place):
            if not put(STREET, _street(shown, toks)):
                unlabeled.append(_text(shown, toks))
        else:
            unlabeled.append(_text(shown, toks))

    house = found.get(HOUSE)
    alley = found.get(ALLEY)
    if alley is None and house is not None and "/" in house:
        alley = house.rsplit("/", 1)[0]  # "123/4 Nguyễn Trãi" is house 4 in alley 123
    ward = found.get(WARD)
    return AddressParts(
        house_number=house,
        alley=alley,
        street=found.get(STREET),
        ward=ward,
        ward_type=types.get(WARD),
        district=found.get(DISTRICT),
        district_type=types.get(DISTRICT),
        city=found.get(CITY),
        province_code=province,
        unlabeled=tuple(unlabeled),
        ward_is_old=ward is not None and (ward.isdigit() or types.get(WARD) == "thi tran"),
        district_is_old=DISTRICT in found,
    )


def province_of(city: str) -> str | None:
    """Return the province code ("79", "74", "77") a city or province name refers to, if any."""
    key = "".join(_TOKEN_WORDS.findall(clean(city).lower().translate(FOLD_TABLE)))
    return _CITY_KEYS.get(key)


_TOKEN_WORDS = re.compile(r"[a-z0-9]+")
