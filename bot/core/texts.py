"""User-facing strings, by key and language, from `content/strings/<lang>.yml`.

Strings are Telegram HTML: they may use <b> and <i>; placeholder values are escaped unless they are
`Safe` (already-rendered HTML). Every language must have the same keys and placeholders.

A text that depends on a number ("1 viikko", "2 viikkoa") is a mapping of plural forms: `key.one`,
`key.other`, and where a language has them `key.zero`, `key.two`, `key.few`, `key.many` (the CLDR plural
categories). `get(language, key, count=n)` picks the form for n; only `key.other` is needed in every language.
"""

from __future__ import annotations

import html
import re
import string
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.settings import SERVED_LANGUAGES

FALLBACK_LANGUAGE = "en"
ALLOWED_TAGS = re.compile(r"</?(b|i|u|s|code)>")
ANY_TAG = re.compile(r"<[^>]*>")
LANGUAGE_NAMES = {
    "fi": "Suomi",
    "en": "English",
    "ar": "العربية",
    "ru": "Русский",
    "so": "Soomaali",
    "sw": "Kiswahili",
}
# What a family may type instead of pressing their language's button: its name in each of the six
# languages, as typed (lower case, no diacritics needed). language_named() reads these.
LANGUAGE_WORDS = {
    "fi": (
        "suomi",
        "suomeksi",
        "finnish",
        "الفنلندية",
        "فنلندي",
        "финский",
        "по-фински",
        "kifini",
    ),
    "en": (
        "english",
        "englanti",
        "englanniksi",
        "الإنجليزية",
        "الانجليزية",
        "انجليزي",
        "إنجليزي",
        "английский",
        "по-английски",
        "ingiriis",
        "af ingiriis",
        "ingiriisi",
        "kiingereza",
    ),
    "ar": (
        "arabic",
        "arabia",
        "arabiaksi",
        "العربية",
        "عربي",
        "عربية",
        "بالعربي",
        "арабский",
        "carabi",
        "af carabi",
        "carabiga",
        "kiarabu",
    ),
    "ru": (
        "russian",
        "venäjä",
        "venaja",
        "venäjäksi",
        "русский",
        "по-русски",
        "на русском",
        "الروسية",
        "روسي",
        "ruush",
        "kirusi",
    ),
    "so": (
        "somali",
        "soomaali",
        "af soomaali",
        "somalia",
        "somaliksi",
        "الصومالية",
        "صومالي",
        "сомалийский",
        "kisomali",
    ),
    "sw": ("swahili", "kiswahili", "suahili", "swahiliksi", "السواحلية", "سواحلي", "суахили", "sawaaxili"),
}


def _words(text: str) -> list[str]:
    """Lower case, without punctuation; a hyphen separates words ("Af-Soomaali", "по-русски")."""
    return re.sub(r"[^\w\s-]", " ", text.casefold()).replace("-", " ").split()


_WORD_TO_LANGUAGE = {" ".join(_words(word)): code for code, words in LANGUAGE_WORDS.items() for word in words}


def language_named(text: str) -> str | None:
    """The served language a short message names ("English", "af soomaali", "عربي"), or None."""
    words = _words(text)
    return _WORD_TO_LANGUAGE.get(" ".join(words)) if 0 < len(words) <= 3 else None


# Phone numbers written in groups ("09 2525 0111"): in right-to-left text the groups would be shown in
# reverse order unless isolated as left-to-right (U+2066 … U+2069).
PHONE = re.compile(r"(?<![\d\u2066])(\+?\d{2,4}(?: \d{2,4})+)(?![\d\u2069])")
RTL_LANGUAGES = {"ar"}


def isolate_numbers(text: str) -> str:
    return PHONE.sub(lambda m: f"\u2066{m.group(1)}\u2069", text)


# CLDR plural categories: which form of a text a whole number takes. "other" is the one every language has.
PLURAL_FORMS = ("zero", "one", "two", "few", "many", "other")


def plural_form(language: str | None, count: int) -> str:
    """The CLDR plural category of the whole number `count` in a served language ("one", "few", "other" …)."""
    n = abs(count)
    if language == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return "one"
        return "few" if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else "many"
    if language == "ar":
        if n <= 2:
            return ("zero", "one", "two")[n]
        return "few" if 3 <= n % 100 <= 10 else "many" if 11 <= n % 100 else "other"
    return "one" if n == 1 else "other"  # fi, en, so, sw


def plural_groups(table: dict[str, str]) -> set[str]:
    """The keys of `table` that are plural texts: every text under them is a plural form, one is `other`."""
    children: dict[str, set[str]] = {}
    for key in table:
        parent, _, last = key.rpartition(".")
        children.setdefault(parent, set()).add(last)
    return {parent for parent, names in children.items() if "other" in names and names <= set(PLURAL_FORMS)}


class Safe(str):
    """Text that is already Telegram HTML and must not be escaped again."""


