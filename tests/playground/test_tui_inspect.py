"""Pilot tests of the inspection screen (tui/screens/inspect/): each view against core.inspection.

A minimal App pushes InspectScreen with a Subject read from the session's tiny checkpoint
(tests/conftest.py: a word-level LSTM, embed/hidden 16, two epochs on 270 lines). Waiting is
done by polling a condition between short Pilot pauses, never by sleeping a fixed time.
"""

from __future__ import annotations

import dataclasses
import threading

import pytest
from rich.text import Text
from textual.app import App

from lyrics_tui.core.cache import CacheSettings
from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.inspection.neighbours import neighbours
from lyrics_tui.core.inspection.score import score_line
from lyrics_tui.core.inspection.subject import subject_from_checkpoint
from lyrics_tui.core.inspection.units import unit_strip
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.core.tokens import NEWLINE
from lyrics_tui.core.vocab import UNK
from lyrics_tui.tui.format import ppl as fmt_ppl
from lyrics_tui.tui.format import prob as fmt_prob
from lyrics_tui.tui.screens.inspect import InspectScreen
from lyrics_tui.tui.screens.inspect.common import NO_MODEL
from lyrics_tui.tui.widgets.key_bar import KeyBar
from tests.playground.pilot import until

SPARK = set("▁▂▃▄▅▆▇█")


@pytest.fixture(scope="module")
def subject(checkpoint_path):
    from lyrics_tui.core.fastload import read_checkpoint

    return subject_from_checkpoint(read_checkpoint(str(checkpoint_path)))


@pytest.fixture(scope="module")
def last_subject(trained):
    from lyrics_tui.core.fastload import read_checkpoint

    return subject_from_checkpoint(read_checkpoint(str(trained["last"])))


class InspectApp(App[None]):
    """Just enough app to hold the screen, recording every notification."""

    def __init__(
        self,
        provider,
        settings: SamplerSettings | None = None,
        view: str = "step",
        **screen_options,
    ):
        super().__init__()
        self.screen_options = screen_options
        self.provider = provider
        self.sampler_settings = settings or SamplerSettings(seed=3)
        self.view = view
        self.notes: list[tuple[str, str]] = []

    def on_mount(self) -> None:
        self.push_screen(
            InspectScreen(
                self.provider, self.sampler_settings, view=self.view, **self.screen_options
            )
        )

    def notify(
        self, message, *, title="", severity="information", timeout=None, markup=True
    ) -> None:
        self.notes.append((severity, str(message)))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)


async def opened(pilot) -> InspectScreen:
    """The screen, once the provider has answered and the first view is drawn."""
    await until(
        pilot,
        lambda: isinstance(pilot.app.screen, InspectScreen) and pilot.app.screen.loaded_once,
        "the provider's answer",
    )
    await pilot.app.workers.wait_for_complete()
    screen = pilot.app.screen
    await until(
        pilot,
        lambda: screen.step.walk is None or screen.step.walk.top == screen.step.candidate_rows(),
        "the candidates to fit the table",
    )
    await pilot.pause()
    return screen


def plain(value) -> str:
    return value.plain if isinstance(value, Text) else str(value)


