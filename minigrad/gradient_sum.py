"""The pending gradient of one tensor, summed the cheapest way for its contributions.

A weight shared over T time steps, or a sequence sliced into T steps, receives T
gradient contributions. Summed naively that is T full-size temporaries: T slice
gradients each padded to the whole sequence, or T rank-B outer products each
the size of the weight. Here slice contributions are added in place into one
buffer, and products ``a.T @ g`` are batched into a few large GEMMs
(``concat(a).T @ concat(g)``), which is both fewer passes over memory and
faster BLAS. Only the plain (non ``create_graph``) backward uses this.
"""
from __future__ import annotations

from typing import Any

# Stacked rows of pending a.T @ g products before they are flushed into one GEMM:
# large enough for an efficient GEMM, small enough to bound the memory held.
FLUSH_ROWS = 1024


class GradientSum:
    """Accumulates dense, indexed and outer-product contributions for one tensor."""

    __slots__ = ("backend", "shape", "dtype", "dense", "owned", "outer_a", "outer_g", "rows")

    def __init__(self, backend: Any, shape: tuple, dtype: Any) -> None:
        self.backend = backend
        self.shape = shape
        self.dtype = dtype
        self.dense = None      # running sum (an array), or None before the first term
        self.owned = False     # True once `dense` is a buffer we allocated: add in place
        self.outer_a: list = []
        self.outer_g: list = []
        self.rows = 0

    def _buffer(self) -> Any:
        if self.dense is None:
            self.dense = self.backend.zeros(self.shape, dtype=self.dtype)
            self.owned = True
        elif not self.owned:
            self.dense = self.dense.copy()
            self.owned = True
        return self.dense

    def add(self, g: Any) -> None:
        """A dense term of exactly this tensor's shape and dtype."""
        if self.owned:  # the common case first: a weight's T-th contribution
            self.dense += g
        elif self.dense is None:
            self.dense = g
        else:
            self._buffer()
            self.dense += g

    def add_at(self, index: Any, g: Any) -> None:
        """``grad[index] += g`` (repeated fancy indices accumulate)."""
        buffer = self._buffer()
        if self.backend.is_basic_index(index):
            buffer[index] += g
        else:
            self.backend.add_at(buffer, index, g)

    def add_outer(self, a: Any, g: Any) -> None:
        """``grad += a.T @ g`` for 2-d ``a`` (rows, K) and ``g`` (rows, N), batched."""
        self.outer_a.append(a)
        self.outer_g.append(g)
        self.rows += a.shape[0]
        if self.rows >= FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self.outer_a:
            return
        xp = self.backend
        if len(self.outer_a) == 1:
            a, g = self.outer_a[0], self.outer_g[0]
        else:
            a, g = xp.concatenate(self.outer_a, axis=0), xp.concatenate(self.outer_g, axis=0)
        self.outer_a, self.outer_g, self.rows = [], [], 0
        product = xp.matmul(a.T, g)
        if self.dense is None:
            self.dense, self.owned = product, True
        else:
            self.add(product)

    def total(self) -> Any:
        self._flush()
        if self.dense is None:
            return self.backend.zeros(self.shape, dtype=self.dtype)
        return self.dense
