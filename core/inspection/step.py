"""Step-through decoding: the candidates for the next word at each step, the user picking each."""

from __future__ import annotations

import functools
import secrets
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lyrics_tui.core.cache import CacheSettings, CacheView, cache_view
from lyrics_tui.core.distribution import Distribution, Memory, draw, next_token_distribution
from lyrics_tui.core.errors import LyricsError, SettingsError, printable
from lyrics_tui.core.inspection.common import (
    Serialisable,
    display_token,
    entropy_bits,
    rank,
    top_state,
)
from lyrics_tui.core.inspection.subject import Subject
from lyrics_tui.core.inspection.units import HiddenStep, hidden_step
from lyrics_tui.core.metrics import LOG2E, surprisal_bits
from lyrics_tui.core.sampling import (
    MAX_SEED,
    REPETITION_WINDOW,
    Sampler,
    SamplerSettings,
    SongLines,
    prompt_warnings,
)
from lyrics_tui.core.songform.drafts import Writing, drafting, write_line
from lyrics_tui.core.songform.rhyme import group_name
from lyrics_tui.core.songform.writer import FormStep, SongWriter
from lyrics_tui.core.tokens import NEWLINE, detokenize
from lyrics_tui.core.vocab import UNK

MAX_CANDIDATES = 100  # the most candidates a step reports


@dataclass(frozen=True)
class Candidate(Serialisable):
    """One possible next word at a decoding step."""

    number: int  # 1-based, what the user types to pick it
    token_id: int
    text: str
    label: str  # display_token(text)
    model_prob: float  # the network's softmax, temperature 1, no filters
    final_prob: float  # after penalty, temperature, top-k, top-p (0: filtered out)
    model_rank: int  # 1 = the network's likeliest word
    survives: bool  # final_prob > 0: the sampler could pick it
    # Song memory (all 0 / empty when it is off): model_prob above is then the mixture
    # (1 - λ) network + λ (1 - p_network(<unk>)) cache, and these are its two parts.
    network_prob: float = 0.0  # the network alone (= model_prob when memory is off)
    cache_prob: float = 0.0  # the cache alone
    # earlier positions in the text read (DecodingStep.tokens) where this word came after a state
    # like the current one: (position, share of the cache's attention), strongest first
    pointers: tuple[tuple[int, float], ...] = ()
    # Song form (core/songform): the word's rhyme group ("" none, or a neutral-tone ending), and
    # the chance that the line ends right after it (1 for the line end itself; 0: form off)
    rhyme: str = ""
    ends_line: float = 0.0


@dataclass(frozen=True)
class DecodingStep(Serialisable):
    """Everything shown at one decoding step, before the next word is picked."""

    index: int  # how many words have been picked so far
    context: str  # prompt + picked words
    candidates: tuple[Candidate, ...]  # by final probability, then by model probability
    entropy_bits: float  # of the model distribution (temperature 1)
    effective_choices: float  # 2 ** entropy: as unsure as a fair pick among this many words
    final_entropy_bits: float  # of the distribution actually sampled from
    survivors: int  # words left with non-zero final probability
    vocab_size: int
    shown_mass: float  # model probability held by the candidates shown
    unk_prob: float  # model probability of <unk> ("some rare word"), which is never picked
    temperature: float
    top_k: int
    top_p: float
    repetition_penalty: float
    hidden: HiddenStep  # the state these candidates come from
    cache: CacheSettings | None = None  # song memory in effect (None: off)
    remembered: int = 0  # positions the cache can draw on now (0: it is silent this step)
    tokens: tuple[str, ...] = ()  # every token read so far, as labels; pointers index these
    form: FormStep | None = None  # what the song form did at this step (None: off)


@dataclass(frozen=True)
class ChosenWord(Serialisable):
    index: int  # 0 for the first picked word
    token_id: int
    text: str
    label: str
    how: str  # "chosen" (by number or word) or "sampled"
    model_prob: float
    final_prob: float
    model_rank: int
    surprisal_bits: float  # under the model distribution
    network_prob: float = 0.0  # with song memory: the network's part (= model_prob when off)
    cache_prob: float = 0.0  # and the cache's


