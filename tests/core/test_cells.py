"""core/inspection/cells/: one reading of a text, the rankers (planted units are found first),
AUC and correlation against plain definitions, LSTMVis's selection rule on a toy sequence."""

from __future__ import annotations

import numpy as np
import pytest

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.inspection.cells.patterns import (
    PATTERNS,
    default_rhyme,
    pattern_targets,
    same_last_character,
)
from lyrics_tui.core.inspection.cells.ranking import (
    SELECTION,
    co_firing,
    rank_pattern,
    rank_selection,
)
from lyrics_tui.core.inspection.cells.reading import CellReading, held_out_text, read_cells
from lyrics_tui.core.inspection.cells.scores import auc_by_unit, correlation_by_unit
from lyrics_tui.core.tokens import NEWLINE
from tests.helpers import PLANTED_TEXT, PLANTED_UNITS, planted_subject


@pytest.fixture(scope="module")
def planted():
    subject, rhyme = planted_subject()
    return subject, rhyme, read_cells(subject, PLANTED_TEXT, "planted")


# -- one reading -------------------------------------------------------------------------------
def test_the_reading_holds_the_states_stepping_gives(planted, checkpoint_path):
    from lyrics_tui.core.fastload import read_checkpoint
    from lyrics_tui.core.inspection.subject import subject_from_checkpoint

    subject, _, reading = planted
    lines = PLANTED_TEXT.split("\n")
    assert reading.tokens == tuple(t for line in lines for t in [*line, NEWLINE])
    assert reading.line_of[0] == 0 and reading.line_of[-1] == len(lines) - 1
    assert reading.lines()[1] == (3, 8)  # 山水风田 and its line end
    lstm = subject_from_checkpoint(read_checkpoint(str(checkpoint_path)))
    for model in (subject, lstm):
        text = "我把思念\n走在回家的路上"
        got = read_cells(model, text)
        stepper, vocab = model.stepper, model.vocab
        state = stepper.step(stepper.initial_state(), vocab.id(NEWLINE))[1]
        for i, token in enumerate(got.tokens):
            state = stepper.step(state, vocab.id(token))[1]
            h, c = stepper.hidden_vectors(state)
            np.testing.assert_allclose(got.h[i], h, atol=1e-5)
            if c is not None:
                assert got.c is not None
                np.testing.assert_allclose(got.c[i], c, atol=1e-5)
        assert (got.c is not None) == (model.cell == "lstm")


def test_the_text_is_read_in_one_pass_without_the_output_layer(planted):
    """One recurrent step per token (no rerun per unit) and no output layer at all."""
    subject, _, _ = planted
    stepper = subject.stepper
    calls = {"step": 0, "cell": 0}
    real_step = stepper.step

    def counted_step(state, token_id):
        calls["step"] += 1
        return real_step(state, token_id)

    import lyrics_tui.core.steppers as steppers

    real_cell = steppers._cell_step

    def counted_cell(*args):
        calls["cell"] += 1
        return real_cell(*args)

    stepper.step = counted_step
    steppers._cell_step = counted_cell
    try:
        reading = read_cells(subject, PLANTED_TEXT * 20)
    finally:
        del stepper.step
        steppers._cell_step = real_cell
    assert calls["step"] == 0
    assert calls["cell"] == len(reading.tokens) + 1  # the line start, then each token once


def test_bad_texts_and_units_are_one_line(planted):
    subject, _, reading = planted
    with pytest.raises(LyricsError, match="empty"):
        read_cells(subject, " \n \n")
    with pytest.raises(LyricsError, match="between 0 and 7"):
        reading.unit(8)
    with pytest.raises(LyricsError, match="no cell state"):
        reading.values("c")
    with pytest.raises(LyricsError, match="unknown pattern"):
        rank_pattern(reading, "chorus")


def test_unknown_words_are_read_as_unk_and_flagged(planted):
    subject, _, _ = planted
    reading = read_cells(subject, "春天\n龙虎")
    assert reading.known == (True, True, True, False, False, True)


