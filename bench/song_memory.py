"""Does a generated song repeat itself like a song? The corpus against plain and cached sampling.

    python bench/song_memory.py --checkpoint PATH [PATH ...] [--seeds 3] [--tokens 1500]
                                [--temperature 0.8] [--lambdas 0.1,0.3] [--adapt]

A line "repeats" when it is identical to one of the 30 non-empty lines before it; "distinct" is
the number of different lines over the number of lines. Reported for the tutorial's corpus (all
of it, and its held-out tail), for sampled generation from the network alone (--cache off), and
with song memory at the checkpoint's fitted settings, with and without its limit on how often a
line comes back (--returns; and at any other λ given). With several checkpoints (the three
seeds bench/quality.py trains) each is reported, then the medians. Goal (issue 9): with the
fitted settings, 15%-45% of lines repeat and at least half of the lines are distinct.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the lyrics-tui entry point does

import argparse
import statistics
import sys
import time
from dataclasses import replace

from _common import JAYCHOU, ROOT, machine

sys.path.insert(0, str(ROOT))

WINDOW = 30  # lines looked back


def repetition(lines: list[str], window: int = WINDOW) -> tuple[float, float, int]:
    """(share of lines equal to one of the `window` lines before them, distinct lines / lines,
    lines), over non-empty lines."""
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        return 0.0, 0.0, 0
    repeats = sum(1 for i, line in enumerate(lines) if line in lines[max(0, i - window) : i])
    return repeats / len(lines), len(set(lines)) / len(lines), len(lines)


def generated_lines(
    opened,
    cache,
    seeds: int,
    tokens: int,
    temperature: float,
    first_seed: int = 0,
    returns: int | None = None,
) -> list[str]:
    from lyrics_tui.core.sampling import SamplerSettings

    out: list[str] = []
    for seed in range(first_seed, first_seed + seeds):
        settings = SamplerSettings(
            temperature=temperature, seed=seed, max_tokens=tokens, cache=cache
        )
        if returns is not None:
            settings = replace(settings, returns=returns)
        generation = opened.sampler().generate("", settings)
        for _ in generation:
            pass
        out.extend(generation.text.split("\n"))
    return out


def measure(args: argparse.Namespace, path: str) -> list[tuple[str, float, float, int]]:
    from lyrics_tui.core.loading import open_checkpoint

    opened = open_checkpoint(path)
    fit = opened.cache_fit
    runs: list[tuple[str, object, int | None]] = [("network alone", None, None)]
    if fit is not None and fit.settings.on:
        runs.append(("song memory as fitted", fit.settings, None))
        runs.append(("song memory as fitted, --returns 0 (no limit)", fit.settings, 0))
        for text in filter(None, args.lambdas.split(",")):
            settings = fit.settings.with_lambda(float(text))
            runs.append((f"song memory λ {settings.lam:g}", settings, None))
        print(f"{path}: fitted {fit.settings.label}")
    else:
        print(f"{path}: no fitted song memory, only the network alone is measured")
    rows = []
    for name, cache, returns in runs:
        start = time.perf_counter()
        lines = generated_lines(
            opened, cache, args.seeds, args.tokens, args.temperature, returns=returns
        )
        rows.append((name, *repetition(lines)))
        print(
            f"  {name}: {rows[-1][1]:.1%} repeat, {rows[-1][2]:.1%} distinct, "
            f"{rows[-1][3]:,} lines [{time.perf_counter() - start:.0f} s]"
        )
    if args.adapt:
        from lyrics_tui.core.adapt import AdaptSettings

        for name, cache, _ in runs[:2]:
            adaptive = [
                line
                for seed in range(args.seeds)  # a fresh copy of the network for each song
                for line in generated_lines(
                    open_checkpoint(path, adapt=AdaptSettings()),
                    cache,
                    1,
                    args.tokens,
                    args.temperature,
                    first_seed=seed,
                )
            ]
            rows.append((f"{name}, with --adapt", *repetition(adaptive)))
            print(f"  {rows[-1][0]}: {rows[-1][1]:.1%} repeat, {rows[-1][2]:.1%} distinct")
    return rows


def main() -> None:
    from lyrics_tui.core.corpus import read_corpus

    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True, nargs="+")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=1500)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--lambdas", default="", help="more λ to try, comma-separated")
    parser.add_argument(
        "--adapt",
        action="store_true",
        help="also generate with dynamic evaluation (generate --adapt)",
    )
    args = parser.parse_args()

    corpus = read_corpus(str(JAYCHOU)).lines
    _, tail = read_corpus(str(JAYCHOU)).split(0.1)
    print(f"machine: {machine()}")
    print(
        f"{args.seeds} seeds × {args.tokens:,} tokens, temperature {args.temperature:g}; a line "
        f"repeats when it equals one of the {WINDOW} lines before it"
    )
    for name, lines in (("corpus, all lines", corpus), ("corpus, held-out tail", tail)):
        repeats, distinct, count = repetition(lines)
        print(f"{name}: {repeats:.1%} of {count:,} lines repeat, {distinct:.1%} distinct")
    measured = [measure(args, path) for path in args.checkpoint]
    if len(measured) > 1:
        print(f"medians over {len(measured)} checkpoints:")
        for i, row in enumerate(measured[0]):
            same = [rows[i] for rows in measured if len(rows) > i and rows[i][0] == row[0]]
            repeats = statistics.median(r[1] for r in same)
            distinct = statistics.median(r[2] for r in same)
            print(f"  {row[0]}: {repeats:.1%} repeat, {distinct:.1%} distinct ({len(same)})")


if __name__ == "__main__":
    main()
