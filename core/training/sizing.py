"""The default preset's network for a corpus, a time budget and this machine.

The preset was tuned on the tutorial's corpus (37,365 training tokens), where a two-minute
budget holds 25-40 epochs of its network. On a larger corpus, or a slower machine, it would see
each word a few times, still as heavily regularised. So a run that fills a budget with nothing
about the network given (core.config.sizes_to_budget) first times a few training steps here
(`time_steps`), works out how many epochs the budget holds at each size, and takes the largest
that gets at least MIN_EPOCHS (none below SIZES[0]: smaller ones did worse even with more
epochs); and it eases dropout on a corpus larger than TUNED_TOKENS, as (TUNED_TOKENS / tokens)
^ DROPOUT_POWER (a lyrics corpus repeats itself and is learnt by heart within a few epochs,
so fewer epochs alone do not call for less dropout; a larger corpus does). A corpus the size of
the tutorial's, on a machine that gives it MIN_EPOCHS, keeps the preset as it is. Why these
numbers: docs/performance.md ("Defaults that fit the corpus and the machine").
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from lyrics_tui.core import batches as B
from lyrics_tui.core.config import ModelConfig, TrainConfig
from lyrics_tui.core.device import resolve_precision, training_threads
from lyrics_tui.core.model import RNNLanguageModel, detach
from lyrics_tui.core.training.data import PreparedData

SIZES = (256, 320, 384, 448, 512)  # hidden = embedding (tied), smallest first
MIN_EPOCHS = 4.0  # a smaller network is taken when the preset's would get fewer
TUNED_TOKENS = 40_000  # the size of corpus the preset's dropout was tuned on
DROPOUT_POWER = 1.5  # how fast dropout eases on larger corpora
DROPOUT_FLOOR = 0.2  # dropout never eases below this share of the preset's
TRAINING_SHARE = 0.9  # of the budget, left for training by validation and the fit
TIMING_STEPS = 2  # timed after one warm-up step, at two sizes at most
SIZING_SHARE = 0.05  # of the budget, for timing (a first step is always taken)


@dataclass(frozen=True)
class Sizing:
    """What the chooser took, and why."""

    hidden: int
    dropout: float
    epochs: float  # the budget holds about this many epochs at that size
    tokens_per_s: float  # measured at that size
    preset_epochs: float  # ... and at the preset's own size
    tokens: int = 0  # the corpus's training tokens
    threads: int = 0  # the thread count the timing ran fastest with (0: not timed on a CPU)

    def describe(self, preset: ModelConfig) -> str:
        held = f"the budget holds ~{_epochs(self.epochs)} epochs of it here"
        if self.hidden == preset.hidden and self.dropout == preset.dropout:
            return f"the preset's, as it is: {held} ({self.tokens_per_s:,.0f} tokens/s)"
        size = f"{preset.cell.upper()} {self.hidden}"
        if self.hidden != preset.hidden:
            held += f" (~{_epochs(self.preset_epochs)} of the preset's {preset.hidden})"
        eased = ""
        if self.dropout != preset.dropout:
            eased = (
                f"; dropout {self.dropout:.2f} for {self.tokens:,} training tokens (the "
                f"preset's {preset.dropout:.2f} is for ~{TUNED_TOKENS:,})"
            )
        return f"{size}: {held}{eased}"


def _epochs(count: float) -> str:
    return f"{count:.0f}" if count >= 10 else f"{count:.1f}" if count >= 1 else f"{count:.2f}"


def choose(
    preset: ModelConfig, train_tokens: int, budget: float, rate_of: Callable[[int], float]
) -> Sizing:
    """The size and dropout for a corpus of `train_tokens` and a budget of `budget` seconds,
    given the training speed (tokens/s) of each size; only the sizes needed are asked for."""
    seconds = budget * TRAINING_SHARE
    tokens = max(1, train_tokens)

    def epochs_at(rate: float) -> float:
        return rate * seconds / tokens

    top = preset.hidden
    rate = rate_of(top)
    preset_epochs = epochs_at(rate)
    hidden, epochs = top, preset_epochs
    for smaller in reversed([s for s in SIZES if s < top]):
        if epochs >= MIN_EPOCHS:
            break
        hidden, rate = smaller, rate_of(smaller)
        epochs = epochs_at(rate)
    ease = max(DROPOUT_FLOOR, min(1.0, (TUNED_TOKENS / tokens) ** DROPOUT_POWER))
    dropout = round(preset.dropout * ease, 2)
    return Sizing(hidden, dropout, epochs, rate, preset_epochs, int(train_tokens))


def size_for(
    preset: ModelConfig,
    train_config: TrainConfig,
    data: PreparedData,
    device: str,
    timer: Callable[[], float] | None = None,
) -> Sizing:
    """Choose, timing steps on this machine (with the run's threads): the preset's size, and
    when a smaller one is needed the smallest; sizes between are estimated from those two."""
    most = training_threads(train_config.threads) if device == "cpu" else 1
    vocab = len(data.vocab)
    threads = [most]  # the count the top size ran fastest with; the smaller one uses it

    @functools.cache
    def measured(hidden: int) -> float:
        tried = (1, most) if hidden == preset.hidden and most > 1 else (threads[0],)
        limit = SIZING_SHARE / 2 * train_config.time_budget
        rate, threads[0] = time_steps(
            preset, train_config, data, hidden, device, tried, timer=timer, limit_s=limit
        )
        return rate

    def rate_of(hidden: int) -> float:
        if hidden in (preset.hidden, SIZES[0]):
            return measured(hidden)
        large, small = preset.hidden, SIZES[0]
        return estimated_rate(
            preset, vocab, hidden, (large, measured(large)), (small, measured(small))
        )

    chosen = choose(preset, len(data.train_ids), train_config.time_budget, rate_of)
    return replace(chosen, threads=threads[0] if device == "cpu" else 0)


def step_flops(config: ModelConfig, hidden: int, vocab: int) -> float:
    """Multiply-adds per training token at size `hidden` (embedding = hidden): the recurrent
    layers' and the decoder's, forward and backward."""
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[config.cell]
    return 3.0 * (gates * hidden * 2 * hidden * config.layers + hidden * vocab)


def estimated_rate(
    config: ModelConfig,
    vocab: int,
    hidden: int,
    first: tuple[int, float],
    second: tuple[int, float],
) -> float:
    """Tokens/s at `hidden` from two sizes' measured (size, tokens/s): seconds per token as a
    fixed cost plus a cost per multiply-add, both fitted to the two."""
    (h1, r1), (h2, r2) = first, second
    f1, f2, f = (step_flops(config, h, vocab) for h in (h1, h2, hidden))
    t1, t2 = 1 / max(r1, 1e-9), 1 / max(r2, 1e-9)
    per_flop = max(0.0, (t1 - t2) / (f1 - f2)) if f1 != f2 else 0.0
    fixed = max(0.0, t2 - per_flop * f2)
    seconds = fixed + per_flop * f
    return 1 / seconds if seconds > 0 else r1


def sized(preset: ModelConfig, sizing: Sizing) -> ModelConfig:
    # a corpus too large for the preset's network trains without characters: on 50 MB they
    # lowered perplexity but raised peak memory past 1 GB (docs/performance.md)
    characters = preset.characters and sizing.hidden >= preset.hidden
    return replace(
        preset,
        hidden=sizing.hidden,
        embed=sizing.hidden,
        dropout=sizing.dropout,
        characters=characters,
    )


def time_steps(
    model_config: ModelConfig,
    train_config: TrainConfig,
    data: PreparedData,
    hidden: int,
    device: str,
    threads: tuple[int, ...] = (1,),
    steps: int = TIMING_STEPS,
    timer: Callable[[], float] | None = None,
    limit_s: float = math.inf,
) -> tuple[float, int]:
    """Training tokens/s of the network at size `hidden` on this data and machine, and the
    thread count (of `threads`, tried in order) that gave it: a fresh network takes one step
    to warm up, then `steps` timed ones per count, in the run's precision. A count whose first
    step is more than twice as slow as the best so far is not tried again (two threads beside
    a busy process spin against it: core/device.py). Past `limit_s` no step is started; with
    none timed but the first, that one's speed is returned."""
    import time

    timer = timer or time.perf_counter
    config = replace(
        model_config, hidden=hidden, embed=hidden, vocab_size=len(data.vocab), dropout=0.5
    )
    # timed without characters (2-5% of a step; off where the network shrinks, see sized)
    model = RNNLanguageModel(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    needed = (steps + 2) * train_config.bptt * train_config.batch_size  # not the whole corpus
    streams = B.batchify(data.train_ids[:needed], train_config.batch_size).to(device)
    bf16 = resolve_precision(train_config.precision, device) == "bf16"
    autocast = "cuda" if device.startswith("cuda") else "cpu"
    batches = list(itertools.islice(B.stream_batches(streams, train_config.bptt), steps + 1))
    state = model.init_hidden(streams.size(1), device)

    def step(i: int) -> tuple[float, int]:
        nonlocal state
        x, y = batches[i % len(batches)]
        began = timer()
        with torch.autocast(autocast, dtype=torch.bfloat16, enabled=bf16):
            loss, state = model(x, state, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state = detach(state)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return timer() - began, y.numel()

    if device == "cpu":
        torch.set_num_threads(threads[0])
    started = timer()
    first_s, tokens = step(0)  # the first step pays for warming up
    best_s, best_count = math.inf, threads[0]
    for count in threads:
        if device == "cpu":
            torch.set_num_threads(count)
        for i in range(1, steps + 1):
            if timer() - started >= limit_s:
                break
            seconds, tokens = step(i)
            if seconds < best_s:
                best_s, best_count = seconds, count
            elif seconds > 2 * best_s:
                break
    best_s = min(best_s, first_s)  # the first one alone, when there was no time for more
    if device == "cpu":
        torch.set_num_threads(best_count)
    return (tokens / best_s if best_s > 0 else math.inf), best_count
