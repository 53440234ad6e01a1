"""Song form: the rhyme table, the line-length rule, lines that return whole, new lines that are
new, and the step-through agreeing with generation while the form is on."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lyrics_tui.core.cache import CacheSettings
from lyrics_tui.core.inspection.step import StepThrough
from lyrics_tui.core.inspection.subject import Subject
from lyrics_tui.core.sampling import Sampler, SamplerSettings
from lyrics_tui.core.settings import LINE_WINDOW
from lyrics_tui.core.songform import CorpusForm, form_of, stored_form
from lyrics_tui.core.songform.corpus_form import adjacent_rhyme, line_end_groups, rhyme_runs
from lyrics_tui.core.songform.lengths import LineLengths
from lyrics_tui.core.songform.marks import line_marks
from lyrics_tui.core.songform.rhyme import (
    NO_GROUP,
    RHYME_GROUPS,
    carries_rhyme,
    final_of,
    group_name,
    han_characters,
    release_pinyin,
    rhyme_group,
)
from lyrics_tui.core.songform.vocabulary import VocabularyRhymes
from lyrics_tui.core.songform.writer import FREE_FROM
from lyrics_tui.core.tokens import Tokenizer
from lyrics_tui.core.vocab import Vocabulary
from tests.helpers import BigramStepper

# -- the rhyme table ---------------------------------------------------------------------------
# one word per 辙, its last character's final in pypinyin's strict spelling
ONE_PER_GROUP = {
    "发花": "雪花",  # ua
    "梭波": "寂寞",  # o
    "乜斜": "季节",  # ie
    "姑苏": "幸福",  # u
    "一七": "回忆",  # i
    "怀来": "未来",  # ai
    "灰堆": "眼泪",  # ei
    "遥条": "微笑",  # iao
    "油求": "温柔",  # ou
    "言前": "从前",  # ian
    "人辰": "青春",  # uen
    "江阳": "月光",  # uang
    "中东": "天空",  # ong
}


@pytest.mark.parametrize(("group", "word"), ONE_PER_GROUP.items())
def test_each_rhyme_group_has_its_word(group, word):
    assert group_name(rhyme_group(word)) == group


def test_the_table_names_thirteen_groups_and_every_final_once():
    assert len(RHYME_GROUPS) == 13
    finals = [f for g in RHYME_GROUPS for f in g.finals]
    assert len(finals) == len(set(finals))


@pytest.mark.parametrize(
    ("word", "final", "group"),
    [
        ("春", "uen", "人辰"),  # chun: the u of uen is written away
        ("久", "iou", "油求"),  # jiu
        ("对", "uei", "灰堆"),  # dui
        ("远", "van", "言前"),  # yuan
        ("月", "ve", "乜斜"),  # yue
        ("翁", "ueng", "中东"),  # weng
        ("云", "vn", "人辰"),  # yun
        ("雨", "v", "一七"),  # yu: ü rhymes with i
        ("用", "iong", "中东"),  # yong
        ("是", "i", "一七"),  # the -i after sh
        ("儿", "er", "一七"),
    ],
)
def test_the_strict_finals_published_tables_miss(word, final, group):
    assert final_of(word) == final
    assert group_name(rhyme_group(word)) == group


def test_a_word_without_han_characters_has_no_group():
    for text in ("baby", "", "  ", "123", "↵", "\n"):
        assert rhyme_group(text) == NO_GROUP
        assert han_characters(text) == 0
    assert rhyme_group("oh 宝贝") == rhyme_group("贝")  # the last Han character counts


def test_released_pinyin_is_gone_and_loads_again_when_needed(monkeypatch):
    import sys
    import threading

    before = rhyme_group("月光")
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # another thread might read
    assert not release_pinyin() and "pypinyin" in sys.modules
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # the train command's case
    assert release_pinyin()
    assert not any(name.split(".")[0] == "pypinyin" for name in sys.modules)
    assert rhyme_group("月光") == before != NO_GROUP  # loaded again, the same answer


def test_a_word_is_read_in_context_and_neutral_tones_carry_no_rhyme():
    assert final_of("音乐") == "ve" and final_of("快乐") == "e"
    assert carries_rhyme("离开") and not carries_rhyme("走了") and not carries_rhyme("孩子")
    table = VocabularyRhymes(["<unk>", "\n", "离开", "走了", "love"])
    assert [group_name(g) for g in table.groups] == ["", "", "怀来", "", ""]


# -- what a corpus teaches ---------------------------------------------------------------------
CORPUS = [
    "我们走过安静的街道",
    "你说你会等我回来",
    "风吹过来",
    "我们走过安静的街道",
    "你说你会等我回来",
    "天空很蓝",
]


def test_a_corpus_form_counts_lengths_returns_and_rhymes():
    form = CorpusForm.of_lines(CORPUS)
    assert form.lengths.counts[9] == 2 and form.lengths.counts[8] == 2
    assert form.lengths.counts[4] == 2 and form.lengths.lines == 6
    # lines 4 and 5 come back; the first comes after a new line, the second after a return
    assert form.return_after_new == pytest.approx(1 / 3)
    assert form.return_after_return == pytest.approx(1 / 2)
    assert form.continue_block == pytest.approx(1.0)
    groups = line_end_groups(["回来", "过来", "天空"])
    assert adjacent_rhyme(groups) == pytest.approx(0.5)
    assert rhyme_runs(groups)[1:3] == [1, 1]


def test_a_stored_form_reads_back_and_an_old_or_damaged_one_gives_the_defaults():
    vocab = Vocabulary(["<unk>", "\n", "我", "回来"], [1, 1, 1, 1])
    stored = stored_form(CORPUS, vocab)
    assert form_of(stored) == CorpusForm.of_lines(CORPUS)
    assert stored["rhymes"] == [-1, -1, 1, 5]
    for broken in (None, {}, {"lengths": {"counts": [0, 0]}}, {**stored, "runs": "x"}):
        default = form_of(broken)
        assert not default.stored and default.lengths.mean == pytest.approx(9.0, abs=0.5)


def test_the_lengths_rule_follows_what_the_song_lacks():
    lengths = LineLengths.of_lines(["我" * n for n in (4, 5, 5, 6, 6, 6, 7, 7, 8)])
    assert (lengths.shortest, lengths.longest) == (4, 8)
    fresh = lengths.lacking(np.zeros(9))
    full = lengths.lacking(np.array([0, 0, 0, 0, 0, 0, 9, 0, 0]))  # 9 lines of 6 already
    # a song with many lines of 6 ends fewer lines at 6 than a fresh one
    assert (
        lengths.end_chances(full, np.array([6]), 1.0)[0]
        < (lengths.end_chances(fresh, np.array([6]), 1.0)[0])
    )
    chances = lengths.end_chances(fresh, np.arange(12), 1.0)
    assert (chances[:4] == 0).all() and (chances[8:] == 1).all()


# -- writing -----------------------------------------------------------------------------------
TOKENS = ["<unk>", "\n", "我", "你", "爱", "天空", "回来", "的", "走", "风", "在", "离开", "云"]
FORM = CorpusForm.of_lines(["我" * n for n in (4, 5, 5, 6, 6, 6, 7, 7, 8)] * 3)


def form_sampler(seed: int = 0, form: CorpusForm = FORM) -> Sampler:
    rng = np.random.default_rng(seed)
    table = rng.normal(0, 1.5, (len(TOKENS), len(TOKENS)))
    vocab = Vocabulary(TOKENS, [1] * len(TOKENS))
    return Sampler(BigramStepper(table), vocab, Tokenizer("char"), form)


def song(sampler: Sampler, prompt: str = "", **over) -> tuple[str, list]:
    generation = sampler.generate(prompt, SamplerSettings(**{"max_tokens": 300, **over}))
    tokens = list(generation)
    return generation.text, tokens


def most_sung(lines: list[str]) -> int:
    return max(
        [lines[max(0, i - LINE_WINDOW) : i].count(line) + 1 for i, line in enumerate(lines)] or [0]
    )


@pytest.mark.parametrize("temperature", [0.0, 0.3, 0.8, 1.2])
def test_lines_never_end_before_the_shortest_and_always_by_the_longest(temperature):
    text, _ = song(form_sampler(), temperature=temperature, seed=3)
    lengths = [han_characters(line) for line in text.split("\n")[:-1]]
    assert len(lengths) > 10
    assert min(lengths) >= FORM.lengths.shortest and max(lengths) <= FORM.lengths.longest


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**16),
    st.sampled_from([0.0, 0.2, 0.5, 0.8, 1.2]),
    st.sampled_from([1.0, 0.9, 0.5]),
    st.integers(1, 5),
    st.integers(0, 2**32 - 1),
)
def test_no_song_sings_a_line_more_than_the_limit(table_seed, temperature, top_p, limit, seed):
    sampler = form_sampler(table_seed)
    text, tokens = song(
        sampler, temperature=temperature, top_p=top_p, returns=limit, seed=seed, max_tokens=250
    )
    lines = text.split("\n")[:-1]
    assert most_sung(lines) <= limit
    assert all(t.token_id != 0 for t in tokens) and "\n\n" not in "\n" + text


def test_a_line_that_returns_returns_whole_and_a_new_line_is_new():
    returning = CorpusForm.of_lines(CORPUS * 8)  # a corpus whose lines often come back
    sampler = form_sampler(5, returning)
    text, _ = song(sampler, temperature=0.8, seed=1, max_tokens=600)
    lines = text.split("\n")[:-1]
    repeats = [line for i, line in enumerate(lines) if line in lines[max(0, i - 30) : i]]
    assert repeats  # lines come back
    assert most_sung(lines) <= 3


# top-p 0.95 can leave nothing but the word looped on (or a space): the rules then hold for
# the network's own words too
@pytest.mark.parametrize("top_p", [1.0, 0.95])
@pytest.mark.parametrize("temperature", [0.0, 0.5, 1.0])
def test_a_new_line_does_not_loop_on_a_word(temperature, top_p):
    table = np.random.default_rng(8).normal(0, 1.0, (len(TOKENS), len(TOKENS)))
    sky, me = TOKENS.index("天空"), TOKENS.index("我")
    table[:, sky] += 2.0  # the network would sing 天空天空天空 ...
    table[sky, sky] += 3.0
    table[me, me] += 6.0  # ... and 我我我我
    vocab = Vocabulary(TOKENS, [1] * len(TOKENS))
    sampler = Sampler(BigramStepper(table), vocab, Tokenizer("char"), FORM)
    plain, _ = song(sampler, temperature=temperature, seed=2, form=False, returns=0)
    assert "天空天空天空" in plain or "我我我我" in plain  # the network alone loops
    text, _ = song(sampler, temperature=temperature, seed=2, top_p=top_p)
    lines = text.split("\n")[:-1]
    assert len(lines) > 10
    for line in lines:
        assert line.count("天空") <= 2 and line.count("我") <= 3, line


@pytest.mark.parametrize("top_p", [1.0, 0.95])
@pytest.mark.parametrize("temperature", [0.0, 0.3, 0.8])
def test_a_line_never_starts_with_a_space_nor_doubles_one_nor_cold_spaces_one_character(
    temperature, top_p
):
    tokens = [*TOKENS, " "]
    table = np.random.default_rng(4).normal(0, 1.0, (len(tokens), len(tokens)))
    table[:, -1] += 3.0  # the network would string spaces together, as a cold one did
    table[-1, -1] += 6.0
    vocab = Vocabulary(tokens, [1] * len(tokens))
    sampler = Sampler(BigramStepper(table), vocab, Tokenizer("char"), FORM)
    plain, _ = song(sampler, temperature=temperature, seed=1, form=False, returns=0)
    if temperature:  # (greedy, this network alone sings empty lines)
        assert "  " in plain  # the network alone doubles spaces
    text, _ = song(sampler, temperature=temperature, seed=1, top_p=top_p)
    lines = text.split("\n")[:-1]
    assert len(lines) > 10
    assert "  " not in text and not any(line.startswith(" ") for line in lines)
    if temperature < FREE_FROM:  # cold, nor does a phrase of one character (我 我 你)
        assert all(len(part) >= 2 for line in lines for part in line.split(" ")[:-1]), text


@pytest.mark.parametrize("temperature, filtered", [(0.8, True), (0.6, True), (0.3, False)])
def test_a_line_that_nearly_repeats_leaves_it_with_the_samplers_words_unless_cold(
    temperature, filtered
):
    sampler = form_sampler()
    writer = sampler.writer(SamplerSettings(temperature=temperature), seed=0)
    assert writer is not None
    for token in ["我", "爱", "天空", "回来", "\n", "我", "爱", "天空"]:
        writer.read(sampler.vocab.id(token))
    network = np.full(len(TOKENS), 1 / len(TOKENS))
    wind = TOKENS.index("风")
    probs = network.copy()
    probs[wind] = 0.0  # a word the sampler's filters took out
    writer.shape(probs.copy(), network, network)  # 我爱天空 could end here, and reads like
    assert writer.similar is not None  # 我爱天空回来: it may not end, and leaves it
    out = writer.shape(probs.copy(), network, network)
    # warm, the filters hold (the sampler's own temperature); cold, the network's words at
    # temperature 1 are freer than the few the filters leave
    assert bool(out[wind] == 0.0) is filtered
    assert out.sum() == pytest.approx(1.0)


def test_greedy_with_the_form_is_the_same_whatever_the_seed():
    sampler = form_sampler(2)
    a, _ = song(sampler, temperature=0, seed=1)
    b, _ = song(sampler, temperature=0, seed=99)
    assert a == b


def test_the_form_off_is_the_sampler_alone():
    sampler = form_sampler(2)
    text, _ = song(sampler, temperature=0, form=False, returns=0, max_tokens=60)
    plain = Sampler(sampler.stepper, sampler.vocab, sampler.tokenizer)
    again, _ = song(plain, temperature=0, form=False, returns=0, max_tokens=60)
    assert text == again


def subject(seed: int = 0) -> Subject:
    sampler = form_sampler(seed)
    return Subject(sampler.stepper, sampler.vocab, sampler.tokenizer, "toy", form_data=None)


@pytest.mark.parametrize("temperature", [0.0, 0.5, 0.9])
def test_the_step_through_agrees_with_generation_with_the_form_on(temperature):
    toy = subject(4)
    sampler = Sampler(toy.stepper, toy.vocab, toy.tokenizer, toy.form, toy.rhymes)
    memory = CacheSettings(window=50, theta=1.0, lam=0.3)
    config = SamplerSettings(temperature=temperature, seed=7, max_tokens=120, cache=memory)
    expected = [t.token_id for t in sampler.generate("我爱\n你", config)]
    walk = StepThrough(toy, config, "我爱\n你")
    assert [walk.sample().token_id for _ in range(120)] == expected


def test_the_step_through_shows_each_candidates_rhyme_and_its_chance_to_end_the_line():
    prompt = "风走云\n我爱"
    walk = StepThrough(subject(1), SamplerSettings(temperature=0.8, seed=2), prompt, top=13)
    view = walk.current
    assert view.form is not None and view.form.rhyme == "人辰"  # the line before ends in 云
    by_word = {c.text: c for c in view.candidates}
    assert by_word["\n"].ends_line == 1.0
    assert by_word["云"].rhyme == "人辰" and by_word["风"].rhyme == "中东"
    assert all(0.0 <= c.ends_line <= 1.0 for c in view.candidates)
    plain = StepThrough(subject(1), SamplerSettings(temperature=0.8, form=False), prompt)
    assert plain.current.form is None and all(c.ends_line == 0 for c in plain.current.candidates)


def test_marks_tell_each_finished_lines_rhyme_and_which_lines_return():
    marks = line_marks("我们走过街道\n你说你会回来\n我们走过街道\n半句")
    assert [group_name(m.group) for m in marks] == ["遥条", "怀来", "遥条"]
    assert [m.returns for m in marks] == [False, False, True]
    assert marks[1].end == len("你说你会回来") - 1


def test_a_checkpoint_from_before_the_song_form_writes_with_the_default_form(
    checkpoint_path, tmp_path
):
    import torch

    from lyrics_tui.core.loading import open_checkpoint

    payload = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
    del payload["form"]  # as saved before the song form was stored
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    opened = open_checkpoint(old)
    assert opened.checkpoint.form is None and not opened.form.stored
    default = CorpusForm()
    settings = SamplerSettings(temperature=0.8, seed=5, max_tokens=200)
    generation = opened.sampler().generate("", settings)
    tokens = list(generation)
    lines = generation.text.split("\n")[:-1]
    assert tokens and len(lines) >= 3
    lengths = [han_characters(line) for line in lines]
    assert default.lengths.shortest <= min(lengths) and max(lengths) <= default.lengths.longest
    assert most_sung(lines) <= SamplerSettings().returns


@pytest.mark.filterwarnings("error")  # numpy's "invalid value" warning fails the test
def test_a_near_zero_temperature_writes_no_nan_and_no_unk():
    """At temperature 0.001 the words left beside a line end the network favours by 0.72 in
    its scores hold e^-720 each, subnormal numbers whose sum's inverse is inf: the form scaled
    its words by it (0 x inf = NaN) and <unk> was drawn."""
    rng = np.random.default_rng(0)
    table = 10.0 - 0.72 - rng.uniform(0.0, 0.02, (len(TOKENS), len(TOKENS)))
    table[:, TOKENS.index("\n")] = 10.0  # the form takes the line end out of the words
    sampler = Sampler(
        BigramStepper(table), Vocabulary(TOKENS, [1] * len(TOKENS)), Tokenizer("char"), FORM
    )
    for seed in range(3):
        _, tokens = song(sampler, temperature=0.001, seed=seed, max_tokens=60)
        assert all(math.isfinite(t.prob) and 0 < t.prob <= 1 for t in tokens)
        assert "<unk>" not in [t.text for t in tokens]
