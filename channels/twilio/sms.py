"""Incoming SMS/MMS and delivery reports: POST /channels/twilio/sms and POST /channels/twilio/sms/status.

An SMS is a report, a follow-up of the sender's case (casework joins it: a quoted code, or a reply
within the window after our last SMS), or a keyword: STOP and its kin opt the number out, START opts
it back in, HELP answers how the hotline works, MOI <text> opens a new case. Reports are stored before
Twilio hears back and answered with an empty TwiML (the acknowledgement goes through the outbox);
only HELP and a few "nothing to store" cases are answered inline.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from enum import StrEnum
from typing import Any

from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from casework import actions
from channels.base import InboundEvent, MalformedPayload, SenderIdentity
from channels.contact import normalise_phone
from channels.intake import accept
from channels.twilio.gsm import to_gsm7
from channels.twilio.webhook import required, settings_of, signed_form, twiml
from kernel.http import SERVICES
from kernel.text import clean, fold

log = logging.getLogger(__name__)

CHANNEL = "sms"
INCOMING_PATH = "/channels/twilio/sms"
STATUS_PATH = "/channels/twilio/sms/status"
MAX_MEDIA = 10  # Twilio's limit per MMS
MMS_TEXT = "(Ảnh gửi qua MMS)"


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


# The whole message, folded (trimmed, lower case, no diacritics), is the keyword. Twilio handles its own
# STOP and START words (it blocks or unblocks the number and confirms), so those get an empty answer.
# HELP, and the Vietnamese words Twilio does not know, we answer; the answer to HỦY says how to undo it.
_KEYWORDS = {
    "stop": Keyword.STOP, "stopall": Keyword.STOP, "unsubscribe": Keyword.STOP, "cancel": Keyword.STOP,
    "end": Keyword.STOP, "quit": Keyword.STOP,
    "start": Keyword.START, "yes": Keyword.START, "unstop": Keyword.START,
    "help": Keyword.HELP, "info": Keyword.HELP,
    "huy": Keyword.STOP, "huy dk": Keyword.STOP, "huy dang ky": Keyword.STOP, "tu choi": Keyword.STOP,
    "tuchoi": Keyword.STOP,
    "bat dau": Keyword.START, "batdau": Keyword.START,
    "huong dan": Keyword.HELP, "tro giup": Keyword.HELP,
}
_TWILIO_ANSWERS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "start", "yes", "unstop"})

# "MOI <nội dung>" opens a new case. Only mới/moi/new: mọi ("mọi người ơi…"), mời and môi are other words.
_NEW_CASE = re.compile(r"^(?:moi|mới|new)(?=$|[\s:,.!\-])[\s:,.!\-]*(.*)$", re.IGNORECASE | re.DOTALL)

# English words that are no Vietnamese syllable, even written without marks ("the", "not", "my" are).
_ENGLISH = frozenset(
    "is are was were there please street road lane broken water flood flooded flooding light lights lamp near "
    "working garbage trash rubbish hello help report since days week this been with from have would could "
    "should still again outside house blocked noise".split())

HELP_TEXT = {
    "vi": "Đường dây nóng 1022: nhắn nội dung phản ánh (sự việc, địa điểm) tới số này, có thể kèm ảnh. "
          "Nhắn MOI <nội dung> để mở phản ánh mới. Tra cứu hồ sơ: {url}/track. Nhắn STOP để ngừng nhận tin.",
    "en": "1022 hotline: text your report (what and where) to this number, photos welcome. "
          "MOI <text> opens a new report. Track a case: {url}/track. STOP to opt out.",
}
NEW_CASE_HELP = {
    "vi": "Để mở phản ánh mới, nhắn: MOI <nội dung phản ánh>, ví dụ: MOI Đường Lê Lợi ngập sâu 30cm.",
    "en": "To open a new report, text: MOI <your report>.",
}
EMPTY_TEXT = {
    "vi": "1022: Tin nhắn trống. Vui lòng nhắn nội dung phản ánh (sự việc, địa điểm).",
    "en": "Your message was empty: please text your report (what and where).",
}
OPTED_OUT_TEXT = {
    "vi": "1022: Bạn sẽ không nhận thêm tin nhắn từ đường dây nóng. Nhắn BAT DAU để nhận lại.",
    "en": "You will get no more messages from the hotline. Text START to resume.",
}
OPTED_IN_TEXT = {
    "vi": "1022: Bạn sẽ nhận lại tin nhắn từ đường dây nóng.",
    "en": "You will get the hotline's messages again.",
}

# Delivery errors Twilio reports most (https://www.twilio.com/docs/api/errors/<code>), for staff to read.
DELIVERY_ERRORS = {
    "30001": "queue overflow",
    "30002": "account suspended",
    "30003": "unreachable: the phone is off or out of coverage",
    "30004": "blocked by the recipient or the carrier",
    "30005": "unknown number: it does not exist (any more)",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier as spam",
    "30008": "unknown error",
    "21610": "unsubscribed: the recipient replied STOP",
}
OPTED_OUT_CODE = "21610"
MAX_MESSAGE_ID = 2**63 - 1


def keyword(body: str, opt_out_type: str = "") -> tuple[Keyword, bool] | None:
    """The keyword a whole message is, and whether Twilio answers it itself; None for anything else.

    `opt_out_type` is the OptOutType field of Twilio's Advanced Opt-Out, which names the keyword it
    handled and answered (its own or one configured on the account).
    """
    told = opt_out_type.strip().lower()
    if told in {k.value for k in Keyword}:
        return Keyword(told), True
    folded = fold(body)
    if folded in _KEYWORDS:
        return _KEYWORDS[folded], folded in _TWILIO_ANSWERS
    return None


def new_case_request(text: str) -> tuple[bool, str]:
    """Whether the text starts with MOI/NEW, and the text without it."""
    match = _NEW_CASE.match(text)
    return (True, match.group(1).strip()) if match else (False, text)


def guess_locale(text: str) -> str:
    """'en' for a text plainly in English (ASCII, two English words or more), else 'vi'."""
    if not text.isascii():
        return "vi"
    words = set(re.findall(r"[a-z]+", text.lower()))
    return "en" if len(words & _ENGLISH) >= 2 else "vi"


def remote_media(form: dict[str, str]) -> tuple[tuple[str, str | None], ...]:
    """The MMS's media (MediaUrlN, MediaContentTypeN), kept by Twilio until a job fetches them."""
    found = []
    for i in range(MAX_MEDIA):
        url = form.get(f"MediaUrl{i}", "").strip()
        if url.startswith(("https://", "http://")):
            found.append((url, form.get(f"MediaContentType{i}", "").strip() or None))
    return tuple(found)


