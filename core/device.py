"""Device and CPU thread choice."""
from __future__ import annotations

import os

from core.errors import SettingsError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> str:
    import torch

    if name not in DEVICES:
        raise SettingsError(f"device must be one of {', '.join(DEVICES)}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SettingsError("--device cuda: no CUDA device is available (this torch build "
                            "or this machine has none); use --device cpu")
    return name


def training_threads(requested: int = 0, *, beside_ui: bool = False) -> int:
    """Intra-op threads for training.

    Measured on a 2-core machine (bench/threads.py): for this project's model sizes one thread
    is as fast as two headless, and beside a busy UI thread two OpenMP threads fight the UI for
    the cores and slow training several-fold, so one thread is chosen unless asked otherwise.
    """
    if requested:
        return requested
    cores = os.cpu_count() or 1
    if beside_ui:
        return max(1, min(4, cores - 1))
    return max(1, min(4, cores // 2)) if cores > 2 else 1
