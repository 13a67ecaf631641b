"""Connectionist temporal classification (CTC): the loss of a label sequence given per-frame
class log-probabilities, summed over every alignment of the labels to the frames.

An alignment emits one class per frame; merging repeats and dropping the blank class turns
it into the labels. The sum runs over the extended sequence l' = (blank, l1, blank, l2, ...,
blank) of length 2S + 1 with the forward (alpha) recursion, in log space:

    alpha_t(s) = log p_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2)),

the last term only where l'_s is a label different from l'_{s-2} (skipping a blank between
two equal labels would merge them). Each frame is one vectorised step over the batch and
every s, built from differentiable ops, so the engine derives the backward (beta) pass.

Unreachable states hold -1e30 rather than -inf: a logsumexp over -inf entries only has a NaN
gradient, while exp(-1e30 - m) is exactly 0, so reachable states get exactly the same value
and gradient. A target needing more frames than its input has (its length plus one per
repeated neighbour) has no alignment: its loss is inf (0 with ``zero_infinity``), its
gradient 0 (PyTorch's is NaN there unless ``zero_infinity``). A log-probability of -inf (a
class masked out) likewise marks a state unreachable, with gradient 0 (PyTorch's: NaN).

PyTorch's backward returns exp(log_probs) - posterior, the gradient with respect to the
logits before a log_softmax, not with respect to log_probs; through a log_softmax the two
agree exactly, which is how CTC is used. This loss returns the true derivative with respect
to log_probs (-posterior), so it also passes a gradient check on raw scores.
"""
from __future__ import annotations

import math
import operator
from typing import Any, List, Sequence, Tuple, Union

import minigrad as mg

from .functional import _REDUCTIONS, _as_tensor
from .loss import _Loss

__all__ = ["CTCLoss"]

Lengths = Union[mg.Tensor, Sequence[int], int]
_IMPOSSIBLE = -1e30  # the log-probability of an unreachable state: finite, see above
_NAME = "ctc_loss"


def _host_lengths(lengths: Lengths, batch: int, what: str) -> List[int]:
    """Per-sample lengths as Python ints (a host sync for a device tensor), checked."""
    if isinstance(lengths, mg.Tensor):
        if lengths.dtype.kind not in "iu":
            raise TypeError(f"{_NAME}: {what} must hold integers, got dtype {lengths.dtype}")
        values = lengths.reshape(-1).tolist()
    else:
        try:
            values = [operator.index(v) for v in
                      ([lengths] if isinstance(lengths, int) else list(lengths))]
        except TypeError:
            raise TypeError(f"{_NAME}: {what} must hold integers, got {lengths!r}") from None
    if len(values) != batch:
        raise ValueError(f"{_NAME}: {what} must have one entry per batch element ({batch}), "
                         f"got {len(values)}")
    if values and min(values) < 0:
        raise ValueError(f"{_NAME}: {what} must be non-negative, got {min(values)}")
    return values


def _padded_targets(targets: mg.Tensor, target_lengths: List[int]) -> mg.Tensor:
    """Targets as (N, S) with S the longest target length, from the padded (N, S') or the
    concatenated 1-d layout (for an unbatched input, a 1-d target is the concatenation of
    one sequence: exactly target_lengths long, as in PyTorch)."""
    batch, longest = len(target_lengths), max(target_lengths, default=0)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{_NAME}: targets must hold integer class indices, got dtype "
                        f"{targets.dtype}")
    if targets.ndim == 2:
        if targets.shape[0] != batch or targets.shape[1] < longest:
            raise ValueError(f"{_NAME}: padded targets must have shape ({batch}, S) with S at "
                             f"least the longest target length {longest}, got "
                             f"{tuple(targets.shape)}")
        return targets[:, :longest]
    if targets.ndim != 1:
        raise ValueError(f"{_NAME}: targets must be padded (N, S) or concatenated (sum of "
                         f"target_lengths,), got shape {tuple(targets.shape)}")
    if targets.shape[0] != sum(target_lengths):
        raise ValueError(f"{_NAME}: concatenated targets must hold sum(target_lengths) = "
                         f"{sum(target_lengths)} labels, got {targets.shape[0]}")
    lengths = mg.tensor(target_lengths, dtype=mg.int64, device=targets.backend)
    starts = lengths.cumsum(0) - lengths
    index = starts.unsqueeze(1) + mg.arange(longest, device=targets.backend)
    return targets[index.clamp(max=max(targets.shape[0] - 1, 0))]  # past-the-end: ignored


def _extended_labels(labels: mg.Tensor, blank: int) -> Tuple[mg.Tensor, mg.Tensor]:
    """(blank, l1, blank, ..., lS, blank) per row, (N, L = 2S + 1), and where the skip from
    s - 2 to s is allowed: l'_s differs from l'_{s-2} (never at a blank, nor at s < 2)."""
    batch, longest = labels.shape
    extended = mg.stack([mg.full_like(labels, blank), labels], 2).reshape(batch, 2 * longest)
    extended = mg.cat([extended, labels.new_full((batch, 1), blank)], 1)
    width = extended.shape[1]
    skip = mg.cat([mg.zeros((batch, 2), dtype=mg.bool, device=labels.backend),
                   extended[:, 2:] != extended[:, :-2]], 1)[:, :width]
    return extended, skip


