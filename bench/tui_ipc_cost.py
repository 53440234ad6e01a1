"""What a training subprocess would cost the playground, against the thread worker it uses.

    python bench/tui_ipc_cost.py

Prints, for the default preset on the tutorial corpus (bundled corpus if absent): the
in-process weight copy the playground takes for generation (`snapshot_state()` + numpy views),
the serialise + deserialise a subprocess would need for the same copy (before any pipe), and
the start-up of a fresh interpreter importing torch and core.trainer.
"""

from __future__ import annotations

import io
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import JAYCHOU, ROOT, machine


def main() -> None:
    import torch

    from lyrics_tui.core.config import resolve_settings
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.trainer import TrainingRun

    corpus = read_corpus(JAYCHOU if JAYCHOU.exists() else ROOT / "data" / "lyrics.txt")
    model_cfg, train_cfg = resolve_settings("default", {}, {"epochs": 1})
    train, val = corpus.split(train_cfg.val_fraction)
    run = TrainingRun(train, val, model_cfg, train_cfg)
    params = sum(p.numel() for p in run.model.parameters())
    copy, ipc, size = [], [], 0
    for _ in range(15):
        start = time.perf_counter()
        {k: v.numpy() for k, v in run.snapshot_state().items()}
        copy.append(time.perf_counter() - start)
        start = time.perf_counter()
        buffer = io.BytesIO()
        torch.save(run.model.state_dict(), buffer)
        data = buffer.getvalue()
        size = len(data)
        state = torch.load(io.BytesIO(data), weights_only=True)
        pickle.loads(pickle.dumps({k: v.numpy() for k, v in state.items()}))
        ipc.append(time.perf_counter() - start)
    starts = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import torch, lyrics_tui.core.trainer"], cwd=ROOT, check=True
        )
        starts.append(time.perf_counter() - start)
    print(f"machine: {machine()}; {params:,} parameters, state {size / 1e6:.1f} MB")
    print(f"in-process copy (thread worker): median {statistics.median(copy) * 1000:.1f} ms")
    print(
        f"serialise + deserialise (subprocess, before the pipe): median "
        f"{statistics.median(ipc) * 1000:.1f} ms"
    )
    print(
        f"fresh interpreter importing torch + core.trainer: median "
        f"{statistics.median(starts):.2f} s"
    )


if __name__ == "__main__":
    main()
