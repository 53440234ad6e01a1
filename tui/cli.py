"""The command line: `lyrics-tui [train|generate|eval] ...`; no subcommand opens the playground.

A thin view: it parses arguments, calls core/, and prints core's events, with rich on a terminal
and as JSON lines with --json. Bad input is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from lyrics_tui.core.errors import LyricsError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2), not the usage."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lyrics-tui",
        description="Train, play with and look inside a recurrent language model of lyrics. "
                    "With no command, opens the terminal playground.")
    parser.add_argument("--corpus", help="corpus for the playground (default: the bundled one)")
    parser.add_argument("--checkpoint", help="checkpoint to open in the playground")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--serve", action="store_true",
                        help="serve the playground to a browser (textual-serve) instead")
    parser.add_argument("--port", type=int, default=8000, help="port for --serve")
    sub = parser.add_subparsers(dest="command", metavar="{train,generate,eval,score,neighbours,step,hidden}")

    train = sub.add_parser("train", help="train a model on a corpus and save checkpoints",
                           description="Train on a corpus (one lyric line per line). Flags you "
                                       "give override the preset.")
    train.add_argument("--corpus", help="UTF-8 or GB18030 text file (default: bundled corpus)")
    split = train.add_mutually_exclusive_group()
    split.add_argument("--val-fraction", type=_float,
                       help="last fraction of lines held out for validation (default 0.1)")
    split.add_argument("--val-file", help="validation text instead of a held-out fraction")
    train.add_argument("--tokenizer", choices=("word", "char"))
    train.add_argument("--min-count", type=int, help="words seen fewer times become <unk> (2)")
    train.add_argument("--max-vocab", type=int, help="cap the vocabulary size (0: no cap)")
    train.add_argument("--preset", default="default",
                       choices=("default", "tutorial", "tutorial-windows"))
    train.add_argument("--cell", choices=("rnn", "gru", "lstm"))
    train.add_argument("--embed", type=int)
    train.add_argument("--hidden", type=int)
    train.add_argument("--layers", type=int)
    train.add_argument("--dropout", type=_float)
    train.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=None)
    train.add_argument("--epochs", type=int)
    train.add_argument("--time-budget", type=_float,
                       help="stop after this many seconds of training (0: none), counting "
                            "the time of a resumed checkpoint; the epoch under way stops there "
                            "and is validated and saved")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--bptt", type=int, help="steps of back-propagation through time")
    train.add_argument("--lr", type=_float)
    train.add_argument("--optimizer", choices=("adam", "adamw"))
    train.add_argument("--weight-decay", type=_float)
    train.add_argument("--clip", type=_float, help="max gradient norm (0: off)")
    train.add_argument("--schedule", choices=("none", "cosine"))
    train.add_argument("--threads", type=int, help="torch CPU threads (0: auto)")
    train.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                       help="training matmuls; auto: bf16 where the CPU has bf16 units")
    train.add_argument("--seed", type=int)
    train.add_argument("--out", help="best checkpoint path (default checkpoints/<corpus>.pt); "
                                     "the latest state goes beside it as <name>-last.pt")
    train.add_argument("--resume",
                       help="continue from this checkpoint (weights, optimiser, epochs, history "
                            "and settings; flags given now override); --epochs is the total, "
                            "so ask for more than it has done. Without --out, x-last.pt "
                            "resumes into x.pt and x-last.pt")
    train.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    train.add_argument("--json", action="store_true", help="JSON lines on stdout, nothing else")

    gen = sub.add_parser("generate", help="generate lyrics from a checkpoint",
                         description="Generate text token by token. Unknown prompt words are "
                                     "read as <unk> (with a warning).")
    gen.add_argument("--checkpoint", help="checkpoint file (default: the newest in checkpoints/)")
    gen.add_argument("--prompt", default="", help="start text (empty: start a new line)")
    gen.add_argument("--length", type=int, default=100,
                     help="max tokens; above 10,000 is capped with a note (default 100)")
    gen.add_argument("--temperature", type=_float, default=0.8,
                     help=">= 0; 0 is greedy; above 100 is capped (default 0.8)")
    gen.add_argument("--top-k", type=int, default=0,
                     help="keep the k likeliest; 0 or more than the vocabulary: off (default 0)")
    gen.add_argument("--top-p", type=_float, default=1.0,
                     help="keep the likeliest words holding this mass, 0..1 (1: off)")
    gen.add_argument("--repetition-penalty", type=_float, default=1.0, help="1 (off) to 10")
    gen.add_argument("--seed", type=int, help="0..4294967295; same seed, same text")
    gen.add_argument("--lines", type=int, default=0, help="stop after N lines (0: no limit)")
    gen.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                     help="cpu runs numpy (fastest at batch 1)")
    gen.add_argument("--json", action="store_true")

    ev = sub.add_parser("eval", help="perplexity of a text under a checkpoint")
    ev.add_argument("--checkpoint", required=True, help="checkpoint file")
    ev.add_argument("--text", required=True,
                    help="text file to score (words outside the vocabulary count as <unk>)")
    ev.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ev.add_argument("--json", action="store_true")

    from lyrics_tui.tui.cli_inspect import add_inspect_commands

    add_inspect_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # numpy's BLAS threads only slow the matrix-vector products of generation (measured:
    # 132 us vs 2,045 us per step at hidden 256 on 2 busy cores); torch keeps its own threads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already reported in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.command == "train":
            return cmd_train(args)
        if args.command == "generate":
            return cmd_generate(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command is not None:
            from lyrics_tui.tui.cli_inspect import run_inspect_command

            return run_inspect_command(args)
        return cmd_playground(args)
    except LyricsError as exc:
        print(f"lyrics-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("lyrics-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


# -- train ---------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from lyrics_tui.core.corpus import BUNDLED_CORPUS, read_corpus
    from lyrics_tui.core.config import resolve_settings
    from lyrics_tui.core.paths import default_checkpoint_path

    corpus = read_corpus(args.corpus or BUNDLED_CORPUS)
    model_over = {"cell": args.cell, "embed": args.embed, "hidden": args.hidden,
                  "layers": args.layers, "dropout": args.dropout, "tie_weights": args.tie_weights}
    train_over = {"tokenizer": args.tokenizer, "min_count": args.min_count,
                  "max_vocab": args.max_vocab, "epochs": args.epochs,
                  "time_budget": args.time_budget, "batch_size": args.batch_size,
                  "bptt": args.bptt, "lr": args.lr, "optimizer": args.optimizer,
                  "weight_decay": args.weight_decay, "clip": args.clip,
                  "schedule": args.schedule, "threads": args.threads,
                  "precision": args.precision, "seed": args.seed,
                  "val_fraction": args.val_fraction}
    model_cfg, train_cfg = resolve_settings(args.preset, model_over, train_over)

    from lyrics_tui.core.checkpoint import load_checkpoint
    from lyrics_tui.core.config import validate
    from lyrics_tui.core.device import resolve_device
    from lyrics_tui.core.trainer import TrainingRun
    from dataclasses import replace

    resume = None
    if args.resume:
        resume = load_checkpoint(args.resume)
        # the stored settings, with only the flags given now on top
        train_cfg = replace(resume.train_config,
                            **{k: v for k, v in train_over.items() if v is not None})
        model_cfg = resume.model_config
        validate(model_cfg, train_cfg)
    if args.val_file:
        val_lines = read_corpus(args.val_file).lines
        train_lines = corpus.lines
    else:
        train_lines, val_lines = corpus.split(train_cfg.val_fraction)
    device = resolve_device(args.device)
    if args.out:
        out = Path(args.out)
    elif args.resume:  # resuming from x-last.pt: the best still goes to x.pt, the latest to x-last.pt
        out = Path(args.resume)
        if out.stem.endswith("-last"):
            out = out.with_name(out.stem[: -len("-last")] + out.suffix)
    else:
        out = default_checkpoint_path(corpus.path)
    from lyrics_tui.core.checkpoint import check_writable

    check_writable(out)  # an unwritable --out fails now, not after the training
    view = JsonTrainView() if args.json else ConsoleTrainView()
    run = TrainingRun(train_lines, val_lines, model_cfg, train_cfg, out_path=out, resume=resume,
                      device=device, sink=view, corpus_name=corpus.path)
    interrupted = {"hit": False}

    def on_sigint(signum, frame):  # first Ctrl+C: stop after this batch and save
        if interrupted["hit"]:
            raise KeyboardInterrupt
        interrupted["hit"] = True
        run.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        finished = run.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        view.close()
    if args.json:
        _emit({"event": "done", "best_val_ppl": finished.best_val_ppl,
               "checkpoint": finished.best_checkpoint, "last_checkpoint": finished.last_checkpoint,
               "reason": finished.reason, "epochs": finished.epochs})
    if finished.message:
        print(f"lyrics-tui: {finished.message}", file=sys.stderr)
    if interrupted["hit"]:
        return EXIT_INTERRUPTED
    return 1 if finished.reason in ("diverged", "failed") else 0


class JsonTrainView:
    def __call__(self, event) -> None:
        from lyrics_tui.core.events import EpochFinished

        if isinstance(event, EpochFinished):
            _emit({"event": "epoch", "epoch": event.epoch, "train_loss": event.train_loss,
                   "val_loss": event.val_loss, "val_ppl": event.val_ppl,
                   "tokens_per_s": event.tokens_per_s, "elapsed_s": event.elapsed_s,
                   "lr": event.lr})

    def close(self) -> None:
        pass


class ConsoleTrainView:
    """Rich progress bar per epoch and one summary line per epoch."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=False, highlight=False)
        self.progress = None
        self.task = None

    def __call__(self, event) -> None:
        from lyrics_tui.core import events as E

        if isinstance(event, E.TrainingStarted):
            resumed = f", resuming after epoch {event.start_epoch}" if event.start_epoch else ""
            self.console.print(
                f"vocabulary {event.vocab_size:,} · train {event.train_tokens:,} tokens · "
                f"validation {event.val_tokens:,} tokens ({event.unknown_rate:.1%} <unk>) · "
                f"{event.parameters:,} parameters · {event.device} {event.precision}, "
                f"{event.threads} thread(s)"
                f"{resumed}")
        elif isinstance(event, E.BatchFinished):
            self._progress(event)
        elif isinstance(event, E.EpochFinished):
            self._close_progress()
            val = (f"val loss {event.val_loss:.3f}  ppl {event.val_ppl:8.1f}"
                   if event.val_loss is not None else "no validation")
            best = " *" if event.is_best else ""
            self.console.print(
                f"epoch {event.epoch:3d}  train loss {event.train_loss:.3f}  {val}  "
                f"{event.tokens_per_s:8,.0f} tok/s  {event.elapsed_s:6.1f}s  lr {event.lr:.2g}{best}")
        elif isinstance(event, E.TrainingPaused):
            self.console.print("paused")
        elif isinstance(event, E.TrainingFinished):
            self._close_progress()
            best = f"best validation perplexity {event.best_val_ppl:.1f}" if event.best_val_ppl else ""
            self.console.print(f"{event.reason} after {event.epochs} epoch(s). {best}")
            if event.best_checkpoint:
                self.console.print(f"best checkpoint: {event.best_checkpoint}")
            if event.last_checkpoint:
                self.console.print(f"latest (resumable): {event.last_checkpoint}")

    def _progress(self, event) -> None:
        if not self.console.is_terminal:
            return
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeRemainingColumn)

        if self.progress is None:
            self.progress = Progress(TextColumn(f"epoch {event.epoch}"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.3f}"),
                                     TimeRemainingColumn(), console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("", total=event.batches, loss=event.loss)
        self.progress.update(self.task, completed=event.batch, loss=event.loss)

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def close(self) -> None:
        self._close_progress()


# -- generate ------------------------------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from lyrics_tui.core.paths import newest_checkpoint
    from lyrics_tui.core.sampling import Sampler, SamplerSettings
    from lyrics_tui.core.tokens import Tokenizer

    path = args.checkpoint or newest_checkpoint()
    if path is None:
        raise LyricsError("no checkpoint given and none in checkpoints/; train one first: "
                          "lyrics-tui train")
    settings = SamplerSettings(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                               repetition_penalty=args.repetition_penalty, seed=args.seed,
                               max_tokens=args.length, max_lines=args.lines)
    settings.validated()  # refuse bad values before loading anything
    if args.device == "cpu":
        from lyrics_tui.core.fastload import read_checkpoint
        from lyrics_tui.core.steppers import NumpyStepper

        checkpoint = read_checkpoint(str(path))
        try:
            stepper = NumpyStepper(checkpoint.model_config, checkpoint.model_state)
        except (KeyError, ValueError, TypeError):
            from lyrics_tui.core.checkpoint import weights_mismatch

            raise weights_mismatch(path, checkpoint.model_config) from None
    else:
        from lyrics_tui.core.checkpoint import load_checkpoint
        from lyrics_tui.core.device import resolve_device
        from lyrics_tui.core.evaluate import model_from_checkpoint
        from lyrics_tui.core.steppers import TorchStepper

        device = resolve_device(args.device)
        checkpoint = load_checkpoint(str(path), map_location=device)
        stepper = TorchStepper(model_from_checkpoint(checkpoint, device))
    sampler = Sampler(stepper, checkpoint.vocab, Tokenizer(checkpoint.train_config.tokenizer))
    generation = sampler.generate(args.prompt, settings)
    for warning in generation.warnings:
        print(f"lyrics-tui: warning: {warning}", file=sys.stderr)
    out = sys.stdout
    if not args.json and args.prompt:
        out.write(args.prompt)
        out.flush()
    count = 0
    first_at = None
    gen_start = time.perf_counter()
    for token in generation:
        count += 1
        if args.json:
            _emit({"event": "token", "token": token.text, "prob": token.prob})
        else:
            out.write(token.text)
            out.flush()
        if first_at is None:
            first_at = time.perf_counter() - started
    spent = time.perf_counter() - gen_start
    rate = count / spent if spent > 0 else 0.0
    if args.json:
        _emit({"event": "done", "text": generation.text, "tokens": count, "tokens_per_s": rate,
               "seed": generation.seed, "first_token_s": first_at})
    else:
        if not generation.text.endswith("\n"):
            out.write("\n")
        print(f"[{count} tokens, seed {generation.seed}, {rate:,.0f} tokens/s]", file=sys.stderr)
    return 0


# -- eval ----------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from lyrics_tui.core.checkpoint import load_checkpoint
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.device import resolve_device
    from lyrics_tui.core.evaluate import evaluate_lines

    device = resolve_device(args.device)
    checkpoint = load_checkpoint(args.checkpoint, map_location=device)
    text = read_corpus(args.text)
    result = evaluate_lines(checkpoint, text.lines, device)
    if args.json:
        _emit({"perplexity": result.perplexity, "tokens": result.tokens, "unknown": result.unknown,
               "loss": result.loss})
    else:
        print(f"perplexity {result.perplexity:.2f} over {result.tokens:,} tokens "
              f"({result.unknown:,} unknown, scored as <unk>); loss {result.loss:.4f} nats/token")
    return 0


# -- playground ----------------------------------------------------------------------------
def cmd_playground(args: argparse.Namespace) -> int:
    try:
        from lyrics_tui.tui.app import run_playground
    except ImportError:
        print("lyrics-tui: the playground is not built yet; use lyrics-tui train | generate | eval",
              file=sys.stderr)
        return EXIT_USAGE
    return run_playground(args)


if __name__ == "__main__":
    sys.exit(main())