def rows(screen: InspectScreen, view: str) -> list[list[str]]:
    table = screen.table(view)
    return [[plain(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def row_keys(screen: InspectScreen, view: str) -> list[str]:
    return [row.key.value for row in screen.table(view).ordered_rows]


def shown(screen: InspectScreen, selector: str) -> str:
    return plain(screen.query_one(selector).content)


# -- 1. step-through ---------------------------------------------------------------------------
async def test_step_view_pick_back_sample_and_settings(subject):
    # the song form off: its columns are tests/playground/test_tui_songform.py's
    app = InspectApp(lambda: subject, SamplerSettings(seed=3, temperature=0.8, form=False))

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        walk = screen.step.walk
        view = walk.current
        table = rows(screen, "step")
        assert len(table) == len(view.candidates) >= 9
        assert [r[1] for r in table] == [c.label for c in view.candidates]
        first = view.candidates[0]
        assert table[0][2] == fmt_prob(first.model_prob)
        assert fmt_prob(first.final_prob) in table[0][3]
        assert table[0][4] == f"{first.model_rank:,}"
        assert "entropy" in shown(screen, "#step-info")
        assert f"{view.survivors:,} of {view.vocab_size:,}" in shown(screen, "#step-info")
        assert "line start" in shown(screen, "#step-text")

        await pilot.press("1")  # picks the first candidate
        assert [w.text for w in walk.picked] == [first.text]
        assert shown(screen, "#step-text").rstrip().endswith(first.label)
        assert rows(screen, "step") != table  # the next step's candidates

        await pilot.press("b")  # back: the same candidates as before the pick
        assert walk.picked == ()
        after = rows(screen, "step")  # as many as fit: the info above may wrap differently
        shown_both = min(len(after), len(table))
        assert shown_both >= 9 and after[:shown_both] == table[:shown_both]
        await pilot.press("backspace")  # nothing to step back over: a notification
        assert app.notes[-1][0] == "error" and "nothing to step back" in app.notes[-1][1]

        await pilot.press("s", "s")
        assert len(walk.picked) == 2

        await pilot.press("plus")
        assert walk.settings.temperature == pytest.approx(0.9)
        assert "temperature 0.90" in shown(screen, "#step-info")
        await pilot.press("minus", "minus")
        assert walk.settings.temperature == pytest.approx(0.7)
        await pilot.press("k")  # top-k off -> 5: at most 5 words survive
        assert walk.settings.top_k == 5 and walk.current.survivors <= 5
        assert "top-k 5" in shown(screen, "#step-info")
        await pilot.press("p")
        assert walk.settings.top_p == pytest.approx(0.95)

        await pilot.press("g")  # sample a line: ends with a line end (or the word cap)
        assert walk.picked[-1].text == NEWLINE or len(walk.picked) >= 30


async def test_step_view_prompt_and_enter_on_a_row(subject):
    app = InspectApp(lambda: subject)

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        word = next(t for t in subject.vocab.tokens if t not in (UNK, NEWLINE) and len(t) > 1)
        await pilot.press("slash")
        assert app.focused is screen.query_one("#step-prompt")
        await pilot.press("1")  # typed, not a pick: the prompt field has the keys
        assert screen.step.walk.picked == ()
        await pilot.press("backspace", *word, "enter")
        assert screen.step.walk.prompt == word
        assert word in shown(screen, "#step-text")
        assert app.focused is screen.table("step")  # Enter hands the keys back to the table
        before = screen.step.walk.current.candidates
        await pilot.press("down", "down", "enter")  # Enter on row 3 picks candidate 3
        assert screen.step.walk.picked[-1].text == before[2].text

        await pilot.press("slash", *"量子纠缠", "enter")  # unknown words: read as <unk>
        assert any(sev == "warning" and "<unk>" in text for sev, text in app.notes)


async def test_step_view_shows_more_candidates_in_a_taller_terminal(subject):
    counts = []
    for size in ((80, 24), (120, 50)):
        app = InspectApp(lambda: subject)

        async with app.run_test(size=size) as pilot:
            screen = await opened(pilot)
            await until(pilot, lambda s=screen: s.step.walk.top == s.step.candidate_rows(), "fit")
            counts.append(len(rows(screen, "step")))
            assert len(rows(screen, "step")) < screen.table("step").size.height  # no scrolling

    assert counts[0] >= 9 and counts[1] > counts[0]


# -- 2. score a line -------------------------------------------------------------------------
async def test_score_view_matches_core(subject):
    app = InspectApp(lambda: subject)
    known = [t for t in subject.vocab.tokens[2:] if t not in (UNK, NEWLINE)][:3]
    line = "".join(known) + "量子纠缠"

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        await pilot.press("f2")
        assert app.focused is screen.table("score")  # as every view: / types
        assert "/ types a line" in shown(screen, "#score-info")
        await pilot.press("slash")
        assert app.focused is screen.query_one("#score-line")
        await pilot.press(*line, "enter")
        expected = score_line(subject, line)
        info = shown(screen, "#score-info")
        assert f"perplexity {fmt_ppl(expected.perplexity)}" in info
        assert f"{expected.bits_per_char:.2f} bits/char" in info
        table = rows(screen, "score")
        assert len(table) == len(expected.words)
        for row, word in zip(table, expected.words, strict=True):
            assert row[1].startswith(word.label)
            assert ("(unknown)" in row[1]) == (not word.known)
            assert row[2] == fmt_prob(word.prob)
            assert row[3].startswith(f"{word.surprisal_bits:5.2f}")
            assert row[4] == f"{word.rank:,}"
        assert expected.unknown and all(u in info for u in expected.unknown)

        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")  # empty: one line, no traceback
        assert app.notes[-1] == ("error", "nothing to score: the line is empty")
        assert len(rows(screen, "score")) == len(expected.words)  # the last score stays


async def test_score_view_compares_two_checkpoints(subject, trained, tmp_path):
    import torch

    from lyrics_tui.core.checkpoint import load_checkpoint, save_checkpoint
    from lyrics_tui.core.inspection.score import compare_lines
    from lyrics_tui.core.inspection.subject import load_subject
    from lyrics_tui.tui.screens.load import LoadScreen

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    # model B: the tiny model with its weights nudged by seeded noise (another "epoch")
    base = load_checkpoint(str(trained["path"]))
    noise = torch.Generator().manual_seed(7)
    state = {
        k: v + 0.3 * torch.randn(v.shape, generator=noise) if v.is_floating_point() else v
        for k, v in base.model_state.items()
    }
    other = folder / "other.pt"
    save_checkpoint(dataclasses.replace(base, model_state=state, optimizer_state=None), other)
    (folder / "broken.pt").write_bytes(b"not a checkpoint")
    app = InspectApp(lambda: subject, view="score", checkpoint_folder=folder)
    line = "".join(t for t in subject.vocab.tokens[2:6] if t not in (UNK, NEWLINE))

    async def pick(pilot, name: str) -> None:
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, LoadScreen), "the checkpoint picker")
        names = [p.name for p in app.screen.files]
        assert sorted(names) == ["broken.pt", "other.pt"]
        app.screen.query_one("#load-list").focus()
        await pilot.press(*["down"] * names.index(name), "enter")

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        await pilot.press("slash", *line, "enter")
        assert len(screen.table("score").columns) == 6
        await pick(pilot, "other.pt")
        await until(pilot, lambda: screen.score.comparison is not None, "the comparison")
        expected = compare_lines(subject, load_subject(other), line)
        info = shown(screen, "#score-info")
        assert (
            f"perplexity A {fmt_ppl(expected.a.perplexity)} · B {fmt_ppl(expected.b.perplexity)}"
        ) in info
        assert f"B {expected.b.bits_per_char:.2f}" in info
        table = rows(screen, "score")
        assert expected.aligned and len(table) == len(expected.words)
        assert abs(expected.a.perplexity - expected.b.perplexity) > 0.01  # two real models
        for row, word in zip(table, expected.words, strict=True):
            assert row[1].startswith(word.label)
            assert row[2:5] == [
                f"{word.bits_a:.2f}",
                f"{word.bits_b:.2f}",
                f"{word.delta_bits:+.2f}",
            ]
            assert row[5] == ("B" if word.delta_bits < 0 else "A" if word.delta_bits > 0 else "=")
        await pilot.press("m")  # back to the single model
        assert screen.score.comparison is None and len(rows(screen, "score")[0]) == 6
        assert f"perplexity {fmt_ppl(expected.a.perplexity)}" in shown(screen, "#score-info")

        await pick(pilot, "broken.pt")  # an unreadable file: one line, the single table stays
        await until(
            pilot,
            lambda: any(s == "error" and "broken.pt" in m for s, m in app.notes),
            "the error notification",
        )
        assert app.screen is screen and screen.score.comparison is None
        assert len(rows(screen, "score")[0]) == 6

        await pick(pilot, "other.pt")
        await until(pilot, lambda: screen.score.comparison is not None, "the comparison again")
        screen.table("score").focus()
        await pilot.press("escape")  # Esc leaves the comparison, then closes the screen
        assert app.screen is screen and screen.score.comparison is None
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)


