"""Helpers shared by the tests: paths, tiny settings, stand-in networks.

Imported as `tests.helpers`; fixtures live in conftest.py files, which are never imported.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "data" / "lyrics.txt"
JAYCHOU = ROOT.parent / "shared" / "data" / "jaychou_lyrics.txt"

# Small enough to train in well under a second on 2 cores.
TINY_MODEL = {
    "cell": "lstm",
    "embed": 16,
    "hidden": 16,
    "layers": 1,
    "dropout": 0.0,
    "tie_weights": False,
}
TINY_TRAIN = {
    "epochs": 1,
    "batch_size": 8,
    "bptt": 12,
    "lr": 1e-2,
    "threads": 1,
    "schedule": "none",
}
TINY_FLAGS = [
    "--embed",
    "16",
    "--hidden",
    "16",
    "--no-tie-weights",
    "--dropout",
    "0",
    "--batch-size",
    "8",
    "--bptt",
    "12",
    "--threads",
    "1",
    "--lr",
    "0.01",
]


# `lyrics-tui` as a process of its own (the console script, run as a module)
CONSOLE = [sys.executable, "-m", "lyrics_tui.tui.cli"]


def train_argv(corpus, out=None, *extra, epochs: int = 1, tiny: bool = True, json: bool = True):
    """`lyrics-tui train` on `corpus` for `epochs`: the tiny model (TINY_FLAGS) unless not
    `tiny`, writing `out` when given, printing JSON lines when `json`, then `extra`."""
    argv = [
        "train",
        "--corpus",
        str(corpus),
        *(TINY_FLAGS if tiny else []),
        "--epochs",
        str(epochs),
    ]
    if out is not None:
        argv += ["--out", str(out)]
    if json:
        argv.append("--json")
    return argv + [str(a) for a in extra]


class CliResult(NamedTuple):
    """What a command run in this process returned and printed."""

    code: int
    out: str
    err: str


def train_cli(capsys, corpus, out=None, *extra, epochs: int = 1, tiny: bool = True, json=True):
    """`lyrics-tui train` (train_argv) run in this process; its CliResult."""
    from lyrics_tui.tui.cli import main

    code = main(train_argv(corpus, out, *extra, epochs=epochs, tiny=tiny, json=json))
    out_text, err = capsys.readouterr()
    return CliResult(code, out_text, err)


def resume_cli(capsys, corpus, last, *, epochs: int, json: bool = True) -> CliResult:
    """`lyrics-tui train --resume LAST` up to epoch `epochs`, run in this process."""
    return train_cli(capsys, corpus, None, "--resume", last, epochs=epochs, tiny=False, json=json)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 a moment ago."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poll(attempt, timeout: float = 30.0, interval: float = 0.05, errors=(OSError,)):
    """attempt()'s first truthy result, trying again after `errors` until `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            result = attempt()
            if result:
                return result
        except errors:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"{attempt} did not succeed within {timeout} s")
        time.sleep(interval)


