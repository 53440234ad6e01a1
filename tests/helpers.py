"""Helpers shared by the tests: paths, tiny settings, stand-in networks.

Imported as `tests.helpers`; fixtures live in conftest.py files, which are never imported.
"""

from __future__ import annotations

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
