"""One self-contained checkpoint file: weights, optimiser, vocabulary, configs, history, version.

Written atomically: the bytes go to a temporary file in the same folder, are flushed to disk,
and only then replace the target with os.replace, so a crash or a full disk mid-save leaves the
previous checkpoint intact. Loaded only with torch.load(weights_only=True): a checkpoint holds
tensors and plain data, never code to run.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Required, TypedDict

from lyrics_tui.core.config import ModelConfig, TrainConfig
from lyrics_tui.core.errors import CheckpointError, SettingsError
from lyrics_tui.core.metrics import perplexity
from lyrics_tui.core.paths import last_checkpoint_path
from lyrics_tui.core.settings import MODEL, check_all
from lyrics_tui.core.vocab import Vocabulary

if TYPE_CHECKING:
    from lyrics_tui.core.model import RNNLanguageModel

FORMAT = "lyrics-tui-checkpoint"
FORMAT_VERSION = 1


class EpochRow(TypedDict, total=False):
    """A row of Checkpoint.history, for readers: core.events.EpochFinished.to_dict() (rows of
    older checkpoints lack the later keys; every row has epoch and train_loss)."""

    epoch: Required[int]
    train_loss: Required[float]
    val_loss: float | None
    val_ppl: float | None
    tokens_per_s: float
    elapsed_s: float
    lr: float
    is_best: bool
    cache_val_ppl: float | None


@dataclass
class Checkpoint:
    model_config: ModelConfig
    train_config: TrainConfig
    vocab: Vocabulary
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any] | None = None
    epoch: int = 0
    step: int = 0
    elapsed_s: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_val_loss: float | None = None
    corpus: str = ""
    path: str = ""
    # Song memory fitted after training (core/cache.py CacheFit.to_dict()); None: not fitted.
    # Files without it (older ones) still load, with the cache off.
    cache: dict[str, Any] | None = None
    # Song form of the training corpus (core/songform: CorpusForm.to_dict() and the vocabulary's
    # rhyme groups); None in older files, which generate with the defaults.
    form: dict[str, Any] | None = None

    @property
    def val_ppl(self) -> float | None:
        return perplexity(self.best_val_loss) if self.best_val_loss is not None else None

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_config": self.model_config.to_dict(),
            "train_config": self.train_config.to_dict(),
            "vocab": self.vocab.to_dict(),
            "model_state": self.model_state,
            "optimizer_state": self.optimizer_state,
            "epoch": self.epoch,
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "history": self.history,
            "best_val_loss": self.best_val_loss,
            "corpus": self.corpus,
            "cache": self.cache,
            "form": self.form,
        }


def checkpoint_from_payload(payload: Any, path: str) -> Checkpoint:
    """Validate a loaded payload (from torch or the fast reader) and wrap it."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a lyrics-tui checkpoint")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is not supported "
            f"(this lyrics-tui reads version {FORMAT_VERSION})"
        )
    try:
        model_config = ModelConfig.from_dict(payload["model_config"])
        train_config = TrainConfig.from_dict(payload["train_config"])
        try:  # an edited file (cell "transformer"): one line, not a traceback further on
            check_all(MODEL, model_config)  # (training's settings are checked on --resume)
        except SettingsError as exc:
            raise CheckpointError(f"{path}: its stored settings do not hold: {exc}") from None
        vocab = Vocabulary.from_dict(payload["vocab"])
        if model_config.vocab_size != len(vocab):
            raise CheckpointError(f"{path}: the weights and the vocabulary disagree in size")
        return Checkpoint(
            model_config=model_config,
            train_config=train_config,
            vocab=vocab,
            model_state=dict(payload["model_state"]),
            optimizer_state=payload.get("optimizer_state"),
            epoch=int(payload.get("epoch", 0)),
            step=int(payload.get("step", 0)),
            elapsed_s=float(payload.get("elapsed_s", 0.0)),
            history=list(payload.get("history", [])),
            best_val_loss=payload.get("best_val_loss"),
            corpus=str(payload.get("corpus", "")),
            path=path,
            cache=payload.get("cache") if isinstance(payload.get("cache"), dict) else None,
            form=payload.get("form") if isinstance(payload.get("form"), dict) else None,
        )
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: the checkpoint is incomplete ({exc})") from None


def weights_mismatch(path: str | os.PathLike, config: ModelConfig) -> CheckpointError:
    """The one line for weights that do not fit the model configuration stored beside them."""
    return CheckpointError(
        f"{path}: the weights do not fit the stored configuration ({config.cell}, embed "
        f"{config.embed}, hidden {config.hidden}, {config.layers} layer(s), vocabulary "
        f"{config.vocab_size}); the file is damaged or was edited"
    )


def broken_weights(path: str | os.PathLike) -> CheckpointError:
    """The one line for weights holding NaN or infinite values: every score they give would be
    NaN (eval's perplexity, generation, the inspection views)."""
    return CheckpointError(
        f"{path}: its weights hold NaN or infinite values (a run that diverged, or a damaged or "
        "edited file); open another checkpoint or retrain"
    )


