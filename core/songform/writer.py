"""The song form while writing: one SongWriter per song, shared by generation and the
step-through, turns each step's distribution into the one sampled from.

Three rules (docs/writing.md):
- Line length: a line ends with the chance the corpus's lengths give (lengths.py), leaning on
  where the network itself would end it; never before `shortest` characters, always by
  `longest`.
- Rhyme: a line rhymes with the line before (its last Han character's group, rhyme.py). Words
  that would end the line on that rhyme are favoured as the line nears its end, and a line end
  after a word off the rhyme is damped.
- Returning lines: at each line start the song decides, with the corpus's own odds, whether a
  line comes back (the next line of a block that came back, or an earlier line the model and
  song memory find likely here) or a new one is written. A line that comes back comes back
  whole; a new line is new: it never ends as a copy of one of the last 30 lines, nor on the
  word that ended one of the last few, and a word that would carry a run of 4 characters
  copied from one of them is damped.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from lyrics_tui.core.config import LINE_WINDOW
from lyrics_tui.core.songform.rhyme import NO_GROUP, group_name

if TYPE_CHECKING:
    from lyrics_tui.core.songform.corpus_form import CorpusForm
    from lyrics_tui.core.songform.vocabulary import VocabularyRhymes

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
COPY_RUN = 4  # characters in a row copied from a recent line that a new line avoids
RHYMING_RETURN = 4.0  # how much likelier a line comes back when it rhymes with the one before
SHORTEST_JUMP = 4  # a line comes back from at least this far up, unless a block goes on
# (nearer, it reads as a loop: AB AB)
LEAN_RATE = 0.05  # how fast the network's habit at line ends is learnt (about 20 steps)
LOOK_AHEAD = 24  # the likeliest words on the rhyme whose line end the writer looks ahead to
WORN_LINES = 12  # a new rhyme avoids the groups that ended WORN_TIMES of the last 12 lines
WORN_TIMES = 3
FRESH_ENDS = 4  # a new line does not end on the character that ended one of the last 4
# (the tutorial's corpus: 9% of new lines do)


@dataclass(frozen=True)
class FormTuning:
    """The rules' constants (docs/writing.md says how they were chosen)."""

    network_weight: float = 0.5  # how much the network's own line-end odds count against
    # the corpus's hazard (log-odds interpolation; 0: the hazard alone)
    end_rhyme: float = 1.5  # log-odds added to a line end after a word on the rhyme, taken
    # from one off it (times the rhyme strength)
    rhyme_pull: float = 3.0  # log-factor on words of the rhyme, times the chance of a line
    # end right after them (times the rhyme strength)
    stale_end: float = 2.0  # log-odds taken from a line end on a word that ended a recent line
    copy_damp: float = 0.05  # the factor on a word that would carry a copied run
    new_lines_from_network: bool = True  # new lines sampled without song memory


TUNING = FormTuning()


@dataclass(frozen=True)
class SungLine:
    number: int  # 0 for the song's first line (prompt lines count)
    tokens: tuple[int, ...]
    text: str
    end: str  # its last Han character ("" when none)
    length: int  # its Han characters
    group: int  # the rhyme group it ends on (NO_GROUP: none)
    returned_from: int | None  # the number of the line it repeats, when it came back


