"""Generation speed: tokens/s after load, and launch-to-first-token of the CLI.

    python bench/generation.py --checkpoint PATH [--runs 5] [--cache auto|off|N,THETA,LAMBDA]
                               [--baseline DIR [--cpu-time] [--repeat 3] [--prompt TEXT]]

1. In process: load the checkpoint (numpy path), then time 2,000 tokens greedy with the network
   alone, greedy with song memory (--cache: the checkpoint's fitted settings by default), and
   sampled at temperature 0.8 with song memory, each with the default settings otherwise (the
   song form on), side by side in the same run.
2. As a user: launch `lyrics-tui generate` and time until its first token reaches stdout, with an
   empty prompt and with a Chinese prompt (which needs jieba's dictionary); song memory is on
   by default there too.

With --baseline DIR (another checkout of the code, e.g. `git archive main | tar -x -C DIR`), part
1 runs in subprocesses, alternating this checkout and DIR run by run; each subprocess times every
kind --repeat times and keeps its best (the run a shared machine disturbed least). It prints each
rate, the ratio of the medians and the median of each run's pair's ratio: the side-by-side
comparison a change of speed is judged by. It prints the lines each side wrote, too: song memory
remembers finished lines only, so a side whose text never ends a line (greedy decoding stuck on
one word) never consults it and is faster for it; a --prompt holding a finished line (e.g.
"月光\n") gives both sides something to remember from the first token (the prompt is read
before the clock starts).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the lyrics-tui entry point does

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, median

sys.path.insert(0, str(ROOT))

KINDS = ("greedy, network alone", "greedy, song memory", "sampled 0.8, song memory")


CLOCK = time.perf_counter  # --cpu-time: time.process_time, fairer on a busy shared machine


LINES: dict[str, int] = {}  # the lines each kind wrote last: song memory remembers finished
# lines only, so a text that never ends a line (greedy decoding looping on a word) never
# consults it, and runs faster for it


def rate(path: str, temperature: float, cache=None, kind: str = "", prompt: str = "") -> float:
    from lyrics_tui.core.loading import open_checkpoint
    from lyrics_tui.core.sampling import SamplerSettings

    opened = open_checkpoint(path)
    settings = SamplerSettings(temperature=temperature, max_tokens=2000, cache=cache, seed=1)
    generation = opened.sampler().generate(prompt, settings)  # (read here, not timed)
    start = CLOCK()
    texts = [token.text for token in generation]
    elapsed = CLOCK() - start
    LINES[kind] = texts.count("\n")
    return len(texts) / elapsed


def rates(path: str, cache_option: str, repeat: int = 1, prompt: str = "") -> dict[str, float]:
    """Each kind's rate, the best of `repeat` runs (interleaved): as timeit takes the fastest,
    the run the machine disturbed least (on a shared machine a run can take twice as long)."""
    from lyrics_tui.core.loading import open_checkpoint

    memory = open_checkpoint(path).cache(cache_option).settings
    out: dict[str, float] = {}
    for _ in range(repeat):
        found = {KINDS[0]: rate(path, 0.0, None, KINDS[0], prompt)}
        if memory is not None:
            found[KINDS[1]] = rate(path, 0.0, memory, KINDS[1], prompt)
            found[KINDS[2]] = rate(path, 0.8, memory, KINDS[2], prompt)
        for kind, value in found.items():
            out[kind] = max(out.get(kind, 0.0), value)
    return out


def first_token_s(path: str, prompt: str) -> float:
    script = os.path.join(ROOT, ".venv", "bin", "lyrics-tui")
    command = [script] if os.path.exists(script) else [sys.executable, "-m", "lyrics_tui.tui.cli"]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            *command,
            "generate",
            "--checkpoint",
            path,
            "--prompt",
            prompt,
            "--length",
            "20",
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.stdout.read()
    proc.wait()
    return elapsed


def package_link(checkout: Path) -> str:
    """A folder holding lyrics_tui/ over `checkout`'s core, tui and data (for PYTHONPATH)."""
    folder = Path(tempfile.mkdtemp(prefix="lyrics-tui-baseline-"))
    package = folder / "lyrics_tui"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for part in ("core", "tui", "data"):
        (package / part).symlink_to(checkout.resolve() / part)
    return str(folder)


