"""Towns of booking slots in the reader's language, and the town a family types instead of pressing its button.

A slot keeps its municipality as staff chose it (the Finnish name). The names in the six languages, and the other
ways families write them, come from `content/groups.yml` (`municipalities:`, `also_written:`): the bot has one list
of towns, so a town added there is shown and understood in booking too. A municipality the file does not list is
shown as it is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.features.booking.slots import MUNICIPALITIES
from bot.features.groups.catalog import parse_catalog
from bot.features.groups.towns import TownNames, fold

log = logging.getLogger(__name__)

FINNISH = "fi"
TOWNS_FILE = "groups.yml"  # in the content directory


@dataclass(frozen=True)
class PlaceNames:
    """Municipality names by language, and a recogniser of typed town names."""

    # town key → language → name, as `content/groups.yml` gives them
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # folded name in any language (or the key) → town key
    keys: Mapping[str, str] = field(default_factory=dict)
    towns: TownNames = field(default_factory=TownNames)

    @classmethod
    def build(
        cls,
        names: Mapping[str, Mapping[str, str]],
        spellings: Mapping[str, Iterable[str]] | None = None,
        *,
        bookable: Iterable[str] = MUNICIPALITIES,
    ) -> PlaceNames:
        """From the file's names and spellings. A municipality staff may choose that the file leaves out is still
        understood by its Finnish name and case endings (Muonio, Muoniossa), under its own name as the key."""
        keys: dict[str, str] = {}
        for key, by_language in names.items():
            keys.setdefault(fold(key), key)
            for name in by_language.values():
                keys.setdefault(fold(name), key)
        recognised: dict[str, Mapping[str, str]] = dict(names)
        for municipality in bookable:
            if fold(municipality) not in keys:
                keys[fold(municipality)] = municipality
                recognised[municipality] = {FINNISH: municipality}
        return cls(dict(names), keys, TownNames.build(recognised, spellings))

    @classmethod
    def load(cls, path: Path) -> PlaceNames:
        """From `content/groups.yml`. Only the towns are read: a mistake in a group (reported by `content check`)
        must not turn booking's town names back into Finnish."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            log.warning("the town names could not be read; booking shows the municipalities as stored")
            return cls.build({})
        catalog, _problems = parse_catalog(raw if isinstance(raw, dict) else {}, str(path))
        return cls.build(catalog.municipalities, catalog.spellings)

    def key(self, municipality: str) -> str | None:
        """The town a stored municipality is ("Kemi", "kemi", "KEMI" → "kemi"), or None when it is unknown."""
        return self.keys.get(fold(municipality))

    def name(self, municipality: str, language: str) -> str:
        """The municipality as `language` writes it ("Kemi" → "كيمي"), else as stored."""
        key = self.key(municipality)
        by_language = self.names.get(key) if key is not None else None
        if not by_language:
            return municipality
        return by_language.get(language) or by_language.get(FINNISH) or municipality

    def mentioned(self, text: str) -> bool:
        """Whether `text` names any town, offered or not."""
        return bool(self.towns.named(text))

    def named(self, text: str, offered: Iterable[str]) -> str | None:
        """The one offered municipality that `text` names ("Kemissä", "في كيمي"), or None."""
        key = self.towns.find(text)
        if key is None:
            return None
        matches = [municipality for municipality in offered if self.key(municipality) == key]
        return matches[0] if len(matches) == 1 else None
