"""The Sampler: a generation streamed token by token, each drawn from one step's
distribution (core/distribution.py), with song memory, the song form and the prompt's notes.
With the form on, a new line is drafted whole before its first word is given
(core/songform/drafts.py): the words come as before, a line at a time behind the scenes.
"""

from __future__ import annotations

import functools
import secrets
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lyrics_tui.core.cache import NeuralCache
from lyrics_tui.core.distribution import (
    Memory,
    SamplerSettings,
    draw,
    next_token_distribution,
)
from lyrics_tui.core.errors import printable
from lyrics_tui.core.settings import (
    LINE_WINDOW,
    MAX_SEED,
)
from lyrics_tui.core.songform import writer as songform_writer
from lyrics_tui.core.songform.corpus_form import CorpusForm
from lyrics_tui.core.songform.drafts import (
    DraftedToken,
    Writing,
    drafting,
    read_token,
    write_line,
)
from lyrics_tui.core.songform.vocabulary import VocabularyRhymes, vocabulary_rhymes
from lyrics_tui.core.songform.writer import SongWriter
from lyrics_tui.core.steppers import Stepper
from lyrics_tui.core.tokens import NEWLINE, Tokenizer, detokenize
from lyrics_tui.core.vocab import Vocabulary

REPETITION_WINDOW = 64  # the penalty looks this many tokens back


class SongLines:
    """The lines of a song read so far (the last LINE_WINDOW of them, and the one being sung),
    to tell which next words would sing a line again that has come back often enough."""

    def __init__(self, newline_id: int, window: int = LINE_WINDOW) -> None:
        self.newline_id = newline_id
        self.lines: deque[tuple[int, ...]] = deque(maxlen=window)
        self.current: list[int] = []

    def read(self, token_id: int) -> None:
        if token_id != self.newline_id:
            self.current.append(token_id)
            return
        if self.current:  # empty lines are not lines (bench/song_memory.py skips them too)
            self.lines.append(tuple(self.current))
        self.current = []

    def held_back(self, limit: int, blank: bool = False) -> list[int]:
        """The words not sung next: what would finish, once more, a line already sung `limit`
        times in the window (its last word when the line so far is the rest of it, the line
        end when it is all of it; none when limit is 0), and with `blank` the line end at a line
        start (song memory recalls line ends, and the corpus has no blank lines)."""
        so_far = tuple(self.current)
        out = {self.newline_id} if blank and not so_far else set()
        if limit <= 0 or len(self.lines) < limit:
            return sorted(out)
        n = len(so_far)
        for line, times in Counter(self.lines).items():
            if times < limit:
                continue
            if line == so_far:
                out.add(self.newline_id)
            elif len(line) == n + 1 and line[:n] == so_far:
                out.add(line[n])
        return sorted(out)


class SongMemory:
    """Song memory while writing: the cache remembers finished lines only. Recalling the words
    just written feeds the cache its own last guess (the state a word ago resembles the state
    now), and the network stutters (坚持坚持坚持); a song recalls its earlier lines."""

    def __init__(self, cache: NeuralCache, newline_id: int) -> None:
        self.cache = cache
        self.settings = cache.settings
        self.newline_id = newline_id
        self.line: list[tuple[np.ndarray, int]] = []  # the line being written, held back

    def read(self, h: np.ndarray, next_id: int) -> None:
        """State h was followed by `next_id`; remembered once its line is finished."""
        self.line.append((np.array(h, copy=True), next_id))
        if next_id == self.newline_id:
            for state, word in self.line:
                self.cache.add(state, word)
            self.line = []

    def probs(self, h: np.ndarray) -> np.ndarray | None:
        return self.cache.probs(h)


@dataclass(frozen=True)
class GeneratedToken:
    index: int  # 0 for the first generated token
    token_id: int
    text: str
    prob: float  # probability it was sampled with
    model_prob: float  # the model's own probability (temperature 1, no filters; with song
    # memory on, the network and the cache mixed)
    alternatives: tuple[tuple[str, float], ...]  # top candidates by final probability
    network_prob: float | None = None  # with song memory on: the network's part alone,
    cache_prob: float | None = None  # and the cache's (None: memory off or nothing yet)


