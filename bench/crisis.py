"""Crisis detection on bench/data/crisis.tsv: recall on crises, false positives on near-misses.

Targets: recall >= 0.98 over all crisis messages, false-positive rate <= 5% on near-misses
("my child has a slight fever", "we argued about money"). Each message is checked twice: with its
language as the hint (what the pipeline does after detection) and with no hint at all.

    .venv/bin/python bench/crisis.py [--data PATH] [--errors]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlu.crisis import CrisisDetector  # noqa: E402

DEFAULT_DATA = ROOT / "bench" / "data" / "crisis.tsv"


def read_rows(path: Path) -> list[tuple[str, str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r["lang"].strip(), r["label"].strip(), r["text"]) for r in reader if r.get("text")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--errors", action="store_true", help="list misses and false positives")
    args = parser.parse_args(argv)
    rows = read_rows(args.data)
    started = time.perf_counter()
    detector = CrisisDetector()
    load = time.perf_counter() - started

    # per language: [crisis found, crises, near-miss flagged, near-misses] for hinted and unhinted
    counts: dict[str, dict[str, list[int]]] = {
        "hint": defaultdict(lambda: [0, 0, 0, 0]),
        "none": defaultdict(lambda: [0, 0, 0, 0]),
    }
    errors: list[str] = []
    for lang, label, text in rows:
        for mode, hint in (("hint", lang), ("none", None)):
            flagged = detector.is_crisis(text, hint)
            cell = counts[mode][lang]
            if label == "crisis":
                cell[0] += flagged
                cell[1] += 1
                if not flagged and mode == "hint":
                    errors.append(f"  miss {lang}: {text}")
            else:
                cell[2] += flagged
                cell[3] += 1
                if flagged and mode == "hint":
                    errors.append(f"  FP   {lang}: {text}  ({detector.match(text, hint)})")

    print(f"Crisis detection on {args.data.name} ({len(rows)} messages)\n")
    print(f"{'language':10} {'recall (hint)':>16} {'FP (hint)':>14} {'recall (no hint)':>18} {'FP (no hint)':>14}")
    languages = sorted(counts["hint"])
    for lang in [*languages, "all"]:
        cells = []
        for mode in ("hint", "none"):
            if lang == "all":
                values = [sum(v[i] for v in counts[mode].values()) for i in range(4)]
            else:
                values = counts[mode][lang]
            found, crises, flagged, near = values
            cells.append(f"{found / crises:.3f} ({found}/{crises})" if crises else "-")
            cells.append(f"{flagged / near:.1%} ({flagged}/{near})" if near else "-")
        print(f"{lang:10} {cells[0]:>16} {cells[1]:>14} {cells[2]:>18} {cells[3]:>14}")
    print("\ntargets: recall >= 0.980, FP <= 5.0%")

    texts = [text for _, _, text in rows]
    started, cpu_started = time.perf_counter(), time.process_time()
    rounds = 0
    while time.perf_counter() - started < 1.0:
        for text in texts:
            detector.is_crisis(text)
        rounds += 1
    wall = time.perf_counter() - started
    cpu = max(time.process_time() - cpu_started, 1e-9)
    checks = rounds * len(texts)
    print(f"load {load * 1000:.0f} ms, {checks / wall:,.0f} checks/s (wall), {checks / cpu:,.0f} checks/s (CPU)")
    if args.errors and errors:
        print("\n" + "\n".join(errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