@dataclass
class _Frame:
    state: Any
    logits: np.ndarray
    recent: tuple[int, ...]
    hidden: HiddenStep
    h: np.ndarray
    chosen: ChosenWord | None  # the word whose reading led here (None for the start)
    writer: SongWriter | None = None  # the song form after the words read so far


class StepThrough:
    """Decode one word at a time, the user deciding each word.

    Starts from a prompt exactly as core.sampling.Sampler does (a line start, then the prompt
    words; <unk> can never be picked). `current` is the DecodingStep of the next decision.
    choose(n) takes candidate n, choose_word(w) any known word, sample() lets the sampler pick
    with the current settings (same seed, same words as Sampler.generate), back() undoes the
    last pick and restores the exact state before it.
    """

    def __init__(
        self,
        subject: Subject,
        settings: SamplerSettings | None = None,
        prompt: str = "",
        top: int = 10,
    ) -> None:
        settings, notes = (settings or SamplerSettings()).validated()
        if not 1 <= top <= MAX_CANDIDATES:
            raise SettingsError(f"candidates shown must be between 1 and {MAX_CANDIDATES}")
        self.subject = subject
        self.settings = settings
        self.notes = notes
        self.top = top
        self.seed = settings.seed if settings.seed is not None else secrets.randbelow(MAX_SEED + 1)
        self._rng = np.random.default_rng(self.seed)
        self.prompt = prompt or ""
        vocab, stepper = subject.vocab, subject.stepper
        self.prompt_tokens = subject.tokenizer.prompt(self.prompt)
        self.unknown = vocab.unknown(self.prompt_tokens)
        self._banned = (vocab.unk_id,)
        self.prompt_hidden: list[HiddenStep] = []
        # every token read (line start, prompt, picks) and the top layer's state after it:
        # what song memory remembers
        self._read: list[tuple[int, np.ndarray]] = []
        state = stepper.initial_state()
        previous: np.ndarray | None = None
        ids = [vocab.id(NEWLINE), *vocab.encode(self.prompt_tokens)]
        texts = [NEWLINE, *list(self.prompt_tokens)]
        logits = None
        for i, (token_id, text) in enumerate(zip(ids, texts, strict=True)):
            logits, state = stepper.step(state, token_id)
            step, previous = hidden_step(stepper, state, i, text, False, previous)
            self.prompt_hidden.append(step)
            self._read.append((token_id, top_state(stepper, state)))
        recent = tuple(vocab.encode(self.prompt_tokens)[-REPETITION_WINDOW:])
        assert previous is not None  # the line start was read
        sampler = Sampler(stepper, vocab, subject.tokenizer, subject.form, subject.rhymes)
        writer = sampler.writer(replace(settings, form=True), self.seed)
        for token_id in ids[1:]:
            if writer is not None:
                writer.read(token_id)
        self._frames: list[_Frame] = [
            _Frame(
                state, np.asarray(logits), recent, self.prompt_hidden[-1], previous, None, writer
            )
        ]
        self._view: DecodingStep | None = None
        self._lines: dict[int, list[int]] = {}  # the frame a drafted line starts at: its words

    # -- reading ---------------------------------------------------------------------------
    @property
    def warnings(self) -> list[str]:
        return prompt_warnings(self.notes, self.unknown)

    @property
    def picked(self) -> tuple[ChosenWord, ...]:
        return tuple(f.chosen for f in self._frames[1:] if f.chosen is not None)

    @property
    def text(self) -> str:
        return detokenize(list(self.prompt_tokens) + [w.text for w in self.picked])

    @property
    def can_go_back(self) -> bool:
        return len(self._frames) > 1

    @property
    def hidden_steps(self) -> tuple[HiddenStep, ...]:
        """The state after each word read: line start, prompt words, then each picked word."""
        return tuple(self.prompt_hidden) + tuple(f.hidden for f in self._frames[1:])

    @property
    def current(self) -> DecodingStep:
        if self._view is None:
            self._view = self._make_view()
        return self._view

    def set_settings(self, settings: SamplerSettings) -> DecodingStep:
        """New temperature/top-k/top-p/penalty for the current and later steps (the seed and
        the picks so far stay)."""
        settings, self.notes = settings.validated()
        self.settings = settings
        self._lines.clear()  # a line drafted with the old settings goes on drawn with the new
        self._view = None
        return self.current

    def set_top(self, top: int) -> DecodingStep:
        if not 1 <= top <= MAX_CANDIDATES:
            raise SettingsError(f"candidates shown must be between 1 and {MAX_CANDIDATES}")
        self.top = top
        self._view = None
        return self.current

    def _memory(self, query: np.ndarray | None = None) -> CacheView | None:
        """What song memory recalls at the current step (None: off, or nothing yet): as in
        generation, the lines finished so far (core/sampling.py, SongMemory). With `query`,
        what it would recall at that state instead (the same lines remembered)."""
        cache = self.settings.cache
        newline = self.subject.vocab.id(NEWLINE)
        ends = [i for i, (token_id, _) in enumerate(self._read) if token_id == newline and i]
        if cache is None or not cache.on or not ends:
            return None
        t = len(self._read) - 1  # the state now is the one after reading token t
        end = ends[-1]  # the last line end read: pairs up to it are remembered
        low = max(0, end - cache.window)
        end -= cache.nearest - 1  # the newest D - 1 of them are not recalled
        if end <= low:
            return None
        keys = np.stack([h for _, h in self._read[low:end]])
        next_ids = np.array([i for i, _ in self._read[low + 1 : end + 1]], dtype=np.int64)
        return cache_view(
            keys,
            next_ids,
            np.arange(low + 1, end + 1),
            self._read[t][1] if query is None else query,
            cache.theta,
            len(self.subject.vocab),
            self.subject.vocab.unk_id,
        )

    def _writer(self, frame: _Frame) -> SongWriter | None:
        """The frame's song form with the current settings (None: off)."""
        s, writer = self.settings, frame.writer
        if not s.form or writer is None:
            return None
        writer.set_rhyme(s.rhyme)
        writer.limit = s.returns
        writer.set_temperature(s.temperature)
        look = getattr(self.subject.stepper, "look_ahead", None)
        writer.look = None if look is None else functools.partial(look, frame.state, frame.logits)
        return writer

    def _distribution(
        self, frame: _Frame | None = None, recall: CacheView | None = None
    ) -> tuple[Distribution, CacheView | None]:
        """The current step's distribution; with `frame` (and what memory recalls there), a
        step not taken (the look-ahead of each candidate's chance to end the line)."""
        if frame is None:
            frame = self._frames[-1]
            recall = self._memory()
        memory = None
        if recall is not None and self.settings.cache is not None:
            memory = Memory(recall.probs, self.settings.cache.lam, self.subject.vocab.unk_id)
        writer = self._writer(frame)
        banned: tuple[int, ...] = self._banned
        if writer is None:
            lines = SongLines(self.subject.vocab.id(NEWLINE))
            for token_id, _ in self._read[1:]:  # after the line start
                lines.read(token_id)
            cache_on = self.settings.cache is not None and self.settings.cache.on
            banned = (*self._banned, *lines.held_back(self.settings.returns, cache_on))
        dist = next_token_distribution(
            frame.logits,
            self.settings,
            frame.recent,
            banned,
            memory,
            None if writer is None else writer.shape,
            writer is not None,
        )
        return dist, recall

    def _ends_line(self, token_id: int) -> float:
        """The chance that the line ends right after `token_id`: the next step's distribution
        if it were picked (the network stepped once more, the form told of it)."""
        frame = self._frames[-1]
        newline = self.subject.vocab.id(NEWLINE)
        if token_id == newline:
            return 1.0
        if frame.writer is None or not self.settings.form:
            return 0.0
        stepper = self.subject.stepper
        logits, state = stepper.step(frame.state, token_id)
        writer = frame.writer.copy()
        writer.read(token_id)
        recent = ((*frame.recent, token_id))[-REPETITION_WINDOW:]
        ahead = _Frame(state, np.asarray(logits), recent, frame.hidden, frame.h, None, writer)
        dist, _ = self._distribution(ahead, self._memory(top_state(stepper, state)))
        return float(dist.final[newline])

    @property
    def tokens_read(self) -> tuple[str, ...]:
        """Every token read so far as a label (0: the line start); pointers index these."""
        return tuple(display_token(self.subject.vocab.tokens[i]) for i, _ in self._read)

    def _make_view(self) -> DecodingStep:
        frame = self._frames[-1]
        dist, recall = self._distribution()
        model, final = dist.model, dist.final
        network = dist.network_probs
        cache = dist.cache
        writer = self._writer(frame)
        step_form = writer.step if writer is not None else None
        rhymes = self.subject.rhymes if writer is not None else None
        # final probability first, then the model's: survivors in sampling order, then the
        # words the filters removed, likeliest first
        order = np.lexsort((-model, -final))[: self.top]
        tokens = self.subject.vocab.tokens
        candidates = tuple(
            Candidate(
                number=n + 1,
                token_id=int(i),
                text=tokens[i],
                label=display_token(tokens[i]),
                model_prob=float(model[i]),
                final_prob=float(final[i]),
                model_rank=rank(model, int(i)),
                survives=bool(final[i] > 0),
                network_prob=float(network[i]),
                cache_prob=float(cache[i]) if cache is not None else 0.0,
                pointers=recall.pointers(int(i), limit=5) if recall is not None else (),
                rhyme=group_name(rhymes.group(int(i))) if rhymes is not None else "",
                ends_line=self._ends_line(int(i)) if writer is not None else 0.0,
            )
            for n, i in enumerate(order)
        )
        entropy = dist.entropy * LOG2E
        s = self.settings
        return DecodingStep(
            index=len(self._frames) - 1,
            context=self.text,
            candidates=candidates,
            entropy_bits=float(entropy),
            effective_choices=float(2.0**entropy),
            final_entropy_bits=entropy_bits(final),
            survivors=dist.survivors,
            vocab_size=len(model),
            shown_mass=float(model[order].sum()),
            unk_prob=float(model[self.subject.vocab.unk_id]),
            temperature=s.temperature,
            top_k=s.top_k,
            top_p=s.top_p,
            repetition_penalty=s.repetition_penalty,
            hidden=frame.hidden,
            cache=s.cache if s.cache is not None and s.cache.on else None,
            remembered=len(recall.weights) if recall is not None else 0,
            tokens=self.tokens_read,
            form=step_form,
        )

    # -- acting ----------------------------------------------------------------------------
    def choose(self, number: int) -> ChosenWord:
        """Pick candidate `number` (1-based) of the current step, even one the filters
        removed (the user overrides the sampler)."""
        candidates = self.current.candidates
        if not 1 <= number <= len(candidates):
            raise SettingsError(f"choose a candidate between 1 and {len(candidates)}")
        cand = candidates[number - 1]
        if cand.token_id == self.subject.vocab.unk_id:
            raise SettingsError("<unk> stands for any rare word and cannot be picked")
        return self._advance(cand.token_id, "chosen")

    def choose_word(self, word: str) -> ChosenWord:
        """Pick any word of the vocabulary as the next word."""
        vocab = self.subject.vocab
        token = NEWLINE if word in ("\n", "↵", "\\n") else word
        if token not in vocab or token == UNK:
            words = f"{len(vocab):,} words"
            raise LyricsError(f"'{printable(word)}' is not in the vocabulary ({words})")
        return self._advance(vocab.id(token), "chosen")

    def sample(self) -> ChosenWord:
        """Let the sampler pick with the current settings: as generation does, a new line with
        the form on is drafted whole (core/songform/drafts.py) and then stepped through."""
        dist, _ = self._distribution()
        frame = self._frames[-1]
        planned = self._planned()
        if planned is not None:
            return self._advance(planned, "sampled")
        writer = self._writer(frame)
        if writer is not None and drafting(self.settings, self.subject.stepper, writer):
            recent = deque(frame.recent, maxlen=REPETITION_WINDOW)
            writing = Writing(frame.state, frame.logits, recent, writer)
            newline = self.subject.vocab.id(NEWLINE)
            stepper, banned = self.subject.stepper, self._banned
            draft, drafted = write_line(
                stepper, self.settings, banned, dist, writing, self._rng, newline
            )
            self._lines[len(self._frames) - 1] = [t.token_id for t in draft.tokens]
            return self._advance(draft.tokens[0].token_id, "sampled", drafted)
        if self.settings.temperature == 0:
            token_id = int(np.argmax(dist.final))
        else:
            token_id = draw(self._rng, dist.final)
        return self._advance(token_id, "sampled")

    def _planned(self) -> int | None:
        """The next word of the line drafted where the current line starts, while every word
        since was sampled from it (None: no such line, or another word was picked)."""
        at = len(self._frames) - 1
        start = max((s for s in self._lines if s < at), default=None)
        if start is None:
            return None
        tokens, taken = self._lines[start], self._frames[start + 1 :]
        if len(taken) >= len(tokens) or any(
            f.chosen is None or f.chosen.how != "sampled" or f.chosen.token_id != t
            for f, t in zip(taken, tokens, strict=False)
        ):
            return None
        return tokens[len(taken)]

    def back(self) -> ChosenWord:
        """Undo the last pick; the state, context and candidates are those from before it."""
        if not self.can_go_back:
            raise LyricsError("nothing to step back over: no word has been picked yet")
        frame = self._frames.pop()
        self._read.pop()
        self._view = None
        assert frame.chosen is not None
        return frame.chosen

    def apply(self, actions: Iterable[int | str]) -> list[tuple[str, ChosenWord]]:
        """Run a sequence of actions: a number picks that candidate, "s" samples, "b" steps
        back. Returns (action, word) pairs."""
        done = []
        for action in actions:
            if action == "s":
                done.append(("sample", self.sample()))
            elif action == "b":
                done.append(("back", self.back()))
            else:
                done.append(("choose", self.choose(int(action))))
        return done

    def _advance(self, token_id: int, how: str, drafted: list[float] | None = None) -> ChosenWord:
        """Read `token_id` (and with `drafted`, the first word of a drafted line: its drafts'
        surprises go into the form's history)."""
        frame = self._frames[-1]
        dist, _ = self._distribution()
        text = self.subject.vocab.tokens[token_id]
        model_prob = float(dist.model[token_id])
        chosen = ChosenWord(
            index=len(self._frames) - 1,
            token_id=token_id,
            text=text,
            label=display_token(text),
            how=how,
            model_prob=model_prob,
            final_prob=float(dist.final[token_id]),
            model_rank=rank(dist.model, token_id),
            surprisal_bits=surprisal_bits(model_prob),
            network_prob=float(dist.network_probs[token_id]),
            cache_prob=float(dist.cache[token_id]) if dist.cache is not None else 0.0,
        )
        stepper = self.subject.stepper
        logits, state = stepper.step(frame.state, token_id)
        self._read.append((token_id, top_state(stepper, state)))
        recent = ((*frame.recent, token_id))[-REPETITION_WINDOW:]
        index = len(self.prompt_hidden) + len(self._frames) - 1
        hidden, h = hidden_step(stepper, state, index, text, True, frame.h)
        writer = None
        if frame.writer is not None:
            writer = frame.writer.copy()
            writer.read(token_id)
            writer.drafted.extend(drafted or ())
        self._frames.append(_Frame(state, np.asarray(logits), recent, hidden, h, chosen, writer))
        self._view = None
        return chosen
