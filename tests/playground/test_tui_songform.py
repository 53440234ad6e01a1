"""The song form in the playground: the rhyme and form settings, the sampler line, and the marks
on the output (each finished line's last word in its rhyme group's colour, returning lines in
italics)."""

from __future__ import annotations

import pytest
from rich.text import Text

from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.core.songform.marks import warm_up
from lyrics_tui.core.songform.rhyme import rhyme_group
from lyrics_tui.tui.widgets.prompt_pane import Output
from lyrics_tui.tui.widgets.song_marks import RETURNING, RHYME_COLOURS
from tests.playground.pilot import make_app, session, text_of, until, wait_generation


def styles_at(text: Text, offset: int) -> set[str]:
    return {str(span.style) for span in text.spans if span.start <= offset < span.end}


async def test_the_rhyme_and_form_fields_change_the_sampler_line_and_the_next_generation(
    tmp_path, tiny_checkpoint
):
    app = make_app(
        tmp_path, checkpoint=str(tiny_checkpoint), sampler={"pace_ms": 0, "max_tokens": 30}
    )
    async with session(app, (120, 40)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
        await app.main.settings.fill()
        assert "rhyme 1" in text_of(app, "#sampler-line")
        app.main.settings.query_one("#set-rhyme").value = "2.5"
        await pilot.pause()
        assert "rhyme 2.5" in text_of(app, "#sampler-line")
        settings, _ = app.main.generation_settings(None)
        assert settings.rhyme == pytest.approx(2.5) and settings.form
        assert settings.redraft == pytest.approx(SamplerSettings().redraft)
        app.main.settings.query_one("#set-redraft").value = "0"
        await pilot.pause()
        assert app.main.generation_settings(None)[0].redraft == 0
        app.main.settings.query_one("#set-form").value = "off"
        await pilot.pause()
        assert "form off" in text_of(app, "#sampler-line")
        assert not app.main.generation_settings(None)[0].form
        await pilot.press("g")
        await wait_generation(app, pilot)
        assert app.generation.tokens  # it writes with the form off
        app.main.settings.query_one("#set-form").value = "maybe"
        await pilot.pause()
        await pilot.press("g")
        await until(pilot, lambda: app.generation.gen_id == 1, "no second generation")


async def test_the_output_marks_rhymes_and_returning_lines():
    warm_up()  # the marks come once pypinyin's dictionary is in (a thread loads it)

    from lyrics_tui.tui.app import PlaygroundApp

    app = PlaygroundApp(open_newest=False)
    async with session(app, (80, 24)) as pilot:
        text = "我们走过街道\n你说你会回来\n我们走过街道\n半句"
        words = ("你", "说", "你", "会", "回来", "\n", "我们", "走过", "街道", "\n", "半句")
        app.main.prompt_pane.output = Output("我们走过街道\n", words)
        await pilot.pause()
        shown = app.query_one("#output").content
        assert isinstance(shown, Text) and shown.plain.startswith(text)
        colour = RHYME_COLOURS[rhyme_group("道")]
        assert colour in styles_at(shown, text.index("道"))
        rhymed = RHYME_COLOURS[rhyme_group("来")]
        assert rhymed in styles_at(shown, text.index("来"))
        assert rhymed in styles_at(shown, text.index("回"))  # the whole last word: 回来
        assert rhymed not in styles_at(shown, text.index("会"))
        third = text.index("我们", 1)
        assert RETURNING in styles_at(shown, third)  # the line that comes back
        assert RETURNING not in styles_at(shown, 0)
        assert not styles_at(shown, text.index("句"))  # an unfinished line: no mark yet


async def test_the_step_through_shows_rhyme_and_line_end_columns(checkpoint_path):
    from lyrics_tui.core.fastload import read_checkpoint
    from lyrics_tui.core.inspection.subject import subject_from_checkpoint
    from lyrics_tui.core.sampling import SamplerSettings
    from tests.playground.test_tui_inspect import InspectApp, columns, opened, plain, rows, shown

    subject = subject_from_checkpoint(read_checkpoint(str(checkpoint_path)))
    app = InspectApp(lambda: subject, SamplerSettings(seed=3, temperature=0.8))

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        assert columns(screen, "step") == [
            "#",
            "word",
            "rhyme",
            "model",
            "after filters",
            "ends",
            "rank",
        ]
        view = screen.step.walk.current
        table = rows(screen, "step")
        for row, c in zip(table, view.candidates, strict=True):
            assert row[2] == c.rhyme and plain(row[5]).endswith("%")
        assert "characters of at most" in shown(screen, "#step-info")
        await pilot.press("g")  # a line, then the next step's form
        assert "line" in shown(screen, "#step-info")


def test_the_marks_are_said_in_words_once_the_song_is_written():
    from lyrics_tui.tui.widgets.prompt_pane import marks_legend
    from lyrics_tui.tui.widgets.song_marks import LineMark

    assert marks_legend([LineMark(), LineMark()]) == ""  # nothing marked: nothing to say
    assert (
        marks_legend([LineMark(group=3, word=(0, 1))]) == "a line's last word coloured by its rhyme"
    )
    both = marks_legend([LineMark(group=-1, returns=True), LineMark(group=0, word=(0, 1))])
    assert both == "italic: a line sung before · a line's last word coloured by its rhyme"
