"""`lyrics-tui runs`, `runs show`, `runs compare`, `runs rm`: JSON shapes, tables, bad ids; and
`train` recording its runs, or warning once and training on when the store cannot be used."""

from __future__ import annotations

import json
import sqlite3

import pytest

from lyrics_tui.core.runs.store import RunStore
from lyrics_tui.tui.cli import main
from tests.helpers import epoch_record, run_start, train_cli

LIST_KEYS = {"id", "status", "started", "corpus", "preset", "cell", "epochs", "best_val_ppl"}
LIST_KEYS |= {"checkpoint"}


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, out, err):
    assert code == 2, (code, err)
    assert "Traceback" not in err and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lyrics-tui"), err
    return lines[0]


@pytest.fixture
def corpus_file(tmp_path, small_lines):
    path = tmp_path / "small.txt"
    path.write_text("\n".join(small_lines[:120]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def filled(_runs_db, tmp_path):
    """Three finished runs on two corpora, written through the store."""
    ids = []
    with RunStore(_runs_db) as store:
        for corpus, cell, lr, ppl in (
            ("/x/lyrics.txt", "lstm", 0.01, 60.0),
            ("/x/lyrics.txt", "gru", 0.01, 45.0),
            ("/y/other.txt", "lstm", 0.003, 80.0),
        ):
            run_id = store.start_run(
                run_start(corpus=corpus, model={"cell": cell}, train={"lr": lr})
            )
            for epoch in (1, 2):
                store.record_epoch(run_id, epoch_record(epoch, ppl + 10 * (2 - epoch)))
            best = tmp_path / f"run{run_id}.pt"
            best.write_bytes(b"weights")
            store.record_checkpoint(run_id, "best", str(best))
            store.finish_run(run_id, "completed", reason="completed")
            ids.append(run_id)
    return ids


def test_train_records_its_run_and_runs_lists_it(capsys, tmp_path, corpus_file, _runs_db):
    out_path = tmp_path / "m.pt"
    code, out, err = train_cli(capsys, corpus_file, out_path, epochs=2)
    assert code == 0, err
    assert err == ""
    done = json.loads(out.splitlines()[-1])
    code, out, err = cli(capsys, "runs", "--json")
    assert code == 0 and err == ""
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row.keys() >= LIST_KEYS
    assert row["status"] == "completed" and row["epochs"] == 2
    assert row["corpus"] == str(corpus_file) and row["preset"] == "default"
    assert row["cell"] == "gru" and row["checkpoint"] == done["checkpoint"]
    assert row["best_val_ppl"] == pytest.approx(done["best_val_ppl"])
    code, out, _ = cli(capsys, "runs", "show", row["id"], "--json")
    assert len(out.strip().splitlines()) == 1  # one object
    shown = json.loads(out)
    assert [e["epoch"] for e in shown["epochs"]] == [1, 2]
    assert shown["run"]["train_config"]["batch_size"] == 8
    assert shown["run"]["corpus_lines"] == 120


def test_runs_db_flag_before_or_after_the_command(capsys, tmp_path, filled, _runs_db):
    other = tmp_path / "elsewhere.sqlite3"
    with RunStore(other) as store:
        store.finish_run(store.start_run(run_start()), "completed")
    for argv in (
        ("--runs-db", other, "runs", "--json"),
        ("runs", "--runs-db", other, "--json"),
    ):
        code, out, _ = cli(capsys, *argv)
        assert code == 0 and len(out.splitlines()) == 1
    code, out, _ = cli(capsys, "runs", "--json")  # the variable's store: three runs
    assert len(out.splitlines()) == 3


def test_limit_counts_runs_and_0_lists_them_all(capsys, filled):
    def listed(*argv):
        code, out, _ = cli(capsys, "runs", "--json", *argv)
        assert code == 0
        return len(out.splitlines())

    assert (listed("--limit", "2"), listed("--limit", "0"), listed()) == (2, 3, 3)


def test_runs_lists_newest_first_filters_by_corpus_and_sorts(capsys, filled):
    code, out, _ = cli(capsys, "runs", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == filled[::-1]
    assert all(r.keys() >= LIST_KEYS for r in rows)
    code, out, _ = cli(capsys, "runs", "--json", "--corpus", "lyrics")
    assert [json.loads(line)["id"] for line in out.splitlines()] == filled[1::-1]
    code, out, _ = cli(capsys, "runs", "--json", "--sort", "best_val_ppl", "--ascending")
    assert [json.loads(line)["best_val_ppl"] for line in out.splitlines()] == [45.0, 60.0, 80.0]
    code, out, err = cli(capsys, "runs")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split()[:3] == ["id", "started", "corpus"]
    assert len(lines) == 3 and "completed" in lines[0] and "45.0" in lines[1]
    code, out, err = cli(capsys, "runs", "--corpus", "nothing-like-it")
    assert code == 0 and out == "" and "no runs recorded on nothing-like-it" in err


def test_runs_on_a_store_not_made_yet_is_empty_not_an_error(capsys, tmp_path):
    missing = tmp_path / "none.sqlite3"
    code, out, err = cli(capsys, "runs", "--json", "--runs-db", missing)
    assert (code, out, err) == (0, "", "")
    code, out, err = cli(capsys, "runs", "--runs-db", missing)
    assert code == 0 and "no runs recorded yet" in err
    assert not missing.exists()
    one_line_error(*cli(capsys, "runs", "show", "1", "--runs-db", missing))


def test_show_prints_settings_and_the_epoch_table(capsys, filled):
    code, out, err = cli(capsys, "runs", "show", filled[1])
    assert code == 0, err
    assert out.startswith(f"run {filled[1]} · completed")
    assert "cell=gru" in out and "/x/lyrics.txt" in out
    table = out[out.index("epoch  ") :].splitlines()
    assert len(table) == 3 and table[2].split()[:4] == ["2", "4.000", "3.807", "45.0"]


def test_compare_shows_only_what_differs_and_the_final_figures(capsys, filled):
    code, out, err = cli(capsys, "runs", "compare", *filled, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["ids"] == filled
    assert set(result["settings"]) == {"corpus", "cell", "lr"}
    assert result["settings"]["cell"] == ["lstm", "gru", "lstm"]
    assert [f["best_val_ppl"] for f in result["figures"]] == [60.0, 45.0, 80.0]
    code, out, err = cli(capsys, "runs", "compare", filled[0], filled[1])
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert rows["cell"] == ["lstm", "gru"] and "lr" not in rows and "corpus" not in rows
    assert rows["best"][-2:] == ["60.0", "45.0"]


def test_rm_forgets_the_run_and_keeps_its_files_unless_asked(capsys, filled, tmp_path):
    code, out, err = cli(capsys, "runs", "rm", filled[0])
    assert code == 0, err
    assert f"removed run {filled[0]}" in out and "--files deletes it" in out
    assert (tmp_path / f"run{filled[0]}.pt").exists()
    code, out, err = cli(capsys, "runs", "rm", filled[1], "--files")
    assert code == 0 and f"deleted {tmp_path / f'run{filled[1]}.pt'}" in out
    assert not (tmp_path / f"run{filled[1]}.pt").exists()
    code, out, _ = cli(capsys, "runs", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [filled[2]]


@pytest.mark.parametrize(
    "argv",
    [
        ("runs", "show", "999"),
        ("runs", "show", "abc"),
        ("runs", "compare", "1"),
        ("runs", "compare", "1", "999"),
        ("runs", "rm", "999"),
        ("runs", "rm", "1", "999"),  # nothing is deleted when one id is wrong
        ("runs", "--sort", "colour"),
        ("runs", "--limit", "-1"),
    ],
)
def test_bad_ids_and_arguments_are_one_line_and_exit_2(capsys, filled, argv):
    line = one_line_error(*cli(capsys, *argv))
    if "999" in argv:
        assert "no run 999" in line
    _code, out, _ = cli(capsys, "runs", "--json")
    assert len(out.splitlines()) == 3


def test_a_corrupt_store_is_one_line_for_readers(capsys, tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 300)
    line = one_line_error(*cli(capsys, "runs", "--runs-db", bad))
    assert str(bad) in line


@pytest.mark.parametrize("problem", ["corrupt", "locked", "unwritable"])
def test_train_warns_once_and_trains_when_the_store_cannot_be_used(
    capsys, tmp_path, corpus_file, monkeypatch, problem
):
    db = tmp_path / "runs.sqlite3"
    holder = None
    if problem == "corrupt":
        db.write_bytes(b"\x00garbage" * 1000)
    elif problem == "locked":  # another connection holds an exclusive lock for good
        monkeypatch.setattr("lyrics_tui.core.runs.store.BUSY_TIMEOUT_S", 0.2)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("CREATE TABLE x (y)")
    else:
        (tmp_path / "file").write_text("x")
        db = tmp_path / "file" / "runs.sqlite3"
    out_path = tmp_path / "m.pt"
    try:
        code, out, err = train_cli(capsys, corpus_file, out_path, "--runs-db", db)
    finally:
        if holder is not None:
            holder.close()
    assert code == 0, err
    assert out_path.exists()
    assert json.loads(out.splitlines()[-1])["reason"] == "completed"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lyrics-tui: warning: runs database"), err
    assert "training goes on without recording it" in lines[0]
    # generation never needs the store
    monkeypatch.setenv("LYRICS_TUI_RUNS_DB", str(db))
    code, out, err = cli(
        capsys, "generate", "--checkpoint", out_path, "--json", "--length", 5, "--cache", "off"
    )
    assert code == 0 and err == ""


def test_the_runs_table_fits_80_columns_by_shortening_on_purpose(capsys, monkeypatch, _runs_db):
    """At 80 columns nothing ends in "…" and nothing is cut: shorter headers, statuses and
    model names, the params column left out, a long corpus name wrapped."""
    with RunStore(_runs_db) as store:
        for corpus, reason in (
            ("/x/jaychou_lyrics_from_the_tutorial.txt", "time budget"),
            ("/y/songci.txt", "completed"),
        ):
            model = {"cell": "gru", "embed": 512, "hidden": 512}
            start = run_start(corpus, model, parameters=3_320_000, train={"epochs": 10_000})
            run_id = store.start_run(start)
            for epoch in range(1, 57):
                store.record_epoch(run_id, epoch_record(epoch, 295.3 - epoch))
            store.finish_run(run_id, "completed", reason=reason)
    for width in (80, 120):
        monkeypatch.setenv("COLUMNS", str(width))
        code, out, _ = cli(capsys, "runs")
        assert code == 0
        lines = out.splitlines()
        assert all(len(line) <= width and "…" not in line for line in lines), out
        headers = lines[0].split()
        assert {"id", "started", "corpus", "model", "epochs", "time", "status"} <= set(headers)
        assert "completed (budget)" in out or "completed (time budget)" in out
        assert "jaychou" in out and "songci.txt" in out
    assert "ppl" in lines[0] and "params" in lines[0]  # 120 columns: all of it


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "show", "99999999999999999999"],  # more than SQLite's integers hold
        ["runs", "compare", "1", "9223372036854775808"],
        ["runs", "rm", "0"],
        ["runs", "show", "abc"],
        ["runs", "--limit", "99999999999999999999"],
    ],
)
def test_a_run_number_no_store_can_hold_is_one_line(capsys, filled, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "from " in err and "Traceback" not in err
