"""The NLU's disk cache: trained models and indexes, each in `<name>-<key>.pkl`.

The key is a hash of everything the object is built from (data, lexicons, the module's own source), so a
change to any of them is a cache miss and never a stale model. Files are written aside and renamed, so a
process starting in parallel never reads half a file; a corrupt or foreign file is a miss, not an outage;
a read-only cache directory only costs start-up time. The cache directory is the bot's own: its pickles
are trusted like the code.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
SUBDIR = "nlu"
# Older files of the same name stay while they may still be in use by a process started before a change
# (or by another checkout sharing the cache): the newest few, and any written within the last hour.
KEEP_NEWEST = 4
KEEP_SECONDS = 3600


def path_for(cache_dir: Path, name: str, key: str) -> Path:
    """Where the object called `name` (e.g. "intents") built from inputs hashed to `key` is cached."""
    return cache_dir / SUBDIR / f"{name}-{key}.pkl"


def load_or_build(path: Path | None, kind: type[T], build: Callable[[], T], *, what: str) -> tuple[T, bool]:
    """The `kind` cached at `path`, else `build()` (then cached). Returns it and whether it came from disk.

    `path` None means no cache: always build. `what` names the object in log lines.
    """
    if path is not None and path.is_file():
        try:
            with path.open("rb") as handle:
                cached = pickle.load(handle)
            if isinstance(cached, kind):
                return cached, True
            log.warning("the %s cache holds something else, rebuilding", what)
        except Exception:  # a corrupt or foreign file is a cache miss, not an outage
            log.warning("the %s cache is unreadable, rebuilding", what, exc_info=True)
    built = build()
    if path is not None:
        try:
            save(built, path)
            prune(path)
        except OSError:
            log.warning("could not cache the %s in %s", what, path.parent)
    return built, False


def save(value: object, path: Path) -> None:
    """Write atomically: aside, then renamed over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def prune(current: Path) -> None:
    """Drop older files of the same name as `current` beyond the newest few, once an hour old."""
    name = current.name.rsplit("-", 1)[0]
    same_name = re.compile(re.escape(name) + r"-[0-9a-f]+\.pkl")
    siblings = [p for p in current.parent.iterdir() if same_name.fullmatch(p.name) and p != current]
    siblings.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    cutoff = time.time() - KEEP_SECONDS
    for old in siblings[KEEP_NEWEST - 1 :]:
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
