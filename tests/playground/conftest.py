"""Fixtures of the playground tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.playground.pilot import tiny_corpus, train_tiny


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny trained checkpoint that does not record its corpus, made once."""
    folder = tmp_path_factory.mktemp("ckpt")
    return train_tiny(tiny_corpus(folder), folder / "tiny-e1.pt")
