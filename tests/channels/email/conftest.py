"""Fixtures for the email channel: .eml files, the hotline's SMTP listener, a local SMTP server that collects
what we send (answers scripted), and a real IMAP server (Debian's dovecot) on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller

from channels.email.inbound import SmtpListener
from hotline import pipeline
from hotline.services import Services
from hotline.settings import Settings
from kernel.time import FixedClock

FIXTURES = Path(__file__).parent / "fixtures"
HOTLINE = "tiepnhan@hotline.test"
MAIL_FROM = f"1022 TP.HCM <{HOTLINE}>"
CITIZEN = "an.nguyen@example.test"
DOVECOT = "/usr/sbin/dovecot"
IMAP_USER = HOTLINE
IMAP_PASSWORD = "matkhau-1022"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eml(name: str, **values: str) -> bytes:
    """A fixture's bytes with its @@NAME@@ placeholders filled (our Message-IDs and codes are made at run time)."""
    raw = (FIXTURES / name).read_bytes()
    for key, value in values.items():
        raw = raw.replace(f"@@{key.upper()}@@".encode(), value.encode())
    return raw


@dataclass
class Collected:
    """The local SMTP server's side: what it was given, and the answers it gives next."""

    mails: list[tuple[str, list[str], EmailMessage, bytes]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # for the next DATA commands, in order; then 250
    rcpt_answers: list[str] = field(default_factory=list)  # likewise for RCPT TO
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer_next(self, *answers: str) -> None:
        with self.lock:
            self.answers.extend(answers)

    def refuse_next_recipient(self, answer: str) -> None:
        with self.lock:
            self.rcpt_answers.append(answer)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.lock:
            answer = self.rcpt_answers.pop(0) if self.rcpt_answers else None
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            return answer
        raw = envelope.original_content
        mail = message_from_bytes(raw, policy=policy.default)
        with self.lock:
            self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), mail, raw))
        return "250 2.0.0 queued"


@pytest.fixture
def collector() -> Iterator[tuple[Collected, int]]:
    """A local SMTP server (aiosmtpd's Controller, on its own thread) that keeps every mail it takes."""
    handler = Collected()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True, decode_data=False,
                            server_hostname="smtp.local.test", ready_timeout=10)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
async def mail_settings(settings: Settings, pool: Any, collector: tuple[Collected, int]) -> Settings:
    """The suite's settings with mail on: out through the collector, from tiepnhan@hotline.test."""
    await pool.execute("TRUNCATE mail_cursors")
    return settings.model_copy(update={
        "smtp_url": f"smtp://127.0.0.1:{collector[1]}", "mail_from": MAIL_FROM,
        "public_base_url": "https://1022.hotline.test",
    })


@pytest.fixture
async def services(mail_settings: Settings, pool: Any) -> AsyncIterator[Services]:
    """A worker's services (adapters included) on a clock the test moves."""
    started = await Services.start(mail_settings)
    started.clock = FixedClock(await pool.fetchval("SELECT now()"))
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture
async def listener(services: Services) -> AsyncIterator[SmtpListener]:
    """The hotline's SMTP listener on a free loopback port."""
    smtp = SmtpListener(services, "127.0.0.1:0")
    await smtp.start()
    try:
        yield smtp
    finally:
        await smtp.close()


async def deliver(port: int, raw: bytes, *, mail_from: str = CITIZEN, to: str = HOTLINE) -> tuple[dict, str]:
    """Hand a mail to an SMTP server on loopback as a sending server would ("" sends MAIL FROM:<>)."""
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10, start_tls=False,
                           local_hostname="mx.example.test")
    async with smtp:
        return await smtp.sendmail(mail_from, [to], raw)


async def drain(services: Services) -> None:
    """Process and send everything due now, as the worker's loops do."""
    while await pipeline.process_pending(services) or await pipeline.send_pending(services):
        pass


# A real IMAP server ---------------------------------------------------------------------------------------------

DOVECOT_CONF = """protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _install_dovecot() -> None:
    """Debian's dovecot-imapd, installed when missing (apt-get update first only if the install fails)."""
    if os.path.exists(DOVECOT):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "dovecot-imapd"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)


@dataclass(frozen=True)
class Imap:
    port: int
    user: str
    password: str

    def url(self, mailbox: str) -> str:
        return f"imap://{self.user.replace('@', '%40')}:{self.password}@127.0.0.1:{self.port}/{mailbox}"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Imap]:
    """Dovecot on 127.0.0.1 from a private configuration (plain LOGIN, a maildir owned by nobody)."""
    _install_dovecot()
    home = Path(tempfile.mkdtemp(prefix="hotline-dovecot-"))
    home.chmod(0o755)
    port = free_port()
    (home / "dovecot.conf").write_text(DOVECOT_CONF.format(d=home, port=port))
    (home / "users").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}\n")
    (home / "home" / IMAP_USER).mkdir(parents=True)
    shutil.chown(home / "home", "nobody", "nogroup")
    shutil.chown(home / "home" / IMAP_USER, "nobody", "nogroup")
    # In the foreground (-F): the process is ours to stop, by its own id.
    server = subprocess.Popen([DOVECOT, "-F", "-c", str(home / "dovecot.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline or server.poll() is not None:
                log = home / "dovecot.log"
                raise RuntimeError("dovecot did not start: " + (log.read_text()[-2000:] if log.exists() else ""))
            time.sleep(0.05)
        yield Imap(port, IMAP_USER, IMAP_PASSWORD)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        shutil.rmtree(home, ignore_errors=True)


class ImapClient:
    """The test's own IMAP session: makes mailboxes, appends mail, reads flags."""

    def __init__(self, imap: Imap) -> None:
        import aioimaplib

        self.client = aioimaplib.IMAP4("127.0.0.1", imap.port, timeout=10)
        self.imap = imap

    async def __aenter__(self) -> ImapClient:
        await self.client.wait_hello_from_server()
        assert (await self.client.login(self.imap.user, self.imap.password)).result == "OK"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.logout()

    async def create(self, mailbox: str) -> None:
        assert (await self.client.create(f'"{mailbox}"')).result == "OK"

    async def delete(self, mailbox: str) -> None:
        assert (await self.client.delete(f'"{mailbox}"')).result == "OK"

    async def append(self, mailbox: str, raw: bytes, *, seen: bool = False) -> None:
        response = await self.client.append(raw, mailbox=f'"{mailbox}"', flags=r"(\Seen)" if seen else None)
        assert response.result == "OK", response

    async def unseen(self, mailbox: str) -> list[int]:
        assert (await self.client.select(f'"{mailbox}"')).result == "OK"
        found = await self.client.uid_search("UNSEEN", charset=None)
        return sorted(int(u) for line in found.lines[:-1] for u in bytes(line).split() if u.isdigit())

    async def mark_unseen(self, mailbox: str, uid: int) -> None:
        assert (await self.client.select(f'"{mailbox}"')).result == "OK"
        assert (await self.client.uid("store", str(uid), "-FLAGS", r"(\Seen)")).result == "OK"


@pytest.fixture
def imap_mailbox(request: pytest.FixtureRequest) -> str:
    """A mailbox of its own for each test (dovecot lives for the whole session)."""
    return "T" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    """Wait until an async predicate holds (a worker's loop doing its round)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)
