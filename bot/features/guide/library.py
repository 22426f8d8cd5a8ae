"""Guide sections from `content/<lang>/<id>.md`: parsing, rendering to Telegram HTML, paging, checks."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.core.texts import RTL_LANGUAGES, isolate_numbers, markup_problem
from bot.settings import SERVED_LANGUAGES

PAGE_LIMIT = 3500  # leaves room under Telegram's 4096 for the title line and the feedback question
FLOW_LINKS = ("book", "groups", "handoff")
FRONT_KEYS = {"id", "order", "icon", "title", "summary", "related", "next"}
SHARED_KEYS = ("order", "icon", "related", "next")
PARAGRAPH_TOLERANCE = 2
BOLD = re.compile(r"\*\*(.+?)\*\*")


@dataclass(frozen=True)
class Block:
    kind: str  # "heading" | "paragraph" | "list"
    lines: tuple[str, ...]
    line_no: int


@dataclass(frozen=True)
class Section:
    id: str
    language: str
    order: int
    icon: str
    title: str
    summary: str
    related: tuple[str, ...]
    next: tuple[str, ...]
    blocks: tuple[Block, ...]
    path: Path

    @property
    def headings(self) -> list[str]:
        return [b.lines[0] for b in self.blocks if b.kind == "heading"]

    @property
    def paragraph_counts(self) -> list[int]:
        """Paragraphs (lists count as one) before the first heading and under each heading."""
        counts = [0]
        for block in self.blocks:
            if block.kind == "heading":
                counts.append(0)
            else:
                counts[-1] += 1
        return counts

    @property
    def words(self) -> int:
        return sum(len(line.split()) for b in self.blocks for line in b.lines)


class GuideError(ValueError):
    pass


def parse_section(path: Path, language: str) -> Section:
    raw = path.read_text(encoding="utf-8")
    if not raw.startswith("---\n"):
        raise GuideError(f"{path}:1: a section starts with front matter between --- lines")
    end = raw.find("\n---\n", 4)
    if end < 0:
        raise GuideError(f"{path}:1: front matter is not closed with ---")
    try:
        front = yaml.safe_load(raw[4:end]) or {}
    except yaml.YAMLError as error:
        raise GuideError(f"{path}:1: front matter is not valid YAML: {error}") from error
    missing = FRONT_KEYS - set(front)
    if missing:
        raise GuideError(f"{path}:1: front matter misses {sorted(missing)}")
    unknown = set(front) - FRONT_KEYS
    if unknown:
        raise GuideError(f"{path}:1: unknown front matter keys {sorted(unknown)}")
    body_start_line = raw[: end + 5].count("\n") + 1
    blocks = _blocks(raw[end + 5 :], body_start_line)
    return Section(
        id=str(front["id"]),
        language=language,
        order=int(front["order"]),
        icon=str(front["icon"]),
        title=str(front["title"]),
        summary=str(front["summary"]),
        related=tuple(str(x) for x in front.get("related") or ()),
        next=tuple(str(x) for x in front.get("next") or ()),
        blocks=tuple(blocks),
        path=path,
    )


def _blocks(body: str, first_line: int) -> list[Block]:
    blocks: list[Block] = []
    current: list[str] = []
    kind = ""
    start = first_line

    def flush() -> None:
        nonlocal current, kind
        if current:
            blocks.append(Block(kind, tuple(current), start))
        current, kind = [], ""

    for offset, line in enumerate(body.splitlines()):
        number = first_line + offset
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if stripped.startswith("## "):
            flush()
            blocks.append(Block("heading", (stripped[3:].strip(),), number))
            continue
        line_kind = "list" if stripped.startswith("- ") else "paragraph"
        if current and line_kind != kind and not (kind == "list" and line_kind == "paragraph"):
            flush()
        if not current:
            kind, start = line_kind, number
        current.append(stripped)
    flush()
    return blocks


def render_inline(text: str) -> str:
    """Escape everything, then turn **bold** into <b>."""
    return BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False))


def render_block(block: Block, language: str) -> str:
    if block.kind == "heading":
        text = f"<b>{render_inline(block.lines[0])}</b>"
    elif block.kind == "list":
        text = "\n".join(
            "• " + render_inline(line[2:].strip() if line.startswith("- ") else line) for line in block.lines
        )
    else:
        text = render_inline(" ".join(block.lines))
    return isolate_numbers(text) if language in RTL_LANGUAGES else text


def pages(section: Section, limit: int = PAGE_LIMIT) -> list[str]:
    """The section as Telegram HTML pages, split on paragraph boundaries (a heading stays with what follows)."""
    rendered: list[str] = []
    pending_heading = ""
    for block in section.blocks:
        html_block = render_block(block, section.language)
        if block.kind == "heading":
            pending_heading = html_block
            continue
        rendered.append(f"{pending_heading}\n{html_block}" if pending_heading else html_block)
        pending_heading = ""
    if pending_heading:
        rendered.append(pending_heading)
    result: list[str] = []
    current = ""
    for piece in rendered:
        candidate = f"{current}\n\n{piece}" if current else piece
        if len(candidate) > limit and current:
            result.append(current)
            current = piece
        else:
            current = candidate
    if current:
        result.append(current)
    return result or [""]


class GuideLibrary:
    """All sections in all languages, loaded once."""

    def __init__(self, sections: dict[str, dict[str, Section]], problems: list[str]) -> None:
        self.sections = sections  # language → id → section
        self.load_problems = problems
        self._pages: dict[tuple[str, str], list[str]] = {}

    @classmethod
    def load(cls, content_dir: Path) -> GuideLibrary:
        sections: dict[str, dict[str, Section]] = {}
        problems: list[str] = []
        for language in SERVED_LANGUAGES:
            sections[language] = {}
            for path in sorted((content_dir / language).glob("*.md")):
                try:
                    section = parse_section(path, language)
                except GuideError as error:
                    problems.append(str(error))
                    continue
                if section.id != path.stem:
                    problems.append(f"{path}:1: id {section.id!r} differs from the file name")
                sections[language][section.id] = section
        return cls(sections, problems)

    def ordered(self, language: str) -> list[Section]:
        table = self.sections.get(language) or self.sections["en"]
        return sorted(table.values(), key=lambda s: s.order)

    def get(self, language: str, section_id: str) -> Section | None:
        table = self.sections.get(language) or {}
        return table.get(section_id) or self.sections.get("en", {}).get(section_id)

    def pages(self, section: Section) -> list[str]:
        key = (section.language, section.id)
        if key not in self._pages:
            self._pages[key] = pages(section)
        return self._pages[key]

    def check(self, known_flow_links: tuple[str, ...] = FLOW_LINKS) -> list[str]:
        """Problems as `file:line: message` lines (the content check's guide part)."""
        problems = list(self.load_problems)
        reference = self.sections.get("en", {})
        if len(reference) < 12:
            problems.append(f"content/en: {len(reference)} sections; the guide needs at least 12")
        all_ids = set().union(*(set(table) for table in self.sections.values()))
        for language, table in self.sections.items():
            for missing in sorted(all_ids - set(table)):
                problems.append(f"content/{language}/{missing}.md:1: section missing in {language!r}")
            for section in table.values():
                problems.extend(self._check_section(section, reference.get(section.id), all_ids, known_flow_links))
        return problems

    def _check_section(
        self, section: Section, english: Section | None, all_ids: set[str], flow_links: tuple[str, ...]
    ) -> list[str]:
        problems: list[str] = []
        at = str(section.path)
        for related in section.related:
            if related not in all_ids:
                problems.append(f"{at}:1: related section {related!r} does not exist")
        for link in section.next:
            if link not in flow_links and link not in all_ids:
                problems.append(
                    f"{at}:1: 'next' link {link!r} is neither a flow ({', '.join(flow_links)}) nor a section"
                )
        for block in section.blocks:
            for line in block.lines:
                if line.count("**") % 2:
                    problems.append(f"{at}:{block.line_no}: unbalanced ** (bold)")
                rendered = render_inline(line)
                problem = markup_problem(rendered)
                if problem:
                    problems.append(f"{at}:{block.line_no}: {problem}")
                if line.startswith("#") and block.kind != "heading":
                    problems.append(f"{at}:{block.line_no}: only '## ' headings are allowed")
        for number, page in enumerate(self.pages(section), 1):
            if len(page) > 4096 - 200:
                problems.append(f"{at}:1: page {number} is {len(page)} characters, over Telegram's limit")
        if english is not None and section.language != "en":
            for key in SHARED_KEYS:
                if getattr(section, key) != getattr(english, key):
                    problems.append(f"{at}:1: {key!r} differs from the English section")
            if len(section.headings) != len(english.headings):
                problems.append(
                    f"{at}:1: {len(section.headings)} headings, the English section has {len(english.headings)}"
                )
            else:
                ours, theirs = section.paragraph_counts, english.paragraph_counts
                for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                    if abs(a - b) > PARAGRAPH_TOLERANCE:
                        where = "before the first heading" if index == 0 else f"under heading {index}"
                        problems.append(f"{at}:1: {a} paragraphs {where}, English has {b}")
        return problems
