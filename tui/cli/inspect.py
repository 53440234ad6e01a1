"""Commands that look inside the network: score, neighbours, step, hidden.

A thin view over core/inspection.py: every number printed here is computed there. With --json each
command prints one JSON object per line (an "event" key says what it is); otherwise rich
tables. Checkpoints are read with numpy alone (core.fastload), so these commands never import
torch.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.cli.common import (
    adapt_argument,
    adapt_settings,
    cache_argument,
    cache_option,
    checkpoint_arguments,
    emit,
    sampler_arguments,
    sampler_settings,
    warn,
)
from lyrics_tui.tui.cli.common import (
    console as make_console,
)
from lyrics_tui.tui.cli.inspect_json import line_json, step_json, strip_json, word_json

if TYPE_CHECKING:
    from rich.console import JustifyMethod

COMMANDS = ("score", "neighbours", "step", "hidden")
STRIP_WIDTH = 48  # hidden units shown per row in the terminal (strongest unit per group)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the inspection subcommands on the main parser."""
    score = sub.add_parser(
        "score",
        help="each word's probability, surprisal and rank under a model",
        description="Read a line as the model does and show, for every word, its probability, "
        "surprisal (bits) and rank among all words; unknown words are flagged "
        "(scored as <unk>). Ends with the line's perplexity.",
    )
    checkpoint_arguments(score)
    score.add_argument("--line", required=True, help="the text to score (\\n separates lines)")
    score.add_argument("--compare", metavar="P2", help="a second checkpoint to compare with")
    cache_argument(score)
    adapt_argument(
        score,
        "dynamic evaluation: the network keeps learning from the text as it reads it (a "
        "gradient step every few words, each word scored before it is learnt from; on a copy "
        "of the weights). Needs torch; matters for texts longer than a few lines",
    )

    near = sub.add_parser(
        "neighbours",
        help="the words nearest to a word in the embedding space",
        description="Words whose embedding vectors point the same way as the given word's "
        "(cosine similarity), the word itself left out.",
    )
    checkpoint_arguments(near)
    near.add_argument("--word", required=True)
    near.add_argument("-k", "--top", type=int, default=10, help="how many neighbours (10)")
    near.add_argument(
        "--farthest",
        type=int,
        default=0,
        help="also this many least similar words (0)",
    )

    step = sub.add_parser(
        "step",
        help="decode word by word, showing each step's candidates",
        description="Show the candidate next words with their probability before (model, "
        "temperature 1) and after temperature/top-k/top-p/repetition penalty, then "
        "apply a sequence of choices: a number picks that candidate, s lets the "
        "sampler pick, b steps back. With song memory on, each candidate also shows the "
        "network's and the cache's probability and the earlier words the cache recalls.",
    )
    checkpoint_arguments(step)
    step.add_argument("--prompt", default="", help="start text (empty: start a new line)")
    step.add_argument(
        "--choose",
        default="",
        metavar="1,2,s,b,...",
        help="choices to apply in order (default: none, just show the first step)",
    )
    step.add_argument("--candidates", type=int, default=10, help="candidates per step (10)")
    sampler_arguments(step, 0.8)
    cache_argument(step)

    hidden = sub.add_parser(
        "hidden",
        help="the top layer's hidden state after each word",
        description="Read the prompt, generate --length words, and show h_t (and c_t for an "
        "LSTM) of the top layer after each word: a strip of its units and its norm.",
    )
    checkpoint_arguments(hidden)
    hidden.add_argument("--prompt", default="", help="start text (empty: start a new line)")
    hidden.add_argument("--length", type=int, default=20, help="words to generate (20)")
    hidden.add_argument(
        "--width",
        type=int,
        help="cells per strip in the terminal; a cell shows the strongest unit "
        "of its group (default: fit the terminal; 0: every unit)",
    )
    sampler_arguments(hidden, 0.8)


def run(args: argparse.Namespace) -> int:
    handlers = {
        "score": cmd_score,
        "neighbours": cmd_neighbours,
        "step": cmd_step,
        "hidden": cmd_hidden,
    }
    handler = handlers.get(args.command)
    if handler is None:
        raise LyricsError(f"unknown command {args.command}")
    return handler(args)


