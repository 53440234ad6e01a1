"""The playground's controllers without Textual: driven with a list as their `post`, real tiny
training runs and a stand-in network. Reports are handed back to `receive` as the App does;
threads are joined, and reports waited for, with a bound."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from lyrics_tui.core.config import resolve_settings
from lyrics_tui.core.errors import LyricsError, SettingsError
from lyrics_tui.core.events import BatchFinished, TrainingFinished, TrainingPaused
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.core.vocab import Vocabulary
from lyrics_tui.tui.controllers.generation import (
    GenerationController,
    GenerationEnded,
    GenerationStarted,
    TokenGenerated,
    Weights,
)
from lyrics_tui.tui.controllers.training import (
    RunEnded,
    RunEvent,
    RunReady,
    TrainingController,
    TrainingRequest,
    TrainingState,
)
from tests.helpers import ROOT, TINY_MODEL, TINY_TRAIN, TOY_TOKENS, BigramStepper, tiny_corpus

WAIT_S = 60  # the bound on any wait: a thread that takes longer is a failure


class Inbox:
    """A controller's `post`: keeps the reports, lets a test wait for one of a kind, and hands
    them to the controller's `receive` in order, as the App does in the UI thread."""

    def __init__(self) -> None:
        self.reports: list = []
        self.delivered = 0
        self._arrived = threading.Condition()

    def __call__(self, report) -> None:
        with self._arrived:
            self.reports.append(report)
            self._arrived.notify_all()

    def wait_for(self, match) -> None:
        with self._arrived:
            found = self._arrived.wait_for(lambda: any(map(match, self.reports)), WAIT_S)
        assert found, f"no such report within {WAIT_S} s: {self.reports[-3:]}"

    def deliver(self, controller) -> list:
        """Receive what has arrived since the last delivery; the states it went through."""
        states = []
        with self._arrived:
            new = self.reports[self.delivered :]
            self.delivered = len(self.reports)
        for report in new:
            controller.receive(report)
            states.append(getattr(controller, "state", None))
        return states


def event_of(kind):
    return lambda report: isinstance(report, RunEvent) and isinstance(report.event, kind)


def join(threads) -> None:
    for thread in threads:
        thread.join(WAIT_S)
    assert not any(thread.is_alive() for thread in threads), "a thread did not end"


def request(corpus: Path, **train) -> TrainingRequest:
    return TrainingRequest(str(corpus), "default", dict(TINY_MODEL), {**TINY_TRAIN, **train})


# -- training -----------------------------------------------------------------------------------
def test_a_run_trains_holds_its_model_and_t_continues_it_to_the_total(tmp_path):
    corpus = tiny_corpus(tmp_path)
    inbox = Inbox()
    training = TrainingController(inbox, tmp_path / "ck", device="cpu")
    plan = training.plan(request(corpus))
    assert plan.continuation is None and plan.summary == ""  # no model held: a new one
    training.start(plan)
    assert training.state is TrainingState.STARTING
    join(training.threads)
    states = inbox.deliver(training)  # all of it late, after the thread ended
    assert TrainingState.TRAINING in states and training.state is TrainingState.IDLE
    assert isinstance(inbox.reports[0], RunReady) and isinstance(inbox.reports[-1], RunEnded)
    finished = [r.event for r in inbox.reports if event_of(TrainingFinished)(r)]
    assert [f.reason for f in finished] == ["completed"]
    assert training.run is not None and training.run.epoch == 1
    assert [h["epoch"] for h in training.history] == [1]  # once, not twice
    assert not training.dirty  # its best epoch and its latest state are on disk
    assert training.started is not None and training.started.vocab_size > 10
    assert (tmp_path / "ck" / "tiny.pt").exists()  # the best epoch, autosaved

    # t again: epochs are totals; blank, a finished run goes on for the preset's epochs more
    plan = training.plan(request(corpus, epochs=None))
    more = resolve_settings("default")[1].epochs
    assert (plan.continuation.done_epochs, plan.continuation.end_epoch) == (1, 1 + more)
    assert plan.summary == f"t continues to epoch {1 + more} ({more} more)"
    with pytest.raises(SettingsError, match="already has 1 epochs"):
        training.plan(request(corpus, epochs=1))
    plan = training.plan(request(corpus, epochs=2))
    assert plan.summary == "t continues to epoch 2 (1 more)"
    first_run = training.run
    training.start(plan)
    join(training.threads)
    inbox.deliver(training)
    ready = [r for r in inbox.reports if isinstance(r, RunReady)][-1]
    assert ready.note == "continuing from epoch 1 to epoch 2 (1 more)"
    assert training.run is not first_run and training.state is TrainingState.IDLE
    assert [h["epoch"] for h in training.history] == [1, 2]

    # a checkpoint read from a file continues the same way
    from lyrics_tui.core.loading import open_checkpoint

    training.adopt(open_checkpoint(tmp_path / "ck" / "tiny-last.pt"))
    assert training.run is None and not training.dirty and len(training.history) == 2
    plan_now = training.plan(request(corpus, epochs=None))
    assert plan_now.summary == f"t continues to epoch {2 + more} ({more} more)"


