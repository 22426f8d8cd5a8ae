"""Imports every module that defines tables, so that the metadata is complete.

A feature that adds tables adds its models module here.
"""

from bot import outbox_models  # noqa: F401
from bot.db import models  # noqa: F401
from bot.features.booking import models as booking_models  # noqa: F401
from bot.features.groups import models as groups_models  # noqa: F401
from bot.features.handoff import models as handoff_models  # noqa: F401
