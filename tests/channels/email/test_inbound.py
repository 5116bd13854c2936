"""Mail in through the real SMTP listener on loopback (aiosmtplib as the sending server), end to end: stored
before the 250, processed, acknowledged by mail, a reply joining its case, robots never answered, bounces
failing our mail, and the listener's refusals (550, 552, 451)."""

from __future__ import annotations

import json

import aiosmtplib
import pytest

from channels.email.inbound import SmtpListener, handle
from hotline.services import Services
from kernel.time import FixedClock
from tests.channels.email.conftest import HOTLINE, deliver, drain, eml


async def _case(pool, provider_id: str):
    return await pool.fetchrow(
        "SELECT c.id, c.tracking_code, m.text, c.channel, c.acknowledge, c.locale, m.id AS message_id, m.raw,"
        " m.sender, m.display_name AS name FROM messages m JOIN cases c ON c.id = m.case_id"
        " WHERE m.direction = 'in' AND m.provider_message_id = $1", provider_id)


async def _ack(pool, case_id: int):
    return await pool.fetchrow("SELECT id, external_id, status, recipient FROM messages"
                               " WHERE case_id = $1 AND direction = 'out' AND kind = 'ack'", case_id)


def _raw(row) -> dict:
    return row["raw"] if isinstance(row["raw"], dict) else json.loads(row["raw"])


async def test_a_mail_is_stored_before_the_250_then_acknowledged_by_mail_in_its_thread(
        listener, services, pool, collector):
    collected, _ = collector
    _, reply = await deliver(listener.port, eml("plain.eml"), mail_from="an.nguyen@example.test")
    assert reply == "2.0.0 OK: stored"
    case = await _case(pool, "<CAplain-0001@mail.example.test>")  # stored when the sender heard 250
    assert case["channel"] == "email" and case["acknowledge"] is True
    assert case["text"].startswith("Phản ánh: đường Lê Lợi ngập nước\n\nKính gửi đường dây nóng 1022,")
    assert (case["sender"], case["name"]) == ("An.Nguyen@example.test", "Nguyễn Văn An")
    raw = _raw(case)
    assert raw["signature"] == "-- \nNguyễn Văn An\nPhòng Kế toán, Công ty ABC"
    assert raw["envelope"] == {"mail_from": "an.nguyen@example.test", "rcpt_to": [HOTLINE]}
    assert ["Message-ID", "<CAplain-0001@mail.example.test>"] in raw["headers"]

    await drain(services)
    ack = await _ack(pool, case["id"])
    code = case["tracking_code"]
    assert ack["status"] == "sent" and ack["recipient"] == "An.Nguyen@example.test"
    assert ack["external_id"] == f"<hotline-{ack['id']}.{code}@hotline.test>"
    [(mail_from, rcpt, mail, _)] = collected.mails
    assert (mail_from, rcpt) == (HOTLINE, ["An.Nguyen@example.test"])
    assert mail["Subject"] == f"[1022] Hồ sơ {code[:3]} {code[3:6]} {code[6:9]} {code[9]}: Đã tiếp nhận phản ánh"
    assert mail["Message-ID"] == ack["external_id"]
    # The thread: the case's root, then the citizen's mail we answer.
    assert mail["In-Reply-To"] == "<CAplain-0001@mail.example.test>"
    assert mail["References"] == f"<case-{code}@hotline.test> <CAplain-0001@mail.example.test>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert f"Mã hồ sơ: {code[:3]} {code[3:6]}" in mail.get_content()


async def test_a_reply_to_our_acknowledgement_joins_its_case_and_is_answered_in_the_thread(
        listener, services, pool, collector):
    collected, _ = collector
    await deliver(listener.port, eml("plain.eml"))
    await drain(services)
    case = await _case(pool, "<CAplain-0001@mail.example.test>")
    ack = await _ack(pool, case["id"])
    code = case["tracking_code"]
    reply = eml("reply.eml", ack_id=ack["external_id"], code=code,
                code_display=f"{code[:3]} {code[3:6]} {code[6:9]} {code[9]}")
    # From a different spelling of the address than the first mail: the thread is what joins it.
    await deliver(listener.port, reply)
    joined = await _case(pool, "<CAreply-0005@mail.example.test>")
    assert joined["id"] == case["id"]
    text = await pool.fetchval("SELECT text FROM messages WHERE provider_message_id = $1",
                               "<CAreply-0005@mail.example.test>")
    assert text == "Sáng nay nước vẫn chưa rút, còn ngập khoảng 20cm."
    assert _raw(joined)["quoted"].startswith("Vào Th 3, 1 thg 12, 2026")
    await drain(services)
    notice = collected.mails[-1][2]
    assert notice["Subject"].endswith(": Cập nhật hồ sơ")
    assert notice["In-Reply-To"] == "<CAreply-0005@mail.example.test>"
    assert notice["References"] == (f"<case-{code}@hotline.test> <CAplain-0001@mail.example.test>"
                                    " <CAreply-0005@mail.example.test>")
    assert notice["Auto-Submitted"] == "auto-generated"
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1


