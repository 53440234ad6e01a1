"""Generation speed: greedy tokens/s after load, and launch-to-first-token of the CLI.

    python bench/generation.py --checkpoint PATH [--runs 5]

1. In process: load the checkpoint (numpy path), then time 2,000 greedy tokens.
2. As a user: launch `lyrics-tui generate` and time until its first token reaches stdout, with an
   empty prompt and with a Chinese prompt (which needs jieba's dictionary).
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


def greedy_rate(path: str) -> float:
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
    generation = sampler.generate("", SamplerSettings(temperature=0, max_tokens=2000))
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
    args = parser.parse_args()
    rates = [greedy_rate(args.checkpoint) for _ in range(args.runs)]
    empty = [first_token_s(args.checkpoint, "") for _ in range(args.runs)]
    prompted = [first_token_s(args.checkpoint, "想念") for _ in range(args.runs)]
    print(f"machine: {machine()}")
    print(f"greedy tokens/s after load: median {median(rates):,.0f} (min {min(rates):,.0f})")
    print(
        f"launch to first token, empty prompt: median {median(empty):.2f} s (max {max(empty):.2f})"
    )
    print(
        f"launch to first token, prompt '想念': median {median(prompted):.2f} s "
        f"(max {max(prompted):.2f})"
    )


if __name__ == "__main__":
    main()
