"""A mail as bytes, read: pure, and never an exception.

Any charset (declared or not: windows-1258, utf-8, iso-8859-1, RFC 2047 and RFC 2231 headers), HTML-only
mail turned into text, quoted history and signatures cut from the case text (and kept for the raw
record), attachments sorted by type and size, auto-replies, mailing lists, mailer daemons and delivery
reports (DSN bounces, read receipts) recognised. A mail the email package cannot make sense of still
gives the text that can be read, or its raw bytes as text.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any

from casework import codes
from channels.base import Attachment
from channels.contact import normalise_email
from kernel.text import clean

MAX_ATTACHMENTS = 10
MAX_HEADERS = 200
MAX_HEADER_CHARS = 2000
MAX_CUT_CHARS = 100_000  # quoted history kept in the raw record, at most
MAX_REFS = 50
MAX_MESSAGE_ID = 250
EMPTY_TEXT = "(Thư không có nội dung)"
ATTACHMENTS_TEXT = "(Thư gửi kèm tệp)"

# Who never writes a report: answering them could start a loop between two robots.
_DAEMONS = re.compile(r"^(?:mailer-?daemon|mail-?daemon|postmaster|no-?reply|do-?not-?reply|bounces?)(?:[+\-.=].*)?$",
                      re.IGNORECASE)
_BULK = frozenset({"bulk", "junk", "list", "auto_reply"})
# Out-of-office replies that carry none of the headers (RFC 3834 asks for Auto-Submitted; not all do).
_AUTO_SUBJECT = re.compile(r"^\s*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response)|out of (?:the )?office"
                           r"|trả lời tự động|thư trả lời tự động|vắng mặt)\b", re.IGNORECASE)
# A subject that answers or forwards another mail: not a new report's headline.
_REPLY_SUBJECT = re.compile(r"^\s*(?:re|fw|fwd|tl|tr|aw|sv|vs|trả lời|chuyển tiếp)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_OUR_TAG = "[1022]"
_SURROGATES = re.compile("[\udc80-\udcff]")
_BARE_ADDRESS = re.compile(r"[^\s<>\"(),;:]+@[^\s<>\"(),;:]+\.[^\s<>\"(),;:]+")
_MSGID = re.compile(rf"<[^<>\s]{{1,{MAX_MESSAGE_ID - 2}}}>")

# Quoted history. Gmail, Apple Mail, Thunderbird: an attribution line (wrapped over up to three lines) then
# ">" lines. Outlook: a separator or a header block ("From: … Sent: …"), the original below unmarked.
_ATTRIBUTION = re.compile(r"^\s*\S.{0,300}\s(?:wrote|đã viết|viết)\s*:\s*$", re.IGNORECASE | re.DOTALL)
_ATTRIBUTION_START = re.compile(r"^\s*(?:on|vào)\s", re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(?:original message|forwarded by .*|thư gốc|tin nhắn gốc)\s*-{2,}\s*$",
                       re.IGNORECASE)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|từ)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_SENT = re.compile(r"^\s*\*?(?:sent|date|đã gửi|ngày gửi)\s*:", re.IGNORECASE)
_HEADER_TO = re.compile(r"^\s*\*?(?:to|cc|subject|đến|tới|gửi|chủ đề|tiêu đề)\s*:", re.IGNORECASE)
# Signatures: the standard delimiter ("-- "), and the lines phones add at the end. Sign-offs such as
# "Trân trọng," stay: in a Vietnamese letter the name, phone and address that follow them are often
# what the hotline needs to reach the citizen.
_SIG_DELIMITER = re.compile(r"^--\s?$")
_MOBILE = re.compile(r"^\s*(?:sent from|get outlook for|gửi từ|được gửi từ)\b.{0,60}$", re.IGNORECASE)

_ENGLISH = frozenset(
    "the is are was were there please street road broken water flood flooded light lights near working garbage "
    "trash hello help report since days week this been with from have would could should still again outside "
    "house blocked noise my our your dear regards thanks thank".split())

# Attachments: what staff can open safely. Office files with macros, archives (their contents cannot be
# checked) and anything that runs are left out, and recorded as skipped.
_KEEP_TYPES = re.compile(
    r"^(?:image/(?!svg)[\w.+-]+|audio/[\w.+-]+|video/[\w.+-]+|application/pdf|text/plain|text/csv|application/rtf"
    r"|text/rtf|application/msword|application/vnd\.ms-(?:excel|powerpoint)"
    r"|application/vnd\.openxmlformats-officedocument\.[\w.+-]+|application/vnd\.oasis\.opendocument\.[\w.+-]+)$")
_EXECUTABLE_EXT = frozenset(
    ".exe .com .bat .cmd .scr .pif .msi .msp .dll .cpl .jar .js .jse .vbs .vbe .wsf .wsh .ps1 .psm1 .sh .bash "
    ".app .apk .lnk .hta .reg .iso .img .vhd .docm .xlsm .pptm .dotm .xltm .potm .svg .html .htm .xhtml".split())
_ARCHIVE_EXT = frozenset(".zip .rar .7z .tar .gz .tgz .bz2 .xz .cab .arj .lzh .ace".split())
_EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")
# Pictures and PDFs staff open in the browser must be what they say (a broken or disguised file is left out).
_MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",), "image/gif": (b"GIF87a", b"GIF89a"),
          "image/webp": (b"RIFF",), "image/bmp": (b"BM",), "application/pdf": (b"%PDF-",)}
_ARCHIVE_TYPES = re.compile(r"^application/(?:zip|x-zip-compressed|x-rar-compressed|vnd\.rar|x-7z-compressed|gzip"
                            r"|x-gzip|x-tar|x-bzip2|x-xz|java-archive)$")


@dataclass(frozen=True, slots=True)
class Report:
    """A delivery report about a mail we sent: a DSN (bounce, delay, success) or a read receipt."""

    kind: str  # delivery-status | disposition-notification
    original_message_id: str | None
    status: str  # failed | delayed | delivered | read: the outbox's provider_status
    code: str = ""  # the DSN's Status: 5.1.1
    diagnostic: str = ""  # its Diagnostic-Code: "smtp; 550 5.1.1 user unknown"

    @property
    def error(self) -> str | None:
        """'<status code> <diagnostic>' for a failed delivery, None otherwise."""
        if self.status != "failed":
            return None
        return " ".join(p for p in (self.code, self.diagnostic) if p)[:300] or "failed"


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What a mail says, as the hotline reads it."""

    provider_id: str  # the Message-ID, or a hash of the bytes when it has none
    message_id: str | None
    sender: str | None  # the From address, normalised
    display_name: str | None
    subject: str
    text: str  # the new text: quoted history and signature cut
    locale: str
    case_code: str | None
    thread_refs: tuple[str, ...]
    attachments: tuple[Attachment, ...] = ()
    skipped: tuple[dict[str, Any], ...] = ()
    quoted: str = ""
    signature: str = ""
    html_only: bool = False
    auto: str | None = None  # why it must not be answered (an auto-reply, a list, a mailer daemon, ourselves)
    report: Report | None = None
    return_path: str | None = None  # the Return-Path header: "" for the null sender (bounces, auto-replies)
    headers: tuple[tuple[str, str], ...] = ()
    defects: tuple[str, ...] = field(default_factory=tuple)

    def raw(self) -> dict[str, Any]:
        """The record kept with the message: headers and what was cut from the text, JSON-able."""
        out: dict[str, Any] = {"headers": [list(h) for h in self.headers]}
        if self.quoted:
            out["quoted"] = self.quoted[:MAX_CUT_CHARS]
        if self.signature:
            out["signature"] = self.signature[:MAX_CUT_CHARS]
        if self.html_only:
            out["html_only"] = True
        if self.skipped:
            out["skipped"] = list(self.skipped)
        if self.auto:
            out["auto"] = self.auto
        if self.defects:
            out["defects"] = list(self.defects)
        return out


