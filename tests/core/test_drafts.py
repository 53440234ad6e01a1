"""Second drafts (core/songform/drafts.py): a new line the network finds less likely than most
of the song's drafted lines is written again and the likelier draft kept; drafting changes no
draw, generation and the step-through agree, and a network that learns as it reads never
drafts twice."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from lyrics_tui.core.cache import CacheSettings
from lyrics_tui.core.distribution import next_token_distribution
from lyrics_tui.core.inspection.step import StepThrough
from lyrics_tui.core.sampling import Sampler, SamplerSettings
from lyrics_tui.core.songform.drafts import JUDGED_AFTER, REDRAFT_FROM, Writing, write_line
from lyrics_tui.core.tokens import NEWLINE
from tests.core.test_songform import form_sampler, subject

MEMORY = CacheSettings(window=50, theta=1.0, lam=0.3)


def written(sampler: Sampler, settings: SamplerSettings) -> list[tuple]:
    return [
        (t.token_id, t.prob, t.model_prob, t.network_prob, t.cache_prob, t.alternatives)
        for t in sampler.generate("", settings)
    ]


@pytest.mark.parametrize("temperature", [0.3, 0.9])
def test_a_line_drafted_once_is_the_line_drawn_word_by_word(temperature):
    # a network that learns as it reads is never drafted for: its words come one at a time
    drafted, one_by_one = form_sampler(5), form_sampler(5)
    one_by_one.stepper.learns = True
    settings = SamplerSettings(
        temperature=temperature, seed=11, max_tokens=200, redraft=0.0, cache=MEMORY, alternatives=5
    )
    assert written(drafted, settings) == written(one_by_one, settings)


def line_start(history: list[float], redraft: float, temperature: float = 0.9):
    sampler = form_sampler(5)
    settings = SamplerSettings(temperature=temperature, seed=3, redraft=redraft)
    state, logits = sampler.prime([])
    writer = sampler.writer(settings, 3)
    assert writer is not None
    writer.drafted.extend(history)
    banned = [sampler.vocab.unk_id]
    first = next_token_distribution(logits, settings, (), banned, None, writer.shape, True)
    writing = Writing(state, logits, deque(maxlen=64), writer)
    newline = sampler.vocab.id(NEWLINE)

    def write(seed: int = 0):
        rng = np.random.default_rng(seed)
        return write_line(sampler.stepper, settings, banned, first, writing, rng, newline)

    return writing, write, newline


def test_a_line_worse_than_the_songs_drafts_is_drafted_again_and_the_likelier_kept():
    writing, write, newline = line_start([0.01] * 10, redraft=0.3)  # every draft is worse
    for seed in range(5):
        draft, surprises = write(seed)
        assert len(surprises) == 2
        assert draft.surprise == min(surprises)
        assert draft.tokens[-1].token_id == newline
        assert writing.writer is not None and not writing.writer.current  # left as it was


def test_a_cold_sampler_never_drafts_twice():
    _, write, _ = line_start([0.01] * 10, redraft=1.0, temperature=REDRAFT_FROM - 0.1)
    assert all(len(write(seed)[1]) == 1 for seed in range(5))


def test_a_line_better_than_the_songs_drafts_is_kept():
    _, write, _ = line_start([1e6] * 10, redraft=0.3)
    assert all(len(write(seed)[1]) == 1 for seed in range(5))


@pytest.mark.parametrize(
    ("history", "redraft"), [([0.01] * 10, 0.0), ([0.01] * (JUDGED_AFTER - 1), 1.0)]
)
def test_no_second_draft_when_off_or_before_the_song_has_drafts_to_judge_by(history, redraft):
    _, write, _ = line_start(history, redraft)
    assert all(len(write(seed)[1]) == 1 for seed in range(5))


def test_generation_drafts_again_and_the_step_through_agrees_word_for_word():
    toy = subject(4)
    sampler = Sampler(toy.stepper, toy.vocab, toy.tokenizer, toy.form, toy.rhymes)
    settings = SamplerSettings(temperature=0.9, seed=7, max_tokens=150, cache=MEMORY, redraft=1.0)
    before = toy.stepper.calls
    expected = [t.token_id for t in sampler.generate("我爱\n你", settings)]
    assert toy.stepper.calls - before > len(expected) + 20  # lines were drafted twice
    walk = StepThrough(toy, settings, "我爱\n你")
    assert [walk.sample().token_id for _ in range(150)] == expected


def test_stepping_back_inside_a_drafted_line_samples_the_drafted_word_again():
    walk = StepThrough(subject(4), SamplerSettings(temperature=0.9, seed=7, redraft=1.0))
    words = [walk.sample() for _ in range(40)]
    inside = next(
        i for i in range(30, 40) if words[i - 1].text != NEWLINE and words[i].text != NEWLINE
    )
    for _ in range(len(words) - inside):
        walk.back()
    assert walk.sample().token_id == words[inside].token_id


def test_a_network_that_learns_as_it_reads_never_drafts_twice():
    sampler = form_sampler(5)
    sampler.stepper.learns = True
    settings = SamplerSettings(temperature=0.9, seed=11, max_tokens=200, redraft=1.0)
    tokens = list(sampler.generate("", settings))
    assert sampler.stepper.calls == 1 + len(tokens)  # the line start, then each word once


def into_a_drafted_line(seed: int) -> StepThrough:
    walk = StepThrough(subject(4), SamplerSettings(temperature=0.9, seed=seed, redraft=1.0))
    while True:  # to a line start past the first lines, then one word into its drafted line
        word = walk.sample()
        if word.text == NEWLINE and len(walk.picked) > 20:
            walk.sample()
            return walk


def test_new_settings_in_the_step_through_drop_the_line_drafted_with_the_old():
    greedy = SamplerSettings(temperature=0.0, redraft=1.0)
    for seed in range(30):
        drafted = into_a_drafted_line(seed).sample().token_id  # the draft's next word
        walk = into_a_drafted_line(seed)
        walk.set_settings(greedy)
        best = walk.current.candidates[0].token_id
        if best != drafted:  # a seed where the two differ tells them apart
            assert walk.sample().token_id == best
            return
    pytest.fail("no seed's drafted word differed from the greedy one")