@dataclass
class Generation:
    """A prepared generation. Iterate it to get tokens one at a time."""

    prompt: str  # as the model reads it (Tokenizer.prompt): what a front end shows
    prompt_tokens: list[str]
    unknown: list[str]  # prompt words not in the vocabulary (fed in as <unk>)
    settings: SamplerSettings
    notes: list[str]
    seed: int
    generated: list[str] = field(default_factory=list)
    _iterator: Iterator[GeneratedToken] | None = None

    def __iter__(self) -> Iterator[GeneratedToken]:
        assert self._iterator is not None
        return self._iterator

    @property
    def text(self) -> str:
        """The prompt followed by what was generated so far."""
        return detokenize(self.prompt_tokens + self.generated)

    @property
    def warnings(self) -> list[str]:
        return prompt_warnings(self.notes, self.unknown)


def prompt_warnings(notes: list[str], unknown: list[str]) -> list[str]:
    """The notes about capped settings, then the prompt words read as <unk>."""
    out = list(notes)
    if unknown:
        shown = " ".join(printable(word) for word in unknown)
        out.append(f"not in the vocabulary, read as <unk>: {shown}")
    return out


class Sampler:
    """Generates from any Stepper with the vocabulary and tokenizer it was trained with."""

    def __init__(
        self,
        stepper: Stepper,
        vocab: Vocabulary,
        tokenizer: Tokenizer,
        form: CorpusForm | None = None,
        rhymes: VocabularyRhymes | None = None,
    ) -> None:
        self.stepper = stepper
        self.vocab = vocab
        self.tokenizer = tokenizer
        self.form = form or CorpusForm()  # an older checkpoint's: the defaults
        self.rhymes = rhymes
        self._newline_id = vocab.id(NEWLINE)
        # <unk> is a real prediction (a rare word) but never useful text to print.
        self._banned = [vocab.unk_id]

    def prime(
        self, tokens: Sequence[str], memory: SongMemory | None = None
    ) -> tuple[object, np.ndarray]:
        """Feed a line start and then the prompt; return the state and the next logits. With
        `memory`, each state read is remembered with the word that followed it."""
        state = self.stepper.initial_state()
        logits, state = self.stepper.step(state, self._newline_id)
        for token_id in self.vocab.encode(tokens):
            if memory is not None:
                memory.read(self.stepper.hidden_vectors(state)[0], token_id)
            logits, state = self.stepper.step(state, token_id)
        return state, logits

    def memory(self, settings: SamplerSettings) -> SongMemory | None:
        """An empty song memory for these settings (None when off)."""
        cache = settings.cache
        if cache is None or not cache.on:
            return None
        config = self.stepper.config
        return SongMemory(
            NeuralCache(cache, config.hidden, len(self.vocab), self.vocab.unk_id),
            self._newline_id,
        )

    def writer(self, settings: SamplerSettings, seed: int) -> SongWriter | None:
        """The song form for one song with these settings (None: off)."""
        if not settings.form:
            return None
        return SongWriter(
            self.form,
            self.rhymes or vocabulary_rhymes(self.vocab),
            self._newline_id,
            self.vocab.unk_id,
            rhyme=settings.rhyme,
            returns=settings.returns,
            seed=seed,
            temperature=settings.temperature,
            tuning=songform_writer.TUNING,
        )

    def _look_ahead(self, state: Any, logits: np.ndarray) -> Any:
        """The stepper's look-ahead from this state, for the song form (None: it has none)."""
        look = getattr(self.stepper, "look_ahead", None)
        return None if look is None else functools.partial(look, state, logits)

    def generate(self, prompt: str, settings: SamplerSettings) -> Generation:
        settings, notes = settings.validated()
        tokens = self.tokenizer.prompt(prompt or "")
        seed = settings.seed if settings.seed is not None else secrets.randbelow(MAX_SEED + 1)
        generation = Generation(
            prompt=detokenize(tokens),  # as read: the ends of its lines and blank lines dropped
            prompt_tokens=tokens,
            unknown=self.vocab.unknown(tokens),
            settings=settings,
            notes=notes,
            seed=seed,
        )
        generation._iterator = self._run(generation, tokens, settings, seed)
        return generation

    def _run(
        self, generation: Generation, tokens: list[str], settings: SamplerSettings, seed: int
    ) -> Iterator[GeneratedToken]:
        if settings.max_tokens == 0:
            return
        rng = np.random.default_rng(seed)
        memory = self.memory(settings)
        state, logits = self.prime(tokens, memory)
        prompt_ids = self.vocab.encode(tokens)
        lines = SongLines(self._newline_id)
        writer = self.writer(settings, seed)
        for token_id in prompt_ids:
            lines.read(token_id)
            if writer is not None:
                writer.read(token_id)
        recent = deque(prompt_ids[-REPETITION_WINDOW:], maxlen=REPETITION_WINDOW)
        writing = Writing(state, logits, recent, writer)
        index = finished = 0
        while True:
            written, writing = self._next_tokens(writing, settings, memory, lines, rng)
            recalls = self._recalls(written, memory) if len(written) > 1 else (None,)
            for item, recall in zip(written, recalls, strict=True):  # a token, or a drafted line
                token = self._generated(index, item, settings, recall)
                generation.generated.append(token.text)
                yield token
                index += 1
                if item.token_id == self._newline_id:
                    finished += 1
                    if settings.max_lines and finished >= settings.max_lines:
                        return
                if index >= settings.max_tokens:
                    return
                lines.read(item.token_id)
                if memory is not None and item.h is not None:
                    memory.read(item.h, item.token_id)

    def _next_tokens(
        self,
        writing: Writing,
        settings: SamplerSettings,
        memory: SongMemory | None,
        lines: SongLines,
        rng: np.random.Generator,
    ) -> tuple[list[DraftedToken], Writing]:
        """The next token drawn, and `writing` after it; or at a new line's start with the
        form on, the whole line as drafted (core/songform/drafts.py) and the writing after it."""
        h = recall = None
        if memory is not None:
            h = self.stepper.hidden_vectors(writing.state)[0]
            probs = memory.probs(h)
            if probs is not None:
                recall = Memory(probs, memory.settings.lam, self.vocab.unk_id)
        writer = writing.writer
        if writer is None:
            banned = self._banned + lines.held_back(settings.returns, memory is not None)
        else:
            banned = self._banned  # the form's rules hold lines back (core/songform/)
            writer.look = self._look_ahead(writing.state, writing.logits)
        shape = None if writer is None else writer.shape
        dist = next_token_distribution(
            writing.logits, settings, writing.recent, banned, recall, shape, writer is not None
        )
        if writer is not None and drafting(settings, self.stepper, writer):
            draft, surprises = write_line(
                self.stepper, settings, banned, dist, writing, rng, self._newline_id, h is not None
            )
            draft.writing.writer.drafted.extend(surprises)  # type: ignore[union-attr]
            return draft.tokens, draft.writing
        if settings.temperature == 0:
            token_id = int(np.argmax(dist.final))
        else:
            token_id = draw(rng, dist.final)
        read_token(self.stepper, writing, token_id)
        return [DraftedToken(token_id, dist, h, True)], writing

    def _recalls(
        self, written: list[DraftedToken], memory: SongMemory | None
    ) -> list[Memory | None]:
        """Song memory's part of each drafted word's step, for the views (None where the step
        has it already, or memory is off or empty): the line's words in one product."""
        states = {
            i: item.h for i, item in enumerate(written) if not item.recalled and item.h is not None
        }
        out: list[Memory | None] = [None] * len(written)
        if memory is None or not states:
            return out
        missing = list(states)
        found = memory.cache.probs_at(np.stack(list(states.values())))
        if found is not None:
            for i, probs in zip(missing, found, strict=True):
                out[i] = Memory(probs, memory.settings.lam, self.vocab.unk_id)
        return out

    def _generated(
        self, index: int, item: DraftedToken, settings: SamplerSettings, recall: Memory | None
    ) -> GeneratedToken:
        """A token as the views get it: a drafted one's probabilities with song memory's part
        (`recall`) mixed in for this word alone, as core.cache.mix would mix it."""
        dist, token_id = item.dist, item.token_id
        model_prob = float(dist.model[token_id])
        network_prob = None if dist.network is None else float(dist.network[token_id])
        cache_prob = None if dist.cache is None else float(dist.cache[token_id])
        if recall is not None and recall.lam > 0:
            network = dist.model  # (drawn without memory: the network alone)
            cache_prob = float(recall.probs[token_id])
            unknown = float(network[recall.unk_id])
            model_prob = (1.0 - recall.lam) * model_prob + recall.lam * (1.0 - unknown) * cache_prob
            network_prob = float(network[token_id])
        # candidates the filters removed (probability 0, <unk> among them) are not offered
        alternatives = tuple(
            (self.vocab.tokens[i], p) for i, p in dist.top(settings.alternatives) if p > 0
        )
        return GeneratedToken(
            index,
            token_id,
            self.vocab.tokens[token_id],
            float(dist.final[token_id]),
            model_prob,
            alternatives,
            network_prob,
            cache_prob,
        )
