"""`lyrics-tui eval`: the perplexity of a text under a checkpoint."""

from __future__ import annotations

import argparse

from lyrics_tui.core.device import DEVICES
from lyrics_tui.tui.cli.common import emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="perplexity of a text under a checkpoint")
    ev.add_argument("--checkpoint", required=True, help="checkpoint file")
    ev.add_argument(
        "--text", required=True, help="text file to score (words outside the vocabulary: <unk>)"
    )
    ev.add_argument("--device", default="auto", choices=DEVICES)
    ev.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.core.checkpoint import load_checkpoint
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.device import resolve_device
    from lyrics_tui.core.evaluate import evaluate_lines

    device = resolve_device(args.device)
    checkpoint = load_checkpoint(args.checkpoint, map_location=device)
    text = read_corpus(args.text)
    result = evaluate_lines(checkpoint, text.lines, device)
    if args.json:
        emit(
            {
                "perplexity": result.perplexity,
                "tokens": result.tokens,
                "unknown": result.unknown,
                "loss": result.loss,
            }
        )
    else:
        print(
            f"perplexity {result.perplexity:.2f} over {result.tokens:,} tokens "
            f"({result.unknown:,} unknown, scored as <unk>); loss {result.loss:.4f} nats/token"
        )
    return 0