@dataclass(frozen=True)
class FormStep:
    """What the form did at one step (the step-through shows it)."""

    rhyme: str = ""  # the rhyme group the line aims for ("" none)
    written: int = 0  # Han characters of the line so far
    longest: int = 0  # the line ends by this many
    end_chance: float = 0.0  # the chance the line ends at this step
    returning: int | None = None  # the number of the line coming back (None: a new line)
    returning_text: str = ""  # and its words

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class SongWriter:
    def __init__(
        self,
        corpus: CorpusForm,
        rhymes: VocabularyRhymes,
        newline_id: int,
        unk_id: int,
        *,
        rhyme: float,
        returns: int,
        seed: int,
        greedy: bool = False,
        tuning: FormTuning = TUNING,
    ) -> None:
        self.corpus = corpus
        self.rhymes = rhymes
        self.newline_id = newline_id
        self.unk_id = unk_id
        self.strength = rhyme
        self.limit = returns
        self.seed = seed
        self.greedy = greedy
        self.tuning = tuning
        lengths = corpus.lengths
        self.shortest, self.longest = lengths.shortest, lengths.longest
        self.lengths = lengths
        self.hazard = lengths.hazard
        self.distance_prior = np.asarray(corpus.distances, dtype=np.float64) + 0.5
        runs = np.asarray(corpus.runs[2:], dtype=np.float64)  # a rhyme is held 2+ lines
        self.run_quantiles = 2 + np.searchsorted(
            np.cumsum(runs) / runs.sum(), (np.arange(100) + 0.5) / 100, side="left"
        )
        self.run_phase = float(np.random.default_rng((seed, 0x52554E)).random())
        self.runs_drawn = 0
        self.lines: deque[SungLine] = deque(maxlen=LINE_WINDOW)
        self.sung_lengths = np.zeros(self.longest + 1)  # the song's lines by length
        self.reach = lengths.lacking(self.sung_lengths)
        self.number = 0
        self.ends: deque[int] = deque(maxlen=WORN_LINES)  # the last lines' rhyme groups
        self.target = NO_GROUP  # the rhyme group of the lines before
        self.run = 0  # how many lines in a row ended on it
        self.run_goal = 0  # how many the rhyme is held for
        self.copies: dict[str, set[int]] = {}
        self.stale: set[str] = set()
        # how much likelier than the corpus's lines the network ends a line, on average over
        # this song's steps so far (log-odds): its own habit, which the length rule discounts
        self.lean = 0.0
        self.pending_lean: float | None = None
        self.plan: SungLine | None = None
        self.step = FormStep()
        # (candidate ids, token) -> about log p(token) one step after each candidate; set by
        # the sampler before each step when its stepper can look ahead (None: it cannot)
        self.look: Callable[[np.ndarray, int], np.ndarray | None] | None = None
        self._start_line()

    def _start_line(self) -> None:
        self.current: list[int] = []
        self.text = ""
        self.written = 0
        self.last_group = NO_GROUP
        self.last_end = ""  # the line's last Han character so far
        self.last_word = -1  # and the word it is in
        self.plan = None
        self.decided = False
        self.reach = self.corpus.lengths.lacking(self.sung_lengths)  # this line's lengths

    def copy(self) -> SongWriter:
        """An independent copy (the step-through keeps one per step, to step back)."""
        twin = object.__new__(SongWriter)
        twin.__dict__.update(self.__dict__)
        twin.lines = deque(self.lines, maxlen=LINE_WINDOW)
        twin.ends = deque(self.ends, maxlen=WORN_LINES)
        twin.current = list(self.current)
        return twin

    # -- reading -----------------------------------------------------------------------------
    def read(self, token_id: int) -> None:
        """A token was written (or read from the prompt)."""
        if self.pending_lean is not None:
            self.lean += LEAN_RATE * (self.pending_lean - self.lean)
            self.pending_lean = None
        if token_id == self.newline_id:
            self._finish_line()
            return
        if self.plan is not None:
            at = len(self.current)
            if at >= len(self.plan.tokens) or self.plan.tokens[at] != token_id:
                self.plan = None  # another word was chosen: the line is new from here
        token = self.rhymes.tokens[token_id]
        self.current.append(token_id)
        self.text += token
        length = int(self.rhymes.lengths[token_id])
        if length:
            self.written += length
            self.last_group = self.rhymes.group(token_id)
            self.last_end = self.rhymes.ends[token_id]
            self.last_word = token_id

    def _finish_line(self) -> None:
        if self.current:
            source = None
            if self.plan is not None and len(self.current) == len(self.plan.tokens):
                source = self.plan.number
            line = SungLine(
                self.number,
                tuple(self.current),
                self.text,
                self.last_end,
                self.written,
                self.last_group,
                source,
            )
            self.lines.append(line)
            self.number += 1
            if self.written:
                self.sung_lengths = self.sung_lengths.copy()  # copies share it otherwise
                self.sung_lengths[min(self.written, self.longest)] += 1
            self._index_copies()
            self.stale = {ln.end for ln in list(self.lines)[-FRESH_ENDS:] if ln.end}
            self.ends.append(self.last_group)
            self._follow_rhyme(self.last_group)
        self._start_line()

    def _follow_rhyme(self, group: int) -> None:
        """A line ended on `group`: the rhyme's run goes on, or a new one starts."""
        if group == NO_GROUP:
            return
        if group == self.target:
            self.run += 1
            return
        self.target, self.run = group, 1
        u = 0.5 if self.greedy else (self.run_phase + self.runs_drawn * GOLDEN) % 1.0
        self.runs_drawn += 1
        self.run_goal = int(self.run_quantiles[int(u * len(self.run_quantiles))])

    def worn_groups(self) -> list[int]:
        counts = Counter(g for g in self.ends if g != NO_GROUP)
        return [g for g, n in counts.items() if n >= WORN_TIMES]

    @property
    def aim(self) -> int:
        """The rhyme the next line ends on (NO_GROUP: a new one, not the lines' before)."""
        return self.target if self.run < self.run_goal else NO_GROUP

    def _index_copies(self) -> None:
        """The words that follow each run of COPY_RUN - 1 characters in the recent lines."""
        copies: dict[str, set[int]] = {}
        tokens = self.rhymes.tokens
        for line in self.lines:
            prefix = ""
            for token_id in line.tokens:
                if len(prefix) >= COPY_RUN - 1:
                    copies.setdefault(prefix[-(COPY_RUN - 1) :], set()).add(token_id)
                prefix += tokens[token_id]
        self.copies = copies

    # -- deciding at a line start ------------------------------------------------------------
    def _eligible(self) -> list[SungLine]:
        """Lines that may come back now: not the line just sung, no <unk>, and sung fewer than
        `limit` times in the window."""
        if len(self.lines) < 2:
            return []
        counts = Counter(line.tokens for line in self.lines)
        previous = self.lines[-1].tokens
        return [
            line
            for line in list(self.lines)[:-1]
            if self.unk_id not in line.tokens
            and line.tokens != previous
            and not (self.limit and counts[line.tokens] >= self.limit)
        ]

    def _decide(self, model: np.ndarray) -> None:
        """Does a line come back here, and which? The corpus's odds decide whether; the next
        line of a block that is coming back, or else the model's (and song memory's) liking
        for each candidate's first word times how often lines return from that far, which."""
        self.decided = True
        candidates = self._eligible()
        if not candidates:
            return
        previous = self.lines[-1]
        draws = np.random.default_rng((self.seed, 0x534F4E47, self.number))
        u = 0.5 if self.greedy else float(draws.random())
        corpus = self.corpus
        if previous.returned_from is not None:  # a block goes on, or ends
            if u < corpus.return_after_return * corpus.continue_block:
                wanted = previous.returned_from + 1
                self.plan = next((ln for ln in candidates if ln.number == wanted), None)
            return
        if u >= corpus.return_after_new:
            return
        candidates = [ln for ln in candidates if self.number - ln.number >= SHORTEST_JUMP]
        if not candidates:
            return
        distance = np.array([self.number - line.number for line in candidates])
        prior = self.distance_prior[np.minimum(distance, len(self.distance_prior) - 1)]
        weights = prior * (np.array([model[line.tokens[0]] for line in candidates]) + 1e-9)
        if self.strength > 0 and self.aim != NO_GROUP:  # one that rhymes with the line before
            rhymes = np.array([line.group == self.aim for line in candidates])
            weights *= np.where(rhymes, RHYMING_RETURN**self.strength, 1.0)
        if self.greedy:
            self.plan = candidates[int(np.argmax(weights))]
        else:
            self.plan = candidates[int(draws.choice(len(candidates), p=weights / weights.sum()))]

    # -- shaping -----------------------------------------------------------------------------
    def shape(self, probs: np.ndarray, model: np.ndarray) -> np.ndarray:
        """The distribution to sample from, given the one the sampler's filters left (`probs`,
        summing to 1) and the model's own (temperature 1, for the line-end odds)."""
        if not self.current and not self.decided:
            self._decide(model)
        if self.plan is not None:
            at = len(self.current)
            plan = self.plan.tokens
            token = plan[at] if at < len(plan) else self.newline_id
            out = np.zeros_like(probs)
            out[token] = 1.0
            ending = float(token == self.newline_id)
            self.step = self._step(ending, self.plan.number, self.plan.text)
            return out
        return self._new_line(probs, model)

    def _new_line(self, probs: np.ndarray, model: np.ndarray) -> np.ndarray:
        nl = self.newline_id
        words = probs.copy()
        words[nl] = 0.0
        c = self.written
        t = self.tuning
        if self.strength > 0 and self.aim != NO_GROUP and c + 1 >= self.shortest:
            self._pull_rhyme(words)
        if len(self.text) >= COPY_RUN - 1:
            copied = self.copies.get(self.text[-(COPY_RUN - 1) :])
            if copied:
                words[list(copied)] *= t.copy_damp
        if c >= self.longest:
            words[:] = 0.0
        total = float(words.sum())
        end = 1.0
        if total > 0 and self.current:
            step = max(1.0, float(words @ self.rhymes.lengths) / total)
            if self.shortest <= c < self.longest:
                typical = self.hazard[min(c, len(self.hazard) - 1)]
                self.pending_lean = float(_logit(model[nl]) - _logit(typical))
            last = np.array([self.last_word])
            end = float(self._end_chances(np.array([c]), last, model[nl : nl + 1], step)[0])
        elif total > 0:
            end = 0.0
        if end > 0 and c < self.longest and self._repeats_a_line():
            end = 0.0  # a new line is new
        if total <= 0:
            out = np.zeros_like(probs)
            out[nl] = 1.0
        else:
            out = words * ((1.0 - end) / total)
            out[nl] = end
        self.step = self._step(end)
        return out

    def _pull_rhyme(self, words: np.ndarray) -> None:
        """Favour the words that would end the line on the rhyme: each by the chance that the
        line then ends right after it, as the next step would reckon it (with the network's
        look-ahead where the stepper has one, else from the drawn length alone)."""
        t, table = self.tuning, self.rhymes
        aim, c = self.aim, self.written
        if self.look is not None:
            members = table.members[aim]
            if len(members) > LOOK_AHEAD:
                members = members[np.argpartition(words[members], -LOOK_AHEAD)[-LOOK_AHEAD:]]
            top = members[(words[members] > 0) & (c + table.lengths[members] >= self.shortest)]
            ahead = self.look(top, self.newline_id) if len(top) else None
            if ahead is not None:
                chance = self._end_chances(c + table.lengths[top], top, np.exp(ahead), 1.0)
                words[top] *= np.exp(t.rhyme_pull * self.strength * chance)
                return
        members = table.members[aim]
        chance = self.lengths.end_chances(self.reach, c + table.lengths[members], 1.0)
        pull = np.exp(t.rhyme_pull * self.strength * chance)
        if self.stale:
            pull[np.isin(table.end_codes[members], table.codes(self.stale))] = 1.0
        words[members] *= pull

    def _step(
        self,
        end: float,
        returning: int | None = None,
        text: str = "",
    ) -> FormStep:
        rhyme = group_name(self.aim) if self.strength > 0 else ""
        return FormStep(rhyme, self.written, self.longest, end, returning, text)

    def _repeats_a_line(self) -> bool:
        current = tuple(self.current)
        return any(line.tokens == current for line in self.lines)

    def _end_chances(
        self, written: np.ndarray, last: np.ndarray, network_end: np.ndarray, step: float
    ) -> np.ndarray:
        """The chance of a line end after lines of `written` characters whose last words (with
        a Han character; -1: none) are `last`, where the network's own line-end chance is
        `network_end` and the next word's length about `step`.

        The chance the lengths the song lacks give (lengths.py), the next word's length apart;
        the network moves it by how much likelier it finds an end there than lines usually
        do; a word on the rhyme raises it, one off it lowers it, and so does the word
        that ended one of the last few lines."""
        t = self.tuning
        h = np.clip(self.lengths.end_chances(self.reach, written, step), 1e-6, 1.0 - 1e-6)
        typical = self.hazard[np.minimum(written, len(self.hazard) - 1)]
        lean = _logit(network_end) - _logit(typical) - self.lean
        logit = _logit(h) + t.network_weight * lean
        table = self.rhymes
        word = np.maximum(last, 0)
        has = last >= 0
        groups = np.where(has, table.groups[word], NO_GROUP)
        codes = np.where(has, table.end_codes[word], 0)
        stale = np.isin(codes, table.codes(self.stale)) & (codes > 0)
        logit -= np.where(stale, t.stale_end, 0.0)
        if self.strength > 0:
            weight = t.end_rhyme * self.strength
            # a line off the rhyme waits for one less as it outgrows the lengths it may have
            waiting = weight * np.interp(written, np.arange(len(self.reach)), self.reach)
            if self.aim != NO_GROUP:  # hold the rhyme; a neutral-tone ending does not
                off = has & ~stale & (groups != self.aim)
                logit += np.where(groups == self.aim, weight, np.where(off, -waiting, 0.0))
            else:  # its run is over: change it, to a rhyme not worn by the lines before
                worn = (groups == self.target) | np.isin(groups, self.worn_groups())
                logit -= np.where(has & ~stale & (groups != NO_GROUP) & worn, waiting, 0.0)
        chance = 1.0 / (1.0 + np.exp(-logit))
        return np.where(
            written < self.shortest, 0.0, np.where(written >= self.longest, 1.0, chance)
        )


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1.0 - 1e-6)
    return np.log(p / (1.0 - p))
