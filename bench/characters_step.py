"""What reading words through their characters costs a training step, side by side.

The default preset's step (batch 32 x 35 words of the tutorial's corpus, its vocabulary, AdamW,
clipping and the weight average, bf16 autocast where the CPU has it, as a run trains) with
`characters` on and off, the two networks' steps alternated in one process; prints the median
milliseconds of each and their ratio.

    python bench/characters_step.py [--steps 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch
from _common import JAYCHOU, machine
from torch import nn

from lyrics_tui.core import tuning
from lyrics_tui.core.corpus import corpus_settings, read_corpus
from lyrics_tui.core.device import resolve_precision
from lyrics_tui.core.model import RNNLanguageModel, for_vocabulary
from lyrics_tui.core.training.data import prepare_data
from lyrics_tui.core.training.weights import WeightAverage, make_optimizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args()
    tuning.for_training()
    model_cfg, train_cfg = corpus_settings(str(JAYCHOU), "default", {}, {})
    train_lines, val_lines = read_corpus(JAYCHOU).split(train_cfg.val_fraction)
    data = prepare_data(train_lines, val_lines, train_cfg, None)
    words = data.vocab.tokens
    config = for_vocabulary(model_cfg, words)
    bf16 = resolve_precision(train_cfg.precision, "cpu") == "bf16"
    steps = {}
    for name, cfg in (("off", replace(config, characters=False)), ("on", config)):
        torch.manual_seed(0)
        model = RNNLanguageModel(cfg, words)
        steps[name] = (model, make_optimizer(model, train_cfg), WeightAverage(model, 0.99))
    n = train_cfg.bptt * train_cfg.batch_size
    x = data.train_ids[:n].view(train_cfg.bptt, -1)
    y = data.train_ids[1 : n + 1].view(train_cfg.bptt, -1)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for i in range(args.steps):
        for name, (model, optimizer, average) in steps.items():
            began = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss, _ = model(x, model.init_hidden(x.size(1)), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), train_cfg.clip)
            optimizer.step()
            average.update(i)
            times[name].append(time.perf_counter() - began)
    print(f"machine: {machine()}; {len(words):,} words, bf16: {bf16}")
    ms = {name: statistics.median(t[3:]) * 1000 for name, t in times.items()}
    for name, value in ms.items():
        print(f"characters {name}: {value:.1f} ms per step")
    print(f"ratio on / off: {ms['on'] / ms['off']:.3f}")


if __name__ == "__main__":
    main()
