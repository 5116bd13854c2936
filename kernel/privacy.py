"""Phone numbers and email addresses out of a text: the pure masker the public pages and the logs share.

casework.privacy adds the names people give ("tôi là Nguyễn Văn An") for what the public sees;
kernel.logs uses this part alone as the last line of defence for log records. The masker prefers
hiding too much (a long reference number) to letting a phone number through.
"""

from __future__ import annotations

import re

MASK = "***"

# Between the digits of a phone number people put spaces, dots, dashes, brackets and look-alikes.
_SEPARATOR = r"[\s.\-()\u00b7\u2010-\u2015\u2212\u200b-\u200d\u2060\ufeff]"
# A run of digits with at most three separator characters between any two ("0901 - 234 567").
_NUMBER = re.compile(rf"\(?(?:\+|＋)?\(?\d(?:{_SEPARATOR}{{0,3}}\d)+")
# Fewer digits than this are house numbers, dates, amounts or short codes (113, 1022); a Vietnamese
# phone number has 10 or 11 digits with its leading 0, 9 or 10 after +84, and numbers abroad have 8 or more.
MIN_PHONE_DIGITS = 8
_DATE = re.compile(r"(?:0?[1-9]|[12]\d|3[01])([./-])(?:0?[1-9]|1[0-2])\1(?:19|20)\d\d|(?:19|20)\d\d-\d\d-\d\d")
_MONEY = re.compile(r"[1-9]\d{0,2}(?:([.,])\d{3})(?:\1\d{3})*")
_CURRENCY = re.compile(r"\s?(?:đồng|đ|₫|vnđ|vnd|nghìn|ngàn|triệu|tỷ|tỉ)(?!\w)", re.IGNORECASE)

# Addresses as written, and as people disguise them from robots: "an [at] example [dot] vn".
_AT = r"(?:\s?[@＠]\s?|\s?[\[(]\s?(?:at|a còng)\s?[\])]\s?)"
_DOT = r"(?:\.|\s?[\[(]\s?(?:dot|chấm)\s?[\])]\s?)"
_EMAIL = re.compile(rf"(?<![\w.%+'\-])[\w.%+'\-]+{_AT}[\w\-]+(?:{_DOT}[\w\-]+)+", re.IGNORECASE)


def _mask_number(match: re.Match[str]) -> str:
    found = match.group(0)
    if sum(ch.isdecimal() for ch in found) < MIN_PHONE_DIGITS:
        return found
    bare = found.strip("()")
    if _DATE.fullmatch(bare):
        return found
    if _MONEY.fullmatch(bare) and _CURRENCY.match(match.string, match.end()):
        return found
    # "(0912 345 678, …)": the bracket belongs to the sentence, not to the number.
    return "(" + MASK if found.startswith("(") and ")" not in found else MASK


def mask_contacts(text: str) -> str:
    """Replace email addresses and phone numbers with ***."""
    if not text:
        return text
    return _NUMBER.sub(_mask_number, _EMAIL.sub(MASK, text))
