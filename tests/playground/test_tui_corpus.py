"""Corpora by name in the playground: `--corpus songci` opens it, the settings form and its
picker take a bundled name or a path, the form's placeholders show the corpus's own defaults,
and a new model on songci trains with them (core/corpus.py corpus_settings, as the CLI)."""

from __future__ import annotations

from textual.widgets import Input, Label, Select

from lyrics_tui.core.config import resolve_settings
from lyrics_tui.core.corpus import BUNDLED
from lyrics_tui.tui import launch
from lyrics_tui.tui.cli import main
from lyrics_tui.tui.widgets.corpus_picker import CorpusSuggester, picker_options
from tests.playground.pilot import (
    TINY_MODEL,
    make_app,
    session,
    text_of,
    trained,
    until,
)


def test_lyrics_tui_corpus_songci_opens_the_playground_on_it(monkeypatch, capsys):
    opened = []
    monkeypatch.setattr(launch, "run_app", lambda app: opened.append(app) or 0)
    assert main(["--corpus", "songci"]) == 0
    assert opened[0].corpus == "songci"
    assert main(["--corpus", "songcii"]) == 2  # neither a bundled corpus nor a file
    assert "neither a bundled corpus" in capsys.readouterr().err
    assert len(opened) == 1


async def test_songci_by_name_shows_its_defaults_and_trains_with_them(tmp_path):
    app = make_app(
        tmp_path,
        corpus="songci",
        model_overrides={k: v for k, v in TINY_MODEL.items()},
        train_overrides={"epochs": 1, "batch_size": 8, "bptt": 8, "time_budget": 0.3},
    )
    async with session(app) as pilot:
        assert "t trains on songci" in text_of(app, "#status")
        assert app.query_one("#set-corpus", Input).value == "songci"
        assert app.query_one("#set-dropout", Input).placeholder == "0.5 (songci)"
        assert "characters" in str(app.query_one("#corpus-about", Label).content)
        app.query_one("#set-corpus", Input).value = "lyrics"
        await pilot.pause()
        preset_dropout = resolve_settings("default")[0].dropout
        assert app.query_one("#set-dropout", Input).placeholder == f"{preset_dropout} (preset)"
        assert "jieba words" in str(app.query_one("#corpus-about", Label).content)
        app.query_one("#set-corpus-pick", Select).value = "songci"  # the picker
        await pilot.pause()
        assert app.query_one("#set-corpus", Input).value == "songci"
        await pilot.press("t")
        await until(pilot, lambda: trained(app), "a short run on songci", tries=1200)
        run_ = app.training.run
        assert run_.corpus_name == str(BUNDLED["songci"].path)
        assert run_.train_config.tokenizer == "char"
        assert run_.model_config.dropout == 0.5  # songci's own, not the preset's
        assert (tmp_path / "ck" / "songci.pt").exists()


async def test_the_corpus_field_completes_bundled_names_then_recent_files_then_paths(tmp_path):
    suggester = CorpusSuggester()
    suggester.recent = [str(tmp_path / "mine.txt")]
    (tmp_path / "other.txt").write_text("x\n", encoding="utf-8")

    async def suggest(value):
        return await suggester.get_suggestion(value)

    assert await suggest("so") == "songci"
    assert await suggest("l") == "lyrics"
    assert await suggest(str(tmp_path / "mi")) == str(tmp_path / "mine.txt")
    assert await suggest(str(tmp_path / "ot")) == str(tmp_path / "other.txt")
    assert [value for _, value in picker_options(["a/x.txt"])] == [
        "lyrics",
        "songci",
        "jaychou",
        "a/x.txt",
    ]


def test_recent_corpora_are_the_files_of_recorded_runs_newest_first(tmp_path):
    from lyrics_tui.core.runs.store import open_store
    from lyrics_tui.tui.widgets.corpus_picker import recent_corpora
    from tests.helpers import run_start

    assert recent_corpora() == []  # no run store yet: nothing, and no file made
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    for path in (first, second):
        path.write_text("一\n", encoding="utf-8")
    with open_store() as store:
        for corpus, at in ((first, 1.0), (tmp_path / "gone.txt", 2.0), (second, 3.0)):
            store.start_run(run_start(corpus=str(corpus)), now=at)
        store.start_run(run_start(corpus=str(BUNDLED["songci"].path)), now=4.0)
    assert recent_corpora() == [str(second), str(first)]  # existing, not bundled
