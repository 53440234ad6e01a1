"""Property-based tests (hypothesis): tokenizer and vocabulary round trips, sampler invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lyrics_tui.core.distribution import draw, next_token_distribution, nucleus, softmax
from lyrics_tui.core.sampling import (
    Sampler,
    SamplerSettings,
    SongLines,
)
from lyrics_tui.core.tokens import NEWLINE, Tokenizer, detokenize
from lyrics_tui.core.vocab import UNK, Vocabulary, build_and_encode
from tests.helpers import BigramStepper

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Lyrics-like text: Chinese characters, Latin letters, digits, spaces and punctuation, plus
# anything else unicode has (no surrogates, no line breaks: a line is one line).
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF)
LINE_CHARS = st.one_of(
    CJK,
    st.sampled_from(list("的我你爱在风 ,.!?，。！？'-abcXYZ0129")),
    st.characters(blacklist_categories=("Cs", "Zl", "Zp", "Cc")),
)
LINE = st.text(LINE_CHARS, min_size=1, max_size=40)


@FAST
@given(LINE, st.sampled_from(["word", "char"]))
def test_tokens_of_a_line_join_back_to_the_line(line, kind):
    tokens = Tokenizer(kind).split_line(line)
    assert all(tokens) and detokenize(tokens) == line
    (with_newline,) = list(Tokenizer(kind).lines([line]))
    assert with_newline[-1] == NEWLINE and with_newline[:-1] == tokens


@FAST
@given(st.lists(LINE, min_size=1, max_size=4), st.sampled_from(["word", "char"]))
def test_a_prompt_is_its_lines_tokenised_with_line_ends_between(lines, kind):
    tok = Tokenizer(kind)
    lines = [line.strip() for line in lines]
    assume(all(lines) and all("\r" not in line and "\n" not in line for line in lines))
    expected: list[str] = []
    for i, line in enumerate(lines):
        expected += tok.split_line(line) + ([NEWLINE] if i < len(lines) - 1 else [])
    assert tok.prompt("\n".join(lines)) == expected


TOKEN = st.one_of(
    st.sampled_from(["我", "你", "爱", "风", "的", NEWLINE, UNK, "a b"]),
    st.text(LINE_CHARS, min_size=1, max_size=3),
)
TOKEN_LINES = st.lists(st.lists(TOKEN, max_size=8), max_size=12)


@FAST
@given(TOKEN_LINES, st.integers(1, 4), st.integers(0, 12))
def test_vocabulary_round_trips(token_lines, min_count, max_size):
    vocab = Vocabulary.build(token_lines, min_count, max_size)
    total = sum(len(line) for line in token_lines)
    assert vocab.tokens[0] == UNK and len(set(vocab.tokens)) == len(vocab)
    assert sum(vocab.counts) == total  # every token is counted once, rare ones as <unk>
    assert vocab.counts[1:] == sorted(vocab.counts[1:], reverse=True)
    assert all(c >= min_count for c in vocab.counts[1:])
    if max_size:
        assert len(vocab) <= max(1, max_size)
    again = Vocabulary.from_dict(vocab.to_dict())
    assert again.tokens == vocab.tokens and again.counts == vocab.counts
    flat = [t for line in token_lines for t in line]
    ids = vocab.encode(flat)
    decoded = vocab.decode(ids)
    assert [d if t in vocab else UNK for t, d in zip(flat, decoded, strict=True)] == decoded
    assert all((t in vocab) == (d == t) or t == UNK for t, d in zip(flat, decoded, strict=True))
    streamed, array = build_and_encode(iter(token_lines), min_count, max_size)
    assert streamed.tokens == vocab.tokens and streamed.counts == vocab.counts
    assert array.tolist() == ids


LOGITS = st.integers(2, 30).flatmap(
    lambda n: st.lists(st.floats(-30, 30, allow_nan=False), min_size=n, max_size=n)
)
SETTINGS = st.builds(
    SamplerSettings,
    temperature=st.one_of(st.just(0.0), st.just(1e-300), st.floats(0.01, 100)),
    top_k=st.integers(0, 35),
    top_p=st.one_of(st.just(0.0), st.just(1.0), st.floats(0, 1)),
    repetition_penalty=st.one_of(st.just(1.0), st.floats(1, 10)),
)


def _pre_filter(logits, s: SamplerSettings, recent, banned):
    """The distribution after penalty and temperature, before top-k/top-p (an oracle)."""
    adjusted = np.asarray(logits, dtype=np.float64).copy()
    if s.repetition_penalty != 1.0 and recent:
        ids = np.unique(recent)
        adjusted[ids] = np.where(
            adjusted[ids] > 0,
            adjusted[ids] / s.repetition_penalty,
            adjusted[ids] * s.repetition_penalty,
        )
    adjusted[banned] = -np.inf
    return adjusted


@settings(max_examples=150, deadline=None)
@given(LOGITS, SETTINGS, st.data())
def test_sampler_distribution_invariants(logits, s, data):
    n = len(logits)
    recent = data.draw(st.lists(st.integers(0, n - 1), max_size=5))
    dist = next_token_distribution(np.array(logits), s, recent, banned=[0])
    final, model = dist.final, dist.model
    assert np.all(final >= 0) and np.all(model >= 0)
    assert abs(final.sum() - 1) < 1e-9 and abs(model.sum() - 1) < 1e-9
    assert final[0] == 0  # <unk> is never sampled
    adjusted = _pre_filter(logits, s, recent, [0])
    if s.temperature == 0:
        assert final[int(np.argmax(adjusted))] == 1.0
        return
    with np.errstate(over="ignore"):
        before = softmax((adjusted - adjusted.max()) / s.temperature)
    kept = final > 0
    dropped = ~kept
    dropped[0] = False
    # a filter keeps the likeliest: nothing dropped is likelier than anything kept
    if dropped.any() and kept.any():
        assert before[dropped].max() <= before[kept].min() * (1 + 1e-9) + 1e-300
    if 0 < s.top_k < n:
        assert kept.sum() <= s.top_k
    if s.top_p < 1:
        after_k = before.copy()
        if 0 < s.top_k < n:
            after_k[np.argsort(-after_k, kind="stable")[s.top_k :]] = 0
        after_k /= after_k.sum()
        mass = np.sort(after_k[kept])[::-1]
        assert mass.sum() >= s.top_p - 1e-9 or kept.sum() == np.count_nonzero(after_k)
        assert mass[:-1].sum() < s.top_p + 1e-9  # the smallest such set
    # the final distribution is the filtered one, renormalised
    np.testing.assert_allclose(
        final[kept], before[kept] / before[kept].sum(), rtol=1e-6, atol=1e-12
    )


def _nucleus_by_sorting(probs: np.ndarray, top_p: float) -> np.ndarray:
    """The nucleus as a stable sort of every probability gives it (an oracle)."""
    order = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(probs[order]) / probs.sum()
    keep = np.zeros(len(probs), dtype=bool)
    keep[order[: int(np.searchsorted(cumulative, top_p, side="left")) + 1]] = True
    return np.where(keep, probs, 0.0)


@FAST
@given(
    st.integers(1, 3000),
    st.integers(0, 2**32 - 1),
    st.floats(0.01, 5),
    st.sampled_from([0.0, 0.2, 0.9]),
    st.floats(0, 1),
)
def test_nucleus_keeps_the_set_a_full_sort_keeps(n, seed, spread, ties, top_p):
    # vocabularies past the words looked at first (the partition's path), peaked and flat
    # distributions, ties (at the edge too: the lowest ids are kept) and zeros
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(n, spread))
    tied = rng.random(n) < ties
    probs[tied] = probs[tied][:1].repeat(int(tied.sum())) if tied.any() else probs[tied]
    probs[rng.random(n) < 0.1] = 0.0
    assume(probs.sum() > 0)
    np.testing.assert_array_equal(nucleus(probs, top_p), _nucleus_by_sorting(probs, top_p))


@FAST
@given(st.integers(1, 3000), st.integers(0, 2**32 - 1), st.floats(0, 0.99))
def test_a_draw_is_the_draw_rng_choice_makes(n, seed, zeros):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(n, 0.3))
    probs[rng.random(n) < zeros] = 0.0
    assume(probs.sum() > 0)
    probs /= probs.sum()
    choice = np.random.default_rng(seed).choice(n, p=probs)
    assert draw(np.random.default_rng(seed), probs) == choice


VOCAB = ["<unk>", "\n", "我", "你", "爱", "风", "天", "的"]


def _sampler(table_seed: int, unk_likeliest: bool) -> Sampler:
    rng = np.random.default_rng(table_seed)
    table = rng.normal(0, 2.5, (len(VOCAB), len(VOCAB)))
    if unk_likeliest:
        table[:, 0] = table.max(axis=1) + 2
    return Sampler(BigramStepper(table), Vocabulary(VOCAB), Tokenizer("char"))


@FAST
@given(
    st.integers(0, 2**16),
    st.booleans(),
    SETTINGS,
    st.integers(0, 2**32 - 1),
    st.text(st.sampled_from([*VOCAB[1:], "火", "星", " "]), max_size=6),
)
def test_sampler_streams_only_allowed_tokens_and_is_reproducible(
    table_seed, unk_likeliest, s, seed, prompt
):
    sampler = _sampler(table_seed, unk_likeliest)
    # the sampler's own rules (the song form's: tests/core/test_songform.py)
    s = SamplerSettings(**{**s.__dict__, "seed": seed, "max_tokens": 25, "form": False})
    first = sampler.generate(prompt, s)
    tokens = list(first)
    second = sampler.generate(prompt, s)
    assert [t.token_id for t in second] == [t.token_id for t in tokens]  # same seed, same text
    assert first.text == second.text
    assert set(first.unknown) <= {"火", "星", " "}
    recent = sampler.vocab.encode(first.prompt_tokens)[-64:]
    prev_logits = sampler.prime(first.prompt_tokens)[1]
    lines = SongLines(1)
    for token_id in recent:
        lines.read(token_id)
    for t in tokens:
        assert t.token_id != 0 and t.prob > 0
        banned = [0, *lines.held_back(s.returns)]  # <unk>, and a line once too often
        dist = next_token_distribution(prev_logits, s, recent, banned=banned)
        assert dist.final[t.token_id] > 0  # never a token the filters removed
        assert t.prob == pytest.approx(dist.final[t.token_id])
        lines.read(t.token_id)
        recent = ([*recent, t.token_id])[-64:]
        prev_logits = sampler.stepper.table[t.token_id]


@FAST
@given(st.integers(0, 2**16), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_temperature_zero_equals_greedy_whatever_the_seed(table_seed, seed_a, seed_b):
    sampler = _sampler(table_seed, unk_likeliest=True)
    a = [
        t.token_id
        for t in sampler.generate(
            "", SamplerSettings(temperature=0, seed=seed_a, max_tokens=20, returns=0, form=False)
        )
    ]
    b = [
        t.token_id
        for t in sampler.generate(
            "", SamplerSettings(temperature=0, seed=seed_b, max_tokens=20, returns=0, form=False)
        )
    ]
    greedy, prev = [], 1  # the plain argmax chain (returns 0: no line limit)
    for _ in range(20):
        row = sampler.stepper.table[prev].copy()
        row[0] = -np.inf
        prev = int(np.argmax(row))
        greedy.append(prev)
    assert a == b == greedy
