"""``c + a @ b`` as one call of the BLAS's own GEMM (beta = 1): a bias added in the product.

Why: NumPy's matmul has no beta, so ``addmm`` (every ``nn.Linear``) was a product and then
a second pass adding the bias over the whole output. At the word LM's 700 x 1,000 logits
that pass cost 0.2-0.3 ms on top of a 0.33 ms product at two threads, while torch.addmm
costs the product alone (benchmarks/bench_rows.py). Here the output starts as the bias, and
the GEMM adds the product into it while it computes it.

The BLAS is the one NumPy loaded, found among this process's mapped files; only OpenBLAS's
CBLAS names are used, whose integer width the name tells (``cblas_sgemm``: 32-bit;
``cblas_sgemm64_`` and NumPy's own ``scipy_cblas_sgemm64_``: 64-bit), and each is checked
once against ``numpy.matmul`` before it is trusted. Anywhere else (another BLAS, no
``/proc``) :func:`matmul_plus` answers None and the caller adds the bias itself.
"""
from __future__ import annotations

import ctypes
import functools
from typing import Any, Callable, Optional

import numpy

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
# (name pattern, integer type): the CBLAS interfaces whose width the name tells
_NAMES = (("scipy_cblas_%sgemm64_", ctypes.c_int64), ("cblas_%sgemm64_", ctypes.c_int64),
          ("cblas_%sgemm", ctypes.c_int))


def _mapped_openblas() -> list:
    """Paths of the OpenBLAS libraries mapped into this process (NumPy's among them)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/") and ".so" in p)


def _gemm(library: ctypes.CDLL, char: str) -> Optional[tuple]:
    """(function, integer type) of the first known CBLAS name in ``library``."""
    for pattern, integer in _NAMES:
        function = getattr(library, pattern % char, None)
        if function is not None:
            real = ctypes.c_float if char == "s" else ctypes.c_double
            function.argtypes = ((ctypes.c_int,) * 3 + (integer,) * 3 +
                                 (real, ctypes.c_void_p, integer, ctypes.c_void_p, integer,
                                  real, ctypes.c_void_p, integer))
            function.restype = None
            return function, integer
    return None


@functools.cache
def _function(dtype: numpy.dtype) -> Optional[Callable]:
    """The checked GEMM for float32 ('s') or float64 ('d'), or None."""
    numpy.ones((2, 2)) @ numpy.ones((2, 2))  # NumPy's BLAS is loaded by now
    for path in _mapped_openblas():
        try:
            found = _gemm(ctypes.CDLL(path), "s" if dtype == numpy.float32 else "d")
        except OSError:
            continue
        if found is not None and _agrees(found[0], dtype):
            return found[0]
    return None


def _agrees(gemm: Callable, dtype: numpy.dtype) -> bool:
    """Whether ``gemm`` gives numpy.matmul's result on a small product, both layouts."""
    rng = numpy.random.default_rng(0)
    a, b = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((4, 3)).astype(dtype)
    c = rng.standard_normal(4).astype(dtype)
    for right in (b.T, numpy.ascontiguousarray(b.T)):
        out = _call(gemm, c, a, right)
        if not numpy.allclose(out, c + a @ right, rtol=1e-5, atol=1e-5):
            return False
    return True


def _operand(x: numpy.ndarray) -> Optional[tuple]:
    """(transpose flag, leading dimension) of a 2-D array for a row-major GEMM, or None
    where it is neither rows nor columns of unit stride."""
    size = x.itemsize
    if x.strides[1] == size and x.strides[0] >= max(x.shape[1], 1) * size:
        return NO_TRANS, x.strides[0] // size
    if x.strides[0] == size and x.strides[1] >= max(x.shape[0], 1) * size:
        return TRANS, x.strides[1] // size
    return None


def _call(gemm: Callable, c: numpy.ndarray, a: numpy.ndarray, b: numpy.ndarray) -> Any:
    (m, k), n = a.shape, b.shape[1]
    out = numpy.empty((m, n), a.dtype)
    out[...] = c
    (trans_a, lda), (trans_b, ldb) = _operand(a), _operand(b)
    gemm(ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb,
         1.0, out.ctypes.data, n)
    return out


def matmul_plus(c: Any, a: Any, b: Any) -> Optional[numpy.ndarray]:
    """``c + a @ b`` as a new array for 2-D float32/float64 NumPy ``a`` (M, K) and ``b``
    (K, N) of one dtype and ``c`` of that dtype broadcasting to (M, N); None where that
    does not apply (then the caller adds): empty shapes, strides the BLAS cannot take,
    or no known BLAS."""
    if not (type(a) is numpy.ndarray and type(b) is numpy.ndarray and
            type(c) is numpy.ndarray and a.ndim == 2 == b.ndim and a.dtype == b.dtype == c.dtype
            and a.dtype.char in "fd" and a.size and b.size and a.shape[1] == b.shape[0]
            and c.ndim <= 2 and _operand(a) and _operand(b)):
        return None
    shape = (a.shape[0], b.shape[1])
    try:
        if numpy.broadcast_shapes(c.shape, shape) != shape:
            return None
    except ValueError:
        return None
    if max(a.shape + b.shape + a.strides + b.strides) >= 2**31 // 8:
        return None  # beyond a 32-bit BLAS's dimensions and leading dimensions
    gemm = _function(a.dtype)
    return None if gemm is None else _call(gemm, c, a, b)
