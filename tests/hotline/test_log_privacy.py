"""No phone number, email address or report text in any log record, whichever logger (aiohttp's too) made it.

Representative flows run with every logger at DEBUG: intake as JSON and multipart, malformed multipart
bodies and a malformed HTTP request (whose parse errors quote the line they choked on), a body with NUL
and lone surrogates, a staff reply and a failing send. Then no captured record may hold any of the
secrets in its message, its arguments, its exception text or its formatted form.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator

import aiohttp
import pytest

from channels.base import TransientSendError
from hotline import pipeline
from kernel import logs
from kernel.http import SERVICES
from kernel.text import jsonb_safe
from tests.conftest import auth

PHONE = "0912 345 678"
EMAIL = "quyet.nguyen@example.vn"
WORDS = ("Zanthorium", "quibblestone")
TEXT = f"Tôi là Nguyễn Văn Quyết, SĐT {PHONE}, email {EMAIL}: bồn {WORDS[0]} tràn ra hẻm {WORDS[1]}"
SECRETS = (*WORDS, "Quyết", EMAIL, "quyet.nguyen", PHONE, "0912345678", "84912345678", "912345678", "345 678")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[_Capture]:
    """Every record of every logger at DEBUG, aiohttp's access, server and web loggers included."""
    handler = _Capture()
    root = logging.getLogger()
    names = ("aiohttp", "aiohttp.access", "aiohttp.server", "aiohttp.web", "aiohttp.internal", "asyncio")
    levels = {name: logging.getLogger(name).level for name in names}
    old_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_root)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _leaks(handler: _Capture) -> list[str]:
    found = []
    for record, line in zip(handler.records, handler.lines, strict=True):
        texts = (record.getMessage(), repr(record.args), record.exc_text or "", line)
        found += [f"{record.name}: {s!r} in {t!r}" for t in texts for s in SECRETS if s in t]
    return found


def _multipart(*parts: bytes) -> bytes:
    return b"".join(parts)


BOUNDARY = "b0und"
TEXT_BYTES = TEXT.encode()
MALFORMED = {
    # A part header line with no colon: aiohttp's header parser quotes the line.
    "part header without a colon": b"--b0und\r\n" + TEXT_BYTES + b"\r\n\r\nx\r\n--b0und--\r\n",
    # A body that does not start with its boundary: "Invalid boundary <the first line>".
    "no opening boundary": TEXT_BYTES + b"\r\n--b0und\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nx"
                           b"\r\n--b0und--\r\n",
    # The text part never ends.
    "unterminated part": b'--b0und\r\nContent-Disposition: form-data; name="text"\r\n\r\n' + TEXT_BYTES,
    # A Content-Disposition aiohttp cannot parse, with the text inside it.
    "bad content disposition": b"--b0und\r\nContent-Disposition: form-data; name=\"text\"; " + TEXT_BYTES
                               + b"\r\n\r\nx\r\n--b0und--\r\n",
}


