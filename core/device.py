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


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), read from Linux's
    /proc/cpuinfo; elsewhere False. Without such units bf16 is slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_precision(name: str, device: str) -> str:
    """'fp32' or 'bf16' for the training forward and backward passes.

    Measured on this project's 2-core AMD EPYC (avx512_bf16): a training step of the tutorial
    preset runs 1.7-1.8x faster under bf16 autocast, and the default preset's held-out
    perplexity moves by less than run-to-run noise (bench/quality.py). Evaluation, sampling
    and every number shown stay fp32.
    """
    if name != "auto":
        return name
    if device == "cpu":
        return "bf16" if cpu_has_bf16() else "fp32"
    return "fp32"
