"""Signals that stop a run as Ctrl+C does, and the exit status each one leaves: one place for
the command line and the playground.

SIGINT (Ctrl+C), SIGHUP (the terminal or the SSH connection went away) and SIGTERM (`kill`,
systemd, a container stop) all ask the run to stop after its batch and save its resumable state;
the process then exits 128 + the signal's number, as a shell reports a process the signal
killed (130, 129, 143). A second signal aborts at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGHUP", "SIGTERM") if hasattr(signal, name)
)

# What the user is told, by signal name.
REASONS = {
    "SIGINT": "interrupted",
    "SIGHUP": "the terminal went away (SIGHUP)",
    "SIGTERM": "terminated (SIGTERM)",
}


def exit_code(signum: int) -> int:
    """The exit status after stopping for `signum`: 128 + its number (SIGINT 130, SIGHUP 129,
    SIGTERM 143)."""
    return 128 + int(signum)


def reason(signum: int) -> str:
    return REASONS.get(signal.Signals(signum).name, signal.Signals(signum).name)


class Aborted(KeyboardInterrupt):
    """A second stop signal: leave now, without saving."""

    def __init__(self, signum: int) -> None:
        super().__init__(reason(signum))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return exit_code(self.signum)


def leave_dead_terminal() -> None:
    """Point stdout and stderr at /dev/null when they are a terminal device: after a hang-up
    every write to it fails (EIO), and the run must still save. Files and pipes stay."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        null_device = os.fstat(null).st_rdev
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                info = os.fstat(fd)
                if stat.S_ISCHR(info.st_mode) and info.st_rdev != null_device:
                    os.dup2(null, fd)
    finally:
        os.close(null)


class StopSignals:
    """While active, the first stop signal calls `stop(signum)` (and, for SIGHUP, leaves the
    dead terminal); a second raises Aborted. `received` is the first signal's number."""

    def __init__(self, stop: Callable[[int], Any]) -> None:
        self.stop = stop
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            raise Aborted(signum)
        self.received = signum
        if signum == getattr(signal, "SIGHUP", None):
            leave_dead_terminal()
        self.stop(signum)

    @property
    def exit_code(self) -> int | None:
        return exit_code(self.received) if self.received is not None else None

    def __enter__(self) -> StopSignals:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
