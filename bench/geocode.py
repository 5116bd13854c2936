#!/usr/bin/env python
"""Geocoder speed on one core: addresses per second (target 2,000/s) and points per second.

The addresses are a realistic mix generated from the gazetteer itself (seeded, so every run is the same):
old numbered wards written every way ("Phường 5, Quận 3", "P.5 Q.3", "P5Q3", "F5 Q.BT"), old named wards
with their district, new ward names, hẻm and house numbers, any order, no diacritics, typos, missing markers,
Bình Dương and Bà Rịa–Vũng Tàu units, and a little noise that cannot resolve. Every address has its own
house number, so the whole-address caches never hit in the cold run; the warm run repeats 500 addresses to
show the cached path. The points are label points jittered by up to ~300 m, plus 20% uniform over the
city's bounding box (some fall outside).

The process is pinned to one CPU. It prints numbers and never fails on a slow result.

    .venv/bin/python bench/geocode.py [--addresses 5000] [--points 5000] [--gazetteer PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from integrations.geocoding import DEFAULT_PATH, load_default  # noqa: E402
from integrations.geocoding.gazetteer import Gazetteer  # noqa: E402
from integrations.geocoding.parser import parse_address  # noqa: E402
from integrations.geocoding.text import fold  # noqa: E402

TARGET_RATE = 2000
STREETS = ["Nguyễn Trãi", "Lê Lợi", "Cách Mạng Tháng 8", "CMT8", "Lê Văn Sỹ", "Nguyễn Văn Cừ", "Hai Bà Trưng",
           "Điện Biên Phủ", "Võ Văn Kiệt", "Phan Đăng Lưu", "Quang Trung", "Nguyễn Thị Minh Khai", "Lạc Long Quân",
           "Xô Viết Nghệ Tĩnh", "Bà Huyện Thanh Quan", "Nguyễn Tri Phương", "Tô Hiến Thành", "Đường số 7"]
ABBREVIATIONS = {"Quận Bình Thạnh": "BT", "Quận Tân Bình": "TB", "Quận Phú Nhuận": "PN", "Quận Gò Vấp": "GV",
                 "Quận Tân Phú": "TP"}
NOISE = ["gần chợ, hẻm sau nhà thờ", "ngay ngã tư đèn đỏ", "khu dân cư mới", "12 Nguyễn Trãi", "Phường 5"]


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1:]
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]


def _short(district: str) -> str:
    for prefix in ("Thành phố ", "Quận ", "Huyện "):
        if district.startswith(prefix):
            return district[len(prefix):]
    return district


def addresses(gazetteer: Gazetteer, n: int, seed: int = 1022) -> list[tuple[str, frozenset[str]]]:
    """Generate n distinct addresses in the forms citizens write, each with the new ward codes it may mean."""
    rng = random.Random(seed)
    olds = sorted(gazetteer.old_wards.values(), key=lambda o: o.code)
    numbered = [o for o in olds if o.full_name.split()[-1].isdigit()]
    named = [o for o in olds if not o.full_name.split()[-1].isdigit()]
    news = sorted(gazetteer.wards.values(), key=lambda w: w.code)
    out = []
    for _ in range(n):
        house = f"{rng.randint(1, 999)}" + (f"/{rng.randint(1, 80)}" if rng.random() < 0.5 else "")
        street = rng.choice(STREETS)
        form = rng.random()
        if form < 0.30:
            o = rng.choice(numbered)
            ward_no = o.full_name.split()[-1]
            district = gazetteer.districts[o.district_code].full_name
            short = _short(district)
            q = "Q." if district.startswith("Quận") else "H." if district.startswith("Huyện") else "TP "
            text = rng.choice([
                f"{house} {street}, Phường {ward_no}, {district}, TP.HCM",
                f"{house} {street}, P.{ward_no}, {q}{short}",
                f"{house} {street} P{ward_no}{q.rstrip('. ')}{short}" if short.isdigit() else
                f"{house} {street} P{ward_no} {q}{short}",
                f"{house} {street}, F{ward_no} Q.{ABBREVIATIONS[district]}" if district in ABBREVIATIONS else
                f"{house} {street}, p.{ward_no} {q.lower()}{short}",
                f"{q}{short} phường {ward_no} đường {street} số {house}",
                f"hẻm {house} {street} phường {ward_no} {district.lower()}",
            ])
        elif form < 0.55:
            o = rng.choice(named)
            district = gazetteer.districts[o.district_code].full_name
            name = o.full_name
            if rng.random() < 0.15:
                name = " ".join(_typo(rng, w) if i == len(name.split()) - 1 else w
                                for i, w in enumerate(name.split()))
            text = rng.choice([
                f"{house} {street}, {name}, {district}",
                f"{house} {street}, {name.replace('Phường ', 'P.').replace('Xã ', 'X. ')}, {_short(district)}",
                f"{name}, {district}, {'Bình Dương' if o.province_code == '74' else 'TP.HCM'}",
                f"{house} {street} {name} {district}",
            ])
        elif form < 0.80:
            w = rng.choice(news)
            o = None
            name = w.full_name
            if rng.random() < 0.15:
                name = " ".join(_typo(rng, x) if i == len(name.split()) - 1 else x
                                for i, x in enumerate(name.split()))
            text = rng.choice([
                f"{house} {street}, {name}, TP. Hồ Chí Minh",
                f"{house} {street}, {name.replace('Phường ', 'P. ')}, TP.HCM",
                f"{house} {street}, {w.name}, Thành phố Hồ Chí Minh, Việt Nam",
                f"{name} {house} {street}",
            ])
            if rng.random() < 0.35:
                text = fold(text)
            out.append((text, frozenset((w.code,))))
            continue
        elif form < 0.95:
            o = rng.choice(olds)
            district = gazetteer.districts[o.district_code].full_name
            text = f"{house} {street}, {o.full_name}, {district}"
        else:
            o = None
            text = f"{rng.choice(NOISE)} {house}"
        if rng.random() < 0.35:
            text = fold(text)  # typed without diacritics
        out.append((text, frozenset(o.targets if o is not None else ())))
    return out


def points(gazetteer: Gazetteer, n: int, seed: int = 1022) -> list[tuple[float, float]]:
    """Generate n points: jittered label points, and 20% uniform over the bounding box."""
    rng = random.Random(seed)
    labels = sorted((w.label_lat, w.label_lon) for w in gazetteer.wards.values())
    out = []
    for _ in range(n):
        if rng.random() < 0.8:
            lat, lon = rng.choice(labels)
            out.append((lat + rng.uniform(-0.003, 0.003), lon + rng.uniform(-0.003, 0.003)))
        else:
            out.append((rng.uniform(10.35, 11.20), rng.uniform(106.35, 107.05)))
    return out


def _rate(gazetteer: Gazetteer, items: list, call) -> tuple[float, list[float], int]:
    latencies = []
    resolved = 0
    started = time.perf_counter()
    for item in items:
        t = time.perf_counter()
        resolved += call(item) is not None
        latencies.append(time.perf_counter() - t)
    return len(items) / (time.perf_counter() - started), latencies, resolved


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addresses", type=int, default=5000)
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--gazetteer", type=Path, default=DEFAULT_PATH, help="built if missing")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    started = time.perf_counter()
    gazetteer = load_default(args.gazetteer)
    if not isinstance(gazetteer, Gazetteer):
        print("no gazetteer could be loaded or built", file=sys.stderr)
        return 1
    load_s = time.perf_counter() - started
    print(f"python {platform.python_version()} on {platform.machine()}, pinned to one CPU; gazetteer loaded in "
          f"{load_s * 1000:.0f} ms ({'with' if gazetteer.has_boundaries else 'WITHOUT'} boundaries)")

    generated = addresses(gazetteer, args.addresses)
    texts = [t for t, _ in generated]
    parse_address.cache_clear()
    gazetteer._match_cache.clear()  # cold: nothing of these addresses is cached
    rate, latencies, resolved = _rate(gazetteer, texts, lambda a: gazetteer.geocode(a, None, None))
    verdict = "meets" if rate >= TARGET_RATE else "MISSES"
    print(f"addresses, cold: {rate:,.0f}/s ({verdict} the {TARGET_RATE:,}/s target); p50 {_p(latencies, .5):.0f} µs, "
          f"p99 {_p(latencies, .99):.0f} µs; resolved {resolved / len(texts):.1%} of {len(texts):,}")
    right = among = 0
    for text, expected in generated:
        result = gazetteer.geocode(text, None, None)
        if result is None:
            right += not expected
            among += not expected
            continue
        right += result.ward_code in expected
        among += bool(expected & {result.ward_code, *(c for c, _ in result.candidates)})
    print(f"addresses, accuracy on the generated mix: ward right {right / len(generated):.1%}, "
          f"right or among the candidates {among / len(generated):.1%}")
    repeated = [texts[i % 500] for i in range(len(texts))]
    rate, latencies, _ = _rate(gazetteer, repeated, lambda a: gazetteer.geocode(a, None, None))
    print(f"addresses, warm (500 distinct, repeated): {rate:,.0f}/s; p99 {_p(latencies, .99):.0f} µs")

    if gazetteer.has_boundaries and args.points:
        pts = points(gazetteer, args.points)
        rate, latencies, resolved = _rate(gazetteer, pts, lambda p: gazetteer.geocode(None, p[0], p[1]))
        print(f"points: {rate:,.0f}/s; p50 {_p(latencies, .5):.0f} µs, p99 {_p(latencies, .99):.0f} µs; "
              f"inside the city {resolved / len(pts):.1%} of {len(pts):,}")
        both = list(zip(texts, pts, strict=False))
        parse_address.cache_clear()
        gazetteer._match_cache.clear()
        rate, latencies, _ = _rate(gazetteer, both, lambda ap: gazetteer.geocode(ap[0], ap[1][0], ap[1][1]))
        print(f"address + point: {rate:,.0f}/s; p99 {_p(latencies, .99):.0f} µs")
    print(f"mean address length {statistics.mean(len(t) for t in texts):.0f} characters; "
          f"examples: {texts[0]!r}, {texts[1]!r}, {texts[2]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