def rates_in(
    pythonpath: str | None,
    path: str,
    cache_option: str,
    cpu: bool = False,
    repeat: int = 1,
    prompt: str = "",
) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath  # found before the editable install of this checkout
    code = (
        "import json, sys, time; sys.path.insert(0, sys.argv[1]); import generation; "
        "generation.CLOCK = time.process_time if sys.argv[4] == '1' else time.perf_counter; "
        "found = generation.rates(sys.argv[2], sys.argv[3], int(sys.argv[5]), sys.argv[6]); "
        "print(json.dumps({'rates': found, 'lines': generation.LINES}))"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(Path(__file__).parent),
            path,
            cache_option,
            str(int(cpu)),
            str(repeat),
            prompt,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout.splitlines()[-1])
    LINES.update(found["lines"])  # (the same text every run: one seed)
    return found["rates"]


def compare(args: argparse.Namespace) -> None:
    base = package_link(Path(args.baseline))
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    lines: dict[str, dict[str, int]] = {"ours": {}, "theirs": {}}
    for _ in range(args.runs):  # alternated: both see the same machine
        for folder, rates_of, side in ((None, ours, "ours"), (base, theirs, "theirs")):
            found = rates_in(
                folder, args.checkpoint, args.cache, args.cpu_time, args.repeat, args.prompt
            )
            lines[side].update(LINES)
            for kind, value in found.items():
                rates_of.setdefault(kind, []).append(value)
    print(f"machine: {machine()}")
    clock = "CPU time" if args.cpu_time else "wall clock"
    print(
        f"tokens/s ({clock}, best of {args.repeat} in each run), this checkout against "
        f"{args.baseline}, {args.runs} runs alternated"
        + (f", prompt {args.prompt!r}:" if args.prompt else ":")
    )
    for kind in KINDS:
        if kind in ours and kind in theirs:
            a, b = median(ours[kind]), median(theirs[kind])
            pairs = median([x / y for x, y in zip(ours[kind], theirs[kind], strict=True)])
            print(
                f"  {kind}: {a:,.0f} against {b:,.0f} (ratio {a / b:.2f}, of each run's pair "
                f"{pairs:.2f}; "
                f"runs {', '.join(f'{x:,.0f}' for x in ours[kind])} | "
                f"{', '.join(f'{x:,.0f}' for x in theirs[kind])}); lines written "
                f"{lines['ours'].get(kind, '?')} against {lines['theirs'].get(kind, '?')}"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cache", default="auto")
    parser.add_argument(
        "--repeat", type=int, default=3, help="with --baseline: runs of each kind per process"
    )
    parser.add_argument("--baseline", help="another checkout to compare tokens/s with")
    parser.add_argument(
        "--prompt",
        default="",
        help="with --baseline: the prompt each generation starts from (default empty)",
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="with --baseline: time by the process's CPU time (on a machine others share)",
    )
    args = parser.parse_args()
    if args.baseline:
        compare(args)
        return
    measured: dict[str, list[float]] = {}
    for _ in range(args.runs):  # interleaved: all see the same load
        for kind, value in rates(args.checkpoint, args.cache).items():
            measured.setdefault(kind, []).append(value)
    empty = [first_token_s(args.checkpoint, "") for _ in range(args.runs)]
    prompted = [first_token_s(args.checkpoint, "想念") for _ in range(args.runs)]
    print(f"machine: {machine()}")
    for kind, values in measured.items():
        print(f"{kind} tokens/s after load: median {median(values):,.0f} (min {min(values):,.0f})")
    print(
        f"launch to first token, empty prompt: median {median(empty):.2f} s (max {max(empty):.2f})"
    )
    print(
        f"launch to first token, prompt '想念': median {median(prompted):.2f} s "
        f"(max {max(prompted):.2f})"
    )


if __name__ == "__main__":
    main()
