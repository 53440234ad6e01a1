"""How close a training step comes to what this CPU's fp32 matrix multiplies allow.

For `--preset default` and `--preset tutorial` on the tutorial's corpus: the multiply-adds of
one training token (the recurrent layer and the decoder, forward and backward: what
core/training/sizing.py step_flops counts), this CPU's fp32 matrix-multiply speed (a large
square product, the best any matmul gets here), and from the two the step's fp32 ceiling in
tokens/s; beside it the tokens/s the run's own step gets (model, loss, backward, clipping,
fused optimiser step, weight averaging: as core/trainer.py does it, fp32), and where the time
goes. One thread, CPU time of this thread (what the work costs, whatever else the machine
runs); `--threads 2` times wall-clock seconds with two threads instead.

    python bench/fp32_ceiling.py [--threads 1] [--steps 20] [--precision fp32|bf16]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
from _common import JAYCHOU, machine, median
from torch import nn

from lyrics_tui.core import batches as B
from lyrics_tui.core import tuning
from lyrics_tui.core.corpus import corpus_settings, read_corpus
from lyrics_tui.core.model import RNNLanguageModel, detach
from lyrics_tui.core.training.data import prepare_data
from lyrics_tui.core.training.sizing import step_flops
from lyrics_tui.core.training.weights import WeightAverage, make_optimizer


def clock(threads: int):
    return time.thread_time if threads == 1 else time.perf_counter


def matmul_rate(threads: int, dtype: torch.dtype = torch.float32, size: int = 2048) -> float:
    """Multiply-adds per second of the best matrix product here (a large square one)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    tick = clock(threads)
    times = []
    for _ in range(5):
        began = tick()
        a @ b
        times.append(tick() - began)
    return size**3 / min(times)


def step_rate(preset: str, precision: str, threads: int, steps: int) -> tuple[float, dict, float]:
    """Training tokens/s of the preset's step here, its phases (ms), and multiply-adds/token."""
    model_cfg, train = corpus_settings(str(JAYCHOU), preset, {}, {})
    train_lines, val_lines = read_corpus(JAYCHOU).split(train.val_fraction)
    data = prepare_data(train_lines, val_lines, train)
    model_cfg = replace(model_cfg, vocab_size=len(data.vocab))
    torch.manual_seed(0)
    model = RNNLanguageModel(model_cfg)
    optimizer = make_optimizer(model, train)
    average = WeightAverage(model, train.average) if train.average else None
    streams = B.batchify(data.train_ids, train.batch_size)
    hidden = model.init_hidden(streams.size(1))
    tick = clock(threads)
    parts: dict[str, list[float]] = {"forward": [], "backward": [], "optimiser": []}
    tokens, total = 0, 0.0
    for i, (x, y) in enumerate(B.stream_batches(streams, train.bptt)):
        if i == steps + 3:
            break
        a = tick()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits, hidden = model(x, detach(hidden))
        loss = nn.functional.cross_entropy(
            logits.float().view(-1, logits.size(-1)), y.reshape(-1).long()
        )
        b = tick()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        c = tick()
        if train.clip:
            nn.utils.clip_grad_norm_(model.parameters(), train.clip)
        optimizer.step()
        if average is not None:
            average.update(i)
        loss.item()
        d = tick()
        if i >= 3:  # the first steps pay for warming up
            tokens += y.numel()
            total += d - a
            for name, seconds in zip(parts, (b - a, c - b, d - c), strict=True):
                parts[name].append(seconds * 1000)
    flops = step_flops(model_cfg, model_cfg.hidden, len(data.vocab))
    if model_cfg.embed != model_cfg.hidden:  # the input side of the recurrent layer is smaller
        gates = {"rnn": 1, "gru": 3, "lstm": 4}[model_cfg.cell]
        flops -= 3.0 * gates * model_cfg.hidden * (model_cfg.hidden - model_cfg.embed)
    return tokens / total, {k: median(v) for k, v in parts.items()}, flops


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    tuning.for_training()
    torch.set_num_threads(args.threads)
    peak = matmul_rate(args.threads, torch.bfloat16 if args.precision == "bf16" else torch.float32)
    print(f"machine: {machine()}; {args.threads} thread(s); {args.precision}")
    print(f"best {args.precision} matrix product here: {2 * peak / 1e9:.0f} GFLOP/s")
    for preset in ("tutorial", "default"):
        rate, parts, flops = step_rate(preset, args.precision, args.threads, args.steps)
        ceiling = peak / flops
        print(
            f"--preset {preset}: {flops / 1e6:.1f} M multiply-adds per token; ceiling "
            f"{ceiling:,.0f} tokens/s; the step gets {rate:,.0f} tokens/s ({rate / ceiling:.0%} "
            f"of it); per step: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in parts.items())
        )


if __name__ == "__main__":
    main()
