"""The song form while writing: one SongWriter per song, shared by generation and the
step-through, turns each step's distribution into the one sampled from.

Three rules (docs/writing.md):
- Line length: a line ends with the chance the lengths the song still lacks against its corpus
  give (lengths.py), moved by where the network itself would end it; never before `shortest`
  characters, always by `longest`.
- Rhyme: a line rhymes with the line before (its last Han character's group, rhyme.py) for a
  run of lines drawn like the corpus's rhyme runs, then changes to a rhyme the song has not
  worn. Words that would end the line on the rhyme are favoured by the chance that the line
  then ends (the network looked one step ahead), and a line end after a word off it is damped.
- Returning lines: at each line start the song decides whether a line comes back (returns.py).
  A line that comes back comes back whole; a new line is new (novelty.py): it never ends as a
  copy of one of the last 30 lines, nor on the word that ended one of the last few; a word that
  would carry a run of 4 characters copied from one of them is damped; and while the line
  nearly repeats one of them it may not end, and its next word is drawn away from that line's
  characters: from the words the sampler's filters left, or below FREE_FROM from the network's
  own at temperature 1.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from lyrics_tui.core.settings import LINE_WINDOW
from lyrics_tui.core.songform.novelty import Novelty, SungLine, runs_of
from lyrics_tui.core.songform.returns import returning_line
from lyrics_tui.core.songform.rhyme import NO_GROUP, group_name

if TYPE_CHECKING:
    from lyrics_tui.core.songform.corpus_form import CorpusForm
    from lyrics_tui.core.songform.vocabulary import VocabularyRhymes

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
MOST_TOKENS = 60  # a line ends by this many words, whatever their characters
LEAN_RATE = 0.05  # how fast the network's habit at line ends is learnt (about 20 steps)
WORD_SIZE_RATE = 0.05  # and the size of its words (the next word is about that long)
LOOK_AHEAD = 4  # the likeliest words on the rhyme whose line end the writer looks ahead to
# (more rhymed no better: docs/writing.md)
PULL_FROM = 0.05  # ... once a line end within the next two characters has this chance
WORN_LINES, WORN_TIMES = 12, 3  # a new rhyme avoids the groups that ended 3 of the last 12 lines
DRAFTS_JUDGED = 40  # a draft is judged against the last 40 drafted lines (drafts.py)
FRESH_ENDS = 4  # a new line does not end on the character that ended one of the last 4
# (the tutorial's corpus: 9% of new lines do)
FREE_FROM = 0.6  # from this temperature a line that nearly repeats another leaves it with the
# sampler's own words (likelier); below, they are too few to leave it, and the network's at
# temperature 1 are used (docs/writing.md)


@dataclass(frozen=True)
class FormTuning:
    """The rules' constants (docs/writing.md says how they were chosen)."""

    network_weight: float = 1.5  # how much the network's line-end odds move the lengths'
    end_rhyme: float = 2.5  # log-odds of a line end after a word on the rhyme (times the
    # rhyme strength), and taken from one after a word off it
    rhyme_pull: float = 4.0  # log-factor on a word on the rhyme, times the chance of a line
    # end right after it (times the rhyme strength)
    stale_end: float = 2.0  # log-odds taken from a line end on a word that ended a recent line
    copy_damp: float = 0.05  # the factor on a word that would carry a copied run
    stuck_damp: float = 0.2  # on a word with a character of the line it nearly repeats


