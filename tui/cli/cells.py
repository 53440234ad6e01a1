"""`lyrics-tui cells`: the hidden units ranked against a pattern or a selection, and one unit's
value over a text (core/inspection/cells/)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.tui.cli.common import checkpoint_arguments, emit, number, warn
from lyrics_tui.tui.cli.common import console as make_console

if TYPE_CHECKING:
    from rich.text import Text

    from lyrics_tui.core.inspection.cells.ranking import Ranking
    from lyrics_tui.core.inspection.cells.reading import CellReading

TOP = 10  # units listed by default
TEXT_LINES = 20  # lines of the text shaded on a terminal by default


def add_parser(sub: argparse._SubParsersAction) -> None:
    from lyrics_tui.core.inspection.cells.patterns import PATTERNS
    from lyrics_tui.core.inspection.cells.ranking import THRESHOLD

    cells = sub.add_parser(
        "cells",
        help="the hidden units that fire on a pattern, and one unit over a text",
        description="Read a text once and rank every hidden unit of the top layer against a "
        "pattern (AUC for a yes/no pattern, correlation for the position in the line; a unit "
        "counts whichever way it leans), or against a span of tokens (--select: the units on "
        "across it and off just around it, and where else they are on together). Then one "
        "unit's value after each token: shaded text on a terminal, numbers with --json.",
    )
    checkpoint_arguments(cells)
    cells.add_argument(
        "--text",
        metavar="FILE",
        help="the text to read (default: the model's held-out lines, the last share of its "
        "corpus that training kept aside)",
    )
    what = cells.add_mutually_exclusive_group()
    what.add_argument(
        "--pattern",
        choices=list(PATTERNS),
        default="line-end",
        help="; ".join(f"{p.name}: {p.title}" for p in PATTERNS.values()) + " (default line-end)",
    )
    what.add_argument(
        "--select",
        metavar="A:B",
        help="tokens A to B (0-based, B not included; the shaded text numbers each line's first "
        "token): rank the units on across them and off around them (default: a --pattern)",
    )
    cells.add_argument(
        "--unit", type=int, help="the unit shown over the text (default: the best ranked)"
    )
    cells.add_argument(
        "--state",
        choices=("h", "c"),
        default="h",
        help="the state read: h, or an LSTM's cell state c (default h)",
    )
    cells.add_argument("--top", type=int, default=TOP, help=f"units listed (default {TOP}; 0: all)")
    cells.add_argument(
        "--threshold",
        type=number,
        default=THRESHOLD,
        help=f"with --select: the value a unit must reach to be on (default {THRESHOLD:g})",
    )
    cells.add_argument(
        "--lines",
        type=int,
        default=TEXT_LINES,
        help=f"lines of the text shaded on a terminal (default {TEXT_LINES}; 0: all)",
    )


def selection(text: str) -> tuple[int, int]:
    try:
        first, last = (int(part) for part in text.split(":"))
    except ValueError:
        raise LyricsError(f"--select takes A:B, two token positions, not {text!r}") from None
    return first, last


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.inspection.cells.ranking import rank_pattern, rank_selection
    from lyrics_tui.core.inspection.cells.reading import check_unit, held_out_text, read_cells
    from lyrics_tui.core.inspection.subject import load_subject

    if args.top < 0 or args.lines < 0:
        raise LyricsError("--top and --lines must be 0 (all) or positive")
    span = selection(args.select) if args.select else None
    subject = load_subject(args.checkpoint, on_note=warn)
    if args.text:
        lines, source = read_corpus(args.text).lines, args.text
    else:
        held = held_out_text(subject)
        if held is None:
            raise LyricsError(
                f"the model's corpus ({subject.corpus or 'not recorded'}) is not here; give --text"
            )
        lines, source = held
    reading = read_cells(subject, lines, source)
    if args.state not in reading.states:
        raise LyricsError(f"--state c needs an LSTM; this network is a {reading.cell.upper()}")
    if span is not None:
        ranking = rank_selection(reading, *span, args.state, args.threshold)
    else:
        ranking = rank_pattern(reading, args.pattern, args.state)
    unit = ranking.best.unit if args.unit is None else args.unit
    check_unit(unit, reading.hidden_size)
    if args.json:
        emit_json(reading, ranking, unit, args.top, subject.label)
    else:
        show(reading, ranking, unit, args, subject.label)
    return 0


def emit_json(reading: CellReading, ranking: Ranking, unit: int, top: int, label: str) -> None:
    shown = ranking.units if top == 0 else ranking.units[:top]
    emit(
        {
            "event": "ranking",
            "pattern": ranking.pattern,
            "title": ranking.title,
            "measure": ranking.measure,
            "state": ranking.state,
            "scored": ranking.scored,
            "positives": ranking.positives,
            "note": ranking.note,
            "units": [u.to_dict() for u in shown],
            "span": list(ranking.span) if ranking.span else None,
            "threshold": ranking.threshold if ranking.span else None,
            "matched": ranking.matched if ranking.span else None,
            "together": list(ranking.together),
            "places": [p.to_dict() for p in ranking.places],
        }
    )
    values = reading.unit(unit, ranking.state)
    emit(
        {
            "event": "unit",
            "unit": unit,
            "state": ranking.state,
            "tokens": list(reading.tokens),
            "values": [round(float(v), 4) for v in values],
        }
    )
    emit(
        {
            "event": "done",
            "checkpoint": label,
            "cell": reading.cell,
            "hidden_size": reading.hidden_size,
            "layer": reading.layer,
            "source": reading.source,
            "tokens": len(reading.tokens),
            "unknown": reading.known.count(False),
            "cut": reading.cut,
        }
    )


def show(
    reading: CellReading, ranking: Ranking, unit: int, args: argparse.Namespace, label: str
) -> None:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from lyrics_tui.core.errors import terminal_text
    from lyrics_tui.core.inspection.cells.ranking import MEASURE_MEANING, lean

    console = make_console()
    unknown = reading.known.count(False)
    label, source = (escape(terminal_text(part)) for part in (label, reading.source))
    console.print(
        f"{reading.cell.upper()} layer {reading.layer}, {reading.hidden_size} units · {label} · "
        f"{source}: {len(reading.tokens):,} tokens"
        + (f", {unknown:,} unknown" if unknown else "")
        + (f", {reading.cut:,} more left out" if reading.cut else "")
    )
    if ranking.span is not None:
        span = escape(terminal_text(reading.span_text(*ranking.span)))
        console.print(
            f"the units on across “{span}” (tokens {ranking.span[0]}:{ranking.span[1]}) and off "
            f"around it at {ranking.threshold:g}: {ranking.matched} of {reading.hidden_size}"
        )
    else:
        console.print(f"{ranking.title}: every unit ranked by {ranking.measure}")
        console.print(f"{ranking.measure}: {MEASURE_MEANING[ranking.measure]}")
    if ranking.note:
        console.print(ranking.note)
    table = Table(show_edge=False)
    for name in ("#", "unit", ranking.measure, "lean"):
        table.add_column(name, justify="left" if name == "lean" else "right")
    shown = ranking.units if args.top == 0 else ranking.units[: args.top]
    for rank, score in enumerate(shown, 1):
        value = f"{score.value:+.3f}" if ranking.measure == "r" else f"{score.score:.3f}"
        way = lean(ranking.measure, score.sign) + ("" if score.matched else " (no match)")
        table.add_row(str(rank), str(score.unit), value, way)
    console.print(table)
    if ranking.places:
        where = ", ".join(
            f"{p.start}:{p.end} “{escape(terminal_text(p.text))}”" for p in ranking.places[:8]
        )
        more = f" and {len(ranking.places) - 8} more" if len(ranking.places) > 8 else ""
        console.print(f"units {list(ranking.together)} on together at: {where}{more}")
    scale = reading.scale(unit, ranking.state)
    console.print(
        f"unit {unit} ({ranking.state}) after each token: ▁ = −{scale:.2f} … █ = +{scale:.2f} "
        "(its largest |value|), red above 0, blue below; each line starts "
        "with the position of its first token"
    )
    for line in shaded_lines(reading, unit, ranking.state, args.lines):
        console.print(line, overflow="fold")
    if args.lines and len(reading.lines()) > args.lines:
        console.print(Text(f"… {len(reading.lines()) - args.lines:,} more lines (--lines 0: all)"))


def shaded_lines(reading: CellReading, unit: int, state: str, limit: int) -> list[Text]:
    """Each line of the text as two rows: its words on a background by the unit's value, and
    the shade characters under them."""
    from rich.cells import cell_len
    from rich.text import Text

    from lyrics_tui.core.inspection.units import unit_strip
    from lyrics_tui.tui.shades import shade_colour, word_background

    strip = unit_strip(reading.unit(unit, state), reading.scale(unit, state))
    spans = reading.lines()
    width = len(str(len(reading.tokens)))
    out = []
    for start, end in spans if limit == 0 else spans[:limit]:
        words, shades = Text(f"{start:>{width}} "), Text(" " * (width + 1))
        for i in range(start, end):
            level, label = strip.levels[i], reading.labels[i]
            background = word_background(level)
            words.append(
                label,
                style=(f"on {background}" if background else "")
                + ("" if reading.known[i] else " dim"),
            )
            words.append(" ")
            shades.append(strip.spark[i] * max(1, cell_len(label)), style=shade_colour(level) or "")
            shades.append(" ")
        out.append(Text("\n").join([words, shades]))
    return out
