"""How many validation tokens song memory's fit needs: settings fitted on the first S tokens of
a held-out split, scored on text they were not fitted on (the split's second half).

For each checkpoint: read its corpus's validation split (the last 10% of lines) once, fit N, θ
and λ on the first S tokens for several S (never past the split's middle), and give each
choice's perplexity on the second half (read in order: its cache remembers the first half too),
beside the settings fitted on the second half itself (the best any choice could do there) and
the network alone. Also the seconds each fit took (this process, one thread).

    python bench/fit_stretch.py CHECKPOINT CORPUS [CHECKPOINT CORPUS ...]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from _common import machine

from lyrics_tui.core import cache_eval
from lyrics_tui.core.checkpoint import load_checkpoint, model_from_checkpoint
from lyrics_tui.core.corpus import read_corpus
from lyrics_tui.core.trainer import prepare_data

STRETCHES = (500, 1000, 2000, 4000, 8000, 16000)


def tail_ppl(features, settings, start: int) -> float:
    logp = cache_eval.position_logp(features, settings if settings.on else None)
    return math.exp(-float(logp[start:].mean()))


def one(checkpoint_path: str, corpus_path: str) -> None:
    checkpoint = load_checkpoint(checkpoint_path)
    train, val = read_corpus(corpus_path).split(checkpoint.train_config.val_fraction or 0.1)
    data = prepare_data(train, val, checkpoint.train_config, checkpoint.vocab)
    model = model_from_checkpoint(checkpoint)
    features = cache_eval.read_stream(model, data.val_ids, checkpoint.vocab.unk_id)
    half = features.tokens // 2
    second = cache_eval.StreamFeatures(
        features.hidden, features.logp, features.log_known, features.targets, 0.0, features.unk_id
    )
    plain = math.exp(-float(features.logp[half:].mean()))
    own = cache_eval.fit_cache(second.head(features.tokens))  # for its settings' grid only
    assert own is not None
    index = torch.arange(features.tokens)
    best_tail = cache_eval._search(features, {"tail": index >= half})["tail"]
    print(
        f"\n{checkpoint_path} on {corpus_path}: {features.tokens:,} validation tokens; second "
        f"half: network alone {plain:.1f}, settings fitted on it {math.exp(best_tail.nll):.1f} "
        f"[{best_tail.settings}]"
    )
    print(f"{'fitted on':>10}  {'second half':>11}  {'fit s':>6}  settings")
    for size in [s for s in STRETCHES if s < half] + [half]:
        began = time.thread_time()
        fit = cache_eval.fit_cache(features.head(size))
        seconds = time.thread_time() - began
        assert fit is not None
        print(
            f"{size:>10,}  {tail_ppl(features, fit.settings, half):>11.2f}  {seconds:>6.2f}  "
            f"{fit.settings}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pairs", nargs="+", help="CHECKPOINT CORPUS pairs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {machine()}")
    for i in range(0, len(args.pairs) - 1, 2):
        one(args.pairs[i], args.pairs[i + 1])


if __name__ == "__main__":
    main()
