"""Shared fixtures: tiny settings, a small corpus, one tiny trained checkpoint per session.

Tests marked `slow` (the 50 MB corpus) are skipped unless pytest is given --run-slow.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BUNDLED = ROOT / "data" / "lyrics.txt"
JAYCHOU = ROOT.parent / "shared" / "data" / "jaychou_lyrics.txt"

# Small enough to train in well under a second on 2 cores.
TINY_MODEL = {"cell": "lstm", "embed": 16, "hidden": 16, "layers": 1, "dropout": 0.0,
              "tie_weights": False}
TINY_TRAIN = {"epochs": 1, "batch_size": 8, "bptt": 12, "lr": 1e-2, "threads": 1,
              "schedule": "none"}
TINY_FLAGS = ["--embed", "16", "--hidden", "16", "--no-tie-weights", "--dropout", "0",
              "--batch-size", "8", "--bptt", "12", "--threads", "1", "--lr", "0.01"]


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (the 50 MB corpus)")


def pytest_configure(config):
    # Property tests draw the same examples on every run: CI gates landing, so a red must be
    # reproducible, not a new random draw. (To explore new examples, drop this profile.)
    from hypothesis import settings

    settings.register_profile("reproducible", derandomize=True)
    settings.load_profile("reproducible")
    config.addinivalue_line("markers", "slow: takes minutes or a lot of memory; needs --run-slow")
    # the jieba dictionary cache (core.tokens) goes to a folder of the test session's own
    import os
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="lyrics-tui-test-cache-")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def tiny_settings(model: dict | None = None, train: dict | None = None):
    from core.config import resolve_settings

    return resolve_settings("default", {**TINY_MODEL, **(model or {})},
                            {**TINY_TRAIN, **(train or {})})


@pytest.fixture(scope="session")
def bundled_lines() -> list[str]:
    from core.corpus import read_corpus

    return read_corpus(BUNDLED).lines


@pytest.fixture(scope="session")
def small_lines(bundled_lines) -> list[str]:
    """The first 300 lines of the bundled corpus: verses and repeated choruses."""
    return bundled_lines[:300]


@pytest.fixture(scope="session")
def trained(tmp_path_factory, small_lines):
    """One tiny word-level LSTM trained for two epochs, saved as best + last checkpoints."""
    from core.trainer import TrainingRun

    folder = tmp_path_factory.mktemp("trained")
    model_cfg, train_cfg = tiny_settings(train={"epochs": 2})
    events: list = []
    run = TrainingRun(small_lines[:270], small_lines[270:], model_cfg, train_cfg,
                      out_path=folder / "tiny.pt", sink=events.append, corpus_name="small")
    finished = run.run()
    assert finished.reason == "completed", finished
    return {"path": folder / "tiny.pt", "last": folder / "tiny-last.pt", "run": run,
            "events": events, "finished": finished}


@pytest.fixture(scope="session")
def checkpoint_path(trained) -> Path:
    return trained["path"]


class BigramStepper:
    """A stand-in network: the next logits depend only on the last token (a table row)."""

    def __init__(self, table, config=None) -> None:
        import numpy as np

        from core.config import ModelConfig

        self.table = np.asarray(table, dtype=np.float64)
        self.config = config or ModelConfig(cell="rnn", embed=2, hidden=2,
                                            vocab_size=len(self.table))
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

    from core.sampling import Sampler
    from core.tokens import Tokenizer
    from core.vocab import Vocabulary

    rng = np.random.default_rng(seed)
    table = rng.normal(0, 2, (len(TOY_TOKENS), len(TOY_TOKENS)))
    if unk_first:
        table[:, 0] = table.max(axis=1) + 3.0
    vocab = Vocabulary(TOY_TOKENS, [1] * len(TOY_TOKENS))
    return Sampler(BigramStepper(table), vocab, Tokenizer("char"))


async def until(pilot, condition, what: str, tries: int = 600) -> None:
    """Textual Pilot tests: poll `condition` between short pauses; fail after `tries` pauses
    (~30 s at most)."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for: {what}")
