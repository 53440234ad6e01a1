"""Looking inside the network: step-through decoding, line scoring, embedding neighbours and the
hidden state.

Everything here works over the Stepper protocol (core/steppers.py), so the same code serves a
checkpoint read with numpy alone (`load_subject`, no torch import) and a snapshot of a model
being trained (`subject_from_run`). Results are small frozen dataclasses with every number
precomputed (probabilities, ranks, bits, quantised hidden units), ready for a view to draw;
`to_dict()` gives plain JSON-ready data.

Conventions: probabilities are the network's softmax at temperature 1 ("model") unless named
"final" (after repetition penalty, temperature, top-k and top-p, exactly as the sampler uses
them, via core.sampling.next_token_distribution). Surprisal and entropy are in bits.
Perplexity is exp(mean nats per token) = 2 ** (mean bits per token), counted over every token
including the end of each line, as `lyrics-tui eval` does.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lyrics_tui.core.cache import (
    CacheFit,
    CacheSettings,
    CacheView,
    NeuralCache,
    ResolvedCache,
    cache_view,
    mix,
    resolve_cache,
    stored_fit,
)
from lyrics_tui.core.errors import LyricsError, SettingsError
from lyrics_tui.core.metrics import LOG2E, perplexity_from_bits, surprisal_bits
from lyrics_tui.core.sampling import (
    MAX_SEED,
    REPETITION_WINDOW,
    Distribution,
    Memory,
    SamplerSettings,
    SongLines,
    next_token_distribution,
    prompt_warnings,
    softmax,
)
from lyrics_tui.core.steppers import Stepper
from lyrics_tui.core.tokens import NEWLINE, Tokenizer, detokenize
from lyrics_tui.core.vocab import UNK, Vocabulary

if TYPE_CHECKING:
    from lyrics_tui.core.checkpoint import Checkpoint

MAX_CANDIDATES = 100  # the most candidates a step reports
MAX_NEIGHBOURS = 200
MAX_HIDDEN_STEPS = 1000
LEVELS = 4  # hidden units are quantised to integers in [-LEVELS, LEVELS]
_SPARK = "▁▂▃▄▅▆▇█"


def display_token(text: str) -> str:
    """How a token reads in a table: the line end as ↵, a space as ␣, a full-width space as ⎵,
    other invisible characters escaped, words as they are."""
    if text == NEWLINE:
        return "↵"
    if text == " ":
        return "␣"
    if text == "\u3000":
        return "⎵"  # the full-width (ideographic) space
    if text.isspace() or not text.isprintable():
        return repr(text)[1:-1]
    return text


def _entropysurprisal_bits(probs: np.ndarray) -> float:
    p = probs[probs > 0]
    return float(-(p * np.log2(p)).sum())


def _rank(probs: np.ndarray, token_id: int) -> int:
    """1 for the likeliest token; ties share the better rank."""
    return int(np.count_nonzero(probs > probs[token_id])) + 1


class _Serialisable:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


# -- the model being inspected -------------------------------------------------------------
@dataclass(frozen=True)
class Subject:
    """A model to look inside: a stepper, its vocabulary and tokenizer, and a label to show."""

    stepper: Stepper
    vocab: Vocabulary
    tokenizer: Tokenizer
    label: str = ""
    fit: CacheFit | None = None  # song memory fitted after training (None: not stored)
    cache: CacheSettings | None = None  # what --cache auto means here (None: off)

    def resolve_cache(self, option: str | CacheSettings | None = "auto") -> ResolvedCache:
        """--cache auto|off|N,THETA,LAMBDA for this model (core/cache.py)."""
        if (option is None or option == "auto") and self.fit is None and self.cache is not None:
            return ResolvedCache(self.cache, "stored")  # a training run's latest settings
        return resolve_cache(option, self.fit, self.label)

    @property
    def fitted_cache(self) -> CacheSettings | None:
        """Song memory's fitted settings, λ 0 included (a control that sets λ starts from their
        N and θ); None: not fitted."""
        return self.fit.settings if self.fit is not None else self.cache

    @property
    def cell(self) -> str:
        return self.stepper.config.cell

    @property
    def hidden_size(self) -> int:
        return self.stepper.config.hidden


def load_subject(
    path: str | Path | None = None,
    adapt: Any = None,
    on_note: Callable[[str], object] | None = None,
) -> Subject:
    """A checkpoint read with numpy only (fast, no torch). None: the one start-up opens from
    checkpoints/ (core.loading.open_startup_model; `on_note` hears of files passed over). With
    `adapt` (core.adapt.AdaptSettings) a network that learns from what it reads (torch)."""
    from lyrics_tui.core.loading import open_checkpoint

    opened = open_checkpoint(path, adapt=adapt, on_note=on_note)
    fit = opened.cache_fit
    return Subject(
        opened.stepper,
        opened.vocab,
        opened.tokenizer,
        label=opened.path,
        fit=fit,
        cache=fit.settings if fit and fit.settings.on else None,
    )


def subject_from_checkpoint(checkpoint: Checkpoint) -> Subject:
    """A Subject over a loaded Checkpoint (torch tensors or numpy arrays), run with numpy."""
    from lyrics_tui.core.loading import numpy_stepper

    fit = stored_fit(checkpoint)
    return Subject(
        numpy_stepper(checkpoint),
        checkpoint.vocab,
        Tokenizer(checkpoint.train_config.tokenizer),
        label=str(checkpoint.path),
        fit=fit,
        cache=fit.settings if fit and fit.settings.on else None,
    )


def subject_from_state(
    model_config: Any,
    state: dict[str, Any],
    vocab: Vocabulary,
    tokenizer_kind: str = "word",
    label: str = "",
) -> Subject:
    """A Subject over a state dict (numpy arrays or CPU tensors), e.g. a training snapshot."""
    from lyrics_tui.core.steppers import NumpyStepper

    weights = {
        k: (v.detach().float().cpu().numpy() if hasattr(v, "detach") else v)
        for k, v in state.items()
    }
    return Subject(NumpyStepper(model_config, weights), vocab, Tokenizer(tokenizer_kind), label)


def subject_from_run(run: Any, label: str = "training snapshot") -> Subject:
    """The weights a core.trainer.TrainingRun holds right now, copied between two optimiser
    steps; safe to call from any thread while the run trains. Song memory: the settings the
    run's last validation chose."""
    subject = subject_from_state(
        run.model_config, run.snapshot_state(), run.vocab, run.train_config.tokenizer, label
    )
    guess = getattr(run, "cache_settings", None)
    return replace(subject, cache=guess if guess is not None and guess.on else None)


