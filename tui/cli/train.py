"""`lyrics-tui train`: train on a corpus, print each epoch, keep the best and the latest."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from lyrics_tui.core.config import PRESETS
from lyrics_tui.core.corpus import BUNDLED, DEFAULT_CORPUS, DOWNLOADABLE
from lyrics_tui.core.device import BACKENDS, DEVICES
from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.events import EndReason
from lyrics_tui.core.settings import MODEL, TRAIN
from lyrics_tui.tui.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_READER_GONE,
    EXIT_USAGE,
    emit,
    message,
    note,
    preset_default,
    runs_db_argument,
    setting_argument,
    warn,
)
from lyrics_tui.tui.signals import Aborted, StopSignals

if TYPE_CHECKING:
    from lyrics_tui.core.distributed import Group
    from lyrics_tui.core.events import TrainingFinished
    from lyrics_tui.core.trainer import TrainingRun
    from lyrics_tui.tui.cli.train_view import ConsoleTrainView, JsonTrainView

MODEL_FLAGS = ("cell", "embed", "hidden", "layers", "dropout", "tie_weights", "characters")
TRAIN_FLAGS = (
    "tokenizer",
    "min_count",
    "max_vocab",
    "epochs",
    "time_budget",
    "batch_size",
    "bptt",
    "lr",
    "optimizer",
    "weight_decay",
    "clip",
    "schedule",
    "threads",
    "precision",
    "seed",
    "val_fraction",
    "unk_noise",
)
# the optimiser's and the batches' settings, in the order --help lists them
TUNING_FLAGS = "batch_size bptt lr optimizer weight_decay clip schedule threads precision".split()
LAUNCH_FLAGS = ("nproc", "master_port")  # for the launcher only, not passed on to the ranks
_parser: argparse.ArgumentParser | None = None  # kept to pass the flags on to the ranks


def add_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="train a model on a corpus and save checkpoints",
        description="Train on a corpus (one lyric line per line). Every model and training "
        "setting starts from the preset (and a bundled corpus's own settings); flags you give "
        "override them. Ranges and defaults below come from the same table that checks them.",
    )
    train.add_argument(
        "--corpus",
        help=f"a bundled corpus ({', '.join(BUNDLED)}), {' or '.join(DOWNLOADABLE)} (downloaded "
        "once from d2l-zh, the tutorial's own corpus) or a UTF-8/GB18030 text file, one lyric "
        f"line per line; a named one brings its own settings; default {DEFAULT_CORPUS} (with "
        "--resume: the text the model was trained on)",
    )
    split = train.add_mutually_exclusive_group()
    setting_argument(split, TRAIN["val_fraction"], default_text=preset_default("val_fraction"))
    split.add_argument(
        "--val-file", help="a text to validate on instead of a held-out share; default none"
    )
    train.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        help="the settings to start from; default: the corpus's own, else default",
    )
    setting_argument(train, TRAIN["tokenizer"], default_text=preset_default("tokenizer"))
    for name in ("min_count", "max_vocab"):
        setting_argument(train, TRAIN[name], default_text=preset_default(name))
    for name in MODEL_FLAGS:
        setting_argument(train, MODEL[name], default_text=preset_default(name))
    setting_argument(
        train,
        TRAIN["epochs"],
        default_text=preset_default("epochs"),
        more="with --resume a finished run given no --epochs goes on for the preset's epochs "
        "more; with --time-budget and no --epochs, as many as the budget holds",
    )
    setting_argument(
        train,
        TRAIN["time_budget"],
        default_text=preset_default("time_budget"),
        more="validation, song memory's fit and the saves included: training stops in time for "
        "them and the epoch under way is validated and saved. Without --epochs the run fills "
        "the budget: the learning rate's cosine spans it, the best epoch is kept, and with the "
        "default preset and no network setting given the network's size and dropout are "
        "chosen for the corpus, the budget and this machine (a short timing at the start)",
    )
    for name in (*TUNING_FLAGS, "seed", "unk_noise"):
        setting_argument(train, TRAIN[name], default_text=preset_default(name))
    _add_place_flags(train)
    runs_db_argument(train)
    global _parser
    _parser = train


def _add_place_flags(train: argparse.ArgumentParser) -> None:
    """Where the run saves, what it continues, where and in how many processes it trains."""
    train.add_argument(
        "--out",
        help="where the best checkpoint goes; the latest state goes beside it as "
        "<name>-last.pt; a new run numbers the name (-2, -3) when another run's files hold "
        "it, and says so; default checkpoints/<corpus>.pt in the project folder, else the "
        "current one",
    )
    train.add_argument(
        "--resume",
        help="continue from this checkpoint (weights, optimiser, epochs, history and "
        "settings; training flags given now override, but the network's and the vocabulary's "
        "cannot change). Without --out, x-last.pt resumes into x.pt and "
        "x-last.pt, and a snapshot x-e12-ppl71.2.pt stays as it is (into x.pt, numbered when "
        "taken); default none (a new model)",
    )
    train.add_argument(
        "--device",
        default="auto",
        choices=DEVICES,
        help="where to train; default auto (CUDA when there is one, else the CPU)",
    )
    train.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="train in N processes on this machine (DistributedDataParallel, launched by "
        "torch.distributed.run; one per CUDA device or CPU core); --batch-size stays the "
        "batch of all of them together. Several machines: torchrun (docs/distributed.md); "
        "default 1",
    )
    train.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="with --nproc or under torchrun: how processes talk; default auto (nccl on "
        "CUDA, gloo on the CPU)",
    )
    train.add_argument(
        "--master-port",
        type=int,
        default=0,
        help="with --nproc: the port on this machine where the processes meet, 0 to 65535; "
        "default 0 (a free one)",
    )
    train.add_argument(
        "--json", action="store_true", help="JSON lines on stdout, nothing else; default off"
    )


def run(args: argparse.Namespace) -> int:
    from lyrics_tui.core import distributed

    if distributed.launched():  # one rank of several (torchrun, or --nproc below)
        return run_rank(args)
    if args.nproc != 1:
        return launch(args)
    return train(args)


def train(args: argparse.Namespace, group: Group | None = None) -> int:
    from lyrics_tui.core import tuning
    from lyrics_tui.core.checkpoint import load_checkpoint
    from lyrics_tui.core.corpus import continued_corpus, corpus_settings, preset_for
    from lyrics_tui.core.resume import latest_state_of, plan_continuation
    from lyrics_tui.core.songform.rhyme import release_pinyin
    from lyrics_tui.core.training.setup import read_training_corpus, set_up_run
    from lyrics_tui.tui.cli.train_view import ConsoleTrainView, JsonTrainView

    tuning.for_training()
    resume = load_checkpoint(args.resume) if args.resume else None
    if resume is not None:  # it goes on with the text it was trained on unless told otherwise
        args.corpus, said = continued_corpus(resume.corpus, args.corpus)
        if said and (group is None or group.leader):
            warn([said])
    corpus = read_training_corpus(args.corpus, on_note=note)
    model_over = {name: getattr(args, name) for name in MODEL_FLAGS}
    train_over = {name: getattr(args, name) for name in TRAIN_FLAGS}
    model_cfg, train_cfg = corpus_settings(args.corpus, args.preset, model_over, train_over)
    continuing = ""  # what --resume will do, said when training starts
    if resume is not None:
        further = latest_state_of(resume)
        if further is not None and (group is None or group.leader):
            warn([
                f"{further.path} holds this run further on (epoch {further.epoch}, against "
                f"{resume.epoch} here): --resume {further.path} goes on from there"
            ])  # fmt: skip
        plan = plan_continuation(resume, train_over, train_cfg.epochs, model_over)
        model_cfg, train_cfg = plan.model_config, plan.train_config
        continuing = plan.note
    view: JsonTrainView | ConsoleTrainView = (
        JsonTrainView() if args.json else ConsoleTrainView(continuing)
    )
    setup = set_up_run(
        corpus,
        model_cfg,
        train_cfg,
        preset=preset_for(args.corpus, args.preset),
        model_given=model_over,
        sink=view,
        resume=resume,
        resumed_from=args.resume,
        val_file=args.val_file,
        device=args.device,
        out_path=_out_path(args),
        runs_db=getattr(args, "runs_db", None),
        warn=lambda text: warn([text]),
        group=group,
    )
    assert setup is not None  # nothing cancels a setup here
    del corpus  # the run holds ids: a large corpus's lines go now
    release_pinyin()  # and its rhyme table is built: pypinyin's dictionaries go too
    if group is not None:
        group.ready()  # every rank is set up (or every rank stops here)
    return _run_to_the_end(args, setup.run, setup.recorder, view, group)


def _run_to_the_end(
    args: argparse.Namespace,
    run: TrainingRun,
    recorder: AbstractContextManager[object],
    view: JsonTrainView | ConsoleTrainView,
    group: Group | None,
) -> int:
    """Train under the signals' watch; say how it ended; the exit code."""
    # Ctrl+C, SIGHUP (a dropped SSH session) and SIGTERM stop after this batch and save; a
    # second signal aborts at once. Under --nproc the launcher passes them on to every rank.
    stopping = StopSignals(lambda signum: run.stop())
    view.stop = run.stop
    try:
        with stopping, recorder:
            try:
                finished = run.run()
            finally:
                view.close()
    except Aborted as exc:
        print(f"lyrics-tui: {exc} again: stopped at once", file=sys.stderr)
        return exc.exit_code
    leader = group is None or group.leader
    exit_code = stopping.exit_code
    if group is not None:
        group.close(
            clean=finished.reason is not EndReason.FAILED
        )  # a failed save is rank 0's alone
        if finished.reason == "stopped" and exit_code is None:
            exit_code = EXIT_INTERRUPTED  # a signal on another rank: exit as if it came here
    if args.json and leader:
        emit(done_line(finished))
    if finished.message and leader:
        print(f"lyrics-tui: {finished.message}", file=sys.stderr)
    if exit_code is None and view.reader_gone:
        exit_code = EXIT_READER_GONE
    if exit_code is not None:
        return exit_code  # 130, 129 or 143; 141 when the output's reader left
    return EXIT_FAILED if finished.reason.failed else 0


