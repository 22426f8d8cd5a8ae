"""`python -m bot content check`: flows, strings, the NLU data, and every feature's own content checks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from bot.app import ConfigurationError, build_services
from bot.core.flows import FlowError
from bot.core.texts import TextError
from bot.settings import SERVED_LANGUAGES, Settings

MIN_EXAMPLES = 30


class _NoNLU:
    def understand(self, text: str, **_: object) -> object:
        raise RuntimeError("content check does not run the NLU")


def check_all(settings: Settings) -> list[str]:
    """Every problem found, as `file: …` lines; empty when all content is valid."""
    problems = check_nlu_data(settings.nlu_data_dir)
    settings = Settings(**{**settings.__dict__, "database_url": "sqlite://"})
    try:
        services = build_services(settings, nlu=_NoNLU(), migrate=False)  # type: ignore[arg-type]
    except (ConfigurationError, FlowError, TextError) as error:
        return problems + str(error).splitlines()
    for check in services.registry.checks:
        problems.extend(check())
    return problems


def check_nlu_data(directory: Path) -> list[str]:
    """Rasa 3.x files per language, the contract's intents exactly, and enough training examples."""
    from bot.nlu.intents import INTENTS, read_rasa_nlu

    problems: list[str] = []
    if not (directory / "config.yml").is_file():
        problems.append(f"{directory / 'config.yml'}: the Rasa config is missing")
    for split, minimum in (("train", MIN_EXAMPLES), ("test", 1)):
        for language in SERVED_LANGUAGES:
            path = directory / split / f"{language}.yml"
            if not path.is_file():
                problems.append(f"{path}: missing")
                continue
            try:
                raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                examples = read_rasa_nlu(path)
            except yaml.YAMLError as error:
                problems.append(f"{path}: not valid YAML: {error}")
                continue
            if str(raw.get("version")) != "3.1":
                problems.append(f'{path}: expected version: "3.1"')
            counts = Counter(example.intent for example in examples)
            for intent in sorted(set(counts) - set(INTENTS)):
                problems.append(f"{path}: intent {intent!r} is not in the intent contract (SPEC.md)")
            for intent in INTENTS:
                if counts[intent] < minimum:
                    problems.append(f"{path}: intent {intent!r} has {counts[intent]} examples, needs {minimum}")
    return problems
