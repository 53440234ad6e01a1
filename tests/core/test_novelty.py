"""The recent lines' tables (core/songform/novelty.py): a copy of a writer (the step-through
keeps one per step) and the writer it came from never see each other's lines, whether the
tables were changed in place (no copy yet) or copied on write."""

from __future__ import annotations

from lyrics_tui.core.songform.novelty import Novelty, SungLine, runs_of
from lyrics_tui.core.songform.rhyme import NO_GROUP


def sung(number: int, words: list[str]) -> SungLine:
    ids = [ord(w[0]) for w in words]  # any ids: one per word
    text = "".join(words)
    return SungLine(
        number, tuple(ids), text, text[-1], len(text), NO_GROUP, None, runs_of(words, ids)
    )


def seen(novelty: Novelty, words: list[str]) -> tuple[list[int], list[int], bool]:
    ids = [ord(w[0]) for w in words]
    return (
        sorted(novelty.copied("".join(words[:-1]))),
        novelty.completing(ids[:-1]),
        novelty.repeats(ids),
    )


def test_a_copy_and_its_original_keep_their_own_lines():
    first, second, third = (
        ["我们", "一起", "看", "海"],
        ["你说", "再见", "吧"],
        ["天空", "很", "蓝"],
    )
    alone = Novelty()
    alone.add(sung(0, first))
    before = seen(alone, first)
    assert before == ([ord("海")], [ord("海")], True)  # the line's own last word, and itself

    twin = alone.copy()
    twin.add(sung(1, second))
    alone.add(sung(1, third))
    assert seen(twin, second)[2] and not seen(alone, second)[2]
    assert seen(alone, third)[2] and not seen(twin, third)[2]
    assert seen(alone, first) == seen(twin, first) == before

    # lines pushed out of the window leave the one that had them, not the other
    for number in range(2, 2 + alone.window):
        alone.add(sung(number, ["星", "星" * (number % 7 + 1), "亮"]))
    assert not seen(alone, first)[2] and seen(twin, first) == before


def test_a_line_nearly_repeating_a_recent_one_is_found_however_it_was_read():
    novelty = Novelty()
    novelty.add(sung(0, ["断中", "的", "思念"]))
    novelty.start_line()
    for word in ["在", "断中", "的", "思"]:
        novelty.read(word)
    assert novelty.similar("在断中的思") is not None
    novelty.start_line()
    for word in ["天空", "很", "蓝"]:
        novelty.read(word)
    assert novelty.similar("天空很蓝") is None
