"""The SMTP listener and the IMAP poller where they run: inside `hotline serve` (one listener, even with its
worker inside) and inside a worker process (listener and poller both, the poller backing off when the
mailbox is away)."""

from __future__ import annotations

import asyncio

import pytest

from hotline.app import WORKER, create_app
from hotline.worker import build_worker
from tests.channels.email.conftest import ImapClient, deliver, eml, free_port, wait_for


async def _stored(pool, provider_id: str) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM messages WHERE provider_message_id = $1", provider_id))


async def test_hotline_serve_takes_mail_on_its_listener(aiohttp_client, mail_settings, pool):
    port = free_port()
    client = await aiohttp_client(create_app(mail_settings.model_copy(update={"smtp_listen": f"127.0.0.1:{port}"})))
    _, reply = await deliver(port, eml("plain.eml"))
    assert reply == "2.0.0 OK: stored"
    assert await _stored(pool, "<CAplain-0001@mail.example.test>")
    await client.close()
    # Closed with the app: nobody listens any more.
    with pytest.raises(OSError):  # aiosmtplib's SMTPConnectError is one
        await deliver(port, eml("html_only.eml"))


async def test_hotline_serve_with_its_worker_runs_one_listener(aiohttp_client, mail_settings, pool, collector):
    port = free_port()
    settings = mail_settings.model_copy(update={"smtp_listen": f"127.0.0.1:{port}", "worker_poll_seconds": 0.05})
    client = await aiohttp_client(create_app(settings, with_worker=True))
    worker = client.app[WORKER]
    assert worker.smtp_listener is False
    assert "worker-smtp" not in {task.get_name() for task in worker._tasks}
    await deliver(port, eml("plain.eml"))
    await wait_for(lambda: _has_mail(collector[0], 1))  # the worker inside processed and acknowledged it
    assert worker.errors.get("smtp") is None
    await client.close()


async def _has_mail(collected, count: int) -> bool:
    return len(collected.mails) >= count


async def test_a_worker_takes_mail_by_smtp_and_by_imap_and_acknowledges_both(
        mail_settings, pool, collector, dovecot, imap_mailbox):
    async with ImapClient(dovecot) as imap:
        await imap.create(imap_mailbox)
        await imap.append(imap_mailbox, eml("windows_1258.eml"))
    port = free_port()
    settings = mail_settings.model_copy(update={
        "smtp_listen": f"127.0.0.1:{port}", "imap_url": dovecot.url(imap_mailbox), "imap_poll_seconds": 0.1,
        "worker_poll_seconds": 0.05})
    worker = build_worker(settings)
    task = asyncio.create_task(worker.async_run())
    try:
        await wait_for(lambda: _stored(pool, "<cp1258-0003@example.test>"))
        await wait_for(lambda: _listening(port))
        await deliver(port, eml("plain.eml"))
        async with ImapClient(dovecot) as imap:
            await imap.append(imap_mailbox, eml("html_only.eml"))
        await wait_for(lambda: _stored(pool, "<html-0002@example.test>"))
        await wait_for(lambda: _has_mail(collector[0], 3))
    finally:
        await worker.close()
        await task
    subjects = sorted(mail["Subject"][-21:] for _, _, mail, _ in collector[0].mails)
    assert subjects == [": Đã tiếp nhận phản ánh"[-21:]] * 3
    assert worker.beats.get("imap") is not None


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_a_worker_keeps_polling_after_the_mailbox_was_away(mail_settings, pool, dovecot, imap_mailbox):
    settings = mail_settings.model_copy(update={
        "imap_url": dovecot.url(imap_mailbox), "imap_poll_seconds": 0.05, "worker_poll_seconds": 0.05})
    worker = build_worker(settings, max_backoff=0.2)
    task = asyncio.create_task(worker.async_run())
    try:
        await wait_for(lambda: _errored(worker))  # the mailbox does not exist yet: SELECT is refused
        async with ImapClient(dovecot) as imap:
            await imap.create(imap_mailbox)
            await imap.append(imap_mailbox, eml("plain.eml"))
        await wait_for(lambda: _stored(pool, "<CAplain-0001@mail.example.test>"))
    finally:
        await worker.close()
        await task


async def _errored(worker) -> bool:
    return worker.errors.get("imap") == "ImapError"
