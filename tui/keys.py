"""The playground's keys, defined once: the main screen's bindings, the temperature and memory
keys (and the temperature's limits) that the main screen and the inspection screen share, and
the rows the help screen and the command palette list."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial

from textual.app import SystemCommand
from textual.binding import Binding, BindingType

from lyrics_tui.tui.memory import MEMORY_STEP

TEMPERATURE_MAX = 5.0  # 0 is greedy; far above 1 the choice is near uniform
TEMPERATURE_STEP = 0.1
TEMPERATURE_KEYS = Binding.Group("Temp")


def nudged_temperature(temperature: float, delta: float) -> float:
    """The temperature one key press away, kept within 0 and TEMPERATURE_MAX."""
    return round(min(TEMPERATURE_MAX, max(0.0, temperature + delta)), 2)


def temperature_bindings() -> list[Binding]:
    """- and + (or =): the `temperature(delta)` action of the screen or app that binds them."""
    step = TEMPERATURE_STEP
    return [
        Binding(
            "minus",
            f"temperature(-{step})",
            f"Temperature -{step}",
            key_display="-",
            group=TEMPERATURE_KEYS,
            tooltip=f"lower the temperature by {step}",
        ),
        Binding(
            "plus,equals_sign",
            f"temperature({step})",
            f"Temperature +{step}",
            key_display="+",
            group=TEMPERATURE_KEYS,
            tooltip=f"raise the temperature by {step}",
        ),
    ]


MEMORY_KEYS = Binding.Group("Memory")
# in the start-text field, where [ and ] are typed: beside up/down, the temperature's keys there
MEMORY_FIELD_KEYS = ("shift+up", "shift+down")


def memory_bindings(namespace: str = "") -> list[Binding]:
    """[ and ]: song memory's weight λ one step down or up (0 = off); M turns it off and on.
    The `memory(delta)` and `memory_toggle` actions of `namespace` (e.g. "screen.")."""
    step = MEMORY_STEP
    return [
        Binding(
            "left_square_bracket",
            f"{namespace}memory(-{step})",
            f"Memory -{step}",
            key_display="[",
            group=MEMORY_KEYS,
            tooltip=f"lower song memory's weight λ by {step} (0 = off: the network alone)",
        ),
        Binding(
            "right_square_bracket",
            f"{namespace}memory({step})",
            f"Memory +{step}",
            key_display="]",
            group=MEMORY_KEYS,
            tooltip=f"raise song memory's weight λ by {step} (the cache recalls the song so far)",
        ),
        Binding(
            "M",
            f"{namespace}memory_toggle",
            "Memory on/off",
            key_display="M",
            show=False,
            tooltip="song memory off, or back on at the weight it had (shift+m)",
        ),
    ]


MAIN_BINDINGS: list[BindingType] = [
    Binding(
        "t",
        "train",
        "Train",
        tooltip="train a model; one held goes on to the epochs set, a total (see the status line)",
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
        show=False,  # rare and it forgets the model: in help and the command palette
        tooltip="forget the model and start afresh (shift+r)",
    ),
    Binding(
        "slash",
        "screen.focus_prompt",
        "Prompt",
        key_display="/",
        tooltip="type a start text; Enter writes a song from it",
    ),
    Binding("g", "generate", "Generate", tooltip="generate with a new seed"),
    Binding("r", "regenerate", "Again", tooltip="the same song again: the last seed"),
    Binding("escape", "stop_generation", "Stop gen", tooltip="stop generating"),
    *temperature_bindings(),
    *memory_bindings("screen."),
    Binding("c", "copy", "Copy", tooltip="copy the output to the clipboard (OSC 52)"),
    Binding("w", "write", "Write", tooltip="write the output to a file"),
    Binding(
        "i",
        "inspect",
        "Inspect",
        tooltip="look inside the model: step-through, scores, neighbours, hidden state",
    ),
    Binding(
        "u",
        "runs",
        "Runs",
        tooltip="every recorded run: overlay their curves, open a checkpoint, delete",
    ),
    Binding(
        "v",
        "screen.toggle_view",
        "Song/Loss",
        tooltip="the song in full height, or the loss plot (training shows the loss, writing "
        "the song)",
    ),
    *[
        Binding(
            key,
            f"screen.scroll_song({pages})",
            f"Song page {way}",
            show=False,
            tooltip=f"scroll the song a page {way}, wherever the keys are (with the keys in "
            "the song: up, down, home and end too)",
        )
        for key, pages, way in (("pageup", -1, "up"), ("pagedown", 1, "down"))
    ],
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

# keys as the help screen names them
KEY_NAMES = {
    "slash": "/",
    "question_mark": "?",
    "equals_sign": "=",
    "minus": "-",
    "plus": "+",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "pageup": "PgUp",
    "pagedown": "PgDn",
}


def _bindings(bindings: Iterable[BindingType]) -> Iterator[Binding]:
    for b in bindings:
        yield b if isinstance(b, Binding) else Binding(*b)


def help_rows(bindings: Iterable[BindingType]) -> Iterator[tuple[str, str, str, str]]:
    """(keys, action, description, more) for every binding, then the keys bound elsewhere:
    the help screen's table, made from the bindings so that it cannot drift from them."""
    for binding in _bindings(bindings):
        keys = ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))
        yield keys, binding.action, binding.description, binding.tooltip
    yield "up, down", "temperature", "T+ / T-", "in the start-text field"
    yield ", ".join(MEMORY_FIELD_KEYS), "memory", "Memory + / -", "in the start-text field"
    yield "tab", "focus", "Next area", "shift+tab goes back"
    yield "ctrl+p", "command_palette", "Commands", "every action by name"


def palette_entries(bindings: Iterable[BindingType]) -> Iterator[tuple[str, str, str]]:
    """(title, help, action) once per action: the command palette's entries."""
    seen: set[str] = set()
    for binding in _bindings(bindings):
        if binding.action in seen:
            continue
        seen.add(binding.action)
        title = f"{binding.description} ({binding.key_display or binding.key.split(',')[0]})"
        yield title, binding.tooltip or binding.description, binding.action


def palette_commands(
    bindings: Iterable[BindingType],
    inherited: Iterable[SystemCommand],
    run: Callable[[str], object],
) -> Iterator[SystemCommand]:
    """The command palette: every binding's action (`run` runs it), then Textual's own commands
    but those it names too and Keys (a panel of widget keys that squeezes the screen and stays
    until asked again: Help, ?, lists this app's keys)."""
    ours = {"Keys"}
    for title, help_text, action in palette_entries(bindings):
        ours.add(title.split(" (")[0])
        yield SystemCommand(title, help_text, partial(run, action))
    yield from (command for command in inherited if command.title not in ours)
