"""Model and training settings, and the named presets that fill them in.

Explicit values always win over a preset: `resolve_settings(preset, overrides)` starts from the
preset and applies only the overrides the user actually gave (not None).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.settings import (
    CELLS,
    INITS,
    LINE_WINDOW,
    MAX_RETURNS,
    MODEL,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TOKENIZERS,
    TRAIN,
    WINDOWINGS,
    check_all,
)

# the choices and limits live with the table of settings (core/settings.py); imported from
# here too
__all__ = [
    "BUDGET_EPOCHS",
    "CELLS",
    "INITS",
    "LINE_WINDOW",
    "MAX_RETURNS",
    "OPTIMIZERS",
    "PRECISIONS",
    "PRESETS",
    "SCHEDULES",
    "TOKENIZERS",
    "WINDOWINGS",
    "ModelConfig",
    "TrainConfig",
    "preset_values",
    "resolve_settings",
    "validate",
]

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
    # in training a word's vector adds its Han characters' mean (core/model.py); a run keeps
    # it only when its vocabulary has words of two or more characters
    characters: bool = False

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
            "characters": True,
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
}
# The tutorial exactly, windows included: starts only in the first 1/32 of the corpus, batch 5,
# hidden state reset every batch, PyTorch's default initialisation. It memorises; see README
# "The overfitting lesson".
PRESETS["tutorial-windows"] = {
    "model": dict(PRESETS["tutorial"]["model"]),
    "train": {**PRESETS["tutorial"]["train"], "batch_size": 5, "windowing": "tutorial"},
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
    """Raise SettingsError naming the first setting out of its range (core/settings.py)."""
    check_all(MODEL, model)
    if model.tie_weights and model.embed != model.hidden:
        raise SettingsError("weight tying ({tie_weights}) needs {embed} == {hidden}")
    check_all(TRAIN, train)


def preset_values(name: str) -> dict[str, Any]:
    """What each preset sets a model or training setting to (the dataclass's default where the
    preset names nothing): what `--help` and the settings form show as its default."""
    values: dict[str, Any] = {}
    for preset in PRESETS:
        model, train = resolve_settings(preset)
        values[preset] = getattr(model, name) if hasattr(model, name) else getattr(train, name)
    return values
