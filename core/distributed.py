"""Data-parallel training: several processes train one model through PyTorch's own machinery.

torch.distributed.run (the engine behind `torchrun`) starts the processes and tells each its
rank in the environment; each joins a process group (gloo on CPU, nccl on CUDA) and trains
through DistributedDataParallel, which averages the gradients of all ranks in every backward.

The data stays continuous: the B token streams of the global batch (the columns of the
batchified corpus) are cut into N contiguous shares, one per rank, so truncated BPTT carries each
stream's hidden state exactly as one process does, and the average of N equal shares' mean
gradients is one process's mean gradient over the whole batch. Rank 0 alone validates, reports
and saves. Whatever ends a loop early (a stop request on any rank, the time budget, a
non-finite loss) is agreed through a tiny all-reduce, so every rank leaves at the same step.

`Solo` is the world of one process: the trainer calls the same methods and gets its own
answers back, at no cost.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import torch

from lyrics_tui.core import batches as B
from lyrics_tui.core.device import BACKENDS
from lyrics_tui.core.errors import LyricsError, SettingsError

if TYPE_CHECKING:
    from torch import nn

    from lyrics_tui.core.config import TrainConfig

TIMEOUT_S = 600  # a collective waits this long for a rank that hangs (rank 0 validating, saving)
SHUTDOWN_S = 30  # after Ctrl+C the launcher waits this long for the ranks to save and leave
LAUNCHED_BY_US = "LYRICS_TUI_LAUNCHER"  # set for ranks that `train --nproc` started
CLI_MODULE = "lyrics_tui.tui.cli"


def launched() -> bool:
    """Whether this process is one rank of a launched group (torchrun, `train --nproc`)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_backend(name: str, device: str) -> str:
    """gloo for CPU tensors, nccl for CUDA ones ('auto'); nccl without CUDA is refused."""
    if name not in BACKENDS:
        raise SettingsError(f"{{backend}} must be one of {', '.join(BACKENDS)}")
    if name == "auto":
        return "nccl" if device.startswith("cuda") else "gloo"
    if name == "nccl" and not device.startswith("cuda"):
        raise SettingsError(
            "{backend} nccl needs CUDA devices and trains on them ({device} cuda); on the CPU "
            "use {backend} gloo"
        )
    return name


def check_processes(nproc: int, device: str) -> None:
    """One process per CUDA device, or per CPU core: more would only queue for them."""
    if nproc < 1:
        raise SettingsError("{nproc} must be at least 1")
    if device.startswith("cuda"):
        have = torch.cuda.device_count()
        if nproc > have:
            raise SettingsError(
                f"{{nproc}} {nproc}: this machine has {have} CUDA device(s), and each "
                "process trains on one of its own"
            )
    elif nproc > cpu_cores():
        raise SettingsError(
            f"{{nproc}} {nproc}: this machine has {cpu_cores()} CPU core(s) for training, "
            "and each process needs one of its own"
        )


def check_port(port: int) -> None:
    """A rendezvous port given by the user must be free on this machine (a busy one could
    even belong to another run, which the processes would then join)."""
    if not 0 <= port <= 65535:
        raise SettingsError("{master_port} must be between 0 (any free port) and 65535")
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("", port))
        except OSError:
            raise SettingsError(
                f"{{master_port}} {port} is in use on this machine; give another or leave it "
                "out (a free one is chosen)"
            ) from None


def launch(nproc: int, args: Sequence[str], *, port: int = 0) -> tuple[int, str]:
    """Run `python -m lyrics_tui.tui.cli ARGS` as `nproc` ranks on this machine through
    torch.distributed.run's launcher (elastic_launch), and wait for them.

    Returns the exit code and one line to show (empty when the ranks said everything
    themselves). Ctrl+C or SIGTERM here is passed on to every rank, which stops after its
    current batch; the launcher waits SHUTDOWN_S for them to save and exit.
    """
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # The launcher's notes and failure reports (each of its modules has a logger with a level
    # of its own): this function reports instead, in one line.
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith(("torch.distributed.elastic", "torch.distributed.launcher")):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cpu_cores() // nproc)))
    os.environ[LAUNCHED_BY_US] = "1"
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=f"lyrics-tui-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d",
        rdzv_endpoint=f"localhost:{port}",
        max_restarts=0,
        monitor_interval=0.1,
        logs_specs=DefaultLogsSpecs(log_dir=os.devnull),
        shutdown_timeout=SHUTDOWN_S,
    )
    try:
        elastic_launch(config, sys.executable)("-u", "-m", CLI_MODULE, *args)
    except ChildFailedError as failed:
        return _outcome({rank: f.exitcode for rank, f in failed.failures.items()})
    except SignalException:
        return 130, ""
    except Exception as exc:  # the launcher itself failed (rendezvous, a process not started)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return 1, f"the training processes could not be started: {reason}"
    finally:
        os.environ.pop(LAUNCHED_BY_US, None)
    return 0, ""


