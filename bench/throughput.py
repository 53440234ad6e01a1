"""Training throughput: `--preset tutorial` against the tutorial's own code, side by side.

Runs ../shared/bench/seed_reference.py and `lyrics-tui train --preset tutorial` alternately on
the tutorial's corpus, ROUNDS times each, and prints the median tokens/s of each and the median
of the per-round ratios (alternating cancels most of a shared machine's drift).

    python bench/throughput.py [--rounds 3] [--epochs 2] [--precision auto|fp32]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from _common import JAYCHOU, LYRICS_TUI, ROOT, SEED_REFERENCE, machine, median, run_json_lines


def seed_tokens_per_s(epochs: int) -> float:
    out = subprocess.run(
        [sys.executable, str(SEED_REFERENCE), "--corpus", str(JAYCHOU), "--epochs", str(epochs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.search(r"tokens_per_s=(\d+(?:\.\d+)?)", out.stdout).group(1))


def ours_tokens_per_s(epochs: int, precision: str = "auto") -> float:
    events = run_json_lines(
        [
            *LYRICS_TUI,
            "train",
            "--preset",
            "tutorial",
            "--corpus",
            str(JAYCHOU),
            "--val-fraction",
            "0",
            "--epochs",
            str(epochs),
            "--precision",
            precision,
            "--out",
            "/tmp/lyrics-tui-bench-throughput.pt",
            "--json",
        ]
    )
    rates = [e["tokens_per_s"] for e in events if e["event"] == "epoch"]
    return median(rates)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--precision", default="auto", help="ours: auto (bf16 where the CPU has bf16 units), fp32"
    )
    args = parser.parse_args()
    seed, ours, ratios = [], [], []
    for i in range(args.rounds):
        s = seed_tokens_per_s(args.epochs)
        o = ours_tokens_per_s(args.epochs, args.precision)
        seed.append(s)
        ours.append(o)
        ratios.append(o / s)
        print(
            f"round {i + 1}: seed_reference {s:,.0f} tok/s, lyrics-tui --preset tutorial "
            f"{o:,.0f} tok/s, ratio {o / s:.2f}",
            flush=True,
        )
    print(f"machine: {machine()}")
    print(
        f"median: seed_reference {median(seed):,.0f} tok/s; lyrics-tui {median(ours):,.0f} tok/s; "
        f"median ratio {median(ratios):.2f}x"
    )


if __name__ == "__main__":
    main()
