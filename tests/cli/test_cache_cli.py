"""Song memory and dynamic evaluation on the command line: --cache, --fit-cache, --adapt, and the
JSON each command prints."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from lyrics_tui.core.cache import CacheSettings, stored_fit
from lyrics_tui.core.checkpoint import load_checkpoint
from lyrics_tui.core.evaluate import evaluate_lines
from lyrics_tui.tui.cli import main
from tests.helpers import train_cli


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def held_out(tmp_path_factory, small_lines):
    path = tmp_path_factory.mktemp("text") / "held.txt"
    path.write_text("\n".join(small_lines[270:]) + "\n", encoding="utf-8")
    return path


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_eval_reports_plain_and_cache_figures(capsys, checkpoint_path, held_out, small_lines):
    code, out, err = cli(
        capsys, "eval", "--checkpoint", checkpoint_path, "--text", held_out, "--json"
    )
    assert code == 0, err
    (row,) = rows(out)
    fit = stored_fit(load_checkpoint(checkpoint_path))
    assert fit is not None
    plain = evaluate_lines(load_checkpoint(checkpoint_path), small_lines[270:])
    assert row["perplexity"] == plain.perplexity  # the plain figure, exactly as before
    if fit.settings.on:
        assert row["cache"] == {**fit.settings.to_dict(), "source": "stored"}
        same = evaluate_lines(
            load_checkpoint(checkpoint_path), small_lines[270:], cache=fit.settings
        )
        assert row["cache_perplexity"] == same.cache_perplexity
    else:
        assert row["cache"] is None and row["cache_perplexity"] is None


def test_eval_cache_off_is_todays_eval_exactly(capsys, checkpoint_path, held_out, small_lines):
    code, out, err = cli(
        capsys,
        "eval",
        "--checkpoint",
        checkpoint_path,
        "--text",
        held_out,
        "--cache",
        "off",
        "--json",
    )
    assert code == 0, err
    (row,) = rows(out)
    plain = evaluate_lines(load_checkpoint(checkpoint_path), small_lines[270:])
    assert row["perplexity"] == plain.perplexity and row["loss"] == plain.loss
    assert row["cache_perplexity"] is None and row["cache"] is None


def test_eval_with_given_settings_and_adapt_leaves_the_file_alone(
    capsys, checkpoint_path, held_out
):
    before = digest(checkpoint_path)
    code, out, err = cli(
        capsys,
        "eval",
        "--checkpoint",
        checkpoint_path,
        "--text",
        held_out,
        "--cache",
        "100,0.5,0.3",
        "--adapt",
        "--json",
    )
    assert code == 0, err
    (row,) = rows(out)
    assert row["cache"] == {
        "window": 100,
        "theta": 0.5,
        "lambda": 0.3,
        "nearest": 1,
        "source": "given",
    }
    assert row["cache_perplexity"] > 1 and row["adapt_perplexity"] > 1
    assert row["adapt_cache_perplexity"] > 1 and row["adapt"]["segment"] >= 1
    assert digest(checkpoint_path) == before


def test_eval_fit_cache_stores_settings_in_an_older_file(capsys, tmp_path, checkpoint_path):
    payload = torch.load(checkpoint_path, weights_only=True)
    del payload["cache"]
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    text = tmp_path / "song.txt"
    text.write_text("我爱你\n你爱我\n我爱你\n你爱我\n" * 20, encoding="utf-8")
    code, out, err = cli(capsys, "eval", "--checkpoint", old, "--text", text, "--json")
    assert code == 0 and "--fit-cache" in err  # the note says how to fit it
    assert rows(out)[0]["cache"] is None
    code, out, err = cli(
        capsys, "eval", "--checkpoint", old, "--text", text, "--fit-cache", "--json"
    )
    assert code == 0, err
    (row,) = rows(out)
    fit = stored_fit(load_checkpoint(old))
    assert fit is not None and fit.fitted_on == str(text) and row["fit"] == fit.to_dict()
    assert fit.settings.on and fit.cache_ppl < fit.plain_ppl  # a text that repeats
    assert row["cache"]["source"] == "stored"


@pytest.mark.parametrize("bad", ["sometimes", "10,1", "0,1,0.5", "10,1,2"])
def test_a_bad_cache_option_is_one_line_and_exit_2(capsys, checkpoint_path, held_out, bad):
    for argv in (
        ("eval", "--checkpoint", checkpoint_path, "--text", held_out),
        ("generate", "--checkpoint", checkpoint_path),
        ("score", "--checkpoint", checkpoint_path, "--line", "我"),
        ("step", "--checkpoint", checkpoint_path),
    ):
        code, out, err = cli(capsys, *argv, "--cache", bad)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err and ("--cache" in err or "cache" in err)


def test_generate_reports_memory_per_token(capsys, checkpoint_path):
    code, out, err = cli(
        capsys,
        "generate",
        "--checkpoint",
        checkpoint_path,
        "--cache",
        "200,1,0.5",
        "--prompt",
        "我爱你\n",  # a finished line: remembered from the first token on
        "--seed",
        4,
        "--length",
        30,
        "--json",
    )
    assert code == 0, err
    *tokens, done = rows(out)
    assert done["cache"] == {
        "window": 200,
        "theta": 1.0,
        "lambda": 0.5,
        "nearest": 1,
        "source": "given",
    }
    assert all(t["cache_prob"] is not None and 0 < t["network_prob"] <= 1 for t in tokens)
    code, out, _ = cli(
        capsys, "generate", "--checkpoint", checkpoint_path, "--cache", "off", "--json"
    )
    *tokens, done = rows(out)
    assert done["cache"] is None and all(t["cache_prob"] is None for t in tokens)


def test_generate_help_says_how_penalty_and_memory_combine(capsys):
    code, out, _ = cli(capsys, "generate", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "--cache" in text and "network's scores only" in text


def test_score_and_step_json_carry_the_cache_columns(capsys, checkpoint_path):
    code, out, err = cli(
        capsys,
        "score",
        "--checkpoint",
        checkpoint_path,
        "--line",
        "我爱你\\n我爱你",
        "--cache",
        "100,1,0.4",
        "--json",
    )
    assert code == 0, err
    *words, line = rows(out)
    assert line["cache"] == {"window": 100, "theta": 1.0, "lambda": 0.4, "nearest": 1}
    assert line["network_perplexity"] > 0
    assert all(0 <= w["cache_share"] <= 1 for w in words)
    assert words[0]["cache_prob"] is None  # nothing remembered before the first word
    code, out, err = cli(
        capsys,
        "step",
        "--checkpoint",
        checkpoint_path,
        "--prompt",
        "我爱你\n我爱",
        "--cache",
        "100,1,0.4",
        "--choose",
        "1",
        "--json",
    )
    assert code == 0, err
    step = rows(out)[0]
    assert step["cache"] == {"window": 100, "theta": 1.0, "lambda": 0.4, "nearest": 1}
    assert step["remembered"] >= 1
    for c in step["candidates"]:
        assert {"network_prob", "cache_prob", "pointers"} <= c.keys()
    code, out, err = cli(capsys, "step", "--checkpoint", checkpoint_path, "--cache", "100,1,0.4")
    assert code == 0 and "song memory" in out and "network" in out, err


def test_train_done_reports_both_perplexities(capsys, tmp_path, held_out, small_lines):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(small_lines) + "\n", encoding="utf-8")
    out_path = tmp_path / "m.pt"
    code, out, err = train_cli(capsys, corpus, out_path)
    assert code == 0, err
    *epochs, done = rows(out)
    assert epochs[0]["cache_val_ppl"] is not None
    assert {"cache_val_ppl", "cache_cross_ppl", "plain_cross_ppl", "cache"} <= done.keys()
    assert done["cache"] == stored_fit(load_checkpoint(out_path)).settings.to_dict()
    code, out, err = train_cli(capsys, corpus, out_path, json=False)
    assert code == 0 and "song memory" in out, err


def test_generate_adapt_learns_on_a_copy_and_says_so(capsys, checkpoint_path):
    before = digest(checkpoint_path)
    args = ("generate", "--checkpoint", checkpoint_path, "--seed", 2, "--length", 40, "--json")
    code, out, err = cli(capsys, *args, "--adapt")
    assert code == 0, err
    *tokens, done = rows(out)
    assert len(tokens) == done["tokens"] == 40 and done["adapt"]["segment"] >= 1
    code, out, err = cli(capsys, *args)
    *plain, done = rows(out)
    assert done["adapt"] is None
    # the same seed: the same first word (nothing learnt yet), then the network has changed
    assert [t["token"] for t in tokens][:1] == [t["token"] for t in plain][:1]
    assert [t["prob"] for t in tokens] != [t["prob"] for t in plain]
    assert digest(checkpoint_path) == before


def test_a_tiny_networks_song_memory_stays_in_the_range_generate_accepts(capsys, tmp_path):
    """θ is fitted in units of 1/|h|²: a 16-unit network's small states sent it to 362, past
    the 100 that generate accepts, and the file it had just written could not be read."""
    from tests.helpers import BUNDLED

    corpus = tmp_path / "again.txt"
    corpus.write_text("\n".join(BUNDLED.read_text(encoding="utf-8").splitlines()[:20] * 5))
    small = ("--tokenizer", "char", "--embed", "16", "--hidden", "16")  # the default preset's
    done = train_cli(capsys, corpus, tmp_path / "m.pt", *small, tiny=False)
    assert done.code == 0, done.err
    stored = load_checkpoint(tmp_path / "m.pt").cache
    assert stored is not None and 0 < stored["theta"] <= 100
    assert main(["generate", "--checkpoint", str(tmp_path / "m.pt"), "--lines", "1"]) == 0
    old = CacheSettings.from_dict({**stored, "theta": 362.0})  # a file from before
    assert old.theta == 100 and old.validated() is old
