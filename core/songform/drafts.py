"""A second draft: a new line that reads worse to the network than most of the lines the song
has drafted is written once more, and the likelier of the two is kept.

Sampling draws some unlucky lines, strings of words the network finds unlikely after one
another; a writer would cross them out. The judge is the network's mean surprise over the
line (-log p per token, temperature 1): a draft above the song's own (1 - redraft) quantile of
drafted lines is drafted again. Both drafts come from the same sampler and the same form, so
the line keeps its length and rhyme rules; only the draw differs (docs/writing.md measures
what it costs and gains). Generation and the step-through write lines here, with the same
random numbers in the same order, so they agree token for token.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lyrics_tui.core.distribution import Distribution, draw, next_token_distribution

if TYPE_CHECKING:
    from lyrics_tui.core.distribution import SamplerSettings
    from lyrics_tui.core.songform.writer import SongWriter
    from lyrics_tui.core.steppers import Stepper

JUDGED_AFTER = 2  # lines drafted before any is judged (a song of 8 lines is judged too)
MOST_DRAFTED = 80  # tokens a draft runs to at most (the form ends a line by 60)
REDRAFT_FROM = 0.6  # below this temperature no line is drafted twice: a cold sampler draws no
# unlucky lines, and the likelier draft was then the one nearer a recent line (docs/writing.md)


@dataclass
class Writing:
    """What writing a line changes, copied for each draft: the network's state and its next
    scores, the words the repetition penalty looks back on, and the song form."""

    state: Any
    logits: np.ndarray
    recent: deque[int]
    writer: SongWriter | None  # None: the form off (no drafts then)

    def copy(self) -> Writing:
        writer = None if self.writer is None else self.writer.copy()
        recent = deque(self.recent, maxlen=self.recent.maxlen)
        return Writing(self.state, self.logits, recent, writer)


@dataclass(frozen=True)
class DraftedToken:
    token_id: int
    dist: Distribution  # the step's distribution (song memory's parts left out past the first)
    h: np.ndarray | None  # the state it was drawn at, for song memory (None: not asked for)
    recalled: bool  # whether `dist` has song memory's parts


@dataclass
class Draft:
    tokens: list[DraftedToken]
    writing: Writing  # after its last token
    surprise: float  # the network's mean -log p over its tokens


def drafting(settings: SamplerSettings, stepper: Stepper, writer: SongWriter | None) -> bool:
    """Whether the next line is written as drafts: the form on, at a new line's start (the form
    decided no line comes back), sampling, and a network that does not learn from what it
    reads (an adaptive one would learn from the draft crossed out)."""
    return (
        writer is not None
        and settings.temperature > 0
        and not writer.current
        and writer.plan is None
        and not getattr(stepper, "learns", False)
    )


def write_line(
    stepper: Stepper,
    settings: SamplerSettings,
    banned: Sequence[int],
    first: Distribution,
    writing: Writing,
    rng: np.random.Generator,
    newline_id: int,
    remember: bool = False,
) -> tuple[Draft, list[float]]:
    """The line written from `writing` (left as it is), whose first step's distribution is
    `first`: one draft, or two and the likelier kept. Also the drafts' surprises, which the
    caller records in the kept writer's history (SongWriter.drafted) once the line is taken."""
    assert writing.writer is not None
    history = writing.writer.drafted

    def draft() -> Draft:
        return _draft(stepper, settings, banned, first, writing.copy(), rng, newline_id, remember)

    kept = draft()
    surprises = [kept.surprise]
    share = settings.redraft
    if share > 0 and settings.temperature >= REDRAFT_FROM and len(history) >= JUDGED_AFTER:
        if kept.surprise > _quantile(history, 1.0 - share):
            again = draft()
            surprises.append(again.surprise)
            kept = again if again.surprise < kept.surprise else kept
    if kept.tokens[-1].token_id == newline_id:  # a draft's line end is read once it is kept:
        read_token(stepper, kept.writing, newline_id)  # (a step wasted on a draft let go)
    return kept, surprises


def read_token(stepper: Stepper, writing: Writing, token_id: int) -> None:
    """`writing` after `token_id`: the form reads it, the repetition penalty's window takes it,
    and the network steps."""
    if writing.writer is not None:
        writing.writer.read(token_id)
    writing.recent.append(token_id)
    writing.logits, writing.state = stepper.step(writing.state, token_id)


def _draft(
    stepper: Stepper,
    settings: SamplerSettings,
    banned: Sequence[int],
    first: Distribution,
    writing: Writing,
    rng: np.random.Generator,
    newline_id: int,
    remember: bool,
) -> Draft:
    """One draft of a line: tokens drawn as the sampler draws them, to the line's end."""
    look = getattr(stepper, "look_ahead", None)
    writer, tokens, surprise = writing.writer, [], 0.0
    assert writer is not None
    dist, recalled = first, True
    while True:
        token_id = draw(rng, dist.final)
        surprise -= math.log(max(float(dist.network_probs[token_id]), 1e-300))
        h = stepper.hidden_vectors(writing.state)[0] if remember else None
        tokens.append(DraftedToken(token_id, dist, h, recalled))
        if token_id == newline_id:  # read once the draft is kept (write_line)
            return Draft(tokens, writing, surprise / len(tokens))
        read_token(stepper, writing, token_id)
        if len(tokens) >= MOST_DRAFTED:
            return Draft(tokens, writing, surprise / len(tokens))
        ahead = None if look is None else functools.partial(look, writing.state, writing.logits)
        writer.look = ahead
        dist = next_token_distribution(
            writing.logits, settings, writing.recent, banned, None, writer.shape, True
        )
        recalled = False


def _quantile(values: Sequence[float], q: float) -> float:
    """numpy's default quantile (linear between the two nearest), for the few values a song
    has drafted: np.quantile's set-up costs more than the sort."""
    ordered = sorted(values)
    at = (len(ordered) - 1) * q
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)
