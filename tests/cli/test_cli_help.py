"""--help on every command: each flag's meaning and default, its range from the same table that
checks it (core/settings.py); a mistyped flag or command named, with the nearest one offered;
errors that name a setting name it by its flag."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from lyrics_tui.core.config import resolve_settings
from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.core.settings import MODEL, SAMPLER, TRAIN
from lyrics_tui.tui.cli import build_parser, main
from lyrics_tui.tui.cli.common import flag


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("lyrics-tui",)
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def flags(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            yield action


def test_every_flag_of_every_command_says_what_it_does_and_its_default():
    missing = []
    seen = 0
    for path, parser in commands(build_parser()):
        for action in flags(parser):
            seen += 1
            text = action.help or ""
            meaning = text.split(";")[0].split("default")[0].strip()
            if len(meaning) < 8 or not ("default" in text or action.required):
                missing.append(f"{' '.join(path)} {action.option_strings[-1]}: {text!r}")
    assert seen > 100
    assert not missing, "\n".join(missing)


def test_train_help_states_each_settings_range_and_its_default_from_the_table(capsys, monkeypatch):
    parser = dict(commands(build_parser()))[("lyrics-tui", "train")]
    by_flag = {o: a for a in flags(parser) for o in a.option_strings}
    model, train = resolve_settings("default")
    for table, values in ((MODEL, model), (TRAIN, train)):
        for name, setting in table.items():
            if name in ("embed_dropout", "init", "windowing", "average"):
                continue  # settings of the presets only, with no flag
            action = by_flag[flag(name)]
            assert setting.meaning in action.help
            if setting.kind is not bool and not setting.choices:
                assert setting.range_text in action.help, name
            value = getattr(values, name)
            if isinstance(value, bool):
                shown = "on" if value else "off"
            else:
                shown = value if isinstance(value, str) else f"{value:g}"
            assert f"default {shown}" in action.help, (name, action.help)
    monkeypatch.setenv("COLUMNS", "400")  # argparse wraps at hyphens too
    assert main(["train", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--embed N the size of each word's vector (nn.Embedding); between 1 and 4096" in out
    assert "default 512 (--preset tutorial, tutorial-windows: 128)" in out
    assert "default 0.75 (--preset tutorial, tutorial-windows: 0; --corpus songci: 0.5)" in out


def test_the_sampler_flags_default_to_core_s_settings():
    parser = dict(commands(build_parser()))[("lyrics-tui", "generate")]
    args = parser.parse_args([])
    defaults = SamplerSettings()
    for name in ("temperature", "top_k", "top_p", "repetition_penalty", "returns"):
        assert getattr(args, name) == getattr(defaults, name)
        assert SAMPLER[name].range_text in dict((a.dest, a.help) for a in flags(parser))[name]
    assert args.length == defaults.max_tokens and args.lines == defaults.max_lines


@pytest.mark.parametrize(
    "argv,says",
    [
        (
            ["generate", "--lenght", "10"],
            "lyrics-tui generate: unrecognized argument --lenght 10; did you mean --length?",
        ),
        (
            ["train", "--hiden", "64"],
            "lyrics-tui train: unrecognized argument --hiden 64; did you mean --hidden?",
        ),
        (["train", "--cell", "lsmt"], "did you mean lstm?"),
        (["genrate"], "lyrics-tui: unknown command 'genrate' (one of train, generate"),
        (["genrate"], "did you mean generate?"),
        (
            ["runs", "show", "1", "--jsn"],
            "lyrics-tui runs show: unrecognized argument --jsn; did you mean --json?",
        ),
    ],
)
def test_a_mistyped_flag_names_the_command_and_the_nearest_flag(capsys, argv, says):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert says in err


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--top-p", "1.5"],
        ["generate", "--temperature", "-1"],
        ["generate", "--repetition-penalty", "0.5"],
        ["generate", "--returns", "31"],
        ["generate", "--redraft", "1.5"],
        ["train", "--dropout", "1.5"],
        ["train", "--lr", "0"],
        ["train", "--epochs", "0"],
        ["train", "--bptt", "1"],
    ],
)
def test_an_out_of_range_setting_is_named_by_its_flag_with_its_range(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    name = argv[1].removeprefix("--").replace("-", "_")
    setting = {**MODEL, **TRAIN, **SAMPLER}[name] if argv[0] == "train" else SAMPLER[name]
    assert err == f"lyrics-tui: {argv[1]} must be {setting.range_text}\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--time-budget", "inf"],  # the budget overflowed into a traceback
        ["train", "--weight-decay", "inf"],  # saved weights of NaN as the best model
        ["train", "--lr", "inf"],  # (a temperature of inf is capped at 100: that one is a use)
    ],
)
def test_an_infinite_setting_is_refused_by_its_flag(capsys, argv):
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(f"lyrics-tui: {argv[1]} must be a finite number, ")


def test_every_setting_check_names_its_setting_first():
    for table in (MODEL, TRAIN, SAMPLER):
        for name, setting in table.items():
            if setting.kind is bool:
                continue
            bad = "nope" if setting.choices else float("nan")
            with pytest.raises(SettingsError) as info:
                setting.check(bad)
            assert info.value.settings == [name]
            assert info.value.render(flag).startswith(flag(name) + " must be ")
