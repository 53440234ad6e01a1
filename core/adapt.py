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

    lr: float = 1e-3
    decay: float = 0.0
    segment: int = 20
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


def adaptive_read(
    model: RNNLanguageModel,
    ids: torch.Tensor,
    unk_id: int,
    settings: AdaptSettings,
    device: str = "cpu",
) -> StreamFeatures:
    """Read `ids` with dynamic evaluation; the same record as cache_eval.read_stream (so the
    cache can run on top), each word scored before the network learnt from it."""
    settings = settings.validated()
    model = copy.deepcopy(model).to(device)
    model.eval()  # no dropout: the network learns from the text, it does not train
    params = [p for p in model.parameters() if p.requires_grad]
    trained = [p.detach().clone() for p in params]
    mean_square = [torch.zeros_like(p) for p in params] if settings.method == "rms" else None
    data = ids.to(device).view(-1, 1)
    hidden = model.init_hidden(1, device)
    total = 0.0
    states, logps, knowns, targets = [], [], [], []
    steps = 0
    for x, y in stream_batches(data, settings.segment):
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
        model.zero_grad(set_to_none=True)
        (loss / target.numel()).backward()
        steps += 1
        with torch.no_grad():
            for i, (p, p0) in enumerate(zip(params, trained, strict=True)):
                if p.grad is None:
                    continue
                grad = p.grad
                if mean_square is not None:
                    ms = mean_square[i]
                    ms.mul_(0.9).addcmul_(grad, grad, value=0.1)
                    grad = grad / (ms / (1 - 0.9**steps)).sqrt().add_(1e-8)
                p.sub_(settings.lr * grad)
                if settings.decay:
                    p.add_(p0 - p, alpha=settings.decay)
    count = sum(t.numel() for t in targets)
    return StreamFeatures(
        hidden=torch.cat(states),
        logp=torch.cat(logps),
        log_known=torch.cat(knowns),
        targets=torch.cat(targets),
        loss=total / max(1, count),
        unk_id=unk_id,
    )