# -- 3. neighbours -----------------------------------------------------------------------------
async def test_neighbours_view_lists_k_words_and_refreshes(subject, last_subject):
    subjects = [subject, last_subject]
    calls: list[str] = []

    def provider():
        calls.append(threading.current_thread().name)
        return subjects[min(len(calls), 2) - 1]

    app = InspectApp(provider, view="near")
    word = max(
        (t for t in subject.vocab.tokens if t not in (UNK, NEWLINE)),
        key=lambda t: subject.vocab.counts[subject.vocab.id(t)],
    )

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        assert calls and calls[0] != threading.main_thread().name  # the provider runs in a thread
        await pilot.press("slash", *word, "enter")
        k, far = screen.near.neighbour_counts()
        expected = neighbours(subject, word, k, far)
        keys = row_keys(screen, "near")
        near_rows = [
            r for r, key in zip(rows(screen, "near"), keys, strict=True) if key.startswith("near-")
        ]
        assert len(near_rows) == k == len(expected.neighbours)
        assert [r[1] for r in near_rows] == [n.label for n in expected.neighbours]
        assert [r[2] for r in near_rows] == [f"{n.cosine:+.3f}" for n in expected.neighbours]
        assert sum(key.startswith("far-") for key in keys) == far
        assert word in shown(screen, "#near-info")

        await pilot.press("r")  # read the model again: the provider gives the later weights
        await until(
            pilot,
            lambda: len(calls) == 2 and screen.subject is last_subject and not screen.fetching,
            "the refreshed model",
        )
        await pilot.pause()
        again = neighbours(last_subject, word, *screen.near.neighbour_counts())
        near_rows = [
            r
            for r, key in zip(rows(screen, "near"), row_keys(screen, "near"), strict=True)
            if key.startswith("near-")
        ]
        assert [r[2] for r in near_rows] == [f"{n.cosine:+.3f}" for n in again.neighbours]

        await pilot.press("enter")  # Enter on the first row looks that word up
        assert screen.near.result.word == again.neighbours[0].text

        await pilot.press("slash", "ctrl+a", "ctrl+k", *"量子纠缠", "enter")
        severity, text = app.notes[-1]
        assert severity == "error" and "not in the vocabulary" in text


