"""Email: an SMTP listener and IMAP polling in, SMTP out; threads follow Message-ID, In-Reply-To and References.

Modules: `parse` (a mail's bytes read: charsets, HTML, quotes and signatures cut, attachments sorted,
robots and delivery reports recognised; pure), `inbound` (handle() for one mail, the SMTP listener that
`hotline serve` or the worker runs, IMAP polling for the worker), `adapter` (mail out through
HOTLINE_SMTP_URL), `store` (where IMAP polling got to in each mailbox).
"""
