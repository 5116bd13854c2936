"""Mail out: the headers citizens' mail programs thread by, and the outbox's retries (4xx) and failures (5xx),
against a local SMTP server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy

import aiosmtplib
import pytest

from channels.base import OutboundMessage, PermanentSendError, TransientSendError
from channels.email.adapter import EmailAdapter, SmtpTarget, build_mail, send_error, smtp_target, wire_bytes
from channels.email.inbound import handle
from hotline import pipeline
from tests.channels.email.conftest import CITIZEN, HOTLINE, MAIL_FROM, eml, free_port

CODE = "1234567894"
NOW = datetime(2026, 12, 1, 1, 15, tzinfo=UTC)


def outbound(**overrides) -> OutboundMessage:
    values = dict(message_id=42, channel="email", recipient=CITIZEN, text="Đường dây nóng 1022 đã tiếp nhận.",
                  case_code=CODE, locale="vi", kind="ack")
    return OutboundMessage(**{**values, **overrides})


def test_smtp_urls_read_as_their_targets():
    assert smtp_target("smtp://relay.example.test") == SmtpTarget("relay.example.test", 25, False, False, None, None)
    assert smtp_target("smtp://u%40x:p%3Aw@relay.example.test:2525?starttls=true") == SmtpTarget(
        "relay.example.test", 2525, False, True, "u@x", "p:w")
    assert smtp_target("smtp://relay.example.test?starttls=true").port == 587
    assert smtp_target("smtps://relay.example.test") == SmtpTarget("relay.example.test", 465, True, False, None, None)
    with pytest.raises(ValueError):
        smtp_target("http://relay.example.test")


def test_an_acknowledgement_carries_the_code_the_thread_and_says_it_is_automatic():
    mail = build_mail(outbound(), MAIL_FROM, now=NOW)
    raw = wire_bytes(mail)
    encoded = b"SOG7kyBzxqEgMTIzIDQ1NiA3ODkgNDogxJDDoyB0aeG6v3Agbmjhuq1uIHBo4bqjbiDDoW5o"
    assert b"\r\nSubject: [1022] =?utf-8?b?" + encoded + b"?=\r\n" in raw  # RFC 2047 on the wire, one line
    again = message_from_bytes(raw, policy=policy.default)  # as the citizen's mail program reads it
    assert again["Subject"] == "[1022] Hồ sơ 123 456 789 4: Đã tiếp nhận phản ánh"
    assert mail["Subject"] == again["Subject"]
    assert mail["From"] == '"1022 TP.HCM" <tiepnhan@hotline.test>' and mail["To"] == CITIZEN
    assert mail["Message-ID"] == f"<hotline-42.{CODE}@hotline.test>"
    assert mail["In-Reply-To"] == mail["References"] == f"<case-{CODE}@hotline.test>"  # no mail of theirs yet
    answering = build_mail(replace(outbound(), thread_refs=("<b2@example.test>", "<a1@example.test>", "bad id")),
                           MAIL_FROM, now=NOW)
    assert answering["In-Reply-To"] == "<b2@example.test>"
    assert answering["References"] == f"<case-{CODE}@hotline.test> <a1@example.test> <b2@example.test>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Content-Language"] == "vi"
    assert mail["Date"] == "Tue, 01 Dec 2026 01:15:00 +0000"
    assert mail.get_content() == (
        "Đường dây nóng 1022 đã tiếp nhận.\n\n-- \n"
        "Trả lời thư này (giữ nguyên tiêu đề) để bổ sung thông tin cho hồ sơ.\n")


def test_a_long_subject_keeps_its_spaces_on_the_wire():
    # CPython folds long encoded headers and loses the space between two encoded words: we do not fold.
    for kind in ("ack", "reply", "notice"):
        sender = "Đường dây nóng 1022 TP.HCM <x@hotline.test>"
        raw = wire_bytes(build_mail(outbound(kind=kind, message_id=2**62), sender, now=NOW))
        again = message_from_bytes(raw, policy=policy.default)
        assert again["Subject"].endswith({"ack": "Đã tiếp nhận phản ánh", "reply": "Trả lời phản ánh",
                                          "notice": "Cập nhật hồ sơ"}[kind])
        assert again["From"].addresses[0].display_name == "Đường dây nóng 1022 TP.HCM"
        assert again.get_content().startswith("Đường dây nóng 1022 đã tiếp nhận.")


def test_an_agent_reply_is_no_automatic_mail_and_english_cases_get_english_subjects():
    reply = build_mail(outbound(kind="reply", locale="en"), MAIL_FROM, now=NOW)
    assert reply["Subject"] == "[1022] Case 123 456 789 4: Answer to your report"
    assert reply["Auto-Submitted"] is None
    notice = build_mail(outbound(kind="notice"), MAIL_FROM, now=NOW)
    assert notice["Auto-Submitted"] == "auto-generated"
    assert notice["Subject"] == "[1022] Hồ sơ 123 456 789 4: Cập nhật hồ sơ"


def test_smtp_failures_map_to_what_the_outbox_does_next():
    refused = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", CITIZEN)])
    assert isinstance(send_error(refused), PermanentSendError)
    busy = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "mailbox busy", CITIZEN)])
    assert isinstance(send_error(busy), TransientSendError)
    assert isinstance(send_error(aiosmtplib.SMTPDataError(451, "later")), TransientSendError)
    assert isinstance(send_error(aiosmtplib.SMTPDataError(554, "spam")), PermanentSendError)
    assert isinstance(send_error(aiosmtplib.SMTPAuthenticationError(535, "bad login")), TransientSendError)
    assert isinstance(send_error(aiosmtplib.SMTPConnectError("refused")), TransientSendError)
    assert isinstance(send_error(ConnectionRefusedError()), TransientSendError)
    # The server's own words quote the address: they are not kept.
    assert CITIZEN not in str(send_error(refused))


async def test_a_mail_reaches_the_smtp_server_with_our_envelope(mail_settings, collector):
    collected, _ = collector
    receipt = await EmailAdapter(mail_settings).send(outbound())
    assert receipt.provider_message_id == f"<hotline-42.{CODE}@hotline.test>"
    assert receipt.status == "sent"
    [(mail_from, rcpt, mail, _raw)] = collected.mails
    assert (mail_from, rcpt) == (HOTLINE, [CITIZEN])
    assert mail["Subject"] == "[1022] Hồ sơ 123 456 789 4: Đã tiếp nhận phản ánh"


async def test_sends_fail_permanently_without_an_address_or_a_configuration(mail_settings):
    with pytest.raises(PermanentSendError):
        await EmailAdapter(mail_settings).send(outbound(recipient=None))
    with pytest.raises(PermanentSendError):
        await EmailAdapter(mail_settings.model_copy(update={"smtp_url": None})).send(outbound())
    with pytest.raises(PermanentSendError):
        await EmailAdapter(mail_settings.model_copy(update={"mail_from": "not an address"})).send(outbound())


async def test_an_unreachable_smtp_server_is_worth_another_try(mail_settings):
    adapter = EmailAdapter(mail_settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{free_port()}"}))
    with pytest.raises(TransientSendError):
        await adapter.send(outbound())


async def _acknowledgement_row(services, pool):
    await handle(services, eml("plain.eml"), CITIZEN, [HOTLINE])
    await pipeline.process_pending(services)
    return await pool.fetchrow("SELECT id, status FROM messages WHERE direction = 'out' AND kind = 'ack'")


async def test_the_outbox_tries_again_after_a_4xx_and_then_delivers(services, pool, collector):
    collected, _ = collector
    ack = await _acknowledgement_row(services, pool)
    collected.answer_next("451 4.3.0 Try again later")
    assert await pipeline.send_pending(services) == 1
    row = await pool.fetchrow("SELECT status, error, next_attempt_at, external_id FROM messages WHERE id = $1",
                              ack["id"])
    assert (row["status"], row["error"], row["external_id"]) == (
        "queued", "451: SMTP 451: SMTPDataError, try again later", None)
    assert await pipeline.send_pending(services) == 0  # backing off
    services.clock.at = row["next_attempt_at"]
    assert await pipeline.send_pending(services) == 1
    row = await pool.fetchrow("SELECT status, external_id, recipient FROM messages WHERE id = $1", ack["id"])
    code = await pool.fetchval("SELECT tracking_code FROM cases")
    assert (row["status"], row["external_id"]) == ("sent", f"<hotline-{ack['id']}.{code}@hotline.test>")
    [(_, rcpt, mail, _)] = collected.mails
    assert rcpt == ["An.Nguyen@example.test"]
    assert mail["Message-ID"] == row["external_id"]
    assert code in mail["Subject"].replace(" ", "")


async def test_the_outbox_fails_a_mail_refused_with_a_5xx_and_says_so_on_the_case(services, pool, collector):
    collected, _ = collector
    ack = await _acknowledgement_row(services, pool)
    collected.refuse_next_recipient("550 5.1.1 No such user")
    assert await pipeline.send_pending(services) == 1
    row = await pool.fetchrow("SELECT status, error FROM messages WHERE id = $1", ack["id"])
    assert (row["status"], row["error"]) == ("failed", "550: SMTP 550: recipient refused")
    event = await pool.fetchrow("SELECT kind, changes FROM case_events WHERE kind = 'delivery_failed'")
    assert event is not None
    assert collected.mails == []
