"""Shapes and slice bounds that follow the dynamic axes.

A recorded ``reshape(x, (N, L, 4, 8))`` holds the sizes of one trace. Comparing them
with the trace whose dynamic axes grew tells which entries are dynamic; each of those is
written as "copy the input's size" (Reshape's 0, Expand's 1), as the runtime size of
the input or of a graph input that agrees in both traces, as Reshape's inferred -1 (once
per shape), or else as the runtime size of any earlier value that agrees. Slice bounds
that moved with a dynamic axis are counted from the end.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

from .graph import INT64_MAX, INT64_MIN
from .lowering import Operand, PrimitiveOp

__all__ = ["target_shape", "runtime_size", "slice_bounds"]


def runtime_size(op: PrimitiveOp, a: int, b: int) -> Optional[str]:
    """A graph input's runtime size (1-element int64) that is ``a`` in trace A and ``b``
    in trace B, or None."""
    found = op.graph.find_dim(a, b)
    return None if found is None else op.graph.dim(*found, op.scope)


def target_shape(op: PrimitiveOp, target: Sequence[int], target_b: Sequence[int],
                 source: Optional[Operand], expand: bool = False) -> tuple:
    """The 1-d int64 shape input of a Reshape (or, with ``expand``, an Expand) of
    ``source`` to ``target`` (no source: a new tensor of that shape), and Reshape's
    ``allowzero``. Fails, naming the op, when a dynamic size cannot be expressed."""
    if len(target) != len(target_b):
        op.fail(f"its target rank changes with the dynamic axes ({tuple(target)} vs "
                f"{tuple(target_b)})")
    has_zero = any(a == 0 for a in target)   # a real 0: Reshape's 0-means-copy is off
    near = [] if source is None else [source]
    pieces: list = []
    for k, (a, b) in enumerate(zip(target, target_b)):
        j = k - (len(target) - source.ndim) if expand and source is not None else k
        if a == b:
            pieces.append(int(a))
        elif source is not None and 0 <= j < source.ndim and source.shape[j] == a \
                and source.shape_b[j] == b and not has_zero:
            pieces.append(1 if expand else 0)
        else:   # a size of the input or of a graph input (not yet of any value)
            found = op.graph.find_dim(a, b, near)
            if found is not None and found[0] not in {s.name for s in near + op.graph.sources}:
                found = None
            pieces.append((a, b) if found is None else op.graph.dim(*found, op.scope))
    unresolved = [k for k, p in enumerate(pieces) if isinstance(p, tuple)]
    if len(unresolved) == 1 and source is not None and not expand:
        pieces[unresolved[0]] = -1
        unresolved = []
    for k in unresolved:
        found = op.graph.find_dim(*pieces[k])
        if found is None:
            op.fail(f"cannot express the target shape {tuple(target)} (here "
                    f"{tuple(target_b)} with the dynamic axes grown) from the runtime shapes "
                    "of its input, the graph inputs or earlier values")
        pieces[k] = op.graph.dim(*found, op.scope)
    return _concat(op, pieces), int(has_zero)


def _concat(op: PrimitiveOp, pieces: list) -> str:
    """One 1-d int64 tensor from static sizes and 1-element runtime sizes."""
    if all(isinstance(p, int) for p in pieces):
        return op.graph.ints(pieces)
    parts, run = [], []
    for p in pieces:
        if isinstance(p, int):
            run.append(p)
            continue
        if run:
            parts.append(op.graph.ints(run))
            run = []
        parts.append(p)
    if run:
        parts.append(op.graph.ints(run))
    return op.node("Concat", parts, axis=0)


def _bound(op: PrimitiveOp, a: int, b: int, n_a: int, n_b: int, stop: bool, step: int
           ) -> Union[int, None]:
    """One normalised slice bound (Python's ``slice.indices``) in ONNX's terms."""
    if stop and step < 0 and a == b == -1:
        return INT64_MIN                # backwards through index 0
    if a == b and n_a == n_b or a == b and a >= 0 and not (stop and a == n_a):
        return int(a)
    if a - n_a == b - n_b:
        offset = a - n_a                # counted from the end
        return offset if offset < 0 else INT64_MAX
    return None


def slice_bounds(op: PrimitiveOp, s_a: slice, s_b: slice, n_a: int, n_b: int) -> tuple:
    """(start, end, step) for ONNX's Slice from the slices of both traces over an axis of
    size ``n_a`` / ``n_b``."""
    if (s_a.start, s_a.stop, s_a.step) == (s_b.start, s_b.stop, s_b.step):
        step = 1 if s_a.step is None else int(s_a.step)
        start = (0 if step > 0 else INT64_MAX) if s_a.start is None else int(s_a.start)
        end = (INT64_MAX if step > 0 else INT64_MIN) if s_a.stop is None else int(s_a.stop)
        return start, end, step     # Python and ONNX count and clamp bounds alike
    (start_a, stop_a, step), (start_b, stop_b, step_b) = s_a.indices(n_a), s_b.indices(n_b)
    start = _bound(op, start_a, start_b, n_a, n_b, False, step)
    end = _bound(op, stop_a, stop_b, n_a, n_b, True, step)
    if step != step_b or start is None or end is None:
        op.fail(f"the slice {s_a} over an axis of size {n_a} becomes {s_b} when the dynamic "
                f"axes grow (size {n_b}); its bounds cannot be written relative to the size")
    return start, end, step