class TickClock:
    """A clock that moves on `tick` seconds each time it is read, and `spend` seconds when told
    (the work a test stands in for)."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds


def make_corpus(path, size_mb: int) -> None:
    """Lines recombined from the bundled corpus, sprinkled with rare characters so the
    vocabulary is far larger than the cap."""
    lines = BUNDLED.read_text(encoding="utf-8").split()
    rng = random.Random(0)
    target = size_mb * 1024 * 1024
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target:
            a, b = rng.choice(lines), rng.choice(lines)
            rare = "".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(rng.randrange(3)))
            line = a[: len(a) // 2] + b[len(b) // 2 :] + rare + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))


def tiny_corpus(folder: Path, lines: int = 150) -> Path:
    """The first lines of the bundled corpus in a file of their own: tiny.txt."""
    text = BUNDLED.read_text(encoding="utf-8").splitlines()[:lines]
    path = folder / "tiny.txt"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def tiny_settings(model: dict | None = None, train: dict | None = None):
    from lyrics_tui.core.config import resolve_settings

    return resolve_settings(
        "default", {**TINY_MODEL, **(model or {})}, {**TINY_TRAIN, **(train or {})}
    )


def hand_built_checkpoint(path: Path, cell: str = "lstm", seed: int = 0):
    """An untrained checkpoint saved at `path`: the characters of the bundled corpus's first 50
    lines (seen twice or more), 12-wide embeddings and 16 units, weights drawn with `seed` and
    an output layer that matters (the default init leaves it near-uniform). The same vocabulary
    whatever the cell and seed. (Checkpoint, its model in eval mode)."""
    import torch

    from lyrics_tui.core.checkpoint import Checkpoint, save_checkpoint
    from lyrics_tui.core.config import resolve_settings
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.model import RNNLanguageModel
    from lyrics_tui.core.trainer import prepare_data

    lines = read_corpus(BUNDLED).lines[:60]
    model_cfg, train_cfg = resolve_settings(
        "default",
        {"cell": cell, "embed": 12, "hidden": 16, "tie_weights": False, "dropout": 0.0},
        {"tokenizer": "char", "min_count": 2},
    )
    data = prepare_data(lines[:50], lines[50:], train_cfg)
    model_cfg = model_cfg.__class__(**{**model_cfg.to_dict(), "vocab_size": len(data.vocab)})
    torch.manual_seed(seed)
    model = RNNLanguageModel(model_cfg).eval()
    with torch.no_grad():
        model.decoder.weight.normal_(0, 1.0)
    checkpoint = Checkpoint(
        model_cfg, train_cfg, data.vocab, {k: v.clone() for k, v in model.state_dict().items()}
    )
    save_checkpoint(checkpoint, path)
    return checkpoint, model


class BigramStepper:
    """A stand-in network: the next logits depend only on the last token (a table row)."""

    def __init__(self, table, config=None) -> None:
        import numpy as np

        from lyrics_tui.core.config import ModelConfig

        self.table = np.asarray(table, dtype=np.float64)
        self.config = config or ModelConfig(
            cell="rnn", embed=2, hidden=2, vocab_size=len(self.table)
        )
        self.calls = 0

    def initial_state(self):
        return None

    def step(self, state, token_id):
        self.calls += 1
        return self.table[token_id].copy(), token_id

    def hidden_vectors(self, state):
        import numpy as np

        return np.zeros(2, np.float32), None

    def embedding_matrix(self):
        import numpy as np

        return np.eye(len(self.table), 2, dtype=np.float32)


TOY_TOKENS = ["<unk>", "\n", "我", "你", "爱", "风", "天", "的", "在", "走"]


def toy_sampler(seed: int = 0, unk_first: bool = True):
    """A Sampler over a random bigram table in which <unk> is the likeliest next token."""
    import numpy as np

    from lyrics_tui.core.sampling import Sampler
    from lyrics_tui.core.tokens import Tokenizer
    from lyrics_tui.core.vocab import Vocabulary

    rng = np.random.default_rng(seed)
    table = rng.normal(0, 2, (len(TOY_TOKENS), len(TOY_TOKENS)))
    if unk_first:
        table[:, 0] = table.max(axis=1) + 3.0
    vocab = Vocabulary(TOY_TOKENS, [1] * len(TOY_TOKENS))
    return Sampler(BigramStepper(table), vocab, Tokenizer("char"))


def run_start(corpus: str = "/data/lyrics.txt", model: dict | None = None, **over):
    """A RunStart as the recorder would make it for a tiny model (for tests of the store)."""
    from lyrics_tui.core.config import ModelConfig, TrainConfig
    from lyrics_tui.core.runs.records import RunStart

    model_cfg = ModelConfig(**{**TINY_MODEL, "vocab_size": 100, **(model or {})})
    train_cfg = TrainConfig(**{**TINY_TRAIN, **over.pop("train", {})})
    fields = {
        "corpus": corpus,
        "corpus_sha256": "ab" * 32,
        "corpus_lines": 300,
        "preset": "default",
        "model_config": model_cfg.to_dict(),
        "train_config": train_cfg.to_dict(),
        "device": "cpu",
        "threads": 1,
        "precision": "fp32",
        "parameters": 5000,
        "vocab_size": 100,
    }
    fields.update(over)
    return RunStart(**fields)


def epoch_record(epoch: int, val_ppl: float | None = 50.0, **over):
    import math

    from lyrics_tui.core.runs.records import EpochRecord

    fields = {
        "epoch": epoch,
        "train_loss": 4.0,
        "val_loss": math.log(val_ppl) if val_ppl else None,
        "val_ppl": val_ppl,
        "tokens_per_s": 1000.0,
        "elapsed_s": float(epoch),
        "lr": 0.01,
        "is_best": False,
    }
    fields.update(over)
    return EpochRecord(**fields)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- a network with planted units (the cells view's rankers must find them) ---------------------
# A character-level tanh RNN whose weights are set by hand so that each unit tracks one pattern
# of PLANTED_TEXT; every other unit of the rankers' output must score below it.
PLANTED_UNITS = {
    "newline": 0,  # on while reading a line end
    "line-start": 1,  # on at a line's first word (the unit above, one step later)
    "line-end": 2,  # on at the words that end lines here
    "position": 3,  # climbs word by word, back to -1 at each line end
    "seen-chorus": 4,  # latches on at the first chorus line
    "returning": 5,  # on at a chorus line after the first
    "rhyme": 6,  # on at the line ends that rhyme with the line before here
}
# lines of 1-5 characters; only 歌 returns; 田 and 门 always rhyme with the line before's end
PLANTED_TEXT = "\n".join(
    [
        "春天", "山水风田", "云路", "花月秋冬人", "雪门", "歌",
        "夏日天", "风田", "山路", "月人", "冬雪花门", "歌",
        "秋水云天", "雪田", "花风月路", "水人", "春门", "歌",
    ]
)  # fmt: skip
PLANTED_RHYME = {"天": "ian", "田": "ian", "年": "ian", "人": "en", "门": "en", "路": "u"}


def planted_subject():
    """(Subject, rhyme-group function) of the planted network (core.inspection.Subject)."""
    import numpy as np

    from lyrics_tui.core.config import ModelConfig
    from lyrics_tui.core.inspection.subject import Subject
    from lyrics_tui.core.steppers import NumpyStepper
    from lyrics_tui.core.tokens import NEWLINE, Tokenizer
    from lyrics_tui.core.vocab import UNK, Vocabulary

    chars = sorted(set(PLANTED_TEXT.replace("\n", "")))
    vocab = Vocabulary([UNK, NEWLINE, *chars])
    size, hidden = len(vocab), 8
    u = PLANTED_UNITS
    w_ih = np.zeros((hidden, size), np.float32)  # one-hot embeddings: a column per token
    w_hh = np.zeros((hidden, hidden), np.float32)
    bias = np.zeros(hidden, np.float32)
    newline = vocab.id(NEWLINE)
    w_ih[u["newline"], newline], bias[u["newline"]] = 6.0, -3.0
    w_hh[u["line-start"], u["newline"]] = 6.0
    for end in ("天", "田", "路", "人", "门", "歌"):
        w_ih[u["line-end"], vocab.id(end)] = 6.0
    bias[u["line-end"]] = -3.0
    w_hh[u["position"], u["position"]], bias[u["position"]] = 1.0, 0.0
    w_ih[u["position"], newline] = -10.0
    steps = np.random.default_rng(5).uniform(0.05, 0.6, size)  # uneven steps: a noisy counter
    for char in chars:
        w_ih[u["position"], vocab.id(char)] = steps[vocab.id(char)]
    chorus = vocab.id("歌")
    # saturated either way (tanh(17) is 1.0 in float32), so a chorus does not stand out in it
    w_hh[u["seen-chorus"], u["seen-chorus"]], bias[u["seen-chorus"]] = 20.0, -3.0
    w_ih[u["seen-chorus"], chorus] = 30.0
    w_ih[u["returning"], chorus], bias[u["returning"]] = 5.0, -7.0
    w_hh[u["returning"], u["seen-chorus"]] = 5.0
    w_ih[u["rhyme"], vocab.id("田")] = w_ih[u["rhyme"], vocab.id("门")] = 6.0
    bias[u["rhyme"]] = -3.0
    noise = np.random.default_rng(7)
    w_ih[7] = noise.normal(0, 0.5, size)  # unit 7 tracks nothing
    weights = {
        "embedding.weight": np.eye(size, dtype=np.float32),
        "rnn.weight_ih_l0": w_ih,
        "rnn.weight_hh_l0": w_hh,
        "rnn.bias_ih_l0": bias,
        "rnn.bias_hh_l0": np.zeros(hidden, np.float32),
        "decoder.weight": noise.normal(0, 0.1, (size, hidden)).astype(np.float32),
        "decoder.bias": np.zeros(size, np.float32),
    }
    config = ModelConfig(cell="rnn", embed=size, hidden=hidden, layers=1, vocab_size=size)
    stepper = NumpyStepper(config, weights)
    return Subject(stepper, vocab, Tokenizer("char"), label="planted"), PLANTED_RHYME.get


def planted_checkpoint(folder: Path) -> Path:
    """The planted network saved as a checkpoint, its corpus a file beside it whose held-out
    lines (all of them: val_fraction 1) are PLANTED_TEXT."""
    import torch

    from lyrics_tui.core.checkpoint import Checkpoint, save_checkpoint
    from lyrics_tui.core.config import TrainConfig

    corpus = folder / "planted.txt"
    corpus.write_text(PLANTED_TEXT, encoding="utf-8")
    subject, _ = planted_subject()
    stepper = subject.stepper
    w_ih, w_hh, b_ih, b_hh = stepper.layers[0]
    state = {
        "embedding.weight": stepper.embedding,
        "rnn.weight_ih_l0": w_ih,
        "rnn.weight_hh_l0": w_hh,
        "rnn.bias_ih_l0": b_ih,
        "rnn.bias_hh_l0": b_hh,
        "decoder.weight": stepper.decoder_w,
        "decoder.bias": stepper.decoder_b,
    }
    path = folder / "planted.pt"
    checkpoint = Checkpoint(
        stepper.config,
        TrainConfig(tokenizer="char", val_fraction=1.0),
        subject.vocab,
        {k: torch.from_numpy(v.copy()) for k, v in state.items()},
        corpus=str(corpus),
    )
    save_checkpoint(checkpoint, path)
    return path
