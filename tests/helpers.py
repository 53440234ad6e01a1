"""Helpers shared by the tests: paths, tiny settings, stand-in networks.

Imported as `tests.helpers`; fixtures live in conftest.py files, which are never imported.
"""

from __future__ import annotations

import random
from pathlib import Path

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
