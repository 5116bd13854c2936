"""The IVR's call flow as a pure state machine: the call's state and the caller's input in, TwiML out.

Each step is a function of the state carried in the action URL's query (language, tries), what the
caller keyed or said, and the facts its webhook looked up (the new case's code, a case's status, the
agents' desk). No I/O happens here, so every branch is tested by reading the TwiML it returns.

The calls flow: the welcome and its menu (1 report, 2 check a case, 0 an agent, 9 the other language);
a report is spoken (or recorded when nothing is heard) and answered with its case code; a case code is
keyed and its status read out; a caller for an agent waits in the queue, or leaves a voicemail when the
centre is closed, nobody is on call or the wait is too long. Vietnamese first, English on key 9.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from casework import codes
from kernel.time import LOCAL_TZ

PATH = "/channels/twilio/voice"
QUEUE = "1022"
MENU_TRIES = 3  # the menu is offered three times in all; then a polite goodbye
CODE_TRIES = 3  # a mistyped case code may be keyed three times in all
MENU_TIMEOUT = 6  # seconds of silence after the menu before it counts as no choice
CODE_TIMEOUT = 10
RECORD_MAX_SECONDS = 120
WAIT_PAUSE_SECONDS = 15  # the hold message is repeated about this often (the wait URL is asked again)
MAX_ANSWER_CHARS = 1500  # an answer read on the phone; the full text is on the status page and in the SMS
VOICEMAIL_TEXT = "(Lời nhắn thoại)"  # a recorded call's case text; staff listen to the attached recording
# A queued caller's call ends in one of these when an agent took it or the caller hung up; any other
# QueueResult (leave, queue-full, error, system-error, ...) means nobody took the call: voicemail.
ANSWERED_RESULTS = frozenset({"bridged", "bridging-in-process", "redirected-from-bridged"})
GONE_RESULTS = frozenset({"hangup", "redirected"})


class Lang(StrEnum):
    VI = "vi"
    EN = "en"

    @property
    def bcp47(self) -> str:
        """The language tag Twilio's <Say> and <Gather> take."""
        return "vi-VN" if self is Lang.VI else "en-US"

    @property
    def other(self) -> Lang:
        return Lang.EN if self is Lang.VI else Lang.VI


class Purpose(StrEnum):
    """Why a recording was made: a report nobody heard spoken, or a message for the agents."""

    REPORT = "report"
    VOICEMAIL = "voicemail"

    @classmethod
    def of(cls, value: str | None) -> Purpose:
        return cls.VOICEMAIL if value == cls.VOICEMAIL.value else cls.REPORT


class Desk(StrEnum):
    """Whether a caller can reach an agent now."""

    OPEN = "open"
    CLOSED = "closed"  # out of the agents' hours
    NOBODY = "nobody"  # in hours, but no agent is on call
    NO_QUEUE = "no_queue"  # the queue is turned off (ivr_queue_max 0)


@dataclass(frozen=True, slots=True)
class Config:
    """What the flow needs from the settings."""

    base_url: str  # the public URL of PATH: every action URL starts with it
    voice_vi: str
    voice_en: str
    agent_hours: tuple[int, int]  # minutes after local midnight; an end before the start spans midnight
    queue_max: int
    max_wait_seconds: int

    @classmethod
    def from_settings(cls, settings: Any) -> Config:
        return cls(
            base_url=settings.public_url.rstrip("/") + PATH,
            voice_vi=settings.ivr_voice_vi,
            voice_en=settings.ivr_voice_en,
            agent_hours=parse_hours(settings.ivr_agent_hours),
            queue_max=settings.ivr_queue_max,
            max_wait_seconds=settings.ivr_max_wait_seconds,
        )

    def voice(self, lang: Lang) -> str:
        return self.voice_vi if lang is Lang.VI else self.voice_en