async def test_a_quoted_code_joins_only_the_senders_own_case(listener, services, pool):
    await deliver(listener.port, eml("plain.eml"))
    case = await _case(pool, "<CAplain-0001@mail.example.test>")
    code = case["tracking_code"]
    # The same address as the report's (a local part is case-sensitive: channels.contact keeps it as written).
    body = f"From: An.Nguyen@example.test\r\nSubject: Ho so {code}\r\nMessage-ID: <q1@example.test>\r\n\r\nThem anh"
    await deliver(listener.port, body.encode())
    assert (await _case(pool, "<q1@example.test>"))["id"] == case["id"]
    stranger = body.replace("An.Nguyen@example.test", "khac@example.test").replace("<q1@", "<q2@")
    await deliver(listener.port, stranger.encode(), mail_from="khac@example.test")
    assert (await _case(pool, "<q2@example.test>"))["id"] != case["id"]


async def test_an_auto_reply_joins_the_thread_but_is_never_answered(listener, services, pool, collector):
    collected, _ = collector
    await deliver(listener.port, eml("plain.eml"))
    await drain(services)
    case = await _case(pool, "<CAplain-0001@mail.example.test>")
    ack = await _ack(pool, case["id"])
    await deliver(listener.port, eml("auto_reply.eml", ack_id=ack["external_id"]), mail_from="")
    auto = await _case(pool, "<auto-0006@mail.example.test>")
    assert auto["id"] == case["id"]
    assert _raw(auto)["not_acknowledged"] == "auto-submitted: auto-replied"
    await drain(services)
    assert len(collected.mails) == 1  # the acknowledgement of the report; nothing for the auto-reply


@pytest.mark.parametrize("name, provider_id, text, attachments", [
    ("html_only.eml", "<html-0002@example.test>",
     "Đèn đường hỏng trước nhà số 12 đường Nguyễn Huệ & Lê Thánh Tôn.\n\nĐã 3 ngày chưa ai sửa.\n\n"
     "- Cột đèn số 7\n- Cột đèn số 8", []),
    ("windows_1258.eml", "<cp1258-0003@example.test>",
     "Rác thải ở hẻm 123\n\nRác thải đổ trộm ở đầu hẻm 123 Nguyễn Trãi, quận 5 đã hơn một tuần.\n"
     "Mùi hôi thối, ruồi nhặng rất nhiều.", []),
    ("attachment.eml", "<attach-0004@example.test>",
     "Cây đổ chắn đường\n\nCây xanh đổ chắn ngang đường Võ Văn Tần sau bão. Gửi kèm ảnh và biên bản.",
     [("ảnh_hiện_trường.png", "image/png"), ("bien ban.pdf", "application/pdf")]),
    ("malformed.eml", "<malformed-0008@example.test>",
     "× brokenabc\n\nNắp cống trước chợ Bến Thành bị mất, rất nguy hiểm.", []),
    ("english_latin1.eml", "<latin1-0009@example.test>",
     "Broken street light near the market\n\nHello, the street light outside the café at 5 Le Loi has been "
     "broken for a week.\nPlease send someone.", []),
])
async def test_each_kind_of_mail_becomes_a_case_with_its_text_and_attachments(
        listener, services, pool, name, provider_id, text, attachments):
    await deliver(listener.port, eml(name))
    case = await _case(pool, provider_id)
    assert case["text"] == text
    rows = await pool.fetch("SELECT filename, content_type FROM attachments WHERE message_id = $1 ORDER BY id",
                            case["message_id"])
    assert [(r["filename"], r["content_type"]) for r in rows] == attachments
    assert case["acknowledge"] is True


async def test_an_english_mail_is_acknowledged_in_english(listener, services, pool, collector):
    await deliver(listener.port, eml("english_latin1.eml"))
    await drain(services)
    mail = collector[0].mails[0][2]
    assert mail["Subject"].endswith(": Report received")
    assert mail["Content-Language"] == "en"


async def test_a_bounce_fails_our_mail_and_stores_nothing_else(listener, services, pool, collector):
    await deliver(listener.port, eml("plain.eml"))
    await drain(services)
    case = await _case(pool, "<CAplain-0001@mail.example.test>")
    ack = await _ack(pool, case["id"])
    messages = await pool.fetchval("SELECT count(*) FROM messages")
    _, reply = await deliver(listener.port, eml("dsn_bounce.eml", ack_id=ack["external_id"], code_display="x"),
                             mail_from="")
    assert reply == "2.0.0 OK: stored"
    row = await pool.fetchrow("SELECT status, provider_status, provider_error FROM messages WHERE id = $1", ack["id"])
    assert dict(row) == {"status": "failed", "provider_status": "failed", "provider_error":
                         "5.1.1 smtp; 550 5.1.1 <khong-ton-tai@example.test>: Recipient address rejected: "
                         "User unknown"}
    assert await pool.fetchval("SELECT count(*) FROM messages") == messages
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'delivery_failed'") == 1
    # A bounce of a mail we never sent changes nothing and opens nothing.
    await deliver(listener.port, eml("dsn_bounce.eml", ack_id="<other@elsewhere.test>", code_display="x")
                  .replace(b"<dsn-0007@", b"<dsn-0008@"), mail_from="")
    assert await pool.fetchval("SELECT count(*) FROM messages") == messages


