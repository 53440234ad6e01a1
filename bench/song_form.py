"""Does what the model writes read like a song? Line length, rhyme and returning lines.

    python bench/song_form.py --checkpoint M [M ...] [--seeds 3] [--tokens 1500]
        [--temperatures 0.8] [--corpus FILE] [--val-fraction 0.1] [--settings NAME=FLAGS ...]

For each checkpoint × seed × temperature it generates a song from an empty prompt with the
default settings (and any other settings named with --settings, e.g. "off=--no-form --cache
off"), and measures it beside the training corpus and its held-out text (the last
--val-fraction of the lines of --corpus, by default the tutorial's):

- adjacent rhyme: the share of adjacent line pairs whose last Han characters share a 十三辙
  rhyme group (pinyin final of the character read on its own), and the same with the line
  ends shuffled (chance);
- length: total-variation distance between the histograms of Han characters per line of the
  song and of the training split, and the mean;
- returns: lines repeating one of the 30 before exactly; near-repeats: lines repeating none of
  them but with a difflib ratio >= 0.6 over characters with one of them; the most times one
  line is sung within 30 lines;
- distinct character bigrams / bigrams (inside lines); lines of <= 2 Han characters; the share
  of characters inside lines that are spaces;
- fluency: the network's own perplexity (song memory and every rule taken away, temperature 1)
  of the generated text, beside plain sampling's (--no-form --cache off --returns 0) at the
  same temperature and seed; each song's pair is listed, with the spaces in both texts (some
  seeds send plain sampling into runs of spaces, which the network scores as very likely).
The definitions are ../shared/README.md's, whose table the corpus rows reproduce. Figures
are medians over checkpoints × seeds. Checkpoints saved before the song form stored their
corpus's statistics are given those of the training split of --corpus (and this is said).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the lyrics-tui entry point does

import argparse
import difflib
import math
import shlex
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from _common import JAYCHOU, ROOT, machine

sys.path.insert(0, str(ROOT))

WINDOW = 30
NEAR = 0.6
MEASURES = (
    ("rhyme", "adjacent rhyme", "{:.1%}"),
    ("chance", "chance", "{:.1%}"),
    ("length_tv", "length distance", "{:.2f}"),
    ("mean_length", "mean length", "{:.1f}"),
    ("returns", "exact returns", "{:.1%}"),
    ("near", "near-repeats", "{:.1%}"),
    ("bigrams", "distinct bigrams", "{:.2f}"),
    ("short", "lines <= 2", "{:.1%}"),
    ("blanks", "spaces in lines", "{:.1%}"),
    ("most_sung", "most sung in 30", "{:.0f}"),
    ("fluency", "network ppl", "{:.1f}"),
    ("fluency_ratio", "ppl / plain", "{:.2f}"),
    ("lines", "lines", "{:.0f}"),
)


def song_measures(lines: list[str], corpus_lengths=None) -> dict[str, float]:
    from lyrics_tui.core.songform.corpus_form import (
        adjacent_rhyme,
        line_end_groups,
        shuffled_rhyme,
    )
    from lyrics_tui.core.songform.lengths import LineLengths
    from lyrics_tui.core.songform.rhyme import han_characters

    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        return {"lines": 0}
    groups = line_end_groups(lines)
    lengths = LineLengths.of_lines(lines)
    exact = near = 0
    most = 1
    for i, line in enumerate(lines):
        before = lines[max(0, i - WINDOW) : i]
        times = before.count(line)
        most = max(most, times + 1)
        if times:
            exact += 1
        elif any(difflib.SequenceMatcher(None, line, b).ratio() >= NEAR for b in before):
            near += 1
    pairs = [line[i : i + 2] for line in lines for i in range(len(line) - 1)]
    out = {
        "rhyme": adjacent_rhyme(groups),
        "chance": shuffled_rhyme(groups),
        "mean_length": lengths.mean,
        "returns": exact / len(lines),
        "near": near / len(lines),
        "bigrams": len(set(pairs)) / max(1, len(pairs)),
        "short": sum(han_characters(line) <= 2 for line in lines) / len(lines),
        "blanks": blank_share(lines),
        "most_sung": float(most),
        "lines": float(len(lines)),
    }
    if corpus_lengths is not None:
        out["length_tv"] = lengths.distance(corpus_lengths)
    return out


def blank_share(lines: list[str]) -> float:
    """The share of a text's characters (inside lines) that are spaces: plain sampling at 0.8
    can string spaces together, text the network scores as very likely (docs/writing.md)."""
    text = "".join(line.strip() for line in lines)
    return sum(c.isspace() for c in text) / max(1, len(text))


def network_surprises(opened, text_ids: list[int]) -> list[float]:
    """-log p_network of each id after a line start, the network alone (nats)."""
    from lyrics_tui.core.distribution import softmax
    from lyrics_tui.core.tokens import NEWLINE

    stepper = opened.stepper
    state = stepper.initial_state()
    logits, state = stepper.step(state, opened.vocab.id(NEWLINE))
    out = []
    for token_id in text_ids:
        out.append(-math.log(max(float(softmax(logits)[token_id]), 1e-300)))
        logits, state = stepper.step(state, token_id)
    return out


def network_perplexity(opened, text_ids: list[int]) -> float:
    """exp(mean -log p_network) of the ids after a line start, the network alone."""
    return math.exp(sum(network_surprises(opened, text_ids)) / max(1, len(text_ids)))


def write_song(opened, settings) -> tuple[list[str], list[int]]:
    generation = opened.sampler().generate("", settings)
    ids = [token.token_id for token in generation]
    return generation.text.split("\n"), ids


def settings_for(opened, flags: str, temperature: float, seed: int, tokens: int):
    """Sampler settings as `lyrics-tui generate FLAGS` would give them."""
    from lyrics_tui.tui.cli import build_parser
    from lyrics_tui.tui.cli.common import cache_option, sampler_settings

    args = build_parser().parse_args(["generate", *shlex.split(flags)])
    settings = sampler_settings(args, max_tokens=tokens)
    settings = replace(settings, temperature=temperature, seed=seed)
    return replace(settings, cache=opened.cache(cache_option(args)).settings)


PLAIN = "--no-form --cache off --returns 0"  # after a setting's own flags: the sampler alone


def measure_checkpoint(args, path: str, named: list[tuple[str, str]], corpus_form) -> list[dict]:
    from lyrics_tui.core.loading import open_checkpoint

    opened = open_checkpoint(path)
    if not opened.form.stored:
        opened = replace(opened, form=corpus_form)
        print(f"{path}: no stored song form; using the training split's of {args.corpus}")
    rows = []
    plain: dict[tuple[str, float, int], tuple[float, float]] = {}
    for temperature in args.temperatures:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for name, flags in named:
                base = settings_for(opened, f"{flags} {PLAIN}", temperature, seed, args.tokens)
                key = (repr(replace(base, cache=None)), temperature, seed)
                if key not in plain:  # plain sampling with the same settings otherwise
                    plain_lines, plain_ids = write_song(opened, base)
                    plain[key] = (
                        network_perplexity(opened, plain_ids),
                        blank_share(plain_lines),
                    )
                settings = settings_for(opened, flags, temperature, seed, args.tokens)
                lines, ids = write_song(opened, settings)
                row = song_measures(lines, corpus_form.lengths)
                row["fluency"] = network_perplexity(opened, ids)
                row["plain_fluency"], row["plain_blanks"] = plain[key]
                row["fluency_ratio"] = row["fluency"] / row["plain_fluency"]
                row.update(name=name, temperature=temperature, seed=seed, path=path)
                rows.append(row)
                if args.show:
                    print(f"--- {path} {name} T {temperature:g} seed {seed}")
                    print("\n".join(lines[: args.show]))
    return rows


def goals(rows: list[dict], temperature: float) -> list[tuple[str, bool]]:
    """Issue 16's goals for these songs (medians), each with whether it is reached."""
    med = {
        key: statistics.median(r[key] for r in rows)
        for key, value in rows[0].items()
        if isinstance(value, float | int)
    }
    most = max(r["most_sung"] for r in rows)
    if temperature == 0.8:
        return [
            (
                f"adjacent rhyme {med['rhyme']:.1%} >= 45% and >= 3x its chance "
                f"{med['chance']:.1%} ({med['rhyme'] / max(med['chance'], 1e-9):.1f}x)",
                med["rhyme"] >= 0.45 and med["rhyme"] >= 3 * med["chance"],
            ),
            (f"length distance {med['length_tv']:.3f} <= 0.15", med["length_tv"] <= 0.15),
            (f"exact returns {med['returns']:.1%} in 15-45%", 0.15 <= med["returns"] <= 0.45),
            (f"near-repeats {med['near']:.1%} <= 8%", med["near"] <= 0.08),
            (f"distinct bigrams {med['bigrams']:.2f} >= 0.25", med["bigrams"] >= 0.25),
            (f"lines of <= 2 characters {med['short']:.1%} <= 5%", med["short"] <= 0.05),
            (
                f"network perplexity {med['fluency_ratio']:.2f}x plain sampling's <= 1.25x",
                med["fluency_ratio"] <= 1.25,
            ),
        ]
    return [
        (f"near-repeats {med['near']:.1%} <= 10%", med["near"] <= 0.10),
        (f"lines of <= 2 characters {med['short']:.1%} <= 5%", med["short"] <= 0.05),
        (f"no line sung more than 3 times within 30 (most: {most:.0f})", most <= 3),
    ]