def model_from_checkpoint(checkpoint: Checkpoint, device: str = "cpu") -> RNNLanguageModel:
    """An eval-mode network holding the checkpoint's weights (torch tensors or numpy arrays)."""
    import torch

    from lyrics_tui.core.model import RNNLanguageModel

    model = RNNLanguageModel(checkpoint.model_config)
    try:
        state = {k: torch.as_tensor(v) for k, v in checkpoint.model_state.items()}
        model.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError):
        raise weights_mismatch(checkpoint.path, checkpoint.model_config) from None
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise broken_weights(checkpoint.path)
    return model.to(device).eval()


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> str:
    """Write atomically; raise CheckpointError (one line) and leave any old file as it was."""
    import torch

    target = Path(path)
    _make_folder(target)
    tmp_name = None
    _remove_stale_temps(target)
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"
        )
        with os.fdopen(fd, "wb") as handle:
            torch.save(checkpoint.to_payload(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        tmp_name = None
        _fsync_dir(target.parent)
    except OSError as exc:
        raise CheckpointError(f"{target}: checkpoint not saved: {_write_reason(exc)}") from None
    except RuntimeError as exc:  # torch wraps write failures of its zip writer
        raise CheckpointError(f"{target}: checkpoint not saved: {exc}".splitlines()[0]) from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
    checkpoint.path = str(target)
    return str(target)


def check_writable(path: str | os.PathLike) -> None:
    """Fail before a long run, not after it: the folder of `path` exists (or can be made) and
    takes a new file. Raises the same one-line CheckpointError a save would."""
    target = Path(path)
    if target.is_dir():
        raise CheckpointError(
            f"{target}: is a folder; give a file name such as {target / 'model.pt'}"
        )
    for file in (target, last_checkpoint_path(target)):
        _check_replaceable(file)
    _make_folder(target)
    try:
        fd, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"
        )
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise CheckpointError(
            f"{target}: checkpoint cannot be saved: {_write_reason(exc)}"
        ) from None


def _check_replaceable(target: Path) -> None:
    """A save replaces a checkpoint, never another file: --out naming the corpus, a notes
    file or /dev/null would have been overwritten (a checkpoint is a zip archive)."""
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_file():
        raise CheckpointError(f"{target}: not a regular file; a checkpoint will not replace it")
    if target.stat().st_size and not zipfile.is_zipfile(target):
        raise CheckpointError(
            f"{target}: holds something other than a checkpoint, which a save would destroy; "
            "choose another --out (or move that file away)"
        )


def _make_folder(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise CheckpointError(f"{target.parent}: is a file, not a folder") from None
    except OSError as exc:
        raise CheckpointError(
            f"{target.parent}: cannot create folder ({_write_reason(exc)})"
        ) from None


def _write_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is not writable"
    return exc.strerror or str(exc)


def _remove_stale_temps(target: Path) -> None:
    """Delete half-written temp files left by saves whose process died (killed mid-save), so
    repeated crashes cannot fill the disk. A temp file of a live process is left alone."""
    prefix = f".{target.name}."
    try:
        names = [
            n for n in os.listdir(target.parent) if n.startswith(prefix) and n.endswith(".tmp")
        ]
    except OSError:
        return
    for name in names:
        pid_text = name[len(prefix) :].split(".", 1)[0]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
            continue  # still running: maybe saving right now
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError, ValueError):
            continue
        try:
            os.unlink(target.parent / name)
        except OSError:
            pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: str | os.PathLike, map_location: str = "cpu") -> Checkpoint:
    """Load with torch.load(weights_only=True); any failure is one CheckpointError line."""
    import torch

    name = str(path)
    _check_readable(name)
    try:
        with warnings.catch_warnings():  # torch warns on stderr about odd pickle protocols
            warnings.simplefilter("ignore")
            payload = torch.load(name, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{name}: {_unpickling_reason(str(exc))}") from None
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        KeyError,
        OSError,
        AttributeError,
        TypeError,
        IndexError,
        UnicodeDecodeError,
    ):
        raise CheckpointError(f"{name}: not a readable checkpoint (truncated or corrupt)") from None
    return checkpoint_from_payload(payload, name)


def _unpickling_reason(text: str) -> str:
    """One line from torch's long weights_only refusal."""
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return (
            f"refused: the file asks to load {found.group(1)}; a checkpoint holds only "
            "tensors and plain data, so nothing in it was run"
        )
    if "Unsupported operand" in text or "truncated" in text.lower():
        return "not a readable checkpoint (truncated or corrupt)"
    return "refused: the file holds something other than tensors and plain data"


def _check_readable(name: str) -> None:
    p = Path(name)
    if not p.exists():
        raise CheckpointError(f"{name}: no such file")
    if p.is_dir():
        raise CheckpointError(f"{name}: is a folder, not a checkpoint file")
    if not p.is_file():  # a zip is read by seeking: a pipe or a device cannot be one
        raise CheckpointError(f"{name}: is a pipe or a device, not a checkpoint file")
    if p.stat().st_size == 0:
        raise CheckpointError(f"{name}: the file is empty")
    if not os.access(name, os.R_OK):
        raise CheckpointError(f"{name}: permission denied")