class TextError(ValueError):
    pass


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def markup_problem(text: str) -> str | None:
    """Why `text` would break Telegram HTML, or None."""
    stripped = ALLOWED_TAGS.sub("", text)
    if ANY_TAG.search(stripped) or "<" in stripped or ">" in stripped:
        return "contains a tag other than <b>, <i>, <u>, <s>, <code>, or a bare < or >"
    if re.search(r"&(?!(amp|lt|gt|quot|#\d+);)", stripped):
        return "contains a bare & (write &amp;)"
    stack: list[str] = []
    for match in ALLOWED_TAGS.finditer(text):
        tag = match.group(1)
        if match.group(0).startswith("</"):
            if not stack or stack.pop() != tag:
                return f"unbalanced </{tag}>"
        else:
            stack.append(tag)
    if stack:
        return f"unclosed <{stack[-1]}>"
    return None


@dataclass(frozen=True)
class Texts:
    by_language: dict[str, dict[str, str]]

    @classmethod
    def load(cls, directory: Path) -> Texts:
        """`<lang>.yml` plus each feature's `<feature>.<lang>.yml`; a key may be defined only once."""
        data: dict[str, dict[str, str]] = {}
        for language in SERVED_LANGUAGES:
            main = directory / f"{language}.yml"
            if not main.is_file():
                raise TextError(f"{main}: missing strings file for language {language!r}")
            table: dict[str, str] = {}
            for path in [main, *sorted(directory.glob(f"*.{language}.yml"))]:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                if not isinstance(loaded, dict):
                    raise TextError(f"{path}: expected a mapping of key: text")
                for key, value in _flatten(loaded).items():
                    if key in table:
                        raise TextError(f"{path}: key {key!r} is defined twice for {language!r}")
                    table[key] = str(value).strip()
            data[language] = table
        return cls(data)

    def has(self, key: str) -> bool:
        english = self.by_language[FALLBACK_LANGUAGE]
        return key in english or f"{key}.other" in english

    def get(self, language: str | None, key: str, /, **values: object) -> str:
        """The string `key` in `language` (English if unknown) with escaped values filled in; for a plural text,
        its form for the whole number `count` (see the module's docstring)."""
        table = self.by_language.get(language or FALLBACK_LANGUAGE) or self.by_language[FALLBACK_LANGUAGE]
        if key not in table and f"{key}.other" in self.by_language[FALLBACK_LANGUAGE]:
            count = values.get("count")
            if not isinstance(count, int):
                raise KeyError(f"{key}: a plural text needs a whole number count=")
            form = f"{key}.{plural_form(language, count)}"
            key = form if form in table else f"{key}.other"
        template = table.get(key)
        if template is None:
            template = self.by_language[FALLBACK_LANGUAGE].get(key)
        if template is None:
            raise KeyError(key)
        escaped = {k: v if isinstance(v, Safe) else html.escape(str(v), quote=False) for k, v in values.items()}
        text = template.format_map(escaped)
        return isolate_numbers(text) if language in RTL_LANGUAGES else text

    def problems(self) -> list[str]:
        """Missing keys, mismatched placeholders and broken markup, one line each."""
        found: list[str] = []
        reference = self.by_language[FALLBACK_LANGUAGE]
        plurals = plural_groups(reference)
        for language, table in self.by_language.items():
            # A plural text has the forms its language needs ("few" in Russian, none but "other" in some):
            # only its `other` form must be everywhere (below); the others may use fewer placeholders (count).
            optional = {
                key
                for key in set(reference) ^ set(table)
                if key.rpartition(".")[0] in plurals and key.rpartition(".")[2] in PLURAL_FORMS[:-1]
            }
            for key in sorted(set(reference) - set(table) - optional):
                found.append(f"content/strings ({language}): missing key {key!r}")
            for key in sorted(set(table) - set(reference) - optional):
                found.append(f"content/strings ({language}): key {key!r} is not in English")
            for key, text in table.items():
                group, _, form = key.rpartition(".")
                if group in plurals and form != "other":
                    if not placeholders(text) <= placeholders(reference[f"{group}.other"]):
                        found.append(
                            f"content/strings ({language}): {key!r} has placeholders "
                            f"{sorted(placeholders(text))}, not among English {group}.other's"
                        )
                elif key in reference and placeholders(text) != placeholders(reference[key]):
                    found.append(
                        f"content/strings ({language}): {key!r} has placeholders "
                        f"{sorted(placeholders(text))}, English has {sorted(placeholders(reference[key]))}"
                    )
                problem = markup_problem(text)
                if problem:
                    found.append(f"content/strings ({language}): {key!r} {problem}")
                if not text:
                    found.append(f"content/strings ({language}): {key!r} is empty")
        return found


def _flatten(tree: dict[object, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(key, bool):
            # YAML reads unquoted yes/no/on/off keys as booleans: the key must stay the text it looks like.
            raise TextError(f"key {prefix}{key} is read as a boolean: quote it")
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
