"""Token ids -> training batches.

`streams`: the corpus is cut into B contiguous streams read side by side, `bptt` steps at a time;
each epoch covers every token once and the hidden state flows from one batch to the next
(truncated back-propagation through time).

`tutorial_windows`: the tutorial's sampling, kept to show why it fails: windows of `bptt` tokens
whose starts run only over the first len/bptt positions, shuffled, in batches of B.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

NOISE_CHUNK = 1 << 20  # tokens given <unk> noise at once
EVAL_CHUNK = 256  # evaluation reads its streams in chunks of this many steps, hidden state carried


def stream_count(n_tokens: int, batch_size: int) -> int:
    """The streams (columns) batchify makes: batch_size, fewer on a corpus that is tiny."""
    return max(1, min(batch_size, n_tokens // 2 or 1))


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """[N] -> [N // B, B]: column b is the b-th contiguous stretch of the corpus."""
    batch_size = stream_count(len(ids), batch_size)
    steps = len(ids) // batch_size
    return ids[: steps * batch_size].view(batch_size, steps).t().contiguous()


def stream_batches(data: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(inputs, targets) pairs of shape [<=bptt, B]; targets are inputs shifted by one."""
    for start in range(0, data.size(0) - 1, bptt):
        length = min(bptt, data.size(0) - 1 - start)
        yield data[start : start + length], data[start + 1 : start + 1 + length]


def stream_batch_count(data: torch.Tensor, bptt: int) -> int:
    return max(0, (data.size(0) - 1 + bptt - 1) // bptt)


def tutorial_windows(
    ids: torch.Tensor, bptt: int, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The tutorial's windows: only len(ids)//bptt starts exist, all near the corpus head."""
    starts = tutorial_window_starts(len(ids), bptt)
    order = starts[torch.randperm(len(starts), generator=generator)]
    for i in range(0, len(order) - batch_size + 1, batch_size):
        chosen = order[i : i + batch_size]
        offsets = torch.arange(bptt)
        x = ids[(chosen[None, :] + offsets[:, None])]
        y = ids[(chosen[None, :] + offsets[:, None] + 1)]
        yield x, y


def tutorial_window_starts(n_tokens: int, bptt: int) -> torch.Tensor:
    count = max(1, n_tokens // bptt)
    return torch.clamp(torch.arange(count), max=max(0, n_tokens - bptt - 1))


def tutorial_window_count(n_tokens: int, bptt: int, batch_size: int) -> int:
    return max(1, n_tokens // bptt) // batch_size


def unk_noise(
    ids: torch.Tensor,
    counts: torch.Tensor,
    alpha: float,
    unk_id: int,
    generator: torch.Generator,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """A copy of `ids` (into `out` when given) in which each occurrence of a word seen c times
    in training is read as <unk> with probability α / (α + c): rare words most often, as a
    held-out text is full of words the training text never had twice. Done a million tokens
    at a time, so that a large corpus needs no more than the copy."""
    source = ids.reshape(-1)
    out = torch.empty_like(ids) if out is None else out
    target = out.view(-1)
    counts = counts.to(torch.float32)
    for a in range(0, source.numel(), NOISE_CHUNK):
        part = source[a : a + NOISE_CHUNK]
        p = alpha / (alpha + counts[part.cpu()])
        hit = (torch.rand(part.shape, generator=generator) < p).to(part.device)
        target[a : a + NOISE_CHUNK] = torch.where(hit, unk_id, part)
    return out


def read_layout(positions: int, streams: int, burn_in: int) -> tuple[torch.Tensor, torch.Tensor]:
    """How evaluation reads `positions` inputs of one text as `streams` streams side by side.

    Returns (read, scored), both [R, S]: the input position each row of each stream reads, and
    the position it scores (-1: not scored). Stream 0 starts at the text's start, as a one-stream
    reading does; every later stream first reads the `burn_in` inputs before its own stretch
    unscored, so that its hidden state has forgotten its zero start by the time it scores. Every
    position is scored exactly once; rows past the text's end read its last input, unscored.
    """
    if streams <= 1 or positions <= burn_in + streams:
        column = torch.arange(positions)[:, None]
        return column, column.clone()
    length = -(-(positions - burn_in) // streams)  # each later stream's own stretch
    rows = burn_in + length
    row = torch.arange(rows)[:, None]
    first = torch.arange(streams)[None, :] * length  # where each stream starts reading
    read = first + row
    own = (row >= burn_in) | (torch.arange(streams)[None, :] == 0)
    scored = torch.where(own & (read < positions), read, torch.full_like(read, -1))
    return read.clamp(max=positions - 1), scored
