"""Choosing a bundled corpus's defaults: word or character tokens, and the settings, by held-out
quality on the shared protocol (first 90% of lines to train, last 10% held out).

Word and character models are compared in bits per character of the held-out text (every
character plus one line end per line, as core/inspection.py's LineScore counts them): a word
model's perplexity is per word and a character model's per character, so those two never
compare. A word model's bits also count each <unk> as one cheap token, which flatters it when
many held-out words are unknown. The Kneser-Ney figures of ../shared/README.md (jieba words,
vocabulary = training words seen at least twice) are turned into bits per character the same way.

Each setting trains once, one at a time, with --threads 1 and a fixed number of epochs, so the
comparison holds on a shared machine (only the seconds are noisy).

    python bench/corpus_defaults.py [--corpus ../shared/data/songci.txt] [--epochs 8]
        [--only NAME ...]
"""

from __future__ import annotations

import argparse
import math
import time

from _common import LYRICS_TUI, SHARED, machine, run_json_lines

# Kneser-Ney held-out perplexities per jieba word on this protocol, from ../shared/README.md.
KN = {"songci.txt": {"unigram": 71.0, "KN 2-gram": 56.7, "KN 3-gram": 56.8, "KN 4-gram": 58.4}}

# name -> flags over `--preset default`
SETTINGS: dict[str, list[str]] = {
    "word": ["--tokenizer", "word"],
    "char": ["--tokenizer", "char"],
    "char-dropout-0.4": ["--tokenizer", "char", "--dropout", "0.4"],
    "char-lstm": ["--tokenizer", "char", "--cell", "lstm"],
    "char-bs32": ["--tokenizer", "char", "--batch-size", "32"],
}


def held_out(corpus: str) -> list[str]:
    from lyrics_tui.core.corpus import read_corpus

    return read_corpus(corpus).split(0.1)[1]


def characters(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)  # each line and its line end


def bits_per_char(checkpoint: str, lines: list[str]) -> tuple[float, float, float, int]:
    """(bits per character, perplexity per token, <unk> share, tokens) of the held-out lines."""
    from lyrics_tui.core.checkpoint import load_checkpoint
    from lyrics_tui.core.evaluate import evaluate_lines

    result = evaluate_lines(load_checkpoint(checkpoint), lines)
    bits = result.loss * result.tokens / math.log(2)
    return (
        bits / characters(lines),
        result.perplexity,
        result.unknown / result.tokens,
        result.tokens,
    )


def word_tokens(lines: list[str]) -> int:
    from lyrics_tui.core.tokens import Tokenizer

    return sum(len(tokens) for tokens in Tokenizer("word").lines(lines))


def one_run(name: str, corpus: str, epochs: int, seed: int, lines: list[str]) -> None:
    out = f"/tmp/lyrics-tui-bench-corpus-{name}-{seed}.pt"
    start = time.perf_counter()
    events = run_json_lines(
        [
            *LYRICS_TUI,
            "train",
            "--preset",
            "default",
            *SETTINGS[name],
            "--corpus",
            corpus,
            "--val-fraction",
            "0.1",
            "--epochs",
            str(epochs),
            "--threads",
            "1",
            "--seed",
            str(seed),
            "--out",
            out,
            "--json",
        ]
    )
    wall = time.perf_counter() - start
    curve = " ".join(f"{e['val_ppl']:.1f}" for e in events if e["event"] == "epoch")
    bpc, ppl, unk, tokens = bits_per_char(out, lines)
    print(
        f"{name:18s} {bpc:.3f} bits/char · best perplexity {ppl:.1f} per token over {tokens:,} "
        f"tokens ({unk:.1%} <unk>) · {wall:.0f} s wall · val ppl by epoch: {curve}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(SHARED / "data" / "songci.txt"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", choices=tuple(SETTINGS), default=None)
    args = parser.parse_args()
    lines = held_out(args.corpus)
    chars, words = characters(lines), word_tokens(lines)
    print(f"machine: {machine()}; held out: {len(lines):,} lines, {chars:,} characters")
    for name, ppl in KN.get(args.corpus.rsplit("/", 1)[-1], {}).items():
        print(f"{name:18s} {math.log2(ppl) * words / chars:.3f} bits/char · perplexity {ppl}")
    for name in args.only or SETTINGS:
        one_run(name, args.corpus, args.epochs, args.seed, lines)


if __name__ == "__main__":
    main()
