"""Tokenizers (word and char) and the vocabulary."""

from __future__ import annotations

import os

import pytest

from lyrics_tui.core.errors import CheckpointError, SettingsError
from lyrics_tui.core.tokens import NEWLINE, Tokenizer, detokenize
from lyrics_tui.core.vocab import UNK, Vocabulary, build_and_encode, encode_lines
from tests.helpers import ROOT

LINE = "晚风吹过高楼的怀抱"


# -- tokens ----------------------------------------------------------------------------------
def test_word_tokenizer_splits_into_words_that_join_back():
    tokens = Tokenizer("word").split_line(LINE)
    assert 1 < len(tokens) < len(LINE)  # words, not single characters
    assert "".join(tokens) == LINE
    assert all(tokens)


def test_word_tokenizer_keeps_spaces_and_latin_text():
    line = "Hello 世界 it's 2024"
    assert detokenize(Tokenizer("word").split_line(line)) == line


def test_char_tokenizer_gives_characters():
    assert Tokenizer("char").split_line("你好 a") == ["你", "好", " ", "a"]


@pytest.mark.parametrize("kind", ["word", "char"])
def test_every_line_ends_with_one_newline_token(kind):
    lines = [LINE, "我一个人走过天桥", "a"]
    token_lines = list(Tokenizer(kind).lines(lines))
    assert len(token_lines) == len(lines)
    for tokens, line in zip(token_lines, lines, strict=True):
        assert tokens[-1] == NEWLINE and tokens.count(NEWLINE) == 1
        assert detokenize(tokens) == line + "\n"


@pytest.mark.parametrize("kind", ["word", "char"])
def test_prompt_is_tokenised_like_the_corpus(kind):
    tok = Tokenizer(kind)
    assert tok.prompt(LINE) == tok.split_line(LINE)  # the last line stays open
    two = tok.prompt("我一个人走过天桥\n" + LINE)
    assert two == [*tok.split_line("我一个人走过天桥"), NEWLINE, *tok.split_line(LINE)]
    assert tok.prompt(LINE + "\n") == [*tok.split_line(LINE), NEWLINE]  # a finished line
    assert tok.prompt("我\r\n你") == tok.prompt("我\n你") == tok.prompt("我\r你")


@pytest.mark.parametrize("text", ["", "   ", "\n\n", " \r\n\t "])
def test_empty_or_blank_prompt_gives_no_tokens(text):
    assert Tokenizer("word").prompt(text) == []
    assert Tokenizer("char").prompt(text) == []


def test_unknown_tokenizer_is_a_settings_error():
    with pytest.raises(SettingsError):
        Tokenizer("bpe")


# -- vocabulary ------------------------------------------------------------------------------
LINES = [["a", "b", "c", NEWLINE], ["b", "c", "d", NEWLINE], ["c", "e", NEWLINE], ["x", NEWLINE]]


def test_min_count_drops_rare_tokens_into_unk():
    vocab = Vocabulary.build(LINES, min_count=2)
    assert vocab.tokens[0] == UNK and vocab.unk_id == 0
    assert set(vocab.tokens) == {UNK, NEWLINE, "b", "c"}
    # <unk> is counted: a, d, e and x were seen once each
    assert vocab.counts[0] == 4
    assert sum(vocab.counts) == sum(len(line) for line in LINES)
    assert vocab.encode(["a", "b", "zzz"]) == [0, vocab.id("b"), 0]


def test_most_frequent_first_ties_in_first_seen_order():
    vocab = Vocabulary.build(LINES, min_count=1)
    assert vocab.tokens == [UNK, NEWLINE, "c", "b", "a", "d", "e", "x"]
    assert vocab.counts == [0, 4, 3, 2, 1, 1, 1, 1]


def test_a_literal_unk_in_the_text_counts_as_unk():
    vocab = Vocabulary.build([[UNK, "a", "a"]], min_count=1)
    assert vocab.tokens == [UNK, "a"] and vocab.counts == [1, 2]


@pytest.mark.parametrize("cap", [1, 2, 3, 5])
def test_max_size_caps_the_vocabulary(cap):
    vocab = Vocabulary.build(LINES, min_count=1, max_size=cap)
    assert len(vocab) == cap
    assert vocab.tokens == Vocabulary.build(LINES, min_count=1).tokens[:cap]
    assert sum(vocab.counts) == sum(len(line) for line in LINES)


