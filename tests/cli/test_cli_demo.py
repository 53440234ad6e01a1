"""`lyrics-tui demo`: the playground in its hands-free mode, in this terminal or served
(`lyrics-tui demo --serve` or `lyrics-tui --serve demo`: each page runs its own demo)."""

from __future__ import annotations

import pytest

from lyrics_tui.tui import launch, serving
from lyrics_tui.tui.cli import build_parser, main
from lyrics_tui.tui.screens.demo import DemoDriver


@pytest.fixture
def served(monkeypatch):
    commands = []

    def serve(command, *, host, port, token):
        commands.append((command, port))
        return 0

    monkeypatch.setattr(serving, "serve", serve)
    return commands


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--serve", "--corpus", "songci", "--port", "8123", "--budget", "30"],
        ["--serve", "--port", "8123", "--corpus", "songci", "demo", "--budget", "30"],
    ],
)
def test_demo_and_serve_combine_either_way(served, argv):
    assert main(argv) == 0
    command, port = served[0]
    assert port == 8123
    assert "--corpus songci" in command
    assert command.endswith("demo --budget 30 --pace 300 --lines 8")
    served_args = build_parser().parse_args(command.split()[3:])  # what each page runs
    assert served_args.command == "demo" and served_args.corpus == "songci"
    assert not getattr(served_args, "serve", False)


def test_demo_opens_the_playground_with_the_demo_driver(monkeypatch):
    opened = []
    monkeypatch.setattr(launch, "run_app", lambda app: opened.append(app) or 0)
    assert (
        main(["demo", "--corpus", "songci", "--budget", "5", "--pace", "100", "--seed", "3"]) == 0
    )
    app = opened[0]
    assert app.corpus == "songci" and isinstance(app.demo, DemoDriver)
    options = app.demo.options
    assert (options.budget_s, options.pace_s, options.lines, options.seed) == (5, 0.1, 8, 3)


@pytest.mark.parametrize(
    "flag, value, said",
    [
        ("--budget", "-1", "--budget must be 0 or more"),
        ("--pace", "9000", "--pace must be between 0 and 5000"),
        ("--lines", "0", "--lines must be at least 1"),
        ("--corpus", "songcii", "neither a bundled corpus"),
    ],
)
def test_bad_demo_flags_are_one_line(capsys, flag, value, said):
    assert main(["demo", flag, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err
