"""From logits to the next token, and the Sampler that streams a generation token by token.

Every probability a view shows comes from here: the model's own distribution (temperature 1),
the distribution actually sampled from after temperature, repetition penalty, top-k and top-p,
and the alternatives the sampler passed over.
"""

from __future__ import annotations

import functools
import math
import secrets
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lyrics_tui.core.cache import CacheSettings, NeuralCache, mix
from lyrics_tui.core.errors import CheckpointError
from lyrics_tui.core.settings import (
    DEFAULT_RHYME,
    LINE_WINDOW,
    MAX_RETURNS,
    MAX_SEED,
    MAX_TOKENS,
    SAMPLER,
    check_all,
)
from lyrics_tui.core.songform import writer as songform_writer
from lyrics_tui.core.songform.corpus_form import CorpusForm
from lyrics_tui.core.songform.vocabulary import VocabularyRhymes, vocabulary_rhymes
from lyrics_tui.core.songform.writer import SongWriter
from lyrics_tui.core.steppers import Stepper
from lyrics_tui.core.tokens import NEWLINE, Tokenizer, detokenize
from lyrics_tui.core.vocab import Vocabulary

REPETITION_WINDOW = 64  # the penalty looks this many tokens back


@dataclass(frozen=True)
class SamplerSettings:
    """temperature 0 is greedy (the tutorial's argmax); top_k 0 and top_p 1 switch those off."""

    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    max_tokens: int = 100
    max_lines: int = 0  # stop after this many finished lines; 0: no limit
    alternatives: int = 5  # how many top candidates each token reports
    cache: CacheSettings | None = None  # song memory (core/cache.py); None: the network alone
    returns: int = MAX_RETURNS  # a line sung this many times in the last 30 is not sung again
    form: bool = True  # song form: line lengths, returning lines, new lines new (songform/)
    rhyme: float = DEFAULT_RHYME  # how strongly line ends rhyme; 0: off

    def validated(self) -> tuple[SamplerSettings, list[str]]:
        """Settings with out-of-range lengths capped, and a note for each cap; raise for
        values that have no sensible reading."""
        notes: list[str] = []
        check_all(SAMPLER, self)  # the ranges --help states (core/settings.py)
        t = self.temperature
        if math.isinf(t) or t > 100:
            notes.append(f"temperature {t:g} capped at 100 (already near uniform)")
            t = 100.0
        max_tokens = self.max_tokens
        if max_tokens > MAX_TOKENS:
            notes.append(f"length {max_tokens:,} capped at {MAX_TOKENS:,} tokens")
            max_tokens = MAX_TOKENS
        if self.cache is not None:
            self.cache.validated()
        return replace(self, temperature=t, max_tokens=max_tokens), notes


FEW_SURVIVORS = 256  # top-k and top-p often leave this few: Distribution.top looks at them alone


@dataclass(frozen=True)
class Distribution:
    """One decoding step. `model` is what the model predicts at temperature 1 (the network's
    softmax, mixed with song memory when it is on); `final` is what is sampled from."""

    model: np.ndarray
    final: np.ndarray
    survivors: int  # tokens with non-zero final probability
    entropy: float  # of the model distribution, in nats
    network: np.ndarray | None = None  # the network's own softmax, when song memory is mixed in
    cache: np.ndarray | None = None  # song memory's distribution (None: off or nothing yet)
    cache_weight: float = 0.0  # λ in effect at this step (0: the network alone)

    @property
    def network_probs(self) -> np.ndarray:
        return self.model if self.network is None else self.network

    def top(self, k: int, which: str = "final") -> list[tuple[int, float]]:
        """The k likeliest words, likeliest first; from `final`, only those it may sample."""
        probs = self.final if which == "final" else self.model
        k = min(k, len(probs))
        if k <= 0:
            return []
        if which == "final" and self.survivors <= FEW_SURVIVORS:  # look among those left
            idx = np.flatnonzero(probs)
            if len(idx) > k:
                idx = idx[np.argpartition(-probs[idx], k - 1)[:k]]
        else:
            idx = np.argpartition(-probs, k - 1)[:k]
        idx = idx[np.argsort(-probs[idx], kind="stable")]
        return [(int(i), float(probs[i])) for i in idx if which != "final" or probs[i] > 0]


