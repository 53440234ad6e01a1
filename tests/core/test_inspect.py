"""core/inspection.py against small cases worked out by hand.

A toy "bigram" stepper stands in for the network: the logits after reading a word are the logs
of a fixed row of probabilities, so every probability, rank, surprisal and perplexity below can
be checked with pencil and paper.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lyrics_tui.core.config import ModelConfig
from lyrics_tui.core.errors import LyricsError, SettingsError
from lyrics_tui.core.inspection.common import display_token, parse_choices
from lyrics_tui.core.inspection.hidden import hidden_trace
from lyrics_tui.core.inspection.neighbours import neighbours, similarity
from lyrics_tui.core.inspection.score import compare_lines, score_line
from lyrics_tui.core.inspection.step import StepThrough
from lyrics_tui.core.inspection.subject import Subject
from lyrics_tui.core.inspection.units import unit_strip
from lyrics_tui.core.sampling import Sampler, SamplerSettings
from lyrics_tui.core.tokens import Tokenizer
from lyrics_tui.core.vocab import Vocabulary

TOKENS = ["<unk>", "\n", "我", "爱", "你"]
UNK, NL, WO, AI, NI = range(5)
# row = the word just read; columns = P(next word) over TOKENS
TABLE = np.array(
    [
        [0.2, 0.2, 0.2, 0.2, 0.2],  # after <unk>
        [0.0625, 0.0625, 0.5, 0.125, 0.25],  # after a line end: 我 .5, 你 .25, 爱 .125
        [0.0625, 0.0625, 0.125, 0.5, 0.25],  # after 我: 爱 .5
        [0.0625, 0.0625, 0.125, 0.25, 0.5],  # after 爱: 你 .5
        [0.0625, 0.5, 0.125, 0.0625, 0.25],  # after 你: line end .5
    ]
)


class BigramStepper:
    """Stepper protocol over a probability table; the state is the last word read."""

    def __init__(
        self, table: np.ndarray, embedding: np.ndarray | None = None, cell: str = "rnn"
    ) -> None:
        v = len(table)
        self.table = table
        self.embedding = embedding if embedding is not None else np.eye(v, dtype=np.float32)
        self.config = ModelConfig(
            cell=cell, embed=self.embedding.shape[1], hidden=v, layers=1, vocab_size=v
        )

    def initial_state(self):
        return None

    def step(self, state, token_id):
        return np.log(self.table[token_id]), token_id

    def hidden_vectors(self, state):
        h = np.zeros(len(self.table), np.float32)
        if state is not None:
            h[state] = 0.5
        c = 3.0 * h if self.config.cell == "lstm" else None
        return h, c

    def embedding_matrix(self):
        return self.embedding


def toy(table=TABLE, embedding=None, cell="rnn", tokens=TOKENS, label="toy") -> Subject:
    return Subject(
        BigramStepper(table, embedding, cell),
        Vocabulary(tokens, [0, 5, 4, 3, 2, 1][: len(tokens)]),
        Tokenizer("char"),
        label,
    )


# -- scoring --------------------------------------------------------------------------------
def test_score_line_hand_computed_likely_line():
    score = score_line(toy(), "我爱你")
    assert [w.text for w in score.words] == ["我", "爱", "你", "\n"]
    assert [w.prob for w in score.words] == pytest.approx([0.5] * 4)
    assert [w.surprisal_bits for w in score.words] == pytest.approx([1.0] * 4)
    assert [w.rank for w in score.words] == [1, 1, 1, 1]
    assert score.words[-1].line_end and score.words[-1].label == "↵"
    assert score.total_bits == pytest.approx(4.0)
    assert score.perplexity == pytest.approx(2.0)
    assert score.bits_per_char == pytest.approx(1.0)  # 4 bits over 3 characters + line end
    assert score.unknown == ()


def test_score_line_hand_computed_unlikely_line():
    score = score_line(toy(), "你爱我")
    # 你 after a line end .25 (2 bits, rank 2); 爱 after 你 .0625 (4 bits; .5 .25 .125 above);
    # 我 after 爱 .125 (3 bits, rank 3); line end after 我 .0625 (4 bits, rank 4)
    assert [w.prob for w in score.words] == pytest.approx([0.25, 0.0625, 0.125, 0.0625])
    assert [w.surprisal_bits for w in score.words] == pytest.approx([2, 4, 3, 4])
    assert [w.rank for w in score.words] == [2, 4, 3, 4]
    assert [w.top_guess for w in score.words] == ["我", "\n", "你", "爱"]
    assert score.perplexity == pytest.approx(2 ** (13 / 4))
    assert score.mean_bits == pytest.approx(13 / 4)


def test_unknown_words_are_flagged_and_scored_as_unk():
    score = score_line(toy(), "我猫")
    cat = score.words[1]
    assert not cat.known and cat.token_id == UNK
    assert cat.prob == pytest.approx(0.0625)  # P(<unk> | 我)
    assert score.words[2].prob == pytest.approx(0.2)  # line end after <unk>: uniform row
    assert score.unknown == ("猫",)
    bits = [1.0, 4.0, math.log2(5)]
    assert score.perplexity == pytest.approx(2 ** (sum(bits) / 3))
    assert score.known_perplexity == pytest.approx(2 ** ((bits[0] + bits[2]) / 2))


def test_several_lines_each_end_with_a_line_end():
    score = score_line(toy(), "我\n\n你")
    assert [w.text for w in score.words] == ["我", "\n", "你", "\n"]
    # line end after 我 .0625; 你 after a line end .25; line end after 你 .5
    assert [w.prob for w in score.words] == pytest.approx([0.5, 0.0625, 0.25, 0.5])


def test_empty_line_is_one_clear_error():
    with pytest.raises(LyricsError, match="empty"):
        score_line(toy(), "  \n ")


def test_compare_two_models_word_by_word():
    flat = np.full((5, 5), 0.2)
    comparison = compare_lines(toy(), toy(flat, label="flat"), "我爱你")
    assert comparison.aligned
    assert [w.bits_b for w in comparison.words] == pytest.approx([math.log2(5)] * 4)
    assert [w.delta_bits for w in comparison.words] == pytest.approx([math.log2(5) - 1] * 4)
    assert comparison.b.perplexity == pytest.approx(5.0)
    assert comparison.better == "a"
    same = compare_lines(toy(), toy(), "我爱你")
    assert same.better == "same"


def test_a_compared_word_says_which_model_does_not_know_it():
    from lyrics_tui.core.inspection.score import ComparedWord

    def word(known_a: bool, known_b: bool) -> str:
        return ComparedWord(
            0, "词", "词", 0.1, 0.1, 1.0, 1.0, 0.0, 1, 1, known_a, known_b
        ).unknown_to

    assert [word(True, True), word(False, True), word(True, False), word(False, False)] == [
        "",
        "A",
        "B",
        "both",
    ]


def test_compare_models_that_split_differently_falls_back_to_bits_per_char():
    other = Subject(BigramStepper(TABLE), Vocabulary(TOKENS), Tokenizer("char"), "b")

    # a word tokenizer would split differently; simulate with a tokenizer that pairs chars
    class Pairs(Tokenizer):
        def split_line(self, line):
            return [line[i : i + 2] for i in range(0, len(line), 2)]

    other = Subject(other.stepper, other.vocab, Pairs("char"), "pairs")
    comparison = compare_lines(toy(), other, "我爱你")
    assert not comparison.aligned and comparison.words == ()
    assert "bits per character" in comparison.note


# -- step-through ---------------------------------------------------------------------------
def test_first_step_candidates_entropy_and_survivors():
    walk = StepThrough(toy(), SamplerSettings(temperature=1.0, seed=1, form=False), top=5)
    view = walk.current
    assert [c.text for c in view.candidates] == ["我", "你", "爱", "\n", "<unk>"]
    assert [c.number for c in view.candidates] == [1, 2, 3, 4, 5]
    assert [c.model_prob for c in view.candidates] == pytest.approx(
        [0.5, 0.25, 0.125, 0.0625, 0.0625]
    )
    # <unk> is never sampled: the rest are renormalised over 0.9375
    assert [c.final_prob for c in view.candidates] == pytest.approx(
        [0.5 / 0.9375, 0.25 / 0.9375, 0.125 / 0.9375, 0.0625 / 0.9375, 0.0]
    )
    assert [c.survives for c in view.candidates] == [True, True, True, True, False]
    assert view.survivors == 4 and view.vocab_size == 5
    assert view.entropy_bits == pytest.approx(1.875)  # .5*1 + .25*2 + .125*3 + 2 * .0625*4
    assert view.effective_choices == pytest.approx(2**1.875)
    assert view.shown_mass == pytest.approx(1.0)
    assert view.unk_prob == pytest.approx(0.0625)
    assert [c.model_rank for c in view.candidates] == [1, 2, 3, 4, 4]


def test_top_k_and_temperature_change_the_final_column_only():
    view = StepThrough(toy(), SamplerSettings(temperature=1.0, top_k=2, form=False), top=3).current
    assert [c.final_prob for c in view.candidates] == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert [c.model_prob for c in view.candidates] == pytest.approx([0.5, 0.25, 0.125])
    assert view.survivors == 2
    assert view.final_entropy_bits == pytest.approx(
        -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    )
    cold = StepThrough(toy(), SamplerSettings(temperature=0.5, form=False), top=1).current
    # temperature 0.5 squares the probabilities: .25 / (.25 + .0625 + .015625 + .00390625)
    assert cold.candidates[0].final_prob == pytest.approx(0.25 / 0.33203125)


def test_repetition_penalty_reorders_by_final_probability():
    walk = StepThrough(
        toy(), SamplerSettings(temperature=1.0, repetition_penalty=2.0, form=False), "我", top=5
    )
    view = walk.current
    # after 我, with 我 already used: its logit log(.125) doubles -> weight .015625
    assert [c.text for c in view.candidates] == ["爱", "你", "\n", "我", "<unk>"]
    wo = view.candidates[3]
    assert wo.model_prob == pytest.approx(0.125) and wo.model_rank == 3
    assert wo.final_prob == pytest.approx(0.015625 / 0.828125)


def test_choose_then_back_restores_the_step_exactly():
    walk = StepThrough(toy(), SamplerSettings(temperature=1.0, seed=3, form=False), top=5)
    before = walk.current
    word = walk.choose(1)
    assert (word.text, word.how, word.model_rank) == ("我", "chosen", 1)
    assert word.surprisal_bits == pytest.approx(1.0)
    assert walk.text == "我" and walk.current.index == 1
    assert [c.text for c in walk.current.candidates][:2] == ["爱", "你"]
    walk.choose(2)  # 你 after 我
    assert walk.text == "我你"
    assert walk.back().text == "你"
    assert walk.back().text == "我"
    assert walk.current == before and walk.text == "" and not walk.can_go_back
    with pytest.raises(LyricsError, match="nothing to step back"):
        walk.back()


def test_choices_out_of_range_or_unk_are_refused():
    walk = StepThrough(toy(), SamplerSettings(temperature=1.0, form=False), top=5)
    with pytest.raises(SettingsError):
        walk.choose(6)
    with pytest.raises(SettingsError, match="unk"):
        walk.choose(5)
    with pytest.raises(LyricsError, match="not in the vocabulary"):
        walk.choose_word("猫")
    assert walk.choose_word("你").text == "你"


def test_sampling_step_by_step_matches_the_sampler():
    settings = SamplerSettings(temperature=0.9, top_p=0.95, seed=11, max_tokens=30)
    subject = toy()
    expected = [
        t.token_id
        for t in Sampler(subject.stepper, subject.vocab, subject.tokenizer).generate("我", settings)
    ]
    walk = StepThrough(subject, settings, "我")
    got = [walk.sample().token_id for _ in range(30)]
    assert got == expected


def test_greedy_sampling_takes_the_top_candidate():
    walk = StepThrough(toy(), SamplerSettings(temperature=0, form=False), top=3)
    assert [walk.sample().text for _ in range(4)] == ["我", "爱", "你", "\n"]
    assert walk.current.survivors == 1


def test_apply_and_parse_choices():
    assert parse_choices("1, 2,s,B") == [1, 2, "s", "b"]
    assert parse_choices("") == []
    for bad in ("0", "x", "1,-2"):
        with pytest.raises(SettingsError):
            parse_choices(bad)
    walk = StepThrough(toy(), SamplerSettings(temperature=1.0, seed=5, form=False))
    done = walk.apply(parse_choices("1,1,b,2"))
    assert [a for a, _ in done] == ["choose", "choose", "back", "choose"]
    assert walk.text == "我你"


def test_prompt_unknown_words_give_a_warning():
    walk = StepThrough(toy(), SamplerSettings(), "我猫")
    assert walk.unknown == ["猫"]
    assert any("猫" in w for w in walk.warnings)


def test_bad_settings_are_refused():
    with pytest.raises(SettingsError):
        StepThrough(toy(), SamplerSettings(temperature=-1))
    with pytest.raises(SettingsError):
        StepThrough(toy(), SamplerSettings(), top=0)


# -- hidden state ---------------------------------------------------------------------------
def test_unit_strip_quantisation():
    strip = unit_strip(np.array([0.0, 0.5, -1.0, 0.25]), scale=1.0)
    assert strip.levels == (0, 2, -4, 1)
    assert strip.norm == pytest.approx(math.sqrt(1.3125))
    assert strip.mean_abs == pytest.approx(0.4375)
    assert strip.saturated == pytest.approx(0.25)
    assert strip.spark[2] == "▁" and unit_strip(np.array([1.0]), 1.0).spark == "█"
    c = unit_strip(np.array([2.0, -4.0]))  # unbounded: scaled by its largest |value|
    assert c.scale == 4.0 and c.levels == (2, -4)
    assert unit_strip(np.array([0.1, -0.9, 0.3, 0.2]), 1.0).binned(2) == (-0.9, 0.3)


def test_hidden_trace_reports_every_word_read():
    trace = hidden_trace(toy(cell="lstm"), "我", 3, SamplerSettings(temperature=0, form=False))
    assert [s.text for s in trace.steps] == ["\n", "我", "爱", "你", "\n"]
    assert [s.generated for s in trace.steps] == [False, False, True, True, True]
    assert [s.index for s in trace.steps] == [0, 1, 2, 3, 4]
    assert trace.steps[1].h.levels == (0, 0, 2, 0, 0)  # h = 0.5 on the unit of 我
    assert trace.steps[1].c.levels == (0, 0, 4, 0, 0) and trace.steps[1].c.scale == 1.5
    assert trace.steps[0].change == 0.0
    assert trace.steps[2].change == pytest.approx(math.sqrt(0.5))  # 0.5 moved between units
    assert trace.text == "我爱你\n"


def test_step_view_carries_the_state_it_came_from():
    walk = StepThrough(toy(), SamplerSettings(temperature=1.0, form=False))
    assert walk.current.hidden.text == "\n"
    walk.choose(1)
    assert walk.current.hidden.text == "我" and walk.current.hidden.h.levels[WO] == 2


# -- embedding neighbours -------------------------------------------------------------------
NEIGHBOUR_TOKENS = ["<unk>", "\n", "猫", "狗", "汽车", "车"]
EMBEDDING = np.array(
    [
        [1.0, 1.0],  # <unk>: close to 猫 but never listed
        [-1.0, -0.1],  # line end: nearly opposite
        [1.0, 0.0],  # 猫
        [0.8, 0.6],  # 狗: cosine 0.8
        [-0.6, 0.8],  # 汽车: cosine -0.6
        [0.0, 2.0],  # 车: cosine 0, whatever its length
    ]
)


def neighbour_subject() -> Subject:
    table = np.full((6, 6), 1 / 6)
    return Subject(
        BigramStepper(table, EMBEDDING),
        Vocabulary(NEIGHBOUR_TOKENS, [0, 9, 8, 7, 6, 5]),
        Tokenizer("char"),
    )


def test_cosine_neighbours_on_a_toy_embedding():
    result = neighbours(neighbour_subject(), "猫", k=3, farthest=1)
    assert [n.text for n in result.neighbours] == ["狗", "车", "汽车"]
    assert [n.cosine for n in result.neighbours] == pytest.approx([0.8, 0.0, -0.6])
    assert [n.rank for n in result.neighbours] == [1, 2, 3]
    assert [n.count for n in result.neighbours] == [7, 5, 6]
    assert [(n.text, n.rank) for n in result.farthest] == [("\n", 4)]
    assert result.farthest[0].cosine == pytest.approx(-1 / math.sqrt(1.01))
    assert result.word == "猫" and result.count == 8 and result.norm == pytest.approx(1.0)


def test_similarity_of_two_words():
    subject = neighbour_subject()
    assert similarity(subject, "猫", "狗") == pytest.approx(0.8)
    assert similarity(subject, "猫", "汽车") == pytest.approx(-0.6)


def test_unknown_word_is_one_line_error():
    for word in ("鱼", "<unk>", ""):
        with pytest.raises(LyricsError) as info:
            neighbours(neighbour_subject(), word)
        assert "\n" not in str(info.value)
    with pytest.raises(LyricsError, match="pieces: 猫 狗"):
        neighbours(neighbour_subject(), "猫狗")  # char tokenizer: suggests the pieces
    with pytest.raises(SettingsError):
        neighbours(neighbour_subject(), "猫", k=0)


def test_display_token():
    assert [display_token(t) for t in ("\n", " ", "\u3000", "\t", "爱")] == [
        "↵",
        "␣",
        "⎵",
        "\\t",
        "爱",
    ]
