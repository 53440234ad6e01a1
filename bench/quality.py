"""Held-out quality: `--preset default` on the tutorial's corpus, the shared protocol.

Train on the first 90% of lines of ../shared/data/jaychou_lyrics.txt, validate on the last 10%,
words seen once become <unk>; report the best validation perplexity and the seconds of training
it took to reach it. Reference on this protocol (../shared/README.md): Kneser-Ney 4-gram 99.9,
3-gram 105.9, unigram 122.7, the tutorial's code above 5,000.

    python bench/quality.py [--runs 3] [--time-budget 120] [--preset default]
"""

from __future__ import annotations

import argparse

from _common import JAYCHOU, LYRICS_TUI, machine, median, run_json_lines


def one_run(preset: str, budget: float, seed: int) -> tuple[float, float]:
    events = run_json_lines(
        [
            *LYRICS_TUI,
            "train",
            "--preset",
            preset,
            "--corpus",
            str(JAYCHOU),
            "--val-fraction",
            "0.1",
            "--min-count",
            "2",
            "--time-budget",
            str(budget),
            "--seed",
            str(seed),
            "--out",
            f"/tmp/lyrics-tui-bench-quality-{seed}.pt",
            "--json",
        ]
    )
    epochs = [e for e in events if e["event"] == "epoch"]
    best = min(epochs, key=lambda e: e["val_ppl"])
    return best["val_ppl"], best["elapsed_s"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-budget", type=float, default=120)
    parser.add_argument("--preset", default="default")
    args = parser.parse_args()
    ppls, secs = [], []
    for seed in range(args.runs):
        ppl, at = one_run(args.preset, args.time_budget, seed)
        ppls.append(ppl)
        secs.append(at)
        print(f"seed {seed}: best held-out perplexity {ppl:.1f} after {at:.0f} s", flush=True)
    print(f"machine: {machine()}")
    print(
        f"median best held-out perplexity {median(ppls):.1f} (worst {max(ppls):.1f}), "
        f"median seconds to reach it {median(secs):.0f}"
    )


if __name__ == "__main__":
    main()
