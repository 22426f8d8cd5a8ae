"""Parse the read-only content (strings, flows, guide) once per test session.

YAML parsing is most of the cost of building the services; tests that build a bot per test (one per
database, several per "restart") import `content_loaded_once` to keep whole files fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.flows import Flows
from bot.core.texts import Texts
from bot.features.guide.library import GuideLibrary

_PARSED: dict[tuple[str, str], Any] = {}


def _cached(owner: type, load: Callable[[Path], Any]) -> Callable[[Path], Any]:
    def cached(directory: Path) -> Any:
        key = (owner.__name__, str(directory))
        if key not in _PARSED:
            _PARSED[key] = load(directory)
        return _PARSED[key]

    return cached


@pytest.fixture(autouse=True)
def content_loaded_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for owner in (Texts, Flows, GuideLibrary):
        monkeypatch.setattr(owner, "load", staticmethod(_cached(owner, owner.load)))
    yield
