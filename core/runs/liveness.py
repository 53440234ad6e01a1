"""The writer's identity, to tell a live run from a dead one: each row holds its writer's host,
pid and process start time (Linux: /proc/PID/stat), so a reused pid is not taken for the
writer."""

from __future__ import annotations

import os
import socket
import sys

HOST = socket.gethostname()


def process_start(pid: int) -> str | None:
    """When process `pid` started (Linux: clock ticks since boot), or None where unknown."""
    fields_ = _proc_stat(pid)
    return fields_[19] if fields_ and len(fields_) > 19 else None


def _proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces


def writer_alive(pid: int, pid_start: str | None) -> bool:
    """Whether the process that wrote a row (on this host) still runs."""
    if os.path.isdir("/proc/self"):
        stat = _proc_stat(pid)
        if stat is None:
            return False
        if stat[0] in ("Z", "X"):  # exited, not yet reaped
            return False
        return pid_start is None or len(stat) <= 19 or stat[19] == pid_start
    if sys.platform == "win32":  # os.kill would terminate it; trust the heartbeat instead
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


# A run on another host (a copied file) counts as dead after this long without a heartbeat.
FOREIGN_STALE_S = 24 * 3600.0


def writer_gone(pid: int, host: str, pid_start: str | None, heartbeat: float, now: float) -> bool:
    """Whether a running row's writer has ended: on this host by its process, on another by a
    heartbeat older than FOREIGN_STALE_S."""
    if host == HOST:
        return not writer_alive(pid, pid_start)
    return now - heartbeat > FOREIGN_STALE_S
