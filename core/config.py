"""Model and training settings, and the named presets that fill them in.

Explicit values always win over a preset: `resolve_settings(preset, overrides)` starts from the
preset and applies only the overrides the user actually gave (not None).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from lyrics_tui.core.errors import SettingsError

CELLS = ("rnn", "gru", "lstm")
TOKENIZERS = ("word", "char")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("none", "cosine")
WINDOWINGS = ("streams", "tutorial")
PRECISIONS = ("auto", "fp32", "bf16")
INITS = ("uniform", "torch")
# With a time budget and no epochs asked for, the budget ends the run: the epoch cap is this
# large, and the cosine learning-rate schedule spans the budget (core/trainer.py).
BUDGET_EPOCHS = 10_000


def fills_budget(train: TrainConfig) -> bool:
    """Whether the time budget ends the run rather than a number of epochs."""
    return bool(train.time_budget) and train.epochs >= BUDGET_EPOCHS


@dataclass(frozen=True)
class ModelConfig:
    """The network's shape. vocab_size is filled in from the vocabulary."""

    cell: str = "lstm"
    embed: int = 256
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.0
    embed_dropout: float = 0.0  # drops whole words (embedding rows) during training
    tie_weights: bool = False
    vocab_size: int = 0
    init: str = "uniform"  # "uniform": embeddings U(-0.1, 0.1); "torch": PyTorch's defaults

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class TrainConfig:
    """How a run reads its corpus and optimises the model."""

    tokenizer: str = "word"
    min_count: int = 2
    max_vocab: int = 0  # 0: no cap
    epochs: int = 30
    time_budget: float = 0.0  # seconds; 0: no budget
    batch_size: int = 32
    bptt: int = 35
    lr: float = 3e-3
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    clip: float = 0.5  # max gradient norm; 0: no clipping
    schedule: str = "cosine"
    seed: int = 0
    val_fraction: float = 0.1
    windowing: str = "streams"  # "tutorial": the tutorial's windows (see core/batches.py)
    average: float = 0.0  # decay of an exponential moving average of the weights; 0: off
    precision: str = "auto"  # training matmuls; "auto": bf16 where the CPU has bf16 units
    threads: int = 0  # torch intra-op threads; 0: pick by measurement (see core/device.py)
    unk_noise: float = 0.0  # α: a word seen c times is read as <unk> w.p. α/(α+c); 0: off

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Each preset names only what differs from the dataclass defaults.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # The lowest held-out perplexity found for two minutes of a 2-core CPU (bench/quality.py;
    # what was tried: docs/performance.md). Rare words read as <unk> now and then, heavy dropout
    # and weight decay let it keep improving for many epochs instead of a few.
    "default": {
        "model": {
            "cell": "gru",
            "embed": 512,
            "hidden": 512,
            "layers": 1,
            "dropout": 0.75,
            "tie_weights": True,
        },
        "train": {
            "batch_size": 32,
            "epochs": 24,
            "average": 0.99,
            "weight_decay": 0.3,
            "unk_noise": 3.0,
        },
    },
    # The tutorial's network and optimiser: Embedding 128 -> RNN 256 -> Linear, Adam 1e-3,
    # every word kept, PyTorch's default initialisation (N(0, 1) embeddings) as the tutorial
    # leaves it. Batches still cover the whole corpus (unlike the tutorial's windows).
    "tutorial": {
        "model": {
            "cell": "rnn",
            "embed": 128,
            "hidden": 256,
            "layers": 1,
            "dropout": 0.0,
            "tie_weights": False,
            "init": "torch",
        },
        "train": {
            "optimizer": "adam",
            "lr": 1e-3,
            "weight_decay": 0.0,
            "min_count": 1,
            "clip": 0.0,
            "schedule": "none",
            "bptt": 32,
            "epochs": 10,
        },
    },
    # The tutorial exactly, windows included: starts only in the first 1/32 of the corpus,
    # batch 5, hidden state reset every batch, PyTorch's default initialisation. It memorises;
    # see README "The overfitting lesson".
    "tutorial-windows": {
        "model": {
            "cell": "rnn",
            "embed": 128,
            "hidden": 256,
            "layers": 1,
            "dropout": 0.0,
            "tie_weights": False,
            "init": "torch",
        },
        "train": {
            "optimizer": "adam",
            "lr": 1e-3,
            "weight_decay": 0.0,
            "min_count": 1,
            "clip": 0.0,
            "schedule": "none",
            "bptt": 32,
            "batch_size": 5,
            "epochs": 10,
            "windowing": "tutorial",
        },
    },
}


