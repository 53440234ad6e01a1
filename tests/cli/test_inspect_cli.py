"""`lyrics-tui score | neighbours | step | hidden`: --json shapes, text output, and errors as
one line with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lyrics_tui.core.corpus import BUNDLED_CORPUS, read_corpus
from lyrics_tui.tui.cli import main
from tests.helpers import ROOT, hand_built_checkpoint

LINES = read_corpus(BUNDLED_CORPUS).lines[:60]
CELLS = ("lstm", "rnn")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Two tiny hand-built checkpoints (char tokenizer, LSTM and RNN) with the same vocabulary."""
    folder = tmp_path_factory.mktemp("ckpt")
    built = [hand_built_checkpoint(folder / f"{c}.pt", c, seed) for seed, c in enumerate(CELLS)]
    return [str(folder / f"{c}.pt") for c in CELLS], built[0][0].vocab


def run_json(capsys, argv):
    code = main([*argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return [json.loads(line) for line in out.out.splitlines()]


def known_word(vocab):
    return next(t for t in vocab.tokens[2:] if t.strip())


def test_score_json(capsys, checkpoints):
    (a, _), _vocab = checkpoints
    line = LINES[51][:6] + "龘"  # a character the tiny vocabulary cannot know
    events = run_json(capsys, ["score", "--checkpoint", a, "--line", line])
    words = [e for e in events if e["event"] == "word"]
    summary = events[-1]
    assert summary["event"] == "line" and summary["checkpoint"] == a
    assert [w["word"] for w in words] == [*list(line), "\n"]
    assert words[-2]["known"] is False and summary["unknown"][-1] == "龘"
    assert summary["unknown"] == list(dict.fromkeys(w["word"] for w in words if not w["known"]))
    for w in words:
        assert 0 < w["prob"] <= 1 and w["rank"] >= 1 and w["model"] == "a"
        assert w["surprisal_bits"] == pytest.approx(-__import__("math").log2(w["prob"]))
    mean = sum(w["surprisal_bits"] for w in words) / len(words)
    assert summary["perplexity"] == pytest.approx(2**mean)
    assert summary["tokens"] == len(words)


def test_score_compare_json(capsys, checkpoints):
    (a, b), _ = checkpoints
    events = run_json(capsys, ["score", "--checkpoint", a, "--compare", b, "--line", LINES[52]])
    lines = [e for e in events if e["event"] == "line"]
    assert [e["model"] for e in lines] == ["a", "b"]
    compare = events[-1]
    assert compare["event"] == "compare" and compare["aligned"] is True
    words_a = [e for e in events if e["event"] == "word" and e["model"] == "a"]
    words_b = [e for e in events if e["event"] == "word" and e["model"] == "b"]
    assert compare["delta_bits"] == pytest.approx(
        [y["surprisal_bits"] - x["surprisal_bits"] for x, y in zip(words_a, words_b, strict=True)]
    )
    assert compare["better"] == ("a" if lines[0]["perplexity"] < lines[1]["perplexity"] else "b")


def test_neighbours_json(capsys, checkpoints):
    (a, _), vocab = checkpoints
    word = known_word(vocab)
    events = run_json(
        capsys, ["neighbours", "--checkpoint", a, "--word", word, "-k", "4", "--farthest", "2"]
    )
    assert events[0]["event"] == "word" and events[0]["word"] == word
    near = [e for e in events if e["event"] == "neighbour"]
    far = [e for e in events if e["event"] == "farthest"]
    assert [e["rank"] for e in near] == [1, 2, 3, 4] and len(far) == 2
    cosines = [e["cosine"] for e in near]
    assert cosines == sorted(cosines, reverse=True)
    assert all(e["word"] not in (word, "<unk>") for e in near + far)
    assert far[0]["cosine"] <= far[1]["cosine"] <= cosines[-1]


def test_step_json_applies_choices(capsys, checkpoints):
    (a, _), _ = checkpoints
    events = run_json(
        capsys,
        [
            "step",
            "--checkpoint",
            a,
            "--prompt",
            LINES[53][:2],
            "--choose",
            "1,s,b,2",
            "--candidates",
            "4",
            "--seed",
            "3",
            "--top-k",
            "3",
        ],
    )
    kinds = [e["event"] for e in events]
    assert kinds == [
        "step",
        "choice",
        "step",
        "choice",
        "step",
        "choice",
        "step",
        "choice",
        "step",
        "done",
    ]
    steps = [e for e in events if e["event"] == "step"]
    first = steps[0]
    assert len(first["candidates"]) == 4 and first["survivors"] == 3
    assert [c["survives"] for c in first["candidates"]] == [True, True, True, False]
    assert sum(c["final_prob"] for c in first["candidates"]) == pytest.approx(1.0)
    assert events[1]["word"] == first["candidates"][0]["word"]
    assert steps[3] == steps[1]  # sampled, then stepped back: the same step again
    assert [e["action"] for e in events if e["event"] == "choice"] == [
        "choose",
        "sample",
        "back",
        "choose",
    ]
    done = events[-1]
    assert done["text"] == LINES[53][:2] + "".join(done["words"]) and len(done["words"]) == 2


def test_hidden_json(capsys, checkpoints):
    (a, _), _ = checkpoints
    events = run_json(
        capsys,
        ["hidden", "--checkpoint", a, "--prompt", LINES[54][:3], "--length", "4", "--seed", "1"],
    )
    rows = [e for e in events if e["event"] == "hidden"]
    assert len(rows) == 1 + 3 + 4  # line start, 3 prompt characters, 4 generated words
    assert [r["generated"] for r in rows] == [False] * 4 + [True] * 4
    for r in rows:
        assert len(r["h"]["values"]) == len(r["h"]["levels"]) == 16
        assert all(-4 <= v <= 4 for v in r["h"]["levels"])
        assert r["c"] is not None and r["h"]["norm"] >= 0
    assert events[-1]["event"] == "done" and events[-1]["cell"] == "lstm"


def test_text_output(capsys, checkpoints):
    (a, b), vocab = checkpoints
    assert main(["score", "--checkpoint", a, "--compare", b, "--line", LINES[52]]) == 0
    assert "perplexity A" in capsys.readouterr().out
    assert main(["neighbours", "--checkpoint", a, "--word", known_word(vocab)]) == 0
    assert "cosine" in capsys.readouterr().out
    assert main(["step", "--checkpoint", a, "--choose", "1"]) == 0
    assert "survive the filters" in capsys.readouterr().out
    assert main(["hidden", "--checkpoint", b, "--length", "2"]) == 0
    out = capsys.readouterr().out
    assert "RNN layer 1" in out and "|h|" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["neighbours", "--word", "龘"], "not in the vocabulary"),
        (["neighbours", "--word", "我", "--farthest", "201"], "farthest words must be between 0"),
        (["score", "--line", "  "], "nothing to score"),
        (["step", "--choose", "1,x"], "bad choice"),
        (["step", "--choose", "b"], "nothing to step back"),
        (["step", "--temperature", "-1"], "temperature"),
        (["hidden", "--length", "-3"], "length"),
    ],
)
def test_errors_are_one_line_exit_2(capsys, checkpoints, argv, message):
    (a, _), _ = checkpoints
    code = main([*argv, "--checkpoint", a])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_missing_checkpoint_is_one_line(capsys, tmp_path):
    code = main(["score", "--checkpoint", str(tmp_path / "none.pt"), "--line", "x"])
    err = capsys.readouterr().err
    assert code == 2 and "no such file" in err and err.count("\n") == 1


def test_inspection_commands_do_not_import_torch(checkpoints):
    (a, _), _ = checkpoints
    code = (
        "import sys\nfrom lyrics_tui.tui.cli import main\n"
        f"assert main(['score', '--checkpoint', {a!r}, '--line', 'ab', '--json']) == 0\n"
        f"assert main(['hidden', '--checkpoint', {a!r}, '--length', '2', '--json']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr


def test_step_shows_the_tail_of_the_text_at_each_step(capsys, checkpoints):
    """Each step printed the whole text so far: 2,000 picks wrote megabytes and ran for
    minutes. The JSON keeps the whole context."""
    (a, _), _ = checkpoints
    assert main(["step", "--checkpoint", a, "--seed", "1", "--choose", ",".join(["s"] * 60)]) == 0
    heads = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step ")]
    assert len(heads) >= 60
    assert max(len(line) for line in heads) <= len("step 61 after …") + 30
