"""`lyrics-tui demo`: the playground, hands-free, for a projector or a shared screen.

It trains for a short time budget (continuing the model start-up opens when it was trained on
the same corpus), then writes songs one after another beside the candidates of each step,
until a key is pressed; the playground then stays open with the model. A mode of the
playground (tui/screens/demo.py drives it), not a second app. With --serve each browser page
opened runs its own demo.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lyrics_tui.core.corpus import BUNDLED, DEFAULT_CORPUS, DOWNLOADABLE
from lyrics_tui.core.device import DEVICES
from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.settings import SONG_LINES
from lyrics_tui.tui.cli.common import number

if TYPE_CHECKING:
    from lyrics_tui.tui.controllers.demo import DemoOptions

BUDGET_S = 45.0
PACE_MS = 300
LINES = SONG_LINES  # a song, as the playground writes it


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="a hands-free demo: train briefly, then write songs step by step until a key",
        description="Trains for a short time budget on the corpus with its own defaults (or "
        "continues the newest checkpoint when it was trained on that corpus), then writes "
        "songs one after another, showing each step's candidates as the words arrive, until "
        "a key is pressed; the playground then stays open with the model. Nothing to type. "
        "Readable at 80x24; on a projector 120x40 shows more candidates. "
        "With --serve (lyrics-tui demo --serve, or lyrics-tui --serve demo) the demo is "
        "served to a browser instead: each page opened runs a demo of its own.",
    )
    keep = argparse.SUPPRESS  # given before `demo` (lyrics-tui --corpus songci demo) stays
    demo.add_argument(
        "--corpus",
        default=keep,
        help=f"{', '.join([*BUNDLED, *DOWNLOADABLE])} or a text file; default {DEFAULT_CORPUS}",
    )
    demo.add_argument(
        "--budget",
        type=number,
        default=BUDGET_S,
        metavar="SECONDS",
        help="seconds of training, 0 or more (0: none when a model is there to write with); "
        f"default {BUDGET_S:g}",
    )
    demo.add_argument(
        "--pace",
        type=int,
        default=PACE_MS,
        metavar="MS",
        help=f"milliseconds between two words, 0 to 5000; default {PACE_MS}",
    )
    demo.add_argument(
        "--lines", type=int, default=LINES, help=f"lines per song, at least 1; default {LINES}"
    )
    demo.add_argument(
        "--seed",
        type=int,
        help="the first song's seed (then one more per song), 0 to 2**32-1; default a new one",
    )
    demo.add_argument(
        "--checkpoint-dir",
        default=keep,
        metavar="DIR",
        help="where checkpoints are found and saved; default checkpoints/",
    )
    demo.add_argument(
        "--device",
        default=keep,
        choices=DEVICES,
        help="where to train; default auto (CUDA when there is one, else the CPU)",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        default=keep,
        help="serve the demo to a browser; default off",
    )
    demo.add_argument("--port", type=int, default=keep, help="port for --serve; default 8000")
    demo.add_argument(
        "--host", default=keep, help="the address --serve listens on; default 127.0.0.1"
    )
    token = demo.add_mutually_exclusive_group()
    token.add_argument(
        "--token", default=keep, help="the token in --serve's address; default a new random one"
    )
    token.add_argument(
        "--no-token",
        action="store_true",
        default=keep,
        help="serve with no token (anyone who can connect); default off",
    )


def options(args: argparse.Namespace) -> DemoOptions:
    """The demo's options from the flags, checked (one line for a bad one)."""
    from lyrics_tui.tui.controllers.demo import DemoOptions

    if not args.budget >= 0:
        raise SettingsError("--budget must be 0 or more seconds")
    if not 0 <= args.pace <= 5000:
        raise SettingsError("--pace must be between 0 and 5000 milliseconds")
    if args.lines < 1:
        raise SettingsError("--lines must be at least 1")
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise SettingsError("--seed must be between 0 and 4294967295")
    return DemoOptions(
        budget_s=float(args.budget), pace_s=args.pace / 1000, lines=args.lines, seed=args.seed
    )


def flags(args: argparse.Namespace) -> list[str]:
    """The demo's own flags, for the command each served page runs."""
    tail = ["demo", "--budget", f"{args.budget:g}", "--pace", str(args.pace)]
    tail += ["--lines", str(args.lines)]
    return tail + (["--seed", str(args.seed)] if args.seed is not None else [])


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.tui import launch

    chosen = options(args)
    if getattr(args, "serve", False):
        return launch.serve(args, tail=flags(args))
    return launch.run_playground(args, demo=chosen)
