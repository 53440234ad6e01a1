"""The cells view's figures (issue 20): the best unit for each named pattern on held-out text,
the time the F5 Cells view takes to open, and one reading of a 2,000-token text.

    .venv/bin/python bench/cells.py figures CHECKPOINT... [--text FILE]
    .venv/bin/python bench/cells.py speed CHECKPOINT [--rounds 5]
    .venv/bin/python bench/cells.py app CHECKPOINT [--text FILE]     # the screen alone, to try it
    .venv/bin/python bench/cells.py must-reach CHECKPOINT...          # figures, then speed (first)

- figures: for each checkpoint, its held-out text (the last val-fraction of its corpus's lines,
  as training split them; or --text), every named pattern's best unit: AUC for yes/no
  patterns, |r| for the position in the line; the must-reach lines are marked.
- speed: (1) the Cells view opening on the bundled corpus's held-out text (data/lyrics.txt, its
  last 10%) with the checkpoint's network: from F5 written to a pseudo-terminal to the frame
  that draws the shaded text and the ranked units (`app` mode, the real screen); (2) the
  activations of a 2,000-token text (the checkpoint's held-out text, cut to 2,000): one pass
  (NumpyStepper.read_sequence) beside stepping token by token with the output layer (what the
  score view does), and a count that the pass ran the recurrence once per token. Medians of
  --rounds, side by side.

Run timing under the team's lock: flock /tmp/lyrics-bench.lock .venv/bin/python bench/cells.py ...
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine

sys.path.insert(0, str(ROOT))
BUNDLED = ROOT / "data" / "lyrics.txt"


def cpu() -> str:
    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
        bf16 = "avx512_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        bf16 = False
    return f"{name or 'unknown CPU'} ({machine()}; avx512_bf16 {'yes' if bf16 else 'no'})"


def subject_and_text(checkpoint: str, text: str | None):
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.inspection.cells.reading import held_out_text
    from lyrics_tui.core.inspection.subject import load_subject

    subject = load_subject(checkpoint)
    if text:
        return subject, read_corpus(text).lines, Path(text).name
    held = held_out_text(subject)
    if held is None:
        raise SystemExit(f"{checkpoint}: its corpus ({subject.corpus!r}) is not here; give --text")
    return subject, held[0], held[1]


def figures(args: argparse.Namespace) -> None:
    from lyrics_tui.core.inspection.cells.patterns import PATTERNS
    from lyrics_tui.core.inspection.cells.ranking import rank_pattern
    from lyrics_tui.core.inspection.cells.reading import read_cells

    print(f"CPU: {cpu()}")
    for checkpoint in args.checkpoints:
        subject, lines, source = subject_and_text(checkpoint, args.text)
        reading = read_cells(subject, lines, source)
        config = subject.stepper.config
        print(
            f"\n{checkpoint}: {config.cell} {config.hidden}, {source}: {len(reading.tokens):,} "
            f"tokens, {reading.known.count(False):,} unknown"
        )
        baselines = {} if args.text else word_baselines(subject, reading)
        for name, pattern in PATTERNS.items():
            ranking = rank_pattern(reading, name)
            print("  " + figure_line(pattern.title, ranking))
            if name in baselines:
                print(f"    the word alone (from the training lines): {baselines[name]}")


def word_baselines(subject, reading) -> dict[str, str]:
    """What the word just read tells without the network: its share of line ends and its
    mean position in the training lines, scored like a unit (is a unit more than the word?)."""
    from collections import defaultdict

    import numpy as np

    from lyrics_tui.core.corpus import corpus_path, read_corpus, split_lines
    from lyrics_tui.core.inspection.cells.patterns import pattern_targets
    from lyrics_tui.core.inspection.cells.scores import auc_by_unit, correlation_by_unit

    lines = read_corpus(corpus_path(subject.corpus)).lines
    train, _ = split_lines(lines, subject.val_fraction or 0.1)
    ends: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    places: dict[str, list[int]] = defaultdict(list)
    for tokens in subject.tokenizer.lines(train):
        words = tokens[:-1]
        for i, word in enumerate(words):
            ends[word][0] += i == len(words) - 1
            ends[word][1] += 1
            places[word].append(i)
    end = pattern_targets(reading, "line-end")
    words = [w for w, scored in zip(reading.tokens, end.scored, strict=True) if scored]
    share = np.array([[(ends[w][0] + 0.1) / (ends[w][1] + 1)] for w in words])
    auc = float(auc_by_unit(share, end.values[end.scored] > 0.5)[0])
    position = pattern_targets(reading, "position")
    mean = np.array([[np.mean(places[w]) if places[w] else 2.0] for w in words])
    r = float(correlation_by_unit(mean, position.values[position.scored])[0])
    return {
        "line-end": f"AUC {auc:.3f} (how often the word ends a line)",
        "position": f"r {r:+.3f} (the word's mean position)",
    }


def figure_line(title: str, ranking) -> str:
    """One pattern's best unit, its runners-up, and the must-reach verdict where there is one."""
    best = ranking.best
    yes_no = ranking.measure == "AUC"
    value = f"AUC {best.value:.3f}" if yes_no else f"r {best.value:+.3f}"
    held = f", {ranking.positives:,} of {ranking.scored:,} tokens" if yes_no else ""
    goal = {"line-end": 0.8, "position": 0.5}.get(ranking.pattern)
    verdict = ""
    if goal is not None:
        verdict = f"; must reach {goal}: {'yes' if best.score >= goal else 'NO'}"
    top = ", ".join(f"{u.unit}:{u.score:.3f}" for u in ranking.units[1:4])
    note = f"  [{ranking.note}]" if ranking.note else ""
    score = "AUC" if yes_no else "|r|"
    return (
        f"{title}: unit {best.unit} {score} {best.score:.3f} ({value}{held}){verdict}; "
        f"next {top}{note}"
    )


