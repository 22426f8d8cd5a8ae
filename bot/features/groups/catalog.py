"""`content/groups.yml`: the groups as a coordinator writes them, checked, and imported into the database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.features.groups.models import Group
from bot.features.groups.schedule import WeeklySchedule, parse_clock, parse_duration, parse_weekday
from bot.settings import SERVED_LANGUAGES

GROUP_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
AUDIENCES = ("mothers", "fathers", "young", "families", "everyone")
DEFAULT_REMINDERS = ("24h", "2h")


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class GroupSpec:
    id: str
    names: dict[str, str]
    municipality: str
    address: str
    how_to_find: dict[str, str]
    icon: str
    schedule: WeeklySchedule
    audience: str
    languages: tuple[str, ...]
    interpreter: bool
    sample: bool


@dataclass(frozen=True)
class Catalog:
    groups: tuple[GroupSpec, ...] = ()
    # municipality key → language → name, in the order the file gives them
    municipalities: dict[str, dict[str, str]] = field(default_factory=dict)
    # reminder label ("24h") → how long before the start it is sent, largest first
    reminders: tuple[tuple[str, timedelta], ...] = ()
    sample: bool = False
    # municipality key → other ways families write its name (`also_written:`), for recognising it in messages
    spellings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # municipality key → the towns whose groups are nearest (`nearest:`), for a family in a town without a group
    nearest: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def municipality_name(self, key: str, language: str) -> str:
        names = self.municipalities.get(key) or {}
        return names.get(language) or names.get("fi") or key.capitalize()


def _localized(raw: Any, where: str, problems: list[str], *, required: bool = True) -> dict[str, str]:
    if not isinstance(raw, dict):
        if required:
            problems.append(f"{where}: needs a text for each language ({', '.join(SERVED_LANGUAGES)})")
        return {}
    values = {str(k): str(v).strip() for k, v in raw.items() if v is not None and str(v).strip()}
    missing = [code for code in SERVED_LANGUAGES if code not in values]
    if missing and required:
        problems.append(f"{where}: missing language(s) {', '.join(missing)}")
    return values


def _date(raw: Any, where: str, problems: list[str]) -> date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        problems.append(f"{where}: {raw!r} is not a date like 2026-01-31")
        return None


def parse_catalog(raw: Any, source: str = "content/groups.yml") -> tuple[Catalog, list[str]]:
    """The catalog and every problem found (as `file: group: message` lines)."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        return Catalog(), [f"{source}: expected `groups:` and `municipalities:`"]
    municipalities: dict[str, dict[str, str]] = {}
    for key, names in (raw.get("municipalities") or {}).items():
        municipalities[str(key)] = _localized(names, f"{source}: municipality {key!r}", problems)
    spellings: dict[str, tuple[str, ...]] = {}
    also_written = raw.get("also_written") or {}
    if not isinstance(also_written, dict):
        problems.append(f"{source}: also_written: expected a town key with a list of spellings on each line")
        also_written = {}
    for key, written in also_written.items():
        if str(key) not in municipalities:
            problems.append(f"{source}: also_written: {key!r} is not listed under `municipalities:`")
        if not isinstance(written, list) or not all(isinstance(s, str | int) and str(s).strip() for s in written):
            problems.append(f"{source}: also_written: {key!r} needs a list of spellings, like [Kemissä, كمي]")
            continue
        spellings[str(key)] = tuple(str(spelling).strip() for spelling in written)
    nearest = _nearest(raw.get("nearest"), municipalities, source, problems)
    reminders: list[tuple[str, timedelta]] = []
    for label in raw.get("reminders_before") or DEFAULT_REMINDERS:
        try:
            reminders.append((str(label), parse_duration(str(label))))
        except ValueError as error:
            problems.append(f"{source}: reminders_before: {error}")
    reminders.sort(key=lambda item: item[1], reverse=True)
    groups: list[GroupSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw.get("groups") or []):
        where = f"{source}: group #{index + 1}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        group_id = str(entry.get("id", ""))
        if not GROUP_ID.match(group_id):
            problems.append(f"{where}: id {group_id!r} must be 1-32 of a-z, 0-9 and '-' (it is used in links)")
            continue
        where = f"{source}: group {group_id!r}"
        if group_id in seen:
            problems.append(f"{where}: id used twice")
        seen.add(group_id)
        municipality = str(entry.get("municipality", ""))
        if municipality not in municipalities:
            problems.append(f"{where}: municipality {municipality!r} is not listed under `municipalities:`")
        audience = str(entry.get("audience", "everyone"))
        if audience not in AUDIENCES:
            problems.append(f"{where}: audience {audience!r} is not one of {', '.join(AUDIENCES)}")
        languages = tuple(str(code) for code in entry.get("languages") or ("fi",))
        unknown = [code for code in languages if code not in SERVED_LANGUAGES]
        if unknown:
            problems.append(f"{where}: languages {unknown} are not served languages")
        raw_schedule = entry.get("schedule") or {}
        try:
            schedule = WeeklySchedule(
                weekday=parse_weekday(raw_schedule.get("weekday", "")),
                start=parse_clock(str(raw_schedule.get("start", ""))),
                duration=timedelta(minutes=int(raw_schedule.get("duration_minutes", 0) or 0)),
                every_weeks=int(raw_schedule.get("every_weeks", 1)),
                anchor=_date(raw_schedule.get("first_date"), where, problems),
                active_from=_date(entry.get("active_from"), where, problems),
                active_until=_date(entry.get("active_until"), where, problems),
            )
        except (ValueError, TypeError, AttributeError) as error:
            problems.append(f"{where}: schedule: {error}")
            continue
        if schedule.every_weeks > 1 and schedule.anchor is None:
            problems.append(f"{where}: an every-{schedule.every_weeks}-weeks group needs schedule.first_date")
        address = str(entry.get("address", "")).strip()
        if not address:
            problems.append(f"{where}: needs an address")
        groups.append(
            GroupSpec(
                id=group_id,
                names=_localized(entry.get("name"), f"{where}: name", problems),
                municipality=municipality,
                address=address,
                how_to_find=_localized(entry.get("how_to_find"), f"{where}: how_to_find", problems),
                icon=str(entry.get("icon") or "👥"),
                schedule=schedule,
                audience=audience,
                languages=languages,
                interpreter=bool(entry.get("interpreter", False)),
                sample=bool(entry.get("sample", raw.get("sample", False))),
            )
        )
    with_groups = {group.municipality for group in groups}
    for key, towns in nearest.items():
        empty = [town for town in towns if town not in with_groups]
        problems.extend(f"{source}: nearest: {key!r}: {town!r} has no group in this file" for town in empty)
    catalog = Catalog(
        tuple(groups),
        municipalities,
        tuple(reminders),
        bool(raw.get("sample", False)),
        spellings,
        nearest,
    )
    return catalog, problems


