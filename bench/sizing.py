"""The default preset at other sizes and regularisation: best held-out perplexity per setting.

Each setting is `HIDDEN:DROPOUT:EPOCHS[:WEIGHT_DECAY]` (embedding = hidden, tied, as the preset);
every run is `lyrics-tui train --preset default` on the shared protocol (last 10% of lines held
out) for a fixed number of epochs with `--threads 1`, so the figures do not depend on the load
of the machine. Epoch counts stand for what a time budget holds at each size: the speeds that
turn one into the other are measured by `--speeds` (training tokens/s of each size on this
corpus, one thread, CPU time of a few steps) and the core/training/sizing.py chooser uses
their ratios.

    python bench/sizing.py --corpus FILE --speeds
    python bench/sizing.py --corpus FILE 512:0.75:11 256:0.4:21 ...
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import LYRICS_TUI, machine, run_json_lines

SIZES = (128, 192, 256, 384, 512)


def speeds(corpus: str) -> None:
    """Training tokens/s of each size on this corpus (one thread, CPU time of a step)."""
    import torch

    from lyrics_tui.core import tuning
    from lyrics_tui.core.corpus import corpus_settings, read_corpus
    from lyrics_tui.core.training.data import prepare_data
    from lyrics_tui.core.training.sizing import time_steps

    tuning.for_training()
    torch.set_num_threads(1)  # thread_time counts this thread's work only
    model, train = corpus_settings(corpus, "default", {}, {"threads": 1})
    train_lines, val_lines = read_corpus(corpus).split(train.val_fraction)
    data = prepare_data(train_lines, val_lines, train)
    print(f"{corpus}: {len(data.train_ids):,} training tokens, vocabulary {len(data.vocab):,}")
    base = None
    for hidden in reversed(SIZES):
        rate = time_steps(model, train, data, hidden, "cpu", steps=8, timer=time.thread_time)
        base = base or rate
        print(f"  hidden {hidden}: {rate:,.0f} tokens/s ({rate / base:.2f}x the largest)")


def one(corpus: str, setting: str, seed: int) -> str:
    hidden, dropout, epochs, *rest = setting.split(":")
    extra = ["--weight-decay", rest[0]] if rest else []
    events = run_json_lines(
        [
            *LYRICS_TUI,
            "train",
            "--preset",
            "default",
            "--corpus",
            corpus,
            "--hidden",
            hidden,
            "--embed",
            hidden,
            "--dropout",
            dropout,
            "--epochs",
            epochs,
            "--threads",
            "1",
            "--seed",
            str(seed),
            *extra,
            "--out",
            f"/tmp/lyrics-tui-bench-sizing-{hidden}.pt",
            "--json",
        ]
    )
    done = events[-1]
    epochs_seen = [e for e in events if e["event"] == "epoch"]
    best = min(epochs_seen, key=lambda e: e["val_ppl"])
    memory = done.get("cache_val_ppl")
    return (
        f"{setting:>18}  seed {seed}  best {best['val_ppl']:7.1f} (epoch {best['epoch']:2d} of "
        f"{len(epochs_seen)}), last {epochs_seen[-1]['val_ppl']:7.1f}, with song memory "
        f"{memory if memory is None else round(memory, 1)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--speeds", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("settings", nargs="*")
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    if args.speeds:
        speeds(args.corpus)
    for setting in args.settings:
        print(one(args.corpus, setting, args.seed), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
