"""End to end: train a small model on the bundled corpus for three epochs, save, load, generate."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np

from lyrics_tui.core.checkpoint import load_checkpoint, model_from_checkpoint
from lyrics_tui.core.fastload import read_checkpoint
from lyrics_tui.core.sampling import Sampler, SamplerSettings
from lyrics_tui.core.songform import form_of, rhymes_of
from lyrics_tui.core.steppers import NumpyStepper, TorchStepper
from lyrics_tui.core.tokens import Tokenizer
from lyrics_tui.tui.cli import main
from tests.helpers import BUNDLED, ROOT, train_cli


def test_train_save_load_generate_on_the_bundled_corpus(tmp_path, capsys):
    out = tmp_path / "lyrics.pt"
    code, stdout, err = train_cli(capsys, BUNDLED, out, epochs=3)
    assert code == 0, err
    rows = [json.loads(line) for line in stdout.splitlines()]
    epochs, done = rows[:-1], rows[-1]
    assert done["reason"] == "completed" and done["checkpoint"] == str(out)
    # it learns: the training loss falls epoch after epoch (a fixed seed, one thread)
    losses = [row["train_loss"] for row in epochs]
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2]

    # load: both readers agree, and the vocabulary came with the weights
    checkpoint = load_checkpoint(out)
    fast = read_checkpoint(str(out))
    assert checkpoint.vocab.tokens == fast.vocab.tokens
    assert checkpoint.corpus == str(BUNDLED)
    vocab_size = len(checkpoint.vocab)
    assert done["best_val_ppl"] < vocab_size  # it learned something: better than uniform

    # the training corpus's song form came with them (core/songform)
    form = form_of(fast.form)
    assert form.stored and form.lengths.lines > 900 and fast.form == checkpoint.form

    # generate with the numpy stepper and the torch model: the same seed gives the same text
    settings = SamplerSettings(temperature=0.8, top_k=20, seed=7, max_tokens=60, max_lines=4)
    tokenizer = Tokenizer(checkpoint.train_config.tokenizer)
    rhymes = rhymes_of(fast.form, fast.vocab)
    numpy_gen = Sampler(
        NumpyStepper(fast.model_config, fast.model_state), fast.vocab, tokenizer, form, rhymes
    ).generate("晚风", settings)
    torch_gen = Sampler(
        TorchStepper(model_from_checkpoint(checkpoint)), checkpoint.vocab, tokenizer, form, rhymes
    ).generate("晚风", settings)
    numpy_tokens, torch_tokens = list(numpy_gen), list(torch_gen)
    assert [t.text for t in numpy_tokens] == [t.text for t in torch_tokens]
    np.testing.assert_allclose(
        [t.prob for t in numpy_tokens], [t.prob for t in torch_tokens], atol=1e-4
    )
    assert numpy_gen.text.startswith("晚风") and len(numpy_tokens) > 0
    assert "<unk>" not in numpy_gen.text

    # and through the real command, as a user would
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lyrics_tui.tui.cli",
            "generate",
            "--checkpoint",
            str(out),
            "--prompt",
            "晚风",
            "--seed",
            "7",
            "--temperature",
            "0.8",
            "--top-k",
            "20",
            "--length",
            "60",
            "--lines",
            "4",
            "--cache",
            "off",  # the sampler above runs the network alone
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.splitlines()[-1])
    assert last["text"] == numpy_gen.text
    assert last["text"].count("\n") <= 4

    # eval on the corpus it was trained on gives a finite perplexity
    code = main(["eval", "--checkpoint", str(out), "--text", str(BUNDLED), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and math.isfinite(result["perplexity"]) and result["tokens"] > 5000
