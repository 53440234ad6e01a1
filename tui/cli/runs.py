"""`lyrics-tui runs`: the recorded training runs; `show`, `compare` and `rm` one or more.

A thin view of core/runs/. With --json each listed run is one JSON object per line; `show` and
`compare` print one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from typing import TYPE_CHECKING

from lyrics_tui.core.errors import LyricsError, RunStoreError
from lyrics_tui.core.runs.schema import SORT_KEYS
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.cli.common import console, emit, runs_db_argument

if TYPE_CHECKING:
    from rich.console import Console

    from lyrics_tui.core.runs.records import RunDetail, RunSummary
    from lyrics_tui.core.runs.store import RunStore


LARGEST = 2**63 - 1  # SQLite's integers: a larger one is no run's


def run_id(text: str) -> int:
    """A run's number as the store gives them: 1 or more (a larger one than SQLite holds is
    refused here, not by the store in a traceback)."""
    value = int(text) if text.strip().lstrip("+-").isdigit() else 0
    if not 1 <= value <= LARGEST:
        raise argparse.ArgumentTypeError(f"a run's number is from 1 to {LARGEST}: {text}")
    return value


def count(text: str) -> int:
    value = int(text) if text.strip().lstrip("+-").isdigit() else -1
    if not 0 <= value <= LARGEST:
        raise argparse.ArgumentTypeError(f"must be from 0 to {LARGEST}: {text}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser(
        "runs",
        help="list, show, compare and delete recorded training runs",
        description="Every training run is recorded in a local SQLite store (docs/runs.md). "
        "With no action, lists them, newest first.",
    )
    runs.add_argument(
        "--json", action="store_true", help="one JSON object per run per line; default off"
    )
    runs.add_argument(
        "--corpus", metavar="NAME", help="only runs on this corpus (name or path); default all"
    )
    runs.add_argument(
        "--sort",
        default="started",
        choices=tuple(SORT_KEYS),
        help="the column to sort by; default started (the newest first)",
    )
    runs.add_argument(
        "--ascending", action="store_true", help="oldest or smallest first; default off"
    )
    runs.add_argument("--limit", type=count, help="at most this many runs (0: all); default all")
    runs_db_argument(runs)
    actions = runs.add_subparsers(dest="action", metavar="{show,compare,rm}")
    show = actions.add_parser("show", help="a run's settings and its epochs")
    show.add_argument("id", type=run_id, metavar="ID")
    show.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="one JSON object; default off",
    )
    runs_db_argument(show)
    compare = actions.add_parser(
        "compare", help="the settings in which runs differ, and their final figures"
    )
    compare.add_argument("ids", type=run_id, nargs="+", metavar="ID")
    compare.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="one JSON object; default off",
    )
    runs_db_argument(compare)
    rm = actions.add_parser(
        "rm", help="forget runs (their checkpoint files stay unless --files is given)"
    )
    rm.add_argument("ids", type=run_id, nargs="+", metavar="ID")
    rm.add_argument(
        "--files",
        action="store_true",
        help="also delete each run's checkpoint files (never one another run recorded, "
        "nor one changed since the run wrote it); default off",
    )
    runs_db_argument(rm)


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.core.runs.location import runs_db_path
    from lyrics_tui.core.runs.store import open_store

    path = runs_db_path(getattr(args, "runs_db", None))
    action = getattr(args, "action", None)
    if not path.exists():
        if action is None:
            if not args.json:
                print(f"no runs recorded yet ({path})", file=sys.stderr)
            return 0
        raise RunStoreError(f"runs database {path}: no runs recorded yet (no such file)")
    with open_store(path, create=False) as store:
        if action == "show":
            return show(store, args.id, args.json)
        if action == "compare":
            return compare(store, args.ids, args.json)
        if action == "rm":
            return remove(store, args.ids, args.files)
        return listing(store, args)


def listing(store: RunStore, args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 0:
        raise LyricsError("--limit must be 0 or more")
    limit = args.limit or None  # 0: all, as --top 0 and --lines 0 elsewhere
    runs = store.list_runs(
        corpus=args.corpus, sort=args.sort, descending=not args.ascending, limit=limit
    )
    if args.json:
        if runs:
            sys.stdout.write(
                "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in runs)
            )
            sys.stdout.flush()
        return 0
    if not runs:
        which = f" on {args.corpus}" if args.corpus else ""
        print(f"no runs recorded{which} ({store.path})", file=sys.stderr)
        return 0
    print_table(runs, console())
    return 0


# The listing at narrower widths, on purpose rather than cut with "…": each level shortens one
# more thing (the last: the corpus name wraps, nothing else is cut).
SHORTER = (
    "best ppl header",  # "ppl"
    "status",  # "completed (budget)"
    "model",  # "gru 512" (the layers and the embedding only in `runs show`)
    "params",  # left out
    "started",  # the time, or the date in an earlier year
)


def print_table(runs: list[RunSummary], out: Console) -> None:
    """The runs as a table that fits `out`'s width."""
    from rich.table import Table

    this_year = time.localtime().tm_year
    for level in range(len(SHORTER) + 1):
        short = set(SHORTER[:level])
        columns = [
            ("id", "right"),
            ("started", "left"),
            ("corpus", "left"),
            ("model", "left"),
            *([] if "params" in short else [("params", "right")]),
            ("epochs", "right"),
            ("ppl" if "best ppl header" in short else "best ppl", "right"),
            ("time", "right"),
            ("status", "left"),
        ]
        rows = [
            [
                str(r.id),
                _started(r.started_at, this_year, "started" in short),
                r.corpus_name,
                _model(r, "model" in short),
                *([] if "params" in short else [fmt.count(r.parameters)]),
                fmt.epochs(r.epochs, r.planned_epochs),
                fmt.ppl(r.best_val_ppl),
                fmt.duration(r.elapsed_s),
                _status(r, "status" in short),
            ]
            for r in runs
        ]
        fixed = sum(
            max(len(name), *(len(row[i]) for row in rows)) + 1
            for i, (name, _) in enumerate(columns)
            if name != "corpus"
        )
        corpora = max(len("corpus"), *(len(row[2]) for row in rows))
        fits = fixed + min(corpora, 16) <= out.width  # a long corpus name may wrap
        if fits or level == len(SHORTER):
            break
    room = max(8, min(corpora, out.width - fixed - 1))
    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1, 0, 0))
    for name, justify in columns:
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=name not in ("corpus", "status"),  # these two wrap, never cut
            width=room if name == "corpus" and fits else None,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*row)
    out.print(table)