def test_another_corpus_gets_a_new_model(tmp_path, trained):
    from lyrics_tui.core.loading import open_checkpoint

    training = TrainingController(Inbox(), tmp_path, device="cpu")
    training.adopt(open_checkpoint(trained["path"]))  # trained on "small"
    plan = training.plan(request(tiny_corpus(tmp_path)))
    assert plan.continuation is None and plan.replaced_corpus == "small"
    assert plan.summary == "t trains a new model on tiny.txt"
    training.forget()
    assert not training.has_model and training.plan(request(Path("tiny.txt"))).summary == ""


def test_pause_resume_and_stop_keep_the_model(tmp_path):
    inbox = Inbox()
    training = TrainingController(inbox, tmp_path / "ck", device="cpu")
    assert not training.pause_or_resume()  # nothing to pause yet
    training.start(training.plan(request(tiny_corpus(tmp_path), epochs=500)))
    inbox.wait_for(event_of(BatchFinished))
    inbox.deliver(training)
    assert training.state is TrainingState.TRAINING
    assert training.pause_or_resume() and training.state is TrainingState.PAUSING
    inbox.wait_for(event_of(TrainingPaused))
    inbox.deliver(training)
    assert training.state is TrainingState.PAUSED and training.run.paused
    assert training.pause_or_resume() and training.state is TrainingState.TRAINING
    training.stop()
    assert training.state is TrainingState.STOPPING
    join(training.threads)
    states = inbox.deliver(training)
    assert states[-1] is TrainingState.IDLE and TrainingState.TRAINING not in states[:-1]
    assert training.run.epoch < 500 and training.has_model  # the stopped model stays


def test_weights_and_subject_of_the_model_held(tmp_path, trained):
    from lyrics_tui.core.inspection.neighbours import neighbours
    from lyrics_tui.core.inspection.subject import subject_from_run
    from lyrics_tui.core.loading import open_checkpoint

    training = TrainingController(Inbox(), tmp_path, device="cpu")
    assert training.subject() is None
    with pytest.raises(SettingsError, match="no model yet"):
        training.weights(blocking=False)
    opened = open_checkpoint(trained["path"])
    training.adopt(opened)
    weights = training.weights(blocking=False)
    assert weights.stepper is opened.stepper and weights.source == "tiny.pt"
    subject = training.subject()
    assert subject.stepper is opened.stepper and subject.label == "tiny.pt"

    run = trained["run"]  # a finished run held: its weights are copied on demand
    training.receive(RunReady(0, run, tuple(run.history), ""))
    assert training.run is run
    assert training.weights(blocking=False) is None  # a copy would be needed: not in the UI
    copied = training.weights(blocking=True)
    assert copied.source == f"trained model, epoch {run.epoch}"
    assert training.weights(blocking=False).source == copied.source  # now it is there
    live = training.subject()
    assert live.label == f"trained model, epoch {run.epoch}"
    word = live.vocab.tokens[2]
    assert [n.text for n in neighbours(live, word, 5).neighbours] == [
        n.text for n in neighbours(subject_from_run(run), word, 5).neighbours
    ]


