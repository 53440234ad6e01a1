"""Tokenise once: how much sooner a rerun on a large corpus reaches its first training batch.

Generates a corpus of SIZE MB (lines recombined from the bundled corpus, as
tests/core/test_large_corpus.py does), then starts training on it in a fresh process, twice per
round: first with an empty cache folder (the corpus is segmented and the cache written), then
again (the ids are read from the cache). Each time is from launching the process to the first
finished batch: interpreter and torch start-up, reading the file, preparing the data, building
the model, one step. Prints the medians and their ratio.

    python bench/token_cache.py [--size-mb 50] [--tokenizer word|char] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, median

sys.path.insert(0, str(ROOT))
from tests.helpers import make_corpus

CHILD = r"""
import json, sys, time
from lyrics_tui.core import tuning
tuning.for_training()
from lyrics_tui.core.config import resolve_settings
from lyrics_tui.core.corpus import read_corpus
from lyrics_tui.core.events import BatchFinished
from lyrics_tui.core.trainer import TrainingRun

corpus = read_corpus(sys.argv[1])
model_cfg, train_cfg = resolve_settings(
    "default",
    {"cell": "lstm", "embed": 16, "hidden": 16, "dropout": 0.0, "tie_weights": False},
    {"tokenizer": sys.argv[2], "max_vocab": 3000, "batch_size": 8, "bptt": 12, "threads": 1,
     "epochs": 1, "val_fraction": 0.01},
)
train, val = corpus.split(train_cfg.val_fraction)
prepared = time.time()
run = None

def sink(event):
    if isinstance(event, BatchFinished):
        print(json.dumps({"first_batch": time.time(), "prepared": prepared}), flush=True)
        run.stop()

run = TrainingRun(train, val, model_cfg, train_cfg, sink=sink)
run.run()
"""


def first_batch_s(corpus: Path, tokenizer: str, cache: Path) -> float:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(corpus), tokenizer],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout.splitlines()[-1])
    return report["first_batch"] - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--tokenizer", choices=("word", "char"), default="word")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lyrics-tui-bench-cache-"))
    try:
        corpus = work / "big.txt"
        make_corpus(corpus, args.size_mb)
        cold, warm = [], []
        for _ in range(args.rounds):
            cache = work / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(first_batch_s(corpus, args.tokenizer, cache))
            warm.append(first_batch_s(corpus, args.tokenizer, cache))
            print(f"first run {cold[-1]:.1f} s, second run {warm[-1]:.1f} s", flush=True)
        print(
            f"{machine()}; {args.size_mb} MB corpus, --tokenizer {args.tokenizer}: launch to "
            f"first batch {median(cold):.1f} s with an empty cache, {median(warm):.1f} s from "
            f"the cache: {median(cold) / median(warm):.1f}x sooner"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
