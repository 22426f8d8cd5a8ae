"""The family guide: sections in six languages, served as a conversation."""

from bot.features.guide.feature import register

__all__ = ["register"]
