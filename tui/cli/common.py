"""What every command shares: argument types, one-line errors, JSON lines, the console."""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NoReturn, TypedDict, TypeVar, Unpack, overload

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.settings import SAMPLER, Setting

if TYPE_CHECKING:
    from rich.console import Console

    from lyrics_tui.core.adapt import AdaptSettings
    from lyrics_tui.core.cache import CacheSettings
    from lyrics_tui.core.sampling import SamplerSettings

_N = TypeVar("_N")  # a namespace object of the caller's (argparse's own overloads)

EXIT_FAILED = 1  # training stopped on its own (NaN loss, a checkpoint that cannot be written)
EXIT_USAGE = 2  # bad input: nothing was trained or written
EXIT_INTERRUPTED = 130  # Ctrl+C
EXIT_READER_GONE = 141  # the program reading the output left (128 + SIGPIPE): stopped and saved

# Settings whose flag is not simply --setting-name.
_FLAGS = {"max_tokens": "--length", "max_lines": "--lines", "top": "--candidates"}


def flag(setting: str) -> str:
    """The command-line flag of a core setting: min_count -> --min-count."""
    return _FLAGS.get(setting, "--" + setting.replace("_", "-"))


def message(error: LyricsError) -> str:
    """A core error as the command line says it: settings named by their flags."""
    return error.render(flag)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2), not the usage; it
    names the command, and a mistyped flag or choice gets the nearest one suggested."""

    def error(self, message: str) -> NoReturn:
        choice = _INVALID_CHOICE.search(message)
        if choice:
            given, offered = choice.group(1), re.findall(r"'([^']*)'", choice.group(2))
            if message.startswith("argument {"):  # the command itself
                message = f"unknown command {given!r} (one of {', '.join(offered)})"
            message += _did_you_mean(given, offered)
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")

    @overload
    def parse_args(
        self, args: Iterable[str] | None = None, namespace: None = None
    ) -> argparse.Namespace: ...
    @overload
    def parse_args(self, args: Iterable[str] | None, namespace: _N) -> _N: ...
    @overload
    def parse_args(self, *, namespace: _N) -> _N: ...
    def parse_args(self, args: Iterable[str] | None = None, namespace: object = None) -> object:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = self._command_parser(parsed)
            unknown = next((e for e in extras if e.startswith("-")), extras[0])
            flags = [o for a in command._actions for o in a.option_strings if o.startswith("--")]
            hint = _did_you_mean(unknown.split("=", 1)[0], flags)
            command.error(f"unrecognized argument {' '.join(extras)}{hint}")
        return parsed

    def _command_parser(self, parsed: object) -> argparse.ArgumentParser:
        """The (sub)command's own parser: its flags are the ones to suggest."""
        parser: argparse.ArgumentParser = self
        for dest in ("command", "action"):
            chosen = getattr(parsed, dest, None)
            subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            if chosen is None or not subparsers or chosen not in subparsers[0].choices:
                break
            parser = subparsers[0].choices[chosen]
        return parser


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def _did_you_mean(given: str, offered: list[str]) -> str:
    near = difflib.get_close_matches(given, offered, n=1, cutoff=0.6)
    return f"; did you mean {near[0]}?" if near else ""


def setting_help(setting: Setting, default: str, more: str = "") -> str:
    """A flag's help from core's table of settings: its meaning, range and default."""
    parts = [setting.meaning]
    if not setting.choices and setting.kind is not bool:  # argparse lists the choices itself
        parts.append(setting.range_text)
    parts += [*([more] if more else []), f"default {default}"]
    return "; ".join(parts)


def setting_argument(
    parser: argparse._ActionsContainer,  # a parser, or a group of its arguments
    setting: Setting,
    default: object = None,
    default_text: str | None = None,
    more: str = "",
) -> None:
    """A flag for a core setting (its help from the table; parsed as the setting's kind).
    `default` is the parser's; `default_text` what the help says when that is not it."""
    shown = default_text if default_text is not None else shown_value(default)
    name, meaning = flag(setting.name), setting_help(setting, shown, more)
    if setting.kind is bool:
        parser.add_argument(
            name, default=default, help=meaning, action=argparse.BooleanOptionalAction
        )
    elif setting.choices:
        parser.add_argument(name, default=default, help=meaning, choices=setting.choices)
    elif setting.kind is int:
        parser.add_argument(name, default=default, help=meaning, type=int, metavar="N")
    else:
        parser.add_argument(name, default=default, help=meaning, type=number, metavar="F")


