"""The run store: every training run and its epochs, in one SQLite file per user.

SQLite in WAL mode lets several processes record at once (one writer at a time, a few small
rows per epoch each) while others read, with no server. A run whose writer died (killed, a
crash, a power cut) is marked `interrupted` the next time any process opens the store: each
row holds its writer's host, pid and process start time. Every failure of the file itself
(corrupt, locked, unwritable, another program's) is a RunStoreError of one line.

Where it lives: location.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lyrics_tui.core.errors import RunStoreError
from lyrics_tui.core.runs import schema
from lyrics_tui.core.runs.liveness import HOST, process_start, writer_alive, writer_gone
from lyrics_tui.core.runs.location import runs_db_path
from lyrics_tui.core.runs.records import (
    Deletion,
    EpochRecord,
    RunChanges,
    RunDetail,
    RunStart,
    RunSummary,
    file_stamp,
)

# How long a write waits for another process's write to finish before giving up. Writes take
# milliseconds, so only a stuck or hostile lock waits this long.
BUSY_TIMEOUT_S = 2.0
DEAD_WRITER = "the process recording it ended without finishing it (killed, crashed, power lost)"


# -- the store --------------------------------------------------------------------------------
class RunStore:
    """One connection to the store. Thread-safe (one lock); open one per process or screen."""

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float | None = None, create: bool = True
    ) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if not create and not self.path.exists():
            raise RunStoreError(f"runs database {self.path}: no runs recorded yet (no such file)")
        with self._guard():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RunStoreError(
                    f"runs database {self.path}: cannot create its folder ({exc.strerror or exc})"
                ) from None
            self.db = sqlite3.connect(
                str(self.path),
                timeout=BUSY_TIMEOUT_S if timeout is None else timeout,
                isolation_level=None,  # autocommit; writes use explicit BEGIN IMMEDIATE
                check_same_thread=False,  # guarded by self._lock
            )
        try:
            with self._guard():
                self._settle(time.monotonic() + (BUSY_TIMEOUT_S if timeout is None else timeout))
            with contextlib.suppress(RunStoreError):  # a reader still reads a locked store
                self.refresh_liveness()
        except BaseException:
            self.db.close()
            raise

    def _settle(self, deadline: float) -> None:
        """WAL mode and the schema. Switching a new file to WAL needs it to itself, and SQLite
        answers "locked" at once there instead of waiting out its busy timeout, so a store that
        two processes create at the same moment retries until `deadline`."""
        while True:
            try:
                self.db.execute("PRAGMA foreign_keys = ON")
                mode = self.db.execute("PRAGMA journal_mode").fetchone()[0]
                if mode != "wal":
                    self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable enough, no fsync
                schema.migrate(self.db)
                return
            except sqlite3.OperationalError as exc:
                if self.db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self.db.execute("ROLLBACK")
                if not _busy(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self.db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """sqlite and file-system errors become one-line RunStoreErrors naming the file."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise RunStoreError(f"runs database {self.path}: {_reason(exc)}") from None
            except schema.NewerSchema as exc:
                raise RunStoreError(
                    f"runs database {self.path}: written by a newer lyrics-tui ({exc})"
                ) from None
            except schema.ForeignDatabase as exc:
                raise RunStoreError(
                    f"runs database {self.path}: not a lyrics-tui runs database ({exc})"
                ) from None

    @contextlib.contextmanager
    def _write(self) -> Iterator[int]:
        """One write transaction; yields the new revision every row it touches carries."""
        with self._guard():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("UPDATE meta SET value = value + 1 WHERE key = 'rev'")
                rev = self.db.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0]
                yield rev
                self.db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise

    # -- writing (the recorder) ----------------------------------------------------------
    def start_run(self, start: RunStart, *, now: float | None = None) -> int:
        """Insert a run as `running`, written by this process; returns its id."""
        now = time.time() if now is None else now
        model, train = start.model_config, start.train_config
        corpus = os.path.abspath(start.corpus)
        resumed = os.path.abspath(start.resumed_from) if start.resumed_from else None
        with self._write() as rev:
            parent = None
            if resumed:
                found = self.db.execute(
                    "SELECT id FROM runs WHERE best_checkpoint = ?1 OR last_checkpoint = ?1 "
                    "ORDER BY id DESC LIMIT 1",
                    (resumed,),
                ).fetchone()
                parent = found[0] if found else None
            cursor = self.db.execute(
                "INSERT INTO runs (rev, status, started_at, heartbeat_at, pid, host, proc_start,"
                " launcher, corpus, corpus_name, corpus_sha256, corpus_lines, val_file,"
                " tokenizer, preset, cell, embed, hidden, layers, model_config, train_config,"
                " device, threads, precision, parameters, vocab_size, start_epoch,"
                " planned_epochs, epochs, elapsed_s, resumed_from, parent_id)"
                " VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rev,
                    now,
                    now,
                    os.getpid(),
                    HOST,
                    process_start(os.getpid()),
                    start.launcher,
                    corpus,
                    os.path.basename(corpus),
                    start.corpus_sha256,
                    start.corpus_lines,
                    os.path.abspath(start.val_file) if start.val_file else None,
                    train.get("tokenizer", ""),
                    start.preset,
                    model.get("cell", ""),
                    int(model.get("embed", 0)),
                    int(model.get("hidden", 0)),
                    int(model.get("layers", 0)),
                    json.dumps(model, sort_keys=True),
                    json.dumps(train, sort_keys=True),
                    start.device,
                    start.threads,
                    start.precision,
                    start.parameters,
                    start.vocab_size,
                    start.start_epoch,
                    int(train.get("epochs", 0)),
                    start.start_epoch,
                    0.0,
                    resumed,
                    parent,
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def record_epoch(self, run_id: int, record: EpochRecord, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._write() as rev:
            self.db.execute(
                f"INSERT OR REPLACE INTO epochs (run_id, {schema.EPOCH_COLUMNS}, recorded_at)"
                f" VALUES (?, {schema.EPOCH_MARKS}, ?)",
                (run_id, *schema.epoch_values(record), now),
            )
            self.db.execute(
                "UPDATE runs SET rev = ?1, epochs = max(epochs, ?2), last_val_ppl = ?3,"
                " last_train_loss = ?4, elapsed_s = ?5, heartbeat_at = ?6,"
                " best_val_ppl = CASE WHEN ?3 IS NOT NULL AND"
                " (best_val_ppl IS NULL OR ?3 < best_val_ppl) THEN ?3 ELSE best_val_ppl END"
                " WHERE id = ?7",
                (
                    rev,
                    record.epoch,
                    record.val_ppl,
                    record.train_loss,
                    record.elapsed_s,
                    now,
                    run_id,
                ),
            )

    def record_checkpoint(self, run_id: int, kind: str, path: str) -> None:
        """Remember where the run's `best` or `last` checkpoint is, and what the file was."""
        if kind not in ("best", "last"):
            raise ValueError(kind)
        path = os.path.abspath(path)
        with self._write() as rev:
            self.db.execute(
                f"UPDATE runs SET rev = ?, {kind}_checkpoint = ?, {kind}_stamp = ?,"
                " heartbeat_at = ? WHERE id = ?",
                (rev, path, file_stamp(path), time.time(), run_id),
            )

    def heartbeat(self, run_id: int, *, now: float | None = None) -> None:
        """The writer is alive (no revision change: nothing a view shows moved)."""
        with self._guard():
            self.db.execute(
                "UPDATE runs SET heartbeat_at = ? WHERE id = ?",
                (time.time() if now is None else now, run_id),
            )

    def finish_run(
        self,
        run_id: int,
        status: str,
        *,
        reason: str | None = None,
        message: str = "",
        best_val_ppl: float | None = None,
        now: float | None = None,
    ) -> None:
        """Close a run with its final status. `best_val_ppl` (the model's best, earlier
        sessions of a resumed model included) replaces the run's own when lower."""
        if status not in schema.STATUSES or status == "running":
            raise ValueError(status)
        now = time.time() if now is None else now
        with self._write() as rev:
            self.db.execute(
                "UPDATE runs SET rev = ?1, status = ?2, reason = ?3, message = ?4,"
                " ended_at = ?5, heartbeat_at = ?5,"
                " best_val_ppl = CASE WHEN ?6 IS NOT NULL AND best_val_ppl IS NOT NULL"
                " AND ?6 < best_val_ppl THEN ?6 ELSE best_val_ppl END"
                " WHERE id = ?7",
                (rev, status, reason, message, now, best_val_ppl, run_id),
            )

    # -- reading (the CLI and the Runs screen) -------------------------------------------
    def list_runs(
        self,
        *,
        corpus: str | None = None,
        sort: str = "started",
        descending: bool = True,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[RunSummary]:
        """Runs without their settings or epochs; `corpus` matches a file name, its stem or
        its path; `sort` is a key of schema.SORT_KEYS (runs with no value last)."""
        if sort not in schema.SORT_KEYS:
            raise RunStoreError(
                f"cannot sort runs by {sort!r}; choose one of {', '.join(schema.SORT_KEYS)}"
            )
        column = schema.SORT_KEYS[sort]
        where, params = self._filter(corpus, status)
        order = "DESC" if descending else "ASC"
        sql = (
            f"SELECT {schema.SUMMARY_SQL} FROM runs {where} "
            f"ORDER BY ({column} IS NULL), {column} {order}, id {order}"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._guard():
            return [schema.summary_from_row(row) for row in self.db.execute(sql, params)]

    @staticmethod
    def _filter(corpus: str | None, status: str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if corpus:
            clauses.append("(corpus_name = ? OR corpus = ? OR corpus_name LIKE ? ESCAPE '\\')")
            escaped = corpus.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params += [corpus, os.path.abspath(os.path.expanduser(corpus)), escaped + ".%"]
        if status:
            clauses.append("status = ?")
            params.append(status)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def corpora(self) -> list[tuple[str, int]]:
        """Corpus file names with their number of runs, for a filter."""
        with self._guard():
            rows = self.db.execute(
                "SELECT corpus_name, count(*) FROM runs GROUP BY corpus_name ORDER BY corpus_name"
            )
            return [(name, count) for name, count in rows]

    def get_run(self, run_id: int) -> RunDetail:
        with self._guard():
            row = self.db.execute(
                f"SELECT {schema.DETAIL_SQL} FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise RunStoreError(f"no run {run_id} in {self.path} (see lyrics-tui runs)")
        values = dict(zip([*schema.SUMMARY_FIELDS, *schema.DETAIL_FIELDS], row, strict=True))
        values["model_config"] = json.loads(values["model_config"])
        values["train_config"] = json.loads(values["train_config"])
        return RunDetail(**values)

    def epochs(self, run_id: int) -> list[EpochRecord]:
        return self.epoch_series([run_id]).get(run_id, [])

    def epoch_series(
        self, run_ids: Iterable[int], after: dict[int, int] | None = None
    ) -> dict[int, list[EpochRecord]]:
        """The epochs of several runs in one query, for overlaying curves; with `after`,
        only those past the epoch given per run (what a live curve has not drawn yet)."""
        ids = list(dict.fromkeys(int(i) for i in run_ids))
        series: dict[int, list[EpochRecord]] = {i: [] for i in ids}
        if not ids:
            return series
        after = after or {}
        marks = ", ".join("(?, ?)" for _ in ids)
        params: list[int] = []
        for i in ids:
            params += [i, after.get(i, -1)]
        with self._guard():
            rows = self.db.execute(
                f"WITH wanted (run_id, past) AS (VALUES {marks}) "
                f"SELECT e.run_id, {', '.join('e.' + c for c in schema.EPOCH_COLUMNS.split(', '))} "
                "FROM epochs e JOIN wanted w ON e.run_id = w.run_id AND e.epoch > w.past "
                "ORDER BY e.run_id, e.epoch",
                params,
            )
            for row in rows:
                series[row[0]].append(schema.epoch_from_row(row[1:]))
        return series

    def revision(self) -> int:
        """The store's revision: it grows with every change any process makes."""
        with self._guard():
            return self.db.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0]

    def data_version(self) -> int:
        """Changes whenever another connection commits: the cheapest poll (no table read)."""
        with self._guard():
            return self.db.execute("PRAGMA data_version").fetchone()[0]

    def changes_since(self, rev: int) -> RunChanges:
        """Runs added, updated or removed after revision `rev` (0: everything)."""
        with self._guard():
            self.db.execute("BEGIN")  # one snapshot for the three reads
            try:
                now = self.db.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0]
                changed = [
                    schema.summary_from_row(row)
                    for row in self.db.execute(
                        f"SELECT {schema.SUMMARY_SQL} FROM runs WHERE rev > ? ORDER BY rev", (rev,)
                    )
                ]
                removed = [
                    row[0]
                    for row in self.db.execute(
                        "SELECT run_id FROM removed WHERE rev > ? ORDER BY rev", (rev,)
                    )
                ]
            finally:
                self.db.execute("COMMIT")
        return RunChanges(now, changed, removed)

    # -- housekeeping --------------------------------------------------------------------
    def refresh_liveness(self, *, now: float | None = None) -> list[int]:
        """Mark `interrupted` every running run whose writer is gone; returns their ids."""
        now = time.time() if now is None else now
        with self._guard():
            running = self.db.execute(
                "SELECT id, pid, host, proc_start, heartbeat_at FROM runs WHERE status = 'running'"
            ).fetchall()
        dead = [
            (run_id, beat)
            for run_id, pid, host, start, beat in running
            if writer_gone(pid, host, start, beat, now)
        ]
        if dead:
            with self._write() as rev:
                for run_id, beat in dead:
                    self.db.execute(
                        "UPDATE runs SET rev = ?, status = 'interrupted', ended_at = ?,"
                        " message = ? WHERE id = ? AND status = 'running'",
                        (rev, beat, DEAD_WRITER, run_id),
                    )
        return [run_id for run_id, _ in dead]

    def delete_run(self, run_id: int, *, files: bool = False) -> Deletion:
        """Forget a run; with `files`, delete its checkpoint files too, unless another run
        recorded the same file or the file changed since this run wrote it."""
        run = self.get_run(run_id)
        if run.status == "running" and run.host == HOST and writer_alive(run.pid, run.pid_start):
            raise RunStoreError(f"run {run_id} is still training (pid {run.pid}); stop it first")
        removed: list[str] = []
        kept: list[tuple[str, str]] = []
        if files:
            for path, stamp in (
                (run.best_checkpoint, run.best_stamp),
                (run.last_checkpoint, run.last_stamp),
            ):
                if not path or path in removed or any(p == path for p, _ in kept):
                    continue
                why = self._keep_reason(run_id, path, stamp)
                if why is None:
                    try:
                        os.unlink(path)
                        removed.append(path)
                    except OSError as exc:
                        kept.append((path, f"cannot be deleted ({exc.strerror or exc})"))
                else:
                    kept.append((path, why))
        with self._write() as rev:
            self.db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            self.db.execute(
                "INSERT OR REPLACE INTO removed (run_id, rev) VALUES (?, ?)", (run_id, rev)
            )
        return Deletion(run_id, removed, kept)

    def _keep_reason(self, run_id: int, path: str, stamp: str | None) -> str | None:
        with self._guard():
            other = self.db.execute(
                "SELECT id FROM runs WHERE id != ?1 AND (best_checkpoint = ?2 OR "
                "last_checkpoint = ?2) ORDER BY id DESC LIMIT 1",
                (run_id, path),
            ).fetchone()
        if other:
            return f"run {other[0]} uses it too"
        now = file_stamp(path)
        if now is None:
            return "no longer there"
        if stamp is not None and now != stamp:
            return "changed since this run wrote it"
        return None

    def integrity(self) -> str:
        """PRAGMA integrity_check's first line: 'ok' for a sound file."""
        with self._guard():
            return self.db.execute("PRAGMA integrity_check").fetchone()[0]


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock (SQLITE_BUSY or SQLITE_LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (5, 6)  # the primary code, whatever the extended one
    return "locked" in str(exc) or "busy" in str(exc)


def _reason(exc: sqlite3.Error) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "unable to open" in text:
        return "cannot be opened (unwritable or not a file)"
    return text


def open_store(
    path: str | os.PathLike[str] | None = None, *, create: bool = True, timeout: float | None = None
) -> RunStore:
    """The store at `path` (default: runs_db_path()); raises RunStoreError."""
    return RunStore(runs_db_path(path), create=create, timeout=timeout)