@dataclass(frozen=True, slots=True)
class State:
    """What the call carries from step to step in its action URLs' query."""

    lang: Lang = Lang.VI
    tries: int = 0  # failed attempts at the current prompt (silence, a wrong key, a mistyped code)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> State:
        """Read the state back; anything odd falls back to the start (Vietnamese, no tries)."""
        lang = Lang.EN if query.get("lang") == Lang.EN.value else Lang.VI
        raw = query.get("tries", "")
        tries = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 2 else 0
        return cls(lang, tries)

    def query(self, **extra: str) -> str:
        return urlencode({"lang": self.lang.value, "tries": str(self.tries), **extra})


@dataclass(frozen=True, slots=True)
class Receipt:
    """The case a call opened: its code, and whether the caller's number can get the SMS with it."""

    code: str
    sms: bool


@dataclass(frozen=True, slots=True)
class CaseStatus:
    """What the caller hears about a case: the public status page's facts."""

    code: str
    status: str
    unit: str | None
    due_at: datetime | None
    answer: str | None
    open: bool = True  # the caller may still add to it (a closed case is not reopened by the keypad)

    @classmethod
    def from_public(cls, case: Mapping[str, Any]) -> CaseStatus:
        """From casework.public.public_case's answer (in the caller's language)."""
        answers = case.get("answers") or []
        unit = case.get("unit") or {}
        return cls(
            code=case["tracking_code"],
            status=case.get("status_label") or case["status"],
            unit=unit.get("name"),
            due_at=case.get("due_at"),
            answer=answers[-1]["text"] if answers else None,
            open=case["status"] not in ("closed", "rejected"),
        )


def parse_hours(value: str) -> tuple[int, int]:
    """Minutes after midnight of "HH:MM-HH:MM" (as the settings check them)."""
    start, end = (part.strip() for part in value.split("-"))
    minutes = []
    for part in (start, end):
        hours, mins = part.split(":")
        minutes.append(int(hours) * 60 + int(mins))
    return minutes[0], minutes[1]


def in_hours(hours: tuple[int, int], now: datetime) -> bool:
    """Whether `now` (aware) falls in the agents' hours, read in Vietnam's time."""
    local = now.astimezone(LOCAL_TZ)
    minute = local.hour * 60 + local.minute
    start, end = hours
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def desk(cfg: Config, now: datetime, agents_on_call: int) -> Desk:
    """Whether a caller asking for an agent is queued, and if not, why."""
    if not in_hours(cfg.agent_hours, now):
        return Desk.CLOSED
    if cfg.queue_max <= 0:
        return Desk.NO_QUEUE
    if agents_on_call <= 0:
        return Desk.NOBODY
    return Desk.OPEN


# --- what is said -----------------------------------------------------------------------------------

