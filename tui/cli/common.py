"""What every command shares: argument types, one-line errors, JSON lines, the console."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NoReturn

from lyrics_tui.core.errors import LyricsError

if TYPE_CHECKING:
    from rich.console import Console

    from lyrics_tui.core.sampling import SamplerSettings

EXIT_FAILED = 1  # training stopped on its own (NaN loss, a checkpoint that cannot be written)
EXIT_USAGE = 2  # bad input: nothing was trained or written
EXIT_INTERRUPTED = 130  # Ctrl+C

# Settings whose flag is not simply --setting-name.
_FLAGS = {"max_tokens": "--length", "max_lines": "--lines", "top": "--candidates"}


def flag(setting: str) -> str:
    """The command-line flag of a core setting: min_count -> --min-count."""
    return _FLAGS.get(setting, "--" + setting.replace("_", "-"))


def message(error: LyricsError) -> str:
    """A core error as the command line says it: settings named by their flags."""
    return error.render(flag)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2), not the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def emit(obj: dict[str, Any]) -> None:
    """One JSON object on its own line of stdout."""
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def warn(messages: str | list[str]) -> None:
    for text in [messages] if isinstance(messages, str) else messages:
        print(f"lyrics-tui: warning: {text}", file=sys.stderr)


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def runs_db_argument(parser: argparse.ArgumentParser, top_level: bool = False) -> None:
    """--runs-db, on the top-level parser and on every command that trains or reads runs
    (given before or after the command name)."""
    parser.add_argument(
        "--runs-db",
        metavar="PATH",
        default=None if top_level else argparse.SUPPRESS,
        help="the run store (default: $LYRICS_TUI_RUNS_DB, else "
        "~/.local/share/lyrics-tui/runs.sqlite3)",
    )


def checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        help="checkpoint file (default: the newest best in checkpoints/, passing over "
        "unreadable files)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def sampler_arguments(parser: argparse.ArgumentParser, temperature: float = 0.8) -> None:
    from lyrics_tui.core.config import LINE_WINDOW, MAX_RETURNS

    parser.add_argument(
        "--temperature",
        type=number,
        default=temperature,
        help=f">= 0; 0 is greedy; above 100 is capped (default {temperature:g})",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=0,
        help="keep the k likeliest; 0 or more than the vocabulary: off (default 0)",
    )
    parser.add_argument(
        "--top-p",
        type=number,
        default=1.0,
        help="keep the likeliest words holding this mass, 0..1 (1: off)",
    )
    parser.add_argument("--repetition-penalty", type=number, default=1.0, help="1 (off) to 10")
    parser.add_argument("--seed", type=int, help="0..4294967295; same seed, same text")
    parser.add_argument(
        "--returns",
        type=int,
        default=MAX_RETURNS,
        metavar="N",
        help=f"a line already sung N times in the last {LINE_WINDOW} lines is not finished the "
        "same way again (its last word is held back): a chorus comes back, a loop does not "
        f"(0: no limit; default {MAX_RETURNS})",
    )
    parser.add_argument(
        "--form",
        choices=("on", "off"),
        default="on",
        help="song form: lines of the corpus's lengths, lines that come back whole as a chorus "
        "does, and new lines that are new (off: the sampler alone; default on)",
    )
    parser.add_argument(
        "--rhyme",
        type=rhyme_strength,
        default=None,
        metavar="STRENGTH|off",
        help="how strongly line ends rhyme with the line before (十三辙 groups), 0..5; off or 0 "
        "switches it off (default 1)",
    )


def rhyme_strength(text: str) -> float:
    if text.strip().lower() == "off":
        return 0.0
    return number(text)


def cache_argument(parser: argparse.ArgumentParser) -> None:
    from lyrics_tui.core.cache import CACHE_HELP

    parser.add_argument(
        "--cache", default="auto", metavar="auto|off|N,THETA,LAMBDA", help=CACHE_HELP
    )


def cache_option(args: argparse.Namespace) -> Any:
    """--cache checked before anything is loaded: "auto", "off" or CacheSettings."""
    from lyrics_tui.core.cache import parse_cache

    return parse_cache(args.cache)


ADAPT_HELP = (
    "dynamic evaluation: the network keeps learning from the text as it reads it (a gradient "
    "step every few words, on a copy of the weights; the checkpoint is never changed). Needs "
    "torch, so the start is slower"
)


def adapt_argument(parser: argparse.ArgumentParser, help_text: str = ADAPT_HELP) -> None:
    parser.add_argument("--adapt", action="store_true", help=help_text)


def adapt_settings(args: argparse.Namespace) -> Any:
    """The dynamic evaluation settings --adapt asks for (None: off)."""
    if not getattr(args, "adapt", False):
        return None
    from lyrics_tui.core.adapt import AdaptSettings

    return AdaptSettings()


def cache_json(settings: Any, source: str = "") -> dict[str, Any] | None:
    """Song memory's settings as the JSON lines give them (None: off)."""
    if settings is None:
        return None
    return {**settings.to_dict(), **({"source": source} if source else {})}


def sampler_settings(args: argparse.Namespace, **more: Any) -> SamplerSettings:
    """The sampler settings the flags give, checked before anything is loaded."""
    from lyrics_tui.core.sampling import SamplerSettings

    settings = SamplerSettings(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
        returns=args.returns,
        form=args.form == "on",
        **more,
    )
    if args.rhyme is not None:
        settings = replace(settings, rhyme=args.rhyme)
    settings.validated()
    return settings
