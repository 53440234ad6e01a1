"""Device and CPU thread choice."""
from __future__ import annotations

import os

from lyrics_tui.core.errors import SettingsError

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


def training_threads(requested: int = 0) -> int:
    """The intra-op thread count a run starts with: the one asked for, else every core (up to
    4); ThreadChooser then keeps whichever count proves faster on the machine as it is now.

    The same holds inside the playground: its UI thread uses 1-3% of a core while training
    runs (bench/tui_bench.py), so two torch threads beside it train as fast as headless.
    """
    if requested:
        return requested
    return max(1, min(4, os.cpu_count() or 1))


class ThreadChooser:
    """Picks the torch thread count by timing real training batches.

    On a quiet 2-core machine two threads train 1.5x faster than one; beside another busy
    process the same two threads spin against it and can be ten times slower
    (bench/threads.py). So a headless run times a few batches with each candidate count,
    keeps the fastest, and measures again every `recheck` batches as the load changes.
    """

    def __init__(self, candidates: list[int], trial: int = 3, recheck: int = 300) -> None:
        self.candidates = sorted(set(candidates), reverse=True)
        self.trial = trial
        self.recheck = recheck
        self.rates: dict[int, list[float]] = {c: [] for c in self.candidates}
        self.current = self.candidates[0]
        self.batches = 0
        self.skip = 1  # the first batch after a change pays for thread start-up

    def record(self, tokens: int, seconds: float) -> int:
        """Account one batch; return the thread count for the next one."""
        self.batches += 1
        if len(self.candidates) < 2:
            return self.current
        if self.skip:
            self.skip -= 1
        elif len(self.rates[self.current]) < self.trial:
            self.rates[self.current].append(tokens / max(seconds, 1e-9))
        untried = [c for c in self.candidates if len(self.rates[c]) < self.trial]
        if untried:
            if untried[0] != self.current:
                self.current, self.skip = untried[0], 1
        else:
            best = max(self.candidates, key=lambda c: sorted(self.rates[c])[len(self.rates[c]) // 2])
            if best != self.current:
                self.current, self.skip = best, 1
            if self.batches % self.recheck == 0:
                self.rates = {c: [] for c in self.candidates}
        return self.current


_kept: bool | None = None  # keep_freed_memory()'s answer, once asked


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for reuse instead of handing it back to the kernel.

    By default glibc gives blocks above a size threshold back to the kernel when freed (and
    trims the top of the heap), so every training step's large temporaries (the tokens x
    vocabulary logits, their softmax and gradients: ~23 MB each for the tutorial preset) are
    page-faulted in afresh. Keeping them made the tutorial preset's step 1.2-1.6x faster on
    this project's 2-core machine (bench/train_step.py; median 70 -> 52 ms). Process-wide and
    idempotent; False where the C library is not glibc.
    """
    global _kept
    if _kept is not None:
        return _kept
    _kept = False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        # 32 MB is the largest mmap threshold glibc accepts on 64-bit; bigger blocks still map
        _kept = bool(libc.mallopt(m_mmap_threshold, 32 << 20)
                     and libc.mallopt(m_trim_threshold, 512 << 20))
    except (OSError, AttributeError):
        pass
    return _kept


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
