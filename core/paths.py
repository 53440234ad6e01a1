"""Where files go by default: checkpoints/ in the project folder (the songs written beside them),
caches in the user's cache folder, downloaded corpora in the user's data folder."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def user_cache_dir() -> Path:
    """This user's cache folder for lyrics-tui ($XDG_CACHE_HOME/lyrics-tui, else
    ~/.cache/lyrics-tui): files that only save time and are safe to delete."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lyrics-tui"


def user_data_dir() -> Path:
    """This user's data folder for lyrics-tui ($XDG_DATA_HOME/lyrics-tui, else
    ~/.local/share/lyrics-tui): files worth keeping, such as downloaded corpora."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "lyrics-tui"


def checkpoint_dir() -> Path:
    """checkpoints/ beside core/ (a source checkout), else ./checkpoints."""
    folder = PROJECT_ROOT / "checkpoints"
    if folder.is_dir() and os.access(folder, os.W_OK):
        return folder
    return Path.cwd() / "checkpoints"


def songs_dir(checkpoints: Path | None = None) -> Path:
    """Where the playground writes songs (w): songs/ in the checkpoint folder, never the
    current one."""
    return (checkpoints or checkpoint_dir()) / "songs"


def song_file_name(corpus: str, seed: int | None) -> str:
    """A written song's default name: the corpus it was trained on and its seed."""
    stem = safe_stem(corpus) if corpus else "song"
    return f"{stem}-seed{seed}.txt" if seed is not None else f"{stem}.txt"


def safe_stem(path: str | os.PathLike[str]) -> str:
    """A file's stem with anything but letters, digits, '.', '-' and '_' made '_'."""
    return re.sub(r"[^\w.-]+", "_", Path(path).stem) or "model"


def default_checkpoint_path(corpus_path: str, folder: Path | None = None) -> Path:
    """Where a corpus's best checkpoint goes: <folder>/<corpus stem>.pt."""
    return (folder or checkpoint_dir()) / f"{safe_stem(corpus_path)}.pt"


def new_run_path(corpus_path: str, folder: Path | None = None) -> Path:
    """Where a new run's best checkpoint goes: <folder>/<corpus stem>.pt, numbered (-2, -3, ...)
    when another run's files hold that name, so that a new run never replaces an earlier one's
    model (continuing a model writes beside it: resume_target)."""
    return unused_run_path(default_checkpoint_path(corpus_path, folder))


def unused_run_path(first: Path) -> Path:
    """`first`, or numbered (-2, -3, ...) when another run's files (x.pt, x-last.pt) hold it."""
    return first_free(first, lambda path: path.exists() or last_checkpoint_path(path).exists())


def first_free(first: Path, taken: Callable[[Path], bool]) -> Path:
    """`first`, else the first of first-2, first-3, ... (before the suffix) not `taken`."""
    path, number = first, 1
    while taken(path):
        number += 1
        path = first.with_name(f"{first.stem}-{number}{first.suffix}")
    return path


def last_checkpoint_path(best: Path) -> Path:
    """Where the latest (resumable) state goes beside the best checkpoint."""
    return best.with_name(f"{best.stem}-last{best.suffix or '.pt'}")


# a snapshot's name: <corpus>-e<epoch>[-ppl<held-out perplexity>] (the playground's s)
_SNAPSHOT = re.compile(r"-e\d+(-ppl\d+(\.\d+)?)?$")


def snapshot_path(folder: Path, corpus: str, epoch: int, ppl: float | None) -> Path:
    """Where a snapshot of a run goes: <folder>/<corpus stem>-e<epoch>-ppl<ppl>.pt."""
    name = f"{safe_stem(corpus)}-e{epoch}"
    if ppl is not None and math.isfinite(ppl):
        name += f"-ppl{ppl:.1f}"
    return folder / f"{name}.pt"


def continuation_path(resumed: Path) -> Path:
    """Where continuing `resumed` saves its best: beside it (resume_target), except that a
    snapshot is kept as it was taken: the run saves under the name without the epoch,
    numbered when that is taken."""
    target = resume_target(resumed)
    if not _SNAPSHOT.search(target.stem):
        return target
    return new_run_path(_SNAPSHOT.sub("", target.stem) + ".txt", target.parent)


def resume_target(resumed: Path) -> Path:
    """Where a run resumed from `resumed` saves its best: x-last.pt -> x.pt, else itself."""
    if resumed.stem.endswith("-last"):
        return resumed.with_name(resumed.stem[: -len("-last")] + resumed.suffix)
    return resumed


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
