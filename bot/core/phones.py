"""Phone numbers in what families type: read at a booking's phone question, and kept out of the message log.

Digits of any script count ("٠٤٠١٢٣٤٥٦٧"). A number starts with 0 (Finnish), + or 00 (international) or Finland's
358 without the plus; a date with a leading zero ("08.12.2026") is not one.
"""

from __future__ import annotations

import re
import unicodedata


def ascii_digits(text: str) -> str:
    """Digits of any script as 0-9 ("١٠:٣٠" → "10:30"); the Arabic decimal separator as a dot."""
    text = unicodedata.normalize("NFKC", text).replace("\u066b", ".")
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text)


PHONE = re.compile(r"(?<![\w+])(?:\+|\(0|0|358)[\d\s().\-/]*\d")
DATE_SHAPE = re.compile(r"^\d{1,2}[./]\d{1,2}[./](?:\d{4}|\d{2})$")
# Finnish numbers have 6 to 12 digits after the 0 (landlines with a short area code, mobiles, 0800 lines);
# international ones (E.164) at most 15 in all.
PHONE_DIGITS = range(7, 16)
MASK = "📞…"


def _is_number(match: str) -> bool:
    return sum(ch.isdigit() for ch in match) in PHONE_DIGITS and not DATE_SHAPE.match(match.strip())


def phones_in(text: str) -> list[str]:
    """Every phone number in `text` ("my number is 040 123 4567"), each spaced as typed, digits as 0-9."""
    plain = " ".join(ascii_digits(text).split())
    return [" ".join(re.sub(r"[^\d+]", " ", match).split()) for match in PHONE.findall(plain) if _is_number(match)]


def without_phones(text: str) -> str:
    """`text` with every phone number in it replaced by a mark: what the message log may keep. Digits of
    other scripts come back as 0-9 (the pattern reads those)."""
    return PHONE.sub(lambda match: MASK if _is_number(match.group()) else match.group(), ascii_digits(text))