# -- hidden state --------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitStrip(_Serialisable):
    """One vector of hidden units, ready for a heat strip or a sparkline.

    levels[i] is values[i] quantised to an integer in [-LEVELS, LEVELS] over [-scale, scale]
    (0 is 0; the sign says which way the unit leans, the magnitude how far). h of every cell lies in
    [-1, 1] so its scale is 1; an LSTM's cell state c is unbounded and is scaled by its largest
    |value| (at least 1), reported in `scale`.
    """

    values: tuple[float, ...]  # per unit, rounded to 4 decimals
    levels: tuple[int, ...]
    scale: float
    norm: float  # L2 norm
    mean_abs: float
    max_abs: float
    saturated: float  # share of units with |value| >= 0.95 (a tanh unit stuck at its limit)

    @property
    def spark(self) -> str:
        """A ready-made sparkline: one block per unit, ▁ = -scale, █ = +scale."""
        return _spark(self.values, self.scale)

    def binned(self, width: int) -> tuple[float, ...]:
        """Values squeezed to at most `width` cells for a narrow strip: each cell keeps the
        strongest unit of its group, sign included."""
        n = len(self.values)
        if width <= 0 or n <= width:
            return self.values
        edges = np.linspace(0, n, width + 1).astype(int)
        return tuple(
            max(self.values[a : max(b, a + 1)], key=abs) for a, b in itertools.pairwise(edges)
        )

    def binned_levels(self, width: int) -> tuple[int, ...]:
        return tuple(_level(v, self.scale) for v in self.binned(width))

    def spark_binned(self, width: int) -> str:
        return _spark(self.binned(width), self.scale)