# Presets that choose their network's size and dropout for the corpus, the budget and this
# machine when a run fills a time budget and nothing about the network was given
# (core/training/sizing.py; the figures: docs/performance.md).
SIZED_PRESETS = ("default",)


def sizes_to_budget(preset: str, model_given: dict[str, Any] | None, train: TrainConfig) -> bool:
    """Whether a new run with these settings has its network chosen at its start.
    `model_given` holds the network settings the user gave (None values: not given)."""
    given = any(v is not None for v in (model_given or {}).values())
    return preset in SIZED_PRESETS and fills_budget(train) and not given


def resolve_settings(
    preset: str = "default",
    model_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """Preset values, then every override that is not None; validated. A time budget given
    without epochs fills the budget (BUDGET_EPOCHS)."""
    if preset not in PRESETS:
        raise SettingsError(f"unknown {{preset}} {preset!r}; choose one of {', '.join(PRESETS)}")
    model = replace(ModelConfig(), **PRESETS[preset]["model"])
    train = replace(TrainConfig(), **PRESETS[preset]["train"])
    given = {k: v for k, v in (train_overrides or {}).items() if v is not None}
    model = replace(model, **{k: v for k, v in (model_overrides or {}).items() if v is not None})
    train = replace(train, **given)
    if train.time_budget and "epochs" not in given:
        train = replace(train, epochs=BUDGET_EPOCHS)
    validate(model, train)
    return model, train


def validate(model: ModelConfig, train: TrainConfig) -> None:
    """Raise SettingsError naming the first setting out of range."""
    checks = [
        (model.cell in CELLS, f"{{cell}} must be one of {', '.join(CELLS)}"),
        (1 <= model.embed <= 4096, "{embed} must be between 1 and 4096"),
        (1 <= model.hidden <= 4096, "{hidden} must be between 1 and 4096"),
        (1 <= model.layers <= 8, "{layers} must be between 1 and 8"),
        (0.0 <= model.dropout < 1.0, "{dropout} must be in [0, 1)"),
        (0.0 <= model.embed_dropout < 1.0, "{embed_dropout} must be in [0, 1)"),
        (model.init in INITS, f"{{init}} must be one of {', '.join(INITS)}"),
        (
            not model.tie_weights or model.embed == model.hidden,
            "weight tying ({tie_weights}) needs {embed} == {hidden}",
        ),
        (train.tokenizer in TOKENIZERS, f"{{tokenizer}} must be one of {', '.join(TOKENIZERS)}"),
        (train.min_count >= 1, "{min_count} must be at least 1"),
        (train.max_vocab >= 0, "{max_vocab} must be 0 (no cap) or positive"),
        (train.epochs >= 1, "{epochs} must be at least 1"),
        (train.time_budget >= 0, "{time_budget} must be 0 (none) or positive"),
        (1 <= train.batch_size <= 4096, "{batch_size} must be between 1 and 4096"),
        (2 <= train.bptt <= 4096, "{bptt} must be between 2 and 4096"),
        (0 < train.lr <= 10, "{lr} must be in (0, 10]"),
        (train.optimizer in OPTIMIZERS, f"{{optimizer}} must be one of {', '.join(OPTIMIZERS)}"),
        (train.weight_decay >= 0, "{weight_decay} must be 0 or positive"),
        (train.clip >= 0, "{clip} must be 0 (off) or positive"),
        (train.schedule in SCHEDULES, f"{{schedule}} must be one of {', '.join(SCHEDULES)}"),
        (0 <= train.seed < 2**63, "{seed} must be between 0 and 2**63-1"),
        (0.0 <= train.val_fraction < 1.0, "{val_fraction} must be in [0, 1)"),
        (train.windowing in WINDOWINGS, f"{{windowing}} must be one of {', '.join(WINDOWINGS)}"),
        (0 <= train.threads <= 256, "{threads} must be 0 (auto) or positive"),
        (0.0 <= train.average < 1.0, "{average} must be in [0, 1) (0 = off)"),
        (0.0 <= train.unk_noise <= 100.0, "{unk_noise} must be between 0 (off) and 100"),
        (train.precision in PRECISIONS, f"{{precision}} must be one of {', '.join(PRECISIONS)}"),
    ]
    for ok, message in checks:
        if not ok:
            raise SettingsError(message)


# Generation: a line comes back as a chorus does, not as a loop (core/sampling.py, SongLines).
LINE_WINDOW = 30  # lines looked back (bench/song_memory.py counts repeats over the same)
# In the tutorial's corpus 96% of the lines that come back had been sung at most 3 times in
# the 30 lines before (docs/memory.md); more is a loop, not a chorus.
MAX_RETURNS = 3