# The line's name is written out digit by digit ("một không hai hai"), as callers say it: a TTS would
# read "1022" as a thousand and twenty-two.
TEXT: dict[str, dict[Lang, str]] = {
    "greeting": {
        Lang.VI: "Đường dây nóng một không hai hai xin chào bạn.",
        Lang.EN: "Welcome to the one zero two two citizens' hotline.",
    },
    "menu": {
        Lang.VI: "Để phản ánh, kiến nghị, xin bấm phím 1. Để tra cứu hồ sơ đã gửi, bấm phím 2. "
                 "Để gặp tổng đài viên, bấm phím 0.",
        Lang.EN: "To report a problem, press 1. To check on a case, press 2. To speak to an agent, press 0.",
    },
    # Offered in the other language, in that language's voice.
    "switch": {
        Lang.VI: "Để nghe tiếng Việt, xin bấm phím 9.",
        Lang.EN: "For English, press 9.",
    },
    "invalid_key": {
        Lang.VI: "Phím không hợp lệ.",
        Lang.EN: "That key is not an option.",
    },
    "no_choice": {
        Lang.VI: "Xin lỗi, chúng tôi chưa nhận được lựa chọn của bạn. Xin bạn vui lòng gọi lại sau.",
        Lang.EN: "Sorry, we did not get your choice. Please call again later.",
    },
    "goodbye": {
        Lang.VI: "Cảm ơn bạn đã gọi Đường dây nóng một không hai hai. Xin chào và hẹn gặp lại.",
        Lang.EN: "Thank you for calling the one zero two two hotline. Goodbye.",
    },
    "report_prompt": {
        Lang.VI: "Xin mời bạn nói nội dung phản ánh, kiến nghị, kèm địa chỉ nơi xảy ra sự việc. "
                 "Nói xong, xin giữ máy.",
        Lang.EN: "Please describe the problem, with the address where it happens. When you have finished, "
                 "please hold.",
    },
    "report_record": {
        Lang.VI: "Chúng tôi chưa nghe rõ. Xin mời bạn để lại lời phản ánh sau tiếng bíp, dài tối đa 2 phút. "
                 "Nói xong, bấm phím thăng hoặc gác máy.",
        Lang.EN: "We did not hear you. Please leave your report after the beep, at most two minutes long. "
                 "When you have finished, press the pound key or hang up.",
    },
    "voicemail_record": {
        Lang.VI: "Xin mời bạn để lại lời nhắn sau tiếng bíp, dài tối đa 2 phút. "
                 "Nói xong, bấm phím thăng hoặc gác máy.",
        Lang.EN: "Please leave a message after the beep, at most two minutes long. "
                 "When you have finished, press the pound key or hang up.",
    },
    "nothing_recorded": {
        Lang.VI: "Chúng tôi chưa nhận được lời nhắn của bạn.",
        Lang.EN: "We did not receive a message.",
    },
    "report_taken": {
        Lang.VI: "Cảm ơn bạn. Phản ánh của bạn đã được tiếp nhận.",
        Lang.EN: "Thank you. Your report has been received.",
    },
    "voicemail_taken": {
        Lang.VI: "Cảm ơn bạn. Lời nhắn của bạn đã được ghi lại, tổng đài viên sẽ xử lý sớm.",
        Lang.EN: "Thank you. Your message has been recorded and an agent will deal with it soon.",
    },
    "your_code": {
        Lang.VI: "Mã hồ sơ của bạn là: {digits}.",
        Lang.EN: "Your case code is: {digits}.",
    },
    "your_code_again": {
        Lang.VI: "Xin nhắc lại, mã hồ sơ của bạn là: {digits}.",
        Lang.EN: "Again, your case code is: {digits}.",
    },
    "code_by_sms": {
        Lang.VI: "Mã hồ sơ cũng sẽ được gửi đến bạn qua tin nhắn SMS.",
        Lang.EN: "You will also receive the code by text message.",
    },
    "check_prompt": {
        Lang.VI: "Xin mời bạn nhập mã hồ sơ gồm 10 chữ số, rồi bấm phím thăng.",
        Lang.EN: "Please key in your 10-digit case code, then press the pound key.",
    },
    "code_missing": {
        Lang.VI: "Chúng tôi chưa nhận được mã hồ sơ.",
        Lang.EN: "We did not get a case code.",
    },
    "code_wrong": {
        Lang.VI: "Mã hồ sơ bạn nhập không đúng.",
        Lang.EN: "That case code is not right.",
    },
    "code_unknown": {
        Lang.VI: "Không tìm thấy hồ sơ nào có mã {digits}.",
        Lang.EN: "We found no case with the code {digits}.",
    },
    "case_status": {
        Lang.VI: "Hồ sơ mã {digits}. Trạng thái: {status}.",
        Lang.EN: "Case {digits}. Status: {status}.",
    },
    "case_unit": {
        Lang.VI: "Đơn vị xử lý: {unit}.",
        Lang.EN: "Handled by: {unit}.",
    },
    "case_no_unit": {
        Lang.VI: "Hồ sơ chưa được chuyển đến đơn vị xử lý.",
        Lang.EN: "The case has not yet been passed to a unit.",
    },
    "case_due": {
        Lang.VI: "Hạn xử lý: {when}.",
        Lang.EN: "Due by {when}.",
    },
    "case_answer": {
        Lang.VI: "Nội dung trả lời: {answer}",
        Lang.EN: "The answer: {answer}",
    },
    "add_offer": {
        Lang.VI: "Để bổ sung thông tin cho hồ sơ này, xin bấm phím 1.",
        Lang.EN: "To add information to this case, press 1.",
    },
    "add_prompt": {
        Lang.VI: "Xin mời bạn nói thông tin bổ sung. Nói xong, xin giữ máy.",
        Lang.EN: "Please say what you would like to add. Stay on the line when you have finished.",
    },
    "add_nothing": {
        Lang.VI: "Xin lỗi, chúng tôi chưa nghe được thông tin bổ sung.",
        Lang.EN: "Sorry, we did not hear anything to add.",
    },
    "added": {
        Lang.VI: "Cảm ơn bạn. Thông tin bổ sung đã được ghi vào hồ sơ {digits}.",
        Lang.EN: "Thank you. What you said has been added to case {digits}.",
    },
    "not_yours": {
        Lang.VI: "Hồ sơ này không được gửi từ số điện thoại của bạn, nên thông tin được ghi nhận thành phản ánh mới.",
        Lang.EN: "This case was not reported from your number, so what you said is taken as a new report.",
    },
    "back_to_menu": {
        Lang.VI: "Nếu không cần hỗ trợ thêm, bạn có thể gác máy.",
        Lang.EN: "If you need nothing else, you may hang up.",
    },
    "connecting": {
        Lang.VI: "Xin bạn vui lòng giữ máy, cuộc gọi đang được chuyển đến tổng đài viên.",
        Lang.EN: "Please hold while we connect you to an agent.",
    },
    "closed": {
        Lang.VI: "Tổng đài viên làm việc từ {start} đến {end} hằng ngày.",
        Lang.EN: "Our agents take calls every day from {start} to {end}.",
    },
    "busy": {
        Lang.VI: "Xin lỗi, hiện chưa có tổng đài viên nào có thể nghe máy.",
        Lang.EN: "Sorry, no agent can take your call right now.",
    },
    "waiting": {
        Lang.VI: "Bạn đang ở vị trí số {position} trong hàng chờ. Xin vui lòng giữ máy.",
        Lang.EN: "You are number {position} in the queue. Please hold.",
    },
    "hold": {
        Lang.VI: "Xin vui lòng giữ máy.",
        Lang.EN: "Please hold.",
    },
}