def _level(value: float, scale: float) -> int:
    return int(max(-LEVELS, min(LEVELS, round(value / scale * LEVELS))))


def _spark(values: Iterable[float], scale: float) -> str:
    out = []
    for v in values:
        i = math.floor((v / scale + 1.0) / 2.0 * len(_SPARK))
        out.append(_SPARK[max(0, min(len(_SPARK) - 1, i))])
    return "".join(out)


def unit_strip(vector: np.ndarray, scale: float | None = None) -> UnitStrip:
    """Quantise one hidden vector. scale None: max(1, largest |value|)."""
    v = np.asarray(vector, dtype=np.float64).reshape(-1)
    max_abs = float(np.max(np.abs(v))) if v.size else 0.0
    if scale is None:
        scale = max(1.0, max_abs)
    levels = np.clip(np.rint(v / scale * LEVELS), -LEVELS, LEVELS).astype(int)
    return UnitStrip(
        values=tuple(round(float(x), 4) for x in v),
        levels=tuple(int(x) for x in levels),
        scale=float(scale),
        norm=float(np.linalg.norm(v)),
        mean_abs=float(np.mean(np.abs(v))) if v.size else 0.0,
        max_abs=max_abs,
        saturated=float(np.mean(np.abs(v) >= 0.95)) if v.size else 0.0,
    )


@dataclass(frozen=True)
class HiddenStep(_Serialisable):
    """The top layer's state right after the network has read one word."""

    index: int  # position in the whole sequence read so far (0: the line start fed first)
    text: str  # the word just read
    label: str  # display_token(text)
    generated: bool  # False for the line start and prompt words
    h: UnitStrip
    c: UnitStrip | None  # LSTM only
    change: float  # L2 distance of h from the previous step's h (0 for the first)


def _hidden_step(
    stepper: Stepper,
    state: Any,
    index: int,
    text: str,
    generated: bool,
    previous_h: np.ndarray | None,
) -> tuple[HiddenStep, np.ndarray]:
    h, c = stepper.hidden_vectors(state)
    h = np.asarray(h, dtype=np.float64).reshape(-1)
    change = float(np.linalg.norm(h - previous_h)) if previous_h is not None else 0.0
    step = HiddenStep(
        index=index,
        text=text,
        label=display_token(text),
        generated=generated,
        h=unit_strip(h, scale=1.0),
        c=unit_strip(np.asarray(c)) if c is not None else None,
        change=change,
    )
    return step, h


def _top_state(stepper: Stepper, state: Any) -> np.ndarray:
    """The top layer's h as its own float32 copy (what song memory keeps)."""
    return np.array(stepper.hidden_vectors(state)[0], dtype=np.float32).reshape(-1)


# -- step-through decoding -----------------------------------------------------------------
@dataclass(frozen=True)
class Candidate(_Serialisable):
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
    # earlier positions in the text read (StepView.tokens) where this word came after a state
    # like the current one: (position, share of the cache's attention), strongest first
    pointers: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class StepView(_Serialisable):
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


@dataclass(frozen=True)
class ChosenWord(_Serialisable):
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


