"""The run store at scale: 1,000 runs of 50 epochs each.

    python bench/runs.py [--runs 1000] [--epochs 50] [--repeat 7] [--screen 3] [--keep PATH]

Fills a fresh store through its own API (start_run, record_epoch, record_checkpoint,
finish_run: the recorder's writes, one transaction each), then times
- `lyrics-tui runs --json` end to end, as a subprocess (goal: <= 1 s),
- `lyrics-tui runs` (the rich table) end to end,
- the core queries the Runs screen uses: opening the store, list_runs() of every run (the
  screen must open in <= 200 ms), a poll with nothing new (changes_since, data_version), and the
  epochs of five runs to overlay (epoch_series),
- the recorder's cost per epoch (one record_epoch transaction),
- the playground's Runs screen: from writing "u" to the app's pseudo-terminal (80x24, as
  bench/tui_bench.py runs it) until the screen with the table of every run has been written
  back (its head line says "1,000 recorded", drawn in the same frame as the rows); the first
  open in a new process (the screen's code imported, the store opened, every run listed in the
  runs controller's thread) and the opens after it (Esc, then u again), --screen processes.
Medians of --repeat runs (the in-process queries: of 30).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import LYRICS_TUI, ROOT, machine, median

from lyrics_tui.core.config import ModelConfig, TrainConfig
from lyrics_tui.core.runs.records import EpochRecord, RunStart
from lyrics_tui.core.runs.store import RunStore

CELLS = ("rnn", "gru", "lstm")
CORPORA = ("/data/lyrics.txt", "/data/jaychou_lyrics.txt", "/data/other.txt")


def fill(path: Path, runs: int, epochs: int) -> tuple[float, list[float]]:
    """Write the synthetic runs; returns the seconds it took and each record_epoch's seconds."""
    rng = random.Random(0)
    epoch_costs: list[float] = []
    start_all = time.perf_counter()
    with RunStore(path) as store:
        for n in range(runs):
            cell = CELLS[n % 3]
            model = ModelConfig(cell=cell, embed=256, hidden=rng.choice((128, 256, 384)))
            train = TrainConfig(epochs=epochs, lr=rng.choice((1e-3, 3e-3, 1e-2)))
            started = time.time() - (runs - n) * 600
            run_id = store.start_run(
                RunStart(
                    corpus=CORPORA[n % len(CORPORA)],
                    corpus_sha256="0" * 64,
                    corpus_lines=1080,
                    preset="default",
                    model_config=model.to_dict(),
                    train_config=train.to_dict(),
                    device="cpu",
                    threads=2,
                    precision="bf16",
                    parameters=1_000_000 + n,
                    vocab_size=474,
                ),
                now=started,
            )
            ppl = 400.0
            for epoch in range(1, epochs + 1):
                ppl *= rng.uniform(0.9, 1.01)
                record = EpochRecord(epoch, 4.0, 3.9, ppl, 9000.0, epoch * 6.0, 3e-3, True)
                t = time.perf_counter()
                store.record_epoch(run_id, record, now=started + epoch * 6)
                epoch_costs.append(time.perf_counter() - t)
            store.record_checkpoint(run_id, "best", f"/tmp/checkpoints/run{n}.pt")
            store.finish_run(run_id, "completed", reason="completed", now=started + epochs * 6)
    return time.perf_counter() - start_all, epoch_costs


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return median(times)


