"""Where checkpoints go by default: checkpoints/ in the project folder."""
from __future__ import annotations

import os
import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def checkpoint_dir() -> Path:
    """checkpoints/ beside core/ (a source checkout), else ./checkpoints."""
    folder = PROJECT_ROOT / "checkpoints"
    if folder.is_dir() and os.access(folder, os.W_OK):
        return folder
    return Path.cwd() / "checkpoints"


def default_checkpoint_path(corpus_path: str) -> Path:
    stem = re.sub(r"[^\w.-]+", "_", Path(corpus_path).stem) or "model"
    return checkpoint_dir() / f"{stem}.pt"


def list_checkpoints(folder: Path | None = None) -> list[Path]:
    """Checkpoint files, newest first."""
    folder = folder or checkpoint_dir()
    try:
        files = [p for p in folder.glob("*.pt") if p.is_file()]
    except OSError:
        return []
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


def newest_checkpoint(folder: Path | None = None) -> Path | None:
    files = list_checkpoints(folder)
    return files[0] if files else None
