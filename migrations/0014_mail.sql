-- IMAP polling: the highest UID taken from each mailbox, so each mail is taken once even when someone
-- marks it unread again. Valid while the mailbox keeps its UIDVALIDITY; a new one starts it over (the
-- Message-ID makes a mail taken twice one message all the same).
CREATE TABLE mail_cursors (
    mailbox       text PRIMARY KEY,  -- user@host:port/folder
    uid_validity  bigint NOT NULL,
    last_uid      bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
