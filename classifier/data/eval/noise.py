"""Make `no_diacritics_typos.jsonl` from `noise_source.jsonl`: diacritics gone, typing errors and shorthand in.

The source lines were written with diacritics from the `no_diacritics_typos` cards (make_cards.py); this
second, procedural pass types them the way a hurried phone keyboard does: SMS shorthand ("không" → "ko"),
words typed in Telex with the input method off ("đường" → "dduowngf"), every other diacritic dropped,
letters swapped, dropped, doubled or hit on a neighbouring key, and words run together. Each line takes
its own random stream from a hash of its text, so a line's noise does not depend on the other lines.

    python classifier/data/eval/noise.py           # write no_diacritics_typos.jsonl
    python classifier/data/eval/noise.py --check   # exit 1 if the file is not what the source gives
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import unicodedata
from pathlib import Path

from kernel.text import strip_diacritics

SEED = 20261203
HERE = Path(__file__).resolve().parent
SOURCE = HERE / "noise_source.jsonl"
TARGET = HERE / "no_diacritics_typos.jsonl"

# SMS shorthand, on words with their diacritics (the source text), longest phrases first.
SHORTHAND: dict[str, tuple[str, ...]] = {
    "mọi người": ("mn", "mng"), "thành phố": ("tp",), "điện thoại": ("dt", "đt"), "bây giờ": ("bh", "bjo"),
    "hôm nay": ("hnay", "hum nay"), "anh chị": ("a/c", "ac"), "không": ("ko", "k", "hok", "khong"),
    "được": ("dc", "đc", "dk"), "người": ("ng",), "với": ("vs",), "gì": ("j", "ji"), "rồi": ("r", "roi"),
    "phường": ("p", "phg"), "quận": ("q",), "đường": ("đg", "dg"), "biết": ("bit", "bik"), "vậy": ("z", "v"),
    "nhiều": ("nhiu", "nhìu"), "trước": ("trc",), "cũng": ("cx", "cg"), "quá": ("wa", "qa"), "luôn": ("lun",),
    "chưa": ("ch",), "nhé": ("nhe", "nha"), "em": ("e",), "tiền": ("tien",), "giờ": ("h",),
}
_PHRASES = sorted(SHORTHAND, key=len, reverse=True)
_SHORTHAND_RE = re.compile(r"(?<!\w)(" + "|".join(re.escape(p) for p in _PHRASES) + r")(?!\w)", re.IGNORECASE)

# Telex keys: a tone is typed after the word, a vowel's shape right after the vowel.
_TONE_KEYS = {"\u0301": "s", "\u0300": "f", "\u0309": "r", "\u0303": "x", "\u0323": "j"}
_SHAPE_KEYS = {"\u0302": None, "\u0306": "w", "\u031b": "w"}  # circumflex doubles the vowel
# Neighbouring keys on a QWERTY phone keyboard, for a finger that lands one key off.
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {c: "".join(r[j] for j in (i - 1, i + 1) if 0 <= j < len(r)) for r in _ROWS for i, c in enumerate(r)}
_WORD = re.compile(r"\w+", re.UNICODE)


def telex(word: str) -> str:
    """The keys typed for a word in Telex with the input method off: 'đường' → 'dduowngf'."""
    out, tone = [], ""
    for ch in unicodedata.normalize("NFD", word):
        if ch in _TONE_KEYS:
            tone = _TONE_KEYS[ch]
        elif ch in _SHAPE_KEYS:
            key = _SHAPE_KEYS[ch]
            out.append(out[-1].lower() if key is None else key)
        elif ch in "đĐ":
            out.append("dd" if ch == "đ" else "DD")
        else:
            out.append(ch)
    return "".join(out).replace("uwow", "uow").replace("UWOW", "UOW") + tone


def _typo(word: str, rng: random.Random) -> str:
    """One slip of the finger in a word of three letters or more."""
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double", "neighbour"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i].lower())
    return word[:i] + rng.choice(near) + word[i + 1:] if near else word[:i] + word[i + 1:]


def noisy(text: str, seed: int = SEED) -> str:
    """The same message typed without diacritics, with shorthand, Telex leftovers and typing errors."""
    rng = random.Random(hashlib.sha256(f"{seed}:{text}".encode()).digest())
    p_short, p_telex, p_typo, p_join = rng.choice(((0.3, 0.0, 0.06, 0.03), (0.5, 0.08, 0.1, 0.05),
                                                   (0.7, 0.15, 0.16, 0.08)))
    text = _SHORTHAND_RE.sub(
        lambda m: rng.choice(SHORTHAND[m.group(0).lower()]) if rng.random() < p_short else m.group(0), text)
    text = _WORD.sub(lambda m: telex(m.group(0)) if strip_diacritics(m.group(0)) != m.group(0)
                     and rng.random() < p_telex else m.group(0), text)
    plain = strip_diacritics(text)
    words = plain.split(" ")
    out: list[str] = []
    for word in words:
        word = _typo(word, rng) if word.isalpha() and rng.random() < p_typo else word
        if out and rng.random() < p_join and out[-1][-1:].isalpha():
            out[-1] += word
        else:
            out.append(word)
    result = " ".join(out)
    if rng.random() < 0.5:
        result = result.lower()
    if rng.random() < 0.3:
        result = re.sub(r"[.,!?;:]+(\s|$)", r"\1", result).strip()
    if result.lower() == strip_diacritics(text).lower():
        # Every line carries at least one typing error besides the missing diacritics.
        candidates = [i for i, w in enumerate(out) if w.isalpha() and len(w) >= 3]
        if candidates:
            i = rng.choice(candidates)
            result = " ".join(_typo(w, rng) if j == i else w for j, w in enumerate(result.split(" ")))
    return result


def build(source: Path = SOURCE, seed: int = SEED) -> list[dict]:
    rows = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        rows.append({"text": noisy(row["text"], seed), "field": row["field"], "also": row.get("also", []),
                     "lang": row["lang"], "set": "no_diacritics_typos", "urgent": row["urgent"]})
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        same = TARGET.exists() and TARGET.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{TARGET.name} differs from what {SOURCE.name} gives")
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"{len(text.splitlines())} lines written to {TARGET.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