def draw(rng: np.random.Generator, probs: np.ndarray) -> int:
    """One index drawn with probabilities `probs`: the very draw `rng.choice(len(probs),
    p=probs)` makes from the same state, without its checks of `probs` (half its cost)."""
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - np.max(logits)
    e = np.exp(z)
    return e / e.sum()


# the song form's step: (what the filters left, the model's own distribution, the network's)
# -> what is sampled
Shape = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Memory:
    """Song memory at one step: the cache's distribution, its weight λ, and <unk>'s id (whose
    probability the cache leaves to the network; core/cache.py)."""

    probs: np.ndarray
    lam: float
    unk_id: int


def next_token_distribution(
    logits: np.ndarray,
    settings: SamplerSettings,
    recent: Sequence[int] = (),
    banned: Sequence[int] = (),
    memory: Memory | None = None,
    shape: Shape | None = None,
    sample_network: bool = False,
) -> Distribution:
    """Apply song memory, repetition penalty, temperature, top-k and top-p to one step's logits.

    With song memory the repetition penalty applies to the network's scores only, before the
    cache is mixed in: it stops the network from looping on its own words, and what the cache
    recalls from earlier in the song (a chorus coming back) is left alone. Temperature, top-k
    and top-p then apply to the mixture, and last the song form (`shape`, core/songform/),
    which sees what the filters left and the model's own distribution. With `sample_network`
    the mixture is the model shown, but what is sampled comes from the network alone (the
    song form writes new lines so, and lets song memory choose the lines that come back).
    Greedy decoding takes the likeliest word of what the form leaves at temperature 1.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if not np.isfinite(logits).all():
        raise CheckpointError(
            "the network produced NaN or infinite scores: its weights are "
            "broken (retrain, or use an earlier checkpoint)"
        )
    network, entropy = _softmax_entropy(logits)
    penalised = settings.repetition_penalty != 1.0 and len(recent) > 0
    adjusted = _penalised(logits, settings.repetition_penalty, recent) if penalised else logits
    model = network
    extra: dict[str, Any] = {}
    mixed = memory is not None and memory.lam > 0
    if memory is not None and mixed:
        model = mix(network, memory.probs, memory.lam, memory.unk_id)
        extra = {"network": network, "cache": memory.probs, "cache_weight": memory.lam}
        if not sample_network:
            if penalised:
                model_penalised = mix(softmax(adjusted), memory.probs, memory.lam, memory.unk_id)
            adjusted = np.log(np.maximum(model_penalised if penalised else model, 1e-300))
        entropy = float(-(model * np.log(np.maximum(model, 1e-300))).sum())
    ban = list(banned) if 0 < len(banned) < len(logits) else []
    if ban:
        adjusted = adjusted.copy() if adjusted is logits else adjusted
        adjusted[ban] = -np.inf
    if settings.temperature == 0:
        final = np.zeros_like(model)
        if shape is None:
            best = np.argmax(adjusted)
        elif adjusted is logits or (not penalised and (not mixed or sample_network)):
            kept = network.copy()  # the network's own distribution, what is banned taken out
            kept[ban] = 0.0
            best = np.argmax(shape(kept, model, network))
        else:
            best = np.argmax(shape(softmax(adjusted), model, network))
        final[int(best)] = 1.0
        return Distribution(model, final, 1, entropy, **extra)
    final = _filtered(adjusted, settings)
    if shape is not None:
        final = shape(final, model, network)
    return Distribution(model, final, int(np.count_nonzero(final)), entropy, **extra)


def _softmax_entropy(logits: np.ndarray) -> tuple[np.ndarray, float]:
    """softmax(logits) and its entropy in nats, log Z - E[z] (no logarithm of every p)."""
    z = logits - np.max(logits)
    e = np.exp(z)
    total = float(e.sum())
    p = e / total
    return p, math.log(total) - float(p @ z)


def _penalised(logits: np.ndarray, penalty: float, recent: Sequence[int]) -> np.ndarray:
    """The scores with the repetition penalty on the recent words (CTRL's: a positive score
    divided by it, a negative one multiplied)."""
    adjusted = logits.copy()
    ids = np.unique(np.asarray(recent, dtype=np.int64))
    vals = adjusted[ids]
    adjusted[ids] = np.where(vals > 0, vals / penalty, vals * penalty)
    return adjusted


def _filtered(adjusted: np.ndarray, settings: SamplerSettings) -> np.ndarray:
    """Temperature, then top-k and top-p: the distribution sampled from (sums to 1)."""
    # shift before dividing: a tiny temperature must not overflow to inf (and inf - inf = NaN)
    with np.errstate(over="ignore"):
        final = np.exp((adjusted - np.max(adjusted)) / settings.temperature)
    final /= final.sum()
    if 0 < settings.top_k < len(final):
        # the k likeliest; among words tied at the k-th probability the lowest ids, so the
        # same scores always give the same set (argpartition alone picks ties arbitrarily)
        kth = -np.partition(-final, settings.top_k - 1)[settings.top_k - 1]
        above = np.flatnonzero(final > kth)
        tied = np.flatnonzero(final == kth)[: settings.top_k - len(above)]
        keep = np.zeros(len(final), dtype=bool)
        keep[above] = True
        keep[tied] = True
        final = np.where(keep, final, 0.0)
    if settings.top_p < 1.0:
        order = np.argsort(-final, kind="stable")
        cumulative = np.cumsum(final[order]) / final.sum()
        # keep the smallest prefix whose mass reaches top_p (always at least the top token)
        n_keep = int(np.searchsorted(cumulative, settings.top_p, side="left")) + 1
        keep = np.zeros(len(final), dtype=bool)
        keep[order[:n_keep]] = True
        final = np.where(keep, final, 0.0)
    return final / final.sum()


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
    entropy: float
    network_prob: float | None = None  # with song memory on: the network's part alone,
    cache_prob: float | None = None  # and the cache's (None: memory off or nothing yet)


@dataclass
class Generation:
    """A prepared generation. Iterate it to get tokens one at a time."""

    prompt: str
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
        out.append("not in the vocabulary, read as <unk>: " + " ".join(unknown))
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
            greedy=settings.temperature == 0,
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
            prompt=prompt or "",
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
        recent: deque[int] = deque(prompt_ids[-REPETITION_WINDOW:], maxlen=REPETITION_WINDOW)
        finished = 0
        unk_id = self.vocab.unk_id
        for index in range(settings.max_tokens):
            h = None
            recall = None
            if memory is not None:
                h = self.stepper.hidden_vectors(state)[0]
                probs = memory.probs(h)
                if probs is not None:
                    recall = Memory(probs, memory.settings.lam, unk_id)
            if writer is None:
                banned = self._banned + lines.held_back(settings.returns, memory is not None)
            else:
                banned = self._banned  # the form's rules hold lines back (core/songform/)
                writer.look = self._look_ahead(state, logits)
            shape = None if writer is None else writer.shape
            dist = next_token_distribution(
                logits,
                settings,
                recent,
                banned,
                recall,
                shape,
                writer is not None,
            )
            if settings.temperature == 0:
                token_id = int(np.argmax(dist.final))
            else:
                token_id = draw(rng, dist.final)
            text = self.vocab.tokens[token_id]
            generation.generated.append(text)
            # candidates the filters removed (probability 0, <unk> among them) are not offered
            alternatives = tuple(
                (self.vocab.tokens[i], p) for i, p in dist.top(settings.alternatives) if p > 0
            )
            yield GeneratedToken(
                index,
                token_id,
                text,
                float(dist.final[token_id]),
                float(dist.model[token_id]),
                alternatives,
                dist.entropy,
                None if dist.network is None else float(dist.network[token_id]),
                None if dist.cache is None else float(dist.cache[token_id]),
            )
            if token_id == self._newline_id:
                finished += 1
                if settings.max_lines and finished >= settings.max_lines:
                    return
            lines.read(token_id)
            if writer is not None:
                writer.read(token_id)
            if memory is not None and h is not None:
                memory.read(h, token_id)
            recent.append(token_id)
            logits, state = self.stepper.step(state, token_id)
