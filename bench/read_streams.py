"""Validation read as streams side by side against one stream: the figure and the time.

For a checkpoint and its corpus's held-out split (the last 10% of lines): the loss read as one
stream (hidden state carried throughout: the exact figure) and as streams side by side with
several burn-ins (core/batches.py read_layout), the relative difference, the largest difference
in a hidden state, and the median read time of 3 (one thread, wall seconds).

    python bench/read_streams.py CHECKPOINT CORPUS
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import machine, median

from lyrics_tui.core import cache_eval
from lyrics_tui.core.checkpoint import load_checkpoint, model_from_checkpoint
from lyrics_tui.core.corpus import read_corpus
from lyrics_tui.core.trainer import prepare_data


def timed(read) -> tuple[float, cache_eval.StreamFeatures]:
    times, result = [], None
    for _ in range(3):
        began = time.perf_counter()
        result = read()
        times.append(time.perf_counter() - began)
    assert result is not None
    return median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("corpus")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.checkpoint)
    train, val = read_corpus(args.corpus).split(0.1)
    data = prepare_data(train, val, checkpoint.train_config, checkpoint.vocab)
    model, ids, unk = model_from_checkpoint(checkpoint), data.val_ids, checkpoint.vocab.unk_id
    print(f"machine: {machine()}; {len(ids) - 1:,} validation positions")
    one_s, one = timed(lambda: cache_eval.read_stream(model, ids, unk, streams=1))
    print(f"one stream: loss {one.loss:.9f}, {one_s:.3f} s")
    for burn_in in (16, 32, 64, 128, 256):
        cache_eval.BURN_IN, cache_eval.MIN_STRETCH = burn_in, 4 * burn_in
        streams = cache_eval.read_streams(len(ids) - 1)
        seconds, many = timed(lambda: cache_eval.read_stream(model, ids, unk))
        print(
            f"burn-in {burn_in:3d}, {streams:2d} streams: relative difference "
            f"{abs(many.loss - one.loss) / one.loss:.1e}, largest hidden-state difference "
            f"{(many.hidden - one.hidden).abs().max().item():.1e}, {seconds:.3f} s "
            f"({one_s / seconds:.2f}x)"
        )


if __name__ == "__main__":
    main()
