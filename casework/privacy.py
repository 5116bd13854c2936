"""Personal data out of text the public sees: phone numbers, email addresses and the names people give.

The public status page, the public status API and Open311 publish a citizen's description and the
staff's answers. People write their phone number, email or name into both ("tôi là Nguyễn Văn An,
SĐT 0901 234 567"), so every such text goes through `mask_personal` before it is published. Phone
numbers and emails are kernel.privacy's (the logs mask them too); names after a cue are found here.
The masker prefers hiding too much (a long reference number) to publishing a phone number.
"""

from __future__ import annotations

import re
import unicodedata

from kernel.privacy import MASK, mask_contacts
from kernel.text import fold

# What people write before their name, longest first so "tên tôi là" wins over "tên".
_CUES = ("tên tôi là", "tôi tên là", "tôi tên", "tôi là", "em tên là", "em tên", "em là", "mình tên là", "mình là",
         "cháu là", "họ và tên", "họ tên", "tên là", "tên", "người phản ánh", "người gửi", "my name is", "name is",
         "i am", "i'm", "name",
         # typed without diacritics ("ten" alone is the English number)
         "ten toi la", "toi ten la", "toi ten", "toi la", "em ten la", "em la", "minh la", "ho va ten", "ho ten",
         "ten la")
_NAME_CUE = re.compile(
    r"(?<!\w)(?:" + "|".join(c.replace(" ", r"\s+") for c in _CUES) + r")(?!\w)\s*[:：\-–]?\s*",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[^\W\d_]+(?:[ \t]+[^\W\d_]+){0,3}")
# Common Vietnamese family names, so a name typed in lower case is still found.
SURNAMES = frozenset(s.lower() for s in (
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương",
    "Lý", "Đinh", "Đoàn", "Trương", "Lâm", "Mai", "Trịnh", "Lương", "Cao", "Tạ", "Tô", "Hà", "Châu", "Quách", "Thái",
))
# Typed without diacritics ("nguyen van an") a family name is compared folded; with them it is compared
# as written, since folding makes "đường" (street) the family name "Dương".
_SURNAMES_FOLDED = frozenset(fold(s) for s in SURNAMES)
# Words that end a lower-case name: what usually follows it in a sentence.
_AFTER_NAME = frozenset(fold(w) for w in (
    "ở", "tại", "sống", "nhà", "số", "xin", "muốn", "báo", "phản", "và", "đang", "có", "là", "đã", "thấy", "cư",
    "trú", "gọi", "điện", "the", "and", "from", "at", "in", "living", "my",
))


def _name_words(words: list[str]) -> int:
    """How many of the words after a cue are a name: capitalised words, or a known family name and what follows."""
    if not words:
        return 0
    if words[0][0].isupper():
        count = 0
        for word in words:
            if not word[0].isupper():
                break
            count += 1
        return count
    first = words[0].lower()
    if first not in SURNAMES and not (first.isascii() and first in _SURNAMES_FOLDED):
        return 0
    count = 1
    for word in words[1:]:
        if fold(word) in _AFTER_NAME:
            break
        count += 1
    return count


def _mask_names(text: str) -> str:
    out: list[str] = []
    pos = 0
    for cue in _NAME_CUE.finditer(text):
        if cue.start() < pos:
            continue
        words_match = _WORDS.match(text, cue.end())
        if words_match is None:
            continue
        words = words_match.group(0).split()
        keep = _name_words(words)
        if keep == 0:
            continue
        # The end of the last name word, leaving what follows it (space, comma) in place.
        end = cue.end()
        for word in words[:keep]:
            end = text.index(word, end) + len(word)
        out.append(text[pos:cue.end()])
        out.append(MASK)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def mask_personal(text: str) -> str:
    """Replace phone numbers, email addresses and names given after "tôi là", "tên", "my name is" with ***."""
    if not text:
        return text
    return _mask_names(mask_contacts(unicodedata.normalize("NFC", text)))


def mask_optional(text: str | None) -> str | None:
    """mask_personal for a text that may be missing."""
    return mask_personal(text) if text else text