def open_view(checkpoint: str, rounds: int) -> dict[str, list[float]]:
    """Seconds from F5 written to the terminal until the frame with the ranked units (drawn
    with the shaded text) comes back; each round a fresh app in a pseudo-terminal, 80x24, two
    seconds after the first frame. "ahead": as shipped (a short held-out text is read when the
    model arrives); "cold": read after F5 (read-ahead off), alternated."""
    import os
    import signal

    from tui_bench import PtyApp

    argv = [sys.executable, str(Path(__file__).resolve()), "app", checkpoint]
    argv += ["--text", str(BUNDLED), "--view", "step"]
    times: dict[str, list[float]] = {"ahead": [], "cold": []}
    for _, kind in ((r, k) for r in range(rounds) for k in times):
        app = PtyApp(argv + (["--cold"] if kind == "cold" else []))
        try:
            if app.wait_for(b"F5 Cells", timeout=60) is None:
                raise SystemExit("the app did not start")
            app.drain(2.0)  # the step view's first step drawn, the app idle
            start = len(app.buf)
            sent = app.send(b"\x1b[15~")  # F5
            shown = app.wait_for(b"AUC", start, timeout=30)
            if shown is None:
                raise SystemExit("the Cells view never drew the ranked units")
            times[kind].append(shown - sent)
        finally:
            os.kill(app.pid, signal.SIGKILL)
            os.waitpid(app.pid, 0)
    return times


def one_pass(subject, lines: list[str], rounds: int) -> dict:
    import numpy as np

    import lyrics_tui.core.steppers as steppers
    from lyrics_tui.core.inspection.cells.reading import read_cells
    from lyrics_tui.core.tokens import NEWLINE

    tokens = [t for line in subject.tokenizer.lines(lines) for t in line][:2000]
    if len(tokens) < 2000:
        raise SystemExit(f"the text holds {len(tokens)} tokens, fewer than 2,000")
    text = "".join(tokens)
    calls = [0]
    real = steppers._cell_step

    def counted(*a):
        calls[0] += 1
        return real(*a)

    steppers._cell_step = counted
    reading = read_cells(subject, text)
    steppers._cell_step = real
    ids = [subject.vocab.id(NEWLINE), *subject.vocab.encode(reading.tokens)]
    passes, stepped = [], []
    for _ in range(rounds):  # alternated
        t = time.perf_counter()
        read_cells(subject, text)
        passes.append(time.perf_counter() - t)
        t = time.perf_counter()
        state = subject.stepper.initial_state()
        for token_id in ids:
            logits, state = subject.stepper.step(state, token_id)
            np.asarray(logits)
        stepped.append(time.perf_counter() - t)
    return {
        "tokens": len(reading.tokens),
        "recurrent steps": calls[0],
        "pass": statistics.median(passes),
        "stepped": statistics.median(stepped),
    }