class StepThrough:
    """Decode one word at a time, the user deciding each word.

    Starts from a prompt exactly as core.sampling.Sampler does (a line start, then the prompt
    words; <unk> can never be picked). `current` is the StepView of the next decision.
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
            step, previous = _hidden_step(stepper, state, i, text, False, previous)
            self.prompt_hidden.append(step)
            self._read.append((token_id, _top_state(stepper, state)))
        recent = tuple(vocab.encode(self.prompt_tokens)[-REPETITION_WINDOW:])
        assert previous is not None  # the line start was read
        self._frames: list[_Frame] = [
            _Frame(state, np.asarray(logits), recent, self.prompt_hidden[-1], previous, None)
        ]
        self._view: StepView | None = None

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
    def current(self) -> StepView:
        if self._view is None:
            self._view = self._make_view()
        return self._view

    def set_settings(self, settings: SamplerSettings) -> StepView:
        """New temperature/top-k/top-p/penalty for the current and later steps (the seed and
        the picks so far stay)."""
        settings, self.notes = settings.validated()
        self.settings = settings
        self._view = None
        return self.current

    def set_top(self, top: int) -> StepView:
        if not 1 <= top <= MAX_CANDIDATES:
            raise SettingsError(f"candidates shown must be between 1 and {MAX_CANDIDATES}")
        self.top = top
        self._view = None
        return self.current

    def _memory(self) -> CacheView | None:
        """What song memory recalls at the current step (None: off, or nothing yet): as in
        generation, the lines finished so far (core/sampling.py, SongMemory)."""
        cache = self.settings.cache
        newline = self.subject.vocab.id(NEWLINE)
        ends = [i for i, (token_id, _) in enumerate(self._read) if token_id == newline and i]
        if cache is None or not cache.on or not ends:
            return None
        t = len(self._read) - 1  # the state now is the one after reading token t
        end = ends[-1]  # the last line end read: pairs up to it are remembered
        low = max(0, end - cache.window)
        keys = np.stack([h for _, h in self._read[low:end]])
        next_ids = np.array([i for i, _ in self._read[low + 1 : end + 1]], dtype=np.int64)
        return cache_view(
            keys,
            next_ids,
            np.arange(low + 1, end + 1),
            self._read[t][1],
            cache.theta,
            len(self.subject.vocab),
            self.subject.vocab.unk_id,
        )

    def _distribution(self) -> tuple[Distribution, CacheView | None]:
        frame = self._frames[-1]
        recall = self._memory()
        memory = None
        if recall is not None and self.settings.cache is not None:
            memory = Memory(recall.probs, self.settings.cache.lam, self.subject.vocab.unk_id)
        lines = SongLines(self.subject.vocab.id(NEWLINE))
        for token_id, _ in self._read[1:]:  # after the line start
            lines.read(token_id)
        cache_on = self.settings.cache is not None and self.settings.cache.on
        banned = (*self._banned, *lines.held_back(self.settings.returns, cache_on))
        dist = next_token_distribution(frame.logits, self.settings, frame.recent, banned, memory)
        return dist, recall

    @property
    def tokens_read(self) -> tuple[str, ...]:
        """Every token read so far as a label (0: the line start); pointers index these."""
        return tuple(display_token(self.subject.vocab.tokens[i]) for i, _ in self._read)

    def _make_view(self) -> StepView:
        frame = self._frames[-1]
        dist, recall = self._distribution()
        model, final = dist.model, dist.final
        network = dist.network_probs
        cache = dist.cache
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
                model_rank=_rank(model, int(i)),
                survives=bool(final[i] > 0),
                network_prob=float(network[i]),
                cache_prob=float(cache[i]) if cache is not None else 0.0,
                pointers=recall.pointers(int(i), limit=5) if recall is not None else (),
            )
            for n, i in enumerate(order)
        )
        entropy = dist.entropy * LOG2E
        s = self.settings
        return StepView(
            index=len(self._frames) - 1,
            context=self.text,
            candidates=candidates,
            entropy_bits=float(entropy),
            effective_choices=float(2.0**entropy),
            final_entropy_bits=_entropysurprisal_bits(final),
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
            raise LyricsError(f"{word!r} is not in the vocabulary ({len(vocab):,} words)")
        return self._advance(vocab.id(token), "chosen")

    def sample(self) -> ChosenWord:
        """Let the sampler pick with the current settings."""
        dist, _ = self._distribution()
        if self.settings.temperature == 0:
            token_id = int(np.argmax(dist.final))
        else:
            token_id = int(self._rng.choice(len(dist.final), p=dist.final))
        return self._advance(token_id, "sampled")

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

    def _advance(self, token_id: int, how: str) -> ChosenWord:
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
            model_rank=_rank(dist.model, token_id),
            surprisal_bits=surprisal_bits(model_prob),
            network_prob=float(dist.network_probs[token_id]),
            cache_prob=float(dist.cache[token_id]) if dist.cache is not None else 0.0,
        )
        stepper = self.subject.stepper
        logits, state = stepper.step(frame.state, token_id)
        self._read.append((token_id, _top_state(stepper, state)))
        recent = ((*frame.recent, token_id))[-REPETITION_WINDOW:]
        index = len(self.prompt_hidden) + len(self._frames) - 1
        hidden, h = _hidden_step(stepper, state, index, text, True, frame.h)
        self._frames.append(_Frame(state, np.asarray(logits), recent, hidden, h, chosen))
        self._view = None
        return chosen


def parse_choices(spec: str) -> list[int | str]:
    """ "1,2,s,b" -> [1, 2, "s", "b"]: numbers pick candidates, s samples, b steps back."""
    out: list[int | str] = []
    for raw in spec.replace(" ", ",").split(","):
        item = raw.strip().lower()
        if not item:
            continue
        if item in ("s", "b"):
            out.append(item)
        elif item.isdigit() and int(item) >= 1:
            out.append(int(item))
        else:
            raise SettingsError(
                f"bad choice {raw.strip()!r}: use candidate numbers (1, 2, ...), "
                f"s to sample or b to step back, separated by commas"
            )
    return out


# -- hidden trace --------------------------------------------------------------------------
@dataclass(frozen=True)
class HiddenTrace(_Serialisable):
    cell: str
    hidden_size: int
    layer: int  # the layer shown: the top one (1-based)
    text: str
    steps: tuple[HiddenStep, ...]
    seed: int


def hidden_trace(
    subject: Subject, prompt: str = "", length: int = 20, settings: SamplerSettings | None = None
) -> HiddenTrace:
    """Read the prompt, generate `length` words, and report the top layer's state after every
    word read (the line start and prompt words first)."""
    if not 0 <= length <= MAX_HIDDEN_STEPS:
        raise SettingsError(f"length must be between 0 and {MAX_HIDDEN_STEPS}")
    walk = StepThrough(subject, settings, prompt, top=1)
    for _ in range(length):
        walk.sample()
    config = subject.stepper.config
    return HiddenTrace(
        cell=config.cell,
        hidden_size=config.hidden,
        layer=config.layers,
        text=walk.text,
        steps=walk.hidden_steps,
        seed=walk.seed,
    )


# -- scoring a line ------------------------------------------------------------------------
@dataclass(frozen=True)
class WordScore(_Serialisable):
    position: int  # 0-based, over the tokens of the text (line ends included)
    text: str
    label: str
    token_id: int  # the id scored: <unk>'s id for an unknown word
    known: bool  # False: not in the vocabulary, scored as <unk> (any rare word)
    line_end: bool
    prob: float  # model probability, temperature 1
    surprisal_bits: float  # -log2 prob
    rank: int  # 1 = the model's likeliest word here
    top_guess: str  # what the model found likeliest here
    top_guess_label: str
    top_prob: float
    # Song memory (core/cache.py): with it on, prob above is the mixture and these its parts
    network_prob: float = 0.0  # the network alone (= prob when memory is off)
    cache_prob: float | None = None  # the cache alone (None: off, or nothing remembered yet)
    cache_share: float = 0.0  # the part of prob that the cache contributed, 0..1


@dataclass(frozen=True)
class LineScore(_Serialisable):
    text: str
    label: str  # which model
    words: tuple[WordScore, ...]
    unknown: tuple[str, ...]  # each unknown word once, in order
    total_bits: float
    mean_bits: float  # per token
    perplexity: float  # 2 ** mean_bits
    known_perplexity: float | None  # over known tokens only (None when there are none)
    bits_per_char: float  # comparable across word and character models
    characters: int  # including one line end per line
    cache: CacheSettings | None = None  # song memory in effect (None: off)
    network_perplexity: float = 0.0  # the network alone on the same tokens (= perplexity when off)


def _text_lines(text: str) -> list[str]:
    lines = [part.strip() for part in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise LyricsError("nothing to score: the line is empty")
    return lines


def score_line(subject: Subject, text: str, cache: CacheSettings | None = None) -> LineScore:
    """Each token's probability, surprisal and rank as the model reads `text` from a line start,
    each line ending with a line end; unknown words are scored as <unk> and flagged. With
    `cache`, song memory is mixed in as it is in generation (core/cache.py)."""
    lines = _text_lines(text)
    vocab, stepper = subject.vocab, subject.stepper
    tokens = [t for line in subject.tokenizer.lines(lines) for t in line]
    state = stepper.initial_state()
    logits, state = stepper.step(state, vocab.id(NEWLINE))
    memory = (
        NeuralCache(cache, stepper.config.hidden, len(vocab), vocab.unk_id)
        if cache is not None and cache.on
        else None
    )
    words = []
    network_bits = 0.0
    for position, token in enumerate(tokens):
        token_id = vocab.id(token)
        network = softmax(np.asarray(logits))
        probs, recalled, share = network, None, 0.0
        h = _top_state(stepper, state) if memory is not None else None
        if memory is not None and h is not None:
            recalled = memory.probs(h)
            probs = mix(network, recalled, memory.settings.lam, vocab.unk_id)
            if recalled is not None and token_id != vocab.unk_id and probs[token_id] > 0:
                part = memory.settings.lam * (1 - network[vocab.unk_id]) * recalled[token_id]
                share = float(part / probs[token_id])
        network_bits += surprisal_bits(float(network[token_id]))
        prob = float(probs[token_id])
        best = int(np.argmax(probs))
        words.append(
            WordScore(
                position=position,
                text=token,
                label=display_token(token),
                token_id=token_id,
                known=token in vocab and token != UNK,
                line_end=token == NEWLINE,
                prob=prob,
                surprisal_bits=surprisal_bits(prob),
                rank=_rank(probs, token_id),
                top_guess=vocab.tokens[best],
                top_guess_label=display_token(vocab.tokens[best]),
                top_prob=float(probs[best]),
                network_prob=float(network[token_id]),
                cache_prob=None if recalled is None else float(recalled[token_id]),
                cache_share=share,
            )
        )
        if memory is not None and h is not None:
            memory.add(h, token_id)
        if position < len(tokens) - 1:
            logits, state = stepper.step(state, token_id)
    total = sum(w.surprisal_bits for w in words)
    mean = total / len(words)
    known = [w.surprisal_bits for w in words if w.known]
    characters = sum(len(line) + 1 for line in lines)
    return LineScore(
        text="\n".join(lines),
        label=subject.label,
        words=tuple(words),
        unknown=tuple(vocab.unknown(tokens)),
        total_bits=total,
        mean_bits=mean,
        perplexity=perplexity_from_bits(mean),
        known_perplexity=perplexity_from_bits(sum(known) / len(known)) if known else None,
        bits_per_char=total / characters,
        characters=characters,
        cache=cache if memory is not None else None,
        network_perplexity=perplexity_from_bits(network_bits / len(words)),
    )


@dataclass(frozen=True)
class ComparedWord(_Serialisable):
    position: int
    text: str
    label: str
    prob_a: float
    prob_b: float
    bits_a: float
    bits_b: float
    delta_bits: float  # b - a: negative when model B finds the word less surprising
    rank_a: int
    rank_b: int
    known_a: bool
    known_b: bool


@dataclass(frozen=True)
class LineComparison(_Serialisable):
    a: LineScore
    b: LineScore
    aligned: bool  # both models split the text into the same tokens
    words: tuple[ComparedWord, ...]  # empty when not aligned
    better: str  # "a", "b" or "same": lower bits per character wins
    note: str


def compare_lines(
    a: Subject,
    b: Subject,
    text: str,
    cache_a: CacheSettings | None = None,
    cache_b: CacheSettings | None = None,
) -> LineComparison:
    """Score the same text under two models, word by word where their tokens line up."""
    sa, sb = score_line(a, text, cache_a), score_line(b, text, cache_b)
    aligned = [w.text for w in sa.words] == [w.text for w in sb.words]
    words: tuple[ComparedWord, ...] = ()
    note = ""
    if aligned:
        words = tuple(
            ComparedWord(
                position=x.position,
                text=x.text,
                label=x.label,
                prob_a=x.prob,
                prob_b=y.prob,
                bits_a=x.surprisal_bits,
                bits_b=y.surprisal_bits,
                delta_bits=y.surprisal_bits - x.surprisal_bits,
                rank_a=x.rank,
                rank_b=y.rank,
                known_a=x.known,
                known_b=y.known,
            )
            for x, y in zip(sa.words, sb.words, strict=True)
        )
    else:
        note = (
            "the two models split the text into different tokens; compare bits per "
            "character, not perplexity"
        )
    if abs(sa.bits_per_char - sb.bits_per_char) < 1e-9:
        better = "same"
    else:
        better = "a" if sa.bits_per_char < sb.bits_per_char else "b"
    return LineComparison(sa, sb, aligned, words, better, note)


# -- embedding neighbours ------------------------------------------------------------------
@dataclass(frozen=True)
class Neighbour(_Serialisable):
    rank: int
    text: str
    label: str
    token_id: int
    cosine: float
    count: int  # times seen in the training split


@dataclass(frozen=True)
class Neighbours(_Serialisable):
    word: str
    label: str
    token_id: int
    count: int
    norm: float  # length of the word's embedding vector
    neighbours: tuple[Neighbour, ...]  # most similar first; the word itself and <unk> left out
    farthest: tuple[Neighbour, ...]  # least similar, most dissimilar first


def _lookup(subject: Subject, word: str) -> int:
    vocab = subject.vocab
    token = word.strip() if word.strip() else word
    if token in ("↵", "\\n"):
        token = NEWLINE
    if token in vocab and token != UNK:
        return vocab.id(token)
    if not token:
        raise LyricsError("type a word to look up")
    pieces = [p for p in subject.tokenizer.split_line(token) if p in vocab and p != UNK]
    hint = (
        f"; try one of its pieces: {' '.join(pieces)}"
        if len(pieces) > 1 or (pieces and pieces[0] != token)
        else ""
    )
    raise LyricsError(f"{token!r} is not in the vocabulary ({len(vocab):,} words){hint}")


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


def neighbours(subject: Subject, word: str, k: int = 10, farthest: int = 0) -> Neighbours:
    """The k words whose embedding vectors point most nearly the same way as `word`'s
    (cosine similarity), and optionally the `farthest` least similar."""
    if not 1 <= k <= MAX_NEIGHBOURS or not 0 <= farthest <= MAX_NEIGHBOURS:
        raise SettingsError(f"the number of neighbours must be between 1 and {MAX_NEIGHBOURS}")
    token_id = _lookup(subject, word)
    vocab = subject.vocab
    matrix = np.asarray(subject.stepper.embedding_matrix())
    unit = _unit_rows(matrix)
    cosines = unit @ unit[token_id]
    order = np.argsort(-cosines, kind="stable")
    order = order[(order != token_id) & (order != vocab.unk_id)]

    def row(rank: int, i: int) -> Neighbour:
        return Neighbour(
            rank=rank,
            text=vocab.tokens[i],
            label=display_token(vocab.tokens[i]),
            token_id=int(i),
            cosine=float(cosines[i]),
            count=int(vocab.counts[i]),
        )

    near = tuple(row(r + 1, i) for r, i in enumerate(order[:k]))
    far = tuple(row(len(order) - r, i) for r, i in enumerate(order[::-1][:farthest]))
    return Neighbours(
        word=vocab.tokens[token_id],
        label=display_token(vocab.tokens[token_id]),
        token_id=token_id,
        count=int(vocab.counts[token_id]),
        norm=float(np.linalg.norm(matrix[token_id])),
        neighbours=near,
        farthest=far,
    )


def similarity(subject: Subject, a: str, b: str) -> float:
    """Cosine similarity of two words' embeddings (the tutorial's 猫/狗 versus 猫/汽车)."""
    ia, ib = _lookup(subject, a), _lookup(subject, b)
    unit = _unit_rows(np.asarray(subject.stepper.embedding_matrix())[[ia, ib]])
    return float(unit[0] @ unit[1])


__all__ = [
    "Candidate",
    "ChosenWord",
    "ComparedWord",
    "HiddenStep",
    "HiddenTrace",
    "LineComparison",
    "LineScore",
    "Neighbour",
    "Neighbours",
    "StepThrough",
    "StepView",
    "Subject",
    "UnitStrip",
    "WordScore",
    "compare_lines",
    "display_token",
    "hidden_trace",
    "load_subject",
    "neighbours",
    "parse_choices",
    "score_line",
    "similarity",
    "subject_from_checkpoint",
    "subject_from_run",
    "subject_from_state",
    "unit_strip",
]
