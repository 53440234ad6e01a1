"""Which device trains, with how many CPU threads, in which precision (why: docs/performance.md)."""

from __future__ import annotations

import os

from lyrics_tui.core.errors import SettingsError

DEVICES = ("auto", "cpu", "cuda")
BACKENDS = ("auto", "gloo", "nccl")  # how ranks of a distributed run talk (core/distributed.py)


def resolve_device(name: str = "auto") -> str:
    import torch

    if name not in DEVICES:
        raise SettingsError(f"{{device}} must be one of {', '.join(DEVICES)}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SettingsError(
            "{device} cuda: no CUDA device is available (this torch build "
            "or this machine has none); use {device} cpu"
        )
    return name


def training_threads(requested: int = 0, processes: int = 1) -> int:
    """The intra-op thread count a run starts with: the one asked for, else every core (up to
    4), shared out among `processes` training side by side on this machine; ThreadChooser then
    keeps whichever count proves faster on the machine as it is now."""
    if requested:
        return requested
    return max(1, min(4, (os.cpu_count() or 1) // processes))


class ThreadChooser:
    """Picks the torch thread count by timing real training batches: each candidate count for a
    few batches, then the fastest, measured again every `recheck` batches as the load changes
    (two threads beside another busy process can run ten times slower than one), and at once
    when two batches in a row run at less than half the speed the count was chosen at (the
    machine got busy). A count whose batch runs at less than half the best measured speed is
    not timed again this round; `start` is the count to try first (one already timed faster)."""

    def __init__(
        self, candidates: list[int], trial: int = 3, recheck: int = 300, start: int | None = None
    ) -> None:
        self.candidates = sorted(set(candidates), reverse=True)
        self.trial = trial
        self.recheck = recheck
        self.rates: dict[int, list[float]] = {c: [] for c in self.candidates}
        self.current = start if start in self.candidates else self.candidates[0]
        self.batches = 0
        self.skip = 1  # the first batch after a change pays for thread start-up
        self.slow = 0  # batches in a row at less than half the chosen count's speed

    def record(self, tokens: int, seconds: float) -> int:
        """Account one batch; return the thread count for the next one."""
        self.batches += 1
        if len(self.candidates) < 2:
            return self.current
        rate = tokens / max(seconds, 1e-9)
        warming = self.skip > 0
        if warming:
            self.skip -= 1
        elif len(self.rates[self.current]) < self.trial:
            rates = self.rates[self.current]
            rates.append(rate)
            if rate < self._best_rate() / 2:  # far slower: no need to make sure
                rates.extend([rate] * (self.trial - len(rates)))
        untried = [c for c in self.candidates if len(self.rates[c]) < self.trial]
        if untried:
            if self.current not in untried:
                self.current, self.skip = untried[0], 1
            return self.current
        best = max(self.candidates, key=self._median)
        if best != self.current:
            self.current, self.skip = best, 1
        elif not warming:
            self.slow = self.slow + 1 if rate < self._median(self.current) / 2 else 0
        if self.batches % self.recheck == 0 or self.slow >= 2:
            self.rates = {c: [] for c in self.candidates}
            self.slow = 0
        return self.current

    def _median(self, count: int) -> float:
        rates = sorted(self.rates[count])
        return rates[len(rates) // 2] if rates else 0.0

    def _best_rate(self) -> float:
        done = [self._median(c) for c in self.candidates if len(self.rates[c]) >= self.trial]
        return max(done, default=0.0)


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
    """'fp32' or 'bf16' for the training forward and backward passes: bf16 autocast where the
    CPU multiplies bf16 natively. Evaluation, sampling and every number shown stay fp32."""
    if name != "auto":
        return name
    if device == "cpu":
        return "bf16" if cpu_has_bf16() else "fp32"
    return "fp32"
