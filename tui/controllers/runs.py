"""The recorded runs, for the Runs screen and the loss panel's overlaid curves.

One plain thread owns a connection to the run store (core/runs/store.py) while the Runs screen is
open or some run is marked: it lists the runs once, then polls the store a few times a second
(data_version, then changes_since only when another process committed), reads the curves of the
marked runs (only the epochs they lack), deletes and checks checkpoints on request. The UI
thread never waits on SQLite; it gets reports, applied in `receive`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from lyrics_tui.tui.controllers import Post, Problem, start_thread

if TYPE_CHECKING:  # the store loads in its thread, after the first frame
    from lyrics_tui.core.runs.records import EpochRecord, RunSummary
    from lyrics_tui.core.runs.store import RunStore

POLL_S = 0.25  # how often the store is asked whether another process wrote to it
LIVENESS_S = 2.0  # how often running rows are checked for a writer that died
RETRY_S = 2.0  # how long to wait before opening a store that failed again
MAX_MARKED = 6  # curves overlaid at once: the plot has room (and colours) for no more

# What the UI thread asks of the store thread: ("list",), ("wake",) or a request about one run.
_Request = tuple[Literal["checkpoint", "delete"], int]  # answered by the store thread in turn
_Command = tuple[Literal["list", "wake"]] | tuple[Literal["follow", "unfollow"], int] | _Request


class RunsReport:
    """What the store thread posts; `RunsController.receive` applies it."""


@dataclass(frozen=True)
class RunsListed(RunsReport):
    """Every run (RunSummary), newest first; `error` when the store cannot be read."""

    rows: tuple[RunSummary, ...]
    error: str = ""


@dataclass(frozen=True)
class RunsChanged(RunsReport):
    changed: tuple[RunSummary, ...]  # new or updated
    removed: tuple[int, ...]


@dataclass(frozen=True)
class CurveRead(RunsReport):
    """Epochs of a marked run: all of them, or those it lacked (`more`)."""

    run_id: int
    epochs: tuple[EpochRecord, ...]
    more: bool = False


@dataclass(frozen=True)
class CheckpointChecked(RunsReport):
    """A run's checkpoint asked for: its path and core's checkpoint_state()."""

    run_id: int
    path: str | None
    state: str  # ok, missing, replaced


@dataclass(frozen=True)
class RunDeleted(RunsReport):
    run_id: int
    removed_files: tuple[str, ...]
    kept_files: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MarksChanged(RunsReport):
    """A run was marked or unmarked (posted from the UI thread: the panel redraws)."""


@dataclass(frozen=True)
class Overlay:
    """A marked run's validation curve in the loss panel."""

    run_id: int
    label: str
    slot: int  # its colour and marker: the lowest free one when it was marked
    points: tuple[tuple[int, float], ...]


