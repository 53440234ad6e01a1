"""The demo's controller without Textual: with a model held and no budget it writes at once;
a song ends after its lines (never an empty one), the next begins after the pause with the
next seed; the time budget is a total, so a model continued gets the budget more."""

from __future__ import annotations

from dataclasses import dataclass, field

from lyrics_tui.core.loading import open_checkpoint
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.tui.controllers.demo import DemoController, DemoOptions, DemoPhase
from lyrics_tui.tui.controllers.training import TrainingController


@dataclass
class Host:
    training: TrainingController
    corpus_name: str = "tiny.txt"
    budgets: list[float] = field(default_factory=list)

    def loading(self) -> bool:
        return False

    def corpus(self) -> str:
        return self.corpus_name

    def start_training(self, time_budget: float) -> None:
        self.budgets.append(time_budget)

    def sampler_settings(self) -> SamplerSettings:
        return SamplerSettings(temperature=1.0)


def held(tmp_path, tiny_checkpoint) -> TrainingController:
    training = TrainingController(lambda report: None, tmp_path)
    training.adopt(open_checkpoint(tiny_checkpoint))
    return training


def test_songs_follow_one_another_with_their_lines_and_seeds(tmp_path, tiny_checkpoint):
    options = DemoOptions(budget_s=0, pace_s=1.0, lines=2, max_words=40, pause_s=2.0, seed=5)
    demo = DemoController(Host(held(tmp_path, tiny_checkpoint)), options)
    assert demo.tick() and demo.phase is DemoPhase.WRITING  # no training asked for
    finished = []
    for _ in range(400):
        song = demo.song
        demo.tick()
        if demo.song is not song:
            finished.append(song)
        if len(finished) == 3:
            break
    assert [s.seed for s in finished] == [5, 6, 7] and demo.song.number == 4
    for song in finished:
        text = "".join(song.words)
        assert song.done and (song.lines == 2 or len(song.words) == 40)
        assert "\n\n" not in text and not text.startswith("\n")
        assert song.step is not None and song.chosen is not None


def test_the_budget_is_a_total_over_the_model_s_life(tmp_path, tiny_checkpoint):
    training = held(tmp_path, tiny_checkpoint)
    spent = training.opened.checkpoint.elapsed_s
    host = Host(training)
    demo = DemoController(host, DemoOptions(budget_s=30))
    assert demo.continues_held_model()  # the checkpoint names no corpus: t continues it
    demo.tick()
    assert host.budgets == [spent + 30]
    assert demo.phase is DemoPhase.STOPPED  # the stand-in host started nothing
