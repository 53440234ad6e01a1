"""Shared helpers for the benchmark scripts (not part of the product)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
JAYCHOU = SHARED / "data" / "jaychou_lyrics.txt"
SEED_REFERENCE = SHARED / "bench" / "seed_reference.py"
LYRICS_TUI = [sys.executable, "-m", "lyrics_tui.tui.cli"]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def run_json_lines(args: list[str], timeout: float = 1800) -> list[dict]:
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({out.returncode}): {out.stderr[-500:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def median(values: list[float]) -> float:
    return statistics.median(values)
