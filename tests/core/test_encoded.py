"""Tokenise once: the encoded-corpus cache gives exactly what segmenting gives, is used on a
second run (the tokenizer is never called), and is rebuilt when the text, the tokenizer or the
file itself is not what it should be."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from lyrics_tui.core import encoded
from lyrics_tui.core.config import TrainConfig
from lyrics_tui.core.events import BatchFinished
from lyrics_tui.core.tokens import Tokenizer
from lyrics_tui.core.trainer import TrainingRun, prepare_data
from lyrics_tui.core.vocab import build_and_encode, encode_lines
from tests.helpers import tiny_settings


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def segmented(monkeypatch):
    """Counts the corpora segmented (cache misses)."""
    calls = []
    real = encoded.segment

    def counting(lines, tokenizer):
        calls.append(len(lines))
        return real(lines, tokenizer)

    monkeypatch.setattr(encoded, "segment", counting)
    return calls


def forbid_tokenizing(monkeypatch):
    def refuse(self, lines):
        raise AssertionError("the tokenizer was called")

    monkeypatch.setattr(Tokenizer, "lines", refuse)
    monkeypatch.setattr(Tokenizer, "split_line", refuse)


def assert_same(data, train, val, config):
    """prepare_data's result is what tokenising and counting afresh gives."""
    tokenizer = Tokenizer(config.tokenizer)
    vocab, train_ids = build_and_encode(tokenizer.lines(train), config.min_count, config.max_vocab)
    assert data.vocab.tokens == vocab.tokens
    assert data.vocab.counts == vocab.counts
    assert np.array_equal(data.train_ids.numpy(), train_ids)
    assert np.array_equal(data.val_ids.numpy(), encode_lines(vocab, tokenizer.lines(val)))


@pytest.mark.parametrize("kind", ["word", "char"])
@pytest.mark.parametrize(
    ("cut", "min_count", "max_vocab"), [(270, 2, 0), (200, 1, 0), (290, 2, 40)]
)
def test_cached_data_is_exactly_what_tokenising_gives(small_lines, kind, cut, min_count, max_vocab):
    config = TrainConfig(tokenizer=kind, min_count=min_count, max_vocab=max_vocab)
    train, val = small_lines[:cut], small_lines[cut:]
    first = prepare_data(train, val, config)  # builds the cache
    second = prepare_data(train, val, config)  # reads it
    assert_same(first, train, val, config)
    assert_same(second, train, val, config)


def test_a_second_run_never_calls_the_tokenizer(small_lines, monkeypatch, segmented):
    model_cfg, config = tiny_settings(train={"tokenizer": "word", "min_count": 2})
    first = prepare_data(small_lines[:270], small_lines[270:], config)
    assert segmented == [300]
    forbid_tokenizing(monkeypatch)
    again = prepare_data(small_lines[:270], small_lines[270:], config)
    assert again.vocab.tokens == first.vocab.tokens
    assert np.array_equal(again.train_ids.numpy(), first.train_ids.numpy())
    # a second training run on the same corpus reaches its first step without segmenting
    events = []

    def sink(event):
        events.append(event)
        if isinstance(event, BatchFinished):
            run.stop()

    run = TrainingRun(small_lines[:270], small_lines[270:], model_cfg, config, sink=sink)
    assert run.run().reason == "stopped"
    assert any(isinstance(e, BatchFinished) for e in events)
    # another split or vocabulary of the same text: still no segmenting
    other = TrainConfig(tokenizer="word", min_count=1, max_vocab=50)
    moved = prepare_data(small_lines[:200], small_lines[200:], other)
    assert len(moved.vocab) == 50
    assert segmented == [300]
    cached = encoded.encode_lines(small_lines, "word")
    assert isinstance(cached.ids, np.memmap)  # read from the file, not copied


def test_the_cache_is_rebuilt_when_the_text_or_the_tokenizer_changes(small_lines, segmented):
    lines = list(small_lines)
    encoded.encode_lines(lines, "word")
    encoded.encode_lines(lines, "word")
    assert len(segmented) == 1
    lines[5] = lines[5] + "改"  # the file changed
    changed = encoded.encode_lines(lines, "word")
    assert len(segmented) == 2
    assert "改" in "".join(changed.types)
    encoded.encode_lines(lines, "char")  # another tokenizer
    assert len(segmented) == 3


def test_a_new_jieba_dictionary_rebuilds_the_cache(small_lines, segmented, monkeypatch):
    encoded.encode_lines(small_lines, "word")
    monkeypatch.setattr(encoded, "tokenizer_version", lambda kind: "word 9.9 other-dictionary")
    encoded.encode_lines(small_lines, "word")
    assert len(segmented) == 2


def cache_file():
    (path,) = encoded.cache_dir().glob("*.ids")
    return path


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty", "stale"])
def test_a_damaged_or_stale_cache_is_rebuilt_not_trusted(small_lines, segmented, damage):
    good = encoded.encode_lines(small_lines, "char")
    path = cache_file()
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01  # one bit of the ids
    elif damage == "truncate":
        data = data[: len(data) - 10]
    elif damage == "garbage":
        data = bytearray(b"\x00" * len(data))
    elif damage == "empty":
        data = bytearray()
    else:  # a file under this name whose header names another text
        key = encoded.text_digest(small_lines, encoded.tokenizer_version("char"))
        data = data.replace(key.encode(), b"0" * len(key))
    path.write_bytes(bytes(data))
    again = encoded.encode_lines(small_lines, "char")
    assert len(segmented) == 2  # rebuilt
    assert again.types == good.types
    assert np.array_equal(again.ids, good.ids)
    assert encoded.read_cache(path, encoded.text_digest(small_lines, "char")) is not None


def test_an_unwritable_cache_folder_only_costs_speed(small_lines, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    config = TrainConfig(tokenizer="char", min_count=1)
    assert_same(
        prepare_data(small_lines[:250], small_lines[250:], config),
        small_lines[:250],
        small_lines[250:],
        config,
    )


def test_one_process_builds_while_another_waits_for_it(small_lines, monkeypatch):
    """What ranks do: the first builds under a file lock, the others wait and then read."""
    started, release = threading.Event(), threading.Event()
    calls = []
    real = encoded.segment

    def slow(lines, tokenizer):
        calls.append(threading.current_thread().name)
        started.set()
        assert release.wait(10)
        return real(lines, tokenizer)

    monkeypatch.setattr(encoded, "segment", slow)
    results = {}

    def build(name):
        results[name] = encoded.encode_lines(small_lines, "char")

    first = threading.Thread(target=build, args=("first",), name="first")
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=build, args=("second",), name="second")
    second.start()
    second.join(0.3)
    assert second.is_alive()  # waiting on the lock, not segmenting
    release.set()
    first.join(10)
    second.join(10)
    assert calls == ["first"]
    assert np.array_equal(results["first"].ids, results["second"].ids)


def test_old_cache_files_are_pruned(small_lines, monkeypatch):
    monkeypatch.setattr(encoded, "KEEP", 2)
    for i in range(4):
        encoded.encode_lines([*small_lines[:20], f"第{i}行"], "char")
    assert len(list(encoded.cache_dir().glob("*.ids"))) == 2
