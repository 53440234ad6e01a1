"""Data-parallel training with 2 gloo processes on the CPU: the ranks hold identical weights after
every step, and they compute what one process computes on the same global batch; a stop on one
rank stops both at the same step with a resumable checkpoint that one process continues."""

from __future__ import annotations

import os
import socket
from dataclasses import replace

import pytest
import torch

from lyrics_tui.core import distributed
from lyrics_tui.core.checkpoint import load_checkpoint, model_from_checkpoint
from lyrics_tui.core.errors import CorpusError, SettingsError
from lyrics_tui.core.evaluate import evaluate_loss
from lyrics_tui.core.trainer import TrainingRun, prepare_data
from tests.helpers import BUNDLED, tiny_settings

WORLD = 2
# fp32, no dropout (each rank draws masks of its own), weight averaging, clipping and the cosine
# schedule on: everything else that could make two processes differ from one
SETTINGS = {
    "model": {"dropout": 0.0},
    "train": {
        "epochs": 2,
        "precision": "fp32",
        "batch_size": 8,
        "average": 0.9,
        "clip": 0.5,
        "schedule": "cosine",
        "tokenizer": "char",
        "min_count": 1,
    },
}


def corpus() -> tuple[list[str], list[str]]:
    lines = BUNDLED.read_text(encoding="utf-8").split()[:120]
    return lines[:100], lines[100:]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def flat(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def rank_main(rank: int, port: int, folder: str) -> None:
    """One rank: train with a check after every optimiser step, then stop on rank 1 alone."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        LOCAL_WORLD_SIZE=str(WORLD),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    import torch.distributed as dist

    group = distributed.join("cpu", "gloo")
    result: dict = {}
    # the set-up agreement: rank 1 cannot set up, rank 0 can; both hear it was rank 1
    try:
        group.ready(CorpusError("x.txt: no such file") if rank == 1 else None)
    except distributed.SetupFailed as failed:
        result["setup"] = (failed.rank, str(failed.error), failed.exit_code)
    train, val = corpus()
    model_cfg, train_cfg = tiny_settings(SETTINGS["model"], SETTINGS["train"])
    run = TrainingRun(train, val, model_cfg, train_cfg, group=group)
    gaps: list[float] = []
    step = run.optimizer.step

    def checked_step(*args, **kwargs):
        result = step(*args, **kwargs)
        mine = flat(run.model)
        every = [torch.empty_like(mine) for _ in range(WORLD)]
        dist.all_gather(every, mine)
        gaps.append(max(float((other - every[0]).abs().max()) for other in every))
        return result

    run.optimizer.step = checked_step  # type: ignore[method-assign]
    finished = run.run()
    result |= {
        "finished": finished,
        "gaps": gaps,
        "state": {k: v.clone() for k, v in run.model.state_dict().items()},
        "history": run.history,
    }

    # a stop request on rank 1 only, as a signal there would make: both ranks leave together
    stop_cfg = tiny_settings(SETTINGS["model"], {**SETTINGS["train"], "epochs": 50})
    out = os.path.join(folder, "stopped.pt")
    run = TrainingRun(train, val, *stop_cfg, group=group, out_path=out)
    step = run.optimizer.step

    def stop_on_rank_1(*args, **kwargs):
        result = step(*args, **kwargs)
        if rank == 1 and run.step == 12:  # step 13, mid-epoch (9 steps an epoch)
            run.stop()
        return result

    run.optimizer.step = stop_on_rank_1  # type: ignore[method-assign]
    stopped = run.run()
    result["stopped"] = stopped
    result["stopped_step"] = run.step
    group.close()
    torch.save(result, os.path.join(folder, f"rank{rank}.pt"))


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    import torch.multiprocessing as mp

    folder = tmp_path_factory.mktemp("ddp")
    # forked from a fresh server that has imported torch once: a fresh interpreter per rank
    # would import it twice over on two cores, and forking pytest itself inherits its threads
    mp.set_forkserver_preload(["torch", "lyrics_tui.core.trainer", "tests.core.test_distributed"])
    mp.start_processes(
        rank_main,
        args=(free_port(), str(folder)),
        nprocs=WORLD,
        join=True,
        start_method="forkserver",
    )
    ranks = [torch.load(folder / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]
    return folder, ranks


@pytest.mark.processes
def test_both_ranks_hold_the_same_weights_after_every_step(two_ranks):
    _, ranks = two_ranks
    gaps = ranks[0]["gaps"]
    assert len(gaps) == 22  # 2 epochs of 11 steps (100 lines: 8 streams of 123 tokens, 12 a step)
    assert max(gaps) == 0.0
    assert ranks[1]["gaps"] == gaps


@pytest.mark.processes
def test_two_ranks_compute_what_one_process_computes(two_ranks):
    _, ranks = two_ranks
    train, val = corpus()
    model_cfg, train_cfg = tiny_settings(SETTINGS["model"], SETTINGS["train"])
    single = TrainingRun(train, val, model_cfg, train_cfg)
    finished = single.run()
    assert finished.reason == ranks[0]["finished"].reason == "completed"
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(ranks[0]["state"][name], value, rtol=1e-4, atol=1e-5)
    # the figures rank 0 reports are the whole batch's, as one process reports them
    for one, two in zip(single.history, ranks[0]["history"], strict=True):
        assert two["train_loss"] == pytest.approx(one["train_loss"], rel=1e-5)
        assert two["val_loss"] == pytest.approx(one["val_loss"], rel=1e-5)
    # every rank heard rank 0's validation
    assert [h["val_loss"] for h in ranks[1]["history"]] == [
        h["val_loss"] for h in ranks[0]["history"]
    ]


@pytest.mark.processes
def test_a_stop_on_one_rank_stops_both_at_the_same_step_with_a_resumable_checkpoint(two_ranks):
    folder, ranks = two_ranks
    assert [r["stopped"].reason for r in ranks] == ["stopped", "stopped"]
    assert ranks[0]["stopped_step"] == ranks[1]["stopped_step"] == 13
    last = folder / "stopped-last.pt"
    assert ranks[0]["stopped"].last_checkpoint == str(last)
    assert ranks[1]["stopped"].last_checkpoint is None  # rank 0 alone saves
    checkpoint = load_checkpoint(last)
    assert checkpoint.step == 13 and checkpoint.optimizer_state
    assert not any(k.startswith("module.") for k in checkpoint.model_state)
    # one process scores the held-out text as rank 0 did, and resumes the run (another N)
    train, val = corpus()
    data = prepare_data(train, val, checkpoint.train_config, checkpoint.vocab)
    loss = evaluate_loss(model_from_checkpoint(checkpoint), data.val_ids)
    assert loss == pytest.approx(checkpoint.history[-1]["val_loss"], rel=1e-5)
    more = replace(checkpoint.train_config, epochs=checkpoint.epoch + 1)
    resumed = TrainingRun(train, val, checkpoint.model_config, more, resume=checkpoint)
    assert resumed.run().reason == "completed"
    assert resumed.epoch == checkpoint.epoch + 1


@pytest.mark.processes
def test_a_rank_that_cannot_set_up_stops_every_rank_with_its_reason(two_ranks):
    _, ranks = two_ranks
    assert [r["setup"] for r in ranks] == [(1, "x.txt: no such file", 2)] * 2


def test_a_batch_that_does_not_split_evenly_is_refused():
    class Pair(distributed.Group):
        def __init__(self):  # no process group needed for the check
            self.rank, self.world, self.local_world, self.leader = 0, 2, 2, True

    _, train_cfg = tiny_settings(train={"batch_size": 7})
    with pytest.raises(SettingsError, match="multiple of 2"):
        Pair().check(train_cfg, 10_000)
    _, tutorial = tiny_settings(train={"windowing": "tutorial", "batch_size": 8})
    with pytest.raises(SettingsError, match="one process"):
        Pair().check(tutorial, 10_000)
    _, fine = tiny_settings(train={"batch_size": 8})
    Pair().check(fine, 10_000)
    with pytest.raises(SettingsError, match="too short"):
        Pair().check(fine, 6)  # 3 streams of 2 tokens


def test_the_launch_checks_are_one_line(monkeypatch):
    with pytest.raises(SettingsError, match="CPU core"):
        distributed.check_processes(distributed.cpu_cores() + 1, "cpu")
    with pytest.raises(SettingsError, match="CUDA device"):
        distributed.check_processes(torch.cuda.device_count() + 1, "cuda")
    with pytest.raises(SettingsError, match="nccl needs CUDA"):
        distributed.resolve_backend("nccl", "cpu")
    assert distributed.resolve_backend("auto", "cpu") == "gloo"
    assert distributed.resolve_backend("auto", "cuda") == "nccl"
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        with pytest.raises(SettingsError, match="in use"):
            distributed.check_port(busy.getsockname()[1])


def test_the_launcher_names_a_rank_that_was_killed():
    code, line = distributed._outcome({0: 1, 1: -9})
    assert code == 1 and "process 1 was killed (SIGKILL)" in line
    assert distributed._outcome({0: 2, 1: 2}) == (2, "")
    assert distributed._outcome({0: 130, 1: -15}) == (130, "")