def parse_mail(raw: bytes, *, max_attachment_bytes: int, max_attachments: int = MAX_ATTACHMENTS,
               own_address: str | None = None) -> ParsedMail:
    """Read a mail; `own_address` is the hotline's (mail from it is never answered, refs to its domain name cases)."""
    try:
        msg = message_from_bytes(raw, policy=policy.default)
        return _read(msg, raw, max_attachment_bytes, max_attachments, own_address)
    except Exception as e:  # the email package's corners; the mail is still a citizen's, so keep its bytes as text
        return _unreadable(raw, type(e).__name__)


def provider_id_of(raw: bytes, message_id: str | None) -> str:
    """The mail's id at intake: its Message-ID, or a hash of the bytes (the same mail twice is one item)."""
    return message_id or "sha256:" + hashlib.sha256(raw).hexdigest()


def _read(msg: Message, raw: bytes, max_bytes: int, max_count: int, own_address: str | None) -> ParsedMail:
    headers = _headers(msg)
    get = _getter(headers)
    message_id = _message_id(get("message-id"))
    sender, display_name = _sender(msg, get("from"))
    subject = clean(get("subject"))
    refs = _refs(get("in-reply-to"), get("references"), message_id)
    own_domain = own_address.rpartition("@")[2].lower() if own_address else None
    case_code = (codes.find_all(subject) or _codes_in_refs(refs, own_domain) or [None])[0]
    return_path = _return_path(get("return-path"))

    report = _report(msg, refs)
    texts, used = _body_texts(msg)
    body = "\n\n".join(t for _, t in texts if t.strip())
    html_only = bool(texts) and all(kind == "html" for kind, _ in texts)
    if not texts and not msg.is_multipart() and msg.get_content_maintype() in ("text", "multipart"):
        body = _nfc(_decode(_payload(msg), msg.get_content_charset()))  # a broken multipart: its body as text
    new, quoted, signature = split_reply(body)
    attachments, skipped = _attachments(msg, used, max_bytes, max_count)
    # After decoding: a damaged transfer encoding is found only then.
    defects = tuple(sorted({type(d).__name__ for part in _walk(msg) for d in getattr(part, "defects", ())}))

    text = new
    if subject and not refs and not _REPLY_SUBJECT.match(subject) and _OUR_TAG not in subject \
            and not _fold(text).startswith(_fold(subject)):
        text = f"{subject}\n\n{text}" if text else subject
    if not text:
        text = ATTACHMENTS_TEXT if attachments else EMPTY_TEXT

    return ParsedMail(
        provider_id=provider_id_of(raw, message_id), message_id=message_id, sender=sender,
        display_name=display_name, subject=subject, text=text,
        locale=_locale(new or subject, get("content-language")), case_code=case_code, thread_refs=refs,
        attachments=attachments, skipped=skipped, quoted=quoted, signature=signature, html_only=html_only,
        auto=_auto(get, sender, subject, return_path, own_address, msg), report=report, return_path=return_path,
        headers=headers, defects=defects,
    )


