"""Softmax cross-entropy against class indices as one primitive, as PyTorch fuses it.

Composed, ``F.cross_entropy`` is a log-softmax (maximum, shift, exp, sum, shift again:
five passes over the (N, C) logits), a pick of each row's target and, backward, a
scatter into a zero (N, C) array followed by the log-softmax's rule (four more
passes). Fused, the forward keeps ``exp(x - max)`` and its row sums, and the backward
is one pass: ``(softmax - one_hot) * w`` with each row's weight ``w`` (the upstream
gradient, 0 for an ignored target, divided by the count for 'mean'). With a vocabulary
of 1,000 words that made a training step of benchmarks/bench_lstm.py's word LM about 15 %
faster. It serves the
common case of ``F.cross_entropy``: (N, C) logits, N class indices, no class weights,
no label smoothing; the rest stays composed (nn/functional.py).

What the backward reuses the forward leaves in a :class:`Saved` passed as an input
(as ops/sequence.py's reserve); with ``create_graph=True`` the rule recomputes the
softmax in recorded operations instead, so it can be differentiated again.
"""
from __future__ import annotations

from typing import Any

from ..primitive import joint_primitive


class Saved:
    """``exp(x - max)`` per element, its row sums, which targets count and the targets
    with the ignored ones as 0: from the forward for the backward."""

    __slots__ = ("arrays",)
    backward_state = True  # not a value of the computation (the ONNX exporter skips it)

    def __init__(self) -> None:
        self.arrays: tuple = ()


def _forward(xp: Any, x: Any, target: Any, saved: Saved, ignore_index: int = -100,
             reduction: str = "mean") -> Any:
    e, shift, sums = xp.softmax_parts(x)
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    picked = x[xp.arange(x.shape[0]), safe]
    losses = xp.where(valid, xp.log(sums) + shift[:, 0] - picked, 0).astype(x.dtype, copy=False)
    saved.arrays = (e, sums, valid, safe)
    if reduction == "none":
        return losses
    total = xp.sum(losses)
    if reduction == "sum":
        return total
    count = xp.sum(valid, dtype=x.dtype)  # every target ignored: nan, PyTorch's 0 / 0, unwarned
    return xp.where(count > 0, total / xp.maximum(count, 1), float("nan")).astype(x.dtype)


def _row_weights(xp: Any, g: Any, valid: Any, reduction: str, dtype: Any) -> Any:
    """Each row's share of the upstream gradient: 0 where the target is ignored (all 0,
    as in PyTorch, when every target is)."""
    w = valid.astype(dtype)
    if reduction == "mean":
        w = w / xp.maximum(xp.sum(w), 1)
    return g * w


def _backward(xp: Any, g: Any, out: Any, x: Any, target: Any, saved: Saved,
              ignore_index: int = -100, reduction: str = "mean") -> tuple:
    from .. import ops  # the recorded namespace (create_graph)
    n, classes = x.shape
    if xp is ops:  # recorded: softmax from x again, the one-hot a constant
        backend = x._backend
        t = target._data
        valid = t != ignore_index
        one_hot = (backend.arange(classes)[None, :] == backend.xp.where(valid, t, 0)[:, None])
        w = _row_weights(backend, g, valid, reduction, x.dtype)
        softmax = ops.exp(ops.log_softmax(x, axis=1))
        return ((softmax - one_hot.astype(x.dtype)) * ops.reshape(w, (n, 1)), None, None)
    e, sums, valid, safe = saved.arrays
    w = _row_weights(xp, g, valid, reduction, x.dtype)
    gx = xp.scale_rows(e, w / sums)            # softmax times the row weight: one pass
    gx[xp.arange(n), safe] -= w                # minus the one-hot's share
    return gx, None, None


_PRIMITIVE = joint_primitive("softmax_cross_entropy", _forward, _backward, saves_output=False)


def softmax_cross_entropy(x: Any, target: Any, ignore_index: int = -100,
                          reduction: str = "mean") -> Any:
    """Cross-entropy of the logits ``x`` (N, C) against the class indices ``target`` (N),
    targets equal to ``ignore_index`` left out; reduced by 'mean' (over the targets not
    ignored), 'sum' or 'none'. Targets must lie in [0, C) (``F.cross_entropy`` checks)."""
    if x.ndim != 2 or tuple(target.shape) != (x.shape[0],):
        raise ValueError(f"softmax_cross_entropy: expected logits (N, C) and N targets, got "
                         f"shapes {tuple(x.shape)} and {tuple(target.shape)}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"softmax_cross_entropy: targets must be class indices (integers), "
                        f"got dtype {target.dtype}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"softmax_cross_entropy: reduction must be 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")
    return _PRIMITIVE(x, target, Saved(), ignore_index=int(ignore_index), reduction=reduction)
