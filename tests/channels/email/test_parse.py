"""Reading mail: one .eml fixture per kind of mail, each parsed to exactly what the hotline should take from it,
and the rules (quotes, signatures, HTML, attachments, robots) one by one."""

from __future__ import annotations

import hashlib
import json
import random

import pytest

from channels.email.parse import (
    ATTACHMENTS_TEXT,
    EMPTY_TEXT,
    Report,
    html_to_text,
    parse_mail,
    split_reply,
)
from tests.channels.email.conftest import FIXTURES, HOTLINE, eml

CODE = "1234567894"  # a valid code: its Damm check digit is right
ACK_ID = f"<hotline-7.{CODE}@hotline.test>"
FILLED = {"ack_id": ACK_ID, "code": CODE, "code_display": "123 456 789 4"}
LIMIT = 10_000


def parse(raw: bytes, **kwargs):
    return parse_mail(raw, max_attachment_bytes=kwargs.pop("max_attachment_bytes", LIMIT), own_address=HOTLINE,
                      **kwargs)


def fixture(name: str):
    return parse(eml(name, **FILLED))


# What each fixture must give. The coverage test below fails when a fixture has no expectation.
EXPECTED = {
    "plain.eml": dict(
        message_id="<CAplain-0001@mail.example.test>", sender="An.Nguyen@example.test", display_name="Nguyễn Văn An",
        subject="Phản ánh: đường Lê Lợi ngập nước",
        text="Phản ánh: đường Lê Lợi ngập nước\n\nKính gửi đường dây nóng 1022,\n\nĐường Lê Lợi đoạn trước số nhà 45 "
             "(phường Bến Thành) bị ngập sâu khoảng 40cm sau cơn mưa chiều qua, xe máy chết máy hàng loạt.\n\n"
             "Trân trọng,\nNguyễn Văn An\n0901 234 567",
        signature="-- \nNguyễn Văn An\nPhòng Kế toán, Công ty ABC", quoted="", locale="vi", case_code=None,
        thread_refs=(), auto=None, report=None, html_only=False),
    "html_only.eml": dict(
        message_id="<html-0002@example.test>", sender="binh.tran@example.test", display_name="Trần Thị Bình",
        subject="Đèn đường hỏng",
        text="Đèn đường hỏng trước nhà số 12 đường Nguyễn Huệ & Lê Thánh Tôn.\n\nĐã 3 ngày chưa ai sửa.\n\n"
             "- Cột đèn số 7\n- Cột đèn số 8",
        html_only=True, auto=None, locale="vi"),
    "windows_1258.eml": dict(
        message_id="<cp1258-0003@example.test>", sender="cuong.le@example.test", display_name="Lê Văn Cường",
        subject="Rác thải ở hẻm 123",
        text="Rác thải ở hẻm 123\n\nRác thải đổ trộm ở đầu hẻm 123 Nguyễn Trãi, quận 5 đã hơn một tuần.\n"
             "Mùi hôi thối, ruồi nhặng rất nhiều.",
        auto=None, locale="vi"),
    "english_latin1.eml": dict(
        message_id="<latin1-0009@example.test>", sender="john.smith@example.test", display_name="John Smith",
        text="Broken street light near the market\n\nHello, the street light outside the café at 5 Le Loi has been "
             "broken for a week.\nPlease send someone.",
        quoted="-----Original Message-----\nFrom: John Smith\nSent: Monday, November 30, 2026 9:00 AM\nTo: Hotline\n"
               "Subject: street light\n\nEarlier draft.",
        locale="en", auto=None),
    "attachment.eml": dict(
        message_id="<attach-0004@example.test>", sender="duc.pham@example.test", display_name="Phạm Minh Đức",
        text="Cây đổ chắn đường\n\nCây xanh đổ chắn ngang đường Võ Văn Tần sau bão. Gửi kèm ảnh và biên bản.",
        skipped=(
            {"filename": "xem_anh.exe", "content_type": "application/octet-stream", "size": 64,
             "reason": "executable or active content"},
            {"filename": "anh.zip", "content_type": "application/zip", "size": 30,
             "reason": "archive: its contents cannot be checked"},
        ), auto=None),
    "reply.eml": dict(
        message_id="<CAreply-0005@mail.example.test>", sender="an.nguyen@example.test",
        subject="Re: [1022] Hồ sơ 123 456 789 4: Đã tiếp nhận phản ánh",
        text="Sáng nay nước vẫn chưa rút, còn ngập khoảng 20cm.",
        quoted="Vào Th 3, 1 thg 12, 2026 vào lúc 08:20 1022 TP.HCM <tiepnhan@hotline.test>\nđã viết:\n"
               "> Đường dây nóng 1022 đã tiếp nhận phản ánh của bạn. Mã hồ sơ: 123 456 789 4.\n>\n> --\n"
               "> Trả lời thư này (giữ nguyên tiêu đề) để bổ sung thông tin cho hồ sơ.",
        signature="", case_code=CODE, thread_refs=(ACK_ID, f"<case-{CODE}@hotline.test>"), auto=None),
    "auto_reply.eml": dict(
        message_id="<auto-0006@mail.example.test>", sender="an.nguyen@example.test",
        text="Tôi đang nghỉ phép đến ngày 10/12, sẽ trả lời khi quay lại.", thread_refs=(ACK_ID,),
        auto="auto-submitted: auto-replied", return_path="", report=None),
    "dsn_bounce.eml": dict(
        message_id="<dsn-0007@mx.example.test>", sender="MAILER-DAEMON@mx.example.test",
        auto="auto-submitted: auto-replied",
        report=Report("delivery-status", ACK_ID, "failed", "5.1.1",
                      "smtp; 550 5.1.1 <khong-ton-tai@example.test>: Recipient address rejected: User unknown")),
    "malformed.eml": dict(
        message_id="<malformed-0008@example.test>", sender="hoa.vo@example.test", display_name="Vo Thi Hoa",
        subject="× brokenabc",
        text="× brokenabc\n\nNắp cống trước chợ Bến Thành bị mất, rất nguy hiểm.",
        attachments=(),
        skipped=({"filename": "anh.jpg", "content_type": "image/jpeg", "size": 17,
                  "reason": "damaged in transfer (invalid base64)"},),
        defects=("CloseBoundaryNotFoundDefect", "InvalidBase64CharactersDefect"), auto=None),
}


