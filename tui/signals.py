"""Signals that stop a run as Ctrl+C does, and the exit status each one leaves: one place for
the command line and the playground.

SIGINT (Ctrl+C), SIGHUP (the terminal or the SSH connection went away) and SIGTERM (`kill`,
systemd, a container stop) all ask the run to stop after its batch and save its resumable state;
the process then exits 128 + the signal's number, as a shell reports a process the signal
killed (130, 129, 143). A second signal aborts at once; a second SIGHUP does not, since when a
connection drops both the kernel and the shell send one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import asyncio

    from lyrics_tui.tui.controllers.generation import GenerationController
    from lyrics_tui.tui.controllers.training import TrainingController

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGHUP", "SIGTERM") if hasattr(signal, name)
)

# A signal's handler as signal.signal() gives and takes it (typeshed's signal._HANDLER).
Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None

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

    def __init__(self, stop: Callable[[int], object]) -> None:
        self.stop = stop
        self.received: int | None = None
        self._previous: dict[int, Handler] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            if signum == getattr(signal, "SIGHUP", None):
                return  # a hang-up comes from the kernel and from the shell: not "hurry"
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


class Playground(Protocol):
    """What the handlers use of tui/app.py's PlaygroundApp (which only the entry points import)."""

    @property
    def training(self) -> TrainingController: ...
    @property
    def generation(self) -> GenerationController: ...
    @property
    def return_code(self) -> int | None: ...
    def exit(self, result: None = None, return_code: int = 0) -> None: ...


SAVE_WAIT_S = 60.0  # how long a stopped playground run may take to validate and save
EXIT_GRACE_S = 3.0  # then how long the UI may take to give a live terminal back


class PlaygroundSignals:
    """The stop signals in the playground (tui/launch.py run_app), while active.

    The first one stops the run and any generation and asks the app to end with the signal's
    exit status; `finish`, once the app has ended, waits for the run to validate its partial
    epoch and save its resumable -last checkpoint. Python-level handlers, because they run even
    when the UI thread is stuck (Textual's output thread dies on a terminal that went away, and
    the next writes block): a watchdog thread then saves and leaves. An app that ended on an
    error (a terminal that died under it) saves its run the same way.
    """

    def __init__(self, app: Playground, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop  # the app's
        self.received: int | None = None
        self._previous: dict[int, Handler] = {}

    def __enter__(self) -> PlaygroundSignals:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @property
    def exit_code(self) -> int | None:
        return exit_code(self.received) if self.received is not None else None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            if signum != getattr(signal, "SIGHUP", None):
                os._exit(exit_code(signum))  # a second signal: leave now
            return  # a hang-up comes from the kernel and from the shell: not "hurry"
        self.received = signum
        if signum == getattr(signal, "SIGHUP", None):
            leave_dead_terminal()
        self.app.training.stop()
        self.app.generation.stop()
        with contextlib.suppress(RuntimeError):  # the loop has closed: the app has ended
            self.loop.call_soon_threadsafe(partial(self.app.exit, return_code=exit_code(signum)))
        threading.Thread(target=self._watchdog, name="lyrics-signal", daemon=True).start()

    def _watchdog(self) -> None:
        self._save()
        if self.received != getattr(signal, "SIGHUP", None):
            time.sleep(EXIT_GRACE_S)  # a terminal to give back; none after a hang-up
        os._exit(exit_code(self.received or 0))  # the UI did not end: leave without it

    def _save(self) -> None:
        training = self.app.training
        training.stop()
        deadline = time.monotonic() + SAVE_WAIT_S
        while training.busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        if training.busy():
            training.keep_last_epoch()

    def finish(self) -> None:
        """After the app: unless it was quit (which saved the last finished epoch already),
        stop a run still training and wait for it to save."""
        if self.received is None and not self.app.return_code:
            return  # quit as usual
        if self.received is not None and self.app.training.busy():
            with contextlib.suppress(OSError):
                print(f"lyrics-tui: {reason(self.received)}: saving the run…", file=sys.stderr)
        self._save()