def _nearest(
    raw: Any, municipalities: dict[str, dict[str, str]], source: str, problems: list[str]
) -> dict[str, tuple[str, ...]]:
    """`nearest:`: town key → the town keys whose groups are nearest (one key alone is taken as a list of one)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{source}: nearest: expected a town key with a list of town keys on each line")
        return {}
    nearest: dict[str, tuple[str, ...]] = {}
    for raw_key, towns in raw.items():
        key, where = str(raw_key), f"{source}: nearest: {raw_key!r}"
        if key not in municipalities:
            problems.append(f"{where} is not listed under `municipalities:`")
        listed = [towns] if isinstance(towns, str) else towns
        if not isinstance(listed, list) or not listed or not all(isinstance(town, str) for town in listed):
            problems.append(f"{where} needs a list of town keys, like [kemi, tornio]")
            continue
        for town in listed:
            if town not in municipalities:
                problems.append(f"{where}: {town!r} is not listed under `municipalities:`")
            elif town == key:
                problems.append(f"{where}: a town cannot be its own nearest")
        nearest[key] = tuple(dict.fromkeys(town for town in listed if town in municipalities and town != key))
    return nearest


def load_catalog(path: Path) -> Catalog:
    """The catalog in `path`; raises CatalogError listing every problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise CatalogError(f"{path}: cannot be read: {error}") from error
    catalog, problems = parse_catalog(raw, str(path))
    if problems:
        raise CatalogError("\n".join(problems))
    return catalog


def check_catalog(path: Path) -> list[str]:
    """Problems in the groups file, for `python -m bot content check`."""
    if not path.is_file():
        return [f"{path}: missing"]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        return [f"{path}: not valid YAML: {error}"]
    return parse_catalog(raw, str(path))[1]


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    rescheduled: list[str] = field(default_factory=list)


def _schedule_fields(spec: GroupSpec) -> dict[str, Any]:
    schedule = spec.schedule
    return {
        "weekday": schedule.weekday,
        "start_time": f"{schedule.start.hour:02d}:{schedule.start.minute:02d}",
        "duration_minutes": int(schedule.duration.total_seconds() // 60),
        "every_weeks": schedule.every_weeks,
        "anchor": schedule.anchor,
        "active_from": schedule.active_from,
        "active_until": schedule.active_until,
    }


def import_catalog(session: Session, catalog: Catalog, now: datetime, zone: tzinfo) -> ImportResult:
    """Create or update every group in the catalog; groups no longer in it are deactivated (kept for history).

    When a group's schedule changes, its future meetings that staff have not touched are replaced by the
    new schedule's (their pending reminders are withdrawn); cancelled or moved ones stay as staff left them.
    """
    from bot.features.groups.occurrences import drop_unscheduled, ensure_occurrences

    result = ImportResult()
    existing = {group.id: group for group in session.scalars(select(Group))}
    for spec in catalog.groups:
        fields = {
            "names": spec.names,
            "municipality": spec.municipality,
            "address": spec.address,
            "how_to_find": spec.how_to_find,
            "icon": spec.icon,
            "audience": spec.audience,
            "languages": ",".join(spec.languages),
            "interpreter": spec.interpreter,
            "sample": spec.sample,
            "active": True,
            **_schedule_fields(spec),
        }
        group = existing.get(spec.id)
        if group is None:
            group = Group(id=spec.id, updated_at=now, **fields)
            session.add(group)
            result.added.append(spec.id)
        else:
            schedule_changed = any(getattr(group, name) != value for name, value in _schedule_fields(spec).items())
            changed = schedule_changed or any(getattr(group, name) != value for name, value in fields.items())
            for name, value in fields.items():
                setattr(group, name, value)
            if changed:
                group.updated_at = now
                result.updated.append(spec.id)
            if schedule_changed:
                session.flush()
                drop_unscheduled(session, group, now, zone)
                result.rescheduled.append(spec.id)
        session.flush()
        ensure_occurrences(session, group, now, zone, force=True)
    listed = {spec.id for spec in catalog.groups}
    for group_id, group in existing.items():
        if group_id not in listed and group.active:
            group.active = False
            group.updated_at = now
            result.deactivated.append(group_id)
    return result