def _unreadable(raw: bytes, error: str) -> ParsedMail:
    """A mail the email package choked on: its bytes as text, nothing else believed."""
    text = _nfc(_decode(raw, None))
    return ParsedMail(provider_id=provider_id_of(raw, None), message_id=None, sender=None, display_name=None,
                      subject="", text=clean(text)[:MAX_CUT_CHARS] or EMPTY_TEXT, locale="vi", case_code=None,
                      thread_refs=(), auto="unreadable mail", defects=(error,))


# Headers and addresses ------------------------------------------------------------------------------------------

def _headers(msg: Message) -> tuple[tuple[str, str], ...]:
    out = []
    for name, value in list(msg.raw_items())[:MAX_HEADERS]:
        out.append((str(name), _decode_header(str(value))[:MAX_HEADER_CHARS]))
    return tuple(out)


def _decode_header(value: str) -> str:
    """A raw header value decoded (RFC 2047 words in any charset), unfolded, NFC; undecodable words as they are."""
    unfolded = re.sub(r"\r?\n[ \t]+", " ", value)
    try:
        text = str(make_header(decode_header(unfolded)))
    except (LookupError, UnicodeError, ValueError, AssertionError, TypeError):
        text = _decode_words(unfolded)
    if _SURROGATES.search(text):  # raw 8-bit bytes the parser kept as surrogates
        text = _decode(text.encode("utf-8", "surrogateescape"), None)
    return clean(text)


