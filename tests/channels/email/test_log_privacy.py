"""The email channel leaks no address and no mail text into any log record, the mail libraries' included.

With every logger at DEBUG: mail through the SMTP listener (a report, a refused recipient, an auto-reply,
a bounce), acknowledgements out through a busy then refusing SMTP server, and an IMAP round.
"""

from __future__ import annotations

from channels.email.inbound import poll_imap
from hotline import pipeline
from tests.channels.email.conftest import ImapClient, deliver, drain
from tests.hotline.test_log_privacy import captured  # noqa: F401 - a fixture

ADDRESS = "quyet.nguyen@example.vn"
WORDS = ("Zanthorium", "quibblestone")
SECRETS = (*WORDS, "Quyết", ADDRESS, "quyet.nguyen")


def _mail(message_id: str, extra: str = "") -> bytes:
    return (f"From: Nguyễn Văn Quyết <{ADDRESS}>\r\nTo: tiepnhan@hotline.test\r\nSubject: Bồn {WORDS[0]}\r\n"
            f"Message-ID: <{message_id}@example.vn>\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Bồn {WORDS[0]} tràn ra hẻm {WORDS[1]}.\r\n").encode()


def _leaks(handler) -> list[str]:  # noqa: ANN001 - the captured fixture's handler
    found = []
    for record, line in zip(handler.records, handler.lines, strict=True):
        texts = (record.getMessage(), repr(record.args), record.exc_text or "", line)
        found += [f"{record.name}: {s!r} in {t!r}" for t in texts for s in SECRETS if s in t]
    return found


async def test_no_address_or_text_reaches_any_log_record(listener, services, pool, collector, dovecot, imap_mailbox,
                                                         captured):  # noqa: F811
    collected, _ = collector
    await deliver(listener.port, _mail("p1"), mail_from=ADDRESS)
    try:
        await deliver(listener.port, _mail("p2"), mail_from=ADDRESS, to=f"{WORDS[1]}@elsewhere.test")
    except Exception as e:  # refused with 550, as it should be
        assert "550" in str(e)
    collected.answer_next("451 4.3.0 busy for quyet.nguyen@example.vn")
    await pipeline.process_pending(services)
    await pipeline.send_pending(services)  # 451: tried again later
    services.clock.advance(minutes=10)
    await drain(services)
    ack = await pool.fetchval("SELECT external_id FROM messages WHERE kind = 'ack'")
    await deliver(listener.port, _mail("p3", f"Auto-Submitted: auto-replied\r\nIn-Reply-To: {ack}\r\n"), mail_from="")
    bounce = (f"From: MAILER-DAEMON@mx.example.vn\r\nMessage-ID: <b1@mx.example.vn>\r\n"
              f"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
              f"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
              f"Final-Recipient: rfc822; {ADDRESS}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
              f"Diagnostic-Code: smtp; 550 {ADDRESS} unknown\r\n\r\n"
              f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ack}\r\n\r\n--b--\r\n").encode()
    await deliver(listener.port, bounce, mail_from="")
    collected.refuse_next_recipient(f"550 5.1.1 {ADDRESS} unknown")
    await pool.execute("UPDATE messages SET status = 'queued', next_attempt_at = NULL WHERE kind = 'ack'")
    await pipeline.send_pending(services)
    async with ImapClient(dovecot) as imap:
        await imap.create(imap_mailbox)
        await imap.append(imap_mailbox, _mail("i1"))
    services.settings = services.settings.model_copy(update={"imap_url": dovecot.url(imap_mailbox)})
    assert await poll_imap(services) == 1

    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'in'") == 3
    assert captured.records  # the flows did log
    assert _leaks(captured) == []
