"""`python -m bot content check`: flows, strings, and every feature's own content checks."""

from __future__ import annotations

from bot.app import ConfigurationError, build_services
from bot.core.flows import FlowError
from bot.core.texts import TextError
from bot.settings import Settings


class _NoNLU:
    def understand(self, text: str, **_: object) -> object:
        raise RuntimeError("content check does not run the NLU")


def check_all(settings: Settings) -> list[str]:
    """Every problem found, as `file: …` lines; empty when all content is valid."""
    settings = Settings(**{**settings.__dict__, "database_url": "sqlite://"})
    try:
        services = build_services(settings, nlu=_NoNLU(), migrate=False)  # type: ignore[arg-type]
    except (ConfigurationError, FlowError, TextError) as error:
        return str(error).splitlines()
    problems: list[str] = []
    for check in services.registry.checks:
        problems.extend(check())
    return problems
