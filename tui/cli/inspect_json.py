"""What the inspect commands print with --json: one object per word, line, step or hidden
state (core.inspection's results, field by field)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lyrics_tui.tui.cli.common import cache_json

if TYPE_CHECKING:
    from lyrics_tui.core.inspection.score import LineScore, WordScore
    from lyrics_tui.core.inspection.step import DecodingStep
    from lyrics_tui.core.inspection.units import UnitStrip


def word_json(word: WordScore, model: str) -> dict[str, object]:
    return {
        "event": "word",
        "model": model,
        "position": word.position,
        "word": word.text,
        "known": word.known,
        "line_end": word.line_end,
        "prob": word.prob,
        "surprisal_bits": word.surprisal_bits,
        "rank": word.rank,
        "top_guess": word.top_guess,
        "top_prob": word.top_prob,
        "network_prob": word.network_prob,
        "cache_prob": word.cache_prob,
        "cache_share": word.cache_share,
    }


def line_json(score: LineScore, model: str) -> dict[str, object]:
    return {
        "event": "line",
        "model": model,
        "checkpoint": score.label,
        "text": score.text,
        "tokens": len(score.words),
        "unknown": list(score.unknown),
        "perplexity": score.perplexity,
        "known_perplexity": score.known_perplexity,
        "total_bits": score.total_bits,
        "mean_bits": score.mean_bits,
        "bits_per_char": score.bits_per_char,
        "network_perplexity": score.network_perplexity,
        "cache": cache_json(score.cache),
    }


def step_json(view: DecodingStep) -> dict[str, object]:
    return {
        "event": "step",
        "index": view.index,
        "context": view.context,
        "entropy_bits": view.entropy_bits,
        "effective_choices": view.effective_choices,
        "final_entropy_bits": view.final_entropy_bits,
        "survivors": view.survivors,
        "vocab_size": view.vocab_size,
        "shown_mass": view.shown_mass,
        "unk_prob": view.unk_prob,
        "hidden_norm": view.hidden.h.norm,
        "cache": cache_json(view.cache),
        "remembered": view.remembered,
        "candidates": [
            {
                "number": c.number,
                "word": c.text,
                "model_prob": c.model_prob,
                "final_prob": c.final_prob,
                "model_rank": c.model_rank,
                "survives": c.survives,
                "network_prob": c.network_prob,
                "cache_prob": c.cache_prob,
                "pointers": [list(p) for p in c.pointers],
                "rhyme": c.rhyme,
                "ends_line": c.ends_line,
            }
            for c in view.candidates
        ],
        "form": None if view.form is None else view.form.to_dict(),
    }


def strip_json(strip: UnitStrip | None) -> dict[str, object] | None:
    if strip is None:
        return None
    return {
        "norm": strip.norm,
        "mean_abs": strip.mean_abs,
        "max_abs": strip.max_abs,
        "saturated": strip.saturated,
        "scale": strip.scale,
        "levels": list(strip.levels),
        "values": list(strip.values),
    }
