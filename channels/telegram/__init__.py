"""Telegram: a bot's webhook (or long polling) in, the Bot API out, through python-telegram-bot."""

import os

# python-telegram-bot 22 warns on every duration it reads (a flood-control retry_after, a voice note's
# length) unless the process opts in to the behaviour of its next major version: timedelta durations.
# The warning fires inside the library's own error constructor, so it cannot be caught around a call.
os.environ.setdefault("PTB_TIMEDELTA", "true")