def test_every_fixture_has_its_expected_reading():
    assert sorted(p.name for p in FIXTURES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_reads_as_expected(name):
    mail = fixture(name)
    for attribute, value in EXPECTED[name].items():
        assert getattr(mail, attribute) == value, attribute
    assert mail.provider_id == mail.message_id
    json.dumps(mail.raw())  # the raw record is JSON as it is


def test_attachments_keep_pictures_and_documents_with_their_names_and_types():
    mail = fixture("attachment.eml")
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("ảnh_hiện_trường.png", "image/png"), ("bien ban.pdf", "application/pdf")]
    assert mail.attachments[0].data.startswith(b"\x89PNG\r\n\x1a\n")
    assert mail.attachments[1].data.startswith(b"%PDF-1.4")
    assert [s["filename"] for s in mail.raw()["skipped"]] == ["xem_anh.exe", "anh.zip"]


def test_attachments_past_the_size_or_count_limit_are_recorded_as_skipped():
    raw = eml("attachment.eml")
    small = parse(raw, max_attachment_bytes=75)
    assert [a.filename for a in small.attachments] == ["ảnh_hiện_trường.png"]
    assert small.skipped[0] == {"filename": "bien ban.pdf", "content_type": "application/pdf", "size": 77,
                                "reason": "larger than 75 bytes"}
    one = parse(raw, max_attachments=1)
    assert [a.filename for a in one.attachments] == ["ảnh_hiện_trường.png"]
    assert one.skipped[0]["reason"] == "more than 1 attachments"


def test_a_picture_that_is_not_one_is_skipped():
    raw = (b"From: a@example.test\r\nMessage-ID: <x@example.test>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nxem anh\r\n"
           b"--b\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=anh.jpg\r\n\r\n"
           b"<script>not a picture</script>\r\n--b--\r\n")
    mail = parse(raw)
    assert mail.attachments == ()
    assert mail.skipped[0]["reason"] == "content does not match its type"