def _decode_words(value: str) -> str:
    """Encoded words one by one, each charset tried as bodies are (an unknown one falls back)."""
    try:
        chunks = decode_header(value)
    except Exception:  # words beyond repair: the header as it came
        return value
    out = []
    for chunk, charset in chunks:
        out.append(_decode(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return "".join(out)


def _getter(headers: tuple[tuple[str, str], ...]):  # noqa: ANN202 - a small closure
    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name.lower(), value)
    return lambda name: first.get(name, "")


def _message_id(value: str) -> str | None:
    found = _MSGID.search(value)
    if found:
        return found.group()
    bare = value.strip()
    if bare and " " not in bare and len(bare) <= MAX_MESSAGE_ID - 2 and "@" in bare:
        return f"<{bare}>"
    return None


def _refs(in_reply_to: str, references: str, own_id: str | None) -> tuple[str, ...]:
    """In-Reply-To first (the mail it answers), then References from the newest; each once, the mail's own left out."""
    found: list[str] = []
    for ref in _MSGID.findall(in_reply_to) + list(reversed(_MSGID.findall(references))):
        if ref != own_id and ref not in found:
            found.append(ref)
    return tuple(found[:MAX_REFS])


def _codes_in_refs(refs: tuple[str, ...], own_domain: str | None) -> list[str]:
    """Case codes in our own Message-IDs (`<hotline-12.CODE@…>`, `<case-CODE@…>`) that a reply refers to."""
    if not own_domain:
        return []
    found = []
    for ref in refs:
        match = re.fullmatch(r"<(?:hotline-\d+\.|case-)(\d{10})@([^<>]+)>", ref)
        if match and match.group(2).lower() == own_domain and codes.normalise(match.group(1)):
            found.append(match.group(1))
    return found


def _sender(msg: Message, from_value: str) -> tuple[str | None, str | None]:
    name, address = "", ""
    try:
        header = msg["from"]
        addresses = getattr(header, "addresses", ())
        if addresses:
            name, address = addresses[0].display_name, addresses[0].addr_spec
    except Exception:  # a From the header parser cannot take: read it the old way below
        pass
    if not address or _SURROGATES.search(name + address):  # raw 8-bit bytes: read the decoded value instead
        pairs = getaddresses([from_value]) or [parseaddr(from_value)]
        name, address = pairs[0] if pairs else ("", "")
    try:
        normalised: str | None = normalise_email(clean(address))
    except ValueError:  # an unbalanced quote or bracket: the address in it all the same
        found = _BARE_ADDRESS.search(from_value)
        normalised = normalise_email(found.group()) if found else None
        name = from_value[:found.start()].strip(' "<') if found else name
    return normalised, (clean(name)[:200] or None)


def _return_path(value: str) -> str | None:
    if not value:
        return None
    found = re.search(r"<([^<>]*)>", value)
    return (found.group(1) if found else value).strip()


def _auto(get: Any, sender: str | None, subject: str, return_path: str | None, own_address: str | None,
          msg: Message) -> str | None:
    """Why the mail must not be answered, or None for a person's mail."""
    auto_submitted = get("auto-submitted").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return f"auto-submitted: {auto_submitted[:40]}"
    precedence = get("precedence").strip().lower()
    if precedence in _BULK:
        return f"precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-reply"):
        if get(name):
            return name
    if get("list-id") or get("list-unsubscribe"):
        return "mailing list"
    if msg.get_content_type() == "multipart/report":
        return "report: " + (str(msg.get_param("report-type", "") or "unknown"))[:40].lower()
    if sender and _DAEMONS.match(sender.partition("@")[0]):
        return "mailer daemon"
    if own_address and sender and sender.lower() == own_address.lower():
        return "our own address"
    if return_path == "":
        return "null return path"
    if _AUTO_SUBJECT.match(subject):
        return "auto-reply subject"
    return None


# Bodies -------------------------------------------------------------------------------------------------------

def _walk(msg: Message) -> Iterator[Message]:
    stack = [msg]
    while stack:
        part = stack.pop()
        yield part
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(p for p in reversed(payload) if isinstance(p, Message))


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment" or bool(part.get_filename())
    except Exception:  # an unreadable Content-Disposition: rather an attachment than a body
        return True


