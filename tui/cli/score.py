"""`lyrics-tui score`: each word of a line scored by the model (and compared with a second
checkpoint), as core/inspection.py computes it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.cli.common import (
    adapt_argument,
    adapt_settings,
    cache_argument,
    cache_option,
    checkpoint_arguments,
    emit,
    warn,
)
from lyrics_tui.tui.cli.common import (
    console as make_console,
)
from lyrics_tui.tui.cli.inspect_json import line_json, word_json

if TYPE_CHECKING:
    from rich.console import JustifyMethod


def add_parser(sub: argparse._SubParsersAction) -> None:
    score = sub.add_parser(
        "score",
        help="each word's probability, surprisal and rank under a model",
        description="Read a line as the model does and show, for every word, its probability, "
        "surprisal (bits) and rank among all words; unknown words are flagged "
        "(scored as <unk>). Ends with the line's perplexity.",
    )
    checkpoint_arguments(score)
    score.add_argument(
        "--line", required=True, help="the text to score (\\n separates lines); required"
    )
    score.add_argument(
        "--compare", metavar="FILE", help="a second checkpoint to compare with; default none"
    )
    cache_argument(score)
    adapt_argument(
        score,
        "dynamic evaluation: the network keeps learning from the text as it reads it (a "
        "gradient step every few words, each word scored before it is learnt from; on a copy "
        "of the weights). Needs torch; matters for texts longer than a few lines",
    )


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.core.inspection.score import compare_lines, score_line
    from lyrics_tui.core.inspection.subject import load_subject

    text = args.line.replace("\\n", "\n")
    option = cache_option(args)
    adapt = adapt_settings(args)
    subject = load_subject(args.checkpoint, adapt=adapt, on_note=warn)
    memory = subject.resolve_cache(option)
    notes = [memory.note] if memory.note else []
    if args.compare:
        other = load_subject(args.compare, adapt=adapt)
        other_memory = other.resolve_cache(option)
        notes += [other_memory.note] if other_memory.note else []
        comparison = compare_lines(subject, other, text, memory.settings, other_memory.settings)
        scores = [("a", comparison.a), ("b", comparison.b)]
    else:
        comparison = None
        scores = [("a", score_line(subject, text, memory.settings))]
    warn(notes)
    if args.json:
        for model, score in scores:
            for word in score.words:
                emit(word_json(word, model))
            emit(line_json(score, model))
        if comparison is not None:
            emit(
                {
                    "event": "compare",
                    "aligned": comparison.aligned,
                    "better": comparison.better,
                    "perplexity_a": comparison.a.perplexity,
                    "perplexity_b": comparison.b.perplexity,
                    "bits_per_char_a": comparison.a.bits_per_char,
                    "bits_per_char_b": comparison.b.bits_per_char,
                    "delta_bits": [w.delta_bits for w in comparison.words],
                    "note": comparison.note,
                }
            )
        return 0
    console = make_console()
    if comparison is not None and comparison.aligned:
        _print_comparison(console, comparison)
    else:
        for _model, score in scores:
            _print_score(console, score)
        if comparison is not None:
            console.print(comparison.note)
            console.print(f"better (lower bits per character): {comparison.better.upper()}")
    return 0


def _print_score(console, score) -> None:
    from rich.markup import escape
    from rich.table import Table

    from lyrics_tui.core.errors import terminal_text

    memory = score.cache
    console.print(f"[bold]{escape(terminal_text(score.label))}[/]")
    if memory is not None:
        console.print(f"song memory {memory.label}: prob = network and cache mixed")
    table = Table(show_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"),
        ("word", "left"),
        ("prob", "right"),
        *((("network", "right"), ("cache", "right"), ("memory", "right")) if memory else ()),
        ("bits", "right"),
        ("rank", "right"),
        ("model's guess", "left"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for w in score.words:
        label = escape(terminal_text(w.label))
        word = label if w.known else f"[red]{label}[/] (unknown)"
        parts = (
            [
                fmt.prob(w.network_prob),
                fmt.cache_prob(w.cache_prob),
                f"{w.cache_share:.0%}",
            ]
            if memory
            else []
        )
        table.add_row(
            str(w.position + 1),
            word,
            fmt.prob(w.prob),
            *parts,
            f"{w.surprisal_bits:.2f}",
            f"{w.rank:,}",
            f"{w.top_guess_label} {fmt.prob(w.top_prob)}",
        )
    console.print(table)
    known = (
        f", {score.known_perplexity:,.1f} over known words"
        if score.unknown and score.known_perplexity is not None
        else ""
    )
    unknown = " ".join(escape(terminal_text(word)) for word in score.unknown)
    unknown = f"; unknown: {unknown}" if unknown else ""
    network = (
        f" (the network alone {score.network_perplexity:,.1f})" if score.cache is not None else ""
    )
    console.print(
        f"perplexity {score.perplexity:,.1f}{network}{known} · {score.total_bits:.1f} bits over "
        f"{len(score.words)} tokens · {score.bits_per_char:.2f} bits/char{unknown}"
    )


def _print_comparison(console, c) -> None:
    from rich.markup import escape
    from rich.table import Table

    from lyrics_tui.core.errors import terminal_text

    a, b = (escape(terminal_text(side.label)) for side in (c.a, c.b))
    console.print(f"A = {a}\nB = {b}")
    table = Table(show_edge=False)
    for name in ("#", "word", "prob A", "prob B", "bits A", "bits B", "B − A", "rank A", "rank B"):
        table.add_column(name, justify="left" if name == "word" else "right")
    for w in c.words:
        flag = f" (unknown to {w.unknown_to})" if w.unknown_to else ""
        delta = f"[green]{w.delta_bits:+.2f}[/]" if w.delta_bits < 0 else f"{w.delta_bits:+.2f}"
        table.add_row(
            str(w.position + 1),
            escape(terminal_text(w.label)) + flag,
            fmt.prob(w.prob_a),
            fmt.prob(w.prob_b),
            f"{w.bits_a:.2f}",
            f"{w.bits_b:.2f}",
            delta,
            f"{w.rank_a:,}",
            f"{w.rank_b:,}",
        )
    console.print(table)
    console.print(
        f"perplexity A {c.a.perplexity:,.1f} · B {c.b.perplexity:,.1f} — "
        f"{'same' if c.better == 'same' else c.better.upper() + ' reads it better'}"
    )