def _log_likelihood(log_probs: mg.Tensor, labels: mg.Tensor, blank: int, in_len: mg.Tensor,
                    tg_len: mg.Tensor, steps: int) -> mg.Tensor:
    """log p(labels | frames) per sample by the alpha recursion, over the first ``steps``
    frames; a sample's alpha stops changing after its own input length."""
    extended, skip = _extended_labels(labels, blank)
    batch, width = extended.shape
    index = extended.unsqueeze(0).expand(steps, batch, width)
    # (steps, N, L): log p_t(l'_s), a zero probability (-inf) counted as unreachable
    emit = mg.gather(log_probs[:steps], 2, index).clamp(min=_IMPOSSIBLE)
    running = mg.arange(steps, device=in_len.backend).unsqueeze(1) < in_len.unsqueeze(0)
    border = log_probs.new_full((batch, 2), _IMPOSSIBLE)
    # alpha before the first frame: all mass on a virtual state feeding s = 0 and s = 1
    alpha = mg.cat([log_probs.new_zeros((batch, 1)),
                    log_probs.new_full((batch, width - 1), _IMPOSSIBLE)], 1)
    for t in range(steps):
        shifted = mg.cat([border, alpha], 1)
        came_from = mg.stack([alpha, shifted[:, 1:width + 1],
                              mg.where(skip, shifted[:, :width], _IMPOSSIBLE)])
        step = emit[t] + mg.logsumexp(came_from, dim=0)
        alpha = mg.where(running[t].unsqueeze(1), step, alpha)
    # end on the last label (s = 2S_n - 1) or the blank after it (s = 2S_n)
    ends = mg.stack([2 * tg_len, (2 * tg_len - 1).clamp(min=0)], 1)
    may_end = mg.stack([mg.ones_like(tg_len, dtype=mg.bool), tg_len > 0], 1)
    return mg.logsumexp(mg.where(may_end, mg.gather(alpha, 1, ends), _IMPOSSIBLE), dim=1)


def ctc_loss(log_probs: mg.Tensor, targets: Any, input_lengths: Lengths,
             target_lengths: Lengths, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> mg.Tensor:
    """CTC loss of ``targets`` under per-frame ``log_probs`` (T, N, C), or (T, C) unbatched.

    ``targets``: padded (N, S) (entries past each target length are ignored) or the targets
    concatenated (sum(target_lengths),); lengths: integer tensors or sequences of ints.
    'mean' divides each sample's loss by its target length (at least 1), then averages.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{_NAME}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if log_probs.ndim not in (2, 3):
        raise ValueError(f"{_NAME}: log_probs must be (T, N, C), or (T, C) unbatched, got "
                         f"shape {tuple(log_probs.shape)}")
    batched = log_probs.ndim == 3
    if not batched:
        log_probs = log_probs.unsqueeze(1)
    frames, batch, classes = log_probs.shape
    if not 0 <= blank < classes:
        raise ValueError(f"{_NAME}: blank={blank} is not a class index in [0, {classes})")
    in_lens = _host_lengths(input_lengths, batch, "input_lengths")
    tg_lens = _host_lengths(target_lengths, batch, "target_lengths")
    if in_lens and max(in_lens) > frames:
        raise ValueError(f"{_NAME}: input_lengths must be at most the input's length "
                         f"T={frames}, got {max(in_lens)}")
    too_long = [n for n, (t, s) in enumerate(zip(in_lens, tg_lens)) if s > t]
    if too_long and not zero_infinity:  # no alignment can exist: a bad batch, not a bad model
        n = too_long[0]
        raise ValueError(f"{_NAME}: target {n} has {tg_lens[n]} labels but its input has only "
                         f"{in_lens[n]} frames; pass zero_infinity=True to count such samples "
                         "as zero loss (PyTorch returns inf for them)")
    # targets may sit on the host while log_probs are on a GPU, as PyTorch allows
    labels = _padded_targets(_as_tensor(targets, log_probs).to(log_probs.device), tg_lens)
    device = log_probs.backend
    in_len = mg.tensor(in_lens, dtype=mg.int64, device=device)
    tg_len = mg.tensor(tg_lens, dtype=mg.int64, device=device)
    in_target = mg.arange(labels.shape[1], device=device).unsqueeze(0) < tg_len.unsqueeze(1)
    labels = mg.where(in_target, labels, blank)  # padding beyond a target's length is ignored
    if labels.numel():
        lo, hi = int(labels.min().item()), int(labels.max().item())
        if lo < 0 or hi >= classes:
            raise IndexError(f"{_NAME}: target label {lo if lo < 0 else hi} is out of bounds "
                             f"for {classes} classes")

    loss = -_log_likelihood(log_probs, labels, blank, in_len, tg_len, max(in_lens, default=0))
    repeats = (labels[:, 1:] == labels[:, :-1]) & in_target[:, 1:]
    feasible = in_len >= tg_len + repeats.sum(1)
    loss = mg.where(feasible, loss, 0.0 if zero_infinity else math.inf)
    if reduction == "mean":
        return (loss / tg_len.clamp(min=1).to(loss.dtype)).mean()
    if reduction == "sum":
        return loss.sum()
    return loss if batched else loss.squeeze(0)


class CTCLoss(_Loss):
    """CTC loss over all alignments of a label sequence (see ``F.ctc_loss``)."""

    def __init__(self, blank: int = 0, reduction: str = "mean",
                 zero_infinity: bool = False) -> None:
        super().__init__(reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: mg.Tensor, targets: Any, input_lengths: Lengths,
                target_lengths: Lengths) -> mg.Tensor:
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                        self.reduction, self.zero_infinity)
