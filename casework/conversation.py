"""Conversation rules: where a follow-up is answered, and whether it says the problem is not solved.

Pure functions; casework.actions applies them when a follow-up joins its case.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from casework import codes
from casework.models import Status
from kernel.text import fold

# A caller cannot be called back by the hotline's software: what we say to a caller goes by SMS.
_OUTBOUND = {"voice": "sms"}

REOPEN_REASON = "the citizen wrote again after the answer: the problem persists"

# Short messages that close a conversation rather than reopen it ("cảm ơn", "ok", "đã nhận", "thanks").
_CLOSING = re.compile(
    r"^(?:(?:da|vang|da vang|ok|oke|okay|uh|u|dong y|tot|tot qua|rat tot|xin|chan thanh|"
    r"cam on|cam on nhieu|cam on ban|cam on anh|cam on chi|cam on em|thanks?|thank you|thank you very much|"
    r"da nhan|da nhan duoc|da xu ly roi|da giai quyet|hai long|rat hai long|solved|great|good)[\s!.,:)]*)+$"
)
_UNSOLVED_HINT = re.compile(r"\b(?:van|chua|khong|lai|tiep tuc|still|not|again|no)\b")


def outbound_channel(channel: str) -> str:
    """The channel on which a citizen who came in on `channel` is answered."""
    return _OUTBOUND.get(channel, channel)


# Channels where a citizen rates an answer by replying to it ("5", "0"): the answer asks for it.
_RATED_BY_REPLY = frozenset({"sms"})


def rates_by_reply(channel: str) -> bool:
    """Whether a reply on `channel` that is only a rating is read as the rating of the answer it follows."""
    return channel in _RATED_BY_REPLY


def reply_channels(channel: str) -> tuple[str, ...]:
    """The outbound channels whose last message to the sender opens a reply window for `channel`."""
    return (outbound_channel(channel),)


def says_unsolved(text: str) -> bool:
    """Whether a follow-up to an answered case reopens it: anything but a short thank-you or OK does.

    A thank-you that also says the problem is back ("cảm ơn nhưng vẫn còn ngập") reopens it.
    """
    folded = fold(text).strip()
    if not folded:
        return False
    return not (_CLOSING.match(folded) and not _UNSOLVED_HINT.search(folded))


FOLLOW_UP_TEXT = {
    "vi": "1022: Đã nhận tin nhắn bổ sung cho hồ sơ {code}.",
    "en": "1022: We received your message about case {code}.",
}
REOPENED_TEXT = {
    "vi": "1022: Hồ sơ {code} đã được mở lại để xử lý tiếp.",
    "en": "1022: Case {code} has been reopened.",
}


def follow_up_text(locale: str, code: str, *, reopened: bool) -> str:
    table = REOPENED_TEXT if reopened else FOLLOW_UP_TEXT
    return table.get(locale, table["vi"]).format(code=codes.display(code))


# Channels that push to the citizen (the web status page shows every change by itself).
_PUSHED = frozenset({"sms", "voice", "telegram", "email"})

STATUS_NOTICE = {
    Status.IN_PROGRESS: {
        "vi": "1022: Hồ sơ {code} đã được đơn vị tiếp nhận và đang xử lý.",
        "en": "1022: Case {code} has been taken up by the responsible unit.",
    },
    Status.CLOSED: {
        "vi": "1022: Hồ sơ {code} đã đóng.{reason}",
        "en": "1022: Case {code} is closed.{reason}",
    },
    Status.REOPENED: {
        "vi": "1022: Hồ sơ {code} đã được mở lại để xử lý tiếp.",
        "en": "1022: Case {code} has been reopened.",
    },
}


def reaches_citizen(channel: str) -> bool:
    """Whether the case's channel can carry a notice to the citizen."""
    return channel in _PUSHED


def status_notice(locale: str, code: str, current: Status, target: Status, reason: str | None) -> str | None:
    """What the citizen is told of a status change, or None for moves they need not hear of.

    Accepted by the unit (forwarded → in progress), closed and reopened are told; triage, forwarding
    and rejections between units are the hotline's own business (the answer itself is a reply).
    """
    table = STATUS_NOTICE.get(target)
    if table is None or (target is Status.IN_PROGRESS and current is not Status.FORWARDED):
        return None
    template = table.get(locale, table["vi"])
    suffix = f" {reason}" if reason and target is Status.CLOSED else ""
    return template.format(code=codes.display(code), reason=suffix)