def _out_path(args: argparse.Namespace) -> Path | None:
    """Where the best checkpoint goes: --out, else beside what --resume continues (a snapshot
    is kept: core.paths.continuation_path), else (None) the corpus's name in the checkpoints
    folder."""
    from lyrics_tui.core.checkpoint import check_writable
    from lyrics_tui.core.paths import continuation_path, unused_run_path

    if args.out and args.resume:
        return Path(args.out)
    if args.out:  # a new run never replaces another run's model, named or not
        given = Path(args.out)
        check_writable(given)  # a file that is no checkpoint is refused, not named around
        out = unused_run_path(given)
        if out != given:
            warn([f"{given} holds another run's model: this run saves as {out}"])
            args.out = str(out)  # the processes of --nproc get the name decided here
        return out
    if args.resume:
        return continuation_path(Path(args.resume))
    return None


def done_line(finished: TrainingFinished) -> dict[str, object]:
    """The JSON line that ends `train --json`: how the run ended and its figures."""
    return {
        "event": "done",
        "best_val_ppl": finished.best_val_ppl,
        "checkpoint": finished.best_checkpoint,
        "last_checkpoint": finished.last_checkpoint,
        "reason": finished.reason,
        "epochs": finished.epochs,
        "cache_val_ppl": finished.cache_val_ppl,
        "cache_cross_ppl": finished.cache_cross_ppl,
        "plain_cross_ppl": finished.plain_cross_ppl,
        "cache": finished.cache,
        "cache_tokens": finished.cache_tokens,
        "val_tokens": finished.val_tokens,
        "elapsed_s": finished.elapsed_s,
    }


