"""`lyrics-tui neighbours`: the words nearest to a word in the embedding space."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lyrics_tui.tui.cli.common import (
    checkpoint_arguments,
    emit,
    warn,
)
from lyrics_tui.tui.cli.common import (
    console as make_console,
)

if TYPE_CHECKING:
    from rich.console import JustifyMethod


def add_parser(sub: argparse._SubParsersAction) -> None:
    near = sub.add_parser(
        "neighbours",
        help="the words nearest to a word in the embedding space",
        description="Words whose embedding vectors point the same way as the given word's "
        "(cosine similarity), the word itself left out.",
    )
    checkpoint_arguments(near)
    near.add_argument("--word", required=True, help="the word to look up; required")
    near.add_argument(
        "-k", "--top", type=int, default=10, help="how many neighbours, at least 1; default 10"
    )
    near.add_argument(
        "--farthest",
        type=int,
        default=0,
        help="also this many least similar words, 0 or more; default 0",
    )


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.core.inspection.neighbours import neighbours
    from lyrics_tui.core.inspection.subject import load_subject

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
    from rich.markup import escape
    from rich.table import Table

    from lyrics_tui.core.errors import terminal_text

    console = make_console()
    console.print(
        f"nearest to [bold]{escape(terminal_text(result.label))}[/] by cosine similarity (seen "
        f"{result.count:,} times; vector length {result.norm:.2f}) · "
        f"{escape(terminal_text(subject.label))}"
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
