"""The run store (core/runs/store.py): writing and reading runs, sorting and filtering, polling for
changes, telling dead writers from live ones, deleting, comparing, and every way the file itself
can fail (corrupt, locked, unwritable, foreign, newer) as one RunStoreError line."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from lyrics_tui.core.errors import RunStoreError
from lyrics_tui.core.runs import compare as C
from lyrics_tui.core.runs import liveness as V
from lyrics_tui.core.runs import location as P
from lyrics_tui.core.runs import records as D
from lyrics_tui.core.runs import schema as S
from lyrics_tui.core.runs import store as R
from lyrics_tui.core.runs.schema import APPLICATION_ID, schema_version
from tests.helpers import dead_pid, epoch_record, run_start


@pytest.fixture
def store(tmp_path):
    with R.RunStore(tmp_path / "runs.sqlite3") as s:
        yield s


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_a_new_store_is_wal_versioned_ours_and_sound(tmp_path):
    path = tmp_path / "deep" / "folder" / "runs.sqlite3"
    R.RunStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema_version() >= 1
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_path_comes_from_the_flag_then_the_variable_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("LYRICS_TUI_RUNS_DB", str(tmp_path / "env.sqlite3"))
    assert P.runs_db_path(tmp_path / "flag.sqlite3") == tmp_path / "flag.sqlite3"
    assert P.runs_db_path() == tmp_path / "env.sqlite3"
    monkeypatch.delenv("LYRICS_TUI_RUNS_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert P.runs_db_path() == tmp_path / "xdg" / "lyrics-tui" / "runs.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "share" / "lyrics-tui" / "runs.sqlite3"
    assert P.runs_db_path() == expected


def test_a_run_is_written_and_read_back_whole(store, tmp_path):
    best, last = tmp_path / "m.pt", tmp_path / "m-last.pt"
    run_id = store.start_run(run_start(val_file="val.txt"), now=1000.0)
    running = store.get_run(run_id)
    assert running.status == "running" and running.pid == os.getpid() and running.epochs == 0
    for epoch, ppl in ((1, 80.0), (2, 60.0), (3, 65.0)):
        store.record_epoch(run_id, epoch_record(epoch, ppl, is_best=ppl == 60.0))
    best.write_bytes(b"best")
    store.record_checkpoint(run_id, "best", str(best))
    last.write_bytes(b"last")
    store.record_checkpoint(run_id, "last", str(last))
    store.finish_run(run_id, "completed", reason="completed", now=2000.0)

    run = store.get_run(run_id)
    assert (run.status, run.reason, run.started_at, run.ended_at) == (
        "completed",
        "completed",
        1000.0,
        2000.0,
    )
    assert (run.epochs, run.best_val_ppl, run.last_val_ppl) == (3, 60.0, 65.0)
    assert run.checkpoint == str(best) and run.last_checkpoint == str(last)
    assert D.checkpoint_state(run.best_checkpoint, run.best_stamp) == "ok"
    assert run.corpus == "/data/lyrics.txt" and run.corpus_name == "lyrics.txt"
    assert run.model_config["hidden"] == 16 and run.train_config["batch_size"] == 8
    assert run.val_file == os.path.abspath("val.txt")
    assert [e.epoch for e in store.epochs(run_id)] == [1, 2, 3]
    assert store.epochs(run_id)[1] == epoch_record(2, 60.0, is_best=True)
    assert run.to_json()["checkpoint"] == str(best)
    best.write_bytes(b"another run's model")
    assert D.checkpoint_state(run.best_checkpoint, run.best_stamp) == "replaced"


def test_the_epochs_table_is_an_epoch_records_fields_and_keeps_its_columns(store):
    columns = [row[1] for row in store.db.execute("PRAGMA table_info(epochs)")]
    # the schema as every store since version 2 has it (stores made before must keep opening)
    assert columns == [
        "run_id",
        "epoch",
        "train_loss",
        "val_loss",
        "val_ppl",
        "tokens_per_s",
        "elapsed_s",
        "lr",
        "is_best",
        "recorded_at",
        "cache_val_ppl",
    ]
    assert S.EPOCH_COLUMNS.split(", ") == [c for c in columns if c not in ("run_id", "recorded_at")]
    run_id = store.start_run(run_start())
    record = epoch_record(1, 40.0, is_best=True, cache_val_ppl=30.0)
    store.record_epoch(run_id, record)
    (stored,) = store.epochs(run_id)
    assert stored == record and stored.is_best is True
    assert store.db.execute("SELECT is_best FROM epochs").fetchone()[0] == 1


def test_the_model_best_of_a_resumed_run_counts_at_the_end(store):
    run_id = store.start_run(run_start(start_epoch=5))
    store.record_epoch(run_id, epoch_record(6, 40.0))
    store.finish_run(run_id, "stopped", best_val_ppl=30.0)  # epoch 4 of the model was better
    assert store.get_run(run_id).best_val_ppl == 30.0
    no_val = store.start_run(run_start())
    store.record_epoch(no_val, epoch_record(1, None))
    store.finish_run(no_val, "completed", best_val_ppl=55.0)  # exp(train loss): not validation
    assert store.get_run(no_val).best_val_ppl is None


def test_listing_sorts_filters_and_puts_runs_without_a_value_last(store):
    ids = {}
    for name, ppl, start in (
        ("/a/lyrics.txt", 50.0, 1.0),
        ("/b/songs_v2.txt", 30.0, 2.0),
        ("/a/lyrics.txt", None, 3.0),
        ("/c/lyrics.md", 70.0, 4.0),
    ):
        run_id = store.start_run(run_start(corpus=name), now=start)
        if ppl is not None:
            store.record_epoch(run_id, epoch_record(1, ppl))
        ids[start] = run_id
    assert [r.id for r in store.list_runs()] == [ids[4.0], ids[3.0], ids[2.0], ids[1.0]]
    assert [r.started_at for r in store.list_runs(descending=False)] == [1.0, 2.0, 3.0, 4.0]
    by_ppl = store.list_runs(sort="best_val_ppl", descending=False)
    assert [r.best_val_ppl for r in by_ppl] == [30.0, 50.0, 70.0, None]
    by_ppl_desc = store.list_runs(sort="best_val_ppl")
    assert [r.best_val_ppl for r in by_ppl_desc] == [70.0, 50.0, 30.0, None]
    assert {r.corpus for r in store.list_runs(corpus="lyrics.txt")} == {"/a/lyrics.txt"}
    assert len(store.list_runs(corpus="lyrics")) == 3  # a stem matches any extension
    assert len(store.list_runs(corpus="songs_v2")) == 1
    assert len(store.list_runs(corpus="songs%v2")) == 0  # no wildcards from the user
    assert len(store.list_runs(corpus="/c/lyrics.md")) == 1
    assert len(store.list_runs(limit=2)) == 2
    assert store.corpora() == [("lyrics.md", 1), ("lyrics.txt", 2), ("songs_v2.txt", 1)]
    with pytest.raises(RunStoreError):
        store.list_runs(sort="nonsense")
    for key in S.SORT_KEYS:
        assert len(store.list_runs(sort=key)) == 4


def test_epoch_series_of_several_runs_and_only_the_new_epochs(store):
    a, b, c = (store.start_run(run_start()) for _ in range(3))
    for epoch in (1, 2, 3):
        store.record_epoch(a, epoch_record(epoch, 100.0 - epoch))
    store.record_epoch(b, epoch_record(1, 90.0))
    series = store.epoch_series([a, b, c])
    assert [e.epoch for e in series[a]] == [1, 2, 3] and len(series[b]) == 1 and series[c] == []
    newer = store.epoch_series([a, b], after={a: 2, b: 1})
    assert [e.epoch for e in newer[a]] == [3] and newer[b] == []
    assert store.epoch_series([]) == {}


def test_polling_sees_new_updated_and_removed_runs_from_another_connection(store, tmp_path):
    start = store.changes_since(0)
    assert start.changed == [] and start.removed == []
    version = store.data_version()
    with R.RunStore(store.path) as writer:  # another process, as far as SQLite can tell
        a = writer.start_run(run_start())
        b = writer.start_run(run_start())
    assert store.data_version() != version
    first = store.changes_since(start.rev)
    assert [r.id for r in first.changed] == [a, b] and first.rev > start.rev
    assert store.changes_since(first.rev).changed == []  # nothing since
    with R.RunStore(store.path) as writer:
        writer.record_epoch(a, epoch_record(1, 42.0))
        writer.finish_run(b, "stopped")
        writer.delete_run(b)
    second = store.changes_since(first.rev)
    assert [(r.id, r.epochs) for r in second.changed] == [(a, 1)]
    assert second.removed == [b]
    beat = store.revision()
    store.heartbeat(a)  # a heartbeat changes nothing a view shows
    assert store.revision() == beat


def test_a_run_whose_writer_died_is_marked_interrupted_on_open(tmp_path):
    path = tmp_path / "runs.sqlite3"
    with R.RunStore(path) as store:
        alive = store.start_run(run_start())
        dead = store.start_run(run_start(), now=1234.0)
        reused = store.start_run(run_start())
        foreign_old = store.start_run(run_start())
        foreign_new = store.start_run(run_start())
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET pid = ? WHERE id = ?", (dead_pid(), dead))
    db.execute("UPDATE runs SET proc_start = 'not-this-one' WHERE id = ?", (reused,))
    db.execute("UPDATE runs SET host = 'elsewhere', heartbeat_at = 0 WHERE id = ?", (foreign_old,))
    db.execute("UPDATE runs SET host = 'elsewhere' WHERE id = ?", (foreign_new,))
    db.commit()
    db.close()
    with R.RunStore(path) as store:
        status = {r.id: r.status for r in store.list_runs()}
        gone = store.get_run(dead)
    if V.process_start(os.getpid()) is None:  # no /proc: pid reuse cannot be told
        status[reused] = "interrupted"
    assert status == {
        alive: "running",  # this process: alive
        dead: "interrupted",
        reused: "interrupted",  # same pid, another process
        foreign_old: "interrupted",
        foreign_new: "running",
    }
    assert gone.ended_at == 1234.0 and "ended without finishing" in gone.message


def test_migrations_bring_an_old_store_up_to_date_and_keep_its_runs(tmp_path, monkeypatch):
    from lyrics_tui.core.runs import schema as runs_schema

    path = tmp_path / "runs.sqlite3"
    with R.RunStore(path) as store:
        run_id = store.start_run(run_start())
        store.record_epoch(run_id, epoch_record(1, 40.0))

    def add_notes(db):
        db.execute("ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(runs_schema, "MIGRATIONS", [*runs_schema.MIGRATIONS, add_notes])
    with R.RunStore(path) as store:
        assert store.get_run(run_id).best_val_ppl == 40.0
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == schema_version()
        assert store.db.execute("SELECT notes FROM runs").fetchone()[0] == ""
    monkeypatch.undo()
    with pytest.raises(RunStoreError) as newer:  # this lyrics-tui is the older one now
        R.RunStore(path)
    assert "newer lyrics-tui" in one_line(newer)


def test_a_version_1_store_gains_song_memory_per_epoch(tmp_path, monkeypatch):
    """The real second migration: a store written before song memory keeps its epochs (with
    no memory figure) and records the figure from then on."""
    from lyrics_tui.core.runs import schema as runs_schema

    path = tmp_path / "runs.sqlite3"
    monkeypatch.setattr(runs_schema, "MIGRATIONS", runs_schema.MIGRATIONS[:1])
    old = sqlite3.connect(path, isolation_level=None)
    runs_schema.migrate(old)
    old.execute(
        "INSERT INTO epochs VALUES (7, 1, 4.0, 3.9, 49.4, 9000.0, 6.0, 0.003, 1, 0.0)"
    )  # an epoch as version 1 stored it
    old.close()
    monkeypatch.undo()
    with R.RunStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == schema_version() >= 2
        assert store.epochs(7)[0].val_ppl == 49.4 and store.epochs(7)[0].cache_val_ppl is None
        run_id = store.start_run(run_start())
        store.record_epoch(run_id, epoch_record(1, 40.0, cache_val_ppl=21.5))
        assert store.epochs(run_id)[0].cache_val_ppl == 21.5


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    from lyrics_tui.core.runs import schema as runs_schema

    path = tmp_path / "runs.sqlite3"

    def broken(db):
        db.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(runs_schema, "MIGRATIONS", [*runs_schema.MIGRATIONS, broken])
    with pytest.raises(RunStoreError):
        R.RunStore(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_two_stores_created_at_once_migrate_once(tmp_path):
    path = tmp_path / "runs.sqlite3"
    errors: list[BaseException] = []

    def open_and_write():
        try:
            with R.RunStore(path) as s:
                s.start_run(run_start())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with R.RunStore(path) as store:
        assert len(store.list_runs()) == 4


def _open_at_once(path: str, barrier, answers) -> None:
    barrier.wait()
    try:
        with R.RunStore(path):
            answers.put("")
    except Exception as exc:  # reported to the test, which names it
        answers.put(str(exc))


@pytest.mark.processes
def test_processes_creating_the_store_at_the_same_moment_all_open_it(tmp_path):
    # Threads share one process's file locks, so only processes show this: SQLite answers
    # "locked" at once to the switch to WAL mode while another process is creating the file
    # (one round in three failed before the store retried).
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    for round_ in range(8):
        path = str(tmp_path / f"runs-{round_}.sqlite3")
        barrier, answers = ctx.Barrier(4), ctx.Queue()
        workers = [ctx.Process(target=_open_at_once, args=(path, barrier, answers)) for _ in "abcd"]
        for worker in workers:
            worker.start()
        said = [answers.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(60)
        assert said == [""] * 4, said


def test_another_programs_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "other.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(RunStoreError) as err:
        R.RunStore(path)
    assert "not a lyrics-tui runs database" in one_line(err)
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["contacts"]


def test_a_corrupt_file_is_one_line(tmp_path):
    path = tmp_path / "runs.sqlite3"
    path.write_bytes(b"this is not SQLite at all\n" * 200)
    with pytest.raises(RunStoreError) as err:
        R.RunStore(path)
    assert str(path) in one_line(err) and "not a database" in one_line(err)


def test_a_store_with_damaged_pages_fails_as_one_line(tmp_path):
    path = tmp_path / "runs.sqlite3"
    with R.RunStore(path) as store:
        for _ in range(30):
            run_id = store.start_run(run_start())
            for epoch in range(1, 20):
                store.record_epoch(run_id, epoch_record(epoch))
    size = path.stat().st_size
    with open(path, "r+b") as handle:  # keep the header, scribble over every page after it
        handle.seek(4096)
        handle.write(b"\xa5" * (size - 4096))
    with pytest.raises(RunStoreError) as err:
        with R.RunStore(path) as store:
            store.list_runs()
            store.epoch_series(range(1, 31))
            store.start_run(run_start())
    one_line(err)


def test_a_locked_store_still_reads_but_a_write_gives_up_after_the_timeout(tmp_path):
    path = tmp_path / "runs.sqlite3"
    with R.RunStore(path) as store:
        run_id = store.start_run(run_start())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with R.RunStore(path, timeout=0.1) as store:
            assert [r.id for r in store.list_runs()] == [run_id]
            with pytest.raises(RunStoreError) as err:
                store.record_epoch(run_id, epoch_record(1))
            assert "locked" in one_line(err)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_an_exclusively_locked_rollback_journal_store_cannot_even_be_opened(tmp_path):
    path = tmp_path / "runs.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("CREATE TABLE x (y)")  # takes and keeps the exclusive lock
    try:
        with pytest.raises(RunStoreError) as err:
            R.RunStore(path, timeout=0.1)
        assert "locked" in one_line(err)
    finally:
        holder.close()


def test_an_unwritable_place_is_one_line(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(RunStoreError) as err:
        R.RunStore(a_file / "runs.sqlite3")  # its folder would be a file
    assert "cannot create its folder" in one_line(err)
    with pytest.raises(RunStoreError) as err:
        R.RunStore(tmp_path)  # a folder, not a file
    one_line(err)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_store_still_lists_but_cannot_record(tmp_path):
    path = tmp_path / "runs.sqlite3"
    with R.RunStore(path) as store:
        run_id = store.start_run(run_start())
    os.chmod(path, 0o444)
    try:
        with R.RunStore(path) as store:
            assert [r.id for r in store.list_runs()] == [run_id]
            with pytest.raises(RunStoreError) as err:
                store.record_epoch(run_id, epoch_record(1))
            one_line(err)
    except RunStoreError as err:  # some SQLite builds refuse a read-only WAL file outright
        assert "\n" not in str(err)
    finally:
        os.chmod(path, 0o644)


def test_a_missing_store_is_not_created_by_a_reader(tmp_path):
    path = tmp_path / "none.sqlite3"
    with pytest.raises(RunStoreError):
        R.RunStore(path, create=False)
    assert not path.exists()


def test_deleting_a_run_keeps_files_unless_asked_and_never_anothers(store, tmp_path):
    shared, own, changed = tmp_path / "shared.pt", tmp_path / "own.pt", tmp_path / "changed.pt"
    for f in (shared, own, changed):
        f.write_bytes(b"weights")
    first = store.start_run(run_start())
    store.record_checkpoint(first, "best", str(own))
    store.record_checkpoint(first, "last", str(shared))
    store.finish_run(first, "completed")
    later = store.start_run(run_start(resumed_from=str(shared)))  # continued the same files
    store.record_checkpoint(later, "last", str(shared))
    store.finish_run(later, "completed")
    assert store.get_run(later).parent_id == first

    done = store.delete_run(first, files=True)
    assert done.removed_files == [str(own)] and not own.exists()
    assert done.kept_files == [(str(shared), f"run {later} uses it too")] and shared.exists()
    with pytest.raises(RunStoreError):
        store.get_run(first)

    third = store.start_run(run_start())
    store.record_checkpoint(third, "best", str(changed))
    store.finish_run(third, "completed")
    changed.write_bytes(b"rewritten by someone else")
    done = store.delete_run(third, files=True)
    assert done.kept_files == [(str(changed), "changed since this run wrote it")]
    assert changed.exists()

    plain = store.delete_run(later)  # without files: the record only
    assert plain.removed_files == [] and shared.exists()
    assert store.list_runs() == []


def test_a_run_still_training_cannot_be_deleted(store):
    run_id = store.start_run(run_start())  # written by this very process, alive
    with pytest.raises(RunStoreError) as err:
        store.delete_run(run_id)
    assert "still training" in one_line(err)


def test_compare_lines_up_only_the_settings_that_differ(store):
    a = store.start_run(run_start(train={"lr": 0.01}))
    b = store.start_run(run_start(model={"cell": "gru"}, train={"lr": 0.003}))
    for run_id, ppl in ((a, 60.0), (b, 45.0)):
        store.record_epoch(run_id, epoch_record(1, ppl))
        store.finish_run(run_id, "completed")
    result = C.compare_runs(store, [a, b])
    assert result.ids == [a, b]
    assert result.settings == {"cell": ["lstm", "gru"], "lr": [0.01, 0.003]}
    assert [f["best_val_ppl"] for f in result.figures] == [60.0, 45.0]
    assert result.figures[0].keys() >= {"epochs", "final_val_ppl", "tokens_per_s", "elapsed_s"}


def test_sort_runs_orders_held_runs_as_list_runs_does(store):
    """The Runs screen sorts the runs it holds in Python: the same order as the SQL."""
    for n, (corpus, cell, ppl) in enumerate(
        [
            ("/a/lyrics.txt", "gru", 50.0),
            ("/b/songci.txt", "lstm", None),
            ("/a/lyrics.txt", "rnn", 50.0),
            ("/c/中文.txt", "gru", 20.0),
            ("/b/songci.txt", "gru", 90.0),
        ]
    ):
        run_id = store.start_run(
            run_start(corpus, model={"cell": cell}, parameters=1000 * (n % 3)), now=100.0 - n
        )
        if ppl is not None:
            store.record_epoch(run_id, epoch_record(1 + n % 2, ppl, elapsed_s=float(n % 2)))
    held = store.list_runs()
    for key in S.SORT_KEYS:
        for descending in (True, False):
            expected = [r.id for r in store.list_runs(sort=key, descending=descending)]
            assert [r.id for r in C.sort_runs(held, key, descending)] == expected, (key, descending)