def test_a_mail_without_message_id_is_known_by_the_hash_of_its_bytes():
    raw = b"From: a@example.test\r\nSubject: Cong bi vo\r\n\r\nCong bi vo truoc nha so 3.\r\n"
    mail = parse(raw)
    assert mail.message_id is None
    assert mail.provider_id == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_mail_to_nobody_in_particular_is_not_answered():
    base = b"From: %s\r\nSubject: %s\r\n%s\r\nCanh bao\r\n"
    cases = {
        b"Precedence: bulk\r\n": "precedence: bulk",
        b"X-Autorespond: yes\r\n": "x-autorespond",
        b"List-Id: <tin-tuc.example.test>\r\n": "mailing list",
        b"Auto-Submitted: auto-generated\r\n": "auto-submitted: auto-generated",
        b"Auto-Submitted: no\r\n": None,
        b"Return-Path: <>\r\n": "null return path",
    }
    for header, reason in cases.items():
        assert parse(base % (b"a@example.test", b"Canh bao", header)).auto == reason, header
    assert parse(base % (b"postmaster@example.test", b"x", b"")).auto == "mailer daemon"
    assert parse(base % (b"no-reply@shop.example.test", b"x", b"")).auto == "mailer daemon"
    assert parse(base % (b"1022 <tiepnhan@HOTLINE.test>", b"x", b"")).auto == "our own address"
    assert parse(base % (b"a@example.test", b"Out of Office: back Monday", b"")).auto == "auto-reply subject"
    assert parse(base % (b"a@example.test", b"Automatic reply: x", b"")).auto == "auto-reply subject"


def test_a_read_receipt_is_a_report_on_our_mail_not_a_report_by_a_citizen():
    raw = (b"From: a@example.test\r\nMessage-ID: <mdn-1@example.test>\r\n"
           b"Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nDa doc\r\n"
           b"--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
           b"Final-Recipient: rfc822; a@example.test\r\nOriginal-Message-ID: " + ACK_ID.encode() + b"\r\n"
           b"Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n--b--\r\n")
    mail = parse(raw)
    assert mail.report == Report("disposition-notification", ACK_ID, "read")
    assert mail.report.error is None


def test_a_delay_notice_is_a_report_that_fails_nothing():
    raw = eml("dsn_bounce.eml", **FILLED).replace(b"Action: failed", b"Action: delayed").replace(
        b"Status: 5.1.1", b"Status: 4.4.1")
    report = parse(raw).report
    assert (report.status, report.code, report.error) == ("delayed", "4.4.1", None)


def test_a_bounce_without_returned_headers_finds_our_mail_by_in_reply_to():
    raw = eml("dsn_bounce.eml", **FILLED)
    raw = raw.split(b"--dsn-boundary\r\nContent-Description: Undelivered")[0] + b"--dsn-boundary--\r\n"
    raw = raw.replace(b"Auto-Submitted: auto-replied\r\n", b"In-Reply-To: <hotline-9.x@hotline.test>\r\n")
    assert parse(raw).report.original_message_id == "<hotline-9.x@hotline.test>"


def test_our_thread_ids_name_the_case_when_the_subject_lost_its_code():
    raw = (b"From: a@example.test\r\nSubject: Re: nuoc\r\nIn-Reply-To: <hotline-3." + CODE.encode()
           + b"@hotline.test>\r\n\r\nvan ngap\r\n")
    assert parse(raw).case_code == CODE
    other = raw.replace(b"@hotline.test>", b"@elsewhere.test>")
    assert parse(other).case_code is None


def test_a_subject_that_answers_another_mail_is_no_headline():
    raw = b"From: a@example.test\r\nSubject: %s\r\n\r\nDuong ngap.\r\n"
    assert parse(raw % b"Re: Duong ngap").text == "Duong ngap."
    assert parse(raw % b"TL: Duong ngap").text == "Duong ngap."
    assert parse(raw % b"Nuoc tran").text == "Nuoc tran\n\nDuong ngap."
    assert parse(raw % b"").text == "Duong ngap."


def test_an_empty_mail_still_has_a_text():
    assert parse(b"From: a@example.test\r\n\r\n").text == EMPTY_TEXT
    only_picture = eml("attachment.eml").replace(
        "Cây xanh đổ chắn ngang đường Võ Văn Tần sau bão. Gửi kèm ảnh và biên bản.".encode(), b"")
    only_picture = only_picture.replace(b"Subject: =?utf", b"X-Subject: =?utf")
    assert parse(only_picture).text == ATTACHMENTS_TEXT


def test_malformed_mail_never_raises_and_keeps_what_can_be_read():
    rng = random.Random(1022)
    for name in sorted(EXPECTED):
        raw = eml(name, **FILLED)
        for _ in range(40):
            data = bytearray(raw)
            for _ in range(rng.randint(1, 20)):
                i = rng.randrange(len(data))
                data[i] = rng.randrange(256)
            cut = bytes(data[:rng.randint(0, len(data))])
            for sample in (bytes(data), cut):
                mail = parse(sample)
                assert mail.text
                json.dumps(mail.raw())
    assert parse(b"").text == EMPTY_TEXT
    assert parse(b"\xff\xfe\x00garbage without headers").text


