"""The vocabulary: token <-> id, most frequent first, with <unk> for everything else.

It is built once from the training split and stored inside every checkpoint, so generation never
rebuilds it from a corpus (one of the tutorial's defects).
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from core.errors import CheckpointError

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
    def build(cls, token_lines: Iterable[Sequence[str]], min_count: int = 2,
              max_size: int = 0) -> "Vocabulary":
        """Tokens seen at least `min_count` times, most frequent first (ties: first seen).

        Tokens seen fewer times become <unk> in the training data, so the model learns to
        predict <unk> and the validation perplexity counts unknown words honestly.
        """
        counter: Counter[str] = Counter()
        for line in token_lines:
            counter.update(line)
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
    def from_dict(cls, data: dict) -> "Vocabulary":
        try:
            tokens, counts = data["tokens"], data["counts"]
            if not all(isinstance(t, str) for t in tokens):
                raise ValueError("tokens are not strings")
            if len(counts) != len(tokens):
                raise ValueError("counts and tokens differ in length")
            return cls(tokens, [int(c) for c in counts])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"the stored vocabulary is malformed ({exc})") from None
