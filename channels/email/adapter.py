"""Mail to citizens through SMTP: the case code in the subject, every mail of a case in one thread."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from casework import codes
from channels.base import DeliveryReceipt, OutboundMessage, PermanentSendError, TransientSendError
from kernel.time import Clock, utc_now

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 20.0
SUBJECT = {
    "vi": {"ack": "Đã tiếp nhận phản ánh", "reply": "Trả lời phản ánh", "notice": "Cập nhật hồ sơ"},
    "en": {"ack": "Report received", "reply": "Answer to your report", "notice": "Case update"},
}
CASE_WORD = {"vi": "Hồ sơ", "en": "Case"}
FOOTER = {
    "vi": "Trả lời thư này (giữ nguyên tiêu đề) để bổ sung thông tin cho hồ sơ.",
    "en": "Reply to this mail (keep the subject) to add to your case.",
}
# Under a mail that answers its case: the signed link to rate the answer on the status page.
RATE = {
    "vi": "Vấn đề của bạn đã được giải quyết chưa? Mời bạn đánh giá câu trả lời: {url}",
    "en": "Was your problem solved? Please rate this answer: {url}",
}
# How mail goes on the wire. Headers are not folded below 998 octets (RFC 5322's limit): CPython's folding of
# encoded words drops the space between two of them ("Cập nhật hồ sơ" arrives as "Cập nhậthồ sơ"). The body
# is quoted-printable, wrapped at 76, whatever the relay's 8BITMIME.
WIRE = policy.SMTP.clone(max_line_length=998)
# RFC 3834: what a program sends on its own says so, and asks Exchange not to answer it with an out-of-office.
AUTO_SUBMITTED = {"ack": "auto-replied", "notice": "auto-generated"}


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """Where outbound mail goes: HOTLINE_SMTP_URL read."""

    host: str
    port: int
    use_tls: bool
    start_tls: bool
    username: str | None
    password: str | None


def smtp_target(url: str) -> SmtpTarget:
    """smtp://[user:pass@]host[:port][?starttls=true] or smtps://…; ValueError when it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("expected smtp://host[:port] or smtps://host[:port]")
    tls = parts.scheme == "smtps"
    starttls = parse_qs(parts.query).get("starttls", ["false"])[-1].lower() in ("1", "true", "yes")
    return SmtpTarget(
        host=parts.hostname, port=parts.port or (465 if tls else 587 if starttls else 25), use_tls=tls,
        start_tls=starttls and not tls, username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def own_address(mail_from: str | None) -> str | None:
    """The bare address of HOTLINE_MAIL_FROM ("1022 <tiepnhan@…>" → "tiepnhan@…"), domain in lower case."""
    if not mail_from:
        return None
    address = parseaddr(mail_from)[1]
    local, at, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}" if at and local and domain else None


def case_root(case_code: str, domain: str) -> str:
    """The Message-ID every mail of a case refers to, so mail programs show one thread per case."""
    return f"<case-{case_code}@{domain}>"


# A Message-ID as mail carries it: <left@right>, nothing that could break a header.
_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")


def message_id(message: OutboundMessage, domain: str) -> str:
    """Our Message-ID for an outbox message: its id and the case code, so replies and bounces find both."""
    code = f".{message.case_code}" if message.case_code else ""
    return f"<hotline-{message.message_id}{code}@{domain}>"


