"""Group meetings: groups as data, occurrences in Helsinki time, subscriptions, reminders with RSVP."""

from bot.features.groups.feature import register

__all__ = ["register"]
