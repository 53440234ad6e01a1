"""The Runs screen: every recorded training run (docs/runs.md), live.

A view of tui/controllers/runs.py, which reads the run store in its own thread and reports here
(listed, changed, deleted, a checkpoint checked): this screen sorts, filters and draws. Marking a
run overlays its validation curve in the main screen's loss panel (the controller keeps the
marks, so they stay when this screen closes). Enter dismisses the screen with the run's
checkpoint path, which the App loads as `l` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static

from lyrics_tui.core.runs.compare import sort_runs
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.controllers.runs import (
    CheckpointChecked,
    MarksChanged,
    RunDeleted,
    RunsChanged,
    RunsController,
    RunsListed,
    RunsReport,
)
from lyrics_tui.tui.screens.confirm import ConfirmScreen
from lyrics_tui.tui.widgets.key_bar import KeyBar
from lyrics_tui.tui.widgets.loss_plot import OVERLAY_COLORS, OVERLAY_MARKERS
from lyrics_tui.tui.widgets.runs_table import COLUMNS, RunsTable

if TYPE_CHECKING:
    from lyrics_tui.core.runs.records import RunSummary

SORT_ORDER = [c.key for c in COLUMNS if c.key]  # s cycles through the columns in this order
SORT_TITLES = {c.key: c.title for c in COLUMNS if c.key}
# Where a column's sort starts: newest, biggest, longest first; lowest perplexity first.
DESCENDING_FIRST = {"id", "started", "size", "epochs", "time"}


class RunsScreen(ModalScreen[str | None]):
    """The runs table; dismissed with a checkpoint path to open, or None.

    Modal (though it fills the terminal) so that the playground's keys (t trains, ...) do not
    act from under it; Ctrl+C still quits."""

    DEFAULT_CSS = """
    RunsScreen { layout: vertical; background: $background; }
    RunsScreen:ansi { background: ansi_default; }
    RunsScreen #runs-head {
        height: 1; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis;
    }
    RunsScreen #runs-detail { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,u,q", "close", "Close", key_display="esc", tooltip="back"),
        Binding(
            "space,m",
            "mark",
            "Mark",
            key_display="space",
            tooltip="mark or unmark: its validation curve is overlaid in the loss panel",
        ),
        Binding("enter,o", "open", "Open", key_display="⏎", tooltip="open its checkpoint"),
        Binding("s", "sort", "Sort", tooltip="sort by the next column (or click a header)"),
        Binding("r", "reverse", "Reverse", tooltip="reverse the order"),
        Binding("c", "corpus", "Corpus", tooltip="show one corpus's runs, the next, all"),
        Binding(
            "d,delete",
            "delete",
            "Delete",
            key_display="d",
            tooltip="delete the run and its checkpoint files (asks first)",
        ),
    ]

    def __init__(self, controller: RunsController) -> None:
        super().__init__()
        self.controller = controller
        self.sort_key = "started"
        self.descending = True
        self.corpus: str | None = None  # None: every corpus
        self._opening: int | None = None  # the run whose checkpoint was asked for

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-head", markup=False)
        yield RunsTable(id="runs-table")
        yield Static("", id="runs-detail", markup=False)
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.table = self.query_one(RunsTable)
        self.table.focus()
        self._show_marks()
        self._show_rows()  # what the controller knew already; fresh rows follow
        self.controller.watch(self._report)

    def on_unmount(self) -> None:
        self.controller.unwatch(self._report)

    # -- what the controller reports --------------------------------------------------------
    def _report(self, report: RunsReport) -> None:
        if not self.is_attached:  # closed, not yet unmounted
            return
        if isinstance(report, (RunsListed, RunsChanged, RunDeleted)):
            self._show_rows()
        if isinstance(report, (MarksChanged, RunsChanged, RunDeleted)):
            self._show_marks()
        if isinstance(report, RunDeleted):
            self._deleted(report)
        elif isinstance(report, CheckpointChecked) and report.run_id == self._opening:
            self._opening = None
            self._open_checked(report)

    def _show_rows(self) -> None:
        c = self.controller
        rows = list(c.rows.values())
        if self.corpus is not None and not any(r.corpus_name == self.corpus for r in rows):
            self.corpus = None  # its last run was deleted
        shown = [r for r in rows if self.corpus is None or r.corpus_name == self.corpus]
        self.table.sort_key, self.table.descending = self.sort_key, self.descending
        self.table.show(sort_runs(shown, self.sort_key, self.descending))
        self._show_head()
        if not self.table.runs:
            self._show_detail(None)

    def _show_head(self) -> None:
        c = self.controller
        if c.error:
            head = "Runs · the store cannot be read"
        elif not c.listed:
            head = "Runs · reading…"
        else:
            head = f"Runs · {len(c.rows):,} recorded"
            if self.corpus is not None:
                head += f" · {len(self.table.runs):,} on {self.corpus}"
            order = "▼" if self.descending else "▲"
            head += f" · sorted by {SORT_TITLES[self.sort_key]} {order}"
            if c.marked:
                head += f" · {len(c.marked)} overlaid in the loss panel"
        self.query_one("#runs-head", Static).update(head)

    def _show_marks(self) -> None:
        self.table.marks = {
            o.run_id: (OVERLAY_MARKERS[o.slot], OVERLAY_COLORS[o.slot])
            for o in self.controller.overlays()
        }
        self.table.refresh()
        self._show_head()

    @on(RunsTable.Highlighted)
    def _on_highlighted(self, message: RunsTable.Highlighted) -> None:
        self._show_detail(message.run)

    def _show_detail(self, run: RunSummary | None) -> None:
        c = self.controller
        if run is None:
            if c.error:
                text = c.error
            elif not c.listed:
                text = f"reading {c.path}"
            elif c.rows:
                text = "no runs on this corpus (c shows the next)"
            else:
                text = f"no runs recorded yet in {c.path}\nt trains one; so does lyrics-tui train"
        else:
            parts = [
                f"run {run.id}",
                f"{run.cell} {run.embed}→{run.hidden}×{run.layers}",
                f"{fmt.count(run.parameters)} parameters",
                f"preset {run.preset}",
                run.tokenizer,
                f"vocab {run.vocab_size:,}",
                run.device,
                f"last val ppl {fmt.ppl(run.last_val_ppl)}",
                fmt.path(run.checkpoint) if run.checkpoint else "no checkpoint saved",
            ]  # on as many lines as the width needs, broken between parts
            width = self.query_one("#runs-detail").content_size.width or self.size.width - 2
            text = fmt.packed(parts, width)
        self.query_one("#runs-detail", Static).update(text)

    # -- keys --------------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss(None)

    def action_mark(self) -> None:
        run = self.table.selected
        if run is None:
            return
        try:
            self.controller.toggle(run.id)
        except ValueError as exc:
            self.app.notify(str(exc), severity="warning", markup=False)
        self._show_marks()

    def action_sort(self) -> None:
        index = SORT_ORDER.index(self.sort_key)
        self._sort_by(SORT_ORDER[(index + 1) % len(SORT_ORDER)])

    @on(RunsTable.HeaderClicked)
    def _on_header_clicked(self, message: RunsTable.HeaderClicked) -> None:
        if message.key == self.sort_key:
            self.action_reverse()
        else:
            self._sort_by(message.key)

    def _sort_by(self, key: str) -> None:
        self.sort_key, self.descending = key, key in DESCENDING_FIRST
        self._show_rows()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self._show_rows()

    def action_corpus(self) -> None:
        names = sorted({r.corpus_name for r in self.controller.rows.values()})
        if not names:
            return
        if self.corpus in names:
            index = names.index(self.corpus) + 1
            self.corpus = names[index] if index < len(names) else None
        else:
            self.corpus = names[0]
        self._show_rows()

    def action_open(self) -> None:
        run = self.table.selected
        if run is None:
            return
        if not run.checkpoint:
            self.app.notify(f"run {run.id} saved no checkpoint", severity="warning", markup=False)
            return
        self._opening = run.id
        self.controller.check_checkpoint(run.id)

    def _open_checked(self, checked: CheckpointChecked) -> None:
        if checked.state == "ok" and checked.path:
            self.dismiss(checked.path)
            return
        why = "is no longer there" if checked.state == "missing" else "was overwritten since"
        self.app.notify(
            f"run {checked.run_id}'s checkpoint {fmt.path(checked.path or '')} {why}",
            severity="warning",
            markup=False,
        )

    def action_delete(self) -> None:
        run = self.table.selected
        if run is None:
            return
        if run.status == "running":
            self.app.notify(
                f"run {run.id} is still training; stop it first", severity="warning", markup=False
            )
            return
        files = dict.fromkeys(p for p in (run.best_checkpoint, run.last_checkpoint) if p)
        question = f"Delete run {run.id} ({run.corpus_name}, {run.cell}, {run.epochs} epochs)"
        question += " and its checkpoint files?" if files else "?"
        question += "".join(f"\n  {fmt.path(p)}" for p in files)
        if files:
            question += "\n(a file another run uses, or changed since, is kept)"

        def answered(yes: bool | None) -> None:
            if yes:
                self.controller.delete(run.id)

        self.app.push_screen(ConfirmScreen(question, "Delete a run"), answered)

    def _deleted(self, deleted: RunDeleted) -> None:
        text = f"deleted run {deleted.run_id}"
        if deleted.removed_files:
            text += " and " + ", ".join(fmt.path(p) for p in deleted.removed_files)
        for path, why in deleted.kept_files:
            text += f"; kept {fmt.path(path)} ({why})"
        self.app.notify(text, markup=False)
