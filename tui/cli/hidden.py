"""`lyrics-tui hidden`: the top layer's hidden state after each word read or generated."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.tui.cli.common import (
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
from lyrics_tui.tui.cli.inspect_json import strip_json

if TYPE_CHECKING:
    from rich.console import JustifyMethod

STRIP_WIDTH = 48  # hidden units shown per row in the terminal (strongest unit per group)


def add_parser(sub: argparse._SubParsersAction) -> None:
    hidden = sub.add_parser(
        "hidden",
        help="the top layer's hidden state after each word",
        description="Read the prompt, generate --length words, and show h_t (and c_t for an "
        "LSTM) of the top layer after each word: a strip of its units and its norm.",
    )
    checkpoint_arguments(hidden)
    prompt_argument(hidden)
    hidden.add_argument(
        "--length", type=int, default=20, help="words to generate, 0 or more; default 20"
    )
    hidden.add_argument(
        "--width",
        type=int,
        help="cells per strip in the terminal; a cell shows the strongest unit "
        "of its group (default: fit the terminal; 0: every unit)",
    )
    sampler_arguments(hidden, 0.8)


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.core.inspection.hidden import hidden_trace
    from lyrics_tui.core.inspection.subject import load_subject

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
    _print_trace(trace, subject.label, args.width)
    return 0


def _print_trace(trace, label: str, width: int | None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from lyrics_tui.core.errors import terminal_text

    console = make_console()
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
        f" · {escape(terminal_text(label))}\n"
        "|h| is the state's length, moved how far it went from the word before"
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
        word = escape(terminal_text(step.label))
        row = [
            str(step.index),
            f"[bold]{word}[/]" if step.generated else word,
            f"{step.h.norm:.2f}",
            f"{step.change:.2f}",
            step.h.spark_binned(shown),
        ]
        if step.c is not None:
            row += [f"{step.c.norm:.2f}", step.c.spark_binned(shown)]
        table.add_row(*row)
    console.print(table)
    console.print(
        f"text: {trace.text!r}  [seed {trace.seed}; prompt words plain, generated bold]",
        markup=False,
    )
