"""What Telegram's HTML parse mode accepts, as far as the bot's replies are concerned."""

from __future__ import annotations

import re

TAG = re.compile(r"<(/?)([a-z-]+)((?:\s+[a-z-]+=\"[^\"<>]*\")*)\s*>")
ALLOWED = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "blockquote",
    "tg-spoiler",
    "span",
    "tg-emoji",
}
ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);)")


def telegram_html_problem(text: str) -> str | None:
    """Why Telegram would refuse `text` (or show user input as markup), or None when it is fine."""
    stack: list[str] = []
    position = 0
    for match in TAG.finditer(text):
        between = text[position : match.start()]
        if "<" in between or ">" in between:
            return f"a bare < or > near {between[-40:]!r}"
        position = match.end()
        closing, name = match.group(1), match.group(2)
        if name not in ALLOWED:
            return f"tag <{name}> is not Telegram HTML"
        if closing:
            if not stack or stack.pop() != name:
                return f"unbalanced </{name}>"
        else:
            stack.append(name)
    rest = text[position:]
    if "<" in rest or ">" in rest:
        return f"a bare < or > near {rest[:40]!r}"
    if stack:
        return f"unclosed <{stack[-1]}>"
    if ENTITY.search(text):
        return "a bare &"
    return None