def _started(ts: float, this_year: int, short: bool = False) -> str:
    text = fmt.started(ts, this_year)  # as the playground's Runs screen shows it
    return text.split(" ")[-1] if short else text


def _model(r: RunSummary, short: bool = False) -> str:
    return f"{r.cell} {r.hidden}" if short else f"{r.cell} {r.embed}→{r.hidden}×{r.layers}"


def _status(r: RunSummary, short: bool = False) -> str:
    if r.status == "completed" and r.reason and r.reason != "completed":
        reason = r.reason.removeprefix("time ") if short else r.reason
        return f"completed ({reason})"
    return r.status


def show(store: RunStore, run_id: int, as_json: bool) -> int:
    run = store.get_run(run_id)
    epochs = store.epochs(run_id)
    if as_json:
        emit({"run": run.to_json(), "epochs": [e.to_dict() for e in epochs]})
        return 0
    from rich.table import Table

    from lyrics_tui.core.runs.records import checkpoint_state

    out = console()
    out.print(
        f"[bold]run {run.id}[/] · {_status(run)}" + (f" · {run.message}" if run.message else "")
    )
    for label, value in _about(run):
        print(f"  {label:<16}{value}")
    for kind, path, stamp in (
        ("best checkpoint", run.best_checkpoint, run.best_stamp),
        ("last checkpoint", run.last_checkpoint, run.last_stamp),
    ):
        if path:
            state = checkpoint_state(path, stamp)
            note = "" if state == "ok" else f" ({state})"
            print(f"  {kind:<16}{path}{note}")
    settings = {**run.model_config, **run.train_config}
    text = ", ".join(f"{k}={_value(v)}" for k, v in settings.items())
    print(textwrap.fill(text, 96, initial_indent="  settings        ", subsequent_indent=" " * 18))
    sys.stdout.flush()
    if not epochs:
        print("no epoch finished")
        return 0
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("epoch", "train loss", "val loss", "val ppl", "tok/s", "time", "lr", ""):
        table.add_column(name, justify="right")
    for e in epochs:
        table.add_row(
            str(e.epoch),
            f"{e.train_loss:.3f}",
            f"{e.val_loss:.3f}" if e.val_loss is not None else "-",
            fmt.ppl(e.val_ppl),
            fmt.rate(e.tokens_per_s),
            fmt.duration(e.elapsed_s),
            f"{e.lr:.2g}",
            "*" if e.is_best else "",
        )
    out.print(table)
    return 0


