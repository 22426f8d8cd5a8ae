"""Imports every module that defines tables, so that the metadata is complete.

A feature that adds tables adds its models module here.
"""

from bot.db import models  # noqa: F401