# -- 4. hidden state -------------------------------------------------------------------------
async def test_hidden_view_one_strip_per_word(subject):
    app = InspectApp(lambda: subject)

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        await pilot.press("1", "s", "1", "f4")
        steps = screen.step.walk.hidden_steps
        assert len(steps) == 4  # the line start, then three picked words
        table = rows(screen, "hidden")
        assert len(table) == len(steps)
        width = screen.hidden.strip_width(subject.cell, subject.hidden_size, steps)
        assert width == subject.hidden_size  # 16 units fit at 100 columns: one cell each
        for row, step in zip(table, steps, strict=True):
            assert row[1] == step.label
            assert row[2] == f"{step.h.norm:.2f}"
            assert row[4] == step.h.spark_binned(width)
            assert set(row[4]) <= SPARK and len(row[4]) == width
            assert row[5] == f"{step.c.norm:.2f}" and set(row[6]) <= SPARK  # LSTM: c too
        info = shown(screen, "#hidden-info")
        assert "LSTM" in info and "|h| is the state's length" in info  # the columns, in words
        await pilot.press("g")  # sample a line from here: more rows
        assert len(rows(screen, "hidden")) == len(screen.step.walk.hidden_steps) > 4


async def test_hidden_strips_read_without_colour(subject, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = InspectApp(lambda: subject, view="hidden")

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        assert app.no_color
        await pilot.press("g")
        cells = [
            screen.table("hidden").get_row_at(i)[4] for i in range(screen.table("hidden").row_count)
        ]
        for cell, step in zip(cells, screen.step.walk.hidden_steps, strict=True):
            assert not [span for span in cell.spans if span.style]  # no colour at all
            assert cell.plain == step.h.spark_binned(len(cell.plain))  # the characters say it


async def test_a_narrow_terminal_squeezes_the_strips(subject):
    app = InspectApp(lambda: subject, view="hidden")

    async with app.run_test(size=(60, 20)) as pilot:
        screen = await opened(pilot)
        width = screen.hidden.strip_width("lstm", 16, screen.step.walk.hidden_steps)
        assert 8 <= width < 16
        row = rows(screen, "hidden")[0]
        strip = screen.step.walk.hidden_steps[0].h
        assert row[4] == strip.spark_binned(width) and len(row[4]) == width


# -- the screen as a whole -----------------------------------------------------------------
async def test_no_model_shows_a_hint(subject):
    app = InspectApp(lambda: None)

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        assert shown(screen, "#step-info") == NO_MODEL
        assert screen.table("step").row_count == 0
        await pilot.press("s", "1")  # nothing to act on: no error, no traceback
        await pilot.press("f2", "slash", *"你好", "enter")
        assert app.notes[-1] == ("warning", NO_MODEL)
        assert shown(screen, "#score-info") == NO_MODEL


async def test_provider_errors_are_notifications():
    def provider():
        raise LyricsError("checkpoint.pt: not a lyrics-tui checkpoint")

    def broken():
        raise RuntimeError("disk on fire")

    for source, expected in (
        (provider, "checkpoint.pt: not a lyrics-tui checkpoint"),
        (broken, "could not read the model: RuntimeError: disk on fire"),
    ):
        app = InspectApp(source)

        async with app.run_test(size=(100, 30)) as pilot:
            screen = await opened(pilot)
            assert app.notes == [("error", expected)]
            assert shown(screen, "#step-info") == NO_MODEL


async def test_keys_views_footer_and_escape(subject):
    app = InspectApp(lambda: subject)

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        await until(pilot, lambda: "Pick" in plain(screen.query_one(KeyBar).content), "footer")
        footer = plain(screen.query_one(KeyBar).content)
        for entry in (
            "1-9 Pick",
            "s Sample",
            "b Back",
            "g Line",
            "-/+ Temp",
            "k Top-k",
            "p Top-p",
            "/ Type",
            "r Refresh",
            "Views",
            "Close",
        ):
            assert entry in footer, entry
        for key, view in (
            ("f2", "score"),
            ("f3", "near"),
            ("f4", "hidden"),
            ("f1", "step"),
            ("v", "score"),
        ):
            await pilot.press(key)
            assert screen.view == view
            assert f"[F{('step', 'score', 'near', 'hidden').index(view) + 1}" in shown(
                screen, "#inspect-tabs"
            )
        await pilot.press("f4")
        await pilot.pause()
        footer = plain(screen.query_one(KeyBar).content)
        assert "Pick" not in footer and "g Line" in footer  # the keys of the view shown
        await pilot.press("f2", "slash")  # the line field has the keys: Esc leaves it, Esc again
        assert app.focused is screen.query_one("#score-line")  # closes
        await pilot.press("escape")
        assert app.screen is screen and app.focused is screen.table("score")
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)