def cli_time(db: Path, args: list[str], repeat: int, expect_lines: int | None) -> float:
    env = {**os.environ, "LYRICS_TUI_RUNS_DB": str(db), "COLUMNS": "120"}
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run(
            [*LYRICS_TUI, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        times.append(time.perf_counter() - t)
        if expect_lines is not None:
            rows = [json.loads(line) for line in done.stdout.splitlines()]
            assert len(rows) == expect_lines, len(rows)
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", help="write the store here and keep it")
    parser.add_argument(
        "--screen", type=int, default=3, help="playground processes for the Runs screen (0: none)"
    )
    args = parser.parse_args()
    if args.keep:
        if Path(args.keep).exists():
            raise SystemExit(f"{args.keep} exists; give a new path")
        measure(Path(args.keep), args)
        return
    folder = tempfile.mkdtemp(prefix="lyrics-tui-bench-runs-")
    try:
        measure(Path(folder) / "runs.sqlite3", args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(db: Path, args: argparse.Namespace) -> None:
    fill_s, epoch_costs = fill(db, args.runs, args.epochs)
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))

    json_s = cli_time(db, ["runs", "--json"], args.repeat, args.runs)
    table_s = cli_time(db, ["runs"], args.repeat, None)
    start_s = cli_time(db, ["--help"], args.repeat, None)

    def open_and_list():
        with RunStore(db, create=False) as s:
            assert len(s.list_runs()) == args.runs

    with RunStore(db, create=False) as store:
        open_s = timed(lambda: RunStore(db, create=False).close(), 30)
        list_s = timed(store.list_runs, 30)
        open_list_s = timed(open_and_list, 30)
        rev = store.revision()
        poll_s = timed(lambda: store.changes_since(rev), 30)
        version_s = timed(store.data_version, 30)
        ids = [r.id for r in store.list_runs(limit=5)]
        series_s = timed(lambda: store.epoch_series(ids), 30)

    print(f"machine: {machine()} (shared: figures are noisy)")
    print(
        f"store: {args.runs:,} runs x {args.epochs} epochs, {size / 1e6:.1f} MB, "
        f"filled in {fill_s:.1f} s; record_epoch median {median(epoch_costs) * 1000:.2f} ms, "
        f"p99 {sorted(epoch_costs)[int(len(epoch_costs) * 0.99)] * 1000:.2f} ms"
    )
    print(f"lyrics-tui runs --json      {json_s * 1000:7.0f} ms  (goal <= 1000 ms)")
    print(f"lyrics-tui runs (table)     {table_s * 1000:7.0f} ms")
    print(f"lyrics-tui --help (startup) {start_s * 1000:7.0f} ms")
    print(f"open the store              {open_s * 1000:7.1f} ms")
    print(f"list_runs(), all runs       {list_s * 1000:7.1f} ms")
    print(f"open + list_runs()          {open_list_s * 1000:7.1f} ms  (screen goal <= 200 ms)")
    print(f"changes_since(rev), nothing {poll_s * 1000:7.2f} ms")
    print(f"data_version()              {version_s * 1000:7.3f} ms")
    print(f"epoch_series(5 runs)        {series_s * 1000:7.2f} ms")
    if args.screen:
        first, again = screen_open(db, args.runs, args.screen)
        print(
            f"Runs screen, u -> drawn      first open {median(first) * 1000:5.0f} ms "
            f"(each: {', '.join(f'{t * 1000:.0f}' for t in first)}), "
            f"opened again {median(again) * 1000:.0f} ms (max {max(again) * 1000:.0f})  "
            "(goal <= 200 ms)"
        )


def screen_open(db: Path, runs: int, processes: int, again: int = 4) -> tuple[list, list]:
    """Seconds from "u" to the Runs screen drawn with every run, in the real app in a pty."""
    from tui_bench import PtyApp

    marker = f"{runs:,} recorded".encode()
    first, later = [], []
    with tempfile.TemporaryDirectory() as empty:
        for _ in range(processes):
            os.environ["LYRICS_TUI_RUNS_DB"] = str(db)
            app = PtyApp([*LYRICS_TUI, "--checkpoint-dir", empty, "--corpus", "lyrics"])
            if app.wait_for(b"Training", timeout=30) is None:
                raise SystemExit("the playground did not start")
            app.drain(2.5)  # what a person takes to press a key: the deferred parts are done
            for n in range(1 + again):
                start = len(app.buf)
                sent = app.send(b"u")
                drawn = app.wait_for(marker, start, timeout=10)
                if drawn is None:
                    raise SystemExit("the Runs screen did not show the runs")
                (first if n == 0 else later).append(drawn - sent)
                app.drain(0.5)
                app.send(b"\x1b")  # Esc: back to the main screen
                app.drain(0.8)
            app.quit()
    return first, later


if __name__ == "__main__":
    main()
