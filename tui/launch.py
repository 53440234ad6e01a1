"""Starting the playground: in this terminal, or served to a browser (textual-serve)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lyrics_tui.core import tuning

if TYPE_CHECKING:
    import argparse

    from lyrics_tui.tui.app import PlaygroundApp
    from lyrics_tui.tui.controllers.demo import DemoOptions


def run_playground(args: argparse.Namespace, demo: DemoOptions | None = None) -> int:
    """Open the playground (or serve it with --serve); `demo`: its hands-free demo's options."""
    if getattr(args, "serve", False):
        return serve(args)
    from lyrics_tui.core.corpus import obtain_corpus

    corpus = getattr(args, "corpus", None)
    if corpus:  # a name that is neither a corpus nor a file: one line; jaychou: fetched once
        from lyrics_tui.tui.cli.common import note

        obtain_corpus(corpus, on_note=note)
    tuning.for_training()
    from lyrics_tui.tui.app import PlaygroundApp

    driver = None
    if demo is not None:
        from lyrics_tui.tui.screens.demo import DemoDriver

        driver = DemoDriver(demo)
    app = PlaygroundApp(
        corpus=corpus,
        checkpoint=getattr(args, "checkpoint", None),
        device=getattr(args, "device", "auto") or "auto",
        checkpoint_dir=getattr(args, "checkpoint_dir", None),
        out_dir=getattr(args, "out_dir", None),
        runs_db=getattr(args, "runs_db", None),
        demo=driver,
    )
    return run_app(app)


def run_app(app: PlaygroundApp) -> int:
    """Run the app in this terminal and leave the process as soon as the terminal is back.

    The loop is ours, so its thread pool is not joined on the way out (asyncio.run would
    wait for a trainer thread still validating a partial epoch, or for jieba's warm-up), and
    the interpreter's own teardown (a second with torch loaded) is skipped: by now the
    terminal is restored, checkpoints are written atomically and the last finished epoch was
    saved on quit, so there is nothing left to flush but stdout and stderr.
    """
    from lyrics_tui.tui.signals import PlaygroundSignals

    tuning.interface_first()  # the trainer's threads give way to the UI's (docs/tui.md)
    loop = asyncio.new_event_loop()
    # SIGHUP, SIGTERM: stop the run, save it, exit 129, 143
    with PlaygroundSignals(app, loop) as stopping:
        try:
            app.run(loop=loop)
        finally:
            stopping.finish()
    code = stopping.exit_code or app.return_code or 0
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a terminal that went away
            stream.flush()
    os._exit(code)


def serve(args: argparse.Namespace, tail: list[str] | None = None) -> int:
    """Serve the same app to a browser with textual-serve (one app process per page), to those
    who hold the address printed at start (its token: tui/serving.py); `tail`: a command and
    its flags for each page (the demo's)."""
    try:
        from lyrics_tui.tui import serving
    except ImportError:
        print(
            "lyrics-tui: --serve needs textual-serve (pip install 'lyrics-tui[serve]')",
            file=sys.stderr,
        )
        return 2
    from lyrics_tui.core.corpus import BUNDLED, DOWNLOADABLE, obtain_corpus
    from lyrics_tui.tui.cli.common import note

    token = getattr(args, "token", None)
    if token is None and not getattr(args, "no_token", False):
        token = serving.new_token()
    problem = serving.check_token(token) if token is not None else None
    if problem:
        print(f"lyrics-tui: {problem}", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "lyrics_tui.tui.entry"]
    if getattr(args, "corpus", None):
        path = obtain_corpus(args.corpus, on_note=note)  # jaychou: fetched once, here
        named = args.corpus in BUNDLED or args.corpus in DOWNLOADABLE
        command += ["--corpus", args.corpus if named else str(path.resolve())]
    for option in ("checkpoint", "checkpoint_dir", "out_dir", "runs_db"):
        if getattr(args, option, None):
            flag = "--" + option.replace("_", "-")
            command += [flag, str(Path(getattr(args, option)).expanduser().resolve())]
    if getattr(args, "device", None):
        command += ["--device", args.device]
    command += tail or []
    host = getattr(args, "host", None) or "127.0.0.1"
    return serving.serve(
        shlex.join(command), host=host, port=getattr(args, "port", 8000), token=token
    )
