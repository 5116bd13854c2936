"""Text normalisation for classification: NFC, case folding, teencode, and a diacritics-free view.

Citizens write "ngập nước", "ngap nuoc", "ngập nc" and "NGAP NUOC!!!" for the same thing. The model
sees two views of every text: the normalised text with its diacritics (precise when they are there)
and the same text folded to plain ASCII letters (so text typed without diacritics meets it).
"""

from __future__ import annotations

import re
import unicodedata

from kernel.text import FOLD_TABLE, strip_diacritics, strip_marks

_SPACES = re.compile(r"\s+")
_REPEATS = re.compile(r"(\w)\1{2,}")  # "quaaaa" → "qua", "!!!!" handled below
_PUNCT_RUNS = re.compile(r"([!?.,])\1+")
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_URL = re.compile(r"https?://\S+|www\.\S+")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<!\d)(\+?84|0)(\d[ .-]?){8,10}(?!\d)")
_NUMBER = re.compile(r"\d+")

# Chat shorthand and common misspellings, applied only to tokens typed without diacritics: "hỏng",
# "hồng", "hẻm", "lún" and "bịt" are words, not shorthand, and their folded forms must stay theirs.
# Only forms that are unambiguous in a complaint to a hotline even then; "k" alone means "không" far
# more often than "nghìn" here. Left out: "hong" (plain, it is "hỏng" or "sổ hồng" more often than
# "không"), "hem" (each of the corpus's 93 plain "hem" is "hẻm", an alley) and "bit" ("bịt",
# blocked, and the English "a bit").
TEENCODE: dict[str, str] = {
    "ko": "khong", "k": "khong", "kg": "khong", "khg": "khong", "hok": "khong", "kh": "khong",
    "ch": "chua", "cx": "cung", "cg": "cung",
    "dc": "duoc", "dk": "duoc", "j": "gi", "ji": "gi", "r": "roi", "rui": "roi",
    "vs": "voi", "ng": "nguoi", "ngta": "nguoi ta", "mn": "moi nguoi", "mng": "moi nguoi", "z": "vay", "v": "vay",
    "bik": "biet", "bjk": "biet", "lun": "luon", "wa": "qua", "qa": "qua", "ntn": "nhu the nao",
    "sdt": "so dien thoai", "dt": "dien thoai", "tp": "thanh pho", "hcm": "ho chi minh",
    "tphcm": "thanh pho ho chi minh", "hs": "ho so", "nc": "nuoc", "nk": "nhieu", "nhiu": "nhieu", "bn": "bao nhieu",
    "oy": "roi", "roai": "roi", "trc": "truoc",
    "h": "gio", "bh": "bao gio", "hnay": "hom nay", "hqua": "hom qua", "mik": "minh", "mk": "minh",
    "thik": "thich", "iu": "yeu", "ms": "moi", "vl": "qua",
    "cty": "cong ty", "ubnd": "uy ban nhan dan", "csgt": "canh sat giao thong",
    "p": "phuong", "q": "quan", "tx": "thi xa", "dg": "duong",
    "bv": "benh vien", "bhyt": "bao hiem y te", "cccd": "can cuoc cong dan", "cmnd": "chung minh nhan dan",
    "gplx": "giay phep lai xe", "gpxd": "giay phep xay dung", "atgt": "an toan giao thong",
    "pccc": "phong chay chua chay",
}
# Shorthand typed with a diacritic of its own (the "đ" of "điện thoại"), matched before folding.
MARKED_SHORTHAND: dict[str, str] = {"đt": "dien thoai", "sđt": "so dien thoai"}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


__all__ = ["strip_diacritics"]  # the kernel's fold, re-exported for the classifier's modules


def _mask(text: str) -> str:
    # Contact details and numbers carry no field information; masking them keeps the model from
    # learning accidental numbers and keeps personal data out of feature names.
    text = _URL.sub(" _url_ ", text)
    text = _EMAIL.sub(" _email_ ", text)
    text = _PHONE.sub(" _phone_ ", text)
    return _NUMBER.sub(lambda m: " _num_ " if len(m.group()) > 2 else " " + m.group() + " ", text)


def normalise(text: str) -> str:
    """NFC, lower case, masked contacts, squeezed repeats and spaces; diacritics kept."""
    text = nfc(text or "").lower()
    text = _mask(text)
    text = _REPEATS.sub(r"\1", text)
    text = _PUNCT_RUNS.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def folded(normalised: str) -> str:
    """The diacritics-free view of a normalised text, with the shorthand typed without diacritics expanded."""
    marked = strip_marks(normalised)
    # The fold maps one letter to one letter, so the folded text's tokens line up with the typed ones.
    typed, plain = _TOKEN.findall(marked), _TOKEN.findall(marked.translate(FOLD_TABLE))
    get, marked_get = TEENCODE.get, MARKED_SHORTHAND.get
    return " ".join([get(p, p) if p == t else marked_get(t, p) for t, p in zip(typed, plain, strict=True)])


def views(text: str) -> tuple[str, str]:
    """Return (normalised text with diacritics, folded text without them)."""
    n = normalise(text)
    return n, folded(n)


def has_diacritics(text: str) -> bool:
    return strip_diacritics(text) != text