def _outcome(codes: dict[int, int]) -> tuple[int, str]:
    """The exit code and line for ranks that failed: a rank killed outright explains the
    rest (which lost contact with it); otherwise the ranks have already said why."""
    terminated = (-signal.SIGTERM, -signal.SIGINT)  # how the launcher stops the others
    for rank, code in sorted(codes.items()):
        if code < 0 and code not in terminated:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return 1, (
                f"training process {rank} was killed ({name}); every other process was "
                "stopped, and the checkpoints saved before are intact"
            )
    for wanted in (2, 130, 1):
        if wanted in codes.values():
            return wanted, ""
    rank, code = min(codes.items())
    return 1, f"training process {rank} failed (exit code {code})"


class SetupFailed(Exception):
    """A rank could not set its run up; every rank raises this at the set-up agreement."""

    def __init__(self, rank: int, error: LyricsError) -> None:
        super().__init__(rank, error)
        self.rank = rank
        self.error = error

    @property
    def exit_code(self) -> int:
        """2 for bad input, 130 for Ctrl+C, 1 for anything else (as one process exits)."""
        if isinstance(self.error, Unexpected):
            return 130 if self.error.interrupted else 1
        return 2


class Unexpected(LyricsError):
    """An error other than bad input on some rank, as one line the others can be told."""

    def __init__(self, text: str, interrupted: bool = False) -> None:
        super().__init__(text, interrupted)
        self.interrupted = interrupted

    @classmethod
    def of(cls, error: BaseException) -> Unexpected:
        if isinstance(error, KeyboardInterrupt):
            return cls("interrupted while setting up", True)
        text = f"{type(error).__name__}: {error}".splitlines()[0]
        return cls(text.replace("{", "(").replace("}", ")"))


class Solo:
    """One process: every agreement is this process's own answer."""

    rank = 0
    world = 1
    local_world = 1
    leader = True

    def check(self, config: TrainConfig, train_tokens: int) -> None:
        """Raise SettingsError if the run cannot be split over the ranks."""

    def share(self, data: torch.Tensor) -> torch.Tensor:
        """This rank's columns (token streams) of a batchified [steps, B] corpus."""
        return data

    def wrap(self, model: nn.Module, seed: int) -> nn.Module:
        """The module to train through (DistributedDataParallel on several ranks)."""
        return model

    def agree(self, stop: bool, elapsed: float) -> tuple[bool, float]:
        """Whether any rank wants to stop, and the run's elapsed seconds (rank clocks drift;
        the learning rate must not)."""
        return stop, elapsed

    def any(self, flag: bool) -> bool:
        return flag

    def nonfinite(self, loss: torch.Tensor) -> float | None:
        """The loss if it is NaN or infinite on any rank, else None."""
        return None if bool(torch.isfinite(loss)) else loss.item()

    def total(self, loss_sum: float, tokens: int) -> tuple[float, int]:
        """Summed over ranks: the training loss (times tokens) and the tokens of an epoch."""
        return loss_sum, tokens

    def from_leader(self, value: float | None) -> float | None:
        """Rank 0's value (validation runs there alone), on every rank."""
        return value


SOLO = Solo()