async def test_one_rule_for_input_in_every_view(subject):
    """Each view opens with the keys on its table; / (never typed) gives them to its field;
    Esc and Enter give them back; a view with nothing to type has no / at all."""
    app = InspectApp(lambda: subject)

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        for key, name in (("f1", "step"), ("f2", "score"), ("f3", "near"), ("f4", "hidden")):
            await pilot.press(key)
            view = screen.views[name]
            assert app.focused is screen.table(name), name
            if view.FIELD is None:
                assert not screen.check_action("focus_input", ())
                continue
            field = screen.query_one(f"#{view.FIELD}")
            before = field.value
            await pilot.press("slash")
            assert app.focused is field and field.value == before, name  # "/" is not typed
            await pilot.press("escape")
            assert app.focused is screen.table(name) and app.screen is screen
        await pilot.press("f2", "slash", *"我的", "enter")
        assert app.focused is screen.table("score") and screen.score.scored_text == "我的"


async def test_step_starts_from_the_start_text_it_is_given(subject):
    word = next(t for t in subject.vocab.tokens if t not in (UNK, NEWLINE) and len(t) > 1)
    app = InspectApp(lambda: subject, prompt=word)

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        assert screen.step.walk.prompt == word
        assert screen.query_one("#step-prompt").value == word
        assert word in shown(screen, "#step-text")


