"""`lyrics-tui`'s first step, taken before anything loads numpy (OpenBLAS reads its thread count
once, when numpy loads).

The playground and the demo generate beside a training torch: one BLAS thread, or priming the
first token fights the trainer for the cores (56 against 38 ms mid-training). A command on its
own keeps OpenBLAS's count: on two idle cores `generate` writes about 1.4x faster with two
threads (docs/performance.md)."""

from __future__ import annotations

import sys

from lyrics_tui.core import tuning

# the commands that run alone (every command of tui/cli but demo; a test keeps them in step)
ALONE = frozenset(
    (
        "train",
        "generate",
        "eval",
        "score",
        "neighbours",
        "step",
        "hidden",
        "cells",
        "runs",
        "corpus",
    )
)


def prepare(argv: list[str]) -> None:
    """One BLAS thread unless a command that runs alone was named (a word of argv that is a
    command's name: at worst an option's value taken for one, which costs speed, not results)."""
    if not any(word in ALONE for word in argv):
        tuning.for_generation()


def main(argv: list[str] | None = None) -> int:
    prepare(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show 霓虹 gets ?, and
        if hasattr(stream, "reconfigure"):  # the run goes on (it died mid-save on latin-1)
            stream.reconfigure(errors="replace")
    from lyrics_tui.tui.cli import main as run

    return run(argv)


if __name__ == "__main__":  # python -m lyrics_tui.tui.entry (what textual-serve starts)
    sys.exit(main())
