"""Crisis detection on bench/data/crisis*.tsv: recall on crises, false positives on near-misses.

Targets: recall >= 0.98 over all crisis messages, false-positive rate <= 5% on near-misses
("my child has a slight fever", "we argued about money"). Each message is checked twice: with its
language as the hint (what the pipeline does after detection) and with no hint at all.

The sets differ in what they can tell (see bench/data/README.md):

- tuned: crisis.tsv, the set the lexicons were first written against, so its figure is optimistic;
- dev: crisis_tuning_dev.tsv, written later; its misses were used to improve the lexicons;
- held-out: crisis_heldout_test*.tsv, written with the dev set and never used for tuning; its
  figure is the honest estimate of how the detector does on messages nobody has fitted it to.

Misses of a held-out set are not listed unless asked for (--heldout-errors): reading them and
fixing the lexicons turns the set into a dev set, and its figure stops being an estimate.

Two detectors are measured on every set: the lexicons alone, and the combination the pipeline
uses (lexicons OR the learned model of bot/nlu/crisis_model.py, trained on nlu_data/crisis and
nlu_data/train, never on a held-out set). Both also run over the ordinary messages of
nlu_data/test, none of which is a crisis: every flag there is a false alarm. A third table counts
what the bot reaches with its safety question too: a message whose score is just below the crisis
threshold is answered as usual, with "are you safe right now?" and a button for help now below the
answer; "recall" there is the share of crises that get the emergency information or that question,
"FP" the share of near-misses that get either.

    .venv/bin/python bench/crisis.py [--data PATH ...] [--errors] [--heldout-errors] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlu.crisis import CATEGORIES, CrisisDetector  # noqa: E402
from bot.nlu.crisis_model import CombinedCrisisDetector  # noqa: E402
from bot.nlu.intents import load_examples  # noqa: E402
from bot.nlu.types import CrisisVerdict  # noqa: E402

DATA_DIR = ROOT / "bench" / "data"
DEFAULT_DATA = DATA_DIR / "crisis.tsv"
NLU_DATA = ROOT / "nlu_data"
LANGUAGES: tuple[str, ...] = ("ar", "en", "fi", "ru", "so", "sw")
# (file name, role) in the order of the table; a role says what the figure of that set means.
SETS: tuple[tuple[str, str], ...] = (
    ("crisis.tsv", "tuned"),
    ("crisis_tuning_dev.tsv", "dev"),
    ("crisis_heldout_test.tsv", "held-out"),
    ("crisis_heldout_test2.tsv", "held-out"),
    ("crisis_heldout_test3.tsv", "held-out"),
    ("crisis_heldout_test4.tsv", "held-out"),
    ("crisis_heldout_test5.tsv", "held-out"),
)


@dataclass(frozen=True)
class Row:
    lang: str
    label: str  # "crisis" or "near_miss"
    category: str  # a crisis category, "none" for near-misses, "" when the file has no category column
    text: str


def read_rows(path: Path) -> list[Row]:
    """Rows of a tab-separated set: lang, label, optional category, text (no quoting)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [
            Row(r["lang"].strip(), r["label"].strip(), (r.get("category") or "").strip(), r["text"])
            for r in reader
            if r.get("text")
        ]


def role_of(path: Path) -> str:
    """The role of a known set; an unknown file is reported as "other"."""
    return dict(SETS).get(path.name, "other")


@dataclass
class Counts:
    """Found/total crises and flagged/total near-misses, per language and per category."""

    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    crises: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    flagged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    near: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    category_found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    category_total: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class Result:
    path: Path
    role: str
    rows: int
    hinted: Counts
    unhinted: Counts
    errors: list[str]


def evaluate(detector: CrisisDetector | CombinedCrisisDetector | CrisisOrQuestion, path: Path) -> Result:
    rows = read_rows(path)
    hinted, unhinted = Counts(), Counts()
    errors: list[str] = []
    for row in rows:
        for counts, hint in ((hinted, row.lang), (unhinted, None)):
            flagged = detector.is_crisis(row.text, hint)
            if row.label == "crisis":
                counts.found[row.lang] += flagged
                counts.crises[row.lang] += 1
                if row.category:
                    counts.category_found[row.category] += flagged
                    counts.category_total[row.category] += 1
                if not flagged and hint:
                    errors.append(f"  miss {row.lang} {row.category or '':9} {row.text}")
            else:
                counts.flagged[row.lang] += flagged
                counts.near[row.lang] += 1
                if flagged and hint:
                    errors.append(f"  FP   {row.lang}: {row.text}  ({detector.match(row.text, hint)})")
    return Result(path, role_of(path), len(rows), hinted, unhinted, errors)


class CrisisOrQuestion:
    """Counts a message when it gets the emergency information or the safety question."""

    def __init__(self, combined: CombinedCrisisDetector) -> None:
        self.combined = combined

    def is_crisis(self, text: str, language: str | None = None) -> bool:
        return self.combined.assess(text, language) is not CrisisVerdict.NONE

    def match(self, text: str, language: str | None = None) -> object:
        return self.combined.match(text, language) or "safety question"


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%} ({part}/{whole})" if whole else "-"


