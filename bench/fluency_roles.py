"""Where the song form's text is less likely to the network than plain sampling's, by token role.

    python bench/fluency_roles.py --checkpoint M [M ...] [--seeds 3] [--tokens 1500]
        [--temperature 0.8] [--flags "--top-p 0.95"]

For each checkpoint × seed it writes a song with the default settings (plus --flags) and one
with plain sampling (--no-form --cache off --returns 0, after the same flags), as
bench/song_form.py does, and sorts every token of each by its role: a word inside a new line,
a new line's first or last word, a space, a line end, or any token of a line that repeats one
of the 30 before it. It prints, pooled over the songs, each role's share of the tokens and the
network's mean surprise (-log p, nats, the network alone at temperature 1) at them.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import math
from collections import defaultdict

from song_form import PLAIN, WINDOW, network_surprises, settings_for

ROLES = ("inside", "first word", "last word", "space", "line end", "came back")


def roles(opened, ids: list[int]) -> list[str]:
    """Each token's role (ROLES)."""
    from lyrics_tui.core.tokens import NEWLINE

    newline = opened.vocab.id(NEWLINE)
    texts = opened.vocab.decode(ids)
    lines: list[list[int]] = [[]]
    for i, token_id in enumerate(ids):
        lines[-1].append(i)
        if token_id == newline:
            lines.append([])
    sung = ["".join(texts[i] for i in line if ids[i] != newline) for line in lines]
    out = [""] * len(ids)
    for k, line in enumerate(lines):
        back = sung[k] in sung[max(0, k - WINDOW) : k]
        words = [i for i in line if ids[i] != newline and not texts[i].isspace()]
        for i in line:
            if back:
                out[i] = "came back"
            elif ids[i] == newline:
                out[i] = "line end"
            elif texts[i].isspace():
                out[i] = "space"
            elif words and i == words[-1]:
                out[i] = "last word"
            elif words and i == words[0]:
                out[i] = "first word"
            else:
                out[i] = "inside"
    return out


def main() -> None:
    from lyrics_tui.core.loading import open_checkpoint

    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True, nargs="+")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=1500)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--flags", default="")
    args = parser.parse_args()
    pooled = {kind: defaultdict(lambda: [0, 0.0]) for kind in ("form", "plain")}
    for path in args.checkpoint:
        opened = open_checkpoint(path)
        for seed in range(args.seeds):
            for kind, flags in (("form", args.flags), ("plain", f"{args.flags} {PLAIN}")):
                settings = settings_for(opened, flags, args.temperature, seed, args.tokens)
                ids = [t.token_id for t in opened.sampler().generate("", settings)]
                for role, nats in zip(
                    roles(opened, ids), network_surprises(opened, ids), strict=True
                ):
                    pooled[kind][role][0] += 1
                    pooled[kind][role][1] += nats
    for kind, table in pooled.items():
        count = sum(n for n, _ in table.values())
        total = sum(s for _, s in table.values())
        print(f"{kind}: network perplexity {math.exp(total / count):.1f} over {count:,} tokens")
        for role in ROLES:
            n, s = table.get(role, (0, 0.0))
            if n:
                print(f"  {role:>10}: {n / count:6.1%} of tokens, mean -log p {s / n:.2f}")


if __name__ == "__main__":
    main()
