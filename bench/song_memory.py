"""Does a generated song repeat itself like a song? The corpus against plain and cached sampling.

    python bench/song_memory.py --checkpoint PATH [--seeds 3] [--tokens 1500] [--temperature 0.8]
                                [--lambdas 0.1,0.3] [--adapt]

A line "repeats" when it is identical to one of the 30 non-empty lines before it; "distinct" is
the number of different lines over the number of lines. Reported for the tutorial's corpus (all
of it, and its held-out tail), for sampled generation from the network alone (--cache off), and
with song memory at the checkpoint's fitted settings (and at any other λ given). Goal (issue 9):
with the fitted settings, 15%-45% of lines repeat and at least half of the lines are distinct.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the lyrics-tui entry point does

import argparse
import sys
import time

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
    opened, cache, seeds: int, tokens: int, temperature: float, first_seed: int = 0
) -> list[str]:
    from lyrics_tui.core.sampling import SamplerSettings

    out: list[str] = []
    for seed in range(first_seed, first_seed + seeds):
        settings = SamplerSettings(
            temperature=temperature, seed=seed, max_tokens=tokens, cache=cache
        )
        generation = opened.sampler().generate("", settings)
        for _ in generation:
            pass
        out.extend(generation.text.split("\n"))
    return out


def main() -> None:
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.loading import open_checkpoint

    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
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
    rows = [
        ("corpus, all lines", *repetition(corpus)),
        ("corpus, held-out tail", *repetition(tail)),
    ]
    opened = open_checkpoint(args.checkpoint)
    fit = opened.cache_fit
    runs = [("generated, network alone", None)]
    if fit is not None and fit.settings.on:
        runs.append((f"generated, song memory as fitted ({fit.settings.label})", fit.settings))
        for text in filter(None, args.lambdas.split(",")):
            settings = fit.settings.with_lambda(float(text))
            runs.append((f"generated, song memory λ {settings.lam:g}", settings))
    else:
        print("the checkpoint stores no fitted song memory: only the network alone is measured")
    for name, cache in runs:
        start = time.perf_counter()
        lines = generated_lines(opened, cache, args.seeds, args.tokens, args.temperature)
        rows.append((f"{name} [{time.perf_counter() - start:.0f} s]", *repetition(lines)))
    if args.adapt:
        from lyrics_tui.core.adapt import AdaptSettings

        for name, cache in runs[:2]:
            start = time.perf_counter()
            adaptive = [
                line
                for seed in range(args.seeds)  # a fresh copy of the network for each song
                for line in generated_lines(
                    open_checkpoint(args.checkpoint, adapt=AdaptSettings()),
                    cache,
                    1,
                    args.tokens,
                    args.temperature,
                    first_seed=seed,
                )
            ]
            label = f"{name}, with --adapt [{time.perf_counter() - start:.0f} s]"
            rows.append((label, *repetition(adaptive)))
    print(f"machine: {machine()}")
    print(
        f"{args.seeds} seeds × {args.tokens:,} tokens, temperature {args.temperature:g}; a line "
        f"repeats when it equals one of the {WINDOW} lines before it"
    )
    for name, repeats, distinct, count in rows:
        print(f"{name}: {repeats:.1%} of {count:,} lines repeat, {distinct:.1%} distinct")


if __name__ == "__main__":
    main()