def _body_texts(msg: Message) -> tuple[list[tuple[str, str]], set[int]]:
    """The body's text parts in order as (plain|html, text), and the ids of the parts used.

    Alternatives give their plain part (the HTML one when the plain part is blank); related parts their
    root; mixed parts every inline text part (Apple Mail splits text around pictures).
    """
    texts: list[tuple[str, str]] = []
    used: set[int] = set()

    def visit(part: Message, depth: int) -> None:
        ctype = part.get_content_type()
        if depth > 20 or ctype.startswith("message/") or (depth > 0 and _is_attachment(part)):
            return
        children = [p for p in part.get_payload() if isinstance(p, Message)] if part.is_multipart() else []
        if ctype == "multipart/alternative" and children:
            plain = next((p for p in children if p.get_content_type() == "text/plain" and not _is_attachment(p)),
                         None)
            if plain is not None and _decode(_payload(plain), plain.get_content_charset()).strip():
                visit(plain, depth + 1)
            else:
                rich = [p for p in children if p is not plain]
                if rich:
                    visit(rich[-1], depth + 1)
                elif plain is not None:
                    visit(plain, depth + 1)
        elif ctype == "multipart/related" and children:
            visit(children[0], depth + 1)
        elif part.is_multipart():
            for child in children:
                visit(child, depth + 1)
        elif ctype in ("text/plain", "text/html") or (depth == 0 and part.get_content_maintype() == "text"):
            decoded = _nfc(_decode(_payload(part), part.get_content_charset()))
            kind = "html" if ctype == "text/html" else "plain"
            texts.append((kind, html_to_text(decoded) if kind == "html" else decoded))
            used.add(id(part))

    visit(msg, 0)
    return texts, used


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a transfer encoding beyond repair
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _decode(data: bytes, charset: str | None) -> str:
    """Bytes as text: the declared charset if it fits, else UTF-8, else windows-1258 (Vietnamese), else Latin-1."""
    tried = []
    for name in (charset, "utf-8", "cp1258"):
        if not name or name.lower() in ("unknown-8bit", "x-unknown") or name in tried:
            continue
        tried.append(name)
        try:
            return data.decode(name).replace("\r\n", "\n").replace("\r", "\n")
        except (LookupError, UnicodeError):
            continue
    return data.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n")


def _nfc(text: str) -> str:
    """NFC: windows-1258 writes tones as combining marks, which NFC joins to their letters."""
    return unicodedata.normalize("NFC", text)


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


class _HtmlText(HTMLParser):
    """HTML as plain text: blocks on their own lines, blockquotes as '> ' lines, scripts and styles out."""

    BLOCKS = frozenset("address article aside blockquote br dd div dl dt fieldset figcaption figure footer form h1 h2 "
                       "h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td th thead tr ul".split())
    SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
    PARAGRAPHS = frozenset("blockquote h1 h2 h3 h4 h5 h6 ol p table ul".split())  # a blank line after them

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []
        self.depth = 0
        self.skip = 0

    def _break(self, blank: bool = False) -> None:
        text = " ".join("".join(self.line).split())
        self.line = []
        prefix = "> " * self.depth
        if text:
            self.lines.append(prefix + text)
        if blank and self.lines and self.lines[-1].strip("> "):
            self.lines.append(prefix.rstrip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCKS:
            self._break()
            if tag == "blockquote":
                self.depth += 1
            elif tag == "li":
                self.line.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self._break(blank=tag in self.PARAGRAPHS)
            if tag == "blockquote":
                self.depth = max(0, self.depth - 1)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.line.append(data)

    def text(self) -> str:
        self._break()
        while self.lines and not self.lines[-1].strip("> "):
            self.lines.pop()
        return "\n".join(self.lines).strip()


def html_to_text(markup: str) -> str:
    """The text of an HTML mail, one line per block, quoted blocks marked with '>'."""
    parser = _HtmlText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient; this is the last resort for what it still refuses
        return re.sub(r"<[^>]*>", " ", markup)
    return parser.text()


def split_reply(text: str) -> tuple[str, str, str]:
    """(the new text, the quoted history, the signature) of a mail body."""
    lines = text.split("\n")
    kept: list[str] = []
    quoted: list[str] = []
    has_new = False  # a line of the citizen's own above this one (a separator alone is none)
    i = 0
    while i < len(lines):
        line = lines[i]
        if _ORIGINAL.match(line) or _outlook_header(lines, i) or (_RULE.match(line) and _outlook_header(lines, i + 1)):
            if has_new:
                quoted.extend(lines[i:])
                break
        span = _attribution(lines, i)
        if span:
            if has_new:  # a reply written on top: everything from here on is the old mail
                quoted.extend(lines[i:])
                break
            quoted.extend(lines[i:i + span])  # written below or between the quotes: keep what is not quoted
            i += span
            continue
        if line.lstrip().startswith(">"):
            quoted.append(line)
        else:
            kept.append(line)
            has_new = has_new or bool(line.strip() and not (_ORIGINAL.match(line) or _RULE.match(line)))
        i += 1

    signature: list[str] = []
    for j, line in enumerate(kept):
        if _SIG_DELIMITER.match(line):
            signature = kept[j:]
            kept = kept[:j]
            break
    while kept and (not kept[-1].strip() or _MOBILE.match(kept[-1])):
        line = kept.pop()
        if line.strip():
            signature.insert(0, line)
    new = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in kept)).strip()
    return new, "\n".join(quoted).strip(), "\n".join(signature).strip()