def test_held_out_text_is_the_tail_of_the_models_corpus(tmp_path, planted):
    import dataclasses

    subject, _, _ = planted
    corpus = tmp_path / "song.txt"
    corpus.write_text("\n".join(f"第{i}行" for i in range(20)), encoding="utf-8")
    held = held_out_text(dataclasses.replace(subject, corpus=str(corpus), val_fraction=0.1))
    assert held is not None
    lines, label = held
    assert lines == ["第18行", "第19行"] and label.startswith("song.txt")
    assert held_out_text(dataclasses.replace(subject, corpus=str(tmp_path / "gone.txt"))) is None
    assert held_out_text(subject) is None  # no corpus recorded


# -- the scores against plain definitions ------------------------------------------------------
def test_auc_is_the_chance_a_yes_token_is_higher():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(60, 5)) * [1, 1, 30, 1, 1]
    values[:, 3] = np.round(values[:, 3])  # ties
    values[:, 4] = 0.25  # all tied: 0.5
    yes = rng.random(60) < 0.3
    got = auc_by_unit(values, yes)
    for unit in range(5):
        pos, neg = values[yes, unit], values[~yes, unit]
        pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
        assert got[unit] == pytest.approx(pairs / (len(pos) * len(neg)))
    np.testing.assert_array_equal(auc_by_unit(values, np.zeros(60, bool)), 0.5)


def test_correlation_is_pearsons_r():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(50, 3))
    values[:, 2] = 1.0  # constant: 0, not NaN
    counts = rng.integers(0, 9, 50)
    got = correlation_by_unit(values, counts)
    for unit in range(2):
        assert got[unit] == pytest.approx(np.corrcoef(values[:, unit], counts)[0, 1])
    assert got[2] == 0.0


# -- the patterns and the planted units ----------------------------------------------------------
def test_pattern_targets_on_a_small_text(planted):
    subject, rhyme, _ = planted
    reading = read_cells(subject, "春天\n山田\n歌\n春天")
    tokens = reading.tokens  # 春 天 ↵ 山 田 ↵ 歌 ↵ 春 天 ↵
    end = pattern_targets(reading, "line-end")
    assert list(end.values[end.scored]) == [0, 1, 0, 1, 1, 0, 1]
    assert not end.scored[[i for i, t in enumerate(tokens) if t == NEWLINE]].any()
    start = pattern_targets(reading, "line-start")
    assert list(start.values[start.scored]) == [1, 0, 1, 0, 1, 1, 0]
    position = pattern_targets(reading, "position")
    assert list(position.values[position.scored]) == [0, 1, 0, 1, 0, 0, 1]
    returning = pattern_targets(reading, "returning")
    assert list(returning.values[returning.scored]) == [0, 0, 0, 0, 0, 1, 1]
    rhymes = pattern_targets(reading, "rhyme", rhyme)
    assert list(np.flatnonzero(rhymes.scored)) == [4]  # 田 after 天; 歌 has no group
    assert rhymes.values[4] == 1


@pytest.mark.parametrize("name", list(PATTERNS))
def test_each_ranker_finds_its_planted_unit_first(planted, name):
    _, rhyme, reading = planted
    ranking = rank_pattern(reading, name, rhyme=rhyme)
    assert ranking.best.unit == PLANTED_UNITS[name], ranking.units[:3]
    assert len(ranking.units) == reading.hidden_size
    assert sorted(u.unit for u in ranking.units) == list(range(reading.hidden_size))
    runner_up = ranking.units[1].score
    assert ranking.best.score > runner_up
    if PATTERNS[name].kind == "yes/no":
        assert ranking.measure == "AUC" and ranking.best.score == pytest.approx(1.0)
        assert ranking.positives > 0
    else:
        assert ranking.measure == "r" and ranking.best.score > 0.8


def test_a_unit_that_goes_down_on_the_pattern_ranks_by_its_lean(planted):
    _, _, reading = planted
    flipped = CellReading(
        reading.tokens,
        reading.labels,
        reading.known,
        reading.line_of,
        -reading.h,
        None,
        "rnn",
        1,
        "flipped",
    )
    ranking = rank_pattern(flipped, "line-end")
    assert ranking.best.unit == PLANTED_UNITS["line-end"]
    assert ranking.best.sign == -1 and ranking.best.value == pytest.approx(0.0)
    assert ranking.best.score == pytest.approx(1.0)


