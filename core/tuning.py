"""Process-wide settings, in one place. Only entry points call these (tui/entry.py, the
playground, bench scripts); importing core or running a TrainingRun changes none of them.

Why each one, with the measurements: docs/performance.md.
"""

from __future__ import annotations

import os
import sys

# Generation multiplies a few hundred by a few thousand numbers per token: one BLAS thread is
# faster than two, and leaves the second core to training and the UI.
_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")

_kept: bool | None = None  # keep_freed_memory()'s answer, once asked


def single_blas_thread() -> None:
    """One BLAS thread for numpy; effective only before numpy is first imported. torch keeps
    its own thread count (set per run)."""
    for name in _BLAS_THREAD_VARIABLES[:2]:
        os.environ.setdefault(name, "1")


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for reuse instead of handing it back to the kernel, so a
    training step's large temporaries are not page-faulted in afresh every step. Idempotent;
    False where the C library is not glibc."""
    global _kept
    if _kept is not None:
        return _kept
    _kept = False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        # 32 MB is the largest mmap threshold glibc accepts on 64-bit; bigger blocks still map
        _kept = bool(
            libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 512 << 20)
        )
    except (OSError, AttributeError):
        pass
    return _kept


def fast_thread_switches() -> None:
    """A short GIL switch interval: while another thread computes (jieba loading, a trainer
    winding down), each of the UI thread's many small turns waits out that thread's slice."""
    sys.setswitchinterval(0.0005)


def for_training() -> None:
    """What a process that trains wants: memory kept for reuse."""
    keep_freed_memory()


def for_generation() -> None:
    """What a process that generates with numpy wants: one BLAS thread."""
    single_blas_thread()
