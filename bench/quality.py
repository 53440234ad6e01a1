"""Held-out quality: `--preset default` on the tutorial's corpus, the shared protocol, with and
without song memory.

Train on the first 90% of lines of ../shared/data/jaychou_lyrics.txt, validate on the last 10%,
words seen once become <unk>; report the best validation perplexity of the network alone and the
seconds of training it took to reach it (as before), then song memory's figures for that best
checkpoint, fitted after training: on the whole validation split (settings chosen and scored on
the same text: optimistic) and cross-fitted (settings chosen on its first half, scored on its
second half, beside the network alone on that second half). Reference on this protocol
(../shared/README.md): Kneser-Ney 4-gram 99.9, 3-gram 105.9, unigram 122.7, the tutorial's code
above 5,000; a 4-gram with a unigram cache 58.3.

    python bench/quality.py [--runs 3] [--time-budget 120] [--preset default]
                            [--epochs N --threads 1]   # fixed work, independent of the load
                            [--corpus NAME|FILE]       # another corpus, the same protocol
                            [--against PYTHON]         # alternate with another checkout's
                                                       # interpreter (its .venv/bin/python)
"""

from __future__ import annotations

import argparse

from _common import JAYCHOU, LYRICS_TUI, machine, median, run_json_lines


def one_run(args: argparse.Namespace, seed: int, command: list[str] = LYRICS_TUI) -> dict:
    extra = []
    if args.epochs:
        extra += ["--epochs", str(args.epochs)]
    if args.threads:
        extra += ["--threads", str(args.threads)]
    events = run_json_lines(
        [
            *command,
            "train",
            "--preset",
            args.preset,
            "--corpus",
            args.corpus,
            "--val-fraction",
            "0.1",
            "--min-count",
            "2",
            "--time-budget",
            str(args.time_budget),
            *extra,
            "--seed",
            str(seed),
            "--out",
            f"/tmp/lyrics-tui-bench-quality-{seed}.pt",
            "--json",
        ]
    )
    epochs = [e for e in events if e["event"] == "epoch"]
    done = events[-1]
    best = min(epochs, key=lambda e: e["val_ppl"])
    return {
        "ppl": best["val_ppl"],
        "at": best["elapsed_s"],
        "epoch": best["epoch"],
        "epochs": len(epochs),
        "seconds": epochs[-1]["elapsed_s"],
        "cache": done.get("cache_val_ppl"),
        "cross_plain": done.get("plain_cross_ppl"),
        "cross_cache": done.get("cache_cross_ppl"),
        "settings": done.get("cache"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-budget", type=float, default=120)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--epochs", type=int, default=0, help="a fixed number of epochs")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: auto)")
    parser.add_argument("--corpus", default=str(JAYCHOU))
    parser.add_argument("--against", help="another checkout's python, run alternately")
    args = parser.parse_args()
    results = []
    others = []
    for seed in range(args.runs):
        if args.against:
            other = one_run(args, seed, [args.against, "-m", "lyrics_tui.tui.cli"])
            others.append(other)
            print(
                f"seed {seed} (against): best held-out perplexity {other['ppl']:.1f} at epoch "
                f"{other['epoch']} of {other['epochs']}; with song memory {other['cache']}",
                flush=True,
            )
        r = one_run(args, seed)
        results.append(r)
        memory = (
            f"; with song memory {r['cache']:.1f} (fitted on validation), cross-fitted "
            f"{r['cross_plain']:.1f} -> {r['cross_cache']:.1f} on its second half "
            f"[{r['settings']}]"
            if r["cache"] is not None
            else ""
        )
        print(
            f"seed {seed}: best held-out perplexity {r['ppl']:.1f} at epoch {r['epoch']} of "
            f"{r['epochs']}, after {r['at']:.0f} s of {r['seconds']:.0f}{memory}",
            flush=True,
        )
    print(f"machine: {machine()}; corpus {args.corpus}")
    if others:
        print(
            f"against: median best held-out perplexity "
            f"{median([o['ppl'] for o in others]):.1f}; with song memory "
            f"{median([o['cache'] for o in others if o['cache'] is not None] or [0]):.1f}"
        )
    ppls = [r["ppl"] for r in results]
    print(
        f"median best held-out perplexity {median(ppls):.1f} (worst {max(ppls):.1f}), "
        f"median seconds to reach it {median([r['at'] for r in results]):.0f}"
    )
    if all(r["cache"] is not None for r in results):
        print(
            f"with song memory: median {median([r['cache'] for r in results]):.1f} (fitted on "
            f"validation; worst {max(r['cache'] for r in results):.1f}); cross-fitted on the "
            f"second half: median {median([r['cross_plain'] for r in results]):.1f} -> "
            f"{median([r['cross_cache'] for r in results]):.1f}"
        )


if __name__ == "__main__":
    main()