def test_the_rhyme_pattern_is_pluggable():
    assert same_last_character("天天") == "天" and same_last_character("ok") is None
    group, note = default_rhyme()
    assert "十三辙" in note
    assert group("未来") == group("存在") != group("回去")  # 怀来 / 怀来 / 一七
    assert group("abc") is None  # no Han character: no group


# -- the selection (LSTMVis) -----------------------------------------------------------------------
def toy_reading(h: np.ndarray) -> CellReading:
    count = h.shape[0]
    tokens = tuple("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(count))
    return CellReading(
        tokens, tokens, (True,) * count, (0,) * count, h.astype(np.float32), None, "gru", 1, "toy"
    )


def test_the_selection_rule_on_a_toy_sequence():
    # 10 tokens, 4 units; the selection is tokens 3..5 (end exclusive)
    h = np.full((10, 4), -0.5)
    h[3:5, 0] = 0.9  # on across, off around: matches
    h[2:5, 1] = 0.9  # on across, but on just before: no match
    h[3:5, 2] = [0.9, 0.1]  # not on across the whole selection: no match
    h[:, 3] = 0.5
    h[3:5, 3] = -0.8  # off (negative) across, and higher around: matches by its negative side
    h[7:9, [0, 3]] = [[0.8, -0.6], [0.7, -0.9]]  # elsewhere, units 0 and 3 on together
    h[9, 0] = 0.95  # unit 0 alone: not a place where both are on
    ranking = rank_selection(toy_reading(h), 3, 5, threshold=0.3)
    assert ranking.pattern == SELECTION and ranking.span == (3, 5)
    assert ranking.matched == 2
    assert [(u.unit, u.sign, u.matched) for u in ranking.units[:2]] == [(0, 1, True), (3, -1, True)]
    assert {u.unit for u in ranking.units[2:]} == {1, 2} and not any(
        u.matched for u in ranking.units[2:]
    )
    assert ranking.units[0].score == pytest.approx(0.9 - (-0.5))
    assert ranking.units[1].score == pytest.approx(0.8 - (-0.5))  # on its negative side
    assert ranking.together == (0, 3)
    assert [(p.start, p.end) for p in ranking.places] == [(7, 9)]


def test_the_selection_needs_off_only_where_there_are_neighbours():
    h = np.zeros((4, 2))
    h[0:2, 0] = 0.9  # on at the text's start: nothing before it to be off
    ranking = rank_selection(toy_reading(h), 0, 2, around=1)
    assert ranking.matched == 1 and ranking.best.unit == 0
    nothing = rank_selection(toy_reading(h), 2, 4)
    assert nothing.matched == 0 and nothing.places == () and "no unit" in nothing.note
    for bad in ((3, 3), (-1, 2), (0, 5)):
        with pytest.raises(LyricsError, match="selection"):
            rank_selection(toy_reading(h), *bad)


def test_selecting_a_returning_chorus_finds_the_other_return(planted):
    _, _, reading = planted
    choruses = [i for i, t in enumerate(reading.tokens) if t == "歌"]
    second = choruses[1]
    ranking = rank_selection(reading, second, second + 1)
    matched = {u.unit for u in ranking.units if u.matched}
    assert PLANTED_UNITS["returning"] in matched
    assert PLANTED_UNITS["seen-chorus"] not in matched  # on before the selection too
    assert [(p.start, p.end) for p in ranking.places] == [(choruses[2], choruses[2] + 1)]
    assert ranking.places[0].text == "歌" and ranking.places[0].line == 17


def test_co_firing_lists_runs_in_order():
    h = np.zeros((8, 2))
    h[[1, 2, 5, 7], 0] = 1.0
    h[[1, 2, 5, 6], 1] = 1.0
    places = co_firing(toy_reading(h), [0, 1], np.array([1, 1]), "h", 0.5)
    assert [(p.start, p.end, p.text) for p in places] == [(1, 3, "bc"), (5, 6, "f")]