def table(results: list[Result]) -> str:
    """One line per set: recall per language and overall, false positives, hinted and unhinted."""
    head = f"{'set':26} {'role':9}" + "".join(f" {lang:>6}" for lang in LANGUAGES)
    head += f" {'recall':>16} {'FP':>14} {'recall no hint':>16} {'FP no hint':>14}"
    lines = [head, "-" * len(head)]
    for result in results:
        hinted, unhinted = result.hinted, result.unhinted
        line = f"{result.path.name:26} {result.role:9}"
        line += "".join(f" {_ratio(hinted.found[lang], hinted.crises[lang]):>6}" for lang in LANGUAGES)
        found, crises = sum(hinted.found.values()), sum(hinted.crises.values())
        line += f" {_ratio(found, crises) + f' ({found}/{crises})':>16}"
        line += f" {_share(sum(hinted.flagged.values()), sum(hinted.near.values())):>14}"
        found, crises = sum(unhinted.found.values()), sum(unhinted.crises.values())
        line += f" {_ratio(found, crises) + f' ({found}/{crises})':>16}"
        line += f" {_share(sum(unhinted.flagged.values()), sum(unhinted.near.values())):>14}"
        lines.append(line)
    return "\n".join(lines)


def category_table(results: list[Result]) -> str:
    """Recall per crisis category (hinted), for the sets that label categories."""
    labelled = [r for r in results if r.hinted.category_total]
    if not labelled:
        return ""
    head = f"{'set':26} {'role':9}" + "".join(f" {category:>9}" for category in CATEGORIES)
    lines = [head, "-" * len(head)]
    for result in labelled:
        counts = result.hinted
        line = f"{result.path.name:26} {result.role:9}"
        line += "".join(f" {_ratio(counts.category_found[c], counts.category_total[c]):>9}" for c in CATEGORIES)
        lines.append(line)
    return "\n".join(lines)


def throughput(detector: CrisisDetector | CombinedCrisisDetector, texts: list[str]) -> str:
    """Checks per second over the given messages for about a second, wall and CPU time."""
    started, cpu_started = time.perf_counter(), time.process_time()
    rounds = 0
    while time.perf_counter() - started < 1.0:
        for text in texts:
            detector.is_crisis(text)
        rounds += 1
    wall = time.perf_counter() - started
    cpu = max(time.process_time() - cpu_started, 1e-9)
    checks = rounds * len(texts)
    return f"{checks / wall:,.0f} checks/s (wall), {checks / cpu:,.0f} checks/s (CPU)"


def ordinary_false_alarms(detector: CrisisDetector | CombinedCrisisDetector | CrisisOrQuestion) -> tuple[int, int]:
    """(flagged, total) over nlu_data/test: ordinary messages, none of them a crisis."""
    texts = [e.text for e in load_examples(NLU_DATA / "test")]
    return sum(detector.is_crisis(text) for text in texts), len(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, action="append", help="a set to check (repeatable); default: all")
    parser.add_argument("--errors", action="store_true", help="list misses and false positives of tuned/dev sets")
    parser.add_argument(
        "--heldout-errors", action="store_true", help="also list them for held-out sets (spends the set)"
    )
    parser.add_argument("--cache-dir", type=Path, help="the model cache (default: train afresh, cache nothing)")
    args = parser.parse_args(argv)
    paths: list[Path] = args.data or [DATA_DIR / name for name, _ in SETS if (DATA_DIR / name).exists()]

    started = time.perf_counter()
    lexicons = CrisisDetector()
    load = time.perf_counter() - started
    started = time.perf_counter()
    combined = CombinedCrisisDetector.load(NLU_DATA, cache_dir=args.cache_dir)
    combined_load = time.perf_counter() - started
    detectors: tuple[tuple[str, CrisisDetector | CombinedCrisisDetector | CrisisOrQuestion], ...] = (
        ("lexicons only", lexicons),
        ("combined: lexicons OR model", combined),
        ("reached: the emergency information OR the safety question", CrisisOrQuestion(combined)),
    )
    texts = [row.text for path in paths for row in read_rows(path)]
    print(f"Crisis detection, recall per language (language as hint) and overall; {len(paths)} sets")
    for name, detector in detectors:
        results = [evaluate(detector, path) for path in paths]
        print(f"\n== {name}\n")
        print(table(results))
        categories = category_table(results)
        if categories:
            print("\nrecall per category (hint)\n" + categories)
        flagged, total = ordinary_false_alarms(detector)
        print(f"\nordinary messages (nlu_data/test) flagged: {flagged}/{total}")
        for result in results:
            held_out = result.role == "held-out"
            if result.errors and (args.heldout_errors if held_out else args.errors):
                print(f"\n{result.path.name} ({result.role}):\n" + "\n".join(result.errors))
            elif result.errors and held_out and args.errors:
                print(f"\n{result.path.name} (held-out): {len(result.errors)} errors not listed (--heldout-errors)")
    print("\ntargets: recall >= 0.980, FP <= 5.0%")
    print("tuned = the lexicons were written against it, and the model trained on it; dev = its misses were")
    print("used to improve the lexicons, and the model trained on it; held-out = never used for either:")
    print("the honest estimate.")
    model = combined.model
    if model is not None:
        meta = model.metadata
        print(
            f"\nmodel: threshold {model.threshold:.3f}, {len(model.weights)} weights; out-of-fold on its training data:"
            f" recall {meta['cv_recall']:.3f}, near-misses flagged {meta['cv_near_miss_false_alarms']:.1%},"
            f" ordinary flagged {meta['cv_ordinary_flagged']} ({meta['cv_ordinary_false_alarms']:.2%});"
            f" safety question from {model.check_threshold:.3f}: crises reached {meta['cv_recall_with_checks']:.3f},"
            f" ordinary asked or flagged {meta['cv_ordinary_checked']}"
        )
    print(f"\nlexicons: load {load * 1000:.0f} ms, {throughput(lexicons, texts)}")
    print(f"combined: load {combined_load * 1000:.0f} ms, {throughput(combined, texts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
