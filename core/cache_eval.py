"""Song memory over a whole text with torch: score a stream with the cache, and fit N, θ, λ.

The network reads the text once (`read_stream`: the top layer's output and the network's
log-probability of the next word at every position); the cache is then matrix products over
those states in chunks, every window N at once (a running log-sum-exp over how far back each
remembered position lies). Fitting tries a grid of N and θ and, for each, every λ on a fine
grid, all from those same numbers. The rule for the cache itself (what it remembers, <unk>, an
empty cache) is core/cache.py's; tests check that both give the same probabilities.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from lyrics_tui.core import batches as B
from lyrics_tui.core.cache import MAX_THETA, CacheFit, CacheSettings
from lyrics_tui.core.model import RNNLanguageModel
from lyrics_tui.core.reading import TextReader

WINDOWS = (50, 100, 200, 400, 800, 1600)
# θ is searched as c / s, s the typical |h|² of the text: c is how many nats more an exact
# repeat of the current state weighs than an unrelated one. Powers of 2, then the best one's
# neighbours at √2.
SHARPNESS = tuple(2.0**k for k in range(0, 8))  # 1 .. 128
LAMBDAS = tuple(round(i * 0.01, 2) for i in range(0, 91))  # 0 (off) .. 0.9
# D, the nearest position recalled, tried at the best N and θ: 1 recalls the word just read
NEAREST = (1, 2, 3, 5)
CHUNK = 512  # positions scored at once
ROWS = 1024  # positions mixed at once in the fit (its temporaries grow with them, not the text)
FLOOR = -80.0  # exp's argument floor, in nats below the largest term
QUICK_WINDOW, QUICK_SHARPNESS = 400, 8.0  # the per-epoch figure's N and θ|h|²
MIN_FIT_TOKENS = 20  # fewer: nothing worth fitting
# Reading: streams side by side; every stream but the first reads BURN_IN tokens unscored
# first, after which its state no longer depends on its zero start (docs/performance.md).
READ_STREAMS = 16
BURN_IN = 128
MIN_STRETCH = 2 * BURN_IN
READ_TOKENS = 2048  # positions decoded at once, at most
READ_SCORES = 4 << 20  # ... and at most this many scores (positions x vocabulary)


@dataclass(frozen=True)
class StreamFeatures:
    """One reading of a text: for each position t, the state that predicts word t + 1 (the first
    `tokens` positions; the loss may cover more, see read_stream's `keep`)."""

    hidden: torch.Tensor  # [T, H] float32, the top layer's output
    logp: torch.Tensor  # [T] float64, the network's log-probability of the word that came
    log_known: torch.Tensor  # [T] float64, log(1 - p_network(<unk>)): the mass the cache shares
    targets: torch.Tensor  # [T] the word that came
    loss: float  # mean nats per token over the whole text read, as evaluate_loss computes it
    unk_id: int
    read: int = -1  # positions the loss is over (-1: the same as `tokens`)

    @property
    def tokens(self) -> int:
        return int(self.targets.numel())

    @property
    def loss_tokens(self) -> int:
        return self.tokens if self.read < 0 else self.read

    def head(self, count: int) -> StreamFeatures:
        """The first `count` positions alone, with their own loss."""
        if count >= self.tokens and self.loss_tokens == self.tokens:
            return self
        count = min(count, self.tokens)
        return StreamFeatures(
            hidden=self.hidden[:count],
            logp=self.logp[:count],
            log_known=self.log_known[:count],
            targets=self.targets[:count],
            loss=-float(self.logp[:count].mean()) if count else float("nan"),
            unk_id=self.unk_id,
        )


def read_streams(positions: int) -> int:
    """How many streams side by side evaluation reads a text of `positions` inputs in: each
    stream's own stretch at least MIN_STRETCH long, so the burn-in adds at most half."""
    return max(1, min(READ_STREAMS, (positions - BURN_IN) // MIN_STRETCH))


def read_stream(
    model: RNNLanguageModel,
    ids: torch.Tensor,
    unk_id: int,
    device: str = "cpu",
    keep: int | None = None,
    streams: int | None = None,
) -> StreamFeatures:
    """Read `ids` once, as several streams side by side (core/batches.py read_layout), keeping
    what the cache needs for the first `keep` positions (None: all) and the loss of all."""
    positions = max(0, len(ids) - 1)
    keep = positions if keep is None else min(keep, positions)
    count = read_streams(positions) if streams is None else streams
    read, scored = B.read_layout(positions, count, BURN_IN)
    size = model.config.hidden
    hidden_out = torch.zeros(keep, size)
    logp_out = torch.zeros(keep, dtype=torch.float64)
    known_out = torch.zeros(keep, dtype=torch.float64)
    was_training = model.training
    model.eval()
    state = model.init_hidden(read.size(1), device)
    inputs = ids[read].to(device)
    total = 0.0
    positions_at_once = max(1, min(READ_TOKENS, READ_SCORES // model.config.vocab_size))
    rows = max(1, positions_at_once // read.size(1))
    with torch.no_grad():
        reader = TextReader(model, inputs)
        for a in range(0, read.size(0), rows):
            output, state = reader.features(a, a + rows, state)
            where = scored[a : a + rows] >= 0
            if not bool(where.any()):
                continue
            at = scored[a : a + rows][where]
            target = ids[at + 1].to(device)
            # [P, H]: past the burn-in every position is scored, and a view costs no copy
            picked = output.flatten(0, 1) if bool(where.all()) else output[where.to(device)]
            # cross_entropy is log_softmax then nll_loss: evaluate_loss takes this same sum
            logp = nn.functional.log_softmax(reader.scores(picked), dim=1)
            total += nn.functional.nll_loss(logp, target, reduction="sum").item()
            kept = at < keep
            if bool(kept.any()):
                at, on = at[kept], kept.to(device)
                hidden_out[at] = picked[on].float().cpu()
                # the columns first, then the kept rows: logp[on] would copy all its scores
                came = logp.gather(1, target[:, None])[:, 0]
                logp_out[at] = came[on].double().cpu()
                known_out[at] = torch.log(-torch.expm1(logp[:, unk_id][on].double())).cpu()
    model.train(was_training)
    return StreamFeatures(
        hidden=hidden_out,
        logp=logp_out,
        log_known=known_out,
        targets=ids[1 : keep + 1].clone(),
        loss=total / max(1, positions),
        unk_id=unk_id,
        read=positions,
    )


@dataclass(frozen=True)
class _Band:
    """For each position t and distance d = 1..n_max: h_t · h_(t-d), whether position t - d is
    usable (inside the text, next word not <unk>) and whether its next word is t's."""

    dots: torch.Tensor  # [T, n_max] float32
    usable: torch.Tensor  # [T, n_max] bool
    match: torch.Tensor  # [T, n_max] bool

    def rows(self, a: int, b: int) -> _Band:
        return _Band(self.dots[a:b], self.usable[a:b], self.match[a:b])


def _band(features: StreamFeatures, n_max: int) -> _Band:
    hidden, targets, unk = features.hidden, features.targets, features.unk_id
    total, size = hidden.shape
    keys = torch.cat([hidden.new_zeros(n_max, size), hidden])
    key_next = torch.cat([targets.new_full((n_max,), unk), targets])
    distance = torch.arange(1, n_max + 1)
    dots = torch.empty(total, n_max)
    usable = torch.empty(total, n_max, dtype=torch.bool)
    match = torch.empty(total, n_max, dtype=torch.bool)
    for a in range(0, total, CHUNK):
        b = min(total, a + CHUNK)
        # column of position t - d among keys[a : b + n_max], for t = a + row
        col = torch.arange(b - a)[:, None] + n_max - distance[None, :]
        dots[a:b] = (hidden[a:b] @ keys[a : b + n_max].T).gather(1, col)
        nxt = key_next[a : b + n_max][col]
        usable[a:b] = nxt != unk
        match[a:b] = usable[a:b] & (nxt == targets[a:b, None])
    return _Band(dots, usable, match)


def _band_logp(
    band: _Band, theta: float, windows: tuple[int, ...], nearest: int = 1
) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Every window from one pass: for each stretch of distances between two windows, the sum
    of exp(score) over its usable positions and over those that match, each relative to the
    stretch's largest usable score, accumulated in log space; distances below `nearest` are left
    out. Terms below e^-80 of that largest one count as e^-80 (exp stays out of float32's slow
    subnormal range; what that adds is below 1e-30 of the sum)."""
    scores = (band.dots * theta).masked_fill_(~band.usable, -math.inf)
    total = scores.size(0)
    all_lse = torch.full((total,), -math.inf, dtype=torch.float64)
    hit_lse = all_lse.clone()
    have = torch.zeros(total, dtype=torch.bool)
    neg = torch.tensor(-math.inf, dtype=torch.float64)
    out = {}
    low = nearest - 1
    for n in sorted(windows):
        if n <= low:  # a window no further than D recalls nothing
            out[n] = (torch.where(have, hit_lse - all_lse, neg), have.clone())
            continue
        part = scores[:, low:n]
        top = part.amax(dim=1)
        usable = torch.isfinite(top)
        have |= usable
        top = torch.where(usable, top, 0.0)
        part.sub_(top[:, None]).clamp_(min=FLOOR).exp_()
        part.masked_fill_(~band.usable[:, low:n], 0.0)  # the floor lifted the unusable ones
        base = torch.where(usable, top.double(), neg)  # a stretch with nothing usable adds 0
        all_lse = torch.logaddexp(all_lse, base + part.sum(1).double().log())
        hits = part.masked_fill_(~band.match[:, low:n], 0.0).sum(1)
        hit_lse = torch.logaddexp(hit_lse, base + hits.double().log())
        out[n] = (torch.where(have, hit_lse - all_lse, neg), have.clone())
        low = n
    return out


def cache_logp(
    features: StreamFeatures,
    theta: float,
    windows: tuple[int, ...] | list[int],
    nearest: int = 1,
) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """For each window N: (log p_cache of the word that came [T] float64, -inf where the cache
    does not hold it; usable [T] bool, False where the cache holds nothing usable)."""
    windows = tuple(windows)
    band = _band(features, max(windows))
    parts = [
        _band_logp(band.rows(a, a + ROWS), theta, windows, nearest)
        for a in range(0, features.tokens, ROWS)
    ]
    return {
        n: (torch.cat([p[n][0] for p in parts]), torch.cat([p[n][1] for p in parts]))
        for n in windows
    }


def mixture_logp(
    features: StreamFeatures, logp_cache: torch.Tensor, usable: torch.Tensor, lam: float
) -> torch.Tensor:
    """[T] log-probability of each word that came under the mixture (core/cache.py's rule):
    the network's where the cache holds nothing usable or the word is <unk>."""
    net = features.logp
    if lam <= 0:
        return net
    mixable = usable & (features.targets != features.unk_id)
    return _mixed(net, features.log_known, logp_cache, mixable, math.log1p(-lam), math.log(lam))


def _mixed(
    net: torch.Tensor,
    known: torch.Tensor,
    logp_cache: torch.Tensor,
    mixable: torch.Tensor,
    log_keep: float | torch.Tensor,
    log_lam: float | torch.Tensor,
) -> torch.Tensor:
    """(1 - λ) p_net + λ p_known p_cache in logs where `mixable`, else the network's (λ a number,
    or a row of them against a column of positions)."""
    mixed = torch.logaddexp(log_keep + net, log_lam + known + logp_cache)
    return torch.where(mixable, mixed, net)


def cache_loss(features: StreamFeatures, settings: CacheSettings | None) -> float:
    """Mean nats per token with the cache (the network alone when off)."""
    if settings is None or not settings.on:
        return -float(features.logp.mean())
    n = settings.window
    logp, usable = cache_logp(features, settings.theta, [n], settings.nearest)[n]
    return -float(mixture_logp(features, logp, usable, settings.lam).mean())


def position_logp(features: StreamFeatures, settings: CacheSettings | None) -> torch.Tensor:
    """[T] log-probability of each word that came, with the cache (float64)."""
    if settings is None or not settings.on:
        return features.logp
    n = settings.window
    logp, usable = cache_logp(features, settings.theta, [n], settings.nearest)[n]
    return mixture_logp(features, logp, usable, settings.lam)


@dataclass(frozen=True)
class _Best:
    nll: float
    settings: CacheSettings


def _search(
    features: StreamFeatures,
    masks: dict[str, torch.Tensor],
    sharpness: tuple[float, ...] = SHARPNESS,
    refine: bool = True,
    windows: tuple[int, ...] = WINDOWS,
    out_of_time: Callable[[], bool] = lambda: False,
) -> dict[str, _Best]:
    """The grid: for each mask of positions, the settings with the lowest mean NLL over it.
    Sharpnesses are tried nearest the usual one first; once `out_of_time()` the best found
    so far is kept."""
    total = features.tokens
    windows = tuple(sorted({*(n for n in windows if n < total - 1), min(total - 1, max(windows))}))
    scale = typical_square(features)
    lams = torch.tensor(LAMBDAS[1:], dtype=torch.float64)
    best = {
        name: _Best(-float(features.logp[mask].mean()), CacheSettings(windows[-1], 0.0, 0.0))
        for name, mask in masks.items()
    }
    band = _band(features, max(windows))
    counts = {name: int(mask.sum()) for name, mask in masks.items()}
    tried: set[tuple[float, int]] = set()

    def trial(c: float, nearest: int = 1) -> None:
        theta = min(MAX_THETA, _significant(c / scale))  # a tiny network's |h|² is small
        if (theta, nearest) in tried:
            return
        tried.add((theta, nearest))
        sums = _trial_nlls(band, theta, windows, nearest, features, masks, lams)
        for n in windows:
            for name in masks:
                nll = sums[n, name] / counts[name]
                i = int(torch.argmin(nll))
                if nll[i] < best[name].nll:
                    settings = CacheSettings(n, theta, float(lams[i]), nearest)
                    best[name] = _Best(float(nll[i]), settings)

    for c in sorted(sharpness, key=lambda c: abs(math.log(c / QUICK_SHARPNESS))):
        if tried and out_of_time():
            return best
        trial(c)
    if refine:
        for found in list(best.values()):
            if found.settings.on:
                for step in (2**-0.5, 2**0.5):
                    if out_of_time():
                        return best
                    trial(found.settings.theta * scale * step)
        for found in list(best.values()):  # then how near a position may be recalled
            if found.settings.on:
                for nearest in NEAREST[1:]:
                    if out_of_time():
                        return best
                    trial(found.settings.theta * scale, nearest)
    return best


def _trial_nlls(
    band: _Band,
    theta: float,
    windows: tuple[int, ...],
    nearest: int,
    features: StreamFeatures,
    masks: dict[str, torch.Tensor],
    lams: torch.Tensor,
) -> dict[tuple[int, str], torch.Tensor]:
    """One trial of the grid: for each window and mask, the summed NLL at every λ. Read by
    rows, so that its temporaries are [ROWS, N] however long the text."""
    log_keep, log_lam = torch.log1p(-lams)[None, :], torch.log(lams)[None, :]
    net, known = features.logp[:, None], features.log_known[:, None]
    mixable = (features.targets != features.unk_id)[:, None]
    sums = {
        (n, name): torch.zeros(len(lams), dtype=torch.float64) for n in windows for name in masks
    }
    for a in range(0, features.tokens, ROWS):
        b = min(features.tokens, a + ROWS)
        for n, (logp, usable) in _band_logp(band.rows(a, b), theta, windows, nearest).items():
            where = usable[:, None] & mixable[a:b]
            # [rows, λ]
            mixed = _mixed(net[a:b], known[a:b], logp[:, None], where, log_keep, log_lam)
            for name, mask in masks.items():
                sums[n, name] -= mixed[mask[a:b]].sum(0)
    return sums


def typical_square(features: StreamFeatures) -> float:
    """The median |h|² over the text: θ's natural unit."""
    return float(features.hidden.double().pow(2).sum(1).median()) or 1.0


def quick_fit(features: StreamFeatures) -> tuple[CacheSettings, float]:
    """The cache's settings and perplexity with N and θ set to where fits often land (θ
    relative to the text's |h|²) and λ chosen: a cheap figure for every epoch (its cost:
    docs/performance.md); the full fit runs once, after training."""
    theta = min(MAX_THETA, _significant(QUICK_SHARPNESS / typical_square(features)))
    everything = torch.ones(features.tokens, dtype=torch.bool)
    best = _search(
        features,
        {"all": everything},
        (QUICK_SHARPNESS,),
        refine=False,
        windows=(QUICK_WINDOW,),
    )["all"]
    return replace(best.settings, theta=theta), math.exp(best.nll)


def fit_cache(
    features: StreamFeatures,
    fitted_on: str = "validation",
    deadline: float = math.inf,
    timer: Callable[[], float] = time.perf_counter,
) -> CacheFit | None:
    """N, θ, λ that give the text the lowest perplexity (λ 0 if the cache does not help), and
    the honest figure: settings fitted on the first half, perplexity of the second half (the
    text read in order, so the second half's cache also remembers the end of the first). Past
    `deadline` (by `timer`) the grid stops with the best settings found so far."""
    total = features.tokens
    if total < MIN_FIT_TOKENS:
        return None
    index = torch.arange(total)
    half = total // 2
    masks = {"all": index >= 0, "first": index < half}
    checked = [timer(), 0.0]  # the last check, and the longest time between two

    def out_of_time() -> bool:
        # when another trial, as long as the longest, and then the cross figure's read (one
        # more of the same) would not fit
        now = timer()
        checked[1] = max(checked[1], now - checked[0])
        checked[0] = now
        return now + 2 * checked[1] >= deadline

    best = _search(features, masks, out_of_time=out_of_time)
    cross = best["first"].settings
    second = index >= half
    cross_logp = position_logp(features, cross if cross.on else None)[second]
    return CacheFit(
        settings=best["all"].settings,
        plain_ppl=math.exp(-float(features.logp.mean())),
        cache_ppl=math.exp(best["all"].nll),
        tokens=total,
        fitted_on=fitted_on,
        cross_plain_ppl=math.exp(-float(features.logp[second].mean())),
        cross_cache_ppl=math.exp(-float(cross_logp.mean())),
    )


def _significant(x: float) -> float:
    """x to 4 significant digits, so that the settings --cache prints give the same figure."""
    return float(np.format_float_positional(x, precision=4, fractional=False, unique=True))
