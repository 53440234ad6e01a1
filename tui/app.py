"""The playground: `lyrics-tui` with no subcommand.

One screen: training panel (live loss plot, a line per epoch, in-epoch progress), settings form
and prompt pane. Training runs in a Textual thread worker calling core.trainer.TrainingRun;
its events arrive here as messages. Generation runs in another thread worker over a numpy copy
of the very weights being trained (or of a loaded checkpoint) and posts one token at a time.

Start-up stays light: torch is imported only inside the training/saving workers, and a
checkpoint is read with core.fastload (numpy) after the first frame, so the first frame is not
held up and generation works as soon as the checkpoint is read.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from lyrics_tui.core import tuning
from lyrics_tui.core.corpus import BUNDLED_CORPUS
from lyrics_tui.core.errors import LyricsError, SettingsError
from lyrics_tui.core.paths import checkpoint_dir as default_checkpoint_dir
from lyrics_tui.core.paths import list_checkpoints, safe_stem
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.keybar import KeyBar
from lyrics_tui.tui.messages import (
    CheckpointLoaded,
    GenerationDone,
    GenerationStarted,
    Problem,
    Saved,
    TokenGenerated,
    TrainEvent,
    TrainingFailed,
    TrainingReady,
    TrainingThreadDone,
)
from lyrics_tui.tui.panels import (
    SAMPLER_DEFAULTS,
    PromptPane,
    SettingsPanel,
    TrainingPanel,
)
from lyrics_tui.tui.screens import HelpScreen, LoadScreen, WriteScreen

QUIT_WAIT_S = 0.3  # how long quitting waits for the workers to wind down (see action_quit)
SNAPSHOT_EVERY_S = 1.0  # the trainer thread refreshes the generation snapshot this often
PROGRESS_EVERY_S = 0.25  # the in-epoch progress line is redrawn at most this often
WIDE_COLUMNS = 110  # from this width the settings form stays open beside the panels
SHORT_ROWS = 20  # below this the two panels share the height instead of fixed sizes
TEMPERATURE_MAX = 5.0
TEMPERATURE_KEYS = Binding.Group("Temp")


@dataclass
class LoadedModel:
    checkpoint: Any  # core.checkpoint.Checkpoint with numpy weights
    stepper: Any  # core.steppers.NumpyStepper


def _display_path(path: str | Path) -> str:
    """A path relative to the working folder when it is inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


