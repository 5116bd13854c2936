"""The offline gazetteer: addresses (new or pre-2025) and points to the 168 wards of Ho Chi Minh City.

Name matching (all on folded keys without spaces, so "BếnNghé", "ben nghe" and "Bến Nghé" are one key), in
order: the exact name (diacritics, or their absence in an accented address, break ties such as Thanh An /
Thạnh An); a misspelt old ward of the district the address names; a ward followed by its district with no
marker ("Bà Điểm Hóc Môn"); a close misspelling of the whole name (ratio >= 0.85); an exact run of its words
("Nguyễn Trãi Bến Nghé"); a looser misspelling (>= 0.8). An old ward is looked up within the old district
the address names ("Phường 5" exists in nine districts). A ward merged away in 2021 ("Phường 6, Quận 3", by
then Võ Thị Sáu) is found only within its district, and goes where the ward that took it in went. New names
win over old names, except when the address names an old district that had a ward of that name: then the
address is in the old form. With a marked ward or several unmarked pieces, the last unmarked piece that is
exactly a district's name is the district ("Phường 26, Bình Thạnh"); a single unmarked piece is a ward first
("Bình Thạnh" is also a new ward).

A point is placed by point-in-polygon; near a border (20 m) or just outside every ward (50 m) the result
carries a lower confidence and the neighbours as candidates. With both an address and a point, the point
decides, unless the address matched confidently (>= 0.8) and the point lies more than 1 km outside every
ward the address can mean: then the citizen more likely typed where the problem is and shared where they
are, so the address decides, with lower confidence and the point's ward among the candidates.
"""

from __future__ import annotations

import logging
import math
import pickle
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from .build import FORMAT
from .fuzzy import FuzzyIndex
from .geometry import WardShapes
from .models import District, GeocodeError, GeocodeResult, OldWard, Source, Ward
from .parser import parse_address
from .text import accent_key, fold, has_diacritics, name_key

log = logging.getLogger(__name__)

# Confidence of an address match, before the factors below.
EXACT = 0.95  # a new name, or an old ward within the old district the address names
OLD_WITHOUT_DISTRICT = 0.85  # an old ward whose name is unique among old wards, no district given
OLD_OTHER_DISTRICT = 0.6  # the old ward exists, but not in the district the address names
NEW_OUTSIDE_DISTRICT = 0.8  # factor: a new name whose unit was not formed from the district the address names
AMBIGUOUS = 0.4  # several units carry the name and nothing tells them apart
NEW_OR_OLD = 0.75  # a new name that is also an old ward's name elsewhere, no district to tell
DISTRICT_ONLY = 0.3  # only an old district was recognised: its main successor, all successors as candidates
UNMARKED = 0.95  # factor: the name came from a piece with no "phường"/"quận" marker
SPLIT = {2: 0.55, 3: 0.4}  # factor for an old ward split between 2, 3 or more new units
FUZZY_CUTOFF = 0.8  # ratio for a marked name; an unmarked piece needs UNMARKED_CUTOFF
UNMARKED_CUTOFF = 0.86
CLOSE_CUTOFF = 0.85  # a misspelling this close to a whole name beats an exact match of part of it
DISAGREE_M = 1000.0
MERGED_EARLIER = 0.95  # factor: a ward merged away in 2021, placed through the ward that took it in
MATCH_CACHE_SIZE = 8192  # addresses repeat (the same estate, the same market): remember the last few thousand
# Citizens still write the districts merged before 2025. Quận 2, Quận 9 and Quận Thủ Đức (Thành phố Thủ Đức
# since 2021) come from data/hcmc_units_merged_2021.csv; Long Điền and Đất Đỏ became Huyện Long Đất before
# March 2025 (the data's date).
DISTRICT_ALIASES = {"longdien": "753", "datdo": "753"}


class Refiner(Protocol):
    """Something that finds a finer point for an address (an online geocoder)."""

    def locate(self, address: str) -> tuple[float, float] | None: ...


@dataclass(frozen=True, slots=True)
class _Match:
    """A ward found from an address, before it becomes a result."""

    ward_code: str
    confidence: float
    old_ward: str | None = None
    old_district: str | None = None
    candidates: tuple[str, ...] = ()
    matched: str = ""


