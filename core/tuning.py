"""Process-wide settings, in one place. Only entry points call these (tui/entry.py, the
playground, bench scripts); importing core or running a TrainingRun changes none of them.

Why each one, with the measurements: docs/performance.md.
"""

from __future__ import annotations

import gc
import os
import sys
import threading

# Generation multiplies a few hundred by a few thousand numbers per token: one BLAS thread is
# faster than two, and leaves the second core to training and the UI.
_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")

# how much less the trainer's threads weigh than the UI's with the scheduler: nice 10 gives a
# thread about a tenth of the share of one at 0 when both want a core
BACKGROUND_NICENESS = 10

_kept: bool | None = None  # keep_freed_memory()'s answer, once asked
_background_niceness = 0  # interface_first() sets it
_interface_first = False  # and this


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


def interface_first(niceness: int = BACKGROUND_NICENESS) -> None:
    """From now on `background_priority()` lowers the calling thread's priority by `niceness`
    and `settle_long_lived()` freezes: for a process with an interface in front (the playground
    in a terminal)."""
    global _background_niceness, _interface_first
    _background_niceness = niceness
    _interface_first = True


def background_priority() -> bool:
    """Lower the calling thread's scheduling priority (once `interface_first()` asked for it),
    and so that of the threads it starts: torch's OpenMP workers inherit it. The playground's
    trainer thread calls it: on two cores the trainer's threads and the UI's are three busy
    threads, and a frame waits its turn behind them. Linux only (elsewhere a priority is the
    whole process's); False when not lowered."""
    niceness = _background_niceness
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
    except (OSError, AttributeError):
        return False
    return True


def settle_long_lived() -> bool:
    """Take the objects alive now out of the collector's full passes (gc.freeze), once
    `interface_first()` asked: with torch and a model loaded, a full pass over the playground's
    ~500,000 objects holds the interpreter for 0.2 s, and the frame or first token waiting
    behind it is late (docs/tui.md). The playground calls it after each slow load (a run set
    up, a model read, the dictionaries warmed); what is settled is still freed by reference
    counting, only never as part of a cycle. False when not asked."""
    if not _interface_first:
        return False
    gc.freeze()
    return True


def for_training() -> None:
    """What a process that trains wants: memory kept for reuse."""
    keep_freed_memory()


def for_generation() -> None:
    """What a process that generates with numpy wants: one BLAS thread."""
    single_blas_thread()