TUNING = FormTuning()


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

    def parts(self) -> list[str]:
        """What the form does at this step, in words (the step-through's views)."""
        if self.returning is not None:
            return [f"line {self.returning + 1} comes back: {self.returning_text}"]
        return [
            f"{self.written} characters of at most {self.longest}",
            f"rhymes with {self.rhyme}" if self.rhyme else "a new rhyme",
            f"line end now {self.end_chance:.0%}",
        ]


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
        temperature: float = 1.0,
        tuning: FormTuning = TUNING,
    ) -> None:
        self.corpus, self.rhymes, self.tuning = corpus, rhymes, tuning
        self.newline_id, self.unk_id = newline_id, unk_id
        self.strength, self.limit, self.seed = rhyme, returns, seed
        self.set_temperature(temperature)
        self.lengths = corpus.lengths
        self.shortest, self.longest = self.lengths.shortest, self.lengths.longest
        self.hazard = self.lengths.hazard
        runs = np.asarray(corpus.runs[2:], dtype=np.float64)  # a rhyme is held 2+ lines
        self.run_quantiles = 2 + np.searchsorted(
            np.cumsum(runs) / runs.sum(), (np.arange(100) + 0.5) / 100, side="left"
        )
        self.run_phase = float(np.random.default_rng((seed, 0x52554E)).random())
        self.runs_drawn = 0
        self.lines: deque[SungLine] = deque(maxlen=LINE_WINDOW)
        self.novelty = Novelty()
        self.sung_lengths = np.zeros(self.longest + 1)  # the song's lines by length
        self.number = 0
        self.ends: deque[int] = deque(maxlen=WORN_LINES)  # the last lines' rhyme groups
        self.target = NO_GROUP  # the rhyme group of the lines before
        self.run = 0  # how many lines in a row ended on it
        self.run_goal = 0  # how many the rhyme is held for
        self.stale: set[str] = set()  # the characters that ended the last few lines
        # how much likelier than the corpus's lines the network ends a line, on average over
        # this song's steps so far (log-odds): its own habit, which the length rule discounts
        self.lean = 0.0
        self.pending_lean: float | None = None
        self.drafted: deque[float] = deque(maxlen=DRAFTS_JUDGED)  # drafts' surprises (drafts.py)
        self.word_size = 1.0  # the Han characters of the song's words, on average lately
        self.ending = 0.0
        # (candidate ids, token) -> about log p(token) one step after each candidate; set by
        # the sampler before each step when its stepper can look ahead (None: it cannot)
        self.look: Callable[[np.ndarray, int], np.ndarray | None] | None = None
        self._start_line()

    def _start_line(self) -> None:
        self.current: list[int] = []
        self.text = ""
        self.phrase = 0  # characters since the line's start or its last space
        self.written = 0
        self.last_end = ""  # the line's last Han character so far
        self.last_word = -1  # and the word it is in
        self.similar: SungLine | None = None  # the recent line it nearly repeats
        self.uses: Counter[int] = Counter()  # the line's words with Han characters, by id
        self.looping: list[int] = []  # and those it may not have again (_loop_limit)
        self.plan: SungLine | None = None
        self.decided = False
        self.novelty.start_line()
        self.reach = self.lengths.lacking(self.sung_lengths)  # this line's lengths
        self._lengths_part: dict[tuple[int, float], tuple[float, float, float]] = {}
        self._line_rules()

    def _line_rules(self) -> None:
        """For the line begun: the rhymes it changes from (the rest when first needed)."""
        self.changing = {self.target, *self.worn_groups()} - {NO_GROUP}
        # _pull_by_length's, by (rhyme, pull) for the line, then by characters written too
        self._pull_parts: dict[tuple[int, float], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._pull_factors: dict[tuple[int, float, int], np.ndarray] = {}

    def _pull_by_length(self, pull: float, written: int) -> np.ndarray:
        """The rhyme's pull without look-ahead, for the line begun at `written` characters: the
        factor on each word on its rhyme, by the length it would bring the line to (none on a
        word that ended a recent line). Made when first asked (a stepper that looks ahead never
        needs it), so that a step is one look-up."""
        found = self._pull_factors.get((self.aim, pull, written))
        if found is None:
            parts = self._pull_parts.get((self.aim, pull))
            if parts is None:  # the words' lengths, which ended a recent line, the factors
                members = self.rhymes.members[self.aim]
                stale_words = np.zeros(len(self.rhymes.tokens), dtype=bool)
                for end in self.stale:
                    ended = self.rhymes.by_end.get(end)
                    if ended is not None:
                        stale_words[ended] = True
                reach = np.arange(self.longest + self.rhymes.longest_word + 1)
                factors = np.exp(pull * self.lengths.end_chances(self.reach, reach, 1.0))
                parts = self.rhymes.lengths[members], stale_words[members], factors
                self._pull_parts[(self.aim, pull)] = parts
            lengths, stale, factors = parts
            found = np.where(stale, 1.0, factors[written + lengths])
            self._pull_factors[(self.aim, pull, written)] = found
        return found

    def copy(self) -> SongWriter:
        """An independent copy (the step-through keeps one per step, to step back)."""
        twin = object.__new__(SongWriter)
        twin.__dict__.update(self.__dict__)
        twin.lines = deque(self.lines, maxlen=LINE_WINDOW)
        twin.ends = deque(self.ends, maxlen=WORN_LINES)
        twin.novelty = self.novelty.copy()
        twin.current = list(self.current)
        twin.uses = Counter(self.uses)
        twin.looping = list(self.looping)
        twin.drafted = deque(self.drafted, maxlen=DRAFTS_JUDGED)
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
        self.phrase = 0 if token.isspace() else self.phrase + len(token)
        length = self.rhymes.sizes[token_id]
        self.word_size += WORD_SIZE_RATE * (length - self.word_size)
        if length:
            self.uses[token_id] += 1
            if self.uses[token_id] == _loop_limit(length):
                self.looping.append(token_id)
            self.written += length
            self.last_end = self.rhymes.ends[token_id]
            self.last_word = token_id
        self.novelty.read(token)

    def _finish_line(self) -> None:
        if self.current:
            source = None
            if self.plan is not None and len(self.current) == len(self.plan.tokens):
                source = self.plan.number
            tokens = [self.rhymes.tokens[i] for i in self.current]
            group = self.last_group
            line = SungLine(
                self.number,
                tuple(self.current),
                self.text,
                self.last_end,
                self.written,
                group,
                source,
                runs_of(tokens, self.current),
            )
            self.lines.append(line)
            self.novelty.add(line)
            self.number += 1
            if self.written:
                self.sung_lengths = self.sung_lengths.copy()  # copies share it otherwise
                self.sung_lengths[min(self.written, self.longest)] += 1
            self.stale = {ln.end for ln in list(self.lines)[-FRESH_ENDS:] if ln.end}
            self.ends.append(group)
            self._follow_rhyme(group)
        self._start_line()

    @property
    def last_group(self) -> int:
        """The rhyme group the line so far ends on."""
        return self.rhymes.group(self.last_word) if self.last_word >= 0 else NO_GROUP

    def set_temperature(self, temperature: float) -> None:
        """The sampler's temperature (the step-through's settings may change it): greedy
        decoding draws nothing, and a cold sampler gets the rules for cold sampling."""
        self.greedy = temperature == 0
        self.free = temperature >= FREE_FROM  # (see FREE_FROM)

    def set_rhyme(self, strength: float) -> None:
        """Another rhyme strength from the current step on (the step-through's settings)."""
        self.strength = strength

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
        if self.strength <= 0:
            return NO_GROUP
        return self.target if self.run < self.run_goal else NO_GROUP

    @property
    def step(self) -> FormStep:
        """What the form did at the step last shaped."""
        plan = self.plan
        return FormStep(
            group_name(self.aim),
            self.written,
            self.longest,
            self.ending,
            None if plan is None else plan.number,
            "" if plan is None else plan.text,
        )

    # -- shaping -----------------------------------------------------------------------------
    def shape(self, probs: np.ndarray, model: np.ndarray, network: np.ndarray) -> np.ndarray:
        """The distribution to sample from, given the weights the sampler's filters left
        (`probs`, changed in place; they need not sum to 1), the model's own distribution
        (temperature 1, song memory mixed in: which line comes back) and the network's (a new
        line's line-end odds)."""
        if not self.current and not self.decided:
            self.decided = True
            # greedy decoding draws nothing (and making a generator costs more than a step)
            draws = (
                None if self.greedy else np.random.default_rng((self.seed, 0x534F4E47, self.number))
            )
            self.plan = returning_line(
                self.corpus,
                self.lines,
                self.number,
                model,
                0.5 if draws is None else float(draws.random()),
                draws,
                self.unk_id,
                self.limit,
                self.aim,
            )
        if self.plan is not None:
            at = len(self.current)
            token = self.plan.tokens[at] if at < len(self.plan.tokens) else self.newline_id
            out = np.zeros_like(probs)
            out[token] = 1.0
            self.ending = float(token == self.newline_id)
            return out
        return self._new_line(probs, network)

    def _new_line(self, probs: np.ndarray, network: np.ndarray) -> np.ndarray:
        nl, c, novelty = self.newline_id, self.written, self.novelty
        words = probs  # the caller's own array: changed in place
        if self.similar is not None:  # it reads like a recent line: a word away from it
            words = (probs if self.free else network).copy()
            words[self.unk_id] = 0.0
            words[self.rhymes.containing(self.similar.text)] *= self.tuning.stuck_damp
        words[nl] = 0.0
        if self.aim != NO_GROUP and c + 1 >= self.shortest:
            self._pull_rhyme(words)
        copied = novelty.copied(self.text)
        if copied:
            words[copied] *= self.tuning.copy_damp
        self._rule_out(words)
        total = float(np.add.reduce(words))  # (not .sum(): its wrapper costs as much)
        if total <= 0 and c < self.longest and len(self.current) < MOST_TOKENS:
            # the filters left no word the rules allow: the network's own choice then
            words = network.copy()
            words[[nl, self.unk_id]] = 0.0
            self._rule_out(words)
            total = float(np.add.reduce(words))
        end = 1.0 if total <= 0 else 0.0
        if total > 0 and self.current:
            step = max(1.0, self.word_size)
            if self.shortest <= c < self.longest:
                typical = float(self.hazard[min(c, len(self.hazard) - 1)])
                self.pending_lean = _logit1(float(network[nl])) - _logit1(typical)
            end = self._end_chance(c, self.last_word, float(network[nl]), step)
        if c < self.longest and total > 0 and (end > 0 or self.similar is not None):
            if novelty.repeats(self.current):
                end = 0.0  # a new line is new
            elif not self.greedy:  # (greedy decoding cannot draw away; it keeps its speed)
                self.similar = novelty.similar(self.text)
                end = 0.0 if self.similar is not None else end
        if total <= 0:
            words = np.zeros_like(probs)
            total = 1.0
        scale = (1.0 - end) / total
        if math.isfinite(scale):
            words *= scale
        else:  # what the filters left sums to a subnormal (temperature 0.001): 1 / it is inf
            words /= total
            words *= 1.0 - end
        words[nl] = end
        self.ending = end
        return words

    def _rule_out(self, words: np.ndarray) -> None:
        """Take out the words a new line may not have next, from what the filters left or, when
        they left none of the rest, from the network's own: a space where no line starts with
        one nor doubles one (cold, no phrase is one character either: a cold sampler strings
        我 我 你), a word the line has looped on, the last word of a recent line after the rest
        of it, and what would carry the line past `longest`."""
        c = self.written
        if self.phrase < (1 if self.free else 2):
            words[self.rhymes.blanks] = 0.0
        if self.looping:
            words[self.looping] = 0.0
        completing = self.novelty.completing(self.current)
        if completing:
            words[completing] = 0.0
        if c >= self.longest or len(self.current) >= MOST_TOKENS:  # (Latin words count 0)
            words[:] = 0.0
        elif c + self.rhymes.longest_word > self.longest:
            words[self.rhymes.lengths > self.longest - c] = 0.0

    def _pull_rhyme(self, words: np.ndarray) -> None:
        """Favour the words that would end the line on the rhyme: each by the chance that the
        line then ends right after it, as the next step would reckon it (with the network's
        look-ahead where the stepper has one, else from the lengths alone)."""
        table, c = self.rhymes, self.written
        pull = self.tuning.rhyme_pull * self.strength
        here = _at(self.reach, c + 1.0)
        if here <= 0 or (here - _at(self.reach, c + 3.0)) / here < PULL_FROM:
            return  # a line end right after the next word is still unlikely
        members = table.members[self.aim]
        if self.look is not None and not self.greedy:  # (greedy: the lengths alone, at speed)
            if len(members) > LOOK_AHEAD:
                members = members[words[members].argpartition(-LOOK_AHEAD)[-LOOK_AHEAD:]]
            top = members[(words[members] > 0) & (c + table.lengths[members] >= self.shortest)]
            ahead = self.look(top, self.newline_id) if len(top) else None
            if ahead is not None:
                for word, log_end in zip(top.tolist(), ahead.tolist(), strict=True):
                    chance = self._end_chance(c + table.sizes[word], word, math.exp(log_end))
                    words[word] *= math.exp(pull * chance)
                return
        factors = self._pull_by_length(pull, c)
        group = table.members[self.aim]
        if members is not group:  # cut to the likeliest above: the pull on those alone
            kept = np.isin(group, members)
            group, factors = group[kept], factors[kept]
        words[group] *= factors

    def _bonus(self, word: int) -> tuple[float, float]:
        """The log-odds a line end right after `word` gains, and what it loses off the rhyme
        (a loss that fades as the line outgrows its lengths).

        A word on the rhyme raises it; one off it lowers it (a neutral-tone ending included);
        when the rhyme's run is over, a word on it or on a rhyme worn by the lines before lowers
        it; and so does the word that ended one of the last few lines."""
        table, t = self.rhymes, self.tuning
        if table.ends[word] in self.stale:
            return -t.stale_end, 0.0
        if self.strength <= 0 or self.target == NO_GROUP or not table.sizes[word]:
            return 0.0, 0.0
        weight = t.end_rhyme * self.strength
        group = int(table.groups[word])
        if self.aim != NO_GROUP:
            return (weight, 0.0) if group == self.aim else (0.0, weight)
        return 0.0, (weight if group in self.changing else 0.0)

    def _end_chance(self, written: int, word: int, network_end: float, step: float = 1.0) -> float:
        """The chance of a line end right after `word` (-1: none), which makes the line
        `written` characters long, where the network's own line-end chance is `network_end`
        and the next word is about `step` characters long: the chance the lengths the song
        lacks give (lengths.py), moved by how much likelier the network finds an end there
        than lines usually do, and by the word's rhyme (`_bonus`). One number at a time:
        for a handful, numpy's overhead costs more than it saves."""
        if written < self.shortest:
            return 0.0
        if written >= self.longest:
            return 1.0
        found = self._lengths_part.get((written, step))
        if found is None:  # the same for every candidate of a length (and the whole line)
            here, later = _at(self.reach, written), _at(self.reach, written + step)
            h = (here - later) / here if here > 0 else 1.0
            typical = float(self.hazard[min(written, len(self.hazard) - 1)])
            found = self._lengths_part[(written, step)] = (_logit1(h), _logit1(typical), here)
        logit_h, logit_typical, here = found
        lean = _logit1(network_end) - logit_typical - self.lean
        logit = logit_h + self.tuning.network_weight * lean
        if word >= 0:
            bonus, off = self._bonus(word)
            logit += bonus - off * here
        return 1.0 / (1.0 + math.exp(-logit))


def _loop_limit(characters: int) -> int:
    """How many times a word may come in one line: one of two or more characters twice, a
    one-character word three times (lyrics double a word now and then, 女人女人, but do not
    loop it, 女人女人女人)."""
    return 2 if characters >= 2 else 3


def _at(values: np.ndarray, x: float) -> float:
    """values at x, linearly between the whole positions (clipped to its ends)."""
    x = min(max(x, 0.0), len(values) - 1.0)
    i = min(int(x), len(values) - 2)
    f = x - i
    return float(values[i]) * (1.0 - f) + float(values[i + 1]) * f


def _logit1(p: float) -> float:
    p = min(max(p, 1e-6), 1.0 - 1e-6)
    return math.log(p / (1.0 - p))
