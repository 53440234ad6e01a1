"""`lyrics-tui eval`: the perplexity of a text under a checkpoint, plain and with song memory."""

from __future__ import annotations

import argparse

from lyrics_tui.core.device import DEVICES
from lyrics_tui.tui.cli.common import (
    JSON_HELP,
    adapt_argument,
    adapt_settings,
    cache_argument,
    cache_json,
    cache_option,
    checkpoint_argument,
    emit,
    warn,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser(
        "eval",
        help="perplexity of a text under a checkpoint",
        description="Perplexity of a text: the network alone, and with song memory (the "
        "continuous cache; docs/memory.md) and dynamic evaluation when asked. Every token "
        "counts, <unk> included; song memory leaves p(<unk>) to the network, so both figures "
        "are over the same tokens.",
    )
    checkpoint_argument(ev)
    ev.add_argument(
        "--text",
        required=True,
        metavar="FILE",
        help="the text file to score, one line per line (words outside the vocabulary: "
        "<unk>); required",
    )
    cache_argument(ev)
    ev.add_argument(
        "--fit-cache",
        action="store_true",
        help="fit song memory's N, THETA, LAMBDA on this text and store them in the checkpoint "
        "(for files saved before training did it); the figure on the same text is optimistic; "
        "default off",
    )
    adapt_argument(
        ev,
        "also report dynamic evaluation: the network keeps learning from the text as it reads "
        "it, each word scored before it is learnt from (a copy; the file is unchanged)",
    )
    ev.add_argument(
        "--device",
        default="auto",
        choices=DEVICES,
        help="where to run the network; default auto (CUDA when there is one, else the CPU)",
    )
    ev.add_argument("--json", action="store_true", help=JSON_HELP)


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.core.cache import resolve_cache, stored_fit
    from lyrics_tui.core.checkpoint import load_checkpoint
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.device import resolve_device
    from lyrics_tui.core.evaluate import evaluate_lines, fit_cache_on_lines
    from lyrics_tui.core.loading import checkpoint_to_read

    option = cache_option(args)
    device = resolve_device(args.device)
    path = checkpoint_to_read(args.checkpoint, on_note=warn)  # none given: the newest, as generate
    checkpoint = load_checkpoint(path, map_location=device)
    text = read_corpus(args.text)
    fit = None
    if args.fit_cache:
        fit = fit_cache_on_lines(checkpoint, text.lines, args.text, device)
    resolved = resolve_cache(option, stored_fit(checkpoint), checkpoint.path)
    if resolved.note:
        warn([resolved.note])
    adapt = adapt_settings(args)
    result = evaluate_lines(checkpoint, text.lines, device, resolved.settings, adapt)
    if args.json:
        row = {
            "perplexity": result.perplexity,
            "tokens": result.tokens,
            "unknown": result.unknown,
            "loss": result.loss,
            "cache_perplexity": result.cache_perplexity,
            "cache": cache_json(result.cache, resolved.source),
        }
        if adapt is not None:
            row["adapt_perplexity"] = result.adapt_perplexity
            row["adapt_cache_perplexity"] = result.adapt_cache_perplexity
            row["adapt"] = adapt.to_dict()
        if fit is not None:
            row["fit"] = fit.to_dict()
        emit(row)
        return 0
    print(
        f"perplexity {result.perplexity:.2f} over {result.tokens:,} tokens "
        f"({result.unknown:,} unknown, scored as <unk>); loss {result.loss:.4f} nats/token"
    )
    if result.cache_perplexity is not None and result.cache is not None:
        print(
            f"with song memory ({result.cache.label}, {resolved.source}): perplexity "
            f"{result.cache_perplexity:.2f}"
        )
    if result.adapt_perplexity is not None:
        both = (
            f"; with song memory too {result.adapt_cache_perplexity:.2f}"
            if result.adapt_cache_perplexity is not None
            else ""
        )
        print(f"with dynamic evaluation: perplexity {result.adapt_perplexity:.2f}{both}")
    if fit is not None:
        cross = (
            f"; fitted on its first half, its second half goes {fit.cross_plain_ppl:.2f} -> "
            f"{fit.cross_cache_ppl:.2f}"
            if fit.cross_cache_ppl is not None and fit.cross_plain_ppl is not None
            else ""
        )
        print(
            f"song memory fitted on {args.text} and stored in {checkpoint.path}: "
            f"{fit.settings.label} ({fit.plain_ppl:.2f} -> {fit.cache_ppl:.2f} on the same "
            f"text, optimistic{cross})"
        )
    return 0
