"""`lyrics-tui step`: decode word by word, each step's candidates shown, choices applied."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.markup import escape

from lyrics_tui.core.errors import terminal_text
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.cli.common import (
    cache_argument,
    cache_option,
    checkpoint_arguments,
    emit,
    prompt_argument,
    sampler_arguments,
    sampler_settings,
    warn,
)
from lyrics_tui.tui.cli.common import (
    console as make_console,
)
from lyrics_tui.tui.cli.inspect_json import step_json

if TYPE_CHECKING:
    from rich.console import JustifyMethod


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    prompt_argument(step)
    step.add_argument(
        "--choose",
        default="",
        metavar="1,2,s,b,...",
        help="choices to apply in order (default: none, just show the first step)",
    )
    step.add_argument(
        "--candidates", type=int, default=10, help="candidates per step, at least 1; default 10"
    )
    sampler_arguments(step, 0.8)
    cache_argument(step)


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.core.inspection.common import parse_choices
    from lyrics_tui.core.inspection.step import StepThrough
    from lyrics_tui.core.inspection.subject import load_subject

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
                f"→ {what[kind]}: [bold]{escape(terminal_text(word.label))}[/]  "
                f"(model {fmt.prob(word.model_prob)}, "
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
        console.print(f"text: {walk.text!r}  [seed {walk.seed}]", markup=False)
    warn([memory.note] if memory.note else [])  # last: a bad choice stays a one-line error
    return 0


CONTEXT_SHOWN = 30  # characters of the text read so far shown at each step (a line of 80)


def _print_step(console, view) -> None:
    from rich.table import Table

    # the tail of the text: all of it at every step made a long walk's output grow as its square
    context = view.context[-CONTEXT_SHOWN:].replace("\n", "↵") or "(line start)"
    context = escape(terminal_text(context))
    if len(view.context) > CONTEXT_SHOWN:
        context = "…" + context
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
    form = view.form
    if form is not None:
        console.print(f"song form · {' · '.join(form.parts())}")
    table = Table(show_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"),
        ("word", "left"),
        *((("rhyme", "left"),) if form else ()),
        ("model", "right"),
        *((("network", "right"), ("cache", "right")) if memory else ()),
        ("after filters", "right"),
        *((("line ends after", "right"),) if form else ()),
        ("rank", "right"),
        *((("recalls (word #: share)", "left"),) if memory else ()),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for c in view.candidates:
        label = escape(terminal_text(c.label))
        word = label if c.survives else f"[dim]{label}[/]"
        extra = [fmt.prob(c.network_prob), fmt.cache_prob(c.cache_prob)] if memory else []
        recalls = (
            [" ".join(f"#{pos} {share:.0%}" for pos, share in c.pointers[:3])] if memory else []
        )
        table.add_row(
            str(c.number),
            word,
            *([c.rhyme] if form else []),
            fmt.prob(c.model_prob),
            *extra,
            fmt.prob(c.final_prob),
            *([f"{c.ends_line:.0%}"] if form else []),
            f"{c.model_rank:,}",
            *recalls,
        )
    console.print(table)
    top = view.candidates[0] if view.candidates else None
    if memory is not None and top is not None and top.pointers:
        marked = {pos for pos, _ in top.pointers}
        shown = [escape(terminal_text(label)) for label in view.tokens]
        text = "".join(
            f"[bold]【{label}】[/]" if i in marked else (" ↵ " if label == "↵" else label)
            for i, label in enumerate(shown)
            if i > 0
        )
        top_label = escape(terminal_text(top.label))
        console.print(f"where the cache recalls {top_label} from (# counts the words read): {text}")