def _attribution(lines: list[str], i: int) -> int:
    """How many lines (1 to 3) the attribution starting at line i takes; 0 when there is none."""
    starts = bool(_ATTRIBUTION_START.match(lines[i]))
    for span in (1, 2, 3):
        chunk = " ".join(line.strip() for line in lines[i:i + span])
        if i + span > len(lines) or len(chunk) > 400 or not lines[i + span - 1].strip():
            break
        # "… viết:" alone proves little ("Nay tôi viết:"): every mail program's attribution starts with
        # On/Vào or names the address; one wrapped over several lines starts with On/Vào.
        if span > 1 and not starts:
            break
        if chunk.endswith(":") and _ATTRIBUTION.match(chunk) and (starts or "@" in chunk):
            return span
    return 0


def _outlook_header(lines: list[str], i: int) -> bool:
    """Whether line i opens Outlook's header block of the original: From:, then Sent: (or Date:) and To: (or
    Subject:) within four lines."""
    if i >= len(lines) or not _HEADER_FROM.match(lines[i]):
        return False
    block = lines[i + 1:i + 5]
    return any(_HEADER_SENT.match(line) for line in block) and any(_HEADER_TO.match(line) for line in block)


def _locale(text: str, content_language: str) -> str:
    """'en' for a mail that says it is in English, or is plainly English; else 'vi'."""
    said = content_language.strip().lower()
    if said.startswith(("vi", "en")):
        return said[:2]
    # Vietnamese always has letters beyond Latin-1 (đ, ư, ơ, ạ, ả…); English with a "café" does not.
    if any(ord(ch) > 0xFF for ch in text):
        return "vi"
    words = set(re.findall(r"[a-z]+", text.lower()))
    return "en" if len(words & _ENGLISH) >= 2 else "vi"


# Attachments --------------------------------------------------------------------------------------------------

def _attachments(msg: Message, used: set[int], max_bytes: int,
                 max_count: int) -> tuple[tuple[Attachment, ...], tuple[dict[str, Any], ...]]:
    kept: list[Attachment] = []
    skipped: list[dict[str, Any]] = []
    for n, part in enumerate(_leaves(msg, used), start=1):
        ctype = part.get_content_type()
        filename = _filename(part)
        if ctype.startswith("message/"):
            skipped.append({"filename": filename, "content_type": ctype, "size": None, "reason": "attached message"})
            continue
        data = _payload(part)
        kind, reason = _accepted_type(ctype, filename, data)
        if reason is None and any(type(d).__name__.startswith("InvalidBase64") for d in part.defects):
            reason = "damaged in transfer (invalid base64)"
        if reason is None and not data:
            reason = "empty"
        if reason is None and len(data) > max_bytes:
            reason = f"larger than {max_bytes} bytes"
        if reason is None and len(kept) >= max_count:
            reason = f"more than {max_count} attachments"
        if reason is not None:
            skipped.append({"filename": filename, "content_type": kind, "size": len(data), "reason": reason})
            continue
        name = filename or f"tep-dinh-kem-{n}{mimetypes.guess_extension(kind) or ''}"
        kept.append(Attachment(filename=name, content_type=kind, data=data))
    return tuple(kept), tuple(skipped)


def _leaves(msg: Message, used: set[int]) -> Iterator[Message]:
    """Every part that is neither a container nor a body text we read, in order; no part inside attached mail."""
    stack = [msg]
    while stack:
        part = stack.pop()
        if id(part) in used:
            continue
        ctype = part.get_content_type()
        if part.is_multipart() and not ctype.startswith("message/"):
            payload = part.get_payload()
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))
            continue
        if part is msg and part.get_content_maintype() in ("text", "multipart") and not _is_attachment(part):
            continue  # a single-part mail: its body, read as the text
        if ctype in ("text/plain", "text/html") and not _is_attachment(part):
            continue  # an unused alternative of the body
        yield part


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # an unreadable RFC 2231 parameter
        name = None
    if not name:
        return None
    name = clean(_decode_header(str(name))).replace("\\", "/").rsplit("/", 1)[-1].strip(". ")
    return name[:200] or None


