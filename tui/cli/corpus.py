"""`lyrics-tui corpus`: the corpora lyrics-tui knows by name; `corpus fetch NAME` downloads one
(core/downloads.py: checked against its sha256, unpacked into the user's data folder)."""

from __future__ import annotations

import argparse

from lyrics_tui.core.downloads import DOWNLOADABLE
from lyrics_tui.tui.cli.common import note


def add_parser(sub: argparse._SubParsersAction) -> None:
    corpus = sub.add_parser(
        "corpus",
        help="the corpora known by name; fetch downloads the tutorial's",
        description="With no action, lists the corpora --corpus takes by name: the bundled "
        "ones, and those downloaded once on first use (the tutorial's Jay Chou lyrics, which "
        "lyrics-tui may not ship). `corpus fetch jaychou` downloads it now.",
    )
    actions = corpus.add_subparsers(dest="action", metavar="{fetch}")
    fetch = actions.add_parser(
        "fetch",
        help="download a corpus, check its sha256 and unpack it into your data folder",
        description="Download a corpus once: its sha256 is checked, and its text unpacked "
        "into your data folder ($XDG_DATA_HOME/lyrics-tui/corpora); nothing is left behind "
        "when it fails.",
    )
    fetch.add_argument("name", choices=tuple(DOWNLOADABLE), help="the corpus")
    fetch.add_argument(
        "--url",
        help="download from this address instead (a mirror; its sha256 must still match); "
        "default the corpus's own (or $LYRICS_TUI_<NAME>_URL)",
    )


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.core.downloads import fetch_corpus

    if getattr(args, "action", None) == "fetch":
        corpus = DOWNLOADABLE[args.name]
        there = corpus.path.is_file()
        path = fetch_corpus(args.name, url=args.url, on_note=note)
        already = "already " if there else ""
        print(f"{args.name}: {already}at {path}; lyrics-tui train --corpus {args.name} uses it")
        return 0
    return listing()


def listing() -> int:
    from lyrics_tui.core.corpus import BUNDLED

    for bundled in BUNDLED.values():
        print(f"{bundled.name:<8} {bundled.about} (bundled)")
    for corpus in DOWNLOADABLE.values():
        state = "downloaded" if corpus.path.is_file() else f"lyrics-tui corpus fetch {corpus.name}"
        print(f"{corpus.name:<8} {corpus.about} ({state})")
    return 0