def _about(run: RunDetail) -> list[tuple[str, str]]:
    lines = f" · {run.corpus_lines:,} lines" if run.corpus_lines is not None else ""
    sha = f" · sha256 {run.corpus_sha256[:12]}" if run.corpus_sha256 else ""
    ended = fmt.when(run.ended_at) if run.ended_at else "-"
    about = [
        ("started", f"{fmt.when(run.started_at)} · ended {ended} · on {run.host} (pid {run.pid})"),
        ("corpus", f"{run.corpus}{lines}{sha}"),
        ("preset", f"{run.preset} · {run.tokenizer} tokens"),
        (
            "model",
            f"{_model(run)} · vocab {run.vocab_size:,} · {run.parameters:,} parameters",
        ),
        (
            "trained",
            f"{run.epochs}/{run.planned_epochs} epochs · {fmt.duration(run.elapsed_s)} · "
            f"best val ppl {fmt.ppl(run.best_val_ppl)}",
        ),
        ("device", f"{run.device} {run.precision}, {run.threads} thread(s)"),
    ]
    if run.val_file:
        about.append(("validation", run.val_file))
    if run.resumed_from:
        parent = f" (run {run.parent_id})" if run.parent_id else ""
        about.append(("resumed from", f"{run.resumed_from}{parent} after epoch {run.start_epoch}"))
    return about


def _value(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


FIGURES = (
    ("status", "status", str),
    ("epochs", "epochs", str),
    ("best_val_ppl", "best val ppl", fmt.ppl),
    ("final_val_ppl", "final val ppl", fmt.ppl),
    ("final_train_loss", "final train loss", lambda v: "-" if v is None else f"{v:.3f}"),
    ("tokens_per_s", "tok/s (median)", lambda v: "-" if v is None else fmt.rate(v)),
    ("elapsed_s", "time", fmt.duration),
    ("parameters", "parameters", fmt.count),
)


def compare(store: RunStore, ids: list[int], as_json: bool) -> int:
    from lyrics_tui.core.runs.compare import compare_runs

    if len(ids) < 2:
        raise LyricsError("runs compare needs two run ids or more")
    result = compare_runs(store, ids)
    if as_json:
        emit({"ids": result.ids, "settings": result.settings, "figures": result.figures})
        return 0
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("")
    for run_id in result.ids:
        table.add_column(f"run {run_id}", justify="right")
    if result.settings:
        for key, values in result.settings.items():
            table.add_row(key, *(_value(v) for v in values))
    else:
        table.add_row("settings", *("same" for _ in result.ids))
    table.add_section()
    for key, label, show_value in FIGURES:
        table.add_row(label, *(show_value(f[key]) for f in result.figures))
    console().print(table)
    return 0


def remove(store: RunStore, ids: list[int], files: bool) -> int:
    runs = [store.get_run(run_id) for run_id in ids]  # every id checked before any deletion
    for r in runs:
        done = store.delete_run(r.id, files=files)
        print(f"removed run {r.id}")
        if not files:
            left = [p for p in dict.fromkeys((r.best_checkpoint, r.last_checkpoint)) if p]
            for path in left:
                print(f"  its checkpoint stays: {path} (--files deletes it)")
        for path in done.removed_files:
            print(f"  deleted {path}")
        for path, why in done.kept_files:
            print(f"  kept {path}: {why}")
    return 0
