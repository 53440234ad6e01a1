"""Snapshots of the playground's main screen at 80x24 and 120x40 (pytest-textual-snapshot).

Deterministic by construction: no checkpoint (an empty checkpoint folder), the bundled corpus
given by a relative path, no training, so no timings or machine paths appear on screen.
Regenerate after an intended change with:
    pytest tests/playground/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest

from lyrics_tui.tui.app import PlaygroundApp
from lyrics_tui.tui.widgets.key_bar import KeyBar
from tests.helpers import ROOT


@pytest.fixture
def fresh_app(tmp_path, monkeypatch) -> PlaygroundApp:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return PlaygroundApp(
        corpus="data/lyrics.txt", checkpoint_dir=tmp_path, open_newest=False, device="cpu"
    )


async def settle(pilot) -> None:
    """Wait (bounded) for the widgets mounted after the first frame and the key bar."""
    app = pilot.app
    for _ in range(200):
        bar = app.query_one(KeyBar)
        if app.ready and str(getattr(bar.content, "plain", bar.content)).strip():
            break
        await pilot.pause(0.02)
    await pilot.pause()


def test_main_screen_80x24(snap_compare, fresh_app):
    assert snap_compare(fresh_app, terminal_size=(80, 24), run_before=settle)


def test_main_screen_120x40(snap_compare, fresh_app):
    assert snap_compare(fresh_app, terminal_size=(120, 40), run_before=settle)


def test_settings_open_at_80x24(snap_compare, fresh_app):
    async def open_settings(pilot) -> None:
        await settle(pilot)
        await pilot.press("o")
        await pilot.pause()

    assert snap_compare(fresh_app, terminal_size=(80, 24), run_before=open_settings)


def test_settings_open_at_120x40(snap_compare, fresh_app):
    assert snap_compare(fresh_app, terminal_size=(120, 40), run_before=settle)


SONG = ("城市", ("的", "灯火", "慢慢", "亮", "\n", "我", "在", "路口", "等", "你", "唱", "\n") * 4)


def song_view(app):
    """The song view holding an 8-line song (made up here, not generated: no model needed)."""

    async def show(pilot) -> None:
        from lyrics_tui.core.songform.marks import warm_up
        from lyrics_tui.tui.widgets.prompt_pane import Output

        await settle(pilot)
        warm_up()  # the rhyme table, which the app loads in a thread: the marks and their legend
        start, tokens = SONG
        app.main.prompt_pane.output = Output(start, tokens, "[96 tokens · seed 7 · r repeats it]")
        app.main.show_view("song")
        await pilot.pause()

    return show


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_song_view(snap_compare, fresh_app, size):
    assert snap_compare(fresh_app, terminal_size=size, run_before=song_view(fresh_app))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_help(snap_compare, fresh_app, size):
    async def open_help(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(fresh_app, terminal_size=size, run_before=open_help)
