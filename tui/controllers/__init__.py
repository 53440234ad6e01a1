"""The playground's controllers: training and generation in plain Python, with explicit state.

They know nothing of Textual. Work that takes time runs in plain threads, which report what
happened through a `post` callable: the App wraps Textual's thread-safe post_message, a test
passes `list.append`. A controller's state changes only in the thread that owns it (the UI
thread): the App hands each report back to the controller's `receive`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

ReportT = TypeVar("ReportT")
# called from worker threads with a report dataclass; Post[X]: a controller that posts only X
Post = Callable[[ReportT], object]


@dataclass(frozen=True)
class Problem:
    """Something the user should read: one line, never a traceback."""

    text: str
    severity: Literal["error", "warning"] = "error"


def start_thread(name: str, target: Callable[..., None], *args: object) -> threading.Thread:
    """A daemon thread, started: a worker still busy at exit must not hold the process up."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread
