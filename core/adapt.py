"""Dynamic evaluation: the network keeps learning from the text as it reads it.

Krause, Kahembwe, Murray and Renals, "Dynamic Evaluation of Neural Sequence Models" (ICML 2018):
read the text in short segments; score each segment with the weights as they are, then take
one gradient step on that segment, pulled back a little towards the trained weights every step
so that the model does not drift away from what it learned. A song that has sung its chorus
once has taught the network that chorus. The scores are honest: a segment is always scored
before the weights have seen it.

Works on a copy of the network: the checkpoint, on disk and in memory, is never changed.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lyrics_tui.core.batches import stream_batches
from lyrics_tui.core.cache_eval import StreamFeatures
from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.model import RNNLanguageModel, detach

METHODS = ("sgd", "rms")


@dataclass(frozen=True)
class AdaptSettings:
    """One gradient step per `segment` words, of size `lr`; `decay` pulls the weights back
    towards the trained ones each step. "rms" divides each gradient by a running root mean
    square of that weight's gradients (an online stand-in for Krause et al.'s RMS rule, which
    takes the mean square from the training data)."""

    # the best of a small sweep on the held-out tail (docs/memory.md)
    lr: float = 3e-3
    decay: float = 0.01
    segment: int = 10
    method: str = "rms"

    def validated(self) -> AdaptSettings:
        if not (math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise SettingsError("the adaptation rate must be in (0, 10]")
        if not (math.isfinite(self.decay) and 0 <= self.decay < 1):
            raise SettingsError("the adaptation decay must be in [0, 1)")
        if not 1 <= self.segment <= 10_000:
            raise SettingsError("the adaptation segment must be between 1 and 10,000 words")
        if self.method not in METHODS:
            raise SettingsError(f"the adaptation method must be one of {', '.join(METHODS)}")
        return self

    def to_dict(self) -> dict:
        return {"lr": self.lr, "decay": self.decay, "segment": self.segment, "method": self.method}


class _Learner:
    """The weights of a private copy of the network, one gradient step at a time."""

    def __init__(self, model: RNNLanguageModel, settings: AdaptSettings, device: str) -> None:
        self.settings = settings.validated()
        self.model = copy.deepcopy(model).to(device)
        self.model.eval()  # no dropout: the network learns from the text, it does not train
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.trained = [p.detach().clone() for p in self.params]
        self.mean_square = (
            [torch.zeros_like(p) for p in self.params] if settings.method == "rms" else None
        )
        self.steps = 0

    def learn(self, loss: torch.Tensor) -> None:
        """One step down the gradient of `loss` (a mean over a segment), then back towards the
        trained weights by `decay`."""
        s = self.settings
        self.model.zero_grad(set_to_none=True)
        loss.backward()
        self.steps += 1
        with torch.no_grad():
            for i, (p, p0) in enumerate(zip(self.params, self.trained, strict=True)):
                if p.grad is None:
                    continue
                grad = p.grad
                if self.mean_square is not None:
                    ms = self.mean_square[i]
                    ms.mul_(0.9).addcmul_(grad, grad, value=0.1)
                    grad = grad / (ms / (1 - 0.9**self.steps)).sqrt().add_(1e-8)
                p.sub_(s.lr * grad)
                if s.decay:
                    p.add_(p0 - p, alpha=s.decay)


def adaptive_read(
    model: RNNLanguageModel,
    ids: torch.Tensor,
    unk_id: int,
    settings: AdaptSettings,
    device: str = "cpu",
) -> StreamFeatures:
    """Read `ids` with dynamic evaluation; the same record as cache_eval.read_stream (so the
    cache can run on top), each word scored before the network learnt from it."""
    learner = _Learner(model, settings, device)
    model = learner.model
    data = ids.to(device).view(-1, 1)
    hidden = model.init_hidden(1, device)
    total = 0.0
    states, logps, knowns, targets = [], [], [], []
    for x, y in stream_batches(data, learner.settings.segment):
        hidden = detach(hidden)
        output, hidden = model.features(x, hidden)
        logp = nn.functional.log_softmax(model.decoder(output).view(-1, model.config.vocab_size), 1)
        target = y.reshape(-1)
        loss = nn.functional.nll_loss(logp, target, reduction="sum")
        total += loss.item()
        states.append(output.detach().view(-1, output.size(-1)).float().cpu())
        logps.append(logp.detach().gather(1, target[:, None])[:, 0].double().cpu())
        knowns.append(torch.log(-torch.expm1(logp.detach()[:, unk_id].double())).cpu())
        targets.append(target.cpu())
        learner.learn(loss / target.numel())
    count = sum(t.numel() for t in targets)
    return StreamFeatures(
        hidden=torch.cat(states),
        logp=torch.cat(logps),
        log_known=torch.cat(knowns),
        targets=torch.cat(targets),
        loss=total / max(1, count),
        unk_id=unk_id,
    )


class AdaptiveStepper:
    """A Stepper (core/steppers.py) whose network learns from what it reads, as adaptive_read
    does: every `segment` words it takes one step on the last segment. For scoring a text and
    for generation (the song teaches the network itself); not for stepping back, since the
    weights change as it goes."""

    learns = True  # so a line is never drafted twice (core/songform/drafts.py)

    def __init__(self, model: RNNLanguageModel, settings: AdaptSettings, device: str = "cpu"):
        self._learner = _Learner(model, settings, device)
        self.model = self._learner.model
        self.config = self.model.config
        self.device = device
        self._start: object = None  # the state the current segment started from
        self._inputs: list[int] = []

    def initial_state(self) -> object:
        return self.model.init_hidden(1, self.device)

    def step(self, state: object, token_id: int) -> tuple[np.ndarray, object]:
        if self._start is None:
            self._start = state
        self._inputs.append(token_id)
        if len(self._inputs) == self._learner.settings.segment + 1:
            x = torch.tensor(self._inputs[:-1], device=self.device).view(-1, 1)
            y = torch.tensor(self._inputs[1:], device=self.device)
            output, _ = self.model.features(x, detach(self._start))  # type: ignore[arg-type]
            logits = self.model.decoder(output).view(-1, self.config.vocab_size)
            self._learner.learn(nn.functional.cross_entropy(logits, y))
            self._start, self._inputs = state, [token_id]
        with torch.no_grad():
            x = torch.tensor([[token_id]], device=self.device)
            out, new_state = self.model(x, state)
        return out[0, 0].float().cpu().numpy(), new_state

    def hidden_vectors(self, state: object) -> tuple[np.ndarray, np.ndarray | None]:
        if isinstance(state, tuple):
            return state[0][-1, 0].cpu().numpy(), state[1][-1, 0].cpu().numpy()
        return state[-1, 0].cpu().numpy(), None  # type: ignore[index]

    def embedding_matrix(self) -> np.ndarray:
        return self.model.embedding.weight.detach().float().cpu().numpy()
