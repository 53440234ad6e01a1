"""The optimiser, the learning-rate schedule and the averaged weights of a run."""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from lyrics_tui.core.config import TrainConfig

MIN_LR_FRACTION = 0.05  # the cosine schedule ends at this fraction of the base rate


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW, fused into one kernel per step: the same update as the default
    implementation (to float rounding) at about a third of its time (docs/performance.md)."""
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    params = list(model.parameters())
    try:
        return kind(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except RuntimeError:  # a device without fused kernels
        return kind(params, lr=config.lr, weight_decay=config.weight_decay)


def learning_rate(config: TrainConfig, progress: float) -> float:
    """The rate at `progress` (0 to 1) through the run: constant, or a cosine from the base
    rate down to MIN_LR_FRACTION of it."""
    if config.schedule == "none":
        return config.lr
    progress = min(1.0, max(0.0, progress))
    low = config.lr * MIN_LR_FRACTION
    return low + (config.lr - low) * 0.5 * (1 + math.cos(math.pi * progress))


class WeightAverage:
    """An exponential moving average of the trained weights: the model that is evaluated,
    saved and sampled from. On a corpus this small it lowers held-out perplexity at no cost per
    step worth measuring (bench/quality.py)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = model
        self.decay = decay
        self.params: list[torch.Tensor] = list(model.parameters())
        self.average = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        # Early on the average would be dominated by the random start: warm the decay up.
        decay = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self.average, self.params, 1.0 - decay)

    @contextlib.contextmanager
    def swapped_in(self, lock: threading.Lock) -> Iterator[None]:
        """The averaged weights in the model (for evaluation and saving), then the trained
        ones back."""
        with lock, torch.no_grad():
            trained = [p.detach().clone() for p in self.params]
            for p, a in zip(self.params, self.average, strict=True):
                p.copy_(a)
        try:
            yield
        finally:
            with lock, torch.no_grad():
                for p, t in zip(self.params, trained, strict=True):
                    p.copy_(t)

    def state(self) -> dict[str, torch.Tensor]:
        """The model's state dict with the averaged weights, as CPU copies."""
        # the module's own state dict, unfolded (core/model.py folds the averaged one)
        own = nn.Module.state_dict(self.model)
        state = {k: v.detach().clone().cpu() for k, v in own.items()}
        names = {id(p): n for n, p in self.model.named_parameters()}
        for p, a in zip(self.params, self.average, strict=True):
            state[names[id(p)]] = a.detach().clone().cpu()
        folded = getattr(self.model, "folded", None)
        if folded is not None:
            return dict(folded(state))
        if getattr(getattr(self.model, "config", None), "tie_weights", False):
            state["decoder.weight"] = state["embedding.weight"]
        return state


def cpu_copy(state: Any) -> Any:
    """A detached CPU copy of the tensors in a (nested) state dict, the rest as it is."""
    if isinstance(state, torch.Tensor):
        return state.detach().clone().cpu()
    if isinstance(state, dict):
        return {k: cpu_copy(v) for k, v in state.items()}
    if isinstance(state, list):
        return [cpu_copy(v) for v in state]
    return state
