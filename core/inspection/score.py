"""Scoring a text: each word's probability, surprisal and rank as the model reads it, and the
same text under two models side by side."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lyrics_tui.core.cache import CacheSettings, NeuralCache, mix
from lyrics_tui.core.distribution import softmax
from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.inspection.common import Serialisable, display_token, rank, top_state
from lyrics_tui.core.inspection.subject import Subject
from lyrics_tui.core.metrics import perplexity_from_bits, surprisal_bits
from lyrics_tui.core.tokens import NEWLINE
from lyrics_tui.core.vocab import UNK


@dataclass(frozen=True)
class WordScore(Serialisable):
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
class LineScore(Serialisable):
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
        h = top_state(stepper, state) if memory is not None else None
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
                rank=rank(probs, token_id),
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
class ComparedWord(Serialisable):
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

    @property
    def unknown_to(self) -> str:
        """Which model reads the word as <unk>: "A", "B", "both", or "" (neither)."""
        return {(False, False): "both", (False, True): "A", (True, False): "B"}.get(
            (self.known_a, self.known_b), ""
        )


@dataclass(frozen=True)
class LineComparison(Serialisable):
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