def _split_factor(n: int) -> float:
    return 1.0 if n <= 1 else SPLIT.get(n, SPLIT[3])


class Gazetteer:
    """Resolves addresses and points to new wards; loaded once and shared (read-only after construction)."""

    def __init__(self, wards: Iterable[Ward], old_wards: Iterable[OldWard], districts: Iterable[District],
                 shapes: WardShapes | None = None, refiner: Refiner | None = None,
                 meta: dict[str, Any] | None = None, merged_wards: Iterable[OldWard] = (),
                 district_aliases: Iterable[tuple[str, str]] = ()) -> None:
        """`merged_wards`: wards merged away in 2021; `district_aliases`: (old name, district code) pairs."""
        self.wards = {w.code: w for w in wards}
        self.old_wards = {o.code: o for o in old_wards}
        self.merged_wards = {o.code: o for o in merged_wards}
        self._units = self.old_wards | self.merged_wards
        self.districts = {d.code: d for d in districts}
        self.district_aliases = tuple(district_aliases)
        self.shapes = shapes
        self.refiner = refiner
        self.meta = meta or {}
        self._index()

    # -- loading --------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, refiner: Refiner | None = None) -> Gazetteer:
        """Load an artifact written by build.build_gazetteer."""
        with Path(path).open("rb") as f:
            data = pickle.load(f)  # noqa: S301 - our own build output, never user input
        return cls.from_artifact(data, refiner)

    @classmethod
    def from_artifact(cls, data: dict[str, Any], refiner: Refiner | None = None) -> Gazetteer:
        if data.get("format") != FORMAT:
            raise ValueError(f"gazetteer format {data.get('format')!r}, expected {FORMAT}: rebuild it")
        shapes = data.get("shapes")
        return cls(
            wards=[Ward(c, n, fn, t, lat, lon, tuple(m)) for c, n, fn, t, lat, lon, m in data["wards"]],
            old_wards=[OldWard(c, n, t, d, p, tuple(ts)) for c, n, t, d, p, ts in data["old_wards"]],
            districts=[District(c, n, t, p, tuple(ts)) for c, n, t, p, ts in data["districts"]],
            shapes=WardShapes.from_wkb(shapes["codes"], shapes["wkb"]) if shapes else None,
            refiner=refiner,
            meta={k: v for k, v in (shapes or {}).items() if k not in ("codes", "wkb")} | {"sources": data["sources"]},
            merged_wards=[OldWard(c, n, t, d, p, tuple(ts), into, by)
                          for c, n, t, d, p, ts, into, by in data["merged_2021_wards"]],
            district_aliases=[(n, c) for n, c, _ in data["merged_2021_districts"]],
        )

    @property
    def has_boundaries(self) -> bool:
        return self.shapes is not None

    def _index(self) -> None:
        def add(index: dict[Any, tuple[str, ...]], key: Any, code: str) -> None:
            if code not in index.get(key, ()):
                index[key] = index.get(key, ()) + (code,)

        self._new: dict[str, tuple[str, ...]] = {}
        self._new_accent: dict[str, str] = {}
        for w in self.wards.values():
            add(self._new, name_key(w.name, typed=False), w.code)
            self._new_accent[w.code] = accent_key(w.name, typed=False)
        self._old_in: dict[tuple[str, str], tuple[str, ...]] = {}
        self._old: dict[str, tuple[str, ...]] = {}
        self._old_accent: dict[str, str] = {}
        formed_from: dict[str, set[str]] = {}
        for o in self.old_wards.values():
            key = name_key(o.full_name)
            add(self._old_in, (o.district_code, key), o.code)
            add(self._old, key, o.code)
            self._old_accent[o.code] = accent_key(o.full_name)
            for t in o.targets:
                formed_from.setdefault(t, set()).add(o.district_code)
        for d in self.districts.values():
            for t in d.targets:
                formed_from.setdefault(t, set()).add(d.code)
        for o in self.merged_wards.values():
            # Only within its district: "Phường Bình An" without one is Dĩ An's, which lived until 2025.
            add(self._old_in, (o.district_code, name_key(o.full_name)), o.code)
            self._old_accent[o.code] = accent_key(o.full_name)
        self._formed_from = {c: frozenset(v) for c, v in formed_from.items()}
        self._province = {d.code: d.province_code for d in self.districts.values()}
        self._district: dict[str, tuple[str, ...]] = {}
        for d in self.districts.values():
            add(self._district, name_key(d.full_name), d.code)
        for alias, code in (*DISTRICT_ALIASES.items(), *((name_key(n), c) for n, c in self.district_aliases)):
            if code in self.districts:
                add(self._district, alias, code)
        self._fuzzy_new = FuzzyIndex(list(self._new))
        self._fuzzy_old = FuzzyIndex(list(self._old))
        self._fuzzy_district = FuzzyIndex(list(self._district))
        keys_in: dict[str, list[str]] = {}
        for district, key in self._old_in:
            keys_in.setdefault(district, []).append(key)
        self._fuzzy_old_in = {district: FuzzyIndex(keys) for district, keys in keys_in.items()}
        self._no_fuzzy = FuzzyIndex([])
        self._fuzzy_cache: dict[tuple[str, str, float], list[tuple[str, float]]] = {}
        self._match_cache: dict[str, _Match | GeocodeError] = {}

    # -- the public API ------------------------------------------------------------------------------

    def geocode(self, address: str | None, lat: float | None, lon: float | None) -> GeocodeResult | None:
        """Resolve an address and/or a point to a ward; None when nothing can be resolved."""
        try:
            return self.resolve(address, lat, lon)
        except GeocodeError as e:
            log.debug("geocode: %s", e.code)
            return None

    def resolve(self, address: str | None = None, lat: float | None = None,
                lon: float | None = None) -> GeocodeResult:
        """Resolve an address and/or a point to a ward, or raise GeocodeError saying why not."""
        text = address.strip() if isinstance(address, str) else ""
        has_point = lat is not None or lon is not None
        if not text and not has_point:
            raise GeocodeError("no_input", "give an address or a point (lat and lon)")
        if has_point:
            lat, lon = _checked_point(lat, lon)
        if not has_point:
            return self._refined(text, self._from_address(text))
        if not text:
            return self._from_point(lat, lon)
        if self.shapes is None:
            return self._from_address(text)  # the point cannot be placed without boundaries
        try:
            by_address = self._from_address(text)
        except GeocodeError:
            return replace(self._from_point(lat, lon), source=Source.ADDRESS_AND_POINT.value)
        try:
            by_point = self._from_point(lat, lon)
        except GeocodeError:
            return replace(by_address, confidence=round(by_address.confidence * 0.8, 3),
                           matched=by_address.matched + "; point outside the city, ignored")
        return self._combine(by_address, by_point)

    def ward(self, code: str) -> Ward:
        return self.wards[code]

    def label_point(self, code: str) -> tuple[float, float]:
        """Return a ward's label point as (lat, lon)."""
        w = self.wards[code]
        return w.label_lat, w.label_lon

    # -- points --------------------------------------------------------------------------------------

    def _from_point(self, lat: float, lon: float) -> GeocodeResult:
        if self.shapes is None:
            raise GeocodeError("no_boundaries", "no boundaries available: this gazetteer was built without polygons")
        hit = self.shapes.locate(lon, lat)
        if hit is None:
            raise GeocodeError("outside", "the point is outside Ho Chi Minh City")
        candidates = (hit.code, *hit.others) if hit.others else ()
        note = "point" if hit.distance_m == 0 else f"point {hit.distance_m:.0f} m outside the nearest ward"
        return self._result(hit.code, hit.confidence, lat=lat, lon=lon, candidates=candidates,
                            source=Source.POINT, matched=note)

    def _combine(self, a: GeocodeResult, p: GeocodeResult) -> GeocodeResult:
        assert self.shapes is not None and p.lat is not None and p.lon is not None
        address_codes = (a.ward_code, *(c for c, _ in a.candidates))
        if p.ward_code in address_codes:
            return replace(p, confidence=round(min(0.99, max(a.confidence, p.confidence) + 0.02), 3),
                           old_ward=a.old_ward, old_district=a.old_district,
                           candidates=p.candidates, source=Source.ADDRESS_AND_POINT.value,
                           matched=f"{a.matched}; point agrees")
        away = min(self.shapes.distance_m(c, p.lon, p.lat) for c in address_codes)
        if a.confidence >= 0.8 and away > DISAGREE_M:
            candidates = tuple(dict.fromkeys((*address_codes, p.ward_code)))
            return replace(a, confidence=round(a.confidence * 0.7, 3),
                           candidates=tuple((c, self.wards[c].full_name) for c in candidates),
                           source=Source.ADDRESS_AND_POINT.value,
                           matched=f"{a.matched}; point {away:.0f} m away in {p.ward_name}, address kept")
        candidates = tuple(dict.fromkeys((p.ward_code, *address_codes)))
        return replace(p, confidence=round(p.confidence * 0.8, 3),
                       candidates=tuple((c, self.wards[c].full_name) for c in candidates),
                       source=Source.ADDRESS_AND_POINT.value,
                       matched=f"point; address said {a.ward_name} ({away:.0f} m away)")

    # -- addresses -----------------------------------------------------------------------------------

    def _from_address(self, text: str) -> GeocodeResult:
        m = self._match(text)
        lat, lon = self.label_point(m.ward_code)
        return self._result(m.ward_code, m.confidence, lat=lat, lon=lon, candidates=m.candidates,
                            source=Source.ADDRESS, matched=m.matched, old_ward=m.old_ward,
                            old_district=m.old_district)

    def _refined(self, text: str, result: GeocodeResult) -> GeocodeResult:
        if self.refiner is None or self.shapes is None:
            return result
        found = self.refiner.locate(text)
        if found is None:
            return result
        lat, lon = found
        hit = self.shapes.locate(lon, lat)
        allowed = (result.ward_code, *(c for c, _ in result.candidates))
        if hit is None or hit.code not in allowed:
            return result  # the online answer contradicts the gazetteer: keep the gazetteer's
        confidence = result.confidence if hit.code == result.ward_code else max(result.confidence, 0.8)
        return replace(self._result(hit.code, confidence, lat=lat, lon=lon, candidates=(), source=Source.ADDRESS,
                                    matched=result.matched + "; point from the online geocoder"),
                       old_ward=result.old_ward, old_district=result.old_district)

    def _result(self, code: str, confidence: float, *, lat: float, lon: float, candidates: tuple[str, ...],
                source: Source, matched: str, old_ward: str | None = None,
                old_district: str | None = None) -> GeocodeResult:
        return GeocodeResult(
            ward_code=code, ward_name=self.wards[code].full_name, lat=lat, lon=lon,
            confidence=round(confidence, 3), old_ward=old_ward, old_district=old_district,
            candidates=tuple((c, self.wards[c].full_name) for c in candidates), source=source.value,
            matched=matched)

    def _match(self, text: str) -> _Match:
        found = self._match_cache.get(text)
        if found is None:
            try:
                found = self.match(text)
            except GeocodeError as e:
                found = e
            if len(self._match_cache) >= MATCH_CACHE_SIZE:
                self._match_cache.clear()
            self._match_cache[text] = found
        if isinstance(found, GeocodeError):
            raise GeocodeError(found.code, found.detail)
        return found

    def match(self, text: str) -> _Match:
        """Match an address to a ward by its names only (no cache, no point)."""
        parts = parse_address(text)
        accented = has_diacritics(text)
        province = parts.province_code
        unlabeled = list(parts.unlabeled)
        districts: tuple[str, ...] = ()
        district_note = ""
        if parts.district:
            districts, score = self._find_districts(parts.district, province, cutoff=FUZZY_CUTOFF)
            district_note = self._note("district", parts.district, districts, score)
        if not districts and unlabeled and (parts.ward or len(unlabeled) > 1):
            for i in reversed(range(len(unlabeled))):
                found, score = self._find_districts(unlabeled[i], province, cutoff=1.0)
                if found:
                    districts = found
                    district_note = self._note("district", unlabeled.pop(i), found, score)
                    break
        match: _Match | None = None
        if parts.ward:
            match = self._match_ward(parts.ward, parts.ward_type, districts, province, marked=True, accented=accented)
        if match is None:
            for piece in unlabeled:
                match = self._match_ward(piece, None, districts, province, marked=False, accented=accented)
                if match is not None:
                    break
        if match is None and parts.street:
            match = self._ward_after_street(parts.street, districts, province)
        if match is None and not districts and len(unlabeled) == 1:
            districts, score = self._find_districts(unlabeled[0], province, cutoff=UNMARKED_CUTOFF)
            district_note = self._note("district", unlabeled[0], districts, score)
        if match is None and districts:
            match = self._district_only(districts[0])
            if parts.ward:
                match = replace(match, matched=f"ward '{parts.ward}' not found in it; {match.matched}")
        if match is None:
            if parts.ward and parts.ward.isdigit() and not districts:
                raise GeocodeError("ambiguous", f"ward number {parts.ward} needs a district")
            raise GeocodeError("not_found", "no ward or district recognised in the address")
        if districts and match.old_district is None:
            match = replace(match, old_district=self.districts[districts[0]].full_name)
        matched = "; ".join(n for n in (match.matched, district_note) if n)
        return replace(match, matched=matched)

    def _note(self, role: str, text: str, codes: tuple[str, ...], score: float) -> str:
        if not codes:
            return f"{role} '{text}' not recognised"
        how = "=" if score >= 1.0 else f"~{score:.2f}"
        return f"{role} '{text}' {how} {self.districts[codes[0]].full_name}"

    def _fuzzy(self, index: FuzzyIndex, scope: str, key: str, cutoff: float) -> list[tuple[str, float]]:
        cache_key = (scope, key, cutoff)
        found = self._fuzzy_cache.get(cache_key)
        if found is None:
            if len(self._fuzzy_cache) > 50_000:
                self._fuzzy_cache.clear()
            found = self._fuzzy_cache[cache_key] = index.best(key, cutoff) if len(key) >= 4 else []
        return found

    def _find_districts(self, text: str, province: str | None, cutoff: float) -> tuple[tuple[str, ...], float]:
        key = name_key(text, typed=False)
        if not key:
            return (), 0.0
        codes = self._district.get(key, ())
        score = 1.0
        if not codes and cutoff < 1.0:
            best = self._fuzzy(self._fuzzy_district, "district", key, cutoff)
            if best:
                score = best[0][1]
                codes = tuple(c for k, s in best if s == score for c in self._district[k])
        if province and len(codes) > 1:
            codes = tuple(c for c in codes if self._province[c] == province) or codes
        return codes, score

    def _match_ward(self, text: str, ward_type: str | None, districts: tuple[str, ...], province: str | None,
                    *, marked: bool, accented: bool) -> _Match | None:
        """Match a ward name, the strongest evidence first (see the module docstring).

        `accented`: the address is written with diacritics, so a name without them ("Thanh An") is meant so.
        """
        key = name_key(text, typed=False)
        if not key:
            return None
        base = 1.0 if marked else UNMARKED
        spelled = accent_key(text, typed=False) if accented or has_diacritics(text) else None
        if key.isdigit():
            olds = tuple(c for d in districts for c in self._old_in.get((d, key), ()))
            return self._old_match(olds, 1.0 * base, text, exact=True) if olds else None
        cutoff = FUZZY_CUTOFF if marked else UNMARKED_CUTOFF
        exact, strong = self._exact(key, spelled, ward_type, districts, province, base, text)
        if exact is not None and strong:
            return exact
        # A misspelt old ward of the district the address names beats a correct name from elsewhere.
        found = self._fuzzy_in_districts(key, districts, base, text, cutoff)
        if found is not None or exact is not None:
            return found or exact
        if not districts:  # "Bà Điểm Hóc Môn", "linh trung thu duc": a ward, then its district with no marker
            written = text.split()
            for k in range(len(written) - 1, 0, -1):
                tail = " ".join(written[k:])
                in_districts, _ = self._find_districts(tail, province, cutoff=1.0)
                if in_districts:
                    found = self._match_ward(" ".join(written[:k]), ward_type, in_districts, province, marked=marked,
                                             accented=accented)
                    if found is not None:
                        district = self.districts[in_districts[0]].full_name
                        return replace(found, old_district=found.old_district or district,
                                       matched=f"{found.matched}; district '{tail}' = {district}")
        # A close misspelling of the whole name ("Tân Sơn Nất") before a correct part of it ("Tân Sơn").
        found = self._fuzzy_global(key, ward_type, districts, province, base, text, max(cutoff, CLOSE_CUTOFF))
        if found is not None:
            return found
        words = fold(text).split()
        for n in range(len(words) - 1, 1, -1):  # "Nguyễn Trãi Bến Nghé": a sub-span, the last words first
            for start in range(len(words) - n, -1, -1):
                sub = "".join(words[start:start + n])
                found, _ = self._exact(sub, None, ward_type, districts, province, base * 0.95, text)
                if found is not None:
                    return found
        return self._fuzzy_global(key, ward_type, districts, province, base, text, cutoff)

    def _ward_after_street(self, street: str, districts: tuple[str, ...], province: str | None) -> _Match | None:
        """Find a ward name written after the street with no marker ("số 5 Nguyễn Huệ Bến Nghé")."""
        written = street.split()
        for k in range(1, len(written) - 1):
            tail = " ".join(written[k:])
            found, _ = self._exact(name_key(tail, typed=False), None, None, districts, province, UNMARKED * 0.85,
                                   tail)
            if found is not None:
                return found
        return None

    def _exact(self, key: str, spelled: str | None, ward_type: str | None, districts: tuple[str, ...],
               province: str | None, base: float, text: str) -> tuple[_Match | None, bool]:
        """Match a key exactly; say whether the match fits the district the address names (strong)."""
        olds_here = tuple(c for d in districts for c in self._old_in.get((d, key), ()))
        if olds_here:
            olds_here = self._by_accent(olds_here, spelled, self._old_accent)
            return self._old_match(olds_here, base, text, exact=True), True
        news = self._new_in_province(self._new.get(key, ()), province)
        olds = self._old_in_province(self._by_accent(self._old.get(key, ()), spelled, self._old_accent), province)
        if news and ward_type != "thi tran":
            match = self._new_match(news, spelled, districts, olds, base, text)
            return match, not districts or any(self._formed_from.get(c, frozenset()) & set(districts) for c in news)
        if olds:
            if districts:
                m = self._old_match(olds, base * OLD_OTHER_DISTRICT / EXACT, text, exact=True)
                return replace(m, matched=m.matched + " (in another district)"), False
            return self._old_match(olds, base * OLD_WITHOUT_DISTRICT / EXACT, text, exact=True), True
        if news:
            return self._new_match(news, spelled, districts, (), base, text), not districts
        return None, False

    def _new_in_province(self, codes: tuple[str, ...], province: str | None) -> tuple[str, ...]:
        # Since July 2025 "TP.HCM" covers Bình Dương and Bà Rịa–Vũng Tàu too: it only orders the names,
        # while the two old provinces' names narrow them.
        if province is None or len(codes) < 2:
            return codes
        if province == "79":
            return tuple(sorted(codes, key=lambda c: province not in self._new_provinces(c)))
        return tuple(c for c in codes if province in self._new_provinces(c)) or codes

    def _old_in_province(self, codes: tuple[str, ...], province: str | None) -> tuple[str, ...]:
        if province and len(codes) > 1:
            return tuple(c for c in codes if self._units[c].province_code == province) or codes
        return codes

    def _by_accent(self, codes: tuple[str, ...], spelled: str | None, accents: dict[str, str]) -> tuple[str, ...]:
        if spelled is None or len(codes) < 2:
            return codes
        return tuple(c for c in codes if accents[c] == spelled) or codes

    def _new_provinces(self, code: str) -> frozenset[str]:
        return frozenset(self._province[d] for d in self._formed_from.get(code, ()))

    def _new_match(self, news: tuple[str, ...], spelled: str | None, districts: tuple[str, ...],
                   olds: tuple[str, ...], base: float, text: str, score: float = 1.0) -> _Match:
        news = self._by_accent(news, spelled, self._new_accent)
        if districts and len(news) > 1:
            news = tuple(c for c in news if self._formed_from.get(c, frozenset()) & set(districts)) or news
        confidence = EXACT * base * score
        how = "=" if score >= 1.0 else f"~{score:.2f}"
        if districts and not any(self._formed_from.get(c, frozenset()) & set(districts) for c in news):
            confidence *= NEW_OUTSIDE_DISTRICT
        candidates: tuple[str, ...] = ()
        if len(news) > 1:
            confidence = min(confidence, AMBIGUOUS)
            candidates = news
        elif olds and not districts:
            others = tuple(t for o in olds for t in self._units[o].targets if t != news[0])
            if others:
                confidence = min(confidence, NEW_OR_OLD)
                candidates = tuple(dict.fromkeys((news[0], *others)))
        return _Match(news[0], confidence, candidates=candidates,
                      matched=f"ward '{text}' {how} {self.wards[news[0]].full_name}")

    def _old_match(self, olds: tuple[str, ...], base: float, text: str, *, exact: bool,
                   score: float = 1.0) -> _Match:
        how = "=" if exact and score >= 1.0 else f"~{score:.2f}"
        if len(olds) > 1:
            targets = Counter(t for o in olds for t in self._units[o].targets)
            ordered = tuple(sorted(targets, key=lambda t: (-targets[t], t)))
            if len(ordered) > 1:
                names = ", ".join(self.districts[self._units[o].district_code].full_name for o in olds)
                return _Match(ordered[0], AMBIGUOUS * score, candidates=ordered,
                              matched=f"old ward '{text}' {how} several old wards ({names})")
        old = self._units[olds[0]]
        district = self.districts[old.district_code]
        confidence = EXACT * base * score * _split_factor(len(old.targets))
        merged = ""
        if old.merged_into is not None:
            confidence *= MERGED_EARLIER
            merged = f", merged into {old.merged_into} in 2021 ({old.merged_by})"
        split = " (split)" if len(old.targets) > 1 else ""
        return _Match(old.targets[0], confidence, old_ward=old.full_name, old_district=district.full_name,
                      candidates=old.targets if len(old.targets) > 1 else (),
                      matched=f"old ward '{text}' {how} {old.full_name}, {district.full_name}{merged}{split}")

    def _fuzzy_in_districts(self, key: str, districts: tuple[str, ...], base: float, text: str,
                            cutoff: float) -> _Match | None:
        for d in districts:
            best = self._fuzzy(self._fuzzy_old_in.get(d, self._no_fuzzy), "old:" + d, key, cutoff)
            if best:
                return self._old_match(self._old_in[(d, best[0][0])], base, text, exact=False, score=best[0][1])
        return None

    def _fuzzy_global(self, key: str, ward_type: str | None, districts: tuple[str, ...], province: str | None,
                      base: float, text: str, cutoff: float) -> _Match | None:
        new_best = self._fuzzy(self._fuzzy_new, "new", key, cutoff) if ward_type != "thi tran" else []
        old_best = self._fuzzy(self._fuzzy_old, "old", key, cutoff)
        new_score = new_best[0][1] if new_best else 0.0
        old_score = old_best[0][1] if old_best else 0.0
        if new_best and new_score >= old_score:
            codes = tuple(c for k, s in new_best if s == new_score for c in self._new[k])
            return self._new_match(self._new_in_province(codes, province), None, districts, (), base, text,
                                   score=new_score)
        if old_best:
            olds = self._old_in_province(tuple(c for k, s in old_best if s == old_score for c in self._old[k]),
                                         province)
            factor = (OLD_OTHER_DISTRICT if districts else OLD_WITHOUT_DISTRICT) / EXACT
            return self._old_match(olds, base * factor, text, exact=False, score=old_score)
        return None

    def _district_only(self, code: str) -> _Match:
        district = self.districts[code]
        targets = district.targets
        confidence = EXACT if len(targets) == 1 else DISTRICT_ONLY
        return _Match(targets[0], confidence, old_district=district.full_name,
                      candidates=targets if len(targets) > 1 else (),
                      matched=f"only the old district {district.full_name}")


def _checked_point(lat: float | None, lon: float | None) -> tuple[float, float]:
    if lat is None or lon is None:
        raise GeocodeError("invalid_point", "a point needs both lat and lon")
    if isinstance(lat, bool) or isinstance(lon, bool):
        raise GeocodeError("invalid_point", "lat and lon must be numbers")
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError) as e:
        raise GeocodeError("invalid_point", "lat and lon must be numbers") from e
    if not (math.isfinite(la) and math.isfinite(lo)) or not (-90 <= la <= 90 and -180 <= lo <= 180):
        raise GeocodeError("invalid_point", f"lat {lat} / lon {lon} is not a point on Earth")
    return la, lo
