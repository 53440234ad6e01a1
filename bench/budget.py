"""Does `--time-budget` hold on a large corpus? Whole `lyrics-tui train` processes, timed.

Builds the corpora under --work when missing (never committed; made from the shared corpora):
`big4.txt`, the tutorial's corpus 25 times (4.3 MB), and `big50.txt`, the lines of the
tutorial's corpus, songci and the bundled corpus shuffled again and again up to 50 MB. One run
first puts the corpus's tokens in the cache (not timed); then `--runs` runs of
`lyrics-tui train --corpus FILE --time-budget B --json`, default settings otherwise (10%
validation), each timed as a whole process (wall seconds from spawn to exit) with its peak
resident memory; the run's own seconds and how it ended come from its JSON.

    python bench/budget.py [--work /tmp/lyrics-tui-budget] [--runs 3] \\
        [--case big4:10] [--case big50:60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import time
from pathlib import Path

from _common import JAYCHOU, LYRICS_TUI, ROOT, SHARED, machine, median

SOURCES = (JAYCHOU, SHARED / "data" / "songci.txt", ROOT / "data" / "lyrics.txt")


def build(work: Path, name: str) -> Path:
    path = work / f"{name}.txt"
    if path.exists():
        return path
    work.mkdir(parents=True, exist_ok=True)
    if name == "big4":
        path.write_text(JAYCHOU.read_text(encoding="utf-8") * 25, encoding="utf-8")
        return path
    lines = [line for source in SOURCES for line in source.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as out:
        written = 0
        while written < 50 * 1024 * 1024:
            rng.shuffle(lines)
            block = "\n".join(lines) + "\n"
            out.write(block)
            written += len(block.encode("utf-8"))
    return path


def one(corpus: Path, budget: float, work: Path) -> dict:
    """A whole process: wall seconds, peak RSS (MB), and its JSON's done event."""
    argv = [
        *LYRICS_TUI,
        "train",
        "--corpus",
        str(corpus),
        "--time-budget",
        str(budget),
        "--out",
        str(work / "budget.pt"),
        "--runs-db",
        str(work / "runs.sqlite3"),
        "--json",
    ]
    out = work / "budget.jsonl"
    with open(out, "w", encoding="utf-8") as stdout:
        began = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT, stdout=stdout, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({child.returncode})")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line]
    return {"wall": wall, "peak_mb": usage.ru_maxrss / 1024, "done": rows[-1]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default="/tmp/lyrics-tui-budget")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--case", action="append", help="NAME:BUDGET (default big4:10, big50:60)")
    args = parser.parse_args()
    work = Path(args.work)
    print(f"machine: {machine()}", flush=True)
    for case in args.case or ["big4:10", "big50:60"]:
        name, budget = case.split(":")
        corpus = build(work, name)
        size = os.path.getsize(corpus) / 1e6
        one(corpus, 1, work)  # tokens into the cache
        results = [one(corpus, float(budget), work) for _ in range(args.runs)]
        walls = [r["wall"] for r in results]
        peaks = [r["peak_mb"] for r in results]
        for r in results:
            d = r["done"]
            print(
                f"  {name} ({size:.1f} MB), --time-budget {budget}: {r['wall']:.1f} s in all, "
                f"the run {d['elapsed_s']:.1f} s, {d['reason']}, {d['epochs']} epoch(s), best "
                f"val ppl {d['best_val_ppl']:.1f}",
                flush=True,
            )
        print(
            f"{name}: median wall {median(walls):.1f} s (runs: "
            f"{', '.join(f'{w:.1f}' for w in walls)}); peak RSS "
            f"{max(peaks):.0f} MB (runs: {', '.join(f'{p:.0f}' for p in peaks)})",
            flush=True,
        )


if __name__ == "__main__":
    main()