class Group(Solo):
    """This process as one rank of a process group started by torch.distributed.run."""

    def __init__(self, device: str, backend: str) -> None:
        import torch.distributed as dist

        self.rank = int(os.environ["RANK"])
        self.world = int(os.environ["WORLD_SIZE"])
        self.local_world = int(os.environ.get("LOCAL_WORLD_SIZE", self.world))
        self.leader = self.rank == 0
        self.device = device
        self.backend = backend
        self._dist = dist
        self._flags_on = device if backend == "nccl" else "cpu"
        self._parent = os.getppid()
        self._ready = False
        dist.init_process_group(backend, timeout=timedelta(seconds=TIMEOUT_S))

    # -- set-up ----------------------------------------------------------------------------
    @property
    def is_ready(self) -> bool:
        return self._ready

    def ready(self, error: BaseException | None = None) -> None:
        """The set-up agreement: every rank calls this once, with the error that stopped its
        set-up or None; if any rank failed, every rank raises SetupFailed for the first."""
        if self._ready:
            return
        self._ready = True
        sent: Any = None
        if error is not None:
            sent = error if isinstance(error, LyricsError) else Unexpected.of(error)
        errors: list[Any] = [None] * self.world
        self._dist.all_gather_object(errors, sent)
        for rank, found in enumerate(errors):
            if found is not None:
                raise SetupFailed(rank, found)

    def check(self, config: TrainConfig, train_tokens: int) -> None:
        if config.windowing != "streams":
            raise SettingsError(
                "{preset} tutorial-windows trains in one process only: its windows are a "
                "lesson in overfitting, not a workload to spread"
            )
        if config.batch_size % self.world:
            raise SettingsError(
                f"{{batch_size}} {config.batch_size} is the batch of all {self.world} "
                f"processes together and must split evenly: give a multiple of {self.world}"
            )
        streams = B.stream_count(train_tokens, config.batch_size)
        if streams % self.world:
            raise SettingsError(
                f"the training split is too short for {{batch_size}} {config.batch_size} "
                f"({streams} streams) to split evenly over {self.world} processes"
            )

    # -- training --------------------------------------------------------------------------
    def share(self, data: torch.Tensor) -> torch.Tensor:
        width = data.size(1) // self.world
        return data[:, self.rank * width : (self.rank + 1) * width].contiguous()

    def wrap(self, model: nn.Module, seed: int) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        if self.rank:  # dropout masks of their own: rank 0 keeps the single-process stream
            torch.manual_seed((seed + 0x9E3779B97F4A7C15 * self.rank) % 2**63)
        ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=ids)

    def agree(self, stop: bool, elapsed: float) -> tuple[bool, float]:
        if os.getppid() != self._parent:  # the launcher is gone: nobody would stop us
            stop = True
        flags = self._reduce([float(stop), elapsed], "MAX")
        return bool(flags[0]), float(flags[1])

    def any(self, flag: bool) -> bool:
        return bool(self._reduce([float(flag)], "MAX")[0])

    def nonfinite(self, loss: torch.Tensor) -> float | None:
        value = loss.detach()
        tests = (torch.isnan(value), torch.isposinf(value), torch.isneginf(value))
        flags = self._reduce(torch.stack(tests).to(torch.float64), "MAX")  # on loss's device
        if not flags.any():
            return None
        return float("nan") if flags[0] else float("inf") if flags[1] else float("-inf")

    def total(self, loss_sum: float, tokens: int) -> tuple[float, int]:
        sums = self._reduce([loss_sum, float(tokens)], "SUM")
        return float(sums[0]), round(float(sums[1]))

    def from_leader(self, value: float | None) -> float | None:
        sent = torch.tensor(
            [float(value is not None), value if value is not None else 0.0],
            dtype=torch.float64,
            device=self._flags_on,
        )
        self._dist.broadcast(sent, src=0)
        return float(sent[1]) if sent[0] else None

    def close(self, clean: bool = True) -> None:
        """Leave the group; after a clean end, wait until every rank (rank 0 saving) is done."""
        gc.collect()  # the DDP wrapper (reference cycles) goes while its process group lives
        with contextlib.suppress(RuntimeError, ValueError):
            if clean:
                self._dist.barrier()
        with contextlib.suppress(RuntimeError, ValueError):
            self._dist.destroy_process_group()

    def _reduce(self, values: list[float] | torch.Tensor, op: str) -> torch.Tensor:
        tensor = torch.as_tensor(values, dtype=torch.float64).to(self._flags_on)
        self._dist.all_reduce(tensor, op=getattr(self._dist.ReduceOp, op))
        return tensor.cpu()


def join(device: str, backend: str) -> Group:
    """This process's rank: its device (cuda:LOCAL_RANK on CUDA) and the process group."""
    backend = resolve_backend(backend, device)
    if device.startswith("cuda"):
        have = torch.cuda.device_count()
        if local_rank() >= have:
            raise SettingsError(
                f"process {local_rank()} on this machine has no CUDA device of its own (there "
                f"are {have}): start at most {have} per machine"
            )
        torch.cuda.set_device(local_rank())
        device = f"cuda:{local_rank()}"
    return Group(device, backend)