class RunsController:
    """The runs the store holds, the marked ones and their curves."""

    def __init__(
        self, post: Post[RunsReport | Problem], db: str | os.PathLike[str] | None = None
    ) -> None:
        self.post = post
        self.db = db  # --runs-db; None: $LYRICS_TUI_RUNS_DB or the per-user default
        self.rows: dict[int, RunSummary] = {}  # by id, as last reported
        self.listed = False  # the first listing has arrived
        self.error = ""  # why the store cannot be read, or ""
        self.marked: dict[int, Overlay] = {}
        self.screen_open = False
        self.listeners: list[Callable[[RunsReport], None]] = []  # the open screen's
        self._commands: queue.Queue[_Command] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._quit = threading.Event()

    @property
    def path(self) -> str:
        from lyrics_tui.core.runs.location import runs_db_path

        return str(runs_db_path(self.db))

    # -- asked from the UI thread ------------------------------------------------------------
    def watch(self, listener: Callable[[RunsReport], None]) -> None:
        """The Runs screen opened: list the runs and follow changes until `unwatch`."""
        self.listeners.append(listener)
        self.screen_open = True
        self._commands.put(("list",))
        self._ensure_thread()

    def unwatch(self, listener: Callable[[RunsReport], None]) -> None:
        with contextlib.suppress(ValueError):
            self.listeners.remove(listener)
        self.screen_open = bool(self.listeners)

    def toggle(self, run_id: int) -> bool:
        """Mark a run (its curve is overlaid) or unmark it; whether it is marked now.
        Marking more than MAX_MARKED raises ValueError."""
        if run_id in self.marked:
            del self.marked[run_id]
            self._commands.put(("unfollow", run_id))
        else:
            if len(self.marked) >= MAX_MARKED:
                raise ValueError(f"at most {MAX_MARKED} runs can be overlaid; unmark one first")
            used = {o.slot for o in self.marked.values()}
            slot = min(set(range(MAX_MARKED)) - used)
            self.marked[run_id] = Overlay(run_id, self._label(run_id), slot, ())
            self._commands.put(("follow", run_id))
            self._ensure_thread()
        self.post(MarksChanged())
        return run_id in self.marked

    def check_checkpoint(self, run_id: int) -> None:
        """Find the run's checkpoint (answered by CheckpointChecked)."""
        self._commands.put(("checkpoint", run_id))
        self._ensure_thread()

    def delete(self, run_id: int) -> None:
        """Forget the run and delete its files (answered by RunDeleted, or a Problem)."""
        self._commands.put(("delete", run_id))
        self._ensure_thread()

    def overlays(self) -> tuple[Overlay, ...]:
        return tuple(self.marked.values())

    def close(self) -> None:
        """Quitting: the store thread ends (within a poll's time) and starts no more."""
        self._quit.set()
        self._commands.put(("wake",))

    def busy(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def receive(self, report: RunsReport) -> bool:
        """Apply a report (in the UI thread) and tell the screen; True when the overlaid curves
        changed."""
        overlays = False
        if isinstance(report, RunsListed):
            self.rows = {row.id: row for row in report.rows}
            self.listed, self.error = True, report.error
            overlays = self._relabel()
        elif isinstance(report, RunsChanged):
            for row in report.changed:
                self.rows[row.id] = row
            for run_id in report.removed:
                self.rows.pop(run_id, None)
                overlays = self.marked.pop(run_id, None) is not None or overlays
            overlays = self._relabel() or overlays
        elif isinstance(report, CurveRead):
            o = self.marked.get(report.run_id)
            if o is not None:
                points = tuple(
                    (e.epoch, e.val_loss) for e in report.epochs if e.val_loss is not None
                )
                new = (*o.points, *points) if report.more else points
                overlays = new != o.points
                self.marked[report.run_id] = Overlay(o.run_id, o.label, o.slot, new)
        elif isinstance(report, RunDeleted):
            self.rows.pop(report.run_id, None)
            overlays = self.marked.pop(report.run_id, None) is not None
        elif isinstance(report, MarksChanged):
            overlays = True
        for listener in list(self.listeners):
            listener(report)
        return overlays

    def _label(self, run_id: int) -> str:
        row = self.rows.get(run_id)
        return f"#{run_id} {row.cell}" if row is not None else f"#{run_id}"

    def _relabel(self) -> bool:
        changed = False
        for run_id, o in list(self.marked.items()):
            label = self._label(run_id)
            if label != o.label:
                self.marked[run_id] = Overlay(run_id, label, o.slot, o.points)
                changed = True
        return changed

    # -- the store thread --------------------------------------------------------------------
    def _wanted(self) -> bool:
        return self.screen_open or bool(self.marked)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None and not self._quit.is_set():
                self._thread = start_thread("lyrics-runs", self._serve)

    def _serve(self) -> None:
        from lyrics_tui.core.errors import RunStoreError

        state = _ThreadState()
        try:
            while not self._quit.is_set():
                try:
                    command: _Command | None = self._commands.get(timeout=POLL_S)
                except queue.Empty:
                    command = None
                    with self._lock:  # decided under the lock: no command is left unserved
                        if not self._wanted() and self._commands.empty():
                            self._thread = None
                            return
                try:
                    self._step(state, command)
                except RunStoreError as exc:
                    state.drop()
                    state.retry_at = time.monotonic() + RETRY_S
                    state.told_empty = True  # the error stays on screen, not "no runs"
                    self.post(RunsListed((), str(exc)))
        finally:
            state.drop()
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _step(self, state: _ThreadState, command: _Command | None) -> None:
        match command:
            case ("list",):
                state.relist = True
            case ("follow", run_id):
                state.follow[run_id] = -1
                state.force = True
            case ("unfollow", run_id):
                state.follow.pop(run_id, None)
            case ("checkpoint" | "delete" as kind, run_id):
                state.pending.append((kind, run_id))
        store = state.store if state.store is not None else self._open(state)
        if store is None:
            return
        if state.relist:
            state.relist = False
            state.rev = store.revision()  # read first: a change after it comes again, harmlessly
            self.post(RunsListed(tuple(store.list_runs())))
        while state.pending:
            kind, run_id = state.pending.pop(0)
            if kind == "checkpoint":
                self._check_checkpoint(store, run_id)
            else:
                self._delete(store, run_id)
                state.force = True  # our own commit: data_version does not see it
        now = time.monotonic()
        if self.screen_open and now >= state.liveness_at:
            state.liveness_at = now + LIVENESS_S
            if store.refresh_liveness():  # a trainer died since: its row is interrupted now
                state.force = True
        version = store.data_version()  # changes when another connection commits
        if not state.force and version == state.version:
            return
        state.version, state.force = version, False
        changes = store.changes_since(state.rev)
        state.rev = changes.rev
        if changes.changed or changes.removed:
            self.post(RunsChanged(tuple(changes.changed), tuple(changes.removed)))
        if state.follow:
            after = {run_id: epoch for run_id, epoch in state.follow.items() if epoch >= 0}
            for run_id, epochs in store.epoch_series(list(state.follow), after).items():
                first = state.follow[run_id] < 0
                if epochs or first:
                    state.follow[run_id] = epochs[-1].epoch if epochs else 0
                    self.post(CurveRead(run_id, tuple(epochs), more=not first))

    def _open(self, state: _ThreadState) -> RunStore | None:
        """Open the store if it is there (never created just to be looked at); None if not."""
        from lyrics_tui.core.runs.location import runs_db_path
        from lyrics_tui.core.runs.store import open_store

        if time.monotonic() < state.retry_at:
            return None
        path = runs_db_path(self.db)
        if not path.exists():
            if not state.told_empty:
                state.told_empty = True
                self.post(RunsListed(()))
            state.pending.clear()  # no such run to open or delete
            return None
        store = state.store = open_store(path, create=False)
        state.version = store.data_version()
        state.relist, state.force = True, True
        state.follow = dict.fromkeys(state.follow, -1)
        return store

    def _check_checkpoint(self, store: RunStore, run_id: int) -> None:
        from lyrics_tui.core.errors import RunStoreError
        from lyrics_tui.core.runs.records import checkpoint_state

        try:
            run = store.get_run(run_id)
        except RunStoreError as exc:  # deleted meanwhile
            self.post(Problem(str(exc), "warning"))
            return
        # its best model, else its latest state, if the file is still the one it wrote: every run
        # on a corpus writes checkpoints/<corpus>.pt, so an older run's file may hold a newer one
        files = ((run.best_checkpoint, run.best_stamp), (run.last_checkpoint, run.last_stamp))
        states = [(path, checkpoint_state(path, stamp)) for path, stamp in files if path]
        ok = [path for path, state in states if state == "ok"]
        if ok:
            self.post(CheckpointChecked(run_id, ok[0], "ok"))
        else:
            path, state = states[0] if states else (None, "missing")
            self.post(CheckpointChecked(run_id, path, state))

    def _delete(self, store: RunStore, run_id: int) -> None:
        from lyrics_tui.core.errors import RunStoreError

        try:
            done = store.delete_run(run_id, files=True)
        except RunStoreError as exc:  # still training, or already gone: the store is fine
            self.post(Problem(str(exc), "warning"))
            return
        self.post(RunDeleted(run_id, tuple(done.removed_files), tuple(done.kept_files)))


class _ThreadState:
    """What the store thread keeps between its turns."""

    def __init__(self) -> None:
        self.store: RunStore | None = None
        self.version = -1
        self.rev = 0
        self.force = False
        self.relist = False
        self.follow: dict[int, int] = {}  # marked run -> the last epoch sent (-1: none yet)
        self.pending: list[_Request] = []
        self.liveness_at = 0.0
        self.retry_at = 0.0
        self.told_empty = False

    def drop(self) -> None:
        store, self.store = self.store, None
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()
