"""Two process-level effects on a training step's speed, each measured side by side.

    python bench/train_step.py [--rounds 3]

1. memory: the tutorial preset's step (32 x 32 tokens, 5,700-word vocabulary) with glibc's
   default malloc settings against core.tuning.keep_freed_memory(). By default every large
   temporary (logits, softmax, gradients: ~23 MB each) is handed back to the kernel when freed
   and page-faulted in again next step.
2. threads: the default preset's step run in a worker thread (as the playground trains), alone
   and after the main thread has also run torch ops. A second OpenMP team in the process makes
   libgomp, seeing more of its threads than cores, stop spin-waiting between parallel regions;
   this is why the playground runs every torch op of a training run in the trainer thread and
   generates from numpy copies of the weights.

Each case runs in a fresh interpreter, alternated, two torch threads; prints ms per step.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = {
    "memory-default": "tutorial preset, glibc defaults",
    "memory-kept": "tutorial preset, keep_freed_memory()",
    "thread-alone": "default preset, worker thread, the only torch user",
    "thread-after-main": "default preset, worker thread, main thread used torch first",
}


def step_ms(preset: str, vocab: int, batch: int, steps: int = 40) -> float:
    import torch
    from torch import nn

    from lyrics_tui.core.config import resolve_settings
    from lyrics_tui.core.model import RNNLanguageModel

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model_cfg, train_cfg = resolve_settings(preset)
    model = RNNLanguageModel(replace(model_cfg, vocab_size=vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randint(0, vocab, (train_cfg.bptt, batch))
    y = torch.randint(0, vocab, (train_cfg.bptt, batch))
    hidden = model.init_hidden(batch)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits, _ = model(x, hidden)
        loss = nn.functional.cross_entropy(logits.float().view(-1, vocab), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[5:]) * 1000


def run_case(case: str) -> float:
    if case.startswith("memory"):
        if case == "memory-kept":
            from lyrics_tui.core.tuning import keep_freed_memory

            keep_freed_memory()
        return step_ms("tutorial", 5700, 32)
    if case == "thread-after-main":
        step_ms("default", 3000, 16, steps=8)  # the main thread gets an OpenMP team
    result: list[float] = []
    worker = threading.Thread(target=lambda: result.append(step_ms("default", 3000, 16)))
    worker.start()
    worker.join()
    return result[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(run_case(args.case))
        return
    results: dict[str, list[float]] = {case: [] for case in CASES}
    for _ in range(args.rounds):
        for case in CASES:
            out = subprocess.run(
                [sys.executable, __file__, "--case", case],
                check=True,
                capture_output=True,
                text=True,
            )
            results[case].append(float(out.stdout.strip().splitlines()[-1]))
            print(f"{CASES[case]}: {results[case][-1]:.1f} ms/step", flush=True)
    print("medians:")
    for case, values in results.items():
        print(f"  {CASES[case]}: {statistics.median(values):.1f} ms/step")


if __name__ == "__main__":
    main()
