"""Text captures of the playground's inspection screen at 80x24, taken in a real terminal (tmux),
for docs/inspect_tui.md.

    .venv/bin/python bench/inspect_tui_capture.py CHECKPOINT          # prints the four captures
    .venv/bin/python bench/inspect_tui_capture.py --app CHECKPOINT    # just the screen, to try it

The app is a minimal one that opens InspectScreen on the checkpoint (seed 7, temperature 0.8,
top-k 40, top-p 0.9); the keys sent are those a user would press.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SESSION = "lyrics-inspect-capture"
SIZE = (80, 24)


def run_app(checkpoint: str) -> None:
    sys.path.insert(0, str(ROOT))
    from textual.app import App

    from lyrics_tui.core.inspection.subject import load_subject
    from lyrics_tui.core.sampling import SamplerSettings
    from lyrics_tui.tui.screens.inspect import InspectScreen

    subject = load_subject(checkpoint)
    subject = type(subject)(
        subject.stepper, subject.vocab, subject.tokenizer, label=Path(checkpoint).name
    )

    class Demo(App[None]):
        def on_mount(self) -> None:
            self.push_screen(
                InspectScreen(
                    lambda: subject, SamplerSettings(seed=7, temperature=0.8, top_k=40, top_p=0.9)
                ),
                lambda _: self.exit(),
            )

    Demo().run()


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(text: str, timeout: float = 20.0) -> str:
    """Poll the pane until `text` shows (a script, not a test: polling is the point)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = screen()
        if text in shown:
            time.sleep(0.3)  # let the frame finish drawing
            return screen()
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {text!r}; the screen shows:\n{screen()}")


def keys(*names: str, literal: str = "") -> None:
    for name in names:
        tmux("send-keys", "-t", SESSION, name)
        time.sleep(0.15)
    if literal:
        tmux("send-keys", "-t", SESSION, "-l", literal)
        time.sleep(0.3)


def capture(checkpoint: str) -> None:
    command = (
        f"cd {shlex.quote(str(ROOT))} && TERM=xterm-256color "
        f"{shlex.quote(sys.executable)} {shlex.quote(__file__)} --app "
        f"{shlex.quote(checkpoint)}"
    )
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    tmux("new-session", "-d", "-s", SESSION, "-x", str(SIZE[0]), "-y", str(SIZE[1]), command)
    try:
        shots = {}
        wait_for("entropy")
        keys("/", literal="城市的")
        keys("Enter")
        wait_for("城市的")
        keys("1", "s")
        time.sleep(0.5)
        shots["1. Step-through"] = screen()
        keys("F2", literal="晚风吹过我的窗台")
        keys("Enter")
        shots["2. Score a line"] = wait_for("perplexity")
        keys("F3", literal="月亮")
        keys("Enter")
        shots["3. Neighbours"] = wait_for("nearest to")
        keys("F1", "g", "F4")
        shots["4. Hidden state"] = wait_for("h_t")
        keys("Escape")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    for title, text in shots.items():
        print(f"### {title}\n\n```\n{text.rstrip()}\n```\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--app":
        run_app(sys.argv[2])
    elif len(sys.argv) == 2:
        capture(sys.argv[1])
    else:
        raise SystemExit(__doc__)