WEEKDAYS = {
    Lang.VI: ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"),
    Lang.EN: ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")


def text(key: str, lang: Lang, **values: Any) -> str:
    return TEXT[key][lang].format(**values)


def spoken_digits(code: str) -> str:
    """A code read digit by digit: "1, 2, 3, ..." (a TTS reads a run of digits as one big number)."""
    return ", ".join(code)


def spoken_clock(minutes: int, lang: Lang) -> str:
    """A time of day said naturally: "17 giờ 30 phút", "5:30 PM"."""
    hour, minute = divmod(minutes, 60)
    if lang is Lang.VI:
        return f"{hour} giờ {minute} phút" if minute else f"{hour} giờ"
    hour %= 24
    half = "AM" if hour < 12 else "PM"
    twelve = hour % 12 or 12
    return f"{twelve}:{minute:02d} {half}" if minute else f"{twelve} {half}"


def spoken_datetime(value: datetime, lang: Lang) -> str:
    """A deadline in Vietnam's time: "17 giờ 30 phút, thứ Bảy, ngày 5 tháng 12 năm 2026"."""
    local = value.astimezone(LOCAL_TZ)
    clock = spoken_clock(local.hour * 60 + local.minute, lang)
    weekday = WEEKDAYS[lang][local.weekday()]
    if lang is Lang.VI:
        return f"{clock}, {weekday}, ngày {local.day} tháng {local.month} năm {local.year}"
    return f"{clock} on {weekday}, {local.day} {MONTHS_EN[local.month - 1]} {local.year}"


# --- TwiML building blocks ---------------------------------------------------------------------------

def url(cfg: Config, step: str, state: State, **extra: str) -> str:
    """An action URL carrying the state."""
    return f"{cfg.base_url}/{step}?{state.query(**extra)}"


def _say(verb: Any, cfg: Config, lang: Lang, words: str) -> None:
    verb.say(words, voice=cfg.voice(lang), language=lang.bcp47)


def _goodbye(r: VoiceResponse, cfg: Config, lang: Lang) -> VoiceResponse:
    _say(r, cfg, lang, text("goodbye", lang))
    r.hangup()
    return r


def _menu(r: VoiceResponse, cfg: Config, state: State) -> VoiceResponse:
    """The menu in a one-key <Gather>; silence falls through to the <Redirect>, which counts as no choice."""
    gather = Gather(input="dtmf", num_digits=1, timeout=MENU_TIMEOUT, action=url(cfg, "menu", state), method="POST")
    _say(gather, cfg, state.lang, text("menu", state.lang))
    _say(gather, cfg, state.lang.other, text("switch", state.lang.other))
    r.append(gather)
    r.redirect(url(cfg, "menu", state), method="POST")
    return r


def _record(r: VoiceResponse, cfg: Config, state: State, purpose: Purpose, prompt: str) -> VoiceResponse:
    """A recording after the beep; Twilio goes on past <Record> only when nothing was recorded."""
    _say(r, cfg, state.lang, text(prompt, state.lang))
    r.record(
        action=url(cfg, "recorded", replace(state, tries=0), purpose=purpose.value),
        method="POST",
        max_length=RECORD_MAX_SECONDS,
        play_beep=True,
        finish_on_key="#",
        recording_status_callback=f"{cfg.base_url}/recording",
        recording_status_callback_method="POST",
    )
    _say(r, cfg, state.lang, text("nothing_recorded", state.lang))
    return _goodbye(r, cfg, state.lang)


def _check_prompt(r: VoiceResponse, cfg: Config, state: State) -> VoiceResponse:
    """The code in a ten-key <Gather> ended by #; silence falls through to the <Redirect> (a failed try)."""
    gather = Gather(input="dtmf", num_digits=codes.LENGTH, finish_on_key="#", timeout=CODE_TIMEOUT,
                    action=url(cfg, "check", state), method="POST")
    _say(gather, cfg, state.lang, text("check_prompt", state.lang))
    r.append(gather)
    r.redirect(url(cfg, "check", state), method="POST")
    return r


def _code_said(r: VoiceResponse, cfg: Config, lang: Lang, receipt: Receipt) -> VoiceResponse:
    digits = spoken_digits(receipt.code)
    _say(r, cfg, lang, text("your_code", lang, digits=digits))
    r.pause(length=1)
    _say(r, cfg, lang, text("your_code_again", lang, digits=digits))
    if receipt.sms:
        _say(r, cfg, lang, text("code_by_sms", lang))
    return _goodbye(r, cfg, lang)


# --- the steps ---------------------------------------------------------------------------------------

def welcome(cfg: Config, state: State) -> VoiceResponse:
    """An incoming call: the greeting and the menu."""
    r = VoiceResponse()
    _say(r, cfg, state.lang, text("greeting", state.lang))
    return _menu(r, cfg, replace(state, tries=0))


def menu(cfg: Config, state: State, digits: str | None) -> VoiceResponse:
    """The caller's key on the menu (None or "" when they keyed nothing)."""
    key = (digits or "").strip()
    fresh = replace(state, tries=0)
    if key == "1":
        r = VoiceResponse()
        gather = Gather(input="speech", language=state.lang.bcp47, speech_timeout="auto",
                        action=url(cfg, "report", fresh), method="POST")
        _say(gather, cfg, state.lang, text("report_prompt", state.lang))
        r.append(gather)
        # Nothing heard: the caller may not be able to speak to a recogniser; a recording is listened to.
        return _record(r, cfg, fresh, Purpose.REPORT, "report_record")
    if key == "2":
        return _check_prompt(VoiceResponse(), cfg, fresh)
    if key == "0":
        r = VoiceResponse()
        r.redirect(url(cfg, "agent", fresh), method="POST")
        return r
    if key == "9":
        other = State(state.lang.other, 0)
        r = VoiceResponse()
        _say(r, cfg, other.lang, text("greeting", other.lang))
        return _menu(r, cfg, other)
    r = VoiceResponse()
    if key:
        _say(r, cfg, state.lang, text("invalid_key", state.lang))
    tries = state.tries + 1
    if tries >= MENU_TRIES:
        _say(r, cfg, state.lang, text("no_choice", state.lang))
        return _goodbye(r, cfg, state.lang)
    return _menu(r, cfg, replace(state, tries=tries))


def report(cfg: Config, state: State, receipt: Receipt | None) -> VoiceResponse:
    """A spoken report was stored (its receipt), or nothing was understood (None): then a recording."""
    r = VoiceResponse()
    if receipt is None:
        return _record(r, cfg, state, Purpose.REPORT, "report_record")
    _say(r, cfg, state.lang, text("report_taken", state.lang))
    return _code_said(r, cfg, state.lang, receipt)


def recorded(cfg: Config, state: State, purpose: Purpose, receipt: Receipt | None) -> VoiceResponse:
    """A recording was stored as a case (its receipt), or there was none to store."""
    r = VoiceResponse()
    if receipt is None:
        _say(r, cfg, state.lang, text("nothing_recorded", state.lang))
        return _goodbye(r, cfg, state.lang)
    _say(r, cfg, state.lang, text("report_taken" if purpose is Purpose.REPORT else "voicemail_taken", state.lang))
    return _code_said(r, cfg, state.lang, receipt)


def check(cfg: Config, state: State, digits: str | None, case: CaseStatus | None) -> VoiceResponse:
    """A keyed code: refused (again, up to CODE_TRIES), unknown, or its case's status; then the menu."""
    lang = state.lang
    r = VoiceResponse()
    code = codes.normalise(digits or "")
    if code is None:
        _say(r, cfg, lang, text("code_wrong" if (digits or "").strip() else "code_missing", lang))
        tries = state.tries + 1
        if tries < CODE_TRIES:
            return _check_prompt(r, cfg, replace(state, tries=tries))
    elif case is None:
        _say(r, cfg, lang, text("code_unknown", lang, digits=spoken_digits(code)))
    else:
        _say(r, cfg, lang, text("case_status", lang, digits=spoken_digits(case.code), status=case.status))
        _say(r, cfg, lang, text("case_unit", lang, unit=case.unit) if case.unit else text("case_no_unit", lang))
        if case.due_at is not None:
            _say(r, cfg, lang, text("case_due", lang, when=spoken_datetime(case.due_at, lang)))
        if case.answer:
            answer = case.answer if len(case.answer) <= MAX_ANSWER_CHARS else case.answer[:MAX_ANSWER_CHARS] + "…"
            _say(r, cfg, lang, text("case_answer", lang, answer=answer))
        if case.open:
            # The keypad quoted the code: what the caller adds joins this case (if it is theirs).
            gather = Gather(input="dtmf", num_digits=1, timeout=MENU_TIMEOUT,
                            action=url(cfg, "more", replace(state, tries=0), code=case.code), method="POST")
            _say(gather, cfg, lang, text("add_offer", lang))
            r.append(gather)
    r.pause(length=1)
    _say(r, cfg, lang, text("back_to_menu", lang))
    return _menu(r, cfg, replace(state, tries=0))


def more(cfg: Config, state: State, digits: str | None, code: str | None) -> VoiceResponse:
    """After a case's status: 1 adds to it by speech; any other key (or none) goes back to the menu."""
    r = VoiceResponse()
    if (digits or "").strip() == "1" and code is not None:
        gather = Gather(input="speech", language=state.lang.bcp47, speech_timeout="auto",
                        action=url(cfg, "add", state, code=code), method="POST")
        _say(gather, cfg, state.lang, text("add_prompt", state.lang))
        r.append(gather)
        _say(r, cfg, state.lang, text("add_nothing", state.lang))
    return _menu(r, cfg, replace(state, tries=0))


def added(cfg: Config, state: State, code: str | None, joined: bool | None, receipt: Receipt | None) -> VoiceResponse:
    """What was said after the offer: added to the case (`joined`), a new case (not the caller's), or nothing."""
    r = VoiceResponse()
    if receipt is None:
        _say(r, cfg, state.lang, text("add_nothing", state.lang))
        return _menu(r, cfg, replace(state, tries=0))
    if joined:
        _say(r, cfg, state.lang, text("added", state.lang, digits=spoken_digits(code or receipt.code)))
        return _goodbye(r, cfg, state.lang)
    _say(r, cfg, state.lang, text("not_yours", state.lang))
    return _code_said(r, cfg, state.lang, receipt)


def agent(cfg: Config, state: State, desk: Desk) -> VoiceResponse:
    """The caller asked for an agent: the queue when the desk is open, a voicemail otherwise."""
    lang = state.lang
    r = VoiceResponse()
    if desk is Desk.OPEN:
        _say(r, cfg, lang, text("connecting", lang))
        r.enqueue(QUEUE, wait_url=url(cfg, "wait", state), wait_url_method="POST",
                  action=url(cfg, "dequeued", state), method="POST", max_queue_size=cfg.queue_max)
        return r
    if desk is Desk.CLOSED:
        start, end = cfg.agent_hours
        _say(r, cfg, lang, text("closed", lang, start=spoken_clock(start, lang), end=spoken_clock(end, lang)))
    else:
        _say(r, cfg, lang, text("busy", lang))
    return _record(r, cfg, state, Purpose.VOICEMAIL, "voicemail_record")


def wait(cfg: Config, state: State, *, position: int | None, queue_time: int | None) -> VoiceResponse:
    """The hold message while queued (Twilio asks again when it ends); <Leave/> past the wait or the queue."""
    r = VoiceResponse()
    waited = queue_time or 0
    if waited >= cfg.max_wait_seconds or (position is not None and position > cfg.queue_max):
        r.leave()
        return r
    if position is not None and position > 0:
        _say(r, cfg, state.lang, text("waiting", state.lang, position=position))
    else:
        _say(r, cfg, state.lang, text("hold", state.lang))
    r.pause(length=max(1, min(WAIT_PAUSE_SECONDS, cfg.max_wait_seconds - waited)))
    return r


def dequeued(cfg: Config, state: State, queue_result: str | None) -> VoiceResponse:
    """The caller left the queue: the call is over when an agent took it or they hung up; otherwise voicemail."""
    result = (queue_result or "").strip()
    r = VoiceResponse()
    if result in ANSWERED_RESULTS:
        return _goodbye(r, cfg, state.lang)
    if result in GONE_RESULTS:
        r.hangup()
        return r
    _say(r, cfg, state.lang, text("busy", state.lang))
    return _record(r, cfg, state, Purpose.VOICEMAIL, "voicemail_record")


def agent_twiml() -> str:
    """What an agent's phone runs when they answer: take the first caller from the queue."""
    r = VoiceResponse()
    dial = Dial()
    dial.queue(QUEUE)
    r.append(dial)
    return r.to_xml(xml_declaration=False)