def sender_of(raw: str) -> str:
    """The sender in E.164; a short code or an alphanumeric sender as Twilio gave it."""
    try:
        return normalise_phone(raw)
    except ValueError:
        return raw


def inbound_event(form: dict[str, str], settings: Any, *, text: str, new_case: bool,
                  media: tuple[tuple[str, str | None], ...]) -> InboundEvent:
    """The SMS as casework's inbound event; pure."""
    return InboundEvent(
        channel=CHANNEL,
        provider_message_id=form["MessageSid"].strip(),
        text=text,
        sender=SenderIdentity("phone", sender_of(form["From"].strip())),
        locale=guess_locale(text),
        remote_media=media,
        raw=form,
        reply_window=timedelta(hours=settings.sms_reply_window_hours),
        new_case=new_case,
    )


def _reply(settings: Any, texts: dict[str, str] | None = None, **values: str) -> web.Response:
    """TwiML: an empty answer, or one SMS in Vietnamese then English (folded when the hotline sends GSM-7)."""
    response = MessagingResponse()
    if texts is not None:
        body = "\n".join(texts[locale].format(**values) for locale in ("vi", "en"))
        response.message(to_gsm7(body) if settings.sms_ascii else body)
    return twiml(response)


async def incoming(request: web.Request) -> web.Response:
    """An SMS or MMS from a citizen: a keyword, or a report or follow-up stored before Twilio hears back."""
    settings = settings_of(request)
    form = await signed_form(request)
    sid, sender_raw = required(form, "MessageSid", "From")
    services = request.app[SERVICES]
    body = clean(form.get("Body", ""))
    media = remote_media(form)

    word = keyword(body, form.get("OptOutType", ""))
    if word is not None:
        kind, twilio_answers = word
        changed = False
        if kind is not Keyword.HELP:
            changed = await actions.set_opt_out(services.pool, CHANNEL, sender_of(sender_raw), kind is Keyword.STOP)
        log.info("sms %s: %s keyword (%s)", sid, kind.value.upper(), "changed" if changed else "nothing changed")
        if twilio_answers:
            return _reply(settings)
        texts = {Keyword.HELP: HELP_TEXT, Keyword.STOP: OPTED_OUT_TEXT, Keyword.START: OPTED_IN_TEXT}[kind]
        return _reply(settings, texts, url=settings.public_url)

    new_case, text = new_case_request(body)
    if not text and not media:
        log.info("sms %s: %s", sid, "MOI without a report" if new_case else "empty")
        return _reply(settings, NEW_CASE_HELP if new_case else EMPTY_TEXT)
    event = inbound_event(form, settings, text=text or MMS_TEXT, new_case=new_case, media=media)
    result = await accept(services, event)
    log.info("sms %s: stored as message %s of case %s (%s)", sid, result.message_id, result.case_id,
             "new case" if result.new_case else "follow-up" if result.joined else "replayed")
    return _reply(settings)


def _message_id(value: str | None) -> int | None:
    """Our outbox message id from the callback URL's ?m=; 400 when it is not one."""
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_MESSAGE_ID:
        raise MalformedPayload({"field": "m", "message": "our message id, a positive integer"})
    return int(value)


def delivery_error(code: str) -> str | None:
    """Twilio's ErrorCode as "30003: unreachable: …"; None when there is none."""
    code = code.strip()
    if not code or code == "0":
        return None
    meaning = DELIVERY_ERRORS.get(code)
    return f"{code}: {meaning}" if meaning else code[:20]


async def status_callback(request: web.Request) -> web.Response:
    """Twilio's report on an SMS we sent (queued, sent, delivered, undelivered, failed), in any order."""
    form = await signed_form(request)
    sid, status = required(form, "MessageSid", "MessageStatus")
    message_id = _message_id(request.query.get("m"))
    code = form.get("ErrorCode", "").strip()
    services = request.app[SERVICES]
    row = await actions.record_delivery_report(services.pool, CHANNEL, sid, status.lower(), delivery_error(code),
                                               now=services.clock(), message_id=message_id)
    if code == OPTED_OUT_CODE and form.get("To", "").strip():
        # Twilio refused because the number said STOP to it: keep the outbox from trying again.
        await actions.set_opt_out(services.pool, CHANNEL, sender_of(form["To"].strip()), True)
    if row is None:
        log.info("sms status %s (%s) for a message we do not know", sid, status.lower()[:20])
    else:
        log.info("sms status %s: message %s is %s", sid, row["id"], row["status"])
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    """Register POST /channels/twilio/sms and /channels/twilio/sms/status."""
    app.router.add_post(INCOMING_PATH, incoming)
    app.router.add_post(STATUS_PATH, status_callback)
