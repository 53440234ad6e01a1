"""Generation speed: greedy tokens/s after load, and launch-to-first-token of the CLI.

    python bench/generation.py --checkpoint PATH [--runs 5] [--cache auto|off|N,THETA,LAMBDA]

1. In process: load the checkpoint (numpy path), then time 2,000 greedy tokens, with the network
   alone and with song memory (--cache: the checkpoint's fitted settings by default), side by
   side in the same run.
2. As a user: launch `lyrics-tui generate` and time until its first token reaches stdout, with an
   empty prompt and with a Chinese prompt (which needs jieba's dictionary); song memory is on
   by default there too.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the lyrics-tui entry point does

import argparse
import subprocess
import sys
import time

from _common import ROOT, machine, median

sys.path.insert(0, str(ROOT))


def greedy_rate(path: str, cache=None) -> float:
    from lyrics_tui.core.fastload import read_checkpoint
    from lyrics_tui.core.sampling import Sampler, SamplerSettings
    from lyrics_tui.core.steppers import NumpyStepper
    from lyrics_tui.core.tokens import Tokenizer

    checkpoint = read_checkpoint(path)
    sampler = Sampler(
        NumpyStepper(checkpoint.model_config, checkpoint.model_state),
        checkpoint.vocab,
        Tokenizer("char"),
    )  # empty prompt: no tokenizer work
    settings = SamplerSettings(temperature=0, max_tokens=2000, cache=cache)
    generation = sampler.generate("", settings)
    start = time.perf_counter()
    count = sum(1 for _ in generation)
    return count / (time.perf_counter() - start)


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cache", default="auto")
    args = parser.parse_args()
    from lyrics_tui.core.loading import open_checkpoint

    memory = open_checkpoint(args.checkpoint).cache(args.cache)
    rates, cached = [], []
    for _ in range(args.runs):  # interleaved: both see the same load
        rates.append(greedy_rate(args.checkpoint))
        if memory.settings is not None:
            cached.append(greedy_rate(args.checkpoint, memory.settings))
    empty = [first_token_s(args.checkpoint, "") for _ in range(args.runs)]
    prompted = [first_token_s(args.checkpoint, "想念") for _ in range(args.runs)]
    print(f"machine: {machine()}")
    print(f"greedy tokens/s after load: median {median(rates):,.0f} (min {min(rates):,.0f})")
    if cached:
        print(
            f"greedy tokens/s with song memory ({memory.settings.label}): median "
            f"{median(cached):,.0f} (min {min(cached):,.0f})"
        )
    else:
        print(f"song memory off ({memory.source}): {memory.note or 'nothing to compare'}")
    print(
        f"launch to first token, empty prompt: median {median(empty):.2f} s (max {max(empty):.2f})"
    )
    print(
        f"launch to first token, prompt '想念': median {median(prompted):.2f} s "
        f"(max {max(prompted):.2f})"
    )


if __name__ == "__main__":
    main()