# -- generation --------------------------------------------------------------------------------
class CallerStepper(BigramStepper):
    """The stand-in network, noting the thread of each step."""

    def __init__(self, table) -> None:
        super().__init__(table)
        self.threads: list[str] = []

    def step(self, state, token_id):
        self.threads.append(threading.current_thread().name)
        return super().step(state, token_id)


def toy_weights() -> Weights:
    table = np.random.default_rng(0).normal(0, 2, (len(TOY_TOKENS), len(TOY_TOKENS)))
    vocab = Vocabulary(TOY_TOKENS, [1] * len(TOY_TOKENS))
    return Weights(CallerStepper(table), vocab, "char", "stand-in")


def generate(generation, inbox, settings, weights, pace_s=0.0):
    started = generation.start("我", settings, pace_s, weights)
    join(generation.threads)
    inbox.deliver(generation)
    return started


def test_the_first_token_is_computed_by_the_caller_and_the_thread_streams_the_rest():
    inbox, weights = Inbox(), toy_weights()
    generation = GenerationController(inbox)
    started = generation.start("我", SamplerSettings(seed=1, max_tokens=6), 0.0, lambda b: weights)
    assert isinstance(started, GenerationStarted) and started.source == "stand-in"
    assert generation.running and len(generation.tokens) == 1  # before the thread's tokens
    assert weights.stepper.threads[0] == threading.current_thread().name
    join(generation.threads)
    inbox.deliver(generation)
    assert not generation.running and len(generation.tokens) == 6
    assert generation.text == "我" + "".join(generation.tokens)
    assert generation.note == "[6 tokens · seed 1 · r repeats it]"
    streamed = [r for r in inbox.reports if isinstance(r, TokenGenerated)]
    assert len(streamed) == 5 and {r.gen_id for r in streamed} == {1}
    assert "lyrics-generate" in set(weights.stepper.threads)

    first = list(generation.tokens)
    generate(generation, inbox, SamplerSettings(seed=1, max_tokens=6), lambda b: weights)
    assert generation.tokens == first and generation.gen_id == 2  # the same seed repeats


def test_weights_that_need_a_copy_are_read_in_the_thread():
    inbox, weights = Inbox(), toy_weights()
    generation = GenerationController(inbox)
    asked: list[tuple[bool, str]] = []

    def source(blocking: bool):
        asked.append((blocking, threading.current_thread().name))
        return weights if blocking else None

    assert generate(generation, inbox, SamplerSettings(seed=2, max_tokens=4), source) is None
    assert asked[0] == (False, threading.current_thread().name)
    assert asked[1][0] and asked[1][1] == "lyrics-generate"
    assert isinstance(inbox.reports[0], GenerationStarted)
    assert len(generation.tokens) == 4 and generation.seed == 2

    # a tokenizer that is not loaded yet is read in the thread too
    word_weights = Weights(weights.stepper, weights.vocab, "word", "stand-in")
    assert generation.start("", SamplerSettings(max_tokens=2), 0.0, lambda b: word_weights) is None
    join(generation.threads)


def test_stop_old_reports_and_bad_settings():
    inbox, weights = Inbox(), toy_weights()
    generation = GenerationController(inbox)
    generation.start("我", SamplerSettings(seed=3, max_tokens=5000), 0.02, lambda b: weights)
    inbox.wait_for(lambda r: isinstance(r, TokenGenerated))
    assert generation.stop()
    join(generation.threads)
    inbox.deliver(generation)
    ended = inbox.reports[-1]
    assert isinstance(ended, GenerationEnded) and ended.stopped
    assert generation.note.startswith("[stopped after") and len(generation.tokens) < 5000
    assert not generation.stop()  # nothing running

    assert not generation.receive(TokenGenerated(generation.gen_id - 1, "旧", 0.5))
    with pytest.raises(LyricsError, match="top-p"):
        generation.start("我", SamplerSettings(top_p=2.0), 0.0, lambda b: weights)
    assert not generation.running

    # a reset while generating: the thread stops, and what it still posts is not shown
    generation.start("我", SamplerSettings(seed=4, max_tokens=5000), 0.02, lambda b: weights)
    generation.forget()
    assert not generation.running
    join(generation.threads)
    inbox.deliver(generation)
    assert generation.text == "" and generation.seed is None and generation.note == ""


