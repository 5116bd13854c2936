"""Email: an SMTP listener and IMAP polling in, SMTP out; threads follow Message-ID, In-Reply-To and References."""