def test_unit_strip_levels_drive_the_heat_colours():
    from lyrics_tui.tui.screens.inspect.common import NEGATIVE, POSITIVE, heat_strip

    strip = unit_strip([-1.0, -0.3, 0.0, 0.3, 1.0], scale=1.0)
    text = heat_strip(strip.levels, strip.spark, colour=True)
    assert text.plain == strip.spark
    styles = [str(span.style) for span in text.spans]
    assert styles[0] == NEGATIVE[3] and styles[-1] == POSITIVE[3] and "dim" in styles


# -- opened from the playground ---------------------------------------------------------------
async def test_playground_opens_the_screen_on_the_loaded_checkpoint(checkpoint_path, tmp_path):
    from lyrics_tui.tui.app import PlaygroundApp
    from lyrics_tui.tui.controllers.training import TrainingState

    app = PlaygroundApp(
        corpus=str(checkpoint_path),
        checkpoint=str(checkpoint_path),
        checkpoint_dir=tmp_path,
        device="cpu",
        open_newest=False,
        temperature=0.6,
    )

    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint to load")
        await pilot.press("i")
        screen = await opened(pilot)
        assert screen.subject.label == checkpoint_path.name
        assert screen.subject.stepper is app.training.opened.stepper
        assert screen.step.walk.settings.temperature == pytest.approx(0.6)
        assert len(rows(screen, "step")) >= 9
        await pilot.press("t")  # the playground's keys do not act from under the screen
        assert app.training.state is TrainingState.IDLE
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)


# -- song memory in the step and score views ---------------------------------------------------
MEMORY = CacheSettings(100, 1.0, 0.5)


def memory_subject(subject):
    """The tiny model with no fit of its own: the settings given are the memory's."""
    return dataclasses.replace(subject, fit=None, cache=None)


# two lines of the tiny model's corpus, then the first again ("\\n" ends a line in the fields)
SONG = "城市的晚风吹过霓虹\\n把想念吹进每个窗中\\n城市的晚风吹过霓虹"


