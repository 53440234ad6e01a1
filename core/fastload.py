"""Read a checkpoint into numpy arrays without importing torch.

`import torch` costs 1.5-2 s on a small CPU, which alone would break the CLI's promise of a
first generated token within 1.5 s of launch. torch.save writes a zip holding one pickle plus
one raw file per tensor storage; this module reads that layout with an unpickler that accepts
only the handful of names a checkpoint needs (ordered dicts and tensor rebuilds) and refuses
everything else, the same guarantee torch.load(weights_only=True) gives: loading never runs
code from the file.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from typing import Any

import numpy as np

from lyrics_tui.core.checkpoint import (
    Checkpoint,
    _check_readable,
    _unpickling_reason,
    checkpoint_from_payload,
)
from lyrics_tui.core.errors import CheckpointError

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)


def _rebuild_tensor(
    storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_ignored: Any
) -> np.ndarray:
    if not isinstance(storage, np.ndarray) or not all(
        isinstance(n, int) and n >= 0 for n in (offset, *size, *stride)
    ):
        raise pickle.UnpicklingError("malformed tensor")
    if len(size) != len(stride):
        raise pickle.UnpicklingError("malformed tensor")
    if not size:
        return np.array(storage[offset])
    if 0 in size:
        return np.zeros(tuple(size), dtype=storage.dtype)
    # as_strided does no bounds check: a hostile file must not read past the storage
    if offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) >= storage.size:
        raise pickle.UnpicklingError("a tensor reaches past its storage")
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)
    )
    return np.array(view)  # own the memory, C-contiguous


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str) -> None:
        import io

        super().__init__(io.BytesIO(data))
        self.archive = archive
        self.prefix = prefix
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(_DTYPES[name])
        raise pickle.UnpicklingError(f"GLOBAL {module}.{name} is not allowed")

    def persistent_load(self, pid: Any) -> Any:
        if not (
            isinstance(pid, tuple)
            and len(pid) == 5
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
        ):
            raise pickle.UnpicklingError("unexpected storage reference")
        _, storage_type, key, _location, numel = pid
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}data/{key}")
            array = np.frombuffer(raw, dtype=storage_type.dtype.newbyteorder("<"))
            if array.size < numel:
                raise pickle.UnpicklingError("a tensor's storage is truncated")
            self.storages[key] = array
        return self.storages[key]


def read_payload(path: str) -> Any:
    """The checkpoint's payload with every tensor as a numpy array."""
    _check_readable(path)
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise CheckpointError(f"{path}: not a lyrics-tui checkpoint")
            prefix = pickles[0][: -len("data.pkl")]
            order = (
                archive.read(f"{prefix}byteorder")
                if f"{prefix}byteorder" in archive.namelist()
                else b"little"
            )
            if order.strip() != b"little":
                raise CheckpointError(f"{path}: big-endian checkpoints are not supported")
            return _RestrictedUnpickler(archive.read(pickles[0]), archive, prefix).load()
    except CheckpointError:
        raise
    except pickle.UnpicklingError as exc:
        reason = _unpickling_reason(str(exc))
        if not reason.startswith("refused: the file asks"):
            reason = f"not a readable checkpoint ({exc})"
        raise CheckpointError(f"{path}: {reason}") from None
    except (
        zipfile.BadZipFile,
        EOFError,
        KeyError,
        ValueError,
        TypeError,
        IndexError,
        AttributeError,
        OSError,
        UnicodeDecodeError,
        MemoryError,
        zipfile.LargeZipFile,
    ):
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt)") from None
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None


def read_checkpoint(path: str) -> Checkpoint:
    """A Checkpoint whose model_state holds numpy arrays (optimizer state is dropped)."""
    payload = read_payload(path)
    if isinstance(payload, dict):
        payload["optimizer_state"] = None
    return checkpoint_from_payload(payload, path)
