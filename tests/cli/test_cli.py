"""The command line: JSON output of train/generate/eval, sampler inputs, and bad input -> exit 2
with one line on stderr."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import subprocess
import sys

import pytest
import torch

from lyrics_tui.core.checkpoint import load_checkpoint
from lyrics_tui.core.settings import MAX_SEED, MAX_TOKENS
from lyrics_tui.tui.cli import main
from tests.helpers import BUNDLED, ROOT, TINY_FLAGS, resume_cli, train_cli

EPOCH_KEYS = {"event", "epoch", "train_loss", "val_loss", "val_ppl", "tokens_per_s", "elapsed_s"}
# the epoch line's keys, in order: its shape is what scripts read, kept whatever core holds
EPOCH_LINE = [
    "event",
    "epoch",
    "train_loss",
    "val_loss",
    "val_ppl",
    "tokens_per_s",
    "elapsed_s",
    "lr",
    "cache_val_ppl",
]
DONE_TRAIN_KEYS = {"event", "best_val_ppl", "checkpoint"}
TOKEN_KEYS = {"event", "token", "prob"}
DONE_GEN_KEYS = {"event", "text", "tokens", "tokens_per_s", "form", "rhyme", "redraft"}
EVAL_KEYS = {"perplexity", "tokens", "unknown"}


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out: str) -> list[dict]:
    lines = out.splitlines()
    assert lines, "no output"
    return [json.loads(line) for line in lines]  # every line is JSON, nothing else


def one_line_error(code, out, err, *, stdout_empty=True):
    assert code == 2, (code, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lyrics-tui")
    if stdout_empty:
        assert out == ""
    return lines[0]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory, small_lines):
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    path.write_text("\n".join(small_lines) + "\n", encoding="utf-8")
    return path


def gen(capsys, checkpoint, *extra):
    return cli(capsys, "generate", "--checkpoint", checkpoint, "--json", *extra)


def tokens_and_done(out):
    rows = json_lines(out)
    return rows[:-1], rows[-1]


# -- train -----------------------------------------------------------------------------------
def test_train_json_prints_only_documented_json_lines(capsys, tmp_path, corpus_file):
    out_path = tmp_path / "m.pt"
    code, out, err = train_cli(capsys, corpus_file, out_path, epochs=2)
    assert code == 0, err
    assert err == ""
    rows = json_lines(out)
    epochs, done = rows[:-1], rows[-1]
    assert [r["event"] for r in epochs] == ["epoch", "epoch"]
    for i, row in enumerate(epochs, start=1):
        assert list(row) == EPOCH_LINE and row["epoch"] == i
        assert row["lr"] > 0
        assert row["cache_val_ppl"] is None or row["cache_val_ppl"] >= 1.0
        assert all(
            isinstance(row[k], (int, float)) and math.isfinite(row[k])
            for k in EPOCH_KEYS - {"event"}
        )
        assert row["val_ppl"] == pytest.approx(math.exp(row["val_loss"]))
    assert done["event"] == "done" and DONE_TRAIN_KEYS <= done.keys()
    assert done["checkpoint"] == str(out_path) and out_path.exists()
    assert done["best_val_ppl"] == pytest.approx(min(r["val_ppl"] for r in epochs))
    assert load_checkpoint(out_path).vocab.tokens[0] == "<unk>"


def test_train_on_a_terminal_prints_a_readable_summary(capsys, tmp_path, corpus_file):
    code, out, err = train_cli(capsys, corpus_file, tmp_path / "m.pt", json=False)
    assert code == 0, err
    assert "vocabulary" in out and "epoch   1" in out and "best checkpoint" in out
    assert not out.lstrip().startswith("{")


def test_a_run_with_nothing_held_out_names_its_best_figure_for_what_it_is(
    capsys, tmp_path, corpus_file
):
    code, out, err = train_cli(
        capsys, corpus_file, tmp_path / "m.pt", "--val-fraction", 0, json=False
    )
    assert code == 0, err
    assert "best training (no text held out) perplexity" in " ".join(out.split())
    assert "best validation perplexity" not in out
    code, out, err = train_cli(capsys, corpus_file, tmp_path / "v.pt", json=False)
    assert "best validation perplexity" in " ".join(out.split())


def test_a_validation_file_that_is_the_training_text_is_warned_of(capsys, tmp_path, corpus_file):
    code, _, err = train_cli(capsys, corpus_file, tmp_path / "m.pt", "--val-file", corpus_file)
    assert code == 0, err
    assert "is the training text itself" in " ".join(err.split())
    other = tmp_path / "held.txt"
    other.write_text("别的歌\n另一行\n", encoding="utf-8")
    code, _, err = train_cli(capsys, corpus_file, tmp_path / "n.pt", "--val-file", other)
    assert code == 0 and "training text itself" not in err


def test_train_resume_on_a_terminal_says_what_it_will_do(capsys, tmp_path, corpus_file):
    assert train_cli(capsys, corpus_file, tmp_path / "m.pt", json=False).code == 0
    code, out, err = resume_cli(capsys, corpus_file, tmp_path / "m.pt", epochs=3, json=False)
    assert code == 0, err
    assert "continuing from epoch 1 to epoch 3 (2 more)" in " ".join(out.split())


def test_train_resume_from_a_best_file_names_the_runs_latest_state(capsys, tmp_path, corpus_file):
    from dataclasses import replace

    from lyrics_tui.core.checkpoint import save_checkpoint

    assert train_cli(capsys, corpus_file, tmp_path / "m.pt", epochs=2).code == 0
    latest = load_checkpoint(tmp_path / "m-last.pt")  # a best at epoch 1, a quit at 2
    save_checkpoint(replace(latest, epoch=1, history=latest.history[:1]), tmp_path / "m.pt")
    code, _, err = resume_cli(capsys, corpus_file, tmp_path / "m.pt", epochs=3)
    assert code == 0, err
    assert f"{tmp_path / 'm-last.pt'} holds this run further on (epoch 2, against 1 here)" in err


def test_train_resume_goes_on_with_the_models_own_corpus(capsys, tmp_path, small_lines):
    """Without --corpus a resumed run reads the text the model was trained on (it had gone on
    with the bundled corpus and replaced the best checkpoint); with another one it says so."""
    corpus = tmp_path / "own.txt"
    corpus.write_text("\n".join(small_lines[:150]) + "\n", encoding="utf-8")
    assert train_cli(capsys, corpus, tmp_path / "m.pt").code == 0
    resume = ["train", "--resume", str(tmp_path / "m-last.pt"), "--json"]
    code, _, err = cli(capsys, *resume, "--epochs", 2)
    assert code == 0, err
    assert load_checkpoint(tmp_path / "m-last.pt").corpus == str(corpus)

    other = tmp_path / "other.txt"
    other.write_text("\n".join(small_lines[150:300]) + "\n", encoding="utf-8")
    code, _, err = cli(capsys, *resume, "--epochs", 3, "--corpus", other)
    assert code == 0, err
    assert f"the model was trained on {corpus}; going on with {other}" in " ".join(err.split())

    recorded = load_checkpoint(tmp_path / "m-last.pt").corpus
    assert recorded == str(other)
    other.unlink()
    code, out, err = cli(capsys, *resume, "--epochs", 9)
    assert code == 2 and out == ""
    assert f"trained on {other}, which is not here" in " ".join(err.split()) and "--corpus" in err


def test_a_new_run_never_replaces_another_runs_model_named_by_out(capsys, tmp_path, corpus_file):
    out = tmp_path / "same.pt"
    assert train_cli(capsys, corpus_file, out).code == 0
    first = out.read_bytes()
    code, stdout, err = train_cli(capsys, corpus_file, out)
    assert code == 0, err
    assert f"{out} holds another run's model: this run saves as {tmp_path / 'same-2.pt'}" in (
        " ".join(err.split())
    )
    assert out.read_bytes() == first
    assert json_lines(stdout)[-1]["checkpoint"] == str(tmp_path / "same-2.pt")


def test_train_resume_from_a_snapshot_keeps_the_snapshot(capsys, tmp_path, corpus_file):
    """A snapshot (the playground's s) is a moment kept on purpose: continuing it saves under
    the name without the epoch, numbered when that is taken."""
    assert train_cli(capsys, corpus_file, tmp_path / "m.pt").code == 0
    snapshot = tmp_path / "small-e1-ppl80.5.pt"
    (tmp_path / "m.pt").rename(snapshot)
    (tmp_path / "small.pt").write_bytes(b"")  # another run's name: taken
    kept = snapshot.read_bytes()
    code, out, err = resume_cli(capsys, corpus_file, snapshot, epochs=2)
    assert code == 0, err
    assert snapshot.read_bytes() == kept
    done = json_lines(out)[-1]
    assert done["checkpoint"] == str(tmp_path / "small-2.pt")
    assert load_checkpoint(tmp_path / "small-2.pt").epoch == 2


def test_train_max_vocab_caps_the_stored_vocabulary(capsys, tmp_path, corpus_file):
    code, _, err = train_cli(capsys, corpus_file, tmp_path / "m.pt", "--max-vocab", 30)
    assert code == 0, err
    assert len(load_checkpoint(tmp_path / "m.pt").vocab) == 30


def test_train_on_one_line_of_100000_characters(capsys, tmp_path):
    text = "".join(BUNDLED.read_text(encoding="utf-8").split())
    corpus = tmp_path / "long.txt"
    corpus.write_text((text * 5)[:100_000], encoding="utf-8")
    code, out, err = train_cli(capsys, corpus, tmp_path / "m.pt", "--tokenizer", "char")
    assert code == 0, err
    assert json_lines(out)[-1]["checkpoint"] == str(tmp_path / "m.pt")


@pytest.mark.parametrize("encoding", ["gb18030", "utf-16"])
def test_train_on_other_encodings(capsys, tmp_path, small_lines, encoding):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes("\r\n".join(small_lines[:120]).encode(encoding))
    code, _, err = train_cli(capsys, corpus, tmp_path / "m.pt")
    assert code == 0, err
    tokens = load_checkpoint(tmp_path / "m.pt").vocab.tokens
    assert len(tokens) > 20 and "\n" in tokens
    assert sum(all("\u4e00" <= ch <= "\u9fff" for ch in t) for t in tokens) > 10  # real words
    assert not any(ch in t for t in tokens for ch in "\ufeff\r\x00")


def test_a_save_that_fails_mid_run_stops_with_one_line_and_exit_1(
    capsys, tmp_path, corpus_file, monkeypatch
):
    import lyrics_tui.core.trainer
    from lyrics_tui.core.errors import CheckpointError

    def full(checkpoint, path):
        raise CheckpointError(f"{path}: checkpoint not saved: the disk is full")

    monkeypatch.setattr(lyrics_tui.core.trainer, "save_checkpoint", full)
    code, out, err = train_cli(capsys, corpus_file, tmp_path / "m.pt", epochs=3)
    assert code == 1
    assert (
        err.strip()
        == f"lyrics-tui: {tmp_path / 'm-last.pt'}: checkpoint not saved: the disk is full"
    )
    done = json_lines(out)[-1]
    assert done["reason"] == "failed" and done["checkpoint"] is None and done["epochs"] == 1


def test_a_nan_loss_stops_train_with_one_line_exit_1_and_keeps_the_good_checkpoint(
    capsys, tmp_path, corpus_file, monkeypatch
):
    real = torch.nn.functional.cross_entropy
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        loss = real(*args, **kwargs)
        if kwargs.get("reduction", "mean") == "mean":
            calls["n"] += 1
            if calls["n"] > 40:  # past the first epoch of this corpus (about 35 batches)
                return loss * float("nan")
        return loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", poisoned)
    out_path = tmp_path / "m.pt"
    code, out, err = train_cli(capsys, corpus_file, out_path, epochs=5)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "the loss became nan" in lines[0]
    assert "last good checkpoint is kept" in lines[0]
    done = json_lines(out)[-1]
    assert done["reason"] == "diverged" and done["checkpoint"] == str(out_path)
    assert load_checkpoint(out_path).epoch == done["epochs"] >= 1


# -- generate --------------------------------------------------------------------------------
def test_generate_json_streams_tokens_then_done(capsys, checkpoint_path):
    code, out, err = gen(capsys, checkpoint_path, "--seed", 5, "--length", 25)
    assert code == 0, err
    tokens, done = tokens_and_done(out)
    assert len(tokens) == 25
    for row in tokens:
        assert TOKEN_KEYS <= row.keys() and row["event"] == "token"
        assert 0 < row["prob"] <= 1 and row["token"] != "<unk>"
    assert done["event"] == "done" and DONE_GEN_KEYS <= done.keys()
    assert done["tokens"] == 25 and done["tokens_per_s"] > 0
    assert done["text"] == "".join(r["token"] for r in tokens)


def test_generate_plain_prints_the_prompt_and_the_text(capsys, checkpoint_path):
    code, out, err = cli(
        capsys,
        "generate",
        "--checkpoint",
        checkpoint_path,
        "--prompt",
        "晚风",
        "--seed",
        1,
        "--length",
        10,
    )
    assert code == 0, err
    assert out.startswith("晚风") and out.endswith("\n")
    assert "10 tokens" in err and "seed 1" in err


def test_same_seed_same_text_different_seed_different_text(capsys, checkpoint_path):
    texts = []
    for seed in (1, 1, 2, 3):
        _, out, _ = gen(
            capsys, checkpoint_path, "--seed", seed, "--length", 30, "--temperature", 1.0
        )
        texts.append(tokens_and_done(out)[1]["text"])
    assert texts[0] == texts[1]
    assert len(set(texts)) > 1


def test_empty_prompt_works(capsys, checkpoint_path):
    code, out, err = gen(capsys, checkpoint_path, "--prompt", "", "--length", 5, "--seed", 1)
    assert code == 0 and err == ""
    assert len(tokens_and_done(out)[0]) == 5


def test_a_prompt_of_unknown_words_only_is_a_warning_not_an_error(capsys, checkpoint_path):
    code, out, err = gen(
        capsys, checkpoint_path, "--prompt", "Zebra quokka", "--length", 5, "--seed", 1
    )
    assert code == 0
    assert "not in the vocabulary" in err and "Zebra" in err and "quokka" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    tokens, done = tokens_and_done(out)
    assert len(tokens) == 5 and done["text"].startswith("Zebra quokka")


CONTROLS = "a\x1b[31mb\x07\r[/x]"  # recolour, bell, carriage return, a closing markup tag


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--prompt", CONTROLS, "--length", "3", "--seed", "1"],
        ["step", "--prompt", CONTROLS, "--choose", "1", "--seed", "1"],
        ["score", "--line", CONTROLS],
        ["score", "--line", CONTROLS, "--compare", "MODEL"],  # the model beside itself
        ["hidden", "--prompt", CONTROLS, "--length", "2", "--seed", "1"],
        ["neighbours", "--word", CONTROLS],  # not a word of the model: exit 2, in one line
    ],
)
def test_what_the_user_typed_reaches_the_terminal_without_its_control_characters(
    capsys, checkpoint_path, argv
):
    argv = [str(checkpoint_path) if a == "MODEL" else a for a in argv]
    code, out, err = cli(capsys, *argv, "--checkpoint", str(checkpoint_path))
    assert code == (2 if argv[0] == "neighbours" else 0), err
    for stream in (out, err):
        assert not set(stream) & {"\x1b", "\x07", "\r"}
    assert "\\x1b" in out + err  # shown, escaped


def test_a_text_that_reads_as_markup_is_shown_as_written(capsys, tmp_path, checkpoint_path):
    text = tmp_path / "[bold]text.txt"
    text.write_text("[/x]我\n你[/x]\n", encoding="utf-8")
    code, out, err = cli(capsys, "cells", "--checkpoint", str(checkpoint_path), "--text", text)
    assert code == 0, err
    assert "[bold]text.txt" in "".join(out.split())  # however the long path was folded


def test_temperature_zero_is_greedy_whatever_the_seed(capsys, checkpoint_path):
    texts = {
        tokens_and_done(
            gen(capsys, checkpoint_path, "--temperature", 0, "--seed", s, "--length", 20)[1]
        )[1]["text"]
        for s in (1, 2, 3)
    }
    assert len(texts) == 1
    _, out, _ = gen(capsys, checkpoint_path, "--temperature", 0, "--length", 20)
    tokens, _ = tokens_and_done(out)
    assert all(t["prob"] == 1.0 for t in tokens)


def test_top_p_zero_and_top_k_one_are_greedy(capsys, checkpoint_path):
    def text(*flags):  # the sampler's filters alone (the song form may overrule the top word)
        return tokens_and_done(
            gen(capsys, checkpoint_path, "--length", 20, "--seed", 4, "--no-form", *flags)[1]
        )[1]["text"]

    greedy = text("--temperature", "0")
    assert text("--top-p", "0") == greedy
    assert text("--top-k", "1") == greedy


def test_top_k_zero_and_above_the_vocabulary_are_off(capsys, checkpoint_path):
    vocab_size = len(load_checkpoint(checkpoint_path).vocab)

    def text(k):
        code, out, err = gen(
            capsys, checkpoint_path, "--length", 30, "--seed", 9, "--temperature", 1.0, "--top-k", k
        )
        assert code == 0, err
        return tokens_and_done(out)[1]["text"]

    assert text(0) == text(vocab_size + 1) == text(10**12)


def test_a_huge_temperature_is_capped_and_said(capsys, checkpoint_path):
    code, out, err = gen(
        capsys, checkpoint_path, "--temperature", "1e6", "--length", 5, "--seed", 1
    )
    assert code == 0
    assert "capped at 100" in err and len(err.strip().splitlines()) == 1
    assert len(tokens_and_done(out)[0]) == 5


def test_length_zero_generates_nothing(capsys, checkpoint_path):
    code, out, err = gen(capsys, checkpoint_path, "--length", 0)
    assert code == 0 and err == ""
    tokens, done = tokens_and_done(out)
    assert tokens == [] and done["tokens"] == 0 and done["text"] == ""


def test_length_ten_million_is_capped_and_the_cap_is_said(capsys, checkpoint_path):
    code, out, err = gen(capsys, checkpoint_path, "--length", 10_000_000, "--seed", 1)
    assert code == 0
    assert f"capped at {MAX_TOKENS:,}" in err
    tokens, done = tokens_and_done(out)
    assert len(tokens) == done["tokens"] == MAX_TOKENS


def test_lines_stops_after_n_lines(capsys, checkpoint_path):
    code, out, _ = gen(capsys, checkpoint_path, "--lines", 2, "--length", 5000, "--seed", 3)
    assert code == 0
    tokens, _ = tokens_and_done(out)
    assert [t["token"] for t in tokens].count("\n") == 2 and tokens[-1]["token"] == "\n"


def test_device_auto_runs_torch_and_gives_the_numpy_text(capsys, checkpoint_path):
    flags = ["--length", 30, "--seed", 8, "--temperature", 0.9, "--prompt", "晚风"]
    _, numpy_out, _ = gen(capsys, checkpoint_path, "--device", "cpu", *flags)
    code, torch_out, err = gen(capsys, checkpoint_path, "--device", "auto", *flags)
    assert code == 0, err
    assert tokens_and_done(torch_out)[1]["text"] == tokens_and_done(numpy_out)[1]["text"]


def test_the_largest_documented_seed_works(capsys, checkpoint_path):
    code, _, err = gen(capsys, checkpoint_path, "--seed", MAX_SEED, "--length", 3)
    assert code == 0, err


# -- eval ------------------------------------------------------------------------------------
def test_eval_json(capsys, checkpoint_path, corpus_file):
    code, out, err = cli(
        capsys, "eval", "--checkpoint", checkpoint_path, "--text", corpus_file, "--json"
    )
    assert code == 0, err
    (row,) = json_lines(out)
    assert EVAL_KEYS <= row.keys()
    assert 1 < row["perplexity"] < len(load_checkpoint(checkpoint_path).vocab) * 2
    assert row["tokens"] > 1000 and 0 <= row["unknown"] < row["tokens"]


def test_eval_of_a_text_whose_words_are_all_unseen(capsys, tmp_path, checkpoint_path):
    text = tmp_path / "alien.txt"
    text.write_text("Zebra quokka axolotl\nXylophone narwhal\n", encoding="utf-8")
    code, out, err = cli(capsys, "eval", "--checkpoint", checkpoint_path, "--text", text, "--json")
    assert code == 0, err
    (row,) = json_lines(out)
    assert math.isfinite(row["perplexity"]) and row["perplexity"] > 1
    # every word is unknown; only the two line ends are in the vocabulary
    assert row["unknown"] == row["tokens"] - 2 and row["unknown"] > 0


def test_eval_plain(capsys, checkpoint_path, corpus_file):
    code, out, _ = cli(capsys, "eval", "--checkpoint", checkpoint_path, "--text", corpus_file)
    assert code == 0 and out.startswith("perplexity ")


# -- bad input: exit 2, one line -------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, checkpoint_path):
    folder = tmp_path_factory.mktemp("bad")
    files = {
        "empty": b"",
        "blank": b"  \n\n\t\n",
        "binary": bytes(range(256)) * 40,
        "utf16-no-bom": "我爱你\n".encode("utf-16-le") * 50,
        "noise.pt": os.urandom(3000),
        "cut.pt": checkpoint_path.read_bytes()[:2000],
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    torch.save({"weight": torch.zeros(2)}, folder / "foreign.pt")
    payload = load_checkpoint(checkpoint_path).to_payload()
    torch.save(dict(payload, format_version=99), folder / "v99.pt")
    shape = dict(payload, model_config=dict(payload["model_config"], cell="gru"))
    torch.save(shape, folder / "wrong-cell.pt")

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {folder / 'PWNED'}",))

    (folder / "evil.pt").write_bytes(pickle.dumps(Evil()))
    buf = io.BytesIO()
    torch.save(dict(payload, model_state={"embedding.weight": Evil()}), buf)
    (folder / "evil-zip.pt").write_bytes(buf.getvalue())
    return folder


BAD_TRAIN = [
    (["--corpus", "{bad}/missing.txt"], "no such file"),
    (["--corpus", "{bad}/empty"], "empty"),
    (["--corpus", "{bad}/blank"], "no text"),
    (["--corpus", "{bad}/binary"], "binary"),
    (["--corpus", "{bad}/utf16-no-bom"], "binary"),
    (["--corpus", "{bad}"], "folder"),
    (["--val-file", "{bad}/empty"], "empty"),
    (["--epochs", "0"], "epochs"),
    (["--epochs", "x"], "invalid int"),
    (["--embed", "0"], "embed"),
    (["--layers", "99"], "layers"),
    (["--lr", "nan"], "lr"),
    (["--lr", "-1"], "lr"),
    (["--dropout", "1.5"], "dropout"),
    (["--val-fraction", "1"], "val-fraction"),
    (["--time-budget", "-5"], "time-budget"),
    (["--batch-size", "0"], "batch-size"),
    (["--bptt", "1"], "bptt"),
    (["--min-count", "0"], "min-count"),
    (["--max-vocab", "-1"], "max-vocab"),
    (["--max-vocab", "1"], "max-vocab"),
    (["--seed", "-1"], "seed"),
    (["--cell", "transformer"], "invalid choice"),
    (["--tie-weights", "--embed", "8", "--hidden", "16"], "tying"),
    (["--resume", "{bad}/noise.pt"], "not a readable checkpoint"),
    (["--resume", "{bad}/missing.pt"], "no such file"),
    (["--resume", "{ckpt}", "--epochs", "1"], "--epochs"),
    (["--epochs", "99999999999999999999"], "--epochs must be between 1 and 1000000000"),
    (["--device", "cuda"], "cuda"),
    (["--val-fraction", "0.1", "--val-file", "x"], "not allowed"),
    (["--out", "{bad}/empty/m.pt"], "is a file, not a folder"),
    (["--out", "{bad}"], "is a folder"),
]


@pytest.mark.parametrize("flags,says", BAD_TRAIN, ids=[" ".join(f) for f, _ in BAD_TRAIN])
def test_bad_train_input_is_one_line_and_exit_2(
    capsys, tmp_path, corpus_file, bad_files, checkpoint_path, flags, says
):
    if "cuda" in flags and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    flags = [f.format(bad=bad_files, ckpt=checkpoint_path) for f in flags]
    argv = ["train", *TINY_FLAGS, "--out", tmp_path / "m.pt", "--json"]
    if "--corpus" not in flags:
        argv += ["--corpus", corpus_file]
    code, out, err = cli(capsys, *argv, *flags)
    line = one_line_error(code, out, err)
    assert says in line
    assert not (tmp_path / "m.pt").exists()


BAD_GENERATE = [
    (["--checkpoint", "{bad}/missing.pt"], "no such file"),
    (["--checkpoint", "{bad}/noise.pt"], "not a readable checkpoint"),
    (["--checkpoint", "{bad}/cut.pt"], "not a readable checkpoint"),
    (["--checkpoint", "{bad}/empty"], "empty"),
    (["--checkpoint", "{bad}/foreign.pt"], "not a lyrics-tui checkpoint"),
    (["--checkpoint", "{bad}/v99.pt"], "version 99"),
    (["--checkpoint", "{bad}/wrong-cell.pt"], "do not fit"),
    (["--checkpoint", "{bad}/evil.pt"], "checkpoint"),
    (["--checkpoint", "{bad}/evil-zip.pt"], "refused"),
    (["--checkpoint", "{bad}"], "folder"),
    (["--temperature", "-1"], "temperature"),
    (["--temperature", "nan"], "temperature"),
    (["--temperature", "warm"], "not a number"),
    (["--top-k", "-1"], "top-k"),
    (["--top-p", "1.5"], "top-p"),
    (["--top-p", "-0.1"], "top-p"),
    (["--top-p", "nan"], "top-p"),
    (["--repetition-penalty", "0"], "--repetition-penalty"),
    (["--length", "-1"], "length"),
    (["--lines", "-1"], "lines"),
    (["--seed", "-1"], f"0 and {MAX_SEED}"),
    (["--seed", str(MAX_SEED + 1)], f"0 and {MAX_SEED}"),
    (["--seed", "99999999999999999999999"], f"0 and {MAX_SEED}"),
    (["--seed", "lucky"], "invalid int"),
    (["--device", "cuda"], "cuda"),
]


@pytest.mark.parametrize("flags,says", BAD_GENERATE, ids=[" ".join(f) for f, _ in BAD_GENERATE])
@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "plain"])
def test_bad_generate_input_is_one_line_and_exit_2(
    capsys, bad_files, checkpoint_path, flags, says, json_mode
):
    if "cuda" in flags and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    flags = [f.format(bad=bad_files) for f in flags]
    argv = ["generate", "--length", "5"] + (["--json"] if json_mode else [])
    if "--checkpoint" not in flags:
        argv += ["--checkpoint", checkpoint_path]
    line = one_line_error(*cli(capsys, *argv, *flags))
    assert says in line
    assert not (bad_files / "PWNED").exists()


BAD_EVAL = [
    (["--checkpoint", "{bad}/noise.pt", "--text", "{corpus}"], "not a readable checkpoint"),
    (["--checkpoint", "{bad}/evil.pt", "--text", "{corpus}"], "checkpoint"),
    (["--checkpoint", "{bad}/wrong-cell.pt", "--text", "{corpus}"], "do not fit"),
    (["--checkpoint", "{ckpt}", "--text", "{bad}/empty"], "empty"),
    (["--checkpoint", "{ckpt}", "--text", "{bad}/binary"], "binary"),
    (["--checkpoint", "{ckpt}", "--text", "{bad}/missing.txt"], "no such file"),
    (["--checkpoint", "{ckpt}"], "required"),
]


@pytest.mark.parametrize("flags,says", BAD_EVAL, ids=[" ".join(f) for f, _ in BAD_EVAL])
def test_bad_eval_input_is_one_line_and_exit_2(
    capsys, bad_files, checkpoint_path, corpus_file, flags, says
):
    flags = [f.format(bad=bad_files, ckpt=checkpoint_path, corpus=corpus_file) for f in flags]
    line = one_line_error(*cli(capsys, "eval", "--json", *flags))
    assert says in line
    assert not (bad_files / "PWNED").exists()


def test_unknown_command_is_one_line(capsys):
    one_line_error(*cli(capsys, "bake"))


# -- --help says what the code does ----------------------------------------------------------
def test_generate_help_documents_the_sampler_rules(capsys):
    code, out, _ = cli(capsys, "generate", "--help")
    assert code == 0
    text = " ".join(out.split())
    for phrase in (
        "the song starts a line",
        "above 10,000 is capped",
        "0 (greedy: always the likeliest word) or more",
        "above 100 is capped",
        "0 (off) or more",
        "between 0 and 1 (off)",
        f"between 0 and {MAX_SEED}",
        "same seed, same text",
        "between 1 (off) and 10",
        "0 (no limit) or more",
        "read as <unk>",
    ):
        assert phrase in text, phrase


def test_train_help_documents_the_flags_of_the_issue(capsys):
    code, out, _ = cli(capsys, "train", "--help")
    assert code == 0
    for flag in (
        "--corpus",
        "--val-fraction",
        "--val-file",
        "--tokenizer",
        "--min-count",
        "--max-vocab",
        "--preset",
        "--cell",
        "--embed",
        "--hidden",
        "--layers",
        "--dropout",
        "--epochs",
        "--time-budget",
        "--batch-size",
        "--bptt",
        "--lr",
        "--seed",
        "--out",
        "--resume",
        "--json",
        "--device",
    ):
        assert flag in out, flag


# -- the real console script -----------------------------------------------------------------
def _console(*argv, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "lyrics_tui.tui.cli", *map(str, argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_console_script_bad_checkpoint_is_one_line(bad_files):
    done = _console("generate", "--checkpoint", bad_files / "noise.pt")
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_console_script_bad_corpus_is_one_line(bad_files):
    done = _console("train", "--corpus", bad_files / "binary")
    assert done.returncode == 2 and "binary" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_console_script_generates(checkpoint_path):
    done = _console(
        "generate", "--checkpoint", checkpoint_path, "--length", 8, "--seed", 2, "--json"
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows[-1]["event"] == "done" and rows[-1]["tokens"] == 8


def test_a_terminal_that_cannot_show_chinese_gets_question_marks_not_a_traceback(checkpoint_path):
    """PYTHONIOENCODING=ascii (a C locale, a latin-1 terminal): the run went on to a crash in
    the middle of its last save."""
    done = subprocess.run(
        [sys.executable, "-m", "lyrics_tui.tui.entry", "generate", "--checkpoint",
         str(checkpoint_path), "--prompt", "霓虹", "--length", "8", "--seed", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "??" in done.stdout


def test_a_file_name_longer_than_the_system_allows_is_one_line(capsys, tmp_path):
    too_long = str(tmp_path / ("霓" * 90 + ".pt"))  # 270 bytes: over the usual 255
    assert main(["generate", "--checkpoint", too_long]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("File name too long\n")


def test_train_never_saves_over_a_file_that_is_not_a_checkpoint(capsys, tmp_path, corpus_file):
    corpus = tmp_path / "mine.txt"
    corpus.write_bytes(corpus_file.read_bytes())
    done = train_cli(capsys, corpus, corpus)  # --out naming the corpus itself
    assert done.code == 2 and "holds something other than a checkpoint" in done.err
    assert corpus.read_bytes() == corpus_file.read_bytes()
    notes = tmp_path / "m-last.pt"  # nor the latest state's file beside --out
    notes.write_text("my notes")
    assert train_cli(capsys, corpus, tmp_path / "m.pt").code == 2
    assert notes.read_text() == "my notes" and not (tmp_path / "m.pt").exists()
    assert train_cli(capsys, corpus, tmp_path / "n.pt").code == 0  # a checkpoint: replaced
    assert train_cli(capsys, corpus, tmp_path / "n.pt").code == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--length", "5"],
        ["eval", "--text", BUNDLED],
        ["score", "--line", "月光"],
        ["neighbours", "--word", "月"],
        ["cells", "--text", BUNDLED],
        ["generate", "--length", "5", "--adapt"],
    ],
)
def test_weights_holding_nan_are_one_line(capsys, tmp_path, argv):
    """One NaN in the embedding: eval said `perplexity nan`, cells gave a traceback."""
    from dataclasses import replace

    from lyrics_tui.core.checkpoint import save_checkpoint
    from tests.helpers import hand_built_checkpoint

    checkpoint, _ = hand_built_checkpoint(tmp_path / "m.pt")
    state = {k: v.clone() for k, v in checkpoint.model_state.items()}
    state["embedding.weight"][3, 0] = float("nan")
    save_checkpoint(replace(checkpoint, model_state=state), tmp_path / "nan.pt")
    code, out, err = cli(capsys, *argv, "--checkpoint", tmp_path / "nan.pt")
    assert code == 2 and "Traceback" not in err and "nan" not in out
    *warnings, last = err.strip().splitlines()  # (a warning that song memory is off first)
    assert all("warning" in w for w in warnings)
    assert "its weights hold NaN or infinite values" in last
