"""A newcomer's first minutes, in a terminal of 80x24 (tmux): a fresh clone, `./dev run`, then
the keys the README lists (t, then / 城市 Enter), until a song of 8 lines is written. Passes when
the whole song is on screen at once, start word included, and prints the capture and how long
each step took.

    python bench/first_song.py [--keep] [--clone-from PATH]

The clone is made from the current commit (uncommitted changes are not in it); its data and
cache folders are new ones under /tmp, as on a first run. Not a test: it installs torch into
the clone's .venv (a minute or two) and trains the default model (seconds to a minute).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (80, 24)
START = "城市"
LINES = 8  # the playground's song: lines 8 in the settings form


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def capture(session: str) -> list[str]:
    return tmux("capture-pane", "-p", "-t", session).splitlines()


def wait_for(session: str, what: str, test, timeout: float) -> tuple[float, list[str]]:
    """Poll the screen until `test(lines)`; (seconds waited, the screen)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        screen = capture(session)
        if test(screen):
            return time.monotonic() - began, screen
        time.sleep(0.2)
    print("\n".join(capture(session)))
    raise SystemExit(f"first_song: timed out after {timeout:.0f} s waiting for {what}")


def song_on_screen(screen: list[str]) -> list[str]:
    """The song's lines between the sampler line and the note that ends it (empty if the
    note is not on screen)."""
    inner = [re.sub(r"^[│┃]\s?|\s*[│┃]$", "", line).rstrip() for line in screen]
    top = next((i for i, t in enumerate(inner) if t.lstrip().startswith("temperature ")), None)
    end = next((i for i, t in enumerate(inner) if re.search(r"\[\d+ tokens · seed", t)), None)
    if top is None or end is None or end <= top:
        return []
    return [line.strip() for line in inner[top + 1 : end]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone (printed)")
    parser.add_argument("--clone-from", default=str(ROOT), help="the repository to clone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lyrics-tui-first-song-"))
    clone = work / "lyrics-tui"
    session = f"first-song-{os.getpid()}"
    subprocess.run(["git", "clone", "-q", args.clone_from, str(clone)], check=True)
    env = {
        "XDG_DATA_HOME": str(work / "data"),
        "XDG_CACHE_HOME": str(work / "cache"),
        "LYRICS_TUI_RUNS_DB": str(work / "data" / "runs.sqlite3"),
    }
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    log = work / "dev.log"
    command = f"cd {clone} && env {exports} ./dev run 2> >(tee {log} >&2)"
    began = time.monotonic()
    tmux("new-session", "-d", "-s", session, "-x", str(SIZE[0]), "-y", str(SIZE[1]))
    try:
        tmux("send-keys", "-t", session, f"bash -c {sh_quote(command)}", "Enter")
        first, _ = wait_for(session, "the first screen", lambda s: "no model yet" in s[0], 900)
        tmux("send-keys", "-t", session, "t")
        trained_s, _ = wait_for(
            session,
            "training to end",
            lambda s: "trained 24 epoch" in s[0] or "epoch 24 ·" in s[0],
            900,
        )
        tmux("send-keys", "-t", session, "/")
        time.sleep(0.3)
        tmux("send-keys", "-t", session, START, "Enter")
        wrote_s, screen = wait_for(session, "the song", lambda s: bool(song_on_screen(s)), 120)
        time.sleep(0.5)
        screen = capture(session)
    finally:
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=False)
        time.sleep(1)
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    print("\n".join(screen))
    print()
    setup = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    said = [f"  {line}" for line in setup.splitlines() if line.startswith("dev:")]
    print("./dev said:", *said, sep="\n")
    song = song_on_screen(screen)
    lines = [line for line in song if line]
    print(
        f"first screen after {first:.0f} s (set-up included), trained in {trained_s:.0f} s, "
        f"song written in {wrote_s:.1f} s; {time.monotonic() - began:.0f} s in all"
    )
    ok = len(lines) == LINES and lines[0].startswith(START)
    print(f"song on screen: {len(lines)} lines, starts with {START}: {lines[0].startswith(START)}")
    if args.keep:
        print(f"kept {clone}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    sys.exit(main())
