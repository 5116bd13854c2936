"""The IVR's webhooks: each checks Twilio's signature, does the step's I/O, runs the ivr machine, answers TwiML.

Configure the Twilio number with the Voice URL POST {public}/channels/twilio/voice and the call status
callback POST {public}/channels/twilio/voice/status; every other URL is written by ivr into its TwiML.
A call opens at most one case (its CallSid is the provider id), which its status and recording
callbacks then join on the timeline.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import VoiceResponse

from casework import codes
from casework.actions import record_provider_event
from casework.assignment import agents_on_call
from casework.public import public_case
from channels.base import InboundEvent, SenderIdentity
from channels.contact import normalise_phone
from channels.intake import accept
from channels.twilio import ivr
from channels.twilio.client import rest_client
from channels.twilio.webhook import required, settings_of, signed_form, twiml
from kernel.errors import NotFound
from kernel.http import SERVICES
from kernel.text import clean

log = logging.getLogger(__name__)

CHANNEL = "voice"
RING_TIMEOUT_SECONDS = 5.0  # ringing the agents holds the caller's webhook; Twilio waits 15 s for it
RUNG_KEY = "hotline:ivr:rung:{}"  # set once a call's agents were rung, so a retried webhook rings nobody twice
RUNG_TTL_SECONDS = 6 * 3600


async def _step(request: web.Request) -> tuple[dict[str, str], ivr.Config, ivr.State]:
    form = await signed_form(request)
    return form, ivr.Config.from_settings(settings_of(request)), ivr.State.from_query(request.query)


def _number(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _recording(url: str) -> tuple[str, str]:
    """The recording as WAV: Twilio serves a RecordingUrl with ".wav" appended as audio/wav."""
    return url + ".wav", "audio/wav"


def _caller(raw: str | None) -> tuple[SenderIdentity | None, bool]:
    """The caller's identity and whether it can take an SMS.

    A withheld number ("anonymous", "Restricted", Twilio's +266696687) is no identity: the report is
    anonymous (the form, kept with the message, still says what came), never one "citizen" made of
    every caller who hid their number.
    """
    raw = (raw or "").strip()
    if not raw or raw in WITHHELD:
        return None, False
    try:
        return SenderIdentity("phone", normalise_phone(raw)), True
    except ValueError:
        return None, False


# What Twilio puts in From when the caller's number is withheld or unknown.
WITHHELD = frozenset({"anonymous", "Anonymous", "Restricted", "restricted", "Unknown", "unknown", "Blocked",
                      "+266696687", "266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})


async def _open_case(request: web.Request, form: dict[str, str], state: ivr.State, text: str,
                     media: tuple[tuple[str, str | None], ...] = ()) -> ivr.Receipt:
    """Store what the caller said or recorded as the call's case (a retried webhook finds the same one)."""
    (call_sid,) = required(form, "CallSid")
    sender, reachable = _caller(form.get("From"))
    event = InboundEvent(channel=CHANNEL, provider_message_id=call_sid, text=text, sender=sender,
                         locale=state.lang.value, remote_media=media, raw=form)
    result = await accept(request.app[SERVICES], event)
    log.info("call %s: case %s %s", call_sid, result.case_id, "opened" if result.created else "replayed")
    return ivr.Receipt(code=result.tracking_code, sms=reachable)


async def incoming(request: web.Request) -> web.Response:
    """A call comes in: greet and offer the menu."""
    form, cfg, state = await _step(request)
    log.info("call %s: incoming", form.get("CallSid", "?"))
    return twiml(ivr.welcome(cfg, state))


async def menu(request: web.Request) -> web.Response:
    form, cfg, state = await _step(request)
    return twiml(ivr.menu(cfg, state, form.get("Digits")))


async def report(request: web.Request) -> web.Response:
    """The recogniser's transcript of a spoken report becomes the call's case."""
    form, cfg, state = await _step(request)
    speech = clean(form.get("SpeechResult", ""))
    receipt = await _open_case(request, form, state, speech) if speech else None
    return twiml(ivr.report(cfg, state, receipt))


async def recorded(request: web.Request) -> web.Response:
    """A recorded report or voicemail becomes the call's case, its recording queued for fetching."""
    form, cfg, state = await _step(request)
    recording = form.get("RecordingUrl", "").strip()
    receipt = None
    if recording:
        text = clean(form.get("TranscriptionText", "")) or ivr.VOICEMAIL_TEXT
        receipt = await _open_case(request, form, state, text, (_recording(recording),))
    return twiml(ivr.recorded(cfg, state, ivr.Purpose.of(request.query.get("purpose")), receipt))


async def check(request: web.Request) -> web.Response:
    """A keyed case code: looked up only when its check digit holds."""
    form, cfg, state = await _step(request)
    digits = form.get("Digits", "")
    code = codes.normalise(digits)
    case = None
    if code is not None:
        try:
            case = ivr.CaseStatus.from_public(
                await public_case(request.app[SERVICES].pool, code, state.lang.value))
        except NotFound:
            case = None
    return twiml(ivr.check(cfg, state, digits, case))


async def more(request: web.Request) -> web.Response:
    """The caller's key after a case's status: 1 to add to the case."""
    form, cfg, state = await _step(request)
    return twiml(ivr.more(cfg, state, form.get("Digits"), codes.normalise(request.query.get("code", ""))))


async def add(request: web.Request) -> web.Response:
    """What the caller said to add to the case they keyed: a follow-up of that case when it is theirs.

    The code was keyed, so it is the follow-up's quoted code: casework joins it to the case when the
    case was reported from this number (or by its citizen), otherwise it opens a case of its own.
    """
    form, cfg, state = await _step(request)
    code = codes.normalise(request.query.get("code", ""))
    speech = clean(form.get("SpeechResult", ""))
    if not speech or code is None:
        return twiml(ivr.added(cfg, state, code, None, None))
    (call_sid,) = required(form, "CallSid")
    sender, reachable = _caller(form.get("From"))
    event = InboundEvent(channel=CHANNEL, provider_message_id=f"{call_sid}:add:{code}", text=speech, sender=sender,
                         locale=state.lang.value, raw=form, case_code=code, reply_window=timedelta(0))
    result = await accept(request.app[SERVICES], event)
    log.info("call %s: addition for case %s (%s)", call_sid, result.case_id, "joined" if result.joined else "new case")
    return twiml(ivr.added(cfg, state, code, result.joined, ivr.Receipt(code=result.tracking_code, sms=reachable)))


async def agent(request: web.Request) -> web.Response:
    """The caller asked for an agent: queue them and ring the agents on call, or take a voicemail."""
    form, cfg, state = await _step(request)
    services = request.app[SERVICES]
    agents = await agents_on_call(services.pool)
    desk = ivr.desk(cfg, services.clock(), len(agents))
    call_sid = form.get("CallSid", "")
    log.info("call %s: agent desk %s (%d on call)", call_sid or "?", desk.value, len(agents))
    if desk is ivr.Desk.OPEN:
        await _ring(services, call_sid, agents)
    return twiml(ivr.agent(cfg, state, desk))


async def _first_ring(services: Any, call_sid: str) -> bool:
    """True the first time a call's agents are to be rung (always, when Redis cannot say)."""
    if not call_sid:
        return True
    try:
        return bool(await services.redis.set(RUNG_KEY.format(call_sid), "1", nx=True, ex=RUNG_TTL_SECONDS))
    except RedisError as e:
        log.warning("call %s: cannot tell whether agents were rung (%s); ringing", call_sid, type(e).__name__)
        return True


async def _ring(services: Any, call_sid: str, agents: list[dict[str, Any]]) -> None:
    """Call every agent on call through the REST API; their answered call takes the first caller queued.

    A failure is logged: the caller waits all the same, then leaves a voicemail.
    """
    if not await _first_ring(services, call_sid):
        return
    settings = services.settings
    client = rest_client(settings)
    doc = ivr.agent_twiml()
    results: list[Any] = []
    try:
        async with asyncio.timeout(RING_TIMEOUT_SECONDS):
            results = await asyncio.gather(
                *(client.calls.create_async(to=a["phone"], from_=settings.twilio_number, twiml=doc) for a in agents),
                return_exceptions=True)
    except TimeoutError:
        log.warning("call %s: ringing the agents timed out after %.0f s", call_sid, RING_TIMEOUT_SECONDS)
    finally:
        await client.http_client.close()
    for person, result in zip(agents, results, strict=False):
        if isinstance(result, TwilioRestException):
            log.warning("call %s: ringing agent %s refused (HTTP %s, code %s)", call_sid, person["id"], result.status,
                        result.code)
        elif isinstance(result, BaseException):
            log.warning("call %s: ringing agent %s failed (%s)", call_sid, person["id"], type(result).__name__)
        else:
            log.info("call %s: ringing agent %s as %s", call_sid, person["id"], result.sid)


async def wait(request: web.Request) -> web.Response:
    """Asked again and again while the caller is queued."""
    form, cfg, state = await _step(request)
    return twiml(ivr.wait(cfg, state, position=_number(form.get("QueuePosition")),
                          queue_time=_number(form.get("QueueTime"))))


async def dequeued(request: web.Request) -> web.Response:
    form, cfg, state = await _step(request)
    result = form.get("QueueResult", "")
    log.info("call %s: left the queue (%s) after %s s", form.get("CallSid", "?"), result or "?",
             _number(form.get("QueueTime")))
    return twiml(ivr.dequeued(cfg, state, result))


async def status(request: web.Request) -> web.Response:
    """A call status callback goes on the call's case, if it opened one."""
    form = await signed_form(request)
    call_sid, call_status = required(form, "CallSid", "CallStatus")
    changes = {"status": call_status, "duration_seconds": _number(form.get("CallDuration"))}
    case_id = await record_provider_event(request.app[SERVICES].pool, CHANNEL, call_sid, "call_status", changes)
    log.info("call %s: status %s (case %s)", call_sid, call_status, case_id)
    return twiml(VoiceResponse())


async def recording(request: web.Request) -> web.Response:
    """A recording status callback goes on the call's case; a completed recording is queued for fetching.

    The /recorded action queues the same URL, and media_fetches holds a URL once per message, so the
    recording is fetched once whichever arrives first.
    """
    form = await signed_form(request)
    call_sid, recording_sid, recording_status = required(form, "CallSid", "RecordingSid", "RecordingStatus")
    url = form.get("RecordingUrl", "").strip()
    media = [_recording(url)] if recording_status == "completed" and url else []
    changes = {"recording_sid": recording_sid, "status": recording_status,
               "duration_seconds": _number(form.get("RecordingDuration"))}
    case_id = await record_provider_event(request.app[SERVICES].pool, CHANNEL, call_sid, "recording", changes,
                                          media=media)
    log.info("call %s: recording %s %s (case %s)", call_sid, recording_sid, recording_status, case_id)
    return twiml(VoiceResponse())


def setup(app: web.Application) -> None:
    """Register POST /channels/twilio/voice and the IVR's action and callback URLs."""
    app.router.add_post(ivr.PATH, incoming)
    steps = {"menu": menu, "report": report, "recorded": recorded, "check": check, "more": more, "add": add,
             "agent": agent, "wait": wait,
             "dequeued": dequeued, "status": status, "recording": recording}
    for step, handler in steps.items():
        app.router.add_post(f"{ivr.PATH}/{step}", handler)