def columns(screen: InspectScreen, view: str) -> list[str]:
    return [c.label.plain for c in screen.table(view).columns.values()]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_step_view_shows_the_network_the_cache_and_what_it_recalls(subject, size):
    from lyrics_tui.core.inspection.step import StepThrough
    from lyrics_tui.tui.format import cache_prob
    from lyrics_tui.tui.screens.inspect.step import LIT, recalls

    model = memory_subject(subject)
    app = InspectApp(lambda: model, SamplerSettings(seed=3, cache=MEMORY, form=False))
    prompt = SONG.replace("\\n", "\n").rsplit("\n", 1)[0] + "\n城市的"

    async with app.run_test(size=size) as pilot:
        screen = await opened(pilot)
        await pilot.press("slash")
        screen.query_one("#step-prompt").value = prompt.replace("\n", "\\n")
        await pilot.press("enter")
        walk = screen.step.walk
        assert walk.prompt == prompt and walk.settings.cache == MEMORY
        expected = StepThrough(model, walk.settings, prompt, top=walk.top).current
        assert expected.cache == MEMORY and expected.remembered > 0
        wide = size[0] >= 100
        assert columns(screen, "step") == [
            "#",
            "word",
            "model",
            "network",
            "cache",
            "after filters",
            *(["rank"] if wide else []),  # left out when narrow: no wrapping
            "recalls",
        ]
        table = rows(screen, "step")
        for row, c in zip(table, expected.candidates, strict=True):
            assert row[1] == c.label and row[2] == fmt_prob(c.model_prob)
            assert row[3] == fmt_prob(c.network_prob) and row[4] == cache_prob(c.cache_prob)
            assert row[-1] == recalls(c.pointers, 3 if wide else 2)
        assert "memory λ 0.50" in shown(screen, "#step-info")
        assert f"memory draws on {expected.remembered}" in shown(screen, "#step-info")
        # the row under the cursor lights the words the cache recalls it from
        n = next(i for i, c in enumerate(expected.candidates) if c.pointers)
        await pilot.press(*["down"] * n)
        context = screen.query_one("#step-text").content
        lit = sorted(
            context.plain[s.start : s.end].strip() for s in context.spans if LIT in str(s.style)
        )
        want = sorted(expected.tokens[p] for p, _ in expected.candidates[n].pointers)
        assert lit and lit == want

        await pilot.press("right_square_bracket")  # the same keys as the playground's
        assert walk.settings.cache.lam == pytest.approx(0.6)
        assert "memory λ 0.60" in shown(screen, "#step-info")
        await pilot.press("M")  # off: the plain columns
        assert walk.settings.cache is None and len(columns(screen, "step")) == 5
        assert "memory off" in shown(screen, "#step-info")
        await pilot.press("M")  # on again at the weight it had
        assert walk.settings.cache == MEMORY.with_lambda(0.6)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_score_view_shows_the_caches_share_and_both_perplexities(subject, size):
    from lyrics_tui.tui.format import cache_prob
    from lyrics_tui.tui.screens.inspect.common import percent

    model = memory_subject(subject)
    app = InspectApp(lambda: model, SamplerSettings(seed=3, cache=MEMORY), view="score")
    text = SONG

    async with app.run_test(size=size) as pilot:
        screen = await opened(pilot)
        screen.query_one("#score-line").value = text
        await pilot.press("slash", "enter")
        expected = score_line(model, text.replace("\\n", "\n"), MEMORY)
        info = shown(screen, "#score-info")
        assert (
            f"perplexity {fmt_ppl(expected.perplexity)} (the network alone "
            f"{fmt_ppl(expected.network_perplexity)})"
        ) in info
        wide = size[0] >= 100
        names = columns(screen, "score")
        assert names == [
            "#",
            "word",
            "prob",
            "network",
            *(["cache"] if wide else []),  # left out when narrow: no wrapping
            "memory",
            "bits",
            "rank",
            "model's guess",
        ]
        table = rows(screen, "score")
        assert len(table) == len(expected.words)
        for row, w in zip(table, expected.words, strict=True):
            cells = dict(zip(names, row, strict=True))
            assert cells["prob"] == fmt_prob(w.prob)
            assert cells["network"] == fmt_prob(w.network_prob)
            assert cells["memory"] == (percent(w.cache_share) if w.cache_prob is not None else "-")
            if wide:
                assert cells["cache"] == cache_prob(w.cache_prob)
        assert any(w.cache_share > 0.05 for w in expected.words)  # the repeated line recalls

        for _ in range(5):  # down to 0: the network alone, the plain columns
            await pilot.press("left_square_bracket")
        assert screen.memory.weight == 0 and len(columns(screen, "score")) == 6
        assert "memory off" in shown(screen, "#score-info")
