"""What per-epoch validation costs beside an epoch's training, as a run spends it.

Trains `--preset default` on the tutorial's corpus (the shared protocol: last 10% of lines
held out) for a few epochs through TrainingRun, as `lyrics-tui train` does, and times each
epoch's phases from the run's own events: training (its first batch to its last), validation
(the held-out split read as streams side by side and song memory's per-epoch figure: from
PhaseStarted(validating) to EpochFinished), in wall seconds and in the process's CPU seconds.
Prints each epoch and the median share of validation in the epoch's time (the first epoch
left out), then the same for the old one-stream reading of the split.

    python bench/validation_cost.py [--epochs 4] [--precision auto|fp32|bf16] [--threads 0]
"""

from __future__ import annotations

import argparse
import time

from _common import JAYCHOU, machine, median

from lyrics_tui.core import events as E
from lyrics_tui.core import tuning
from lyrics_tui.core.corpus import corpus_settings, read_corpus
from lyrics_tui.core.trainer import TrainingRun


def run_epochs(args: argparse.Namespace, streams: int | None) -> list[dict[str, float]]:
    """Per epoch: its training and its validation, in wall seconds and in this process's CPU
    seconds (its threads' together: what the run did, whatever else the machine ran);
    `streams` forces the reading's stream count."""
    from lyrics_tui.core import cache_eval

    corpus = read_corpus(JAYCHOU)
    overrides = {"epochs": args.epochs, "precision": args.precision, "threads": args.threads}
    model, train = corpus_settings(str(JAYCHOU), "default", {}, overrides)
    train_lines, val_lines = corpus.split(train.val_fraction)
    marks: dict[str, tuple[float, float]] = {}
    epochs: list[dict[str, float]] = []

    def sink(event: E.TrainingEvent) -> None:
        now = (time.perf_counter(), time.process_time())
        if isinstance(event, E.BatchFinished) and event.batch == 1:
            marks["first"] = now
        elif isinstance(event, E.BatchFinished) and event.batch == event.batches:
            marks["last"] = now
        elif isinstance(event, E.PhaseStarted) and event.phase is E.Phase.VALIDATING:
            marks["validating"] = now
        elif isinstance(event, E.EpochFinished):
            epochs.append(
                {
                    "train": marks["last"][0] - marks["first"][0],
                    "val": now[0] - marks["validating"][0],
                    "train_cpu": marks["last"][1] - marks["first"][1],
                    "val_cpu": now[1] - marks["validating"][1],
                }
            )

    original = cache_eval.read_streams
    if streams is not None:
        cache_eval.read_streams = lambda positions: streams  # type: ignore[assignment]
    try:
        TrainingRun(train_lines, val_lines, model, train, sink=sink).run()
    finally:
        cache_eval.read_streams = original  # type: ignore[assignment]
    return epochs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    tuning.for_training()
    print(f"machine: {machine()}")
    for label, streams in (("streams side by side", None), ("one stream (before)", 1)):
        epochs = run_epochs(args, streams)
        for i, e in enumerate(epochs, 1):
            print(
                f"{label}: epoch {i}: training {e['train']:.2f} s, validation {e['val']:.3f} s "
                f"({e['val'] / (e['train'] + e['val']):.1%}; CPU seconds: "
                f"{e['val_cpu'] / (e['train_cpu'] + e['val_cpu']):.1%})"
            )
        # the first epoch pays for warming up (and the thread count's trial): the rest
        rest = epochs[1:] or epochs
        wall = median([e["val"] / (e["train"] + e["val"]) for e in rest])
        cpu = median([e["val_cpu"] / (e["train_cpu"] + e["val_cpu"]) for e in rest])
        print(f"{label}: median validation share {wall:.1%} (CPU seconds: {cpu:.1%})")


if __name__ == "__main__":
    main()