def test_the_controllers_import_no_ui_library():
    modules = ["training", "generation", "checkpoints"]
    code = (
        "import json, sys\n"
        + "".join(f"import lyrics_tui.tui.controllers.{m}\n" for m in modules)
        + "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "lyrics_tui.tui.controllers.training" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("textual", "rich")}
    assert "torch" not in loaded  # torch comes with the first run, in its thread


def test_t_says_when_a_continued_model_keeps_its_network_over_the_forms(tmp_path):
    """The form's sizes of 24 against a held model's 16: t continued with 16 without a word."""
    from lyrics_tui.core.loading import open_checkpoint

    corpus, folder = tiny_corpus(tmp_path), tmp_path / "ck"
    first = TrainingController(Inbox(), folder, device="cpu")
    first.start(first.plan(request(corpus)))
    join(first.threads)
    training = TrainingController(Inbox(), folder, device="cpu")
    training.adopt(open_checkpoint(folder / "tiny.pt"))
    assert training.plan(request(corpus, epochs=2)).notice == ""  # the form as the model
    wider = TrainingRequest(
        str(corpus),
        "default",
        {**TINY_MODEL, "embed": 24, "hidden": 24, "tie_weights": True},  # (tying: not said)
        {**TINY_TRAIN, "epochs": 2},
    )
    plan = training.plan(wider)
    assert plan.continuation is not None and plan.model_config.hidden == 16
    assert plan.notice == (
        "t continues the model held, whose network stays as it is (embed 16, hidden 16); R, "
        "then t, trains a new one with the form's"
    )


def test_t_continues_a_best_file_from_its_runs_latest_state(tmp_path):
    """A run quit after its best epoch leaves x.pt behind x-last.pt: t on x.pt goes on from
    x-last.pt's epoch, and says so before it starts."""
    from dataclasses import replace

    from lyrics_tui.core.checkpoint import load_checkpoint, save_checkpoint
    from lyrics_tui.core.loading import open_checkpoint
    from lyrics_tui.core.resume import latest_state_of

    corpus, folder = tiny_corpus(tmp_path), tmp_path / "ck"
    first = TrainingController(Inbox(), folder, device="cpu")
    first.start(first.plan(request(corpus, epochs=2)))
    join(first.threads)
    latest = load_checkpoint(folder / "tiny-last.pt")
    save_checkpoint(replace(latest, epoch=1, history=latest.history[:1]), folder / "tiny.pt")

    inbox = Inbox()
    training = TrainingController(inbox, folder, device="cpu")
    opened = open_checkpoint(folder / "tiny.pt")
    training.adopt(opened, latest_state_of(opened.checkpoint))
    plan = training.plan(request(corpus, epochs=3))
    assert plan.summary == "t continues from epoch 2 to epoch 3 (1 more)"
    training.start(plan)
    join(training.threads)
    inbox.deliver(training)
    assert [r.note for r in inbox.reports if isinstance(r, RunReady)] == [
        "continuing from epoch 2 to epoch 3 (1 more), from tiny-last.pt (the run's latest state)"
    ]
    assert [h["epoch"] for h in training.history] == [1, 2, 3]
    assert load_checkpoint(folder / "tiny-last.pt").epoch == 3  # saved beside, as before


def test_t_on_a_snapshot_saves_under_a_new_name_and_on_a_latest_state_into_its_best(tmp_path):
    from lyrics_tui.tui.controllers.continued import out_path_of

    assert out_path_of(str(tmp_path / "lyrics-e0.pt")) == tmp_path / "lyrics.pt"
    assert out_path_of(str(tmp_path / "lyrics-e4-ppl90.1.pt")) == tmp_path / "lyrics.pt"
    assert out_path_of(str(tmp_path / "lyrics-last.pt")) == tmp_path / "lyrics.pt"
    assert out_path_of(None) is None
