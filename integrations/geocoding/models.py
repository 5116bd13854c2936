"""Types of the geocoder: the parsed address, the gazetteer's units, the result and its error."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    POINT = "point"
    ADDRESS = "address"
    ADDRESS_AND_POINT = "address+point"


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    """A new (post-1 July 2025) ward for an address or a point; the hub reads the first five fields."""

    ward_code: str
    ward_name: str
    lat: float | None
    lon: float | None
    confidence: float
    old_ward: str | None = None
    old_district: str | None = None
    candidates: tuple[tuple[str, str], ...] = ()
    source: str = Source.ADDRESS.value
    matched: str = ""


class GeocodeError(ValueError):
    """The input cannot be geocoded; `code` is stable, the message says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AddressParts:
    """An address as people write it, split into its parts (text as written, abbreviations expanded)."""

    house_number: str | None = None
    alley: str | None = None
    street: str | None = None
    ward: str | None = None
    ward_type: str | None = None  # folded: "phuong", "xa", "thi tran", "dac khu"
    district: str | None = None
    district_type: str | None = None  # folded: "quan", "huyen", "thi xa", "thanh pho"
    city: str | None = None
    province_code: str | None = None  # "79" HCMC, "74" Bình Dương, "77" Bà Rịa–Vũng Tàu, when the city says so
    unlabeled: tuple[str, ...] = ()  # pieces with no marker that may still be a ward or a district
    ward_is_old: bool = False  # a numbered ward or a thị trấn: these exist only before 1 July 2025
    district_is_old: bool = False  # any district: the level was abolished on 1 July 2025


@dataclass(frozen=True, slots=True)
class Ward:
    """A commune-level unit after 1 July 2025."""

    code: str
    name: str
    full_name: str
    type: str
    label_lat: float
    label_lon: float
    merged_from: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OldWard:
    """A commune-level unit before 1 July 2025 and the new unit(s) it went into (best guess first).

    A unit merged away earlier (in 2021) carries the unit that took it in and the resolution that did it;
    its targets are that unit's.
    """

    code: str
    full_name: str
    type: str
    district_code: str
    province_code: str
    targets: tuple[str, ...]
    merged_into: str | None = None
    merged_by: str | None = None


@dataclass(frozen=True, slots=True)
class District:
    """A district-level unit before 1 July 2025 (the level no longer exists)."""

    code: str
    full_name: str
    type: str
    province_code: str
    targets: tuple[str, ...]  # the new units its communes went into, the one receiving most of them first