def _accepted_type(ctype: str, filename: str | None, data: bytes) -> tuple[str, str | None]:
    """The type to store the attachment as, and why it is not kept (None: kept)."""
    ext = ("." + filename.rsplit(".", 1)[-1].lower()) if filename and "." in filename else ""
    if ext in _EXECUTABLE_EXT or data.startswith(_EXECUTABLE_MAGIC):
        return ctype, "executable or active content"
    if ext in _ARCHIVE_EXT or _ARCHIVE_TYPES.match(ctype):
        return ctype, "archive: its contents cannot be checked"
    kind = ctype
    if not _KEEP_TYPES.match(kind):
        guessed = mimetypes.guess_type(filename or "")[0] if ctype in ("application/octet-stream", "") else None
        if not (guessed and _KEEP_TYPES.match(guessed)):
            return ctype, "type not accepted"
        kind = guessed
    magic = _MAGIC.get(kind)
    if data and magic is not None and not data.startswith(magic):
        return kind, "content does not match its type"
    return kind, None


# Delivery reports ---------------------------------------------------------------------------------------------

_DSN_ACTIONS = {"failed": "failed", "delayed": "delayed", "delivered": "delivered", "relayed": "delivered",
                "expanded": "delivered"}


def _report(msg: Message, refs: tuple[str, ...]) -> Report | None:
    """The delivery report a multipart/report mail carries, None for any other mail."""
    if msg.get_content_type() != "multipart/report":
        return None
    kind = str(msg.get_param("report-type", "") or "").lower()
    if kind == "delivery-status":
        return _dsn(msg, refs)
    if kind == "disposition-notification":
        return _mdn(msg, refs)
    return None


def _dsn(msg: Message, refs: tuple[str, ...]) -> Report:
    recipients: list[Message] = []
    original = None
    for part in _walk(msg):
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            blocks = part.get_payload()
            if isinstance(blocks, list):
                recipients.extend(b for b in blocks if isinstance(b, Message) and b.get("Action"))
            else:  # not split into blocks: read the fields ourselves
                text = _decode(_payload(part), None)
                recipients.extend(BytesHeaderParser(policy=policy.compat32).parsebytes(block.encode())
                                  for block in re.split(r"\n\s*\n", text) if "action:" in block.lower())
        elif original is None and ctype in ("message/rfc822", "message/global", "text/rfc822-headers",
                                            "message/global-headers"):
            original = _original_id(part)
    # One failed recipient fails the message (we send to one address); otherwise the first report counts.
    chosen = next((b for b in recipients if str(b.get("Action", "")).strip().lower() == "failed"),
                  recipients[0] if recipients else None)
    action = str(chosen.get("Action", "")).strip().lower() if chosen is not None else "failed"
    code = str(chosen.get("Status", "")).strip()[:20] if chosen is not None else ""
    diagnostic = " ".join(str(chosen.get("Diagnostic-Code", "")).split()) if chosen is not None else ""
    return Report("delivery-status", original or (refs[0] if refs else None), _DSN_ACTIONS.get(action, "failed"),
                  code, diagnostic[:280])


def _mdn(msg: Message, refs: tuple[str, ...]) -> Report:
    original = None
    displayed = False
    for part in _walk(msg):
        if part.get_content_type() == "message/disposition-notification":
            fields = part.get_payload()
            blocks = fields if isinstance(fields, list) else [
                BytesHeaderParser(policy=policy.compat32).parsebytes(_payload(part))]
            for block in blocks:
                if isinstance(block, Message) and block.get("Disposition"):
                    displayed = displayed or "displayed" in str(block.get("Disposition")).lower()
                if isinstance(block, Message) and block.get("Original-Message-ID") and original is None:
                    original = _message_id(str(block.get("Original-Message-ID")))
    return Report("disposition-notification", original or (refs[0] if refs else None),
                  "read" if displayed else "not read")


def _original_id(part: Message) -> str | None:
    """The Message-ID of the mail a report returns (the whole mail or only its headers)."""
    try:
        if part.get_content_type() in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                return _message_id(str(inner.get("Message-ID", "")))
            return None
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(_payload(part))
        return _message_id(str(headers.get("Message-ID", "")))
    except Exception:  # a returned mail too broken to read: fall back to the report's own references
        return None
