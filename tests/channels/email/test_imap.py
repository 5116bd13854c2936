"""IMAP polling against a real IMAP server (Debian's dovecot on loopback): new mail is taken once and marked
seen, mail already seen is left alone, and nothing is taken twice, whatever happens between storing a mail
and flagging it."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from channels.email import store
from channels.email.inbound import ImapError, ImapTarget, handle, imap_target, mailbox_name, poll_imap
from tests.channels.email.conftest import ImapClient, eml


def test_imap_urls_read_as_their_targets():
    assert imap_target("imaps://tiepnhan%40hotline.test:m%E1%BA%ADt@imap.example.test/INBOX") == ImapTarget(
        "imap.example.test", 993, True, "tiepnhan@hotline.test", "mật", "INBOX")
    assert imap_target("imap://u:p@127.0.0.1:10143/Ph%E1%BA%A3n%20%C3%A1nh").mailbox == "Phản ánh"
    assert imap_target("imap://u:p@127.0.0.1").port == 143
    with pytest.raises(ValueError):
        imap_target("https://u:p@imap.example.test/INBOX")


def test_mailbox_names_are_sent_in_modified_utf7():
    assert mailbox_name("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"  # RFC 3501's own example
    assert mailbox_name("INBOX") == "INBOX"
    assert mailbox_name("A&B") == "A&-B"


async def test_a_mailbox_with_a_vietnamese_name_is_polled(dovecot, services, pool, imap_mailbox):
    name = f"Phản ánh {imap_mailbox}"
    async with ImapClient(dovecot) as imap:
        await imap.create(mailbox_name(name))
        await imap.append(mailbox_name(name), eml("plain.eml"))
    services.settings = services.settings.model_copy(update={"imap_url": dovecot.url(quote(name))})
    assert await poll_imap(services) == 1
    assert await _messages(pool) == ["<CAplain-0001@mail.example.test>"]


@pytest.fixture
async def mailbox(dovecot, imap_mailbox, services):
    """A fresh mailbox on dovecot, and the services polling it."""
    async with ImapClient(dovecot) as imap:
        await imap.create(imap_mailbox)
    services.settings = services.settings.model_copy(update={"imap_url": dovecot.url(imap_mailbox)})
    return imap_mailbox


async def _messages(pool) -> list[str]:
    return [r["provider_message_id"] for r in await pool.fetch(
        "SELECT provider_message_id FROM messages WHERE direction = 'in' ORDER BY id")]


async def test_new_mail_is_taken_and_marked_seen_and_mail_already_seen_is_left_alone(
        dovecot, mailbox, services, pool):
    async with ImapClient(dovecot) as imap:
        await imap.append(mailbox, eml("html_only.eml"), seen=True)  # read in the mailbox before we polled
        await imap.append(mailbox, eml("plain.eml"))
        await imap.append(mailbox, eml("windows_1258.eml"))
        assert await imap.unseen(mailbox) == [2, 3]
    assert await poll_imap(services) == 2
    assert await _messages(pool) == ["<CAplain-0001@mail.example.test>", "<cp1258-0003@example.test>"]
    async with ImapClient(dovecot) as imap:
        assert await imap.unseen(mailbox) == []
    case = await pool.fetchrow("SELECT m.text, c.channel, m.raw->'envelope' AS envelope FROM messages m"
                               " JOIN cases c ON c.id = m.case_id WHERE m.provider_message_id = $1",
                               "<cp1258-0003@example.test>")
    assert case["text"].startswith("Rác thải ở hẻm 123\n\nRác thải đổ trộm ở đầu hẻm 123 Nguyễn Trãi")
    assert case["channel"] == "email"
    # A second round finds nothing new.
    assert await poll_imap(services) == 0
    assert len(await _messages(pool)) == 2


async def test_a_mail_marked_unread_again_is_not_taken_again(dovecot, mailbox, services, pool):
    async with ImapClient(dovecot) as imap:
        await imap.append(mailbox, eml("plain.eml"))
    assert await poll_imap(services) == 1
    async with ImapClient(dovecot) as imap:
        await imap.mark_unseen(mailbox, 1)  # someone clicked "mark as unread"
        await imap.append(mailbox, eml("attachment.eml"))
    assert await poll_imap(services) == 1  # only the new one
    assert await _messages(pool) == ["<CAplain-0001@mail.example.test>", "<attach-0004@example.test>"]
    async with ImapClient(dovecot) as imap:
        assert await imap.unseen(mailbox) == [1]  # left as the person set it


async def test_a_mail_stored_by_a_poller_that_died_before_flagging_it_is_stored_once(dovecot, mailbox, services,
                                                                                    pool):
    raw = eml("plain.eml")
    async with ImapClient(dovecot) as imap:
        await imap.append(mailbox, raw)
    await handle(services, raw, None, ())  # stored; then the poller died: no cursor, no \Seen flag
    assert await poll_imap(services) == 1  # taken again: the Message-ID finds the message already there
    assert await _messages(pool) == ["<CAplain-0001@mail.example.test>"]
    async with ImapClient(dovecot) as imap:
        assert await imap.unseen(mailbox) == []


async def test_a_mailbox_with_a_new_uidvalidity_is_read_again_without_doubles(dovecot, mailbox, services, pool):
    async with ImapClient(dovecot) as imap:
        await imap.append(mailbox, eml("plain.eml"))
    assert await poll_imap(services) == 1
    target = imap_target(services.settings.imap_url)
    old = await pool.fetchrow("SELECT uid_validity, last_uid FROM mail_cursors WHERE mailbox = $1", target.key)
    assert old["last_uid"] == 1
    async with ImapClient(dovecot) as imap:  # the mailbox is rebuilt (a server move): UIDs start over
        await imap.delete(mailbox)
        await imap.create(mailbox)
        await imap.append(mailbox, eml("plain.eml"))
        await imap.append(mailbox, eml("html_only.eml"))
    assert await poll_imap(services) == 2
    new = await pool.fetchrow("SELECT uid_validity, last_uid FROM mail_cursors WHERE mailbox = $1", target.key)
    assert new["uid_validity"] != old["uid_validity"] and new["last_uid"] == 2
    assert await _messages(pool) == ["<CAplain-0001@mail.example.test>", "<html-0002@example.test>"]


async def test_a_mail_too_large_is_left_unread_for_a_person(dovecot, mailbox, services, pool):
    services.settings = services.settings.model_copy(update={"max_mail_bytes": 1200})
    async with ImapClient(dovecot) as imap:
        await imap.append(mailbox, eml("attachment.eml"))  # 1,544 bytes
        await imap.append(mailbox, eml("plain.eml"))
    assert await poll_imap(services) == 1
    assert await _messages(pool) == ["<CAplain-0001@mail.example.test>"]
    async with ImapClient(dovecot) as imap:
        assert await imap.unseen(mailbox) == [1]
    assert await poll_imap(services) == 0  # and not tried again every round


async def test_a_refused_login_stops_the_round(dovecot, mailbox, services):
    services.settings = services.settings.model_copy(
        update={"imap_url": services.settings.imap_url.replace(dovecot.password, "sai-mat-khau")})
    with pytest.raises(ImapError):
        await poll_imap(services)


async def test_the_cursor_never_moves_back(pool):
    await pool.execute("TRUNCATE mail_cursors")
    await store.advance(pool, "box", 7, 5)
    await store.advance(pool, "box", 7, 3)
    assert await store.cursor(pool, "box", 7) == 5
    assert await store.cursor(pool, "box", 8) == 0
    await store.advance(pool, "box", 8, 2)
    assert await store.cursor(pool, "box", 8) == 2
