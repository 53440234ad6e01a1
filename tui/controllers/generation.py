"""Generation control: one generation at a time, over numpy weights, streamed token by token.

The first token is computed in the caller's thread (the UI thread on Enter: priming the prompt
and one step are a few milliseconds of numpy), so it is on screen in the same frame as the key;
a plain thread streams the rest of the same generator, `pace_s` apart, and stops when asked.
When the weights are not ready without waiting (a fresh copy of a training run's weights is
needed, or jieba's dictionary is still loading) the thread does all of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lyrics_tui.core import tuning
from lyrics_tui.core.errors import LyricsError
from lyrics_tui.tui.controllers import Post, Problem, start_thread

if TYPE_CHECKING:
    from lyrics_tui.core.sampling import GeneratedToken, Generation, SamplerSettings
    from lyrics_tui.core.steppers import Stepper
    from lyrics_tui.core.vocab import Vocabulary


@dataclass(frozen=True)
class Weights:
    """What a generation runs on."""

    stepper: Stepper
    vocab: Vocabulary
    tokenizer: str  # "word" or "char"
    source: str  # where the weights come from, for the prompt pane's title
    form: dict[str, object] | None = None  # the training corpus's song form, as stored


# blocking -> the weights; None when they cannot be had without waiting
WeightsSource = Callable[[bool], Weights | None]


# -- reports, posted from the generation thread ------------------------------------------------
class GenerationReport:
    """What the generation thread posts; `receive` applies it."""

    gen_id: int


@dataclass(frozen=True)
class GenerationStarted(GenerationReport):
    gen_id: int
    prompt_text: str  # the prompt as the model reads it
    seed: int
    warnings: tuple[str, ...]  # e.g. prompt words read as <unk>
    source: str


@dataclass(frozen=True)
class TokenGenerated(GenerationReport):
    gen_id: int
    text: str
    prob: float


@dataclass(frozen=True)
class GenerationEnded(GenerationReport):
    gen_id: int
    tokens: int
    stopped: bool  # stopped by the user rather than by its length


class GenerationController:
    """The latest generation (its text, seed and how it ended) and the thread that streams it."""

    def __init__(self, post: Post[GenerationReport | Problem]) -> None:
        self.post = post
        self.gen_id = 0
        self.running = False
        self.prompt_text = ""
        self.tokens: list[str] = []
        self.seed: int | None = None  # of the latest generation: r repeats it
        self.ended: GenerationEnded | None = None
        self.warm_tokenizers = {"char"}  # tokenizers that split a prompt without loading first
        self.threads: list[threading.Thread] = []  # the generations' threads
        self._stop: threading.Event | None = None

    @property
    def text(self) -> str:
        return self.prompt_text + "".join(self.tokens)

    @property
    def note(self) -> str:
        """How the latest generation ended, shown after its text."""
        ended = self.ended
        if ended is None:
            return ""
        if ended.stopped:
            return f"[stopped after {ended.tokens} tokens · seed {self.seed}]"
        return f"[{ended.tokens} tokens · seed {self.seed} · r repeats it]"

    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def warm_up(self, kind: str = "word") -> None:
        """Load the tokenizer's dictionary in a thread (jieba: 0.3-0.4 s from its cache), so
        that the first Enter does not wait for it; then pypinyin's, for the rhyme marks."""
        start_thread("lyrics-warm-up", self._warm_up, kind)  # nothing waits for it, not even quit

    def _warm_up(self, kind: str) -> None:
        from lyrics_tui.core.tokens import warm_up

        try:
            warm_up(kind)
            self.warm_tokenizers.add(kind)
        except Exception:
            pass  # the first generation loads it, or says why it cannot
        try:
            from lyrics_tui.core.songform.marks import warm_up as warm_up_rhymes

            warm_up_rhymes()
        except Exception:
            pass  # the marks show without rhyme colours
        tuning.settle_long_lived()  # both dictionaries: out of the collector's full passes

    def start(
        self, prompt: str, settings: SamplerSettings, pace_s: float, weights: WeightsSource
    ) -> GenerationStarted | None:
        """Start generating from `prompt`, stopping the generation before. Returns how it
        started when the first token was computed here, None when the thread prepares it all;
        LyricsError says why it cannot start."""
        settings.validated()
        self.stop()
        self.gen_id += 1
        stop = threading.Event()
        self._stop = stop
        self.running = True
        try:
            ready = weights(False)
            if ready is None or ready.tokenizer not in self.warm_tokenizers:
                self._spawn(self.gen_id, stop, pace_s, prompt, settings, weights, None, 0)
                return None
            generation = self._generation(ready, prompt, settings)
            tokens = iter(generation)
            first = next(tokens, None)
        except LyricsError:
            self.running = False
            raise
        except Exception as exc:
            self.running = False
            raise _one_line(exc) from exc
        self.prompt_text, self.tokens, self.ended = generation.prompt, [], None
        self.seed = generation.seed
        if first is not None:
            self.tokens.append(first.text)
        count = int(first is not None)
        self._spawn(self.gen_id, stop, pace_s, prompt, settings, weights, tokens, count)
        return GenerationStarted(
            self.gen_id,
            generation.prompt,
            generation.seed,
            tuple(generation.warnings),
            ready.source,
        )

    def stop(self) -> bool:
        """Ask the running generation to stop; False when none is running."""
        stop = self._stop
        if stop is not None and not stop.is_set() and self.running:
            stop.set()
            return True
        return False

    def forget(self) -> None:
        """No generation shown (a reset): the one running stops and its reports are ignored."""
        self.stop()
        self.gen_id += 1
        self.running = False
        self.prompt_text, self.tokens, self.seed, self.ended = "", [], None, None

    def receive(self, report: GenerationReport) -> bool:
        """Apply a report of the generation thread (in the UI thread). False when it belongs to
        an earlier generation, which the view ignores."""
        if report.gen_id != self.gen_id:
            return False
        if isinstance(report, GenerationStarted):
            self.prompt_text, self.tokens, self.ended = report.prompt_text, [], None
            self.seed = report.seed
        elif isinstance(report, TokenGenerated):
            self.tokens.append(report.text)
        elif isinstance(report, GenerationEnded):
            self.running = False
            self.ended = report
        return True

    # -- the thread --------------------------------------------------------------------------
    @staticmethod
    def _generation(weights: Weights, prompt: str, settings: SamplerSettings) -> Generation:
        from lyrics_tui.core.sampling import Sampler
        from lyrics_tui.core.songform import form_of, rhymes_of
        from lyrics_tui.core.tokens import Tokenizer

        sampler = Sampler(
            weights.stepper,
            weights.vocab,
            Tokenizer(weights.tokenizer),
            form_of(weights.form),
            rhymes_of(weights.form, weights.vocab),
        )
        return sampler.generate(prompt, settings)

    def _spawn(self, *args: object) -> None:
        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(start_thread("lyrics-generate", self._stream, *args))

    def _stream(
        self,
        gen_id: int,
        stop: threading.Event,
        pace_s: float,
        prompt: str,
        settings: SamplerSettings,
        weights: WeightsSource,
        tokens: Iterator[GeneratedToken] | None,
        count: int,
    ) -> None:
        """Post the tokens one at a time; prepares the generation first when not given it."""
        try:
            if tokens is None:
                ready = weights(True)
                assert ready is not None  # blocking: always weights, or an error
                generation = self._generation(ready, prompt, settings)
                self.post(
                    GenerationStarted(
                        gen_id,
                        generation.prompt,
                        generation.seed,
                        tuple(generation.warnings),
                        ready.source,
                    )
                )
                tokens = iter(generation)
            elif pace_s and stop.wait(pace_s):
                return
            for token in tokens:
                if stop.is_set():
                    break
                self.post(TokenGenerated(gen_id, token.text, token.prob))
                count += 1
                if pace_s and stop.wait(pace_s):
                    break
        except Exception as exc:
            self.post(Problem(str(_one_line(exc))))
        finally:
            self.post(GenerationEnded(gen_id, count, stop.is_set()))


def _one_line(exc: Exception) -> LyricsError:
    """Bad input keeps its own line; anything else is named, never shown as a traceback."""
    if isinstance(exc, LyricsError):
        return exc
    return LyricsError(f"generation failed: {type(exc).__name__}: {exc}")