@pytest.mark.parametrize("body, new, quoted", [
    # Gmail in English, the attribution wrapped over two lines
    ("Still flooded.\n\nOn Tue, 1 Dec 2026 at 08:20, 1022 <tiepnhan@hotline.test>\nwrote:\n> Case received.\n",
     "Still flooded.", "On Tue, 1 Dec 2026 at 08:20, 1022 <tiepnhan@hotline.test>\nwrote:\n> Case received."),
    # Outlook in Vietnamese: a rule, then the original's headers, unmarked
    ("Vẫn còn ngập.\n\n________________________________\nTừ: 1022 <tiepnhan@hotline.test>\nĐã gửi: 1/12/2026\n"
     "Đến: An\nChủ đề: Hồ sơ\n\nĐã tiếp nhận.",
     "Vẫn còn ngập.", "________________________________\nTừ: 1022 <tiepnhan@hotline.test>\nĐã gửi: 1/12/2026\n"
     "Đến: An\nChủ đề: Hồ sơ\n\nĐã tiếp nhận."),
    # Written below the quote: the new text is what is not quoted
    ("On Tue, 1 Dec 2026, 1022 <t@hotline.test> wrote:\n> Đã tiếp nhận.\n\nNước đã rút, cảm ơn.",
     "Nước đã rút, cảm ơn.", "On Tue, 1 Dec 2026, 1022 <t@hotline.test> wrote:\n> Đã tiếp nhận."),
    # "… viết:" in a citizen's own sentence is no attribution
    ("Hôm nay tôi viết:\n\nĐường Lê Lợi ngập.", "Hôm nay tôi viết:\n\nĐường Lê Lợi ngập.", ""),
    # "Từ: … Đến: … Ngày: …" in a report is no Outlook header block (no Sent/Đã gửi line)
    ("Cắt nước\nTừ: 7h sáng\nĐến: 9h tối\nNgày: 2/12", "Cắt nước\nTừ: 7h sáng\nĐến: 9h tối\nNgày: 2/12", ""),
    # A forward with nothing on top is the report itself
    ("-----Original Message-----\nFrom: Lan\nSent: Mon\nTo: An\n\nCống vỡ.",
     "-----Original Message-----\nFrom: Lan\nSent: Mon\nTo: An\n\nCống vỡ.", ""),
])
def test_quoted_history_is_cut_from_the_text(body, new, quoted):
    got_new, got_quoted, _ = split_reply(body)
    assert (got_new, got_quoted) == (new, quoted)


def test_signatures_are_cut_but_a_sign_off_with_contact_details_stays():
    new, _, signature = split_reply("Cống vỡ.\n\nTrân trọng,\nLan\n0901 234 567\n\nSent from my iPhone")
    assert (new, signature) == ("Cống vỡ.\n\nTrân trọng,\nLan\n0901 234 567", "Sent from my iPhone")
    new, _, signature = split_reply("Cống vỡ.\n--\nLan, phòng IT\nGửi từ iPhone của tôi")
    assert (new, signature) == ("Cống vỡ.", "--\nLan, phòng IT\nGửi từ iPhone của tôi")


def test_html_quotes_become_quote_lines_and_are_cut():
    html = ('<div dir="ltr">Vẫn ngập<br></div><div class="gmail_quote"><div class="gmail_attr">Vào Th 3, '
            '1 thg 12, 2026 1022 &lt;tiepnhan@hotline.test&gt; đã viết:<br></div>'
            '<blockquote class="gmail_quote"><p>Đã tiếp nhận.</p></blockquote></div>')
    text = html_to_text(html)
    assert text == ("Vẫn ngập\nVào Th 3, 1 thg 12, 2026 1022 <tiepnhan@hotline.test> đã viết:\n> Đã tiếp nhận.")
    assert split_reply(text)[0] == "Vẫn ngập"


def test_a_plain_part_wins_over_html_and_a_blank_one_does_not():
    alternative = (b"From: a@example.test\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
                   b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
                   b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>B\xe1\xba\xa3n HTML</p>\r\n--b--\r\n")
    assert parse(alternative % "Bản thường".encode()).text == "Bản thường"
    blank = parse(alternative % b"  ")
    assert (blank.text, blank.html_only) == ("Bản HTML", True)


def test_text_around_pictures_is_read_in_order():
    raw = (b"From: a@example.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nTruoc anh\r\n"
           b"--b\r\nContent-Type: image/png\r\nContent-Disposition: inline\r\n\r\n\x89PNG\r\n\x1a\n....\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nSau anh\r\n--b--\r\n")
    mail = parse(raw)
    assert mail.text == "Truoc anh\n\nSau anh"
    assert [a.content_type for a in mail.attachments] == ["image/png"]