def print_songs(rows: list[dict]) -> None:
    """Each song's fluency beside its plain song's: the ratio's median is only as steady as
    plain sampling, which some seeds send into runs of spaces."""
    print("  each song: network ppl / plain sampling's (spaces in the text: song, plain)")
    for r in rows:
        print(
            f"    {Path(r['path']).name} seed {r['seed']}: {r['fluency']:.1f} / "
            f"{r['plain_fluency']:.1f} = {r['fluency_ratio']:.2f}x "
            f"(spaces {r['blanks']:.1%}, {r['plain_blanks']:.1%})"
        )


def print_table(title: str, rows: list[dict]) -> None:
    print(f"{title}:")
    for key, label, spec in MEASURES:
        values = [r[key] for r in rows if key in r]
        if values:
            low, high = min(values), max(values)
            print(
                f"  {label:>18}: {spec.format(statistics.median(values))}"
                f"  ({spec.format(low)} - {spec.format(high)})"
            )


def main() -> None:
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.songform.corpus_form import CorpusForm

    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True, nargs="+")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=1500)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.8])
    parser.add_argument("--corpus", default=str(JAYCHOU))
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument(
        "--settings",
        nargs="*",
        default=[],
        metavar="NAME=FLAGS",
        help='more settings to measure, as generate flags: "off=--no-form"',
    )
    parser.add_argument("--show", type=int, default=0, help="print the first N lines of each")
    args = parser.parse_args()

    corpus = read_corpus(args.corpus)
    train, held_out = corpus.split(args.val_fraction)
    corpus_form = CorpusForm.of_lines(train)
    named = [("default", "")] + [tuple(s.split("=", 1)) for s in args.settings]
    print(f"machine: {machine()}")
    print(
        f"{args.corpus}: {len(train):,} training lines; {args.seeds} seed(s) × {args.tokens:,}"
        f" tokens at temperature {', '.join(f'{t:g}' for t in args.temperatures)}"
    )
    print_table("training split", [song_measures(train, corpus_form.lengths)])
    print_table("held-out text", [song_measures(held_out, corpus_form.lengths)])
    rows = [
        row
        for path in args.checkpoint
        for row in measure_checkpoint(args, path, named, corpus_form)
    ]
    for temperature in args.temperatures:
        for name, flags in named:
            chosen = [r for r in rows if r["name"] == name and r["temperature"] == temperature]
            where = f"generate {flags}".strip()
            print_table(
                f"{where} at temperature {temperature:g}, median of {len(chosen)} songs", chosen
            )
            if chosen and name == "default":
                print_songs(chosen)
                for goal, reached in goals(chosen, temperature):
                    print(f"  {'reached' if reached else 'SHORT  '} {goal}")


if __name__ == "__main__":
    main()
