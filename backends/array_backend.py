"""One backend class for every NumPy-compatible array library.

NumPy and CuPy share an API, so a backend is just an array module (``xp``) plus
the few functions the engine needs that the module lacks (a stable sigmoid, a
scatter-add, a seeded generator, host transfer). CPU and GPU therefore run the
same code: a subclass overrides only what truly differs.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Optional, Sequence

import numpy

from minigrad.device import backend_device

from . import (blas_gemm, compiled_kernel, float_errors, optimizer_kernels, packed_matmul,
               row_scatter, softmax_rows, threads)
from .recurrent_kernels import build as build_recurrent_kernels

# Functions the engine's forward passes and gradient rules take straight from the
# array module. ``minigrad.ops`` exposes the same names for Tensors, which is what
# lets one gradient rule run on raw arrays or, for higher-order gradients, on Tensors.
ARRAY_FUNCTIONS = (
    "exp", "log", "sqrt", "tanh", "abs", "sign", "negative", "maximum", "minimum",
    "clip", "where", "matmul", "sum", "max", "min", "reshape", "transpose",
    "swapaxes", "broadcast_to", "expand_dims", "squeeze", "concatenate", "stack",
    "pad", "zeros", "ones", "full", "empty", "arange", "zeros_like", "ones_like",
    "logaddexp", "isfinite", "array_equal", "allclose", "argmax", "argmin",
    "einsum", "moveaxis", "cumsum", "sort", "argsort", "linspace", "eye", "tril",
    "triu", "log1p", "expm1", "sin", "cos", "floor", "ceil", "round",
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
    "logical_and", "logical_or", "logical_not", "isnan", "isinf", "multiply", "add",
    "subtract", "result_type", "tan", "arctan", "arctan2", "hypot", "arcsin", "arccos", "sinh",
    "cosh",
    "reciprocal", "cumprod", "prod", "flip", "roll", "take_along_axis", "diagonal",
    "bitwise_and", "bitwise_or", "bitwise_xor", "invert",
)


# From this many indexed rows of at least this width on, ArrayBackend.add_at sums by
# sorting, not with add.at.
SORTED_ADD_ROWS, SORTED_ADD_WIDTH = 64, 16

# The largest recurrent weight packed for a step loop when the packed product has fewer
# threads than the BLAS (ArrayBackend.step_matmul): measured on two cores, an LSTM layer's
# forward and backward (B 32, T 64), one thread for the packed product against two for
# BLAS, H 128 (256 KiB): 0.90x the time; H 256 (1 MiB): 1.00x; H 512 (4 MiB): 1.06x. With
# two threads each (minigrad/blas_spin.py): 0.83x, 0.82x and 0.82x.
PACKED_BYTES = 1 << 20


class ArrayBackend:
    """A NumPy-like array module seen through the interface the engine uses."""

    def __init__(self, name: str, device: str, xp: Any) -> None:
        self.name = name
        self.device = backend_device(device)  # a str with PyTorch's .type and .index
        self.xp = xp
        for fn in ARRAY_FUNCTIONS:
            setattr(self, fn, getattr(xp, fn))
        self.ndarray = xp.ndarray
        self._errstate = getattr(xp, "errstate", None)  # NumPy's floating-point warning switch
        self._rng = numpy.random.default_rng()
        self._ones: dict = {}  # dtype -> 0-d array of 1 (see one())

    def __repr__(self) -> str:
        return f"<minigrad backend {self.name!r} on {self.device!r}>"

    # -- conversion -----------------------------------------------------------
    def asarray(self, data: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(data, dtype=dtype)

    def from_numpy(self, array: Any) -> Any:
        """Bring a host NumPy array onto this backend's device."""
        return self.xp.asarray(array)

    def to_numpy(self, array: Any) -> Any:
        """Return a host NumPy array (a no-op on the CPU)."""
        return array

    def item(self, array: Any) -> Any:
        """The one element of ``array`` as a Python number (on a GPU: a host sync)."""
        return array.item()

    # Checks on data (an index in range) run at once here; a GPU backend defers them to
    # its next host sync instead of waiting for the GPU (see CupyBackend.defer_error).
    defers_checks = False

    def raise_deferred(self) -> None:
        """Raise a deferred check that failed (none are deferred on the CPU)."""

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, self.ndarray)

    def operand(self, value: Any) -> Any:
        """An operand of an op or a value to write: a host NumPy array or a list is copied
        to this backend's device (a no-op on the CPU), so host values mean the same on
        every backend. Scalars and device arrays pass as they are."""
        if isinstance(value, (list, tuple)):
            value = numpy.asarray(value)
        if type(value) is numpy.ndarray and not isinstance(value, self.ndarray):
            return self.from_numpy(value)
        return value

    @staticmethod
    def is_basic_index(index: Any) -> bool:
        return is_basic_index(index)

    # -- functions the array modules lack --------------------------------------
    def sigmoid(self, x: Any) -> Any:
        """1 / (1 + exp(-x)) in four passes over one buffer. Accurate in the far negative
        tail (where a tanh form rounds to 0); for x below about -88 (float32) exp
        overflows to inf and the result is the correct limit 0, so that warning is
        silenced. The 1 is an array of x's dtype: on small arrays NumPy takes twice as
        long to add a Python number."""
        out = -x
        if type(out) is not self.ndarray:  # a 0-d input gives a scalar: nothing to reuse
            return 1 / (1 + float_errors.ignoring_overflow(self.xp.exp, out))
        if self._errstate is None:  # no floating-point warnings to silence (CuPy)
            self.xp.exp(out, out)
        else:
            float_errors.ignoring_overflow(self.xp.exp, out, out)
        out += self.one(out.dtype)
        return self.xp.reciprocal(out, out)

    def one(self, dtype: Any) -> Any:
        """A 0-d array holding 1 in ``dtype`` (made once per dtype)."""
        unit = self._ones.get(dtype)
        if unit is None:
            unit = self._ones[dtype] = self.xp.asarray(1, dtype=dtype)
        return unit

    def transposed_copy(self, a: Any) -> Any:
        """``a.T`` as a new C-contiguous array. NumPy copies a transposed view reading
        across rows, which misses the cache: for a weight of a few MB, copying 64 x 64
        tiles is about four times faster."""
        if self.xp is not numpy or a.ndim != 2 or a.size < 1 << 16:
            return a.T.copy()
        rows, cols = a.shape
        out = numpy.empty((cols, rows), dtype=a.dtype)
        for i in range(0, rows, 64):
            for j in range(0, cols, 64):
                out[j:j + 64, i:i + 64] = a[i:i + 64, j:j + 64].T
        return out

    def step_matmul(self, w: Any, transpose: bool = False) -> Callable[[Any, Any], Any]:
        """``product(a, out)``: ``a @ w`` (``transpose``: ``a @ w.T``) written into ``out``,
        for a loop that multiplies many small ``a`` by one ``w``, as a recurrent layer's
        steps do. On the CPU ``w`` is packed once for the whole loop
        (backends/packed_matmul.py), where the packed product gets as many threads as
        the BLAS would or ``w`` is small (at most ``PACKED_BYTES``). Elsewhere BLAS gets
        a contiguous ``w``."""
        if self._packs(w):
            return packed_matmul.PackedMatrix(w, transpose)
        right = self.transposed_copy(w) if transpose else w  # BLAS: up to twice as fast
        matmul = self.xp.matmul
        return lambda a, out: matmul(a, right, out=out)

    def _packs(self, w: Any) -> bool:
        """Whether a step loop over ``w`` uses the packed product (see step_matmul)."""
        return self.xp is numpy and packed_matmul.available(w.dtype) and (
            w.nbytes <= PACKED_BYTES or threads.kernel_threads() >= threads.blas_threads())

    def aligned_empty(self, shape: Any, dtype: Any) -> Any:
        """An uninitialised array that compiled kernels stream through: on the CPU its data
        starts on a 64-byte boundary (compiled_kernel.aligned_empty); elsewhere ``empty``."""
        if self.xp is numpy:
            return compiled_kernel.aligned_empty(shape, dtype)
        return self.xp.empty(shape, dtype=dtype)

    def sequence_forward(self, kind: str, w_hh: Any) -> Optional[Callable]:
        """A recurrent layer's whole forward time loop as one call, where the backend has
        one for ``kind``: the LSTM's on the CPU where the packed product is used
        (backends/packed_matmul.py ``lstm_forward``, same arguments). Else None, and the
        primitive runs its steps one by one."""
        return packed_matmul.lstm_forward if kind == "lstm" and self._packs(w_hh) else None

    def sequence_backward(self, kind: str, w_hh: Any) -> Optional[Callable]:
        """The BPTT loop of :meth:`sequence_forward`'s layer as one call, or None
        (backends/packed_matmul.py ``lstm_backward``)."""
        return packed_matmul.lstm_backward if kind == "lstm" and self._packs(w_hh) else None

    def adam_step(self, p: Any, g: Any, m: Any, v: Any, vmax: Any, hyper: dict) -> None:
        """One Adam update of ``p`` and its moments, in place (backends/optimizer_kernels.py):
        one compiled pass on the CPU where it applies, in-place ufuncs elsewhere."""
        if not (self.xp is numpy and optimizer_kernels.compiled_adam(p, g, m, v, vmax, hyper)):
            optimizer_kernels.ufunc_adam(self.xp, p, g, m, v, vmax, hyper)

    def _overflow_is_fine(self) -> Any:
        errstate = self._errstate
        return errstate(over="ignore") if errstate is not None else contextlib.nullcontext()

    def recurrent_kernels(self, dtype: Any) -> dict:
        """Fused per-step kernels for the recurrent primitives, by kind, for arrays of
        ``dtype`` (backends/recurrent_kernels.py): on the CPU, compiled by the C++
        compiler where there is one (backends/compiled_kernel.py); else none, and the
        primitives take NumPy's generic in-place steps."""
        if self.xp is not numpy or numpy.dtype(dtype).char not in "fd" or \
                not compiled_kernel.available():
            return {}
        if ArrayBackend._compiled_steps is None:
            ArrayBackend._compiled_steps = build_recurrent_kernels(
                compiled_kernel.ElementwiseKernel)
        return ArrayBackend._compiled_steps

    _compiled_steps: Optional[dict] = None  # shared by every NumPy backend

    def erf(self, x: Any) -> Any:
        """The error function. NumPy has none, so the CPU evaluates the C library's erf
        per element (exact, but a Python call per element); CuPy uses its own kernel."""
        # asarray: on a 0-d input frompyfunc returns a bare Python float, not an array
        return numpy.asarray(numpy.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)

    def relu(self, x: Any) -> Any:
        return self.xp.maximum(x, 0)

    def shifted_exp(self, x: Any, axis: Any = None) -> tuple:
        """(exp(x - m), m) with m the maximum along ``axis`` (kept as a size-1 axis), 0
        where that is not finite: every exponent is at most 0, so nothing overflows."""
        xp = self.xp
        m = xp.max(x, axis=axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        e = x - m
        if type(e) is not self.ndarray:  # a 0-d input gives a scalar: nothing to reuse
            return xp.exp(e), m
        return xp.exp(e, out=e), m

    def softmax_parts(self, x: Any) -> tuple:
        """``(exp(x - m), m, sums)`` along the rows of a 2-D ``x``: :meth:`shifted_exp` and
        its row sums, in one compiled loop on the CPU (backends/softmax_rows.py)."""
        parts = softmax_rows.softmax_rows(x) if self.xp is numpy else None
        if parts is None:
            e, m = self.shifted_exp(x, axis=1)
            parts = e, m, self.xp.sum(e, axis=1)
        return parts

    # From this many output elements the bias is added inside the BLAS product (measured:
    # 256 x 256 about even; 700 x 1,000 0.41 against 0.67 ms; 32 x 10 10 against 2 us,
    # the ctypes call and its checks).
    BIAS_IN_GEMM = 1 << 16

    def matmul_plus(self, c: Any, a: Any, b: Any) -> Any:
        """``c + a @ b`` for 2-D ``a``, ``b`` (``addmm``): on the CPU, where dtypes agree and
        the output is big, one BLAS GEMM starting from ``c`` (backends/blas_gemm.py), not a
        product and then a pass adding ``c``."""
        big = self.xp is numpy and a.shape[0] * b.shape[-1] >= self.BIAS_IN_GEMM
        out = blas_gemm.matmul_plus(c, a, b) if big else None
        if out is not None:
            return out
        out = self.xp.matmul(a, b)
        if out.dtype == self.xp.result_type(out, c):
            out += c  # the product is a fresh array: add in place
            return out
        return out + c

    # From this many rows a float sum over rows is one BLAS product with ones (below, the
    # call costs more than NumPy's pairwise sum).
    SUM_ROWS_BY_PRODUCT = 64

    def sum_rows(self, a: Any) -> Any:
        """``a.sum(axis=0)`` for a 2-D ``a`` (a bias's gradient): on the CPU ``ones @ a``,
        one multithreaded BLAS pass, 2-5x faster than NumPy's pairwise sum at (700, 1000)
        to (2048, 1024) and as accurate (benchmarks/bench_rows.py)."""
        if (self.xp is numpy and a.dtype.char in "fd" and a.ndim == 2
                and a.shape[0] >= self.SUM_ROWS_BY_PRODUCT):
            return numpy.ones(a.shape[0], a.dtype) @ a
        return a.sum(axis=0)

    def scale_rows(self, x: Any, scale: Any) -> Any:
        """``x * scale[:, None]`` for a 2-D ``x`` and ``scale`` (N,), a new array: on the
        CPU one compiled pass shared among the threads (backends/softmax_rows.py)."""
        out = softmax_rows.scale_rows(x, scale) if self.xp is numpy else None
        return x * scale[:, None] if out is None else out

    def logsumexp(self, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        xp = self.xp
        e, m = self.shifted_exp(x, axis)
        out = xp.log(xp.sum(e, axis=axis, keepdims=True)) + m
        return out if keepdims else xp.squeeze(out, axis=axis)

    def index_add(self, shape: Sequence[int], index: Any, values: Any) -> Any:
        """zeros(shape)[index] += values, accumulating repeated indices."""
        out = self.xp.zeros(shape, dtype=values.dtype)
        if is_basic_index(index):
            out[index] = values  # a basic index never repeats an element
        else:
            self.add_at(out, index, values)
        return out

    def add_at(self, out: Any, index: Any, values: Any) -> None:
        """``out[index] += values`` in place, repeated indices accumulating (``add.at``).
        One integer array indexing the first axis, as an embedding's backward has, is added
        row by row in one compiled loop on the CPU (backends/row_scatter.py). Without the
        compiled loop, it is summed by sorting where rows are wide: NumPy's ``add.at``
        takes about half a microsecond per row, the sort less for rows of 16 values or
        more (measured on 2,048 x 64 into 84 rows, the main job's: 3.5x faster; 100,000 x
        3 into 10: 1.2x slower, hence the width)."""
        xp = self.xp
        rows = out.shape[0] if out.ndim else 0
        if not (xp is numpy and type(index) is numpy.ndarray and index.dtype.kind in "iu"
                and index.size and out.flags.c_contiguous
                and values.shape == index.shape + out.shape[1:]
                and -rows <= index.min() and index.max() < rows):
            xp.add.at(out, index, values)  # also the one that names a bad index
            return
        flat = numpy.where(index < 0, index + rows, index).astype(numpy.int64, copy=False)
        flat = flat.reshape(-1)
        values = values.reshape(flat.shape + out.shape[1:])
        if row_scatter.add_rows_at(out, flat, values):
            return
        if flat.size < SORTED_ADD_ROWS or out.size < SORTED_ADD_WIDTH * rows:
            xp.add.at(out, flat, values)
            return
        order = numpy.argsort(flat, kind="stable")  # each row's terms keep their order
        keys = flat[order]
        starts = numpy.flatnonzero(numpy.concatenate(([True], keys[1:] != keys[:-1])))
        sums = numpy.add.reduceat(values.reshape(flat.size, -1)[order], starts, axis=0)
        out.reshape(rows, -1)[keys[starts]] += sums

    def add_along_axis(self, shape: Sequence[int], indices: Any, values: Any,
                       axis: int) -> Any:
        """zeros(shape) with values[i] added where indices[i] points along ``axis``
        (PyTorch's scatter_add onto zeros: repeated indices accumulate; ``indices``, of
        ``values``' shape, may be shorter than ``shape`` in the other axes too)."""
        out = self.xp.zeros(shape, dtype=values.dtype)
        self.xp.add.at(out, self._along_axis(indices, axis), values)
        return out

    def scatter(self, x: Any, axis: int, indices: Any, src: Any) -> Any:
        """A copy of ``x`` with src[i] written where indices[i] points along ``axis``
        (PyTorch's scatter; ``src`` has ``indices``' shape or is a scalar)."""
        out = x.copy()
        out[self._along_axis(indices, axis)] = src
        return out

    def _along_axis(self, indices: Any, axis: int) -> tuple:
        """The advanced index reaching, for each entry of ``indices``, the element it
        names along ``axis`` and its own position along every other axis."""
        last = indices.ndim - 1
        return tuple(indices if d == axis else
                     self.xp.arange(n).reshape((1,) * d + (n,) + (1,) * (last - d))
                     for d, n in enumerate(indices.shape))

    # -- random numbers --------------------------------------------------------
    # Drawn on the host by NumPy's generator and moved to the device: the same seed
    # gives the same numbers on every backend, and the state can be saved (CuPy's
    # device generators cannot be serialized). Sampling is rarely the bottleneck.
    def manual_seed(self, seed: int) -> None:
        self._rng = numpy.random.default_rng(seed)

    def get_rng_state(self) -> dict:
        """The generator's state as plain JSON-able data (for exact resumption)."""
        return self._rng.bit_generator.state

    def set_rng_state(self, state: dict) -> None:
        self._rng.bit_generator.state = state

    def random(self, shape: Sequence[int], dtype: Any) -> Any:
        """Uniform samples in [0, 1)."""
        if numpy.dtype(dtype) == numpy.float16:
            # NumPy draws only float32/64, and rounding those to float16 can give 1.0:
            # draw the 2**11 evenly spaced float16 values of [0, 1) instead.
            steps = self._rng.integers(0, 2 ** 11, size=tuple(shape), dtype=numpy.int16)
            return self.from_numpy(steps.astype(numpy.float16) * numpy.float16(2 ** -11))
        return self.from_numpy(self._rng.random(tuple(shape), dtype=dtype))

    def randn(self, shape: Sequence[int], dtype: Any) -> Any:
        if numpy.dtype(dtype) == numpy.float16:  # NumPy draws only float32/64
            draws = self._rng.standard_normal(tuple(shape), dtype=numpy.float32)
            return self.from_numpy(draws.astype(numpy.float16))
        return self.from_numpy(self._rng.standard_normal(tuple(shape), dtype=dtype))

    def randint(self, low: int, high: int, shape: Sequence[int], dtype: Any) -> Any:
        """Integers in [low, high), in any dtype (floats hold the integers drawn)."""
        dtype = numpy.dtype(dtype)
        draw_as = numpy.int64 if dtype.kind in "fc" else dtype
        draws = self._rng.integers(low, high, size=tuple(shape), dtype=draw_as)
        return self.from_numpy(draws.astype(dtype, copy=False))

    def permutation(self, n: int, dtype: Any) -> Any:
        """A random order of 0 .. n-1."""
        return self.from_numpy(self._rng.permutation(n).astype(dtype, copy=False))

    def multinomial(self, weights: numpy.ndarray, num_samples: int, replacement: bool) -> Any:
        """Category indices drawn from each row of a host (rows, k) array of valid weights.

        With replacement: inverse CDF. Without: each category gets an exponential clock
        of rate equal to its weight; the order in which the clocks ring is the order of
        drawing one at a time and renormalising (zero weights never ring)."""
        rows, k = weights.shape
        if replacement:
            cdf = numpy.cumsum(weights, axis=1)
            cdf /= cdf[:, -1:]  # the last nonzero category and all after it reach exactly 1
            u = self._rng.random((rows, num_samples))
            picks = numpy.empty((rows, num_samples), dtype=numpy.int64)
            for r in range(rows):  # NumPy's searchsorted takes one sorted row at a time
                picks[r] = numpy.searchsorted(cdf[r], u[r], side="right")
        else:
            with numpy.errstate(divide="ignore", invalid="ignore"):  # zero weight: never
                clocks = self._rng.standard_exponential((rows, k)) / weights
            picks = numpy.argsort(clocks, axis=1, kind="stable")[:, :num_samples]
        return self.from_numpy(picks.astype(numpy.int64, copy=False))


def is_basic_index(index: Any) -> bool:
    """True for ints, slices, None and Ellipsis: NumPy's basic (view) indexing."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)
