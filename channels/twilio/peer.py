"""A local stand-in for Twilio: its REST API (messages, calls, media, recordings) and its webhooks (SMS, calls).

`TwilioPeer` answers the 2010-04-01 paths the hotline uses with Twilio's JSON, errors and signed status
callbacks, so the twilio library talks to it unchanged (`client.api.base_url = peer.base_url`).
`TwilioSimulator` posts what Twilio posts to the hotline's webhooks, signed, and `Call` walks an IVR call
through its TwiML. For tests, demos and `hotline twilio peer` / `hotline twilio simulate`; never production.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import io
import logging
import math
import re
import secrets
import wave
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from channels.local_peer import LocalPeer
from channels.twilio.gsm import segments
from kernel.time import Clock, utc_now

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
TWILIO_API = "https://api.twilio.com"
E164 = re.compile(r"\+[1-9]\d{6,14}")
MAX_BODY_CHARS = 1600  # Twilio refuses longer bodies (error 21617)
UNREACHABLE_CODE = 30003  # "Unreachable destination handset"

# Twilio's error codes for the HTTP statuses a fault can inject; others get code 20000 + status.
ERROR_CODES = {400: 21211, 401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def silent_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A WAV of silence, the shape of Twilio's recordings (8 kHz, mono, 16 bit)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return out.getvalue()


def error_body(status: int, code: int | None = None, message: str | None = None) -> dict[str, Any]:
    """Twilio's error JSON."""
    code = code or ERROR_CODES.get(status, 20000 + status)
    return {"code": code, "message": message or ERROR_MESSAGES.get(code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


class TwilioError(Exception):
    """A request refused: answered with `status` and Twilio's error JSON."""

    def __init__(self, status: int, code: int | None = None, message: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.code, self.message, self.headers = status, code, message, headers

    def response(self) -> web.Response:
        return web.json_response(error_body(self.status, self.code, self.message), status=self.status,
                                 headers=self.headers)


@dataclass
class Fault:
    """The next `remaining` requests whose path contains `path` answer `status` with Twilio's error JSON."""

    status: int
    remaining: int
    code: int | None = None
    retry_after: float | None = None
    path: str = "/Messages.json"


@dataclass(frozen=True, slots=True)
class Seen:
    """One request the peer answered."""

    method: str
    path: str
    status: int


@dataclass
class PeerMessage:
    """A message the peer accepted; `status` follows the callbacks it sent (queued, sent, delivered...)."""

    sid: str
    to: str
    from_: str
    body: str
    media_urls: tuple[str, ...]
    status_callback: str | None
    resource: dict[str, Any]
    status: str = "queued"


@dataclass(frozen=True, slots=True)
class PeerCall:
    sid: str
    to: str
    from_: str
    twiml: str | None
    url: str | None
    resource: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Callback:
    """A status callback the peer posted, and the HTTP status it got (None: the receiver was unreachable)."""

    url: str
    form: dict[str, str]
    answer: int | None


class TwilioPeer(LocalPeer):
    """Twilio's REST API for one account on 127.0.0.1: `async with TwilioPeer(sid, token) as peer: ...`."""

    def __init__(self, account_sid: str, auth_token: str, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Clock = utc_now, on_message: Callable[[PeerMessage], None] | None = None,
                 on_call: Callable[[PeerCall], None] | None = None,
                 on_callback: Callable[[Callback], None] | None = None, silent_recordings: bool = False) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        super().__init__(host, port)
        self.clock = clock
        self.on_message, self.on_call, self.on_callback = on_message, on_call, on_callback
        # Serve a second of silence for recordings never added (the CLI: calls simulated from another process).
        self.silent_recordings = silent_recordings
        self.messages: list[PeerMessage] = []
        self.calls: list[PeerCall] = []
        self.callbacks: list[Callback] = []
        self.requests: list[Seen] = []
        self.unreachable: set[str] = set()
        self.media: dict[str, tuple[bytes, str]] = {}  # path -> (bytes, content type)
        self._faults: list[Fault] = []
        self._gate = asyncio.Event()
        self._gate.set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle

    def middlewares(self) -> list[Any]:
        return [self._middleware]

    def routes(self, app: web.Application) -> None:
        prefix = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(f"{prefix}/Messages.json", self._create_message)
        app.router.add_get(f"{prefix}/Messages/{{sid}}.json", self._fetch_message)
        app.router.add_post(f"{prefix}/Calls.json", self._create_call)
        app.router.add_get(f"{prefix}/Messages/{{message}}/Media/{{media}}", self._fetch_media)
        app.router.add_get(f"{prefix}/Recordings/{{name}}", self._fetch_recording)

    async def close(self) -> None:
        self._gate.set()
        await self.settle()
        await super().close()

    # -- what tests and demos arrange

    def fail_next(self, status: int, times: int = 1, *, code: int | None = None, retry_after: float | None = None,
                  path: str = "/Messages.json") -> None:
        """Answer the next `times` requests whose path contains `path` with `status` (queued after earlier faults)."""
        self._faults.append(Fault(status, times, code, retry_after, path))

    def add_media(self, data: bytes, content_type: str, message_sid: str | None = None) -> str:
        """Keep a picture as Twilio keeps an MMS's media; its URL (on api.twilio.com, as Twilio gives it)."""
        path = (f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message_sid or new_sid('MM')}"
                f"/Media/{new_sid('ME')}")
        self.media[path] = (data, content_type)
        return TWILIO_API + path

    def add_recording(self, data: bytes) -> str:
        """Keep a call recording; its RecordingUrl (the WAV is served at RecordingUrl + ".wav")."""
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{new_sid('RE')}"
        self.media[path] = (data, "audio/x-wav")
        return TWILIO_API + path

    def hold_callbacks(self) -> None:
        """Keep status callbacks back until release_callbacks() (to order them against the sender's own work)."""
        self._gate.clear()

    def release_callbacks(self) -> None:
        self._gate.set()

    async def settle(self) -> None:
        """Wait until every status callback scheduled so far has been posted."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def requests_to(self, part: str) -> list[Seen]:
        return [seen for seen in self.requests if part in seen.path]

    # -- the API

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                          ) -> web.StreamResponse:
        try:
            fault = self._take_fault(request.path)
            if fault is not None:
                headers = {"Retry-After": str(math.ceil(fault.retry_after))} if fault.retry_after is not None else None
                raise TwilioError(fault.status, fault.code, headers=headers)
            self._authenticate(request)
            if request.match_info.get("account") != self.account_sid:
                raise TwilioError(404)
            response = await handler(request)
        except TwilioError as e:
            response = e.response()
        except web.HTTPMethodNotAllowed:
            response = TwilioError(405, 20004, "Method not allowed").response()
        except web.HTTPException as e:
            response = TwilioError(e.status).response()
        self.requests.append(Seen(request.method, request.path, response.status))
        return response

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.path in path:
                fault.remaining -= 1
                return fault
        return None

    def _authenticate(self, request: web.Request) -> None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            raise TwilioError(401) from None
        if scheme.lower() != "basic" or not (hmac.compare_digest(login.encode(), self.account_sid.encode())
                                             and hmac.compare_digest(password.encode(), self.auth_token.encode())):
            raise TwilioError(401)

    async def _create_message(self, request: web.Request) -> web.Response:
        form = await request.post()
        to, from_, body = (str(form.get(name, "")) for name in ("To", "From", "Body"))
        media = tuple(str(url) for url in form.getall("MediaUrl", []))
        if not to:
            raise TwilioError(400, 21604)
        if not E164.fullmatch(to):
            raise TwilioError(400, 21211)
        if not from_ and not form.get("MessagingServiceSid"):
            raise TwilioError(400, 21603)
        if not body and not media:
            raise TwilioError(400, 21602)
        if len(body) > MAX_BODY_CHARS:
            raise TwilioError(400, 21617)
        sid = new_sid("SM" if not media else "MM")
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        now = format_datetime(self.clock())
        resource = {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": body, "date_created": now,
            "date_sent": now, "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": from_, "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": str(len(media)), "num_segments": str(segments(body)), "price": None, "price_unit": "USD",
            "sid": sid, "status": "queued", "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "to": to, "uri": uri,
        }
        callback = str(form["StatusCallback"]) if form.get("StatusCallback") else None
        message = PeerMessage(sid, to, from_, body, media, callback, resource)
        self.messages.append(message)
        log.debug("peer accepted message %s", sid)
        if self.on_message is not None:
            self.on_message(message)
        if callback:
            task = asyncio.create_task(self._report(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(resource, status=201)

    async def _fetch_message(self, request: web.Request) -> web.Response:
        for message in self.messages:
            if message.sid == request.match_info["sid"]:
                return web.json_response({**message.resource, "status": message.status})
        raise TwilioError(404)

    async def _create_call(self, request: web.Request) -> web.Response:
        form = await request.post()
        to, from_ = str(form.get("To", "")), str(form.get("From", ""))
        if not to:
            raise TwilioError(400, 21201, "No 'To' number is specified")
        if not E164.fullmatch(to):
            raise TwilioError(400, 21211)
        if not form.get("Twiml") and not form.get("Url"):
            raise TwilioError(400, 21205, "Url parameter is required.")
        sid = new_sid("CA")
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}.json"
        now = format_datetime(self.clock())
        resource = {
            "account_sid": self.account_sid, "annotation": None, "answered_by": None, "api_version": API_VERSION,
            "caller_name": None, "date_created": now, "date_updated": now, "direction": "outbound-api",
            "duration": None, "end_time": None, "forwarded_from": None, "from": from_, "from_formatted": from_,
            "group_sid": None, "parent_call_sid": None, "phone_number_sid": None, "price": None,
            "price_unit": "USD", "sid": sid, "start_time": None, "status": "queued", "to": to,
            "to_formatted": to, "uri": uri, "subresource_uris": {
                "recordings": uri.removesuffix(".json") + "/Recordings.json",
                "notifications": uri.removesuffix(".json") + "/Notifications.json"},
        }
        call = PeerCall(sid, to, from_, str(form["Twiml"]) if form.get("Twiml") else None,
                        str(form["Url"]) if form.get("Url") else None, resource)
        self.calls.append(call)
        log.debug("peer accepted call %s", sid)
        if self.on_call is not None:
            self.on_call(call)
        return web.json_response(resource, status=201)

    async def _fetch_media(self, request: web.Request) -> web.Response:
        found = self.media.get(request.path)
        if found is None:
            raise TwilioError(404)
        return web.Response(body=found[0], content_type=found[1])

    async def _fetch_recording(self, request: web.Request) -> web.Response:
        # Twilio serves a recording as WAV at its URL, or with .wav (and as MP3 with .mp3, which we do not fake).
        path = request.path.removesuffix(".wav")
        found = self.media.get(path)
        if found is None and self.silent_recordings and path.rsplit("/", 1)[-1].startswith("RE"):
            found = (silent_wav(), "audio/x-wav")
        if found is None or request.path.endswith((".mp3", ".json")):
            raise TwilioError(404)
        return web.Response(body=found[0], content_type=found[1])

    async def _report(self, message: PeerMessage) -> None:
        """Post "sent" then "delivered" (or "undelivered" with 30003) to the StatusCallback, signed."""
        await self._gate.wait()
        final = "undelivered" if message.to in self.unreachable else "delivered"
        for status in ("sent", final):
            form = {"SmsSid": message.sid, "SmsStatus": status, "MessageStatus": status, "To": message.to,
                    "MessageSid": message.sid, "AccountSid": self.account_sid, "From": message.from_,
                    "ApiVersion": API_VERSION}
            if status == "undelivered":
                form["ErrorCode"] = str(UNREACHABLE_CODE)
            message.status = status
            await self._post_callback(str(message.status_callback), form)

    async def _post_callback(self, url: str, form: dict[str, str]) -> None:
        assert self._session is not None
        signature = RequestValidator(self.auth_token).compute_signature(url, form)
        answer: int | None = None
        try:
            async with self._session.post(url, data=form, headers={"X-Twilio-Signature": signature},
                                          timeout=aiohttp.ClientTimeout(total=15)) as response:
                answer = response.status
        except (aiohttp.ClientError, TimeoutError) as e:
            log.warning("status callback for %s not delivered: %s", form["MessageSid"], type(e).__name__)
        callback = Callback(url, form, answer)
        self.callbacks.append(callback)
        if self.on_callback is not None:
            self.on_callback(callback)


# -- the webhooks' side: what Twilio posts to the hotline


@dataclass(frozen=True, slots=True)
class Verb:
    """One TwiML verb: its name, attributes, text (Say's words, Redirect's URL, Enqueue's queue) and nested verbs."""

    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: tuple[Verb, ...] = ()

    @property
    def said(self) -> list[str]:
        return [child.text for child in self.children if child.name == "Say"]


def parse_twiml(document: str) -> list[Verb]:
    """A TwiML <Response> as its verbs, in order."""
    root = ET.fromstring(document.encode())
    if root.tag != "Response":
        raise ValueError(f"not TwiML: <{root.tag}>")
    return [_verb(element) for element in root]


def _verb(element: ET.Element) -> Verb:
    text = " ".join((element.text or "").split())
    return Verb(element.tag, dict(element.attrib), text, tuple(_verb(child) for child in element))


@dataclass(frozen=True, slots=True)
class Reply:
    """The hotline's answer to a webhook."""

    status: int
    text: str

    @property
    def messages(self) -> list[str]:
        """The texts of the <Message> verbs of a TwiML answer (an SMS reply)."""
        if self.status != 200 or not self.text.lstrip().startswith("<"):
            return []
        return [_message_text(verb) for verb in parse_twiml(self.text) if verb.name == "Message"]


def _message_text(message: Verb) -> str:
    """A <Message>'s words: its text, or its <Body>'s."""
    return " ".join([message.text, *(child.text for child in message.children if child.name == "Body")]).strip()


def country_of(number: str) -> str:
    return "VN" if number.startswith("+84") else "US" if number.startswith("+1") else ""


class TwilioSimulator:
    """Twilio's side of the webhooks: posts signed for `public_url` (what Twilio calls), sent to `app_url`."""

    def __init__(self, app_url: str, public_url: str, account_sid: str, auth_token: str, *,
                 number: str = "+842812345678", session: aiohttp.ClientSession | None = None) -> None:
        self.app_url = app_url.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self.account_sid = account_sid
        self.validator = RequestValidator(auth_token)
        self.number = number  # the hotline's number: To of every SMS and call
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> TwilioSimulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, form: dict[str, str]) -> Reply:
        """POST `form` as Twilio would to `url` (a public URL, or a path under it): signed for the public URL."""
        public = url if urlsplit(url).scheme else self.public_url + url
        if public.startswith(self.public_url + "/"):
            target = self.app_url + public.removeprefix(self.public_url)
        else:
            parts = urlsplit(public)
            target = self.app_url + parts.path + (f"?{parts.query}" if parts.query else "")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"X-Twilio-Signature": self.validator.compute_signature(public, form)}
        async with self._session.post(target, data=form, headers=headers) as response:
            return Reply(response.status, await response.text())

    def sms_form(self, from_: str, body: str, media_urls: Sequence[str | tuple[str, str]] = (),
                 sid: str | None = None) -> dict[str, str]:
        """Every field Twilio posts for an incoming SMS/MMS (media as URLs, or (URL, content type) pairs)."""
        sid = sid or new_sid("MM" if media_urls else "SM")
        form = {
            "ToCountry": country_of(self.number), "ToState": "", "SmsMessageSid": sid,
            "NumMedia": str(len(media_urls)), "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "",
            "SmsStatus": "received", "FromCity": "", "Body": body, "FromCountry": country_of(from_),
            "To": self.number, "ToZip": "", "NumSegments": str(segments(body)), "MessageSid": sid,
            "AccountSid": self.account_sid, "From": from_, "ApiVersion": API_VERSION,
        }
        for i, item in enumerate(media_urls):
            url, content_type = (item, "image/jpeg") if isinstance(item, str) else item
            form[f"MediaUrl{i}"] = url
            form[f"MediaContentType{i}"] = content_type
        return form

    async def post_sms(self, from_: str, body: str, media_urls: Sequence[str | tuple[str, str]] = (),
                       sid: str | None = None) -> Reply:
        """An incoming SMS (MMS with media) from `from_` to the hotline's number."""
        return await self.post("/channels/twilio/sms", self.sms_form(from_, body, media_urls, sid))

    def call(self) -> Call:
        return Call(self)


class Call:
    """One incoming call driven through the IVR's TwiML, as Twilio would run it.

    `heard` is what the last answer said, `said` everything said so far, `pending` the verb waiting for the
    caller (Gather, Record, Enqueue) and `ended` whether the call is over. Redirects are followed.
    """

    def __init__(self, simulator: TwilioSimulator, sid: str | None = None) -> None:
        self.sim = simulator
        self.sid = sid or new_sid("CA")
        self.base: dict[str, str] = {}
        self.said: list[str] = []
        self.heard: list[str] = []
        self.pending: Verb | None = None
        self.ended = False
        self.replies: list[Reply] = []
        self._url = ""  # the public URL of the TwiML being run (relative actions resolve against it)
        self._rest: list[Verb] = []
        self._queued = 0  # seconds waited in a queue

    async def start(self, from_: str, path: str = "/channels/twilio/voice") -> list[str]:
        """Ring the hotline from `from_`; what the IVR says first."""
        caller, called = country_of(from_), country_of(self.sim.number)
        self.base = {
            "Called": self.sim.number, "ToState": "", "CallerCountry": caller, "Direction": "inbound",
            "CallerState": "", "ToZip": "", "CallSid": self.sid, "To": self.sim.number, "CallerZip": "",
            "ToCountry": called, "CalledZip": "", "ApiVersion": API_VERSION, "CalledCity": "",
            "CallStatus": "ringing", "From": from_, "AccountSid": self.sim.account_sid, "CalledCountry": called,
            "CallerCity": "", "ToCity": "", "FromCountry": caller, "Caller": from_, "FromCity": "",
            "CalledState": "", "FromZip": "", "FromState": "",
        }
        self.heard = []
        await self._request(self.sim.public_url + path, {})
        self.base["CallStatus"] = "in-progress"
        return self.heard

    async def press(self, digits: str) -> list[str]:
        """Keys on the keypad for the pending <Gather> (its finishOnKey, '#' by default, ends the input)."""
        gather = self._expect("Gather")
        if "dtmf" not in gather.attrs.get("input", "dtmf"):
            raise ValueError("this <Gather> does not listen to keys")
        finish = gather.attrs.get("finishOnKey", "#")
        if finish and finish in digits:
            digits = digits[:digits.index(finish)]
        elif gather.attrs.get("numDigits"):
            digits = digits[:int(gather.attrs["numDigits"])]
        return await self._act(gather, {"Digits": digits})

    async def speak(self, text: str, confidence: float = 0.9) -> list[str]:
        """Words for the pending speech <Gather>, as Twilio's recogniser hands them over."""
        gather = self._expect("Gather")
        if "speech" not in gather.attrs.get("input", "dtmf"):
            raise ValueError("this <Gather> does not listen to speech")
        return await self._act(gather, {"SpeechResult": text, "Confidence": f"{confidence:.8f}"})

    async def record(self, recording_url: str, duration: int = 10) -> list[str]:
        """A recording made by the pending <Record>."""
        record = self._expect("Record")
        sid = urlsplit(recording_url).path.rstrip("/").rsplit("/", 1)[-1]
        return await self._act(record, {"RecordingUrl": recording_url, "RecordingSid": sid,
                                        "RecordingDuration": str(duration)})

    async def silence(self) -> list[str]:
        """The caller says and presses nothing: Twilio goes on with the TwiML after the verb (no action request),
        except a <Gather actionOnEmptyResult="true">, whose action gets an empty answer. In a queue: wait()."""
        verb = self._expect("Gather", "Record", "Enqueue")
        if verb.name == "Enqueue":
            return await self.wait()
        if verb.name == "Gather" and verb.attrs.get("actionOnEmptyResult") == "true":
            return await self._act(verb, {})
        self.heard, self.pending = [], None
        await self._run(self._rest)
        return self.heard

    async def wait(self) -> list[str]:
        """Hold in the <Enqueue>'s queue for one round of its waitUrl's TwiML (its <Pause>s count as waiting);
        a <Leave/> there takes the caller out, and Twilio requests the <Enqueue>'s action (QueueResult=leave)."""
        enqueue = self._expect("Enqueue")
        self.heard = []
        if not enqueue.attrs.get("waitUrl"):
            return self.heard
        queue = {"QueueSid": "QU" + self.sid[2:], "QueuePosition": "1", "CurrentQueueSize": "1",
                 "AvgQueueTime": str(self._queued), "MaxQueueSize": enqueue.attrs.get("maxQueueSize", "100")}
        reply = await self.sim.post(urljoin(self._url, enqueue.attrs["waitUrl"]),
                                    {**self.base, **queue, "QueueTime": str(self._queued)})
        for verb in parse_twiml(reply.text) if reply.status == 200 else []:
            if verb.name == "Say":
                self._say(verb.text)
            elif verb.name == "Pause":
                self._queued += int(verb.attrs.get("length", "1"))
            elif verb.name == "Leave":
                self.pending = None
                if enqueue.attrs.get("action"):
                    await self._request(enqueue.attrs["action"], {"QueueResult": "leave", "QueueSid": queue["QueueSid"],
                                                                  "QueueTime": str(self._queued)})
                else:
                    await self._run(self._rest)  # no action: the TwiML after <Enqueue> goes on
                break
        return self.heard

    async def hang_up(self) -> None:
        """The caller hangs up; a caller waiting in a queue makes Twilio call the <Enqueue>'s action."""
        verb, self.pending, self.ended = self.pending, None, True
        self.base["CallStatus"] = "completed"
        if verb is not None and verb.name == "Enqueue" and verb.attrs.get("action"):
            self.heard = []
            await self.sim.post(urljoin(self._url, verb.attrs["action"]),
                                {**self.base, "QueueResult": "hangup", "QueueTime": str(self._queued)})

    def _expect(self, *names: str) -> Verb:
        if self.ended or self.pending is None or self.pending.name not in names:
            waiting = "nothing (the call is over)" if self.ended or self.pending is None else f"<{self.pending.name}>"
            raise ValueError(f"the call waits for {waiting}, not <{'/'.join(names)}>")
        return self.pending

    async def _act(self, verb: Verb, fields: dict[str, str]) -> list[str]:
        self.heard, self.pending = [], None
        # No action: Twilio posts to the URL of the TwiML that holds the verb.
        await self._request(verb.attrs.get("action") or self._url, fields)
        return self.heard

    async def _request(self, url: str, fields: dict[str, str]) -> None:
        self._url = urljoin(self._url, url)  # relative URLs resolve against the TwiML's URL, as Twilio does
        reply = await self.sim.post(self._url, {**self.base, **fields})
        self.replies.append(reply)
        if reply.status != 200:
            # Twilio plays its "application error" message and hangs up.
            self.heard.append(f"[application error {reply.status}]")
            self.ended = True
            return
        await self._run(parse_twiml(reply.text))

    async def _run(self, verbs: list[Verb]) -> None:
        queue = list(verbs)
        while queue:
            verb = queue.pop(0)
            if verb.name == "Say":
                self._say(verb.text)
            elif verb.name == "Redirect":
                await self._request(verb.text, {})
                return
            elif verb.name in ("Gather", "Record", "Enqueue", "Dial"):
                for text in verb.said:
                    self._say(text)
                self.pending, self._rest = verb, queue
                return
            elif verb.name in ("Hangup", "Reject"):
                break
            # Play, Pause and the rest change nothing the caller can answer.
        self.ended = True  # the end of the TwiML, or <Hangup>: Twilio hangs up

    def _say(self, text: str) -> None:
        self.heard.append(text)
        self.said.append(text)
