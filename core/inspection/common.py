"""What every inspection view shares: how a token reads, entropy and rank, the top layer's state
as song memory keeps it, the dataclasses' JSON form, and the step-through's choices as typed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.steppers import Stepper
from lyrics_tui.core.tokens import NEWLINE


def display_token(text: str) -> str:
    """How a token reads in a table: the line end as ↵, a space as ␣, a full-width space as ⎵,
    other invisible characters escaped, words as they are."""
    if text == NEWLINE:
        return "↵"
    if text == " ":
        return "␣"
    if text == "\u3000":
        return "⎵"  # the full-width (ideographic) space
    if text.isspace() or not text.isprintable():
        return repr(text)[1:-1]
    return text


def entropy_bits(probs: np.ndarray) -> float:
    """The entropy of a distribution, in bits."""
    p = probs[probs > 0]
    return float(-(p * np.log2(p)).sum())


def rank(probs: np.ndarray, token_id: int) -> int:
    """1 for the likeliest token; ties share the better rank."""
    return int(np.count_nonzero(probs > probs[token_id])) + 1


class Serialisable:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


def top_state(stepper: Stepper, state: Any) -> np.ndarray:
    """The top layer's h as its own float32 copy (what song memory keeps)."""
    return np.array(stepper.hidden_vectors(state)[0], dtype=np.float32).reshape(-1)


def parse_choices(spec: str) -> list[int | str]:
    """ "1,2,s,b" -> [1, 2, "s", "b"]: numbers pick candidates, s samples, b steps back."""
    out: list[int | str] = []
    for raw in spec.replace(" ", ",").split(","):
        item = raw.strip().lower()
        if not item:
            continue
        if item in ("s", "b"):
            out.append(item)
        elif item.isdigit() and int(item) >= 1:
            out.append(int(item))
        else:
            raise SettingsError(
                f"bad choice {raw.strip()!r}: use candidate numbers (1, 2, ...), "
                f"s to sample or b to step back, separated by commas"
            )
    return out