def build_mail(message: OutboundMessage, mail_from: str, *, now: Any) -> EmailMessage:
    """The mail for an outbox message; pure."""
    sender = own_address(mail_from)
    if sender is None:
        raise PermanentSendError("HOTLINE_MAIL_FROM is not a mail address")
    domain = sender.rpartition("@")[2]
    locale = message.locale if message.locale in SUBJECT else "vi"
    mail = EmailMessage()
    name = parseaddr(mail_from)[0]
    local = sender.rpartition("@")[0]
    mail["From"] = Address(display_name=name, username=local, domain=domain) if name else sender
    mail["To"] = message.recipient or ""
    label = SUBJECT[locale].get(message.kind, SUBJECT[locale]["reply"])
    if message.case_code:
        mail["Subject"] = f"[1022] {CASE_WORD[locale]} {codes.display(message.case_code)}: {label}"
        # One thread per case: its root, then the citizen's mails we answer (the newest is what we reply to).
        root = case_root(message.case_code, domain)
        refs = [ref for ref in message.thread_refs if _MESSAGE_ID.fullmatch(ref)]
        mail["In-Reply-To"] = refs[0] if refs else root
        mail["References"] = " ".join([root, *reversed(refs)])
    else:
        mail["Subject"] = f"[1022] {label}"
    mail["Message-ID"] = message_id(message, domain)
    mail["Date"] = format_datetime(now)
    if message.kind in AUTO_SUBMITTED:
        mail["Auto-Submitted"] = AUTO_SUBMITTED[message.kind]
        mail["X-Auto-Response-Suppress"] = "All"
    rate = f"\n\n{RATE[locale].format(url=message.rating_url)}" if message.rating_url else ""
    mail.set_content(f"{message.text.rstrip()}{rate}\n\n-- \n{FOOTER[locale]}\n", cte="quoted-printable")
    mail["Content-Language"] = locale  # after set_content, which drops every Content-* header
    return mail


def wire_bytes(mail: EmailMessage) -> bytes:
    """The mail as it goes to the SMTP server."""
    return mail.as_bytes(policy=WIRE)


def send_error(error: Exception) -> TransientSendError | PermanentSendError:
    """What an SMTP failure means for the outbox: 4xx, a refused login and connection trouble are worth another try."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        refused = error.recipients
        code = refused[0].code if refused else 550
        return _by_code(code, "recipient refused")
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        # Our configuration, not the message: retried until someone fixes HOTLINE_SMTP_URL.
        return TransientSendError(f"SMTP login refused ({error.code}): check HOTLINE_SMTP_URL",
                                  provider_code=str(error.code))
    if isinstance(error, aiosmtplib.SMTPResponseException) and not isinstance(error, aiosmtplib.SMTPConnectError):
        return _by_code(error.code, type(error).__name__)
    return TransientSendError(f"SMTP server unreachable: {type(error).__name__}")


def _by_code(code: int, what: str) -> TransientSendError | PermanentSendError:
    # The server's text is not kept: it usually quotes the recipient's address.
    if 400 <= code < 500:
        return TransientSendError(f"SMTP {code}: {what}, try again later", provider_code=str(code))
    return PermanentSendError(f"SMTP {code}: {what}", provider_code=str(code))


class EmailAdapter:
    """Mail out through HOTLINE_SMTP_URL from HOTLINE_MAIL_FROM, one SMTP session per mail.

    A session per mail keeps nothing open between sends (relays drop idle sessions anyway), so close()
    has nothing to release; the outbox's concurrency bounds the sessions open at once.
    """

    name = "email"

    def __init__(self, settings: Any, *, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self._target: SmtpTarget | None = None

    def _smtp(self) -> SmtpTarget:
        if self._target is None:
            if not self.settings.smtp_url:
                raise PermanentSendError("outbound mail is off: HOTLINE_SMTP_URL is not set")
            try:
                self._target = smtp_target(self.settings.smtp_url)
            except ValueError as e:
                raise PermanentSendError(f"HOTLINE_SMTP_URL: {e}") from None
        return self._target

    async def close(self) -> None:
        """Nothing is held between sends."""

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Send one mail; the receipt's provider id is its Message-ID, which replies and bounces quote."""
        if not message.recipient:
            raise PermanentSendError("no mail address to send to")
        if not self.settings.mail_from:
            raise PermanentSendError("outbound mail is off: HOTLINE_MAIL_FROM is not set")
        target = self._smtp()
        mail = build_mail(message, self.settings.mail_from, now=self.clock())
        sender = own_address(self.settings.mail_from)
        assert sender is not None  # build_mail checked it
        try:
            await aiosmtplib.send(
                wire_bytes(mail), sender=sender, recipients=[message.recipient], hostname=target.host, port=target.port,
                username=target.username, password=target.password, use_tls=target.use_tls,
                start_tls=target.start_tls, local_hostname=sender.rpartition("@")[2],
                timeout=SEND_TIMEOUT_SECONDS,
            )
        except (aiosmtplib.SMTPException, OSError) as e:
            raise send_error(e) from e
        return DeliveryReceipt(provider_message_id=str(mail["Message-ID"]), status="sent")
