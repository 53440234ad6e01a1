"""Playground speed goals, measured the way a user meets them: the app runs in a pseudo-terminal.

    python bench/tui_bench.py [--rounds 3] [--epochs 3] [--corpus FILE] [--keys 40]
                              [--only frame,keys,throughput,token] [--threads-compare]

- first frame: from spawning `python -m tui.cli` (what `lyrics-tui` runs) until the first full
  frame is written to the terminal (the "Training" panel title appears in the output);
- key latency while training at full speed: from writing "+" or "-" to the pty until the
  redrawn "temperature X.XX" appears in what the app writes back; p95 over --keys presses;
- throughput: tokens/s of training inside the app (started with "t") against headless
  `lyrics-tui train` with the same settings, alternated, median of the per-round ratios;
- first token: from writing Enter to the pty until the first generated token has been drawn
  (the app logs the moment after that refresh; both sides read the same monotonic clock),
  from a loaded checkpoint and again mid-training from the live weights.

The in-app runs use a thin subclass (`child` mode) that only adds a JSON log of events; the
keys, rendering and training are the real app's. Default corpus: ../shared/data/jaychou_lyrics.txt
when present (longer epochs), else the bundled data/lyrics.txt.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import JAYCHOU, ROOT, machine

BUNDLED = ROOT / "data" / "lyrics.txt"


# -- a pseudo-terminal running the app ---------------------------------------------------------
class PtyApp:
    def __init__(self, argv: list[str], cols: int = 80, rows: int = 24) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLORTERM")}
        env["TERM"] = "xterm-256color"
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child: size the terminal, then become the app
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.chdir(ROOT)
            os.execvpe(argv[0], argv, env)
        self.pid, self.fd = pid, fd
        self.buf = bytearray()
        self.exit_status: int | None = None

    def pump(self, timeout: float) -> bool:
        """Read what is there (waiting up to `timeout`); False once the app has exited."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            if not data:
                return False
            self.buf += data
        return True

    def wait_for(self, pattern: bytes, start: int = 0, timeout: float = 30.0) -> float | None:
        """perf_counter time when `pattern` shows up in the output after offset `start`."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.buf.find(pattern, start) >= 0:
                return time.perf_counter()
            if not self.pump(0.005):
                return None
        return None

    def drain(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            if not self.pump(0.01):
                return

    def send(self, data: bytes) -> float:
        at = time.perf_counter()
        os.write(self.fd, data)
        return at

    def quit(self, timeout: float = 10.0) -> float | None:
        """Send q; seconds until the process has exited (None if it had to be killed).
        Also sets .restored_after: seconds until the terminal was given back."""
        start = len(self.buf)
        sent = self.send(b"q")
        deadline = sent + timeout
        self.restored_after = None
        while time.perf_counter() < deadline:
            self.pump(0.005)
            if self.restored_after is None and self.buf.find(b"\x1b[?1049l", start) >= 0:
                self.restored_after = time.perf_counter() - sent
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_status = status
                self.drain_rest()
                return time.perf_counter() - sent
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return None

    def drain_rest(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.05)
                if not ready:
                    break
                data = os.read(self.fd, 65536)
                if not data:
                    break
                self.buf += data
            except OSError:
                break

    @property
    def restored_terminal(self) -> bool:
        return b"\x1b[?1049l" in self.buf  # left the alternate screen


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


def wait_log(
    app: PtyApp, path: Path, event: str, count: int = 1, timeout: float = 600.0
) -> list[dict] | None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        events = [e for e in read_log(path) if e["event"] == event]
        if len(events) >= count:
            return events
        if not app.pump(0.02):
            return None
    return None


def child_argv(
    log: Path,
    ckdir: Path,
    corpus: Path,
    epochs: int,
    threads: int = 0,
    checkpoint: Path | None = None,
    length: int = 20,
    time_budget: float = 0.0,
) -> list[str]:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "child",
        "--log",
        str(log),
        "--ckdir",
        str(ckdir),
        "--corpus",
        str(corpus),
        "--epochs",
        str(epochs),
        "--threads",
        str(threads),
        "--length",
        str(length),
    ]
    if checkpoint:
        argv += ["--checkpoint", str(checkpoint)]
    if time_budget:
        argv += ["--time-budget", str(time_budget)]
    return argv


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# -- the measurements --------------------------------------------------------------------------
def first_frame(rounds: int) -> dict:
    frames, quits = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            app = PtyApp([sys.executable, "-m", "lyrics_tui.tui.cli", "--corpus", str(BUNDLED)])
            seen = app.wait_for(b"Training", timeout=20)
            frames.append((seen - app.started) if seen else float("inf"))
            app.wait_for(b"Quit", timeout=5)  # the key bar, drawn just after
            app.drain(0.3)
            quits.append(app.quit() or float("inf"))
            del tmp
    return {"first_frame_s": frames, "quit_idle_s": quits}


def headless_rate(corpus: Path, epochs: int, threads: int, out: Path) -> float:
    argv = [
        sys.executable,
        "-m",
        "lyrics_tui.tui.cli",
        "train",
        "--corpus",
        str(corpus),
        "--epochs",
        str(epochs),
        "--out",
        str(out),
        "--json",
    ]
    if threads:
        argv += ["--threads", str(threads)]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"headless training failed: {result.stderr[-400:]}")
    rates = [
        json.loads(line)["tokens_per_s"]
        for line in result.stdout.splitlines()
        if line.startswith("{") and json.loads(line).get("event") == "epoch"
    ]
    return statistics.median(rates)


def app_rate(corpus: Path, epochs: int, threads: int, work: Path) -> float:
    log = work / f"app-{time.monotonic_ns()}.jsonl"
    app = PtyApp(child_argv(log, work / "ck", corpus, epochs, threads))
    if wait_log(app, log, "ready", timeout=30) is None:
        raise SystemExit("the app did not start")
    app.send(b"t")
    finished = wait_log(app, log, "finished", timeout=3600)
    app.drain(0.2)
    app.quit()
    if finished is None:
        raise SystemExit("the in-app run did not finish")
    rates = [e["tokens_per_s"] for e in read_log(log) if e["event"] == "epoch"]
    return statistics.median(rates)


def throughput(corpus: Path, epochs: int, rounds: int, threads: int, work: Path) -> dict:
    apps, heads, ratios = [], [], []
    for i in range(rounds):
        h = headless_rate(corpus, epochs, threads, work / "headless.pt")
        a = app_rate(corpus, epochs, threads, work)
        heads.append(h)
        apps.append(a)
        ratios.append(a / h)
        print(
            f"  round {i + 1}: headless {h:,.0f} tok/s, in app {a:,.0f} tok/s, ratio {a / h:.2f}",
            flush=True,
        )
    return {"headless": heads, "app": apps, "ratio": ratios}


def keys_while_training(corpus: Path, presses: int, work: Path, threads: int = 0) -> dict:
    """Key latency and first-token latency (live weights) while training at full speed."""
    log = work / f"keys-{threads}.jsonl"
    app = PtyApp(child_argv(log, work / "ck-keys", corpus, 1000, threads))
    if wait_log(app, log, "ready", timeout=30) is None:
        raise SystemExit("the app did not start")
    app.send(b"t")
    if app.wait_for(b"tok/s", timeout=120) is None or wait_log(app, log, "batch", 1, 120) is None:
        raise SystemExit("training did not start")
    app.drain(1.0)
    latencies, missed = [], 0
    temperature = 0.8
    for i in range(presses):
        up = i % 2 == 0
        temperature = round(temperature + (0.1 if up else -0.1), 2)
        start = len(app.buf)
        sent = app.send(b"+" if up else b"-")
        seen = app.wait_for(f"temperature {temperature:.2f}".encode(), start, timeout=3.0)
        if seen is None:
            missed += 1
        else:
            latencies.append(seen - sent)
        app.drain(0.05 + (i % 5) * 0.02)  # irregular spacing, like typing
    first_tokens = generate_and_time(app, log, rounds=5)
    quit_s = app.quit()
    return {
        "key_latency_s": latencies,
        "missed": missed,
        "first_token_live_s": first_tokens,
        "quit_training_s": quit_s,
        "restored": app.restored_terminal,
        "restored_s": app.restored_after,
    }


def keys_through_budget(corpus: Path, budget: float, work: Path) -> dict:
    """Key latency from t until a run that fills a time budget has ended, fitting song memory
    and saving included; each press labelled with the phase the run was in."""
    log = work / "keys-budget.jsonl"
    app = PtyApp(child_argv(log, work / "ck-budget", corpus, 1, time_budget=budget))
    if wait_log(app, log, "ready", timeout=60) is None:
        raise SystemExit("the app did not start")
    app.send(b"t")
    began = time.perf_counter()
    presses: list[tuple[float, float]] = []  # (sent, latency)
    missed = 0
    temperature, i = 0.8, 0
    while time.perf_counter() - began < budget + 300:
        if any(e["event"] == "finished" for e in read_log(log)):
            break
        up = i % 2 == 0
        temperature = round(temperature + (0.1 if up else -0.1), 2)
        start = len(app.buf)
        sent = app.send(b"+" if up else b"-")
        seen = app.wait_for(f"temperature {temperature:.2f}".encode(), start, timeout=3.0)
        if seen is None:
            missed += 1
        else:
            presses.append((sent, seen - sent))
        app.drain(0.05 + (i % 5) * 0.02)
        i += 1
    events = read_log(log)
    app.quit()
    marks = [
        (e["t"], e.get("phase", e["event"]))
        for e in events
        if e["event"] in ("batch", "phase", "finished")
    ]

    def phase_at(t: float) -> str:
        current = "starting"
        for when, name in marks:
            if when <= t:
                current = "training" if name in ("batch", "validating") else name
        return current

    by_phase: dict[str, list[float]] = {}
    for sent, latency in presses:
        by_phase.setdefault(phase_at(sent), []).append(latency)
    finished = next((e["t"] for e in events if e["event"] == "finished"), None)
    return {
        "latencies": [latency for _, latency in presses],
        "by_phase": by_phase,
        "missed": missed,
        "run_s": finished - began if finished else None,
    }


def generate_and_time(app: PtyApp, log: Path, rounds: int) -> list[float]:
    """Type a start word, then Enter; time to the first drawn token, `rounds` times."""
    out = []
    for i in range(rounds):
        before = len([e for e in read_log(log) if e["event"] == "first_token_drawn"])
        app.send(b"/")
        if i == 0:
            app.send("窗外".encode())
        app.drain(0.3)
        sent = app.send(b"\r")
        events = wait_log(app, log, "first_token_drawn", before + 1, timeout=10)
        if events is None:
            out.append(float("inf"))
            late = [e["event"] for e in read_log(log) if e["t"] >= sent]
            problems = [e["text"] for e in read_log(log) if e["event"] == "problem"]
            print(f"   no first token within 10 s; logged since Enter: {late}; {problems}")
            continue
        out.append(events[-1]["t"] - sent)
        if os.environ.get("TUI_BENCH_DETAIL"):
            stages = {}
            for e in read_log(log):
                if e["t"] >= sent and e["event"] not in stages:
                    stages[e["event"]] = round((e["t"] - sent) * 1000)
            print("   ", stages, flush=True)
        wait_log(app, log, "generation_done", before + 1, timeout=30)
        app.drain(0.1)
    return out


def first_token_from_checkpoint(
    checkpoint: Path, corpus: Path, rounds: int, work: Path
) -> list[float]:
    log = work / "token.jsonl"
    app = PtyApp(child_argv(log, work / "ck-token", corpus, 1, checkpoint=checkpoint))
    if wait_log(app, log, "loaded", timeout=30) is None:
        app.quit()
        raise SystemExit("the checkpoint did not load")
    app.drain(1.0)  # let the tokenizer warm-up finish, as a person would have typed by then
    out = generate_and_time(app, log, rounds)
    app.quit()
    return out


# -- the app, with an event log (child mode) ---------------------------------------------------
def child(args: argparse.Namespace) -> int:
    from lyrics_tui.core import tuning

    # as `lyrics-tui` sets up its process: one BLAS thread (before numpy loads), memory kept
    tuning.for_generation()
    tuning.for_training()
    from lyrics_tui.core.events import (
        BatchFinished,
        EpochFinished,
        PhaseStarted,
        TrainingFinished,
    )
    from lyrics_tui.tui.app import PlaygroundApp
    from lyrics_tui.tui.controllers import Problem
    from lyrics_tui.tui.controllers.generation import GenerationEnded, TokenGenerated
    from lyrics_tui.tui.controllers.training import RunEvent

    log = open(args.log, "a", encoding="utf-8")

    def write(event: str, **data) -> None:
        log.write(json.dumps({"event": event, "t": time.perf_counter(), **data}) + "\n")
        log.flush()

    class BenchApp(PlaygroundApp):
        _seen_batch = False
        _posted = 0
        _drawn = 0

        def __init__(self, **options) -> None:
            super().__init__(**options)
            weights = self.training.weights

            def logged_weights(blocking: bool):
                write("worker_started")
                ready = weights(blocking)
                write("model_ready")
                return ready

            self.training.weights = logged_weights

        async def _after_first_frame(self) -> None:
            await super()._after_first_frame()
            write("ready")

        def report(self, report) -> None:  # in the controllers' threads
            event = report.event if isinstance(report, RunEvent) else None
            if isinstance(event, EpochFinished):
                write("epoch", tokens_per_s=event.tokens_per_s)
            elif isinstance(event, TrainingFinished):
                write("finished", reason=event.reason)
            elif isinstance(event, PhaseStarted):
                write("phase", phase=str(event.phase))
            elif isinstance(event, BatchFinished) and not self._seen_batch:
                self._seen_batch = True
                write("batch")
            elif isinstance(report, TokenGenerated) and report.gen_id != self._posted:
                self._posted = report.gen_id
                write("token_posted")
            elif isinstance(report, GenerationEnded):
                write("generation_done")
            elif isinstance(report, Problem):
                write("problem", text=report.text)
            super().report(report)

        def _generate(self, prompt: str, same_seed: bool) -> None:
            write("enter_handled")
            super()._generate(prompt, same_seed)

        def _show_output(self) -> None:
            super()._show_output()
            if self.generation.tokens and self._drawn != self.generation.gen_id:
                self._drawn = self.generation.gen_id
                write("token_handled")
                self.call_after_refresh(write, "first_token_drawn")

        def _show_loaded(self, loaded) -> None:
            super()._show_loaded(loaded)
            self.call_after_refresh(write, "loaded")

    train: dict = {"epochs": args.epochs}
    if args.time_budget:  # the budget ends the run (and the network is sized for it)
        train = {"time_budget": args.time_budget}
    if args.threads:
        train["threads"] = args.threads
    app = BenchApp(
        corpus=args.corpus,
        checkpoint=args.checkpoint,
        checkpoint_dir=args.ckdir,
        train_overrides=train,
        sampler={"max_tokens": args.length, "pace_ms": 0},
        device="cpu",
        open_newest=False,
    )
    from lyrics_tui.tui.launch import run_app

    return run_app(app)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode")
    c = sub.add_parser("child")
    c.add_argument("--log", required=True)
    c.add_argument("--ckdir", required=True)
    c.add_argument("--corpus", required=True)
    c.add_argument("--epochs", type=int, default=3)
    c.add_argument("--threads", type=int, default=0)
    c.add_argument("--length", type=int, default=20)
    c.add_argument("--checkpoint")
    c.add_argument("--time-budget", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--corpus", help="default: the tutorial corpus if present, else bundled")
    parser.add_argument(
        "--only", default="frame,keys,throughput,token", help="or budget (with --budget)"
    )
    parser.add_argument(
        "--budget", type=float, default=60.0, help="budget: the run's --time-budget"
    )
    parser.add_argument(
        "--keys-threads",
        type=int,
        default=0,
        help="torch threads for the key-latency run (0: the app's choice)",
    )
    parser.add_argument(
        "--threads-compare",
        action="store_true",
        help="also run the throughput comparison with 2 torch threads",
    )
    args = parser.parse_args()
    if args.mode == "child":
        sys.exit(child(args))
    corpus = Path(args.corpus) if args.corpus else (JAYCHOU if JAYCHOU.exists() else BUNDLED)
    only = set(args.only.split(","))
    print(
        f"machine: {machine()}; corpus {corpus.name}; {args.epochs} epochs per run; "
        f"{args.rounds} rounds",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "frame" in only:
            r = first_frame(max(5, args.rounds * 2))
            print(
                f"first frame: median {statistics.median(r['first_frame_s']) * 1000:.0f} ms "
                f"(runs: {', '.join(f'{x * 1000:.0f}' for x in r['first_frame_s'])}); quit "
                f"0.3 s after it: median {statistics.median(r['quit_idle_s']) * 1000:.0f} ms "
                f"(runs: {', '.join(f'{x * 1000:.0f}' for x in r['quit_idle_s'])})",
                flush=True,
            )
        if "throughput" in only:
            print(
                "throughput, default preset, threads chosen by timing batches (auto):", flush=True
            )
            r = throughput(corpus, args.epochs, args.rounds, 0, work)
            print(
                f"throughput: headless median {statistics.median(r['headless']):,.0f} tok/s, "
                f"in app {statistics.median(r['app']):,.0f} tok/s, median ratio "
                f"{statistics.median(r['ratio']):.2f}",
                flush=True,
            )
            if args.threads_compare:
                print("throughput with --threads 2 (both sides):", flush=True)
                r2 = throughput(corpus, args.epochs, args.rounds, 2, work)
                print(
                    f"threads 2: headless median {statistics.median(r2['headless']):,.0f} "
                    f"tok/s, in app {statistics.median(r2['app']):,.0f} tok/s, median ratio "
                    f"{statistics.median(r2['ratio']):.2f}; in app 2 threads vs 1: "
                    f"{statistics.median(r2['app']) / statistics.median(r['app']):.2f}",
                    flush=True,
                )
        if "keys" in only:
            r = keys_while_training(corpus, args.keys, work, args.keys_threads)
            if args.keys_threads:
                print(f"(training with {args.keys_threads} torch threads)")
            lat = r["key_latency_s"]
            live = r["first_token_live_s"]
            print(
                f"keys while training: p50 {percentile(lat, 0.5) * 1000:.0f} ms, p95 "
                f"{percentile(lat, 0.95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms over "
                f"{len(lat)} presses ({r['missed']} not seen within 3 s)",
                flush=True,
            )
            print(
                f"first token while training (live weights): median "
                f"{statistics.median(live) * 1000:.0f} ms (runs: "
                f"{', '.join(f'{x * 1000:.0f}' for x in live)})",
                flush=True,
            )
            quit_s = r["quit_training_s"]
            restored = r["restored_s"]
            print(
                f"quit mid-training: terminal restored after "
                f"{restored * 1000 if restored is not None else float('nan'):.0f} ms, process "
                f"gone after {quit_s * 1000:.0f} ms"
                if quit_s is not None
                else "quit mid-training: killed",
                flush=True,
            )
        if "budget" in only:
            r = keys_through_budget(corpus, args.budget, work)
            lat = r["latencies"]
            print(
                f"keys from t to the end of a {args.budget:.0f} s budget run (took "
                f"{r['run_s'] or float('nan'):.1f} s): p50 {percentile(lat, 0.5) * 1000:.0f} ms, "
                f"p95 {percentile(lat, 0.95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms over "
                f"{len(lat)} presses ({r['missed']} not seen within 3 s)",
                flush=True,
            )
            for phase, values in r["by_phase"].items():
                print(
                    f"  while {phase}: p95 {percentile(values, 0.95) * 1000:.0f} ms, max "
                    f"{max(values) * 1000:.0f} ms over {len(values)} presses",
                    flush=True,
                )
        if "token" in only:
            checkpoint = work / "token-model.pt"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "lyrics_tui.tui.cli",
                    "train",
                    "--corpus",
                    str(BUNDLED),
                    "--epochs",
                    "2",
                    "--out",
                    str(checkpoint),
                    "--json",
                ],
                cwd=ROOT,
                capture_output=True,
                check=True,
            )
            r = first_token_from_checkpoint(checkpoint, BUNDLED, 7, work)
            print(
                f"first token from a loaded checkpoint: median "
                f"{statistics.median(r) * 1000:.0f} ms (runs: "
                f"{', '.join(f'{x * 1000:.0f}' for x in r)})",
                flush=True,
            )


if __name__ == "__main__":
    main()
