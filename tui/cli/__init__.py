"""The command line: `lyrics-tui [COMMAND]`, one of train, generate, eval, score, neighbours,
step, hidden, cells, runs, demo and corpus.

No command opens the playground. A thin view: it parses arguments, calls core/, and prints
core's events, with rich on a terminal and as JSON lines with --json. Bad input is one line on
stderr and exit code 2. One module per command; each has add_parser(sub) and run(args).
"""

from __future__ import annotations

import argparse
import sys

from lyrics_tui.core.corpus import BUNDLED, DEFAULT_CORPUS
from lyrics_tui.core.device import DEVICES
from lyrics_tui.core.downloads import DOWNLOADABLE
from lyrics_tui.core.errors import LyricsError
from lyrics_tui.tui.cli import (
    cells,
    corpus,
    demo,
    evaluate,
    generate,
    hidden,
    neighbours,
    runs,
    score,
    step,
    train,
)
from lyrics_tui.tui.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Parser,
    message,
    runs_db_argument,
)

COMMANDS = {
    "train": train,
    "generate": generate,
    "eval": evaluate,
    "score": score,
    "neighbours": neighbours,
    "step": step,
    "hidden": hidden,
    "cells": cells,
    "runs": runs,
    "demo": demo,
    "corpus": corpus,
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="lyrics-tui",
        description="Train, play with and look inside a recurrent language model of lyrics. "
        "With no command, opens the terminal playground.",
    )
    parser.add_argument(
        "--corpus",
        help=f"the corpus the playground trains on: {', '.join(BUNDLED)} (bundled), "
        f"{', '.join(DOWNLOADABLE)} (downloaded once) or a text file; default {DEFAULT_CORPUS}",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="the checkpoint to open in the playground; default the newest best one in the "
        "checkpoint folder",
    )
    parser.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="where the playground saves and finds checkpoints; default checkpoints/",
    )
    parser.add_argument(
        "--out-dir",
        metavar="DIR",
        help="where the playground writes songs (w); default songs/ in the checkpoint folder",
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=DEVICES,
        help="where to train; default auto (CUDA when there is one, else the CPU)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="serve the playground to a browser (textual-serve) instead; before `demo`, "
        "the demo (each page opened runs its own); default off",
    )
    parser.add_argument("--port", type=int, default=8000, help="port for --serve; default 8000")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address --serve listens on (a warning when not loopback); default 127.0.0.1",
    )
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", help="the token in --serve's address; default a new random one")
    token.add_argument(
        "--no-token",
        action="store_true",
        help="serve with no token (anyone who can connect); default off",
    )
    runs_db_argument(parser, top_level=True)
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    for module in dict.fromkeys(COMMANDS.values()):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:  # (BLAS threads were chosen before numpy loaded: tui/entry.py)
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already reported in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.command is None:
            return playground(args)
        return COMMANDS[args.command].run(args)
    except LyricsError as exc:
        print(f"lyrics-tui: {message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("lyrics-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a name too long, an address in use: the system's own words
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"lyrics-tui: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


def playground(args: argparse.Namespace) -> int:
    from lyrics_tui.tui.launch import run_playground

    return run_playground(args)