# -- score ----------------------------------------------------------------------------------
def cmd_score(args: argparse.Namespace) -> int:
    from lyrics_tui.core.inspection import compare_lines, load_subject, score_line

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
    from rich.table import Table

    memory = score.cache
    console.print(f"[bold]{score.label}[/]")
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
        word = w.label if w.known else f"[red]{w.label}[/] (unknown)"
        parts = (
            [
                fmt.prob(w.network_prob),
                _cache_prob(w.cache_prob),
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
    unknown = f"; unknown: {' '.join(score.unknown)}" if score.unknown else ""
    network = (
        f" (the network alone {score.network_perplexity:,.1f})" if score.cache is not None else ""
    )
    console.print(
        f"perplexity {score.perplexity:,.1f}{network}{known} · {score.total_bits:.1f} bits over "
        f"{len(score.words)} tokens · {score.bits_per_char:.2f} bits/char{unknown}"
    )


def _cache_prob(p: float | None) -> str:
    """The cache's probability: "-" while it remembers nothing, 0 when it recalls other words."""
    if p is None:
        return "-"
    return "0" if p == 0 else fmt.prob(p)


def _print_comparison(console, c) -> None:
    from rich.table import Table

    console.print(f"A = {c.a.label}\nB = {c.b.label}")
    table = Table(show_edge=False)
    for name in ("#", "word", "prob A", "prob B", "bits A", "bits B", "B − A", "rank A", "rank B"):
        table.add_column(name, justify="left" if name == "word" else "right")
    for w in c.words:
        flag = "" if (w.known_a and w.known_b) else " (unknown)"
        delta = f"[green]{w.delta_bits:+.2f}[/]" if w.delta_bits < 0 else f"{w.delta_bits:+.2f}"
        table.add_row(
            str(w.position + 1),
            w.label + flag,
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


# -- neighbours -----------------------------------------------------------------------------
def cmd_neighbours(args: argparse.Namespace) -> int:
    from lyrics_tui.core.inspection import load_subject, neighbours

    subject = load_subject(args.checkpoint, on_note=warn)
    result = neighbours(subject, args.word, args.top, args.farthest)
    if args.json:
        emit(
            {
                "event": "word",
                "word": result.word,
                "token_id": result.token_id,
                "count": result.count,
                "norm": result.norm,
                "checkpoint": subject.label,
            }
        )
        for kind, rows in (("neighbour", result.neighbours), ("farthest", result.farthest)):
            for n in rows:
                emit(
                    {
                        "event": kind,
                        "rank": n.rank,
                        "word": n.text,
                        "cosine": n.cosine,
                        "count": n.count,
                    }
                )
        return 0
    from rich.table import Table

    console = make_console()
    console.print(
        f"nearest to [bold]{result.label}[/] by cosine similarity (seen "
        f"{result.count:,} times; vector length {result.norm:.2f}) · {subject.label}"
    )
    table = Table(show_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"),
        ("word", "left"),
        ("cosine", "right"),
        ("", "left"),
        ("seen", "right"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for n in result.neighbours + result.farthest:
        bar = "█" * max(0, round(n.cosine * 20)) if n.cosine > 0 else "-" * round(-n.cosine * 20)
        table.add_row(str(n.rank), n.label, f"{n.cosine:+.3f}", bar, f"{n.count:,}")
    console.print(table)
    return 0


# -- step -----------------------------------------------------------------------------------
def cmd_step(args: argparse.Namespace) -> int:
    from lyrics_tui.core.inspection import StepThrough, load_subject, parse_choices

    actions = parse_choices(args.choose)
    settings = sampler_settings(args)
    option = cache_option(args)
    subject = load_subject(args.checkpoint, on_note=warn)
    memory = subject.resolve_cache(option)
    settings = replace(settings, cache=memory.settings)
    walk = StepThrough(subject, settings, args.prompt, top=args.candidates)
    warn(walk.warnings)
    console = make_console()
    show = (
        (lambda view: emit(step_json(view)))
        if args.json
        else (lambda view: _print_step(console, view))
    )
    show(walk.current)
    for action in actions:
        kind, word = walk.apply([action])[0]
        if args.json:
            emit(
                {
                    "event": "choice",
                    "action": kind,
                    "word": word.text,
                    "model_prob": word.model_prob,
                    "final_prob": word.final_prob,
                    "model_rank": word.model_rank,
                    "surprisal_bits": word.surprisal_bits,
                    "network_prob": word.network_prob,
                    "cache_prob": word.cache_prob,
                }
            )
        else:
            what = {"choose": f"picked {action}", "sample": "sampled", "back": "stepped back over"}
            console.print(
                f"→ {what[kind]}: [bold]{word.label}[/]  (model {fmt.prob(word.model_prob)}, "
                f"rank {word.model_rank:,})\n"
            )
        show(walk.current)
    if args.json:
        emit(
            {
                "event": "done",
                "text": walk.text,
                "seed": walk.seed,
                "words": [w.text for w in walk.picked],
            }
        )
    else:
        console.print(f"text: {walk.text!r}  [seed {walk.seed}]")
    warn([memory.note] if memory.note else [])  # last: a bad choice stays a one-line error
    return 0


def _print_step(console, view) -> None:
    from rich.table import Table

    context = view.context.replace("\n", "↵") or "(line start)"
    console.print(
        f"[bold]step {view.index + 1}[/] after {context}\n"
        f"entropy {view.entropy_bits:.2f} bits (as unsure as a fair pick among "
        f"{view.effective_choices:,.1f} words) · {view.survivors:,} of "
        f"{view.vocab_size:,} words survive the filters · <unk> (any rare word, "
        f"never picked) {fmt.prob(view.unk_prob)}"
    )
    memory = view.cache
    if memory is not None:
        console.print(
            f"song memory {memory.label} · {view.remembered:,} earlier positions to recall · "
            "model = (1 − λ)·network + λ·(1 − network's <unk>)·cache"
        )
    table = Table(show_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"),
        ("word", "left"),
        ("model", "right"),
        *((("network", "right"), ("cache", "right")) if memory else ()),
        ("after filters", "right"),
        ("rank", "right"),
        *((("recalls (word #: share)", "left"),) if memory else ()),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for c in view.candidates:
        word = c.label if c.survives else f"[dim]{c.label}[/]"
        extra = [fmt.prob(c.network_prob), _cache_prob(c.cache_prob)] if memory else []
        recalls = (
            [" ".join(f"#{pos} {share:.0%}" for pos, share in c.pointers[:3])] if memory else []
        )
        table.add_row(
            str(c.number),
            word,
            fmt.prob(c.model_prob),
            *extra,
            fmt.prob(c.final_prob),
            f"{c.model_rank:,}",
            *recalls,
        )
    console.print(table)
    top = view.candidates[0] if view.candidates else None
    if memory is not None and top is not None and top.pointers:
        marked = {pos for pos, _ in top.pointers}
        text = "".join(
            f"[bold]【{label}】[/]" if i in marked else (" ↵ " if label == "↵" else label)
            for i, label in enumerate(view.tokens)
            if i > 0
        )
        console.print(f"where the cache recalls {top.label} from (# counts the words read): {text}")


# -- hidden ---------------------------------------------------------------------------------
def cmd_hidden(args: argparse.Namespace) -> int:
    from lyrics_tui.core.inspection import hidden_trace, load_subject

    settings = sampler_settings(args)
    if args.width is not None and args.width < 0:
        raise LyricsError("--width must be 0 (every unit) or positive")
    subject = load_subject(args.checkpoint, on_note=warn)
    trace = hidden_trace(subject, args.prompt, args.length, settings)
    if args.json:
        for step in trace.steps:
            emit(
                {
                    "event": "hidden",
                    "index": step.index,
                    "word": step.text,
                    "generated": step.generated,
                    "change": step.change,
                    "h": strip_json(step.h),
                    "c": strip_json(step.c),
                }
            )
        emit(
            {
                "event": "done",
                "text": trace.text,
                "cell": trace.cell,
                "hidden_size": trace.hidden_size,
                "layer": trace.layer,
                "seed": trace.seed,
            }
        )
        return 0
    from rich.table import Table

    console = make_console()
    width = args.width
    if width is None:  # fit: about 40 columns go to the other columns of the table
        width = max(
            8, min(STRIP_WIDTH * 2, (console.width - 40) // (2 if trace.cell == "lstm" else 1))
        )
    shown = trace.hidden_size if width == 0 else min(width, trace.hidden_size)
    note = (
        "" if shown == trace.hidden_size else f", strongest of each {trace.hidden_size / shown:.1f}"
    )
    console.print(
        f"{trace.cell.upper()} layer {trace.layer}, {trace.hidden_size} units "
        f"(▁ = −1 … █ = +1{note}"
        f"{'; c scaled to its largest |value|' if trace.cell == 'lstm' else ''})"
        f" · {subject.label}"
    )
    table = Table(show_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"),
        ("word", "left"),
        ("|h|", "right"),
        ("moved", "right"),
        ("h_t", "left"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    if trace.cell == "lstm":
        table.add_column("|c|", justify="right")
        table.add_column("c_t", justify="left")
    for step in trace.steps:
        word = f"[bold]{step.label}[/]" if step.generated else step.label
        row = [
            str(step.index),
            word,
            f"{step.h.norm:.2f}",
            f"{step.change:.2f}",
            step.h.spark_binned(shown),
        ]
        if step.c is not None:
            row += [f"{step.c.norm:.2f}", step.c.spark_binned(shown)]
        table.add_row(*row)
    console.print(table)
    console.print(f"text: {trace.text!r}  [seed {trace.seed}; prompt words plain, generated bold]")
    return 0