async def _raw_http(client, request: bytes) -> bytes:
    """Send bytes that are not a well-formed HTTP request, as aiohttp's own parser sees them."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


class _FailingProvider:
    name = "web"
    calls = 0

    async def send(self, message):
        self.calls += 1
        raise TransientSendError(f"provider refused the text {TEXT}")


async def test_no_personal_data_reaches_any_log_record(client, pool, tokens, captured):
    # Intake as JSON, with the contact fields and the text.
    resp = await client.post("/api/v1/reports", json={"text": TEXT, "name": "Nguyễn Văn Quyết", "phone": PHONE,
                                                      "email": EMAIL, "address": f"hẻm {WORDS[1]}"})
    assert resp.status == 201
    code = (await resp.json())["tracking_code"]
    # Intake as multipart, with a photo.
    form = aiohttp.FormData()
    form.add_field("text", TEXT)
    form.add_field("phone", PHONE)
    form.add_field("photos", b"\x89PNG\r\n\x1a\n" + b"0" * 64, filename=f"{WORDS[0]}.png", content_type="image/png")
    assert (await client.post("/api/v1/reports", data=form)).status == 201
    # Malformed multipart bodies, whatever status each gets (a 400, or a 500 when a warning is an error here).
    for body in MALFORMED.values():
        resp = await client.post("/api/v1/reports", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        await resp.read()
    # A malformed HTTP request: a header line that is the citizen's text.
    answer = await _raw_http(client, b"POST /api/v1/reports HTTP/1.1\r\nHost: hotline.test\r\n" + TEXT_BYTES
                             + b"\r\nContent-Length: 2\r\n\r\n{}")
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    # NUL and lone surrogates in a JSON body: cleaned and stored.
    body = json.dumps({"text": f"{TEXT}\x00", "note": f"\ud800 {WORDS[0]}"}).encode()  # ASCII, with \u escapes
    resp = await client.post("/api/v1/reports", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 201
    # A staff reply quoting the citizen's details, then its send failing at the provider.
    case_id = await pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    resp = await client.post(f"/api/v1/cases/{case_id}/replies", json={"text": f"Đã gọi {PHONE}, {EMAIL}"},
                             headers=auth(tokens["agent"]))
    assert resp.status == 201
    message_id = (await resp.json())["message_id"]
    services = client.server.app[SERVICES]
    services.adapters["web"] = provider = _FailingProvider()
    with contextlib.suppress(Exception):  # arq's Retry, or the failure recorded on the message
        await pipeline.send_message({"services": services}, message_id=message_id)
    assert provider.calls == 1
    # A library logging what it was handed, and an exception carrying the text.
    logging.getLogger("some.library").warning("delivered to %s <%s>", PHONE, EMAIL)
    try:
        raise ValueError(TEXT)
    except ValueError as e:
        logging.getLogger("some.library").exception("could not parse %r", e)

    assert len(captured.records) > 10
    assert {"aiohttp.access", "aiohttp.server"} <= {r.name for r in captured.records}
    assert _leaks(captured) == []


def test_scrub_keeps_ids_and_types_and_drops_contacts_and_messages():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "case %s: sent to %s, failed: %s", (
        42, "+84 912 345 678", RuntimeError(TEXT)), None)
    logs.scrub(record)
    assert record.getMessage() == "case 42: sent to ***, failed: RuntimeError"
    try:
        try:
            raise KeyError(EMAIL)
        except KeyError as inner:
            raise ValueError(TEXT) from inner
    except ValueError as e:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), (type(e), e, e.__traceback__))
    logs.scrub(record)
    assert record.exc_info is None
    assert "KeyError" in record.exc_text and "ValueError" in record.exc_text
    assert "direct cause" in record.exc_text and "test_log_privacy.py" in record.exc_text
    assert not any(s in record.exc_text for s in SECRETS)
    args = ({"n": 3, "e": OSError(PHONE)},)
    mapping = logging.LogRecord("x", logging.INFO, __file__, 1, "%(n)s at risk (%(e)s)", args, None)
    logs.scrub(mapping)
    assert mapping.getMessage() == "3 at risk (OSError)"


def test_jsonb_safe_cleans_every_string_and_key_and_keeps_the_shape():
    value = {"a\x00": ["x\ud800y", 1.5, float("inf"), None, True, {"n": ("\udfff",)}], "ok": "Nước 😀"}
    assert jsonb_safe(value) == {"a": ["x\ufffdy", 1.5, None, None, True, {"n": ["\ufffd"]}], "ok": "Nước 😀"}
    assert value["a\x00"][0] == "x\ud800y"  # a copy: the payload as received is not changed
    deep: list = []
    inner = deep
    for _ in range(50_000):  # deeper than any recursion limit
        inner.append([])
        inner = inner[0]
    inner.append("\x00")
    assert jsonb_safe(deep) is not deep