def test_to_dict_from_dict_round_trip():
    vocab = Vocabulary.build(LINES, min_count=1)
    again = Vocabulary.from_dict(vocab.to_dict())
    assert again.tokens == vocab.tokens and again.counts == vocab.counts
    assert again.encode(["c", "q"]) == vocab.encode(["c", "q"])


def test_decode_inverts_encode_for_known_tokens():
    vocab = Vocabulary.build(LINES, min_count=1)
    tokens = ["a", "b", NEWLINE, "x"]
    assert vocab.decode(vocab.encode(tokens)) == tokens


def test_unknown_lists_each_unknown_token_once_in_order():
    vocab = Vocabulary.build(LINES, min_count=2)
    assert vocab.unknown(["q", "b", "a", "q", UNK, "z"]) == ["q", "a", "z"]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"tokens": ["a"], "counts": [1]},
        {"tokens": [UNK, "a"], "counts": [1]},
        {"tokens": [UNK, 3], "counts": [1, 1]},
        {"tokens": [UNK, "a", "a"], "counts": [1, 1, 1]},
        {"tokens": [UNK], "counts": ["many"]},
        {"tokens": None, "counts": None},
    ],
)
def test_malformed_stored_vocabulary_is_one_checkpoint_error(data):
    with pytest.raises(CheckpointError) as info:
        Vocabulary.from_dict(data)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("min_count,cap", [(1, 0), (2, 0), (1, 4), (3, 2)])
def test_streaming_build_and_encode_matches_build_then_encode(min_count, cap):
    vocab = Vocabulary.build(LINES, min_count, cap)
    streamed, ids = build_and_encode(iter(LINES), min_count, cap)
    assert streamed.tokens == vocab.tokens and streamed.counts == vocab.counts
    assert ids.tolist() == [i for line in LINES for i in vocab.encode(line)]
    assert encode_lines(vocab, iter(LINES)).tolist() == ids.tolist()


def test_streaming_encode_of_nothing():
    vocab, ids = build_and_encode(iter([]), 2, 0)
    assert vocab.tokens == [UNK] and len(ids) == 0
    assert len(encode_lines(vocab, [])) == 0


# -- jieba's dictionary, cached in chunks ---------------------------------------------------
@pytest.fixture(scope="module")
def jieba_reference():
    """A jieba tokenizer initialised by jieba itself."""
    import jieba

    reference = jieba.Tokenizer()
    reference.initialize()
    return reference


def test_chunked_dictionary_cache_gives_jiebas_own_dictionary(tmp_path, jieba_reference):
    import jieba

    from lyrics_tui.core.tokens import _load_dictionary_cache, _save_dictionary_cache

    path = tmp_path / "sub" / "jieba.cache"
    _save_dictionary_cache(jieba_reference, b"key 1", path)
    fresh = jieba.Tokenizer()
    assert _load_dictionary_cache(fresh, b"key 1", path)
    assert fresh.initialized and fresh.total == jieba_reference.total
    assert fresh.FREQ == jieba_reference.FREQ
    line = "我想念你的微笑在雨夜里"
    assert fresh.lcut(line) == jieba_reference.lcut(line)


def test_a_stale_damaged_or_missing_cache_is_not_used(tmp_path, jieba_reference):
    import jieba

    from lyrics_tui.core.tokens import _load_dictionary_cache, _save_dictionary_cache

    path = tmp_path / "jieba.cache"
    assert not _load_dictionary_cache(jieba.Tokenizer(), b"key", path)  # missing
    _save_dictionary_cache(jieba_reference, b"key", path)
    assert not _load_dictionary_cache(jieba.Tokenizer(), b"another jieba", path)  # stale
    good = path.read_bytes()
    flipped = bytearray(good)
    flipped[-100] ^= 0xFF
    for bad in (bytes(flipped), good[: len(good) // 2], b"random bytes" * 100, b""):
        path.write_bytes(bad)
        fresh = jieba.Tokenizer()
        assert not _load_dictionary_cache(fresh, b"key", path)
        assert not fresh.initialized


def test_warm_up_writes_the_cache_and_tokenises(tmp_path):
    """In a fresh interpreter: the first warm-up builds the cache, the second reads it."""
    import subprocess
    import sys

    code = (
        "from lyrics_tui.core.tokens import Tokenizer, dictionary_cache_path, warm_up\n"
        "warm_up('word')\n"
        "print(dictionary_cache_path().is_file(), Tokenizer('word').split_line('我想念你'))"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert outputs[0] == outputs[1] == "True ['我', '想念', '你']"
    assert (tmp_path / "lyrics-tui" / "jieba-dictionary.cache").is_file()
