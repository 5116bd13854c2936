"""Telegram: a bot's webhook (or long polling) in, the Bot API out, through python-telegram-bot."""
