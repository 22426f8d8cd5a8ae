"""Privacy: what is kept (/privacy), export (/mydata), erasure (/delete), consent withdrawal, retention."""

from bot.features.privacy.feature import register

__all__ = ["register"]
