"""Is a song likelier to networks that neither wrote it nor chose its drafts?

    python bench/cross_judge.py --checkpoint M0 M1 M2 [--seeds 3] [--tokens 1500]
        [--temperature 0.8] [--settings NAME=FLAGS ...]

Second drafts (core/songform/drafts.py) keep the draft the writing network finds likelier, so
the writer's own perplexity of the text falls by construction. Here each checkpoint writes a
song per seed with each setting (default: no second drafts, the defaults, plain sampling), and
every other checkpoint scores it (the network alone at temperature 1, as bench/song_form.py
scores fluency). The checkpoints must share a vocabulary: models of one corpus do.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics

from _common import machine
from song_form import PLAIN, network_perplexity, settings_for, write_song

SETTINGS = ("no second drafts=--redraft 0", "defaults=", f"plain sampling={PLAIN}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", nargs="+", required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=1500)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), metavar="NAME=FLAGS")
    args = parser.parse_args()
    from lyrics_tui.core.loading import open_checkpoint

    models = [open_checkpoint(path) for path in args.checkpoint]
    if len(models) < 2 or any(m.vocab.tokens != models[0].vocab.tokens for m in models):
        parser.error("give two or more checkpoints with one vocabulary (models of one corpus)")
    print(machine())
    for named in args.settings:
        name, _, flags = named.partition("=")
        own, others = [], []
        for w, writer in enumerate(models):
            for seed in range(args.seeds):
                settings = settings_for(writer, flags, args.temperature, seed, args.tokens)
                _, ids = write_song(writer, settings)
                own.append(network_perplexity(writer, ids))
                others += [network_perplexity(m, ids) for j, m in enumerate(models) if j != w]
        print(
            f"{name}: the writer's network {statistics.median(own):.1f}, the others' "
            f"{statistics.median(others):.1f} (medians of {len(own)} and {len(others)})"
        )


if __name__ == "__main__":
    main()
