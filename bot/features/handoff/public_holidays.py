"""A country's public holidays (the `holidays` library), as days the counsellors' office is closed.

`PUBLIC_HOLIDAYS=FI` (the default) closes the office on Finland's public holidays. The library's Finnish
calendar also counts Christmas Eve (24.12.) and Midsummer Eve (the Friday between 19 and 25 June) among
them, the days Finnish offices close as well; tests/test_handoff_hours.py pins this, so that an upgrade of
the library that moved them elsewhere would fail there rather than open the office on those days.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays


def country_code(text: str) -> str:
    """`fi` → `FI`; empty for none. Raises ValueError for a country the `holidays` library does not know."""
    code = text.strip().upper()
    if code and code not in holidays.list_supported_countries():
        raise ValueError(f"PUBLIC_HOLIDAYS: no public holidays known for {text.strip()!r} (use e.g. FI, or empty)")
    return code


# Built once per country and year (about a millisecond), then a set lookup: office hours are asked
# about on every request for a person and by the re-alert job, and a year's holidays never change.
@lru_cache(maxsize=32)
def national_holidays(country: str, year: int) -> frozenset[date]:
    """The public holidays of `country` (ISO code, as `country_code` gives it; empty: none) in `year`."""
    if not country:
        return frozenset()
    return frozenset(holidays.country_holidays(country, years=year))
