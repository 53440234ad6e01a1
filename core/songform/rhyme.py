"""Rhyme groups: which line ends rhyme, from the pinyin final of the last Han character.

Mandarin song lyrics rhyme by the thirteen 辙 (十三辙, the rhyme classes of northern sung verse
and of pop lyric writing): two syllables rhyme when their finals, leaving the medial i/u/ü
aside, end the same way. The table below is ours, written from the 十三辙 韵辙表 as printed in
rhyming guides (e.g. "十三辙《韵辙表》", yfs8.com/news/628608.html, which lists each 辙 with
the finals of 汉语拼音方案 it holds). It is keyed by the finals pypinyin gives with
strict=True, which spell the full standard finals where the written syllable abbreviates them:
uen (春 chun), iou (久 jiu), uei (对 dui), van (远 yuan), ve (月 yue), vn (云 yun), ueng (翁 weng)
and iong (用 yong); printed tables list the short forms and miss these.

pypinyin is imported only when a table is built (its dictionary takes a few tenths of a
second), never on the fast path of a checkpoint that stores its vocabulary's groups.
"""

from __future__ import annotations

import gc
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass

NO_GROUP = -1  # a word with no Han character (punctuation, Latin, the line end) or an
# interjection with no vowel final (嗯 n, 呣 m)


@dataclass(frozen=True)
class RhymeGroup:
    name: str  # the 辙's name, two characters that rhyme in it
    label: str  # its main vowel, as a learner reads it
    finals: tuple[str, ...]  # pypinyin's finals (strict, and the short spellings)


RHYME_GROUPS: tuple[RhymeGroup, ...] = (
    RhymeGroup("发花", "a", ("a", "ia", "ua")),
    RhymeGroup("梭波", "o/e", ("o", "uo", "e", "io")),
    RhymeGroup("乜斜", "ie", ("ie", "ve", "ue", "ê")),
    RhymeGroup("姑苏", "u", ("u",)),
    # -i after zh ch sh r z c s, i, ü and er: one 辙 in the table
    RhymeGroup("一七", "i", ("i", "v", "er")),
    RhymeGroup("怀来", "ai", ("ai", "uai")),
    RhymeGroup("灰堆", "ei", ("ei", "uei", "ui")),
    RhymeGroup("遥条", "ao", ("ao", "iao")),
    RhymeGroup("油求", "ou", ("ou", "iou", "iu")),
    RhymeGroup("言前", "an", ("an", "ian", "uan", "van")),
    RhymeGroup("人辰", "en", ("en", "in", "uen", "un", "vn")),
    RhymeGroup("江阳", "ang", ("ang", "iang", "uang")),
    RhymeGroup("中东", "ong", ("eng", "ing", "ueng", "ong", "iong")),
)

GROUP_OF_FINAL: dict[str, int] = {
    final: index for index, group in enumerate(RHYME_GROUPS) for final in group.finals
}
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def han_characters(text: str) -> int:
    """How many Han characters `text` holds: a line's length as the song form counts it."""
    return len(HAN.findall(text))


def last_han(text: str) -> str:
    """The last Han character of `text` ("" when it has none)."""
    found = HAN.findall(text)
    return found[-1] if found else ""


def final_of(text: str) -> str:
    """The pinyin final (strict spelling) of the last Han character of `text`, read in the
    context of the whole text (音乐 is yuè, 快乐 is lè); "" when there is none."""
    han = "".join(HAN.findall(text))
    if not han:
        return ""
    from pypinyin import Style, lazy_pinyin

    finals = lazy_pinyin(han, style=Style.FINALS, strict=True, errors="ignore")
    return finals[-1] if finals else ""


def rhyme_group(text: str) -> int:
    """The index in RHYME_GROUPS of the rhyme `text` ends on; NO_GROUP when it has none."""
    return GROUP_OF_FINAL.get(final_of(text), NO_GROUP)


def carries_rhyme(text: str) -> bool:
    """False when the last Han character of `text` is read in the neutral tone (的, 了, 着, 吧,
    the 子 of 孩子): a line ending on one rhymes, if at all, on the syllable before, so the
    writer neither seeks nor damps it."""
    han = "".join(HAN.findall(text))
    if not han:
        return False
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(han, style=Style.TONE3, neutral_tone_with_five=True, errors="ignore")
    return bool(syllables) and not syllables[-1].endswith("5")


def vocabulary_groups(tokens: Sequence[str]) -> list[int]:
    """Each token's rhyme group as the writer uses it: NO_GROUP for tokens without a Han
    character or ending in the neutral tone. Computed once per vocabulary."""
    return [
        rhyme_group(token) if HAN.search(token) and carries_rhyme(token) else NO_GROUP
        for token in tokens
    ]


def release_pinyin() -> bool:
    """Forget pypinyin's dictionaries (some 50 MB resident) in a process that needs no more
    rhymes: the train command, once its checkpoint's table is built. A later use loads them
    again. Nothing is done while another thread runs (it might be loading them); True when
    they went."""
    if threading.active_count() > 1:
        return False
    for name in [n for n in sys.modules if n == "pypinyin" or n.startswith("pypinyin.")]:
        del sys.modules[name]
    gc.collect()  # the dictionaries' modules sit in reference cycles
    return True


def word_rhyme(word: str) -> str | None:
    """A word's rhyme group as the writer hears it, by its 辙's name (None: no Han character,
    or a neutral-tone ending)."""
    if not HAN.search(word) or not carries_rhyme(word):
        return None
    return group_name(rhyme_group(word)) or None


def group_name(index: int) -> str:
    """The 辙's name, or "" for NO_GROUP."""
    return RHYME_GROUPS[index].name if 0 <= index < len(RHYME_GROUPS) else ""
