"""Logging without personal data: no message texts, names, tokens or raw Telegram ids."""

from __future__ import annotations

import logging
import re
import sys

TOKEN = re.compile(r"\d{6,}:[A-Za-z0-9_-]{20,}")


class RedactTokens(logging.Filter):
    """A last line of defence: whatever slips into a log line, a bot token is cut out."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if TOKEN.search(message):
            record.msg = TOKEN.sub("<token>", message)
            record.args = ()
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs full request URLs, which contain the bot token (SPEC reliability notes).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # aiohttp (the Bot API client) does not log requests, but its errors can carry the URL: the same rule.
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # python-telegram-bot's DEBUG lines print whole updates and request parameters (message texts, chat
    # ids): even at LOG_LEVEL=DEBUG it speaks at INFO at most.
    logging.getLogger("telegram").setLevel(max(logging.INFO, root.level))
