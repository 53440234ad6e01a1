"""Choosing a bundled corpus's defaults: word or character tokens, and the settings, by held-out
quality on the shared protocol (first 90% of lines to train, last 10% held out).

Word and character models are compared in bits per character of the held-out text (every
character plus one line end per line, as core/inspection.py's LineScore counts them): a word
model's perplexity is per word and a character model's per character, so those two never
compare. Bits per character still flatter a model with many unknown tokens, since an <unk> is
one cheap guess that never says which word it was; so a second figure, "open", adds the cost
of spelling each unknown token out with a character unigram model of the training text
(add-one smoothed; a word's length from a geometric distribution with the mean length of the
training words seen once). The Kneser-Ney figures of ../shared/README.md (jieba words,
vocabulary = training words seen at least twice) are turned into both figures the same way.

Each setting trains once, one at a time, with --threads 1 and a fixed number of epochs, so the
comparison holds on a shared machine (only the seconds are noisy).

    python bench/corpus_defaults.py [--corpus ../shared/data/songci.txt] [--epochs 8]
        [--only NAME ...]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from pathlib import Path

from _common import LYRICS_TUI, SHARED, machine, run_json_lines

# Kneser-Ney held-out perplexities per jieba word on this protocol, from ../shared/README.md.
KN = {"songci.txt": {"unigram": 71.0, "KN 2-gram": 56.7, "KN 3-gram": 56.8, "KN 4-gram": 58.4}}

# name -> flags over `--preset default`
SETTINGS: dict[str, list[str]] = {
    "word": ["--tokenizer", "word"],
    "char": ["--tokenizer", "char"],
    "char-dropout-0.3": ["--tokenizer", "char", "--dropout", "0.3"],
    "char-dropout-0.4": ["--tokenizer", "char", "--dropout", "0.4"],
    "char-dropout-0.5": ["--tokenizer", "char", "--dropout", "0.5"],
    "char-dropout-0.4-12-epochs": ["--tokenizer", "char", "--dropout", "0.4", "--epochs", "12"],
    "char-dropout-0.4-lr-5e-3": ["--tokenizer", "char", "--dropout", "0.4", "--lr", "5e-3"],
    "char-lstm": ["--tokenizer", "char", "--cell", "lstm"],
    "char-bs32": ["--tokenizer", "char", "--batch-size", "32"],
}


def split(corpus: str) -> tuple[list[str], list[str]]:
    from lyrics_tui.core.corpus import read_corpus

    return read_corpus(corpus).split(0.1)


def characters(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)  # each line and its line end


class Speller:
    """Bits to spell a token out, character by character, from the training text."""

    def __init__(self, train: list[str], held: list[str]) -> None:
        from lyrics_tui.core.tokens import Tokenizer

        self.counts = Counter(ch for line in train for ch in line)
        alphabet = set(self.counts) | {ch for line in held for ch in line}
        self.total = sum(self.counts.values()) + len(alphabet)
        words = Counter(t for line in Tokenizer("word").lines(train) for t in line)
        once = [len(w) for w, n in words.items() if n == 1]
        self.stop = len(once) / sum(once)  # geometric length, mean = mean length of singletons

    def bits(self, token: str, word: bool) -> float:
        spelled = sum(-math.log2((self.counts[ch] + 1) / self.total) for ch in token)
        if word:
            spelled += -math.log2((1 - self.stop) ** (len(token) - 1) * self.stop)
        return spelled


def unknown_tokens(kind: str, known, lines: list[str]) -> list[str]:
    from lyrics_tui.core.tokens import Tokenizer

    return [t for line in Tokenizer(kind).lines(lines) for t in line if t not in known]


def measure(checkpoint: str, lines: list[str], speller: Speller) -> dict:
    """Bits per character (plain and open), perplexity per token, <unk> share, tokens."""
    from lyrics_tui.core.checkpoint import load_checkpoint
    from lyrics_tui.core.evaluate import evaluate_lines

    ck = load_checkpoint(checkpoint)
    result = evaluate_lines(ck, lines)
    bits = result.loss * result.tokens / math.log(2)
    kind = ck.train_config.tokenizer
    known = {t for t in ck.vocab.tokens if t != "<unk>"}
    spelled = sum(speller.bits(t, kind == "word") for t in unknown_tokens(kind, known, lines))
    chars = characters(lines)
    return {
        "bpc": bits / chars,
        "open": (bits + spelled) / chars,
        "ppl": result.perplexity,
        "unk": result.unknown / result.tokens,
        "tokens": result.tokens,
    }


def kneser_ney(train: list[str], held: list[str], speller: Speller, ppl: float) -> str:
    from lyrics_tui.core.tokens import Tokenizer

    counts = Counter(t for line in Tokenizer("word").lines(train) for t in line)
    known = {t for t, n in counts.items() if n >= 2}
    tokens = sum(len(line) for line in Tokenizer("word").lines(held))
    bits = math.log2(ppl) * tokens
    spelled = sum(speller.bits(t, True) for t in unknown_tokens("word", known, held))
    chars = characters(held)
    return f"{bits / chars:.3f} bits/char, open {(bits + spelled) / chars:.3f}"


def one_run(name: str, corpus: str, epochs: int, seed: int, lines: list[str], speller) -> None:
    out = f"/tmp/lyrics-tui-bench-corpus-{name}-{seed}.pt"
    start = time.perf_counter()
    events = run_json_lines(
        [
            *LYRICS_TUI,
            "train",
            "--preset",
            "default",
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
            *SETTINGS[name],  # last: a setting's own --epochs wins
        ]
    )
    wall = time.perf_counter() - start
    curve = " ".join(f"{e['val_ppl']:.1f}" for e in events if e["event"] == "epoch")
    m = measure(out, lines, speller)
    print(
        f"{name:26s} {m['bpc']:.3f} bits/char, open {m['open']:.3f} · best perplexity "
        f"{m['ppl']:.1f} per token over {m['tokens']:,} tokens ({m['unk']:.1%} <unk>) · "
        f"{wall:.0f} s wall · val ppl by epoch: {curve}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(SHARED / "data" / "songci.txt"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", choices=tuple(SETTINGS), default=None)
    parser.add_argument("--measure", nargs="*", default=(), help="only measure these files")
    args = parser.parse_args()
    train, held = split(args.corpus)
    speller = Speller(train, held)
    print(f"machine: {machine()}; held out: {len(held):,} lines, {characters(held):,} characters")
    for name, ppl in KN.get(Path(args.corpus).name, {}).items():
        print(f"{name:18s} {kneser_ney(train, held, speller, ppl)} · perplexity {ppl}")
    for path in args.measure:
        m = measure(path, held, speller)
        print(f"{path}: {m['bpc']:.3f} bits/char, open {m['open']:.3f} · ppl {m['ppl']:.1f}")
    if args.measure:
        return
    for name in args.only or SETTINGS:
        one_run(name, args.corpus, args.epochs, args.seed, held, speller)


if __name__ == "__main__":
    main()
