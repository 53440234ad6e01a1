"""Every setting a user can give, once: what it means, its range, and the check of that range.

The settings' defaults are the fields of ModelConfig, TrainConfig (core/config.py, with the
presets over them) and SamplerSettings (core/sampling.py). Validation (`Setting.check`) and the
command line's `--help` are both made from these tables, so the two cannot disagree; the
playground's form names the same settings by its labels (an error's `{setting}`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lyrics_tui.core.errors import SettingsError

CELLS = ("rnn", "gru", "lstm")
TOKENIZERS = ("word", "char")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("none", "cosine")
WINDOWINGS = ("streams", "tutorial")
PRECISIONS = ("auto", "fp32", "bf16")
INITS = ("uniform", "torch")
# Generation: a line comes back as a chorus does, not as a loop (core/sampling.py, SongLines).
LINE_WINDOW = 30  # lines looked back (bench/song_memory.py counts repeats over the same)
# In the tutorial's corpus 96% of the lines that come back had been sung at most 3 times in
# the 30 lines before (docs/memory.md); more is a loop, not a chorus.
MAX_RETURNS = 3
MAX_SEED = 2**32 - 1  # a generation's seed (numpy's generators take 32 bits)
MAX_TOKENS = 10_000  # longer requests are capped, and the cap is reported
SONG_LINES = 8  # a song as the playground and the demo write it: two verses of four lines
PACE_MS_MAX = 5000  # the playground's pause between two words, at most
DEFAULT_RHYME = 1.0  # the song form's rhyme strength (core/songform/writer.py)
MAX_RHYME = 5.0
DEFAULT_REDRAFT = 0.25  # the share of drafted lines written again (core/songform/drafts.py)
MAX_NEAREST = 100  # song memory's nearest distance D, at most


def _number(value: float) -> str:
    if isinstance(value, int):
        bits = (value + 1).bit_length() - 1
        return f"2**{bits}-1" if value > 10**12 and value == 2**bits - 1 else str(value)
    return f"{value:g}"


@dataclass(frozen=True)
class Setting:
    """One setting: its meaning, and its range (numbers between `low` and `high`, either end
    left out when `*_open`; or one of `choices`). `words` names values that mean something of
    their own, such as 0 = off."""

    name: str  # the field's name in the config dataclass
    meaning: str
    kind: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    words: Mapping[float, str] = field(default_factory=dict)
    capped: bool = False  # a value past the range's use is capped (so inf means "most")

    def _end(self, value: float) -> str:
        word = self.words.get(value)
        return f"{_number(value)} ({word})" if word else _number(value)

    @property
    def range_text(self) -> str:
        """The range as a person reads it: "between 1 and 4096", "one of rnn, gru, lstm"."""
        if self.kind is bool:
            return "on or off"
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        low, high = self.low, self.high
        if low is not None and high is not None:
            if not self.low_open and not self.high_open:
                text = f"between {self._end(low)} and {self._end(high)}"
            else:
                above = f"above {self._end(low)}" if self.low_open else f"at least {self._end(low)}"
                below = (
                    f"below {self._end(high)}" if self.high_open else f"at most {self._end(high)}"
                )
                text = f"{above} and {below}"
        elif low is not None:
            text = f"above {self._end(low)}" if self.low_open else f"{self._end(low)} or more"
        elif high is not None:
            text = f"below {self._end(high)}" if self.high_open else f"at most {self._end(high)}"
        else:
            text = "any number"
        rest = [f"{_number(v)} = {w}" for v, w in self.words.items() if v not in (low, high)]
        return text + (f" ({'; '.join(rest)})" if rest else "")

    def allows(self, value: Any) -> bool:
        if value is None or self.kind is bool:
            return True
        if self.choices:
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind is int and not float(value).is_integer():
            return False
        low, high = self.low, self.high
        if low is not None and not (value > low if self.low_open else value >= low):
            return False  # NaN fails here too
        if high is not None and not (value < high if self.high_open else value <= high):
            return False
        return value == value and (self.capped or math.isfinite(value))  # NaN; a budget of inf

    def check(self, value: Any) -> None:
        """Raise SettingsError naming this setting and its range when `value` is outside it."""
        if not self.allows(value):
            infinite = isinstance(value, float) and math.isinf(value)
            finite = "a finite number, " if infinite else ""
            raise SettingsError(f"{{{self.name}}} must be {finite}{self.range_text}")


def _table(*settings: Setting) -> dict[str, Setting]:
    return {s.name: s for s in settings}


OFF: Mapping[float, str] = {0: "off"}

MODEL = _table(
    Setting("cell", "the recurrent cell", str, choices=CELLS),
    Setting("embed", "the size of each word's vector (nn.Embedding)", int, 1, 4096),
    Setting("hidden", "the size of the hidden state", int, 1, 4096),
    Setting("layers", "recurrent layers stacked", int, 1, 8),
    Setting("dropout", "the share of units dropped while training", float, 0, 1, high_open=True),
    Setting(
        "embed_dropout",
        "the share of whole words dropped from the input while training",
        float,
        0,
        1,
        high_open=True,
    ),
    Setting(
        "init",
        "how the weights start: uniform (embeddings in ±0.1) or torch (PyTorch's defaults)",
        str,
        choices=INITS,
    ),
    Setting(
        "tie_weights", "the output layer shares the embedding's weights (embed = hidden)", bool
    ),
    Setting(
        "characters",
        "in training, each word's vector adds its characters' (rare words borrow from common)",
        bool,
    ),
)

TRAIN = _table(
    Setting("tokenizer", "how lines are split: jieba words or characters", str, choices=TOKENIZERS),
    Setting("min_count", "words seen fewer times in training become <unk>", int, 1),
    Setting("max_vocab", "keep at most this many words", int, 0, words={0: "no cap"}),
    # high: a number the run store and the status line hold (far beyond any run)
    Setting(
        "epochs", "passes over the training text, counted over the model's life", int, 1, 10**9
    ),
    Setting(
        "time_budget",
        "seconds for the whole run, counted over the model's life, then it stops",
        float,
        0,
        words={0: "none"},
    ),
    Setting("batch_size", "streams of text read side by side in each step", int, 1, 4096),
    Setting("bptt", "steps of back-propagation through time", int, 2, 4096),
    Setting("lr", "the learning rate", float, 0, 10, low_open=True),
    Setting("optimizer", "the optimiser", str, choices=OPTIMIZERS),
    Setting("weight_decay", "how strongly the weights are pulled towards 0", float, 0),
    Setting("clip", "the largest gradient norm", float, 0, words=OFF),
    Setting("schedule", "the learning rate over the run", str, choices=SCHEDULES),
    Setting("seed", "the seed of the weights and batches: same seed, same run", int, 0, 2**63 - 1),
    Setting(
        "val_fraction",
        "the last share of lines held out for validation",
        float,
        0,
        1,
        high_open=True,
    ),
    Setting("windowing", "how batches are cut", str, choices=WINDOWINGS),
    Setting("threads", "torch's CPU threads", int, 0, 256, words={0: "auto"}),
    Setting(
        "average",
        "the decay of the weights' moving average, which is what is saved",
        float,
        0,
        1,
        high_open=True,
        words=OFF,
    ),
    Setting(
        "unk_noise",
        "A: a word seen c times is read as <unk> with probability A/(A+c), each epoch",
        float,
        0,
        100,
        words=OFF,
    ),
    Setting(
        "precision",
        "the training matmuls' precision (auto: bf16 where the CPU has bf16 units)",
        str,
        choices=PRECISIONS,
    ),
)

SAMPLER = _table(
    Setting(
        "temperature",
        "below 1 safer, above 1 wilder; above 100 is capped",
        float,
        0,
        words={0: "greedy: always the likeliest word"},
        capped=True,
    ),
    Setting("top_k", "sample among the k likeliest words only", int, 0, words=OFF),
    Setting(
        "top_p",
        "sample among the likeliest words that hold this share of the probability",
        float,
        0,
        1,
        words={1: "off"},
    ),
    Setting(
        "repetition_penalty",
        "divides the network's scores of the words written in the last 64",
        float,
        1,
        10,
        words={1: "off"},
    ),
    Setting("seed", "same seed, same text", int, 0, MAX_SEED),
    Setting("max_tokens", f"tokens written at most (above {MAX_TOKENS:,} is capped)", int, 0),
    Setting("max_lines", "stop after this many lines", int, 0, words={0: "no limit"}),
    Setting(
        "returns",
        f"a line already sung this often in the last {LINE_WINDOW} lines is not finished the "
        "same way again: a chorus comes back, a loop does not",
        int,
        0,
        LINE_WINDOW,
        words={0: "no limit"},
    ),
    Setting(
        "form",
        "song form: lines of the corpus's lengths, line ends that rhyme, lines that come back "
        "whole as a chorus does and new lines that are new (off: the sampler alone)",
        bool,
    ),
    Setting(
        "rhyme",
        "how strongly line ends rhyme with the verse's rhyme (十三辙 groups; with the form on)",
        float,
        0,
        MAX_RHYME,
        words=OFF,
    ),
    Setting(
        "redraft",
        "this share of a song's new lines, those the network finds least likely, is drafted "
        "again and the likelier draft kept (with the form on, sampling)",
        float,
        0,
        1,
        words=OFF,
    ),
    Setting(
        "nearest",
        "song memory's nearest distance D: positions fewer than D words back are not recalled "
        "(1 = the word just read; fitted with N, θ and λ)",
        int,
        1,
        MAX_NEAREST,
    ),
)


def check_all(table: dict[str, Setting], values: Any) -> None:
    """Check every setting of `table` that `values` (a config dataclass) has, in table order."""
    for name, setting in table.items():
        if hasattr(values, name):
            setting.check(getattr(values, name))