def shown_value(value: object) -> str:
    """A default as --help shows it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def preset_default(name: str) -> str:
    """A training setting's default: the default preset's value, then where another preset or
    a bundled corpus (with its own preset) sets it otherwise."""
    from lyrics_tui.core.config import preset_values
    from lyrics_tui.core.corpus import BUNDLED

    values = preset_values(name)
    first = values.pop("default")
    presets: dict[str, list[str]] = {}
    for preset, value in values.items():
        if value != first:
            presets.setdefault(shown_value(value), []).append(preset)
    rest = [f"--preset {', '.join(where)}: {value}" for value, where in presets.items()]
    for corpus in BUNDLED.values():
        own = {"tokenizer": corpus.tokenizer, **corpus.model, **corpus.train}
        if name in own and own[name] != first:
            rest.append(f"--corpus {corpus.name}: {shown_value(own[name])}")
    return shown_value(first) + (f" ({'; '.join(rest)})" if rest else "")


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def emit(obj: Mapping[str, object]) -> None:
    """One JSON object on its own line of stdout."""
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def note(text: str) -> None:
    """A line about what is being done (e.g. a download), on stderr when a person reads it
    (elsewhere stderr holds only what went wrong)."""
    if sys.stderr.isatty():
        print(f"lyrics-tui: {text}", file=sys.stderr)


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
        help="the run store; default $LYRICS_TUI_RUNS_DB, else "
        "~/.local/share/lyrics-tui/runs.sqlite3",
    )


CHECKPOINT_HELP = (
    "the checkpoint file; default the newest best one in checkpoints/ (a -last file or one "
    "that cannot be read is passed over, with a warning)"
)
JSON_HELP = "one JSON object per line on stdout, nothing else; default off"


def checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    """--checkpoint: every command that reads a model opens the newest one without it."""
    parser.add_argument("--checkpoint", metavar="FILE", help=CHECKPOINT_HELP)


def checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    checkpoint_argument(parser)
    parser.add_argument("--json", action="store_true", help=JSON_HELP)


def prompt_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prompt", default="", help="the start text; default empty (the song starts a line)"
    )


def sampler_arguments(parser: argparse.ArgumentParser, temperature: float = 0.8) -> None:
    """--temperature, --top-k, --top-p, --repetition-penalty, --seed, --returns, --form,
    --rhyme and --redraft, from core's table (core/settings.py) and SamplerSettings' defaults."""
    from lyrics_tui.core.sampling import SamplerSettings

    defaults = SamplerSettings(temperature=temperature)
    for name in ("temperature", "top_k", "top_p", "repetition_penalty", "returns"):
        setting_argument(parser, SAMPLER[name], getattr(defaults, name))
    setting_argument(parser, SAMPLER["seed"], None, "a new one each time (printed)")
    setting_argument(parser, SAMPLER["form"], defaults.form, more="docs/writing.md")
    setting_argument(parser, SAMPLER["rhyme"], defaults.rhyme)
    setting_argument(parser, SAMPLER["redraft"], defaults.redraft, more="docs/writing.md")


def cache_argument(parser: argparse.ArgumentParser) -> None:
    from lyrics_tui.core.cache import CACHE_HELP

    parser.add_argument(
        "--cache",
        default="auto",
        metavar="auto|off|N,THETA,LAMBDA",
        help=f"{CACHE_HELP}; default auto",
    )


def cache_option(args: argparse.Namespace) -> str | CacheSettings:
    """--cache checked before anything is loaded: "auto", "off" or CacheSettings."""
    from lyrics_tui.core.cache import parse_cache

    return parse_cache(args.cache)


ADAPT_HELP = (
    "dynamic evaluation: the network keeps learning from the text as it reads it (a gradient "
    "step every few words, on a copy of the weights; the checkpoint is never changed). Needs "
    "torch, so the start is slower"
)


def adapt_argument(parser: argparse.ArgumentParser, help_text: str = ADAPT_HELP) -> None:
    parser.add_argument("--adapt", action="store_true", help=f"{help_text}; default off")


def adapt_settings(args: argparse.Namespace) -> AdaptSettings | None:
    """The dynamic evaluation settings --adapt asks for (None: off)."""
    if not getattr(args, "adapt", False):
        return None
    from lyrics_tui.core.adapt import AdaptSettings

    return AdaptSettings()


def cache_json(settings: CacheSettings | None, source: str = "") -> dict[str, object] | None:
    """Song memory's settings as the JSON lines give them (None: off)."""
    if settings is None:
        return None
    return {**settings.to_dict(), **({"source": source} if source else {})}


class SamplerLimits(TypedDict, total=False):
    """What a command adds to the sampler's flags (generate: a song's length)."""

    max_tokens: int
    max_lines: int


def sampler_settings(args: argparse.Namespace, **more: Unpack[SamplerLimits]) -> SamplerSettings:
    """The sampler settings the flags give, checked before anything is loaded."""
    from lyrics_tui.core.sampling import SamplerSettings

    settings = SamplerSettings(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
        returns=args.returns,
        form=args.form,
        rhyme=args.rhyme,
        redraft=args.redraft,
        **more,
    )
    settings.validated()
    return settings
