"""The vocabulary: token <-> id, most frequent first, with <unk> for everything else.

It is built once from the training split and stored inside every checkpoint, so generation never
rebuilds it from a corpus (one of the tutorial's defects).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from lyrics_tui.core.errors import CheckpointError

if TYPE_CHECKING:
    import numpy as np

UNK = "<unk>"


class Vocabulary:
    """Ids are positions in `tokens`; id 0 is always UNK."""

    def __init__(self, tokens: Sequence[str], counts: Sequence[int] | None = None) -> None:
        if not tokens or tokens[0] != UNK:
            raise ValueError("a vocabulary starts with <unk>")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a vocabulary holds each token once")
        self.tokens: list[str] = list(tokens)
        self.counts: list[int] = list(counts) if counts is not None else [0] * len(tokens)
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}
        self.unk_id = 0

    @classmethod
    def build(
        cls, token_lines: Iterable[Sequence[str]], min_count: int = 2, max_size: int = 0
    ) -> Vocabulary:
        """Tokens seen at least `min_count` times, most frequent first (ties: first seen).

        Tokens seen fewer times become <unk> in the training data, so the model learns to
        predict <unk> and the validation perplexity counts unknown words honestly.
        """
        counter: Counter[str] = Counter()
        for line in token_lines:
            counter.update(line)
        return cls.from_counts(counter.items(), min_count, max_size)

    @classmethod
    def from_counts(
        cls, counts: Iterable[tuple[str, int]], min_count: int = 2, max_size: int = 0
    ) -> Vocabulary:
        """As build(), from (token, count) pairs in first-seen order."""
        counter: Counter[str] = Counter(dict(counts))
        unk_count = counter.pop(UNK, 0)
        # Counter.most_common keeps first-seen order among equal counts.
        kept = [(t, c) for t, c in counter.most_common() if c >= min_count]
        if max_size:
            kept = kept[: max(0, max_size - 1)]
        dropped = sum(counter.values()) - sum(c for _, c in kept)
        return cls([UNK] + [t for t, _ in kept], [unk_count + dropped] + [c for _, c in kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def id(self, token: str) -> int:
        return self.index.get(token, self.unk_id)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        get = self.index.get
        return [get(t, 0) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The tokens that would become <unk>, each once, in order."""
        seen: dict[str, None] = {}
        for t in tokens:
            if t not in self.index and t != UNK:
                seen.setdefault(t)
        return list(seen)

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens), "counts": list(self.counts)}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        try:
            tokens, counts = data["tokens"], data["counts"]
            if not all(isinstance(t, str) for t in tokens):
                raise ValueError("tokens are not strings")
            if len(counts) != len(tokens):
                raise ValueError("counts and tokens differ in length")
            return cls(tokens, [int(c) for c in counts])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"the stored vocabulary is malformed ({exc})") from None


def build_and_encode(
    token_lines: Iterable[Sequence[str]], min_count: int = 2, max_size: int = 0
) -> tuple[Vocabulary, np.ndarray]:
    """Build the vocabulary and encode the corpus in one streaming pass.

    Each distinct token gets a provisional id as it is first seen and the corpus is kept as
    4-byte provisional ids (never as lists of token strings), then remapped to the vocabulary's
    ids: memory grows by a few bytes per token, which keeps a 50 MB corpus in bounds.
    """
    import numpy as np

    provisional: dict[str, int] = {}
    flat = array("i")
    for line in token_lines:
        flat.extend([provisional.setdefault(t, len(provisional)) for t in line])
    ids = np.frombuffer(flat, dtype=np.intc) if len(flat) else np.zeros(0, dtype=np.intc)
    counts = np.bincount(ids, minlength=len(provisional))
    vocab = Vocabulary.from_counts(
        zip(provisional, counts.tolist(), strict=True), min_count, max_size
    )
    get = vocab.index.get
    remap = np.fromiter((get(t, 0) for t in provisional), dtype=np.int64, count=len(provisional))
    return vocab, remap[ids]


def encode_lines(vocab: Vocabulary, token_lines: Iterable[Sequence[str]]) -> np.ndarray:
    """The ids of every token of every line, as one int64 array (streamed, no big lists)."""
    import numpy as np

    flat = array("q")
    for line in token_lines:
        flat.extend(vocab.encode(line))
    return np.frombuffer(flat, dtype=np.int64).copy() if len(flat) else np.zeros(0, np.int64)
