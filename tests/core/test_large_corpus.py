"""A 50 MB corpus trains with bounded memory, and --max-vocab caps the vocabulary.

Slow (tens of seconds to minutes, up to ~1 GB of memory): run with `pytest --run-slow -k large`.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lyrics_tui.core.checkpoint import load_checkpoint
from tests.helpers import ROOT, TINY_FLAGS, make_corpus

SIZE_MB = 50
# Peak resident memory of the whole process (Python, torch, jieba and the data). Before the
# corpus was streamed into id arrays, the char run peaked at 2.2 GB.
PEAK_LIMIT_MB = {"char": 1500, "word": 1500}

CHILD = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
from lyrics_tui.tui.cli import main
code = main(sys.argv[3:])
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
open(sys.argv[2], "w").write(json.dumps({"code": code, "peak_mb": peak_mb}))
"""


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big.txt"
    make_corpus(path, SIZE_MB)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("tokenizer", ["char", "word"])
def test_a_50_mb_corpus_trains_in_bounded_memory(tmp_path, big_corpus, tokenizer):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    report = tmp_path / "report.json"
    out = tmp_path / "big.pt"
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            str(ROOT),
            str(report),
            "train",
            "--corpus",
            str(big_corpus),
            "--tokenizer",
            tokenizer,
            "--max-vocab",
            "3000",
            *TINY_FLAGS,
            "--epochs",
            "1",
            "--time-budget",
            "2",
            "--val-fraction",
            "0.01",
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(report.read_text())
    assert result["code"] == 0
    print(f"\n{tokenizer}: peak RSS {result['peak_mb']:.0f} MB for a {SIZE_MB} MB corpus")
    assert result["peak_mb"] < PEAK_LIMIT_MB[tokenizer]
    assert len(load_checkpoint(out).vocab) == 3000