def launch(args: argparse.Namespace) -> int:
    """`train --nproc N`: the same command in N processes, through torch.distributed.run."""
    from lyrics_tui.core import distributed
    from lyrics_tui.core.corpus import obtain_corpus
    from lyrics_tui.core.device import resolve_device

    device = resolve_device(args.device)
    distributed.resolve_backend(args.backend, device)
    distributed.check_processes(args.nproc, device)
    distributed.check_port(args.master_port)
    obtain_corpus(args.corpus, on_note=note)  # once, before the processes read it
    _out_path(args)  # once too: a name taken is numbered here, not by each process
    code, line = distributed.launch(args.nproc, rank_argv(args), port=args.master_port)
    if line:
        print(f"lyrics-tui: {line}", file=sys.stderr)
    return code


def rank_argv(args: argparse.Namespace) -> list[str]:
    """The command line each rank runs: `train` and every flag given, but the launcher's."""
    assert _parser is not None
    argv = ["train"]
    for action in _parser._actions:
        if not action.option_strings or action.dest in ("help", *LAUNCH_FLAGS):
            continue
        value = getattr(args, action.dest)
        if value is None or value == action.default:
            continue
        option = action.option_strings[0]
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(option if value else "--no-" + option[2:])
        elif isinstance(action, argparse._StoreTrueAction):
            argv.append(option)
        else:
            argv += [option, str(value)]
    return argv


def run_rank(args: argparse.Namespace) -> int:
    """One rank of a launched group: set up, agree with the others, train. Only rank 0
    prints; a failure anywhere is said once."""
    from lyrics_tui.core import distributed
    from lyrics_tui.core.device import resolve_device
    from lyrics_tui.core.errors import LyricsError

    try:
        if args.nproc != 1:
            raise SettingsError("{nproc} starts processes itself; under torchrun leave it out")
        group = distributed.join(resolve_device(args.device), args.backend)
    except LyricsError:  # the same on every rank of this machine: said by the first
        if distributed.local_rank() == 0:
            raise
        return EXIT_USAGE
    try:
        try:
            return train(args, group)
        except BaseException as exc:
            if not group.is_ready:
                group.ready(exc)  # tell the others why; raises SetupFailed everywhere
            raise
    except distributed.SetupFailed as failed:
        group.close(clean=False)
        if group.leader:
            where = f"process {failed.rank}: " if failed.rank else ""
            print(f"lyrics-tui: {where}{message(failed.error)}", file=sys.stderr)
        return failed.exit_code
    except RuntimeError as exc:  # a collective failed: another rank is gone
        group.close(clean=False)
        if os.environ.get(distributed.LAUNCHED_BY_US) != "1":  # else the launcher says it
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            print(
                f"lyrics-tui: process {group.rank} stopped: lost contact with another "
                f"training process ({reason})",
                file=sys.stderr,
            )
        return EXIT_FAILED
    except BaseException:  # a second Ctrl+C, or a bug: leave the group before the traceback
        group.close(clean=False)
        raise
