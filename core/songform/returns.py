"""Which line comes back: at each line start a song decides, with its corpus's odds, whether a
line returns and which (core/songform/writer.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from lyrics_tui.core.songform.novelty import SungLine

if TYPE_CHECKING:
    from lyrics_tui.core.songform.corpus_form import CorpusForm

RHYMING_RETURN = 4.0  # how much likelier a line comes back when it rhymes with the one before
SHORTEST_JUMP = 4  # a line comes back from at least this far up, unless a block goes on
# (nearer, it reads as a loop: AB AB)


def eligible(lines: Sequence[SungLine], unk_id: int, limit: int) -> list[SungLine]:
    """The lines that may come back now: not the line just sung, no <unk>, sung fewer than
    `limit` times in the window (0: no limit), and themselves sung first here (a line that
    came back is returned to through the one it repeats: blocks follow the first singing)."""
    if len(lines) < 2:
        return []
    counts = Counter(line.tokens for line in lines)
    previous = lines[-1].tokens
    return [
        line
        for line in list(lines)[:-1]
        if unk_id not in line.tokens
        and line.tokens != previous
        and line.returned_from is None
        and not (limit and counts[line.tokens] >= limit)
    ]


def returning_line(
    corpus: CorpusForm,
    lines: Sequence[SungLine],
    number: int,
    model: np.ndarray,
    draw: float,
    rng: np.random.Generator | None,
    unk_id: int,
    limit: int,
    rhyme: int = -1,
) -> SungLine | None:
    """The line that comes back as line `number` (None: a new line).

    After a line that came back, the next line of its block comes back with the corpus's
    chance of a block going on, else a new line. After a new line, a line comes back with the
    corpus's chance of a return after a new line: one from at least SHORTEST_JUMP lines up,
    picked by the model's (and song memory's) probability of its first word here, times how
    often the corpus's lines return from that far, times RHYMING_RETURN when it ends on
    `rhyme` (the rhyme the line would aim for). `draw` is a uniform number for the first
    choice; `rng` picks the line (None: the likeliest, for greedy decoding)."""
    candidates = eligible(lines, unk_id, limit)
    if not candidates:
        return None
    previous = lines[-1]
    if previous.returned_from is not None:  # a block goes on, or ends
        if draw < corpus.return_after_return * corpus.continue_block:
            wanted = previous.returned_from + 1
            return next((line for line in candidates if line.number == wanted), None)
        return None
    if draw >= corpus.return_after_new:
        return None
    candidates = [line for line in candidates if number - line.number >= SHORTEST_JUMP]
    if not candidates:
        return None
    distance = np.array([number - line.number for line in candidates])
    prior = np.asarray(corpus.distances, dtype=np.float64) + 0.5
    weights = prior[np.minimum(distance, len(prior) - 1)]
    weights = weights * (np.array([model[line.tokens[0]] for line in candidates]) + 1e-9)
    weights *= np.where([line.group == rhyme for line in candidates], RHYMING_RETURN, 1.0)
    if rng is None:
        return candidates[int(np.argmax(weights))]
    return candidates[int(rng.choice(len(candidates), p=weights / weights.sum()))]
