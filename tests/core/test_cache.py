"""Song memory (core/cache.py, core/cache_eval.py): the cache against hand-computed cases, the
numpy and torch versions against each other, the mixture's rules, fitting, storing, and the
sampler, step-through and line scores that mix it in."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from lyrics_tui.core import cache_eval
from lyrics_tui.core.cache import (
    CacheFit,
    CacheSettings,
    NeuralCache,
    cache_view,
    mix,
    parse_cache,
    resolve_cache,
    stored_fit,
)
from lyrics_tui.core.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from lyrics_tui.core.config import ModelConfig
from lyrics_tui.core.distribution import Memory, next_token_distribution
from lyrics_tui.core.errors import LyricsError, SettingsError
from lyrics_tui.core.evaluate import evaluate_loss, text_ids
from lyrics_tui.core.fastload import read_checkpoint
from lyrics_tui.core.inspection.score import score_line
from lyrics_tui.core.inspection.step import StepThrough
from lyrics_tui.core.inspection.subject import Subject, subject_from_checkpoint
from lyrics_tui.core.sampling import Sampler, SamplerSettings
from lyrics_tui.core.tokens import Tokenizer
from lyrics_tui.core.vocab import Vocabulary
from tests.helpers import BigramStepper

E = math.e


# -- the cache by hand ---------------------------------------------------------------------------
def test_cache_probabilities_hand_computed():
    # three remembered states; the query is most like the first and the third
    keys = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    next_ids = np.array([3, 4, 3])
    view = cache_view(keys, next_ids, np.array([1, 2, 3]), np.array([1.0, 0.0]), 1.0, 6, 0)
    assert view is not None
    # scores θ·h·h_i = 1, 0, 1 -> weights e, 1, e over 2e + 1
    assert view.probs[3] == pytest.approx(2 * E / (2 * E + 1))
    assert view.probs[4] == pytest.approx(1 / (2 * E + 1))
    assert view.probs.sum() == pytest.approx(1.0)
    pointers = view.pointers(3)
    assert [p for p, _ in pointers] == [1, 3]
    assert [w for _, w in pointers] == pytest.approx([E / (2 * E + 1)] * 2)
    # θ = 0: every remembered position counts the same
    flat = cache_view(keys, next_ids, np.array([1, 2, 3]), np.array([1.0, 0.0]), 0.0, 6, 0)
    assert flat is not None and flat.probs[3] == pytest.approx(2 / 3)


def test_the_cache_never_points_at_unk_and_is_silent_with_nothing_usable():
    keys = np.eye(3, dtype=np.float32)
    view = cache_view(keys, np.array([0, 2, 0]), np.arange(3), np.ones(3), 2.0, 4, 0)
    assert view is not None and view.probs[0] == 0.0 and view.probs[2] == pytest.approx(1.0)
    assert cache_view(keys, np.array([0, 0, 0]), np.arange(3), np.ones(3), 2.0, 4, 0) is None


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.99])
def test_the_mixture_sums_to_one_and_keeps_the_networks_unk(lam):
    rng = np.random.default_rng(0)
    network = rng.dirichlet(np.ones(8))
    cache = rng.dirichlet(np.ones(8))
    cache[0] = 0.0
    cache /= cache.sum()
    mixed = mix(network, cache, lam, unk_id=0)
    assert mixed.sum() == pytest.approx(1.0)
    assert mixed[0] == network[0]  # the cache adds nothing to <unk>
    known = (1 - lam) * network[1:] + lam * (1 - network[0]) * cache[1:]
    assert mixed[1:] == pytest.approx(known)
    assert mix(network, None, lam, 0) is network


def test_the_ring_buffer_forgets_beyond_its_window():
    rng = np.random.default_rng(1)
    settings = CacheSettings(window=4, theta=0.7, lam=0.5)
    memory = NeuralCache(settings, hidden_size=3, vocab_size=6, unk_id=0)
    assert memory.probs(np.ones(3)) is None
    states = rng.normal(size=(9, 3)).astype(np.float32)
    ids = rng.integers(1, 6, size=9)
    for t in range(9):
        memory.add(states[t], int(ids[t]))
        low = max(0, t + 1 - 4)
        query = rng.normal(size=3)
        expected = cache_view(
            states[low : t + 1], ids[low : t + 1], np.arange(low, t + 1), query, 0.7, 6, 0
        )
        assert expected is not None
        assert memory.probs(query) == pytest.approx(expected.probs, rel=1e-5)
        view = memory.view(query)
        assert view is not None and sorted(view.positions) == list(range(low + 1, t + 2))


# -- the whole text with torch against one word at a time with numpy ---------------------------
def _features(total=60, size=5, vocab=7, unk=0, seed=0) -> cache_eval.StreamFeatures:
    gen = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, vocab, (total,), generator=gen)
    logits = torch.randn(total, vocab, generator=gen)
    logp_all = torch.log_softmax(logits.double(), 1)
    return cache_eval.StreamFeatures(
        hidden=torch.randn(total, size, generator=gen),
        logp=logp_all.gather(1, targets[:, None])[:, 0],
        log_known=torch.log(-torch.expm1(logp_all[:, unk])),
        targets=targets,
        loss=0.0,
        unk_id=unk,
    )


@pytest.mark.parametrize("window", [1, 5, 17, 59])
def test_batch_scoring_matches_the_incremental_cache(window):
    f = _features()
    settings = CacheSettings(window, 0.8, 0.3)
    logp, usable = cache_eval.cache_logp(f, settings.theta, [window, 3])[window]
    mixed = cache_eval.position_logp(f, settings)
    memory = NeuralCache(settings, 5, 7, 0)
    for t in range(f.tokens):
        probs = memory.probs(f.hidden[t].numpy())
        target = int(f.targets[t])
        assert (probs is not None) == bool(usable[t])
        if probs is not None:
            assert math.exp(float(logp[t])) == pytest.approx(probs[target], abs=1e-6)
            net = np.full(7, math.nan)  # only p(target) and p(<unk>) matter
            net[target] = math.exp(float(f.logp[t]))
            net[0] = 1 - math.exp(float(f.log_known[t]))
            want = net[target] if target == 0 else mix(net, probs, 0.3, 0)[target]
            assert math.exp(float(mixed[t])) == pytest.approx(want, rel=1e-6)
        else:
            assert float(mixed[t]) == float(f.logp[t])
        memory.add(f.hidden[t].numpy(), target)


def test_fitting_finds_a_repeating_text_and_switches_off_for_a_useless_cache():
    # a "song" whose second half repeats its first: states and words both recur
    f = _features(total=120)
    half = cache_eval.StreamFeatures(
        hidden=torch.cat([f.hidden[:60], f.hidden[:60]]),
        logp=torch.full((120,), math.log(1 / 7), dtype=torch.float64),
        log_known=torch.full((120,), math.log(6 / 7), dtype=torch.float64),
        targets=torch.cat([f.targets[:60], f.targets[:60]]),
        loss=math.log(7),
        unk_id=0,
    )
    fit = cache_eval.fit_cache(half)
    assert fit is not None and fit.settings.on
    assert fit.cache_ppl < fit.plain_ppl and fit.cross_cache_ppl < fit.cross_plain_ppl
    # the figure stored is the figure the stored settings give
    assert math.exp(cache_eval.cache_loss(half, fit.settings)) == pytest.approx(fit.cache_ppl)
    # a network that is always sure and right: the cache can only cost
    sure = cache_eval.StreamFeatures(
        half.hidden, torch.zeros(120, dtype=torch.float64), half.log_known, half.targets, 0.0, 0
    )
    off = cache_eval.fit_cache(sure)
    assert off is not None and not off.settings.on and off.cache_ppl == pytest.approx(1.0)
    assert cache_eval.fit_cache(_features(total=5)) is None


def test_read_stream_gives_exactly_the_evaluation_loss(checkpoint_path, small_lines):
    checkpoint = load_checkpoint(checkpoint_path)
    model = model_from_checkpoint(checkpoint)
    ids = torch.tensor(text_ids(checkpoint, small_lines[270:]))
    features = cache_eval.read_stream(model, ids, checkpoint.vocab.unk_id)
    assert features.loss == evaluate_loss(model, ids)  # bit for bit
    assert features.tokens == len(ids) - 1
    assert -float(features.logp.mean()) == pytest.approx(features.loss, rel=1e-5)


# -- settings, storing, resolving -------------------------------------------------------------
def test_parse_cache_option():
    assert parse_cache("auto") == "auto" and parse_cache(" OFF ") == "off"
    assert parse_cache("500,0.05,0.2") == CacheSettings(500, 0.05, 0.2)
    for bad in ("on", "500,0.05", "a,b,c", "0,1,0.2", "10,-1,0.2", "10,1,1.0", "10,nan,0.1"):
        with pytest.raises(SettingsError):
            parse_cache(bad)


def test_training_fits_and_stores_song_memory(trained):
    finished = trained["finished"]
    assert finished.cache is not None and finished.cache_val_ppl is not None
    assert finished.plain_cross_ppl is not None and finished.cache_cross_ppl is not None
    assert finished.cache_val_ppl <= finished.best_val_ppl * (1 + 1e-9)
    epochs = [e for e in trained["events"] if type(e).__name__ == "EpochFinished"]
    assert all(e.cache_val_ppl is not None for e in epochs)
    for path in (trained["path"], trained["last"]):
        torch_fit = stored_fit(load_checkpoint(path))
        fast_fit = stored_fit(read_checkpoint(str(path)))
        assert torch_fit is not None and torch_fit == fast_fit
    best = stored_fit(load_checkpoint(trained["path"]))
    assert best is not None and best.settings.to_dict() == finished.cache
    assert best.plain_ppl == pytest.approx(finished.best_val_ppl)


def test_a_run_holds_its_latest_states_fit_after_training_and_the_files_when_resumed(
    trained, small_lines
):
    """TrainingRun.cache_settings (what the playground generates with) follows the weights the
    run holds: the latest state's full fit once trained, the file's fit when continued."""
    from lyrics_tui.core.trainer import TrainingRun
    from tests.helpers import tiny_settings

    last = stored_fit(load_checkpoint(trained["last"]))
    assert last is not None and trained["run"].cache_settings == last.settings
    model_cfg, train_cfg = tiny_settings(train={"epochs": 3})
    resumed = TrainingRun(
        small_lines[:270],
        small_lines[270:],
        model_cfg,
        train_cfg,
        resume=load_checkpoint(trained["last"]),
    )
    assert resumed.cache_settings == last.settings  # before its first epoch


def test_fitted_settings_survive_save_and_load(tmp_path, checkpoint_path):
    checkpoint = load_checkpoint(checkpoint_path)
    fit = CacheFit(CacheSettings(123, 0.4567, 0.31), 80.0, 40.0, 999, "validation", 82.0, 45.0)
    checkpoint.cache = fit.to_dict()
    save_checkpoint(checkpoint, tmp_path / "c.pt")
    assert stored_fit(load_checkpoint(tmp_path / "c.pt")) == fit
    assert stored_fit(read_checkpoint(str(tmp_path / "c.pt"))) == fit


def test_an_older_file_without_song_memory_loads_with_it_off(tmp_path, checkpoint_path):
    payload = torch.load(checkpoint_path, weights_only=True)
    del payload["cache"]
    torch.save(payload, tmp_path / "old.pt")
    for loader in (load_checkpoint, read_checkpoint):
        checkpoint = loader(str(tmp_path / "old.pt"))
        assert checkpoint.cache is None and stored_fit(checkpoint) is None
        resolved = resolve_cache("auto", None, checkpoint.path)
        assert resolved.settings is None and "--fit-cache" in resolved.note
    given = CacheSettings(50, 0.1, 0.2)
    assert resolve_cache("50,0.1,0.2", None).settings == given
    assert resolve_cache("off", None).settings is None
    fit = CacheFit(given, 1.0, 1.0, 1, "validation")
    assert resolve_cache("auto", fit).settings == given
    assert resolve_cache("auto", CacheFit(given.with_lambda(0), 1.0, 1.0, 1, "v")).settings is None


# -- the sampler, step-through and line scores with memory ----------------------------------
TOKENS = ["<unk>", "\n", "我", "爱", "你"]


class OneHotStepper(BigramStepper):
    """A bigram table whose hidden state is the one-hot of the word just read."""

    def __init__(self, table):
        config = ModelConfig(cell="rnn", embed=5, hidden=5, vocab_size=5)
        super().__init__(table, config)

    def hidden_vectors(self, state):
        h = np.zeros(5, np.float32)
        h[state] = 1.0
        return h, None


def _toy_subject(cache=None) -> Subject:
    table = np.log(np.full((5, 5), 0.2))
    return Subject(OneHotStepper(table), Vocabulary(TOKENS, [1] * 5), Tokenizer("char"), "toy")


def test_score_line_mixes_in_the_cache_by_hand():
    subject = _toy_subject()
    settings = CacheSettings(window=10, theta=1.0, lam=0.5)
    plain = score_line(subject, "我爱我爱")
    scored = score_line(subject, "我爱我爱", settings)
    assert scored.network_perplexity == pytest.approx(plain.perplexity)
    assert [w.network_prob for w in scored.words] == pytest.approx([0.2] * 5)
    # read: ↵ 我 爱 我 | 爱: the states after ↵, 我, 爱, 我 are remembered with what followed
    # 我 at position 0: nothing remembered yet -> the network alone
    assert scored.words[0].cache_prob is None and scored.words[0].prob == pytest.approx(0.2)
    # 爱 at 1: one memory (after ↵ came 我): the cache says 我, so p(爱) = 0.5 * 0.2
    assert scored.words[1].cache_prob == 0.0 and scored.words[1].prob == pytest.approx(0.1)
    # 爱 at 3, after reading 我: memories (↵→我), (我→爱), (爱→我); the state after 我 matches
    # the one that led to 爱: weights e, over 1 + e + 1
    p_cache = E / (E + 2)
    assert scored.words[3].cache_prob == pytest.approx(p_cache)
    want = 0.5 * 0.2 + 0.5 * 0.8 * p_cache
    assert scored.words[3].prob == pytest.approx(want)
    assert scored.words[3].cache_share == pytest.approx(0.5 * 0.8 * p_cache / want)
    assert scored.cache == settings and plain.cache is None


def test_step_through_shows_network_cache_and_what_the_cache_recalls():
    subject = _toy_subject()
    memory = CacheSettings(window=10, theta=3.0, lam=0.4)
    walk = StepThrough(subject, SamplerSettings(seed=1, cache=memory), "我爱\n你我", top=5)
    view = walk.current
    # as in generation, the finished line is remembered, not the one being written
    assert view.cache == memory and view.remembered == 3
    assert view.tokens == ("↵", "我", "爱", "↵", "你", "我")
    by_word = {c.text: c for c in view.candidates}
    # after 我 the cache recalls position 2 (爱 came after the first 我)
    assert by_word["爱"].pointers[0][0] == 2
    assert by_word["爱"].cache_prob == pytest.approx(sum(w for _, w in by_word["爱"].pointers))
    for c in view.candidates:
        want = 0.6 * c.network_prob + 0.4 * (1 - 0.2) * c.cache_prob
        assert c.model_prob == pytest.approx(c.network_prob if c.text == "<unk>" else want)
    before = walk.current
    picked = walk.choose(1)
    assert picked.cache_prob == pytest.approx(before.candidates[0].cache_prob)
    walk.back()
    assert walk.current == before  # memory restored with the state


def test_the_repetition_penalty_spares_what_the_cache_recalls():
    logits = np.log(np.array([0.1, 0.1, 0.4, 0.2, 0.2]))
    recall = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    settings = SamplerSettings(temperature=1.0, repetition_penalty=3.0)
    memory = Memory(recall, 0.5, 0)
    dist = next_token_distribution(logits, settings, recent=[3], banned=[0], memory=memory)
    # the network's score for 爱 (id 3) is penalised, then the cache's recall is mixed in
    adjusted = np.log([0.1, 0.1, 0.4, 0.2, 0.2])
    adjusted[3] *= 3.0
    penalised = np.exp(adjusted) / np.exp(adjusted).sum()
    expected = mix(penalised, recall, 0.5, 0)
    expected[0] = 0.0
    expected /= expected.sum()
    assert dist.final == pytest.approx(expected)
    assert dist.final[3] > 0.45  # the cache's half survives the penalty
    assert dist.model == pytest.approx(mix(np.exp(logits) / np.exp(logits).sum(), recall, 0.5, 0))
    assert dist.network == pytest.approx(np.exp(logits) / np.exp(logits).sum())


def test_generation_with_memory_recalls_and_reports_both_parts():
    table = np.log(np.full((5, 5), 0.2))
    sampler = Sampler(OneHotStepper(table), Vocabulary(TOKENS, [1] * 5), Tokenizer("char"))
    off = list(sampler.generate("我爱", SamplerSettings(seed=3, max_tokens=40)))
    zero = list(
        sampler.generate(
            "我爱", SamplerSettings(seed=3, max_tokens=40, cache=CacheSettings(10, 1.0, 0.0))
        )
    )
    assert [t.token_id for t in off] == [t.token_id for t in zero]
    assert all(t.cache_prob is None for t in off)
    strong = CacheSettings(window=50, theta=5.0, lam=0.9)
    # the song form off: memory mixed into what is sampled (on: tests/core/test_songform.py)
    settings = SamplerSettings(seed=3, max_tokens=40, cache=strong, returns=0, form=False)
    tokens = list(sampler.generate("我爱\n", settings))
    # the prompt's finished line is remembered from the first token on
    assert all(t.cache_prob is not None and t.network_prob == pytest.approx(0.2) for t in tokens)
    # a flat network, a sharp strong memory: after 我 almost always 爱, as in the prompt
    after_wo = [b.text for a, b in itertools.pairwise(tokens) if a.text == "我"]
    assert after_wo and after_wo.count("爱") / len(after_wo) > 0.7


def test_a_training_snapshot_subject_uses_the_runs_latest_settings(trained):
    from lyrics_tui.core.inspection.subject import subject_from_run

    subject = subject_from_run(trained["run"])
    run_settings = trained["run"].cache_settings
    assert subject.cache == (run_settings if run_settings and run_settings.on else None)
    stored = subject_from_checkpoint(load_checkpoint(trained["path"]))
    assert stored.fit is not None and stored.resolve_cache("auto").source == "stored"
    with pytest.raises(LyricsError):
        stored.resolve_cache("nonsense")


def test_step_through_holds_back_what_would_finish_a_worn_line_as_generation_does():
    subject = _toy_subject()
    memory = CacheSettings(window=50, theta=3.0, lam=0.5)
    text = "我爱\n我爱\n我爱\n我"
    worn = StepThrough(subject, SamplerSettings(seed=1, cache=memory, form=False), text)
    by_word = {c.text: c for c in worn.current.candidates}
    # the cache still recalls 爱 (shown), but a fourth 我爱 is not sung: filtered like top-k
    assert by_word["爱"].cache_prob > 0.8 and by_word["爱"].pointers
    assert by_word["爱"].final_prob == 0.0 and not by_word["爱"].survives
    free = StepThrough(subject, SamplerSettings(seed=1, cache=memory, returns=0, form=False), text)
    assert {c.text: c for c in free.current.candidates}["爱"].final_prob > 0.5


def test_while_writing_the_memory_holds_finished_lines_only():
    from lyrics_tui.core.sampling import SongMemory

    cache = NeuralCache(CacheSettings(window=10, theta=1.0, lam=0.5), 5, 5, 0)
    memory = SongMemory(cache, newline_id=1)
    h = np.eye(5, dtype=np.float32)
    memory.read(h[2], 3)  # 我 -> 爱, the line being written
    memory.read(h[3], 4)
    assert cache.count == 0 and memory.probs(h[2]) is None  # not recalled yet: no stutter
    memory.read(h[4], 1)  # the line ends: all of it is remembered
    assert cache.count == 3 and list(cache.next_ids[:3]) == [3, 4, 1]
    assert memory.probs(h[2])[3] > memory.probs(h[2])[4]


def test_generation_with_memory_writes_no_blank_lines():
    table = np.log(np.full((5, 5), 0.2))
    sampler = Sampler(OneHotStepper(table), Vocabulary(TOKENS, [1] * 5), Tokenizer("char"))
    strong = CacheSettings(window=50, theta=5.0, lam=0.9)
    settings = SamplerSettings(seed=2, max_tokens=200, cache=strong, form=False)
    generation = sampler.generate("我\n", settings)
    tokens = [t.text for t in generation]
    assert tokens.count("\n") > 10  # the memory recalls line ends often
    assert "\n\n" not in generation.text  # but never right after one
    plain = sampler.generate("我\n", SamplerSettings(seed=2, max_tokens=200, form=False))
    for _ in plain:
        pass
    assert "\n\n" in plain.text  # the flat network alone does write them


def test_step_through_writes_no_blank_line_with_memory_on_even_before_it_recalls():
    subject = _toy_subject()
    memory = CacheSettings(window=50, theta=3.0, lam=0.5)
    walk = StepThrough(subject, SamplerSettings(seed=1, cache=memory, form=False), "")
    assert walk.current.remembered == 0  # nothing to recall at the very start
    line_end = {c.text: c for c in walk.current.candidates}["\n"]
    assert line_end.final_prob == 0.0 and not line_end.survives  # as generation holds it back
    plain = StepThrough(subject, SamplerSettings(seed=1, form=False), "")
    assert {c.text: c for c in plain.current.candidates}["\n"].final_prob > 0
