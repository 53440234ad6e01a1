"""The run store's schema and its migrations (PRAGMA user_version counts those applied).

A migration is appended, never edited: a database made by an older lyrics-tui is brought up to
date the first time a newer one opens it, in one transaction, whichever process gets there first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from lyrics_tui.core.runs.records import EpochRecord, RunDetail, RunSummary

# Marks the file as ours (PRAGMA application_id), so a path that names another program's
# SQLite database is refused instead of having tables added to it. "LYRT".
APPLICATION_ID = 0x4C595254

STATUSES = ("running", "completed", "stopped", "interrupted", "diverged", "failed")

_V1 = f"""
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after runs rm
    rev INTEGER NOT NULL,                  -- meta.rev when the row last changed
    status TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    reason TEXT,                           -- the trainer's: completed, time budget, stopped, ...
    message TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL,              -- unix seconds
    ended_at REAL,
    heartbeat_at REAL NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    proc_start TEXT,                       -- the writer's start time (Linux), against pid reuse
    launcher TEXT NOT NULL,                -- cli, playground, ...
    corpus TEXT NOT NULL,                  -- absolute path
    corpus_name TEXT NOT NULL,             -- file name, for filtering
    corpus_sha256 TEXT,
    corpus_lines INTEGER,
    val_file TEXT,
    tokenizer TEXT NOT NULL,
    preset TEXT NOT NULL,
    cell TEXT NOT NULL,
    embed INTEGER NOT NULL,
    hidden INTEGER NOT NULL,
    layers INTEGER NOT NULL,
    model_config TEXT NOT NULL,            -- JSON of ModelConfig
    train_config TEXT NOT NULL,            -- JSON of TrainConfig
    device TEXT NOT NULL,
    threads INTEGER NOT NULL,
    precision TEXT NOT NULL,
    parameters INTEGER NOT NULL,
    vocab_size INTEGER NOT NULL,
    start_epoch INTEGER NOT NULL,          -- epochs the model had before this run (resumed)
    planned_epochs INTEGER NOT NULL,
    epochs INTEGER NOT NULL DEFAULT 0,     -- the last finished epoch
    best_val_ppl REAL,
    last_val_ppl REAL,
    last_train_loss REAL,
    elapsed_s REAL NOT NULL DEFAULT 0,     -- training time over the model's life
    best_checkpoint TEXT,
    best_stamp TEXT,                       -- size:mtime_ns when written, to spot a replaced file
    last_checkpoint TEXT,
    last_stamp TEXT,
    resumed_from TEXT,
    parent_id INTEGER                      -- the run whose checkpoint this one continued
);
CREATE INDEX runs_by_status ON runs (status);
CREATE INDEX runs_by_rev ON runs (rev);
CREATE INDEX runs_by_corpus ON runs (corpus_name);
CREATE TABLE epochs (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    train_loss REAL NOT NULL,
    val_loss REAL,
    val_ppl REAL,
    tokens_per_s REAL NOT NULL,
    elapsed_s REAL NOT NULL,
    lr REAL NOT NULL,
    is_best INTEGER NOT NULL,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;
CREATE TABLE removed (run_id INTEGER PRIMARY KEY, rev INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (key, value) VALUES ('rev', 0);
"""


def _create_v1(db: sqlite3.Connection) -> None:
    for statement in _V1.split(";"):
        if statement.strip():
            db.execute(statement)


def _add_song_memory_v2(db: sqlite3.Connection) -> None:
    """Song memory's validation perplexity beside the plain one, per epoch (NULL when off)."""
    db.execute("ALTER TABLE epochs ADD COLUMN cache_val_ppl REAL")


# MIGRATIONS[i] takes a database at version i to version i + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_create_v1, _add_song_memory_v2]


def schema_version() -> int:
    return len(MIGRATIONS)


class NewerSchema(Exception):
    """The file was written by a newer lyrics-tui."""


class ForeignDatabase(Exception):
    """The file is some other program's SQLite database."""


def migrate(db: sqlite3.Connection) -> int:
    """Bring `db` (in autocommit mode) to the latest version; returns the version it was at."""
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found == len(MIGRATIONS):
        _check_ours(db)
        return found
    if found > len(MIGRATIONS):
        raise NewerSchema(f"schema version {found}; this lyrics-tui knows up to {len(MIGRATIONS)}")
    db.execute("BEGIN IMMEDIATE")
    try:
        found = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
        if found == 0:
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise ForeignDatabase("it holds tables of another program")
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        else:
            _check_ours(db)
        for step in MIGRATIONS[found:]:
            step(db)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found


def _check_ours(db: sqlite3.Connection) -> None:
    if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        raise ForeignDatabase("it is another program's SQLite database")


# -- the rows as records -------------------------------------------------------------------
SORT_KEYS = {
    "id": "id",
    "started": "started_at",
    "corpus": "corpus_name",
    "preset": "preset",
    "cell": "cell",
    "size": "parameters",
    "epochs": "epochs",
    "best_val_ppl": "best_val_ppl",
    "time": "elapsed_s",
    "status": "status",
}

SUMMARY_FIELDS = [f.name for f in fields(RunSummary)]
DETAIL_FIELDS = [f.name for f in fields(RunDetail)][len(SUMMARY_FIELDS) :]
_COLUMN = {"pid_start": "proc_start"}  # field -> column where they differ
SUMMARY_SQL = ", ".join(SUMMARY_FIELDS)
DETAIL_SQL = ", ".join([*SUMMARY_FIELDS, *(_COLUMN.get(n, n) for n in DETAIL_FIELDS)])
# The epochs table's columns (but run_id and recorded_at) are EpochRecord's fields, in order.
EPOCH_COLUMNS = ", ".join(f.name for f in fields(EpochRecord))
EPOCH_MARKS = ", ".join("?" for _ in fields(EpochRecord))


def summary_from_row(row: Sequence[Any]) -> RunSummary:
    return RunSummary(*row)


def epoch_from_row(row: Sequence[Any]) -> EpochRecord:
    return EpochRecord.from_row(row)


def epoch_values(record: EpochRecord) -> tuple[Any, ...]:
    """A record's values in EPOCH_COLUMNS' order (booleans as the integers SQLite keeps)."""
    return tuple(
        int(value) if isinstance(value, bool) else value
        for value in (getattr(record, f.name) for f in fields(EpochRecord))
    )
