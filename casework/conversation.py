"""Conversation rules: where a follow-up is answered, and whether it says the problem is not solved.

Pure functions; casework.actions applies them when a follow-up joins its case.
"""

from __future__ import annotations

import re

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
    r"da nhan|da nhan duoc|da xu ly roi|da giai quyet|solved|great|good)[\s!.,:)]*)+$"
)
_UNSOLVED_HINT = re.compile(r"\b(?:van|chua|khong|lai|tiep tuc|still|not|again|no)\b")


def outbound_channel(channel: str) -> str:
    """The channel on which a citizen who came in on `channel` is answered."""
    return _OUTBOUND.get(channel, channel)


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
