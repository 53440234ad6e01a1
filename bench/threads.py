"""Torch CPU threads for headless training: tokens/s with 1 and 2 threads, alternated.

    python bench/threads.py [--rounds 3] [--preset tutorial]

On a quiet 2-core machine two threads are faster; beside another busy process (a second run)
two OpenMP threads spin against it and can run 10x slower. So no count is fixed:
core.device.ThreadChooser times real batches with each and keeps the faster, headless and in
the playground alike.
"""

from __future__ import annotations

import argparse

from _common import JAYCHOU, LYRICS_TUI, machine, median, run_json_lines


def rate(preset: str, threads: int) -> float:
    events = run_json_lines(
        [
            *LYRICS_TUI,
            "train",
            "--preset",
            preset,
            "--corpus",
            str(JAYCHOU),
            "--val-fraction",
            "0",
            "--epochs",
            "1",
            "--threads",
            str(threads),
            "--out",
            "/tmp/lyrics-tui-bench-threads.pt",
            "--json",
        ]
    )
    return next(e for e in events if e["event"] == "epoch")["tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--preset", default="tutorial")
    args = parser.parse_args()
    results: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.rounds):
        for threads in (1, 2):
            results[threads].append(rate(args.preset, threads))
            print(f"{threads} thread(s): {results[threads][-1]:,.0f} tok/s", flush=True)
    print(f"machine: {machine()}")
    for threads, values in results.items():
        print(f"median {threads} thread(s): {median(values):,.0f} tok/s")


if __name__ == "__main__":
    main()
