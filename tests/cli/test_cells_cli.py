"""`lyrics-tui cells`: the ranked units and one unit's values (--json), the shaded text, and bad
input as one line with exit code 2. The network is tests/helpers.py's planted one."""

from __future__ import annotations

import json

import pytest

from lyrics_tui.tui.cli import main
from tests.helpers import PLANTED_TEXT, PLANTED_UNITS, planted_checkpoint


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return str(planted_checkpoint(tmp_path_factory.mktemp("planted")))


def run_json(capsys, argv):
    code = main(["cells", *argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return [json.loads(line) for line in out.out.splitlines()]


def test_the_held_out_text_ranked_for_the_line_end(capsys, planted):
    ranking, unit, done = run_json(capsys, ["--checkpoint", planted])
    assert [e["event"] for e in (ranking, unit, done)] == ["ranking", "unit", "done"]
    assert ranking["pattern"] == "line-end" and ranking["measure"] == "AUC"
    best = ranking["units"][0]
    assert best["unit"] == PLANTED_UNITS["line-end"] and best["score"] == pytest.approx(1.0)
    assert best["sign"] == 1 and len(ranking["units"]) == 8  # --top 10 of 8 units
    assert unit["unit"] == best["unit"] and unit["state"] == "h"
    tokens = [t for line in PLANTED_TEXT.split("\n") for t in [*line, "\n"]]
    assert unit["tokens"] == tokens and len(unit["values"]) == len(tokens)
    ends = [v for t, nxt, v in zip(tokens, tokens[1:], unit["values"], strict=False) if nxt == "\n"]
    assert min(ends) > 0.9  # the planted unit is on at every word before a line end
    assert done["hidden_size"] == 8 and done["tokens"] == len(tokens) and done["unknown"] == 0
    assert done["source"] == "planted.txt, last 18 lines (held out)"


def test_a_pattern_a_unit_and_a_text(capsys, planted, tmp_path):
    ranking, unit, _ = run_json(
        capsys, ["--checkpoint", planted, "--pattern", "position", "--top", "3", "--unit", "7"]
    )
    assert ranking["measure"] == "r" and len(ranking["units"]) == 3
    assert ranking["units"][0]["unit"] == PLANTED_UNITS["position"]
    assert unit["unit"] == 7
    text = tmp_path / "two.txt"
    text.write_text("春天\n歌\n", encoding="utf-8")
    _, unit, done = run_json(capsys, ["--checkpoint", planted, "--text", str(text)])
    assert unit["tokens"] == ["春", "天", "\n", "歌", "\n"] and done["source"] == str(text)


def test_a_selection_finds_its_units_and_where_they_fire(capsys, planted):
    tokens = [t for line in PLANTED_TEXT.split("\n") for t in [*line, "\n"]]
    choruses = [i for i, t in enumerate(tokens) if t == "歌"]
    span = f"{choruses[1]}:{choruses[1] + 1}"
    ranking, _, _ = run_json(capsys, ["--checkpoint", planted, "--select", span])
    assert ranking["pattern"] == "selection" and ranking["span"] == [choruses[1], choruses[1] + 1]
    assert PLANTED_UNITS["returning"] in ranking["together"] and ranking["matched"] >= 1
    assert [(p["start"], p["text"]) for p in ranking["places"]] == [(choruses[2], "歌")]


def test_the_terminal_shows_the_ranking_and_the_shaded_text(capsys, planted):
    assert main(["cells", "--checkpoint", planted, "--lines", "2"]) == 0
    out = capsys.readouterr().out
    assert "the word before a line end: every unit ranked by AUC" in out
    assert "higher where it holds" in out
    assert "AUC: the chance that the unit is higher at a word where the pattern holds" in out
    assert "0 春 天 ↵" in out and "▁▁ ██ ▁" in out  # the line end's word is on, the rest off
    assert "16 more lines" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--unit", "8"], "unit must be between 0 and 7"),
        (["--select", "3"], "--select takes A:B"),
        (["--select", "5:5"], "a selection must lie within tokens"),
        (["--state", "c"], "--state c needs an LSTM"),
        (["--text", "/nonexistent/lyrics.txt"], "no such file"),
        (["--top", "-1"], "--top and --lines"),
        (["--select", "0:2", "--threshold", "nan"], "the threshold must be a number"),
    ],
)
def test_bad_input_is_one_line(capsys, planted, argv, message):
    assert main(["cells", "--checkpoint", planted, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_model_whose_corpus_is_gone_needs_a_text(capsys, tmp_path):
    checkpoint = planted_checkpoint(tmp_path)
    (tmp_path / "planted.txt").unlink()
    assert main(["cells", "--checkpoint", str(checkpoint)]) == 2
    err = capsys.readouterr().err
    assert "planted.txt) is not here; give --text" in err
