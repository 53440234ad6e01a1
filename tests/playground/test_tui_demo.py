"""The hands-free demo: it trains for its budget, then writes songs one after another with the
candidates of each step beside them, and a key stops it (the playground stays, with the
model)."""

from __future__ import annotations

from lyrics_tui.tui.controllers.demo import DemoOptions, DemoPhase
from lyrics_tui.tui.screens.demo import DemoDriver, DemoScreen
from tests.playground.pilot import (
    IDLE,
    STARTING,
    TRAINING,
    make_app,
    record_notes,
    session,
    text_of,
    until,
)

FAST = DemoOptions(budget_s=5.0, pace_s=0.01, lines=2, max_words=12, pause_s=0.02, seed=7)


async def test_the_demo_trains_then_writes_songs_until_a_key(tmp_path):
    driver = DemoDriver(FAST)
    app = make_app(tmp_path, demo=driver)
    notes = record_notes(app)
    async with session(app) as pilot:
        await until(pilot, lambda: driver.controller is not None, "the demo to start")
        demo = driver.controller
        await until(pilot, lambda: demo.phase is DemoPhase.TRAINING, "training")
        assert app.training.state in (STARTING, TRAINING)  # the playground's own training
        await until(pilot, lambda: isinstance(app.screen, DemoScreen), "the songs", 1200)
        assert len(app.training.history) >= 1  # it trained first
        assert app.training.run.train_config.time_budget == FAST.budget_s
        await until(pilot, lambda: demo.songs >= 2, "a second song")
        song = demo.song
        assert song.seed == FAST.seed + song.number - 1
        await until(pilot, lambda: demo.song.step is not None, "a word of the second song")
        steps = text_of(app.screen, "#demo-steps")
        assert "◀" in steps or "picked:" in steps  # the candidates, the pick marked
        assert f"song {demo.song.number}" in text_of(app.screen, "#demo-head")
        await pilot.press("z")  # any key
        await until(pilot, lambda: not isinstance(app.screen, DemoScreen), "the demo ends")
        assert demo.phase is DemoPhase.STOPPED and not driver.running
        written = demo.songs
        await pilot.pause(0.1)
        assert demo.songs == written  # nothing more is written
        assert app.training.state is IDLE and app.training.has_model
        assert any("demo stopped" in t for _, t in notes)