async def test_mail_from_robots_and_ourselves_is_stored_but_never_acknowledged(listener, services, pool, collector):
    plain = eml("plain.eml")
    await deliver(listener.port, plain.replace(b"<CAplain-0001@", b"<n1@"), mail_from="")  # null envelope sender
    ours = plain.replace(b"<CAplain-0001@", b"<n2@").replace(b"<An.Nguyen@Example.TEST>", b"<tiepnhan@hotline.test>")
    await deliver(listener.port, ours)
    daemon = plain.replace(b"<CAplain-0001@", b"<n3@").replace(b"<An.Nguyen@Example.TEST>",
                                                               b"<MAILER-DAEMON@mx.example.test>")
    await deliver(listener.port, daemon)
    for provider_id, reason in [("<n1@mail.example.test>", "null envelope sender"),
                                ("<n2@mail.example.test>", "our own address"),
                                ("<n3@mail.example.test>", "mailer daemon")]:
        case = await _case(pool, provider_id)
        assert (case["acknowledge"], _raw(case)["not_acknowledged"]) == (False, reason)
    await drain(services)
    assert collector[0].mails == []
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'out'") == 0


async def test_a_sender_past_the_hourly_limit_is_stored_but_not_acknowledged(listener, services, pool):
    services.settings = services.settings.model_copy(update={"mail_rate_limit_per_hour": 2})
    plain = eml("plain.eml")
    for n in (1, 2, 2, 3):  # the second mail delivered twice counts once
        await deliver(listener.port, plain.replace(b"<CAplain-0001@", f"<r{n}@".encode()))
    acknowledged = [(await _case(pool, f"<r{n}@mail.example.test>"))["acknowledge"] for n in (1, 2, 3)]
    assert acknowledged == [True, True, False]
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'in'") == 3
    # An hour later the sender is welcome again.
    services.clock.advance(hours=1, seconds=1)
    await deliver(listener.port, plain.replace(b"<CAplain-0001@", b"<r4@"))
    assert (await _case(pool, "<r4@mail.example.test>"))["acknowledge"] is True


async def test_the_same_mail_delivered_twice_is_one_message(listener, services, pool):
    for _ in range(2):
        _, reply = await deliver(listener.port, eml("plain.eml"))
        assert reply == "2.0.0 OK: stored"
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1


async def test_recipients_outside_our_domain_are_refused_with_550(listener):
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await deliver(listener.port, eml("plain.eml"), to="someone@elsewhere.test")
    assert refused.value.recipients[0].code == 550


async def test_a_mail_larger_than_the_limit_is_refused_with_552(services, pool):
    services.settings = services.settings.model_copy(update={"max_mail_bytes": 1200})
    smtp = SmtpListener(services, "127.0.0.1:0")
    await smtp.start()
    try:
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await deliver(smtp.port, eml("attachment.eml"))
        assert refused.value.code == 552
        await deliver(smtp.port, eml("plain.eml"))  # a small one passes
    finally:
        await smtp.close()
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1


async def test_a_database_outage_answers_451_so_the_sender_tries_again(mail_settings, pool):
    down = await Services.start(mail_settings)
    down.clock = FixedClock(await pool.fetchval("SELECT now()"))
    smtp = SmtpListener(down, "127.0.0.1:0")
    await smtp.start()
    try:
        await down.pool.close()  # the database goes away
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await deliver(smtp.port, eml("plain.eml"))
        assert refused.value.code == 451
        assert await pool.fetchval("SELECT count(*) FROM messages") == 0
    finally:
        await smtp.close()
        await down.close()
    up = await Services.start(mail_settings)
    try:
        smtp = SmtpListener(up, "127.0.0.1:0")
        await smtp.start()
        _, reply = await deliver(smtp.port, eml("plain.eml"))  # the sending server's next try
        await smtp.close()
    finally:
        await up.close()
    assert reply == "2.0.0 OK: stored"
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1


async def test_handle_keeps_an_overlong_text_within_the_report_limit(services, pool):
    services.settings = services.settings.model_copy(update={"max_text_chars": 200})
    raw = b"From: a@example.test\r\nMessage-ID: <long@example.test>\r\n\r\n" + b"Ngap qua " * 100
    await handle(services, raw, "a@example.test", [HOTLINE])
    case = await _case(pool, "<long@example.test>")
    assert len(case["text"]) == 200 and case["text"].endswith("(thư quá dài: phần còn lại không được lưu)")
    assert _raw(case)["text_chars"] == 899
