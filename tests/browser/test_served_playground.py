"""The browser demo, in a browser: `lyrics-tui --serve` driven by Chromium through Playwright.

xterm.js draws the terminal on a canvas, so the page holds no text to search; the test checks
what the app itself writes (the checkpoints a training run saves, the file w writes) and keeps a
screenshot. Closing the page ends its playground process; stopping the server leaves nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lyrics_tui.core.checkpoint import load_checkpoint, save_checkpoint
from tests.helpers import BUNDLED, free_port, poll, tiny_settings

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    path = os.environ.get("LYRICS_TUI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.skip("no Chromium (apt-get install chromium, or set LYRICS_TUI_CHROMIUM)")
    return path


def processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) of every process now running."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return table


def descendants(pid: int) -> set[int]:
    table = processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (parent, _) in table.items() if parent in frontier} - found
        found |= frontier
    return found


def in_group(group: int) -> set[int]:
    return {p for p, (_, g) in processes().items() if g == group}


@pytest.fixture
def tiny_model(tmp_path) -> tuple[Path, Path, str]:
    """A corpus, a checkpoint trained on it for one epoch of two (so that t continues it, fast) in
    its own checkpoint folder, and a word the model knows."""
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.trainer import TrainingRun

    corpus = tmp_path / "songs.txt"
    lines = read_corpus(BUNDLED).lines[:300]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    folder = tmp_path / "checkpoints"
    model_cfg, train_cfg = tiny_settings(train={"epochs": 1})
    run = TrainingRun(
        lines[:270],
        lines[270:],
        model_cfg,
        train_cfg,
        out_path=folder / "songs.pt",
        sink=lambda event: None,
        corpus_name=str(corpus),
    )
    assert run.run().reason == "completed"
    (folder / "songs-last.pt").unlink()
    # stored as a run of two epochs with one done, so that t trains one more (not another 24)
    saved = load_checkpoint(folder / "songs.pt")
    saved.train_config = replace(saved.train_config, epochs=2)
    save_checkpoint(saved, folder / "songs.pt")
    word = next(t for t in run.vocab.tokens if len(t) == 2 and "\u4e00" <= t[0] <= "\u9fff")
    return folder / "songs.pt", folder, word


@pytest.fixture
def served(tmp_path, tiny_model):
    """`lyrics-tui --serve` on a free port, in a process group of its own; the address and
    the server process. Stopped (and checked to leave nothing) afterwards."""
    checkpoint, folder, _ = tiny_model
    port = free_port()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "lyrics_tui.tui.cli", "--serve", "--port", str(port),
         "--checkpoint", str(checkpoint), "--checkpoint-dir", str(folder)],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        line = server.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/[\w-]+/)", line)
        assert found, line
        yield found.group(1), server, cwd
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        finally:
            left = in_group(server.pid)
            for pid in left:
                os.kill(pid, signal.SIGKILL)
    assert server.returncode == 0
    assert not left, f"processes left behind by the server: {left}"


@pytest.fixture
def browser_tools():
    """Playwright's sync API and Chromium's path; skips (first, before any set-up) without."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="no Playwright (pip install 'lyrics-tui[test]')"
    )
    return sync_api, chromium()


def test_train_generate_and_write_in_the_served_playground(
    browser_tools, served, tiny_model, tmp_path
):
    sync_api, executable = browser_tools
    url, server, _ = served
    _, folder, word = tiny_model
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            poll(lambda: page.goto(url, wait_until="domcontentloaded"), errors=(Exception,))
            page.wait_for_selector("body.-first-byte", timeout=30_000)  # the app drew
            app = poll(lambda: descendants(server.pid), timeout=10)  # its playground process
            page.focus("textarea.xterm-helper-textarea")  # keys go to the terminal

            # / word Enter generates, w Enter writes the output to the file it proposes (in the
            # songs/ folder beside the checkpoints; nothing in the current folder). Until
            # the checkpoint has loaded there is nothing to generate from, and so no file; the
            # keys go at a person's pace, since Textual moves the focus after the key that
            # asks for it, and the whole sequence is tried again until the file is right.
            def written() -> str:
                for key in ("Escape", "/", "Control+u", word, "Enter", "w", "Enter"):
                    if key == word:
                        page.keyboard.insert_text(word)
                    else:
                        page.keyboard.press(key)
                    page.wait_for_timeout(1000 if key == "Enter" else 300)
                try:
                    songs = folder / "songs"  # beside the checkpoints, never the current folder
                    files = poll(lambda: list(songs.glob("*-seed*.txt")), timeout=3)
                except TimeoutError:
                    return ""
                text = files[0].read_text(encoding="utf-8")
                files[0].unlink()
                return text if text.startswith(word) and len(text) > len(word) + 10 else ""

            text = poll(written, timeout=60, interval=0.2)
            assert text.startswith(word) and "\n" in text

            # t: training continues the loaded model and saves its -last state at the end
            page.keyboard.press("t")
            poll(lambda: (folder / "songs-last.pt").exists(), timeout=60)
            assert load_checkpoint(folder / "songs-last.pt").epoch == 2  # continued, not anew
            page.screenshot(path=str(tmp_path / "served.png"))  # kept for a look: pytest's tmp
            assert (tmp_path / "served.png").stat().st_size > 10_000

            page.close()  # the page's playground process ends with its websocket
            poll(lambda: not descendants(server.pid), timeout=20)
            assert not app & set(processes())
        finally:
            browser.close()