def speed(args: argparse.Namespace) -> None:
    from lyrics_tui.core import tuning

    tuning.for_generation()
    from lyrics_tui.core.corpus import read_corpus, split_lines
    from lyrics_tui.core.inspection.subject import load_subject
    from lyrics_tui.core.tokens import warm_up

    warm_up("word")
    print(f"CPU: {cpu()}")
    subject = load_subject(args.checkpoint)
    config = subject.stepper.config
    held = split_lines(read_corpus(BUNDLED).lines, 0.1)[1]
    tokens = sum(1 for line in subject.tokenizer.lines(held) for _ in line)
    times = open_view(args.checkpoint, args.rounds)
    print(
        f"the Cells view opens (F5 to the shaded text and ranked units drawn), {config.cell} "
        f"{config.hidden}, the bundled corpus's held-out text ({len(held)} lines, {tokens} "
        f"tokens), 80x24, median of {args.rounds}; goal 200 ms:"
    )
    for kind, label in (("ahead", "read ahead (as shipped)"), ("cold", "read after F5")):
        values = ", ".join(f"{t * 1000:.0f}" for t in times[kind])
        print(f"  {label}: {statistics.median(times[kind]) * 1000:.0f} ms ({values})")
    _, lines, source = subject_and_text(args.checkpoint, args.text)
    result = one_pass(subject, lines, args.rounds)
    print(
        f"a 2,000-token text ({source}): one pass {result['pass'] * 1000:.0f} ms "
        f"({result['recurrent steps']:,} recurrent steps for {result['tokens']:,} tokens and the "
        f"line start: once each, every unit at once) beside token-by-token stepping with the "
        f"output layer {result['stepped'] * 1000:.0f} ms (median of {args.rounds})"
    )


def app(args: argparse.Namespace) -> None:
    from textual.app import App

    from lyrics_tui.core.inspection.subject import load_subject
    from lyrics_tui.tui.screens.inspect import InspectScreen

    subject = load_subject(args.checkpoint)
    if args.text:
        subject = dataclasses.replace(subject, corpus=args.text, val_fraction=args.fraction)
    subject = dataclasses.replace(subject, label=Path(args.checkpoint).name)
    if args.cold:
        import lyrics_tui.tui.screens.inspect.cells as cells_view

        cells_view.READ_AHEAD = 0  # split ahead only: the reading waits for F5

    class Try(App[None]):
        def on_mount(self) -> None:
            self.push_screen(InspectScreen(lambda: subject, view=args.view), lambda _: self.exit())

    Try().run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("figures")
    one.add_argument("checkpoints", nargs="+")
    one.add_argument("--text", help="a text file (default: each checkpoint's held-out lines)")
    two = sub.add_parser("speed")
    two.add_argument("checkpoint")
    two.add_argument("--text", help="the 2,000-token text (default: the held-out lines)")
    two.add_argument("--rounds", type=int, default=5)
    three = sub.add_parser("app")
    three.add_argument("checkpoint")
    three.add_argument("--text", help="a corpus whose held-out lines to read")
    three.add_argument("--fraction", type=float, default=0.1)
    three.add_argument("--view", default="cells")
    three.add_argument("--cold", action="store_true", help="no read-ahead: read after F5")
    four = sub.add_parser("must-reach", help="figures for every checkpoint, speed for the first")
    four.add_argument("checkpoints", nargs="+")
    four.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.command == "must-reach":
        figures(argparse.Namespace(checkpoints=args.checkpoints, text=None))
        print()
        speed(argparse.Namespace(checkpoint=args.checkpoints[0], text=None, rounds=args.rounds))
        return
    {"figures": figures, "speed": speed, "app": app}[args.command](args)


if __name__ == "__main__":
    main()