@dataclass(frozen=True, slots=True)
class Rating:
    """A citizen's verdict on an answer: a score 1-5 (solved), or not solved (no score)."""

    score: int | None
    solved: bool


# The rating prompt asks for 1-5 or 0 ("0 nếu chưa được giải quyết"); citizens also write the score as
# words, stars or "4/5", and "not solved" in words. Matched on the folded text (no diacritics, lower case).
_NUMBER_WORDS = {"khong": 0, "mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5,
                 "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_SCORE = re.compile(
    r"^(?:(?P<lead>danh gia|cham diem|cham|diem|rating|rate|score|toi chon|chon)\s*[:=\-]?\s*)?"
    r"(?:(?P<digit>[0-5])|(?P<word>[a-z]+))"
    r"\s*(?P<unit>sao|diem|stars?|/\s*5|\*+|tren 5|tren nam)?"
    r"(?:\s*[-,.:;!]*\s*(?:rat hai long|hai long|tot|rat tot|cam on|thanks?|thank you|"
    r"very satisfied|satisfied|ok))?$"
)
_UNSOLVED = re.compile(
    r"^(?:khong|no|nope|(?:van )?chua(?: duoc)?(?: giai quyet| xu ly| xong)(?: xong)?|khong duoc giai quyet|"
    r"khong giai quyet|van chua|not solved|unsolved|not resolved|unresolved|not fixed|still not (?:solved|fixed))$"
)
_STARS = frozenset("\u2605\u2b50\U0001f31f")  # ★ ⭐ 🌟
_EMPTY_STARS = frozenset("\u2606")  # ☆
_TRAILING = re.compile(r"[\s.!,;:)(\-]+$")


def parse_rating(text: str) -> Rating | None:
    """The rating a whole message is ("5", "5 sao", "Đánh giá: 4", "★★★★", "0", "chưa giải quyết"), else None.

    A digit alone is a rating only here: whether the message is read as one is the caller's decision
    (an answered case waiting for it); anything longer than a verdict is a message, never a rating.
    """
    raw = unicodedata.normalize("NFKC", text).replace("\ufe0f", "").strip()
    if raw and all(ch in _STARS or ch in _EMPTY_STARS or ch.isspace() for ch in raw):
        filled = sum(ch in _STARS for ch in raw)
        return Rating(filled, True) if 1 <= filled <= 5 else None
    folded = _TRAILING.sub("", fold(raw)).strip()
    if len(folded) > 60:
        return None
    if _UNSOLVED.match(folded):
        return Rating(None, False)
    match = _SCORE.match(folded)
    if match is None:
        return None
    if match["digit"] is not None:
        score = int(match["digit"])
    else:
        # A number in words needs a unit or a lead ("năm sao", "đánh giá năm"): "hai", "ba", "nam" alone are words.
        if match["word"] not in _NUMBER_WORDS or not (match["unit"] or match["lead"]):
            return None
        if match["word"] == "khong" and match["unit"] == "sao":
            return None  # "không sao": "no matter, it is fine"
        score = _NUMBER_WORDS[match["word"]]
    return Rating(score, True) if score else Rating(None, False)


RATED_TEXT = {
    "vi": "1022: Cảm ơn bạn đã đánh giá câu trả lời cho hồ sơ {code}.",
    "en": "1022: Thank you for rating the answer to case {code}.",
}
NOTED_TEXT = {
    "vi": "1022: Đã ghi nhận ý kiến của bạn về hồ sơ {code}. Nhắn MOI <nội dung> nếu cần phản ánh lại.",
    "en": "1022: Your feedback on case {code} is noted. Text MOI <your report> to report it again.",
}


def rated_text(locale: str, code: str, result: str) -> str:
    """What the citizen is told once their rating is stored: thanks, the case reopened, or (too late) noted."""
    table = {"reopened": REOPENED_TEXT, "too_late": NOTED_TEXT}.get(result, RATED_TEXT)
    return table.get(locale, table["vi"]).format(code=codes.display(code))
