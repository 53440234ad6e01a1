"""`lyrics-tui generate`: write lyrics token by token from a checkpoint."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from lyrics_tui.core.device import DEVICES
from lyrics_tui.core.errors import terminal_text
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.core.settings import SAMPLER
from lyrics_tui.tui.cli.common import (
    JSON_HELP,
    adapt_argument,
    adapt_settings,
    cache_argument,
    cache_json,
    cache_option,
    checkpoint_argument,
    emit,
    prompt_argument,
    sampler_arguments,
    sampler_settings,
    setting_argument,
    warn,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    gen = sub.add_parser(
        "generate",
        help="generate lyrics from a checkpoint",
        description="Generate text token by token. Unknown prompt words are read as <unk> "
        "(with a warning). The song form (--form, on by default; docs/writing.md) gives lines "
        "of the training corpus's lengths, line ends that rhyme (--rhyme) and lines that come "
        "back whole as a chorus does, while a new line is new; song memory (--cache, on by "
        "default where the checkpoint stores fitted settings) chooses which line comes back. "
        "With --no-form, song memory is mixed into what is sampled instead: the song recalls "
        "the lines finished so far, not the one being written, and the repetition penalty "
        "applies to the network's scores only, before the cache is mixed in; temperature, "
        "top-k and top-p apply to the mixture.",
    )
    checkpoint_argument(gen)
    prompt_argument(gen)
    defaults = SamplerSettings()
    setting_argument(gen, SAMPLER["max_tokens"], defaults.max_tokens)
    setting_argument(gen, SAMPLER["max_lines"], defaults.max_lines)
    sampler_arguments(gen)
    cache_argument(gen)
    adapt_argument(
        gen,
        "dynamic evaluation while writing: the network keeps learning from the song as it "
        "writes it (on a copy of the weights). It learns its own output, so it soon sings a "
        "few lines in turn (docs/memory.md); an experiment, off by default. Needs torch",
    )
    gen.add_argument(
        "--device",
        default="cpu",
        choices=DEVICES,
        help="where to run the network; default cpu (numpy, the fastest at batch 1)",
    )
    gen.add_argument("--json", action="store_true", help=JSON_HELP)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from lyrics_tui.core.loading import open_checkpoint

    settings = sampler_settings(args, max_tokens=args.length, max_lines=args.lines)
    option = cache_option(args)
    device = args.device
    if device != "cpu":
        from lyrics_tui.core.device import resolve_device

        device = resolve_device(device)
    adapt = adapt_settings(args)
    opened = open_checkpoint(args.checkpoint, device, adapt=adapt, on_note=warn)
    memory = opened.cache(option)
    settings = replace(settings, cache=memory.settings)
    generation = opened.sampler().generate(args.prompt, settings)
    warn(([memory.note] if memory.note else []) + generation.warnings)
    out = sys.stdout
    if not args.json and generation.prompt:
        out.write(terminal_text(generation.prompt))
        out.flush()
    count = 0
    first_at = None
    gen_start = time.perf_counter()
    for token in generation:
        count += 1
        if args.json:
            emit(
                {
                    "event": "token",
                    "token": token.text,
                    "prob": token.prob,
                    "network_prob": token.network_prob,
                    "cache_prob": token.cache_prob,
                }
            )
        else:
            out.write(terminal_text(token.text))
            out.flush()
        if first_at is None:
            first_at = time.perf_counter() - started
    spent = time.perf_counter() - gen_start
    rate = count / spent if spent > 0 else 0.0
    if args.json:
        emit(
            {
                "event": "done",
                "text": generation.text,
                "tokens": count,
                "tokens_per_s": rate,
                "seed": generation.seed,
                "first_token_s": first_at,
                "cache": cache_json(memory.settings, memory.source),
                "form": generation.settings.form,
                "rhyme": generation.settings.rhyme if generation.settings.form else 0.0,
                "returns": generation.settings.returns,
                "redraft": generation.settings.redraft if generation.settings.form else 0.0,
                "adapt": None if adapt is None else adapt.to_dict(),
            }
        )
    else:
        if not generation.text.endswith("\n"):
            out.write("\n")
        print(f"[{count} tokens, seed {generation.seed}, {rate:,.0f} tokens/s]", file=sys.stderr)
    return 0