class PlaygroundApp(App[int]):
    """The playground. Constructor arguments let tests and benchmarks use tiny settings."""

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))  # absolute: subclasses live elsewhere
    TITLE = "lyrics-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "t",
            "train",
            "Train",
            tooltip="start training (continues the model if trained on this corpus)",
        ),
        Binding("space", "pause", "Pause", tooltip="pause or resume training"),
        Binding("x", "stop", "Stop", tooltip="stop training after this batch"),
        Binding("s", "save", "Save", tooltip="save a checkpoint named with epoch and val ppl"),
        Binding("l", "load", "Load", tooltip="load a checkpoint (list, path or file tree)"),
        Binding(
            "R",
            "reset",
            "Reset",
            key_display="R",
            tooltip="forget the model and start afresh (shift+r)",
        ),
        Binding(
            "slash",
            "focus_prompt",
            "Prompt",
            key_display="/",
            tooltip="type a start text; Enter generates",
        ),
        Binding("g", "generate", "Generate", tooltip="generate with a new seed"),
        Binding("r", "regenerate", "Same seed", tooltip="generate again with the last seed"),
        Binding("escape", "stop_generation", "Stop gen", tooltip="stop generating"),
        Binding(
            "minus",
            "temperature(-0.1)",
            "Temperature -0.1",
            key_display="-",
            group=TEMPERATURE_KEYS,
            tooltip="lower the temperature by 0.1",
        ),
        Binding(
            "plus,equals_sign",
            "temperature(0.1)",
            "Temperature +0.1",
            key_display="+",
            group=TEMPERATURE_KEYS,
            tooltip="raise the temperature by 0.1",
        ),
        Binding("c", "copy", "Copy", tooltip="copy the output to the clipboard (OSC 52)"),
        Binding("w", "write", "Write", tooltip="write the output to a file"),
        Binding(
            "i",
            "inspect",
            "Inspect",
            tooltip="look inside the model: step-through, scores, neighbours, hidden state",
        ),
        Binding("o", "settings", "Settings", tooltip="show or hide the settings form"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="all keys"),
        Binding("q", "quit", "Quit", tooltip="quit (stops training first)"),
        Binding(
            "ctrl+c",
            "quit",
            "Quit",
            key_display="^c",
            priority=True,
            tooltip="quit, from anywhere (also while typing)",
        ),
    ]

    def __init__(
        self,
        corpus: str | None = None,
        checkpoint: str | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        preset: str = "default",
        model_overrides: dict[str, Any] | None = None,
        train_overrides: dict[str, Any] | None = None,
        sampler: dict[str, Any] | None = None,
        temperature: float = 0.8,
        device: str = "auto",
        open_newest: bool = True,
    ) -> None:
        super().__init__()
        self.corpus_path = str(corpus) if corpus else _display_path(BUNDLED_CORPUS)
        self.corpus_given = corpus is not None  # --corpus wins over a checkpoint opened at launch
        self.checkpoint_arg = str(checkpoint) if checkpoint else None
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else default_checkpoint_dir()
        self.preset = preset
        self.model_overrides = dict(model_overrides or {})
        self.train_overrides = dict(train_overrides or {})
        self.initial_sampler = dict(sampler or {})
        self.temperature = temperature
        self.device = device
        self.open_newest = open_newest
        # training state: idle | starting | training | pausing | paused | stopping
        self.train_state = "idle"
        self.current_run: Any = None  # the TrainingRun owning the model (live or finished)
        self._active_run: Any = None  # the run whose thread is running, if any
        self._run_id = 0
        self._stop_requested = False
        self.history: list[dict[str, Any]] = []
        self.run_info = ""
        self.loaded: LoadedModel | None = None
        self.dirty = False
        self._reset_armed_at = 0.0
        self._snap: tuple[Any, int, float, dict[str, Any]] | None = None
        self._snap_lock = threading.Lock()
        # generation state
        self.gen_id = 0
        self.generating = False
        self._gen_stop: threading.Event | None = None
        self.prompt_text = ""
        self.generated: list[str] = []
        self.last_seed: int | None = None
        self.gen_note = ""
        self._output_pending = False
        self._quitting = False
        self._settings_open: bool | None = None  # None: follow the terminal width
        self.last_event_at = 0.0
        self.first_frame_at: float | None = None
        self.ready = False  # True once the parts mounted after the first frame are there
        self.tokenizer_ready = False  # jieba's dictionary is loaded (see _warm_up)
        self._progress_drawn = 0.0
        self.train_done: list[threading.Event] = []  # one per training thread, set when it ends

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        self._apply_width(self.size.width)  # before the widgets exist: no restyle of the tree
        yield Static("", id="status")
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield TrainingPanel(id="train-panel")
                yield PromptPane(id="prompt-pane")
            sampler = {**{k: v for k, v in self.initial_sampler.items()}}
            yield SettingsPanel(
                self.corpus_path,
                self.preset,
                self.model_overrides,
                self.train_overrides,
                sampler,
                id="settings",
            )
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self._show_sampler()
        self._show_output()
        self._refresh_status()
        self.query_one("#output-scroll").focus()
        self.call_after_refresh(self._after_first_frame)

    async def _after_first_frame(self) -> None:
        """What the first frame need not wait for: the plot, the settings form, jieba, and
        the checkpoint."""
        self.first_frame_at = time.perf_counter()
        self._warm_up()
        adopt = not self.corpus_given
        if self.checkpoint_arg:
            self._load_worker(self.checkpoint_arg, quiet=False, adopt_corpus=adopt)
        elif self.open_newest:
            newest = list_checkpoints(self.checkpoint_dir)
            if newest:
                self._load_worker(str(newest[0]), quiet=False, adopt_corpus=adopt)
        if not Path(self.corpus_path).expanduser().exists():
            self.notify(
                f"{self.corpus_path}: no such file (set the corpus in Settings, o)",
                severity="error",
            )
        await self.query_one(TrainingPanel).mount_plot()
        await self.settings.fill()
        self.call_after_refresh(self._set_ready)

    def _set_ready(self) -> None:
        self.ready = True

    @work(thread=True, group="warm", exit_on_error=False)
    def _warm_up(self) -> None:
        """Load jieba's dictionary now (0.3-0.4 s from its cache) so that the first Enter
        does not wait for it."""
        from lyrics_tui.core.tokens import warm_up

        try:
            warm_up("word")
            self.tokenizer_ready = True
        except Exception:
            pass

    def on_resize(self, event: Any) -> None:
        self._apply_width(event.size.width, event.size.height)

    def _apply_width(self, width: int, height: int | None = None) -> None:
        """Layout classes on the screen; changed only when they differ (each change restyles
        the whole tree)."""
        screen = self.screen
        wide = width >= WIDE_COLUMNS
        short = (height if height is not None else self.size.height) < SHORT_ROWS
        is_open = self._settings_open if self._settings_open is not None else wide
        wanted = {"-wide": wide, "-narrow": not wide, "-settings-open": is_open, "-short": short}
        if all(screen.has_class(name) == on for name, on in wanted.items()):
            return
        screen.remove_class(*[name for name, on in wanted.items() if not on])
        screen.add_class(*[name for name, on in wanted.items() if on])

    # -- helpers -------------------------------------------------------------------------
    @property
    def settings(self) -> SettingsPanel:
        return self.query_one(SettingsPanel)

    @property
    def has_model(self) -> bool:
        return self.current_run is not None or self.loaded is not None

    @property
    def training_active(self) -> bool:
        return self.train_state != "idle"

    def _set_state(self, state: str) -> None:
        self.train_state = state
        try:
            self.settings.lock_training(state != "idle")
        except Exception:
            pass
        self._refresh_status()
        self.refresh_bindings()

    def _model_description(self, model_config: Any, vocab_size: int) -> str:
        c = model_config
        return f"{c.cell} {c.embed}→{c.hidden}×{c.layers} · vocab {vocab_size:,}"

    def _refresh_status(self) -> None:
        state = self.train_state
        corpus = Path(self.corpus_path).name
        if state == "starting":
            text = f"preparing: loading torch, tokenising {corpus}…"
        elif state in ("training", "pausing", "stopping"):
            run = self.current_run
            epochs = run.train_config.epochs if run is not None else 0
            epoch = (run.epoch + 1) if run is not None else 0
            word = {"training": "training", "pausing": "pausing…", "stopping": "stopping…"}[state]
            text = f"{word} · epoch {epoch}/{epochs} · {self.run_info}"
        elif state == "paused":
            text = f"paused · space resumes · {self.run_info}"
        elif self.current_run is not None:
            best = min(
                (h["val_ppl"] for h in self.history if h.get("val_ppl") is not None), default=None
            )
            text = (
                f"trained {self.current_run.epoch} epoch(s) · best val ppl {fmt.ppl(best)} · "
                f"{self.run_info}" + (" · unsaved (s saves)" if self.dirty else "")
            )
        elif self.loaded is not None:
            ck = self.loaded.checkpoint
            text = (
                f"model {Path(ck.path).name} · epoch {ck.epoch} · val ppl "
                f"{fmt.ppl(ck.val_ppl)} · "
                f"{self._model_description(ck.model_config, len(ck.vocab))}"
            )
        else:
            text = f"no model yet · t trains on {corpus} · l loads a checkpoint · ? help"
        if self.generating:
            text = "generating · " + text
        try:
            self.query_one("#status", Static).update(text)
        except Exception:
            pass

    def _show_sampler(self) -> None:
        try:
            sampler = self.settings.read_sampler()
        except LyricsError:
            sampler = dict(SAMPLER_DEFAULTS)
        self.query_one(PromptPane).show_sampler(self.temperature, sampler, self.last_seed)

    def _show_output(self) -> None:
        if not self.prompt_text and not self.generated:
            if self.has_model:
                hint = "Press / and type a start word, then Enter; g generates with a new seed."
            elif self.training_active:
                hint = (
                    "Training… as soon as the first batches are done, / then Enter "
                    "generates from the weights being trained."
                )
            else:
                hint = "No model yet: press t to train one, or l to load a checkpoint."
            self.query_one(PromptPane).show_output("", [], hint)
            return
        self.query_one(PromptPane).show_output(self.prompt_text, self.generated, self.gen_note)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """As App.notify, but plain text by default: paths and <unk> are not markup."""
        super().notify(
            message,
            title=title,
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    def error(self, text: str) -> None:
        self.notify(text, severity="error", timeout=8)

    # -- bindings: visibility follows the state, so the footer shows what applies now --------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        state = self.train_state
        if action == "train":
            return state == "idle"
        if action in ("pause", "stop"):
            return state != "idle"
        if action == "save":
            return self.current_run is not None
        if action == "load":
            return state == "idle"
        if action == "reset":
            return state == "idle" and (self.has_model or bool(self.history))
        if action == "generate":
            return self.has_model
        if action == "temperature":
            return True
        if action == "regenerate":
            return self.has_model and self.last_seed is not None
        if action in ("copy", "write"):
            return bool(self.generated or self.prompt_text)
        if action == "stop_generation":
            return self.generating
        if action == "inspect":
            return self.has_model
        return True

    @classmethod
    def binding_rows(cls) -> Iterator[tuple[str, str, str, str]]:
        """(keys, action, description, more) for every binding: the help screen's table."""
        names = {"slash": "/", "question_mark": "?", "equals_sign": "=", "minus": "-", "plus": "+"}
        for b in cls.BINDINGS:
            binding = b if isinstance(b, Binding) else Binding(*b)
            keys = ", ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))
            yield keys, binding.action, binding.description, binding.tooltip
        yield "up, down", "temperature", "T+ / T-", "in the start-text field"
        yield "tab", "focus", "Next area", "shift+tab goes back"
        yield "ctrl+p", "command_palette", "Commands", "every action by name"

    def get_system_commands(self, screen: Screen) -> Iterator[SystemCommand]:
        seen = set()
        for b in self.BINDINGS:
            binding = b if isinstance(b, Binding) else Binding(*b)
            if binding.action in seen:
                continue
            seen.add(binding.action)
            title = f"{binding.description} ({binding.key_display or binding.key.split(',')[0]})"
            yield SystemCommand(
                title,
                binding.tooltip or binding.description,
                lambda action=binding.action: self.call_later(self.run_action, action),
            )
        yield from super().get_system_commands(screen)

    # -- training ------------------------------------------------------------------------
    def action_train(self) -> None:
        if self.training_active:
            self.notify("training is already running", severity="warning")
            return
        try:
            preset, model_over, train_over = self.settings.read_training()
            from lyrics_tui.core.config import resolve_settings

            resolve_settings(preset, model_over, train_over)
        except LyricsError as exc:
            self.error(str(exc))
            return
        corpus = self.settings.corpus or str(BUNDLED_CORPUS)
        self.corpus_path = corpus
        resume: tuple[str, Any] | None = None
        trained_on = ""
        if self.current_run is not None:
            resume = ("run", self.current_run)
            trained_on = self.current_run.corpus_name
        elif self.loaded is not None:
            resume = ("path", self.loaded.checkpoint.path)
            trained_on = self.loaded.checkpoint.corpus
        if resume is not None and trained_on and not _same_corpus(trained_on, corpus):
            # its vocabulary comes from another corpus: continuing would make most words <unk>
            resume = None
            self.notify(
                f"training a new model on {Path(corpus).name}: the current one was "
                f"trained on {Path(trained_on).name}"
            )
        self._run_id += 1
        self._stop_requested = False
        self._set_state("starting")
        self._show_output()
        self.query_one(TrainingPanel).set_progress("epoch -", 0, 1, "preparing…")
        self._train_worker(self._run_id, corpus, preset, model_over, train_over, resume)

    @work(thread=True, group="train", exit_on_error=False)
    def _train_worker(
        self,
        run_id: int,
        corpus_path: str,
        preset: str,
        model_over: dict,
        train_over: dict,
        resume: tuple[str, Any] | None,
    ) -> None:
        done = threading.Event()
        self.train_done.append(done)
        try:
            from lyrics_tui.core.config import resolve_settings
            from lyrics_tui.core.corpus import read_corpus
            from lyrics_tui.core.resume import plan_continuation

            corpus = read_corpus(Path(corpus_path).expanduser())
            model_cfg, train_cfg = resolve_settings(preset, model_over, train_over)
            if self._quitting or self._stop_requested:
                return
            from lyrics_tui.core.device import resolve_device
            from lyrics_tui.core.trainer import TrainingRun  # imports torch: after the first frame

            device = resolve_device(self.device)
            checkpoint, note = None, ""
            if resume is not None:
                kind, source = resume
                if kind == "run":
                    checkpoint = source.checkpoint()
                else:
                    from lyrics_tui.core.checkpoint import load_checkpoint

                    checkpoint = load_checkpoint(source)
                plan = plan_continuation(checkpoint, train_over, more_epochs=train_cfg.epochs)
                model_cfg, train_cfg, note = plan.model_config, plan.train_config, plan.note
            train_lines, val_lines = corpus.split(train_cfg.val_fraction)
            if self._quitting or self._stop_requested:
                return
            out = self.checkpoint_dir / f"{safe_stem(corpus.path)}.pt"
            run = TrainingRun(
                train_lines,
                val_lines,
                model_cfg,
                train_cfg,
                out_path=out,
                resume=checkpoint,
                device=device,
                sink=lambda event: self._sink(run_id, event),
                corpus_name=corpus.path,
            )
            self._active_run = run
            self.post_message(TrainingReady(run, run_id, note))
            if self._quitting or self._stop_requested:
                run.stop()
            finished = run.run()
            if finished.message:
                failed = finished.reason in ("diverged", "failed")
                self.post_message(Problem(finished.message, "error" if failed else "warning"))
        except LyricsError as exc:
            self.post_message(TrainingFailed(str(exc), run_id))
        except Exception as exc:
            self.post_message(
                TrainingFailed(f"training failed: {type(exc).__name__}: {exc}", run_id)
            )
        finally:
            self._active_run = None
            self.post_message(TrainingThreadDone(run_id))
            done.set()

    def _sink(self, run_id: int, event: Any) -> None:
        """Called in the trainer thread between batches: forward, and refresh the snapshot."""
        from lyrics_tui.core.events import BatchFinished

        run = self._active_run
        if isinstance(event, BatchFinished) and run is not None:
            snap = self._snap
            if snap is None or snap[0] is not run or time.monotonic() - snap[2] >= SNAPSHOT_EVERY_S:
                state = {k: v.numpy() for k, v in run.snapshot_state().items()}
                self._snap = (run, run.step, time.monotonic(), state)
        self.post_message(TrainEvent(event, run_id))

    @on(TrainingReady)
    def _on_training_ready(self, message: TrainingReady) -> None:
        if message.run_id != self._run_id:
            return
        run = message.run
        self.current_run = run
        self.loaded = None
        self.history = list(run.history)
        self.query_one(TrainingPanel).set_history(self.history)
        self._show_output()
        self.refresh_bindings()
        if message.note:
            self.notify(message.note)

    @on(TrainEvent)
    def _on_train_event(self, message: TrainEvent) -> None:
        from lyrics_tui.core import events as E

        if message.run_id != self._run_id:
            return
        event = message.event
        self.last_event_at = time.perf_counter()
        panel = self.query_one(TrainingPanel)
        if isinstance(event, E.TrainingStarted):
            run = self.current_run
            desc = self._model_description(run.model_config, event.vocab_size) if run else ""
            self.run_info = (
                f"{desc} · {event.parameters / 1e6:.2f}M params · "
                f"{event.device}, {event.threads} thread(s)"
            )
            if self.train_state in ("starting",):
                self._set_state("training")
            unknown = f"{event.unknown_rate:.1%} of validation tokens are <unk>"
            panel.border_subtitle = (
                f"{event.train_tokens:,} train tokens · {event.val_tokens:,} val · {unknown}"
            )
        elif isinstance(event, E.BatchFinished):
            now = time.monotonic()
            if now - self._progress_drawn < PROGRESS_EVERY_S and event.batch < event.batches:
                return  # the next one will show; the end of an epoch always does
            self._progress_drawn = now
            panel.set_progress(
                f"epoch {event.epoch}",
                event.batch,
                event.batches,
                f"{event.batch}/{event.batches} · loss {event.loss:.3f} · "
                f"ETA {fmt.duration(event.eta_s)} · {fmt.rate(event.tokens_per_s)} tok/s",
            )
        elif isinstance(event, E.EpochFinished):
            self.history.append(event.to_dict())
            self.dirty = True
            panel.set_history(self.history)
            self._refresh_status()
        elif isinstance(event, E.CheckpointSaved):
            panel.border_subtitle = f"autosaved epoch {event.epoch} → {_display_path(event.path)}"
        elif isinstance(event, E.TrainingPaused):
            self._set_state("paused")
        elif isinstance(event, E.TrainingResumed):
            if self.train_state in ("paused", "training"):
                self._set_state("training")
        elif isinstance(event, E.TrainingFinished):
            best = fmt.ppl(event.best_val_ppl)
            if event.reason not in ("diverged", "failed"):
                self.notify(
                    f"training {event.reason} after {event.epochs} epoch(s); best val ppl {best}"
                )

    @on(TrainingFailed)
    def _on_training_failed(self, message: TrainingFailed) -> None:
        self.error(message.text)

    @on(TrainingThreadDone)
    def _on_training_done(self, message: TrainingThreadDone) -> None:
        if message.run_id != self._run_id:
            return
        self._set_state("idle")
        self.query_one(TrainingPanel).set_progress("epoch -", 0, 1, "")
        self._show_output()

    def action_pause(self) -> None:
        run = self._active_run
        if run is None:
            self.notify("nothing to pause yet", severity="warning")
            return
        if run.paused:
            run.resume()
            self._set_state("training")
        else:
            run.pause()
            self._set_state("pausing")

    def action_stop(self) -> None:
        self._stop_requested = True
        run = self._active_run
        if run is not None:
            run.stop()
        if self.train_state != "idle":
            self._set_state("stopping")

    # -- checkpoints ---------------------------------------------------------------------
    def action_save(self) -> None:
        run = self.current_run
        if run is None:
            if self.loaded is not None:
                self.notify(f"this model is already saved in {self.loaded.checkpoint.path}")
            else:
                self.notify("nothing to save yet: train a model first (t)", severity="warning")
            return
        last = run.history[-1] if run.history else None
        epoch = last["epoch"] if last else run.epoch
        ppl = last.get("val_ppl") if last else None
        name = f"{safe_stem(self.corpus_path)}-e{epoch}"
        if ppl is not None and math.isfinite(ppl):
            name += f"-ppl{ppl:.1f}"
        self._save_worker(run, self.checkpoint_dir / f"{name}.pt")

    @work(thread=True, group="save", exit_on_error=False)
    def _save_worker(self, run: Any, path: Path) -> None:
        try:
            saved = run.save(path)
            self.post_message(Saved(saved))
        except LyricsError as exc:
            self.post_message(Problem(str(exc)))
        except Exception as exc:
            self.post_message(Problem(f"{path}: checkpoint not saved ({type(exc).__name__})"))

    @on(Saved)
    def _on_saved(self, message: Saved) -> None:
        if self.current_run is not None and not self.training_active:
            self.dirty = False
        self._refresh_status()
        self.notify(f"saved {_display_path(message.path)}")

    def action_load(self) -> None:
        if self.training_active:
            self.notify("stop training first (x), then load", severity="warning")
            return
        files = list_checkpoints(self.checkpoint_dir)
        start = self.checkpoint_dir if self.checkpoint_dir.is_dir() else Path.cwd()

        def chosen(path: str | None) -> None:
            if path:
                self._load_worker(path, quiet=False)

        self.push_screen(LoadScreen(files, start), chosen)

    @work(thread=True, group="load", exit_on_error=False)
    def _load_worker(self, path: str, quiet: bool, adopt_corpus: bool = True) -> None:
        try:
            from lyrics_tui.core.loading import open_checkpoint
            from lyrics_tui.core.tokens import warm_up

            opened = open_checkpoint(path)
            checkpoint, stepper = opened.checkpoint, opened.stepper
            warm_up(checkpoint.train_config.tokenizer)
            if checkpoint.train_config.tokenizer == "word":
                self.tokenizer_ready = True
            self.post_message(CheckpointLoaded(checkpoint, stepper, quiet, adopt_corpus))
        except LyricsError as exc:
            self.post_message(Problem(str(exc)))
        except Exception as exc:
            self.post_message(Problem(f"{path}: not a readable checkpoint ({type(exc).__name__})"))

    @on(CheckpointLoaded)
    def _on_checkpoint_loaded(self, message: CheckpointLoaded) -> None:
        if self.training_active:
            self.notify("a checkpoint finished loading while training; ignored", severity="warning")
            return
        ck = message.checkpoint
        self.loaded = LoadedModel(ck, message.stepper)
        self.current_run = None
        self._snap = None
        self.dirty = False
        self.history = list(ck.history)
        if (
            message.adopt_corpus
            and ck.corpus
            and Path(ck.corpus).expanduser().is_file()
            and not _same_corpus(ck.corpus, self.settings.corpus)
        ):
            # t continues this model, so the form shows the corpus it was trained on
            self.corpus_path = ck.corpus
            self.settings.set_corpus(ck.corpus)
        panel = self.query_one(TrainingPanel)
        panel.set_history(self.history)
        panel.border_subtitle = f"loaded {_display_path(ck.path)}"
        self._refresh_status()
        self._show_output()
        self.refresh_bindings()
        if not message.quiet:
            self.notify(
                f"loaded {Path(ck.path).name}: epoch {ck.epoch}, val ppl "
                f"{fmt.ppl(ck.val_ppl)}, vocabulary {len(ck.vocab):,} — / then Enter "
                "generates"
            )

    def action_reset(self) -> None:
        if self.training_active:
            self.notify("stop training first (x)", severity="warning")
            return
        now = time.monotonic()
        if self.dirty and now - self._reset_armed_at > 3.0:
            self._reset_armed_at = now
            self.notify(
                "the trained model is not saved: press R again to discard it (s saves it)",
                severity="warning",
            )
            return
        self._stop_generation()
        self.current_run = None
        self.loaded = None
        self._snap = None
        self.dirty = False
        self.history = []
        self.run_info = ""
        self.prompt_text, self.generated, self.gen_note = "", [], ""
        self.last_seed = None
        panel = self.query_one(TrainingPanel)
        panel.set_history([])
        panel.border_subtitle = ""
        panel.set_progress("epoch -", 0, 1, "")
        self._show_output()
        self._show_sampler()
        self._refresh_status()
        self.refresh_bindings()
        self.notify("reset: no model; t trains a new one from the settings")

    # -- generation ----------------------------------------------------------------------
    def action_focus_prompt(self) -> None:
        self.query_one("#prompt", Input).focus()

    def action_generate(self) -> None:
        self._start_generation(same_seed=False)

    def action_regenerate(self) -> None:
        self._start_generation(same_seed=True)

    @on(Input.Submitted, "#prompt")
    def _on_prompt_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._start_generation(same_seed=False)
        self.query_one("#output-scroll").focus()

    def _start_generation(self, same_seed: bool) -> None:
        if not self.has_model:
            self.notify(
                "no model yet: press t to train one or l to load a checkpoint", severity="warning"
            )
            return
        try:
            sampler = self.settings.read_sampler()
            from lyrics_tui.core.sampling import SamplerSettings

            seed = self.last_seed if same_seed and self.last_seed is not None else sampler["seed"]
            settings = SamplerSettings(
                temperature=self.temperature,
                top_k=sampler["top_k"],
                top_p=sampler["top_p"],
                seed=seed,
                max_tokens=sampler["max_tokens"],
            )
            settings.validated()
        except LyricsError as exc:
            self.error(str(exc))
            return
        prompt = self.query_one("#prompt", Input).value
        self._stop_generation()
        self.gen_id += 1
        stop = threading.Event()
        self._gen_stop = stop
        self.generating = True
        pace = sampler["pace_ms"] / 1000.0
        try:
            model = self._generation_model(blocking=False)
        except Exception as exc:
            self.generating = False
            self.error(
                str(exc)
                if isinstance(exc, LyricsError)
                else f"generation failed: {type(exc).__name__}: {exc}"
            )
            return
        if model is None:  # the weights must be copied first: all of it in the worker
            self._gen_worker(self.gen_id, stop, pace, prompt=prompt, settings=settings)
            self._refresh_status()
            self.refresh_bindings()
            return
        # Fast path: the first token is computed right here (prompt priming plus one step is a
        # few milliseconds of numpy), so it is on screen in the same frame as the Enter; the
        # worker streams the rest from the same generator.
        from lyrics_tui.core.sampling import Sampler
        from lyrics_tui.core.tokens import Tokenizer

        stepper, vocab, kind, source = model
        try:
            generation = Sampler(stepper, vocab, Tokenizer(kind)).generate(prompt, settings)
            tokens = iter(generation)
            first = next(tokens, None)
        except Exception as exc:
            self.generating = False
            self.error(
                str(exc)
                if isinstance(exc, LyricsError)
                else f"generation failed: {type(exc).__name__}: {exc}"
            )
            return
        # only the output is redrawn before the first token shows; the rest follows
        self.prompt_text, self.generated, self.gen_note = generation.prompt, [], ""
        self.last_seed = generation.seed
        if first is not None:
            self.generated.append(first.text)
        self._flush_tokens()
        self.call_after_refresh(
            self._show_generation_state,
            GenerationStarted(
                self.gen_id, generation.prompt, generation.seed, generation.warnings, source
            ),
        )
        self._gen_worker(self.gen_id, stop, pace, tokens=tokens, count=int(first is not None))

    def _stop_generation(self) -> bool:
        stop = self._gen_stop
        if stop is not None and not stop.is_set() and self.generating:
            stop.set()
            return True
        return False

    def _generation_model(self, blocking: bool = True) -> tuple[Any, Any, str, str] | None:
        """(stepper, vocabulary, tokenizer kind, where the weights come from).

        During training the weights are a numpy copy the trainer thread refreshes every
        SNAPSHOT_EVERY_S (see _sink); a fresh copy waits for the current batch to end, so with
        blocking=False (the UI thread) None is returned when one would be needed, and when
        the tokenizer is not loaded yet.
        """
        from lyrics_tui.core.steppers import NumpyStepper

        run = self.current_run
        if run is not None:
            if not blocking and not self._tokenizer_loaded(run.train_config.tokenizer):
                return None
            snap = self._snap
            live = self._active_run is run and not run.paused
            fresh = (
                snap is not None
                and snap[0] is run
                and (
                    snap[1] == run.step
                    or (live and time.monotonic() - snap[2] < 2 * SNAPSHOT_EVERY_S)
                )
            )
            if not fresh or snap is None:
                if not blocking:
                    return None
                state = {k: v.numpy() for k, v in run.snapshot_state().items()}
                snap = (run, run.step, time.monotonic(), state)
                self._snap = snap
            source = (
                f"live weights at step {snap[1]}" if live else f"trained model, epoch {run.epoch}"
            )
            return (
                NumpyStepper(run.model_config, snap[3]),
                run.vocab,
                run.train_config.tokenizer,
                source,
            )
        loaded = self.loaded
        if loaded is None:
            raise SettingsError("no model yet: press t to train one or l to load a checkpoint")
        ck = loaded.checkpoint
        if not blocking and not self._tokenizer_loaded(ck.train_config.tokenizer):
            return None
        return loaded.stepper, ck.vocab, ck.train_config.tokenizer, Path(ck.path).name

    def _tokenizer_loaded(self, kind: str) -> bool:
        return kind != "word" or self.tokenizer_ready

    @work(thread=True, group="generate", exit_on_error=False)
    def _gen_worker(
        self,
        gen_id: int,
        stop: threading.Event,
        pace: float,
        *,
        prompt: str = "",
        settings: Any = None,
        tokens: Iterator[Any] | None = None,
        count: int = 0,
    ) -> None:
        """Stream tokens one message at a time; prepares the generation itself if not given."""
        try:
            if tokens is None:
                from lyrics_tui.core.sampling import Sampler
                from lyrics_tui.core.tokens import Tokenizer

                model = self._generation_model()
                assert model is not None  # blocking: always a model
                stepper, vocab, kind, source = model
                generation = Sampler(stepper, vocab, Tokenizer(kind)).generate(prompt, settings)
                self.post_message(
                    GenerationStarted(
                        gen_id, generation.prompt, generation.seed, generation.warnings, source
                    )
                )
                tokens = iter(generation)
            elif pace and stop.wait(pace):
                return
            for token in tokens:
                if stop.is_set():
                    break
                self.post_message(TokenGenerated(gen_id, token.text, token.prob))
                count += 1
                if pace and stop.wait(pace):
                    break
        except LyricsError as exc:
            self.post_message(Problem(str(exc)))
        except Exception as exc:
            self.post_message(Problem(f"generation failed: {type(exc).__name__}: {exc}"))
        finally:
            self.post_message(GenerationDone(gen_id, count, stop.is_set()))

    @on(GenerationStarted)
    def _on_generation_started(self, message: GenerationStarted) -> None:
        if message.gen_id != self.gen_id:
            return
        self.prompt_text = message.prompt_text
        self.generated = []
        self.last_seed = message.seed
        self.gen_note = ""
        self._show_output()
        self._show_generation_state(message)

    def _show_generation_state(self, message: GenerationStarted) -> None:
        """Everything about a new generation except its text: source, warnings, seed, keys."""
        if message.gen_id != self.gen_id:
            return
        self.query_one(PromptPane).border_title = f"Generate · {message.source}"
        for warning in message.warnings:
            self.notify(warning, severity="warning")
        self._show_sampler()
        self._refresh_status()
        self.refresh_bindings()

    @on(TokenGenerated)
    def _on_token(self, message: TokenGenerated) -> None:
        if message.gen_id != self.gen_id:
            return
        self.generated.append(message.text)
        if not self._output_pending:  # one redraw for all the tokens queued by now
            self._output_pending = True
            self.call_later(self._flush_tokens)

    def _flush_tokens(self) -> None:
        self._output_pending = False
        self.query_one(PromptPane).show_output(self.prompt_text, self.generated)

    @on(GenerationDone)
    def _on_generation_done(self, message: GenerationDone) -> None:
        if message.gen_id != self.gen_id:
            return
        self.generating = False
        self.gen_note = (
            f"[stopped after {message.tokens} tokens · seed {self.last_seed}]"
            if message.stopped
            else f"[{message.tokens} tokens · seed {self.last_seed} · r repeats it]"
        )
        if self.prompt_text or self.generated:
            self._show_output()
        self._refresh_status()
        self.refresh_bindings()

    def action_temperature(self, delta: float) -> None:
        self.temperature = round(min(TEMPERATURE_MAX, max(0.0, self.temperature + delta)), 2)
        self._show_sampler()

    def action_stop_generation(self) -> None:
        self._stop_generation()

    async def action_leave_field(self) -> None:
        """Esc in a text field: stop a generation first, else give the keys back."""
        if self._stop_generation():
            return
        if self.screen.has_class("-narrow") and self.screen.has_class("-settings-open"):
            await self.action_settings()
        else:
            self.query_one("#output-scroll").focus()

    def action_copy(self) -> None:
        text = self.prompt_text + "".join(self.generated)
        if not text:
            self.notify("nothing to copy yet", severity="warning")
            return
        self.copy_to_clipboard(text)
        self.notify(f"copied {len(text)} characters (OSC 52: your terminal's clipboard)")

    def action_write(self) -> None:
        text = self.prompt_text + "".join(self.generated)
        if not text:
            self.notify("nothing to write yet", severity="warning")
            return
        default = f"lyrics-seed{self.last_seed}.txt" if self.last_seed is not None else "lyrics.txt"

        def chosen(path: str | None) -> None:
            if not path:
                return
            target = Path(path)
            try:
                if target.is_dir():
                    raise IsADirectoryError(21, "is a folder")
                target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            except OSError as exc:
                self.error(f"{path}: not written ({exc.strerror or exc})")
                return
            self.notify(f"wrote {len(text)} characters to {path}")

        self.push_screen(WriteScreen(default), chosen)

    # -- other keys ----------------------------------------------------------------------
    async def action_settings(self) -> None:
        is_open = self.screen.has_class("-settings-open")
        self._settings_open = not is_open
        await self.settings.fill()
        self._apply_width(self.size.width)
        if self._settings_open:
            self.call_after_refresh(lambda: self.query_one("#set-corpus", Input).focus())
        else:
            self.query_one("#output-scroll").focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.binding_rows()))

    def action_inspect(self) -> None:
        """The inspection screen (tui/inspect_screen.py) over the model held now."""
        from lyrics_tui.tui.inspect_screen import InspectScreen, app_settings, app_subject

        self.push_screen(
            InspectScreen(
                lambda: app_subject(self), app_settings(self), checkpoint_folder=self.checkpoint_dir
            )
        )

    @on(Input.Changed)
    def _on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith("set-"):
            self._show_sampler()

    @on(Problem)
    def _on_problem(self, message: Problem) -> None:
        self.notify(message.text, severity=message.severity, timeout=8)

    async def action_quit(self) -> None:
        """Stop the run and any generation, give the threads a moment, then leave."""
        if self._quitting:
            self.exit(0)
            return
        self._quitting = True
        self._stop_requested = True
        # Leaving takes many short turns of the UI thread; while jieba's dictionary loads (or a
        # trainer winds down) each turn waits out the other thread's 5 ms GIL slice.
        tuning.fast_thread_switches()
        run = self._active_run
        if run is not None:
            run.stop()
        self._stop_generation()
        try:
            self.query_one("#status", Static).update("quitting…")
        except Exception:
            pass
        deadline = time.monotonic() + QUIT_WAIT_S
        while time.monotonic() < deadline and self._busy_workers():
            await asyncio.sleep(0.02)
        self._keep_last_epoch()
        self.exit(0)

    def _keep_last_epoch(self) -> None:
        """Quitting while the trainer still winds down (it validates the partial epoch and
        saves, which can take seconds on a big corpus): save the last finished epoch now, so
        leaving at once loses at most the partial epoch. run_playground then exits without
        waiting for the thread."""
        run = self._active_run
        if run is None or run.last_good is None or run.out_path is None:
            return
        try:
            from lyrics_tui.core.paths import last_checkpoint_path

            run.save(last_checkpoint_path(run.out_path))
        except LyricsError:
            pass
        except Exception:
            pass

    def threads_left(self) -> bool:
        """True when a training or saving thread is still running after the app ended."""
        return any(not done.is_set() for done in self.train_done) or any(
            w.group == "save" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
            for w in self.workers
        )

    def _busy_workers(self) -> list[Worker]:
        return [
            w
            for w in self.workers
            if w.group in ("train", "generate", "save", "load")
            and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
        ]


def _same_corpus(a: str, b: str) -> bool:
    """Whether two corpus paths name the same file (by file name when one cannot be found)."""
    first, second = Path(a).expanduser(), Path(b).expanduser()
    try:
        return first.samefile(second)
    except OSError:
        return first.name == second.name
