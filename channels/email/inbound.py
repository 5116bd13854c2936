"""Mail in: the SMTP listener (direct delivery) and IMAP polling (a mailbox elsewhere), both ending in handle().

handle() reads a mail, records a delivery report on the outbound message it is about (bounces, read
receipts: nothing else is stored), or stores the mail as a report or follow-up through channels.intake.
A mail is taken before the sender hears back: the listener answers 250 once it is stored, 451 when the
database is away (the sending server tries again), 552 when it is larger than HOTLINE_MAX_MAIL_BYTES,
550 for recipients outside the hotline's domain. The poller marks a mail seen only after storing it,
and remembers the highest UID taken per mailbox; a mail taken twice (a poller killed between the two)
is one message, found again by its Message-ID.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import re
import socket
import ssl
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import aioimaplib
from aiosmtpd.smtp import SMTP, Envelope, Session
from redis.exceptions import RedisError

from casework import actions
from channels.base import InboundEvent, SenderIdentity
from channels.contact import normalise_email
from channels.email import store
from channels.email.adapter import own_address
from channels.email.parse import ParsedMail, parse_mail
from channels.intake import accept
from kernel.outage import is_outage

log = logging.getLogger(__name__)

CHANNEL = "email"
RATE_WINDOW_SECONDS = 3600
IMAP_TIMEOUT_SECONDS = 60.0
# The SMTP line limit is 1000 octets (RFC 5321 4.5.3.1.6), but mail programs send longer HTML lines; a
# citizen's mail is not refused for that.
LINE_LENGTH_LIMIT = 64 * 1024
TRUNCATED = "\n[…] (thư quá dài: phần còn lại không được lưu)"


@dataclass(frozen=True, slots=True)
class MailResult:
    """What became of one mail."""

    outcome: str  # stored | replayed | report | report_unmatched
    case_id: int | None = None
    message_id: int | None = None
    acknowledged: bool = False


async def handle(services: Any, raw: bytes, envelope_from: str | None, rcpt: Sequence[str]) -> MailResult:
    """Store one mail (or record the delivery report it is); raises when the database is away.

    `envelope_from` is the SMTP MAIL FROM ("" or "<>" for the null sender), None when unknown (IMAP).
    """
    settings = services.settings
    own = own_address(settings.mail_from)
    # Reading a large mail takes seconds of CPU (20 MB of text: about 3 s): not on the event loop.
    mail = await asyncio.to_thread(parse_mail, raw, max_attachment_bytes=settings.max_media_bytes, own_address=own)
    if mail.report is not None:
        return await _record_report(services, mail)

    sender = mail.sender or _address(envelope_from)
    reason = mail.auto
    if reason is None and envelope_from is not None and envelope_from.strip() in ("", "<>"):
        reason = "null envelope sender"
    if reason is None and sender is None:
        reason = "no sender address"
    if reason is None and sender is not None and await over_rate_limit(services, sender, mail.provider_id):
        reason = "rate limit"
    raw_record = mail.raw()
    raw_record["envelope"] = {"mail_from": envelope_from, "rcpt_to": list(rcpt)[:20]}
    text = mail.text
    if len(text) > settings.max_text_chars:  # as long as any report may be; the rest is said to be cut
        raw_record["text_chars"] = len(text)
        text = text[:settings.max_text_chars - len(TRUNCATED)] + TRUNCATED
    if reason is not None:
        raw_record["not_acknowledged"] = reason
    event = InboundEvent(
        channel=CHANNEL,
        provider_message_id=mail.provider_id,
        text=text,
        sender=SenderIdentity("email", sender) if sender else None,
        display_name=mail.display_name,
        locale=mail.locale,
        attachments=mail.attachments,
        raw=raw_record,
        reply_window=timedelta(0),  # mail joins its case only by its thread or a quoted code
        case_code=mail.case_code,
        thread_refs=mail.thread_refs,
        acknowledge=reason is None,
    )
    result = await accept(services, event)
    log.info("mail stored as message %s of case %s (%s%s)", result.message_id, result.case_id,
             "new case" if result.new_case else "follow-up" if result.joined else "replayed",
             f"; not acknowledged: {reason}" if reason else "")
    return MailResult("stored" if result.created else "replayed", result.case_id, result.message_id,
                      acknowledged=reason is None)


async def _record_report(services: Any, mail: ParsedMail) -> MailResult:
    report = mail.report
    assert report is not None
    row = None
    if report.original_message_id:
        row = await actions.record_delivery_report(services.pool, CHANNEL, report.original_message_id, report.status,
                                                   report.error, now=services.clock())
    if row is None:
        log.info("mail %s report (%s) for a message we do not know", report.kind, report.status)
        return MailResult("report_unmatched")
    log.info("mail %s report: message %s is %s", report.kind, row["id"], row["status"])
    return MailResult("report", row["case_id"], row["id"])


def _address(value: str | None) -> str | None:
    value = (value or "").strip().strip("<>")
    try:
        return normalise_email(value) if value else None
    except ValueError:
        return None


async def over_rate_limit(services: Any, sender: str, provider_id: str) -> bool:
    """Whether the sender sent more than mail_rate_limit_per_hour mails in the last hour (this one counted once).

    A sliding window of the mails' ids in Redis, so a mail delivered twice counts once. When Redis is
    away the mail passes: intake never waits for a counter.
    """
    now = services.clock().timestamp()
    key = "hotline:mail-rate:" + hashlib.sha256(sender.lower().encode()).hexdigest()[:32]
    try:
        async with services.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {provider_id: now}, nx=True)
            pipe.zremrangebyscore(key, "-inf", now - RATE_WINDOW_SECONDS)
            pipe.zcard(key)
            pipe.expire(key, RATE_WINDOW_SECONDS + 60)
            _, _, count, _ = await pipe.execute()
    except (RedisError, OSError) as e:
        log.warning("mail rate limit not checked (%s)", type(e).__name__)
        return False
    return int(count) > services.settings.mail_rate_limit_per_hour


def quiet_libraries() -> None:
    """Keep the mail libraries' chatter out of the log: aiosmtpd logs envelope addresses at INFO, aioimaplib
    every line it sends and receives (whole mails) at DEBUG."""
    for name in ("mail.log", "aioimaplib", "aioimaplib.aioimaplib"):
        logging.getLogger(name).setLevel(logging.WARNING)


# The SMTP listener ---------------------------------------------------------------------------------------------

class _Session(SMTP):
    line_length_limit = LINE_LENGTH_LIMIT


class _Handler:
    """aiosmtpd's hooks: recipients at our domain only; 250 once the mail is stored."""

    def __init__(self, services: Any, domain: str | None) -> None:
        self.services = services
        self.domain = domain
        self.busy = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.domain and address.rpartition("@")[2].lower() != self.domain:
            return "550 5.1.1 No such mailbox here: this server takes mail for the 1022 hotline only"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.busy += 1
        self.idle.clear()
        try:
            data = envelope.original_content or envelope.content or b""
            raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
            await handle(self.services, raw, envelope.mail_from, envelope.rcpt_tos)
        except Exception as e:
            # Nothing is lost either way: the sending server keeps the mail and tries again.
            if is_outage(e):
                log.warning("mail not stored: the database is unreachable (%s); answered 451", type(e).__name__)
            else:
                log.error("mail not stored (%s); answered 451", type(e).__name__)
            return "451 4.3.0 Temporary failure: please try again later"
        finally:
            self.busy -= 1
            if not self.busy:
                self.idle.set()
        return "250 2.0.0 OK: stored"


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port` (`[::1]:25` for IPv6) as its parts; ValueError when it is not that."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected host:port, got {listen!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


class SmtpListener:
    """The SMTP server on HOTLINE_SMTP_LISTEN, on the running loop.

    Several processes on one host may each run one: the port is opened with SO_REUSEPORT, and the
    kernel spreads connections between them.
    """

    def __init__(self, services: Any, listen: str) -> None:
        self.services = services
        self.listen = listen
        own = own_address(services.settings.mail_from)
        self.domain = own.rpartition("@")[2] if own else None
        self._handler = _Handler(services, self.domain)
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets, "the listener is not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        host, port = split_listen(self.listen)
        quiet_libraries()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._session, host, port, reuse_port=hasattr(socket, "SO_REUSEPORT"))
        log.info("SMTP listener on %s:%s%s", host, self.port,
                 f" for @{self.domain}" if self.domain else " (any recipient: HOTLINE_MAIL_FROM is not set)")

    def _session(self) -> SMTP:
        settings = self.services.settings
        session = _Session(self._handler, data_size_limit=settings.max_mail_bytes, enable_SMTPUTF8=True,
                           decode_data=False, hostname=self.domain or "hotline-1022", ident="1022 hotline",
                           loop=asyncio.get_running_loop())
        self._sessions.add(session)
        return session

    async def close(self, grace: float = 10.0) -> None:
        """Stop taking connections, let mails being stored finish (up to `grace` seconds), drop the sessions."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._handler.idle.wait(), grace)
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        await server.wait_closed()


async def start_smtp_listener(services: Any) -> SmtpListener:
    """Start the SMTP listener on services.settings.smtp_listen."""
    listener = SmtpListener(services, services.settings.smtp_listen)
    await listener.start()
    return listener


# IMAP polling --------------------------------------------------------------------------------------------------

class ImapError(Exception):
    """The IMAP server refused a command; the poller tries again later."""


@dataclass(frozen=True, slots=True)
class ImapTarget:
    host: str
    port: int
    tls: bool
    user: str
    password: str
    mailbox: str

    @property
    def key(self) -> str:
        """The mailbox's name in mail_cursors."""
        return f"{self.user}@{self.host}:{self.port}/{self.mailbox}"


def imap_target(url: str) -> ImapTarget:
    """imaps://user:pass@host[:port]/MAILBOX (imap:// without TLS); ValueError when it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or parts.username is None:
        raise ValueError("expected imaps://user:password@host[:port]/MAILBOX")
    tls = parts.scheme == "imaps"
    return ImapTarget(host=parts.hostname, port=parts.port or (993 if tls else 143), tls=tls,
                      user=unquote(parts.username), password=unquote(parts.password or ""),
                      mailbox=unquote(parts.path.lstrip("/")) or "INBOX")


_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def _ok(response: Any, what: str) -> Any:
    if response.result != "OK":
        raise ImapError(f"IMAP {what} refused ({response.result})")
    return response


def _quote(value: str) -> str:
    """An IMAP quoted string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox_name(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3): "Phản ánh" → "Ph&HqM-n &AOE-nh"."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + encoded.replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


async def poll_imap(services: Any) -> int:
    """One round on the mailbox of HOTLINE_IMAP_URL: take each unseen mail not taken before; return how many.

    Each mail: fetched without marking it (BODY.PEEK), stored, its UID recorded, then marked seen.
    Mails larger than max_mail_bytes are left unread for a person to see, and not fetched again.
    """
    settings = services.settings
    target = imap_target(settings.imap_url)
    quiet_libraries()
    context = ssl.create_default_context() if target.tls else None
    client = aioimaplib.IMAP4_SSL(target.host, target.port, timeout=IMAP_TIMEOUT_SECONDS, ssl_context=context) \
        if target.tls else aioimaplib.IMAP4(target.host, target.port, timeout=IMAP_TIMEOUT_SECONDS)
    taken = 0
    try:
        await client.wait_hello_from_server()
        _ok(await client.login(_quote(target.user), target.password), "LOGIN")
        selected = _ok(await client.select(_quote(mailbox_name(target.mailbox))), "SELECT")
        validity = next((int(m.group(1)) for line in selected.lines if isinstance(line, bytes | bytearray)
                         for m in [_UIDVALIDITY.search(bytes(line))] if m), 0)
        last = await store.cursor(services.pool, target.key, validity)
        found = _ok(await client.uid_search(f"UID {last + 1}:*", "UNSEEN", charset=None), "SEARCH")
        uids = sorted({int(u) for line in found.lines[:-1] for u in bytes(line).split() if u.isdigit()})
        for uid in (u for u in uids if u > last):  # "n:*" always names the last mail, even below n
            if await _take(services, client, uid):
                taken += 1
            await store.advance(services.pool, target.key, validity, uid)
        with contextlib.suppress(Exception):  # the mails are in; a failed goodbye changes nothing
            await client.logout()
    finally:
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()
    if taken:
        log.info("IMAP: %s mail(s) taken", taken)
    return taken


async def _take(services: Any, client: Any, uid: int) -> bool:
    """Fetch, store and mark one mail; False when it is left unread for a person (too large, or it fails).

    A database outage is raised (the round stops and starts again later, from this mail).
    """
    limit = services.settings.max_mail_bytes
    size = await _size(client, uid)
    if size is not None and size > limit:
        log.warning("IMAP mail uid %s is larger than %s bytes: left unread, not taken", uid, limit)
        return False
    raw = await _fetch(client, uid)
    try:
        # IMAP has no envelope: the parser reads the Return-Path header instead of MAIL FROM.
        await handle(services, raw, None, ())
    except Exception as e:
        if is_outage(e):
            raise
        log.error("IMAP mail uid %s not stored (%s): left unread, not taken", uid, type(e).__name__)
        return False
    _ok(await client.uid("store", str(uid), "+FLAGS.SILENT", r"(\Seen)"), "STORE")
    return True


async def _size(client: Any, uid: int) -> int | None:
    response = _ok(await client.uid("fetch", str(uid), "(RFC822.SIZE)"), "FETCH")
    for line in response.lines:
        match = _SIZE.search(bytes(line)) if isinstance(line, bytes | bytearray) else None
        if match:
            return int(match.group(1))
    return None


async def _fetch(client: Any, uid: int) -> bytes:
    response = _ok(await client.uid("fetch", str(uid), "(BODY.PEEK[])"), "FETCH")
    literals = [bytes(line) for line in response.lines if isinstance(line, bytearray)]
    if not literals:
        raise ImapError(f"IMAP FETCH of uid {uid} returned no mail")
    return max(literals, key=len)
