"""A recurrent step's product ``a @ w``, with ``w`` packed once for a whole sequence.

Why: per time step a recurrent layer multiplies a small ``a`` (batch rows) by the same
weight, T times forward and T times back. BLAS copies ("packs") the weight into its
kernel's layout on every call and runs its small-M path at about 40 % of a core's peak.
Packed once into column panels, the plain loop below reaches about 90 %: h (32, 256)
times W_hh^T in 115 µs against OpenBLAS's 260 µs on one thread, and an LSTM layer's
forward and backward (H 512, B 32, T 64) takes 17 % less time (2-core AVX-512 Xeon).
It runs on one thread: sharing a product this small between cores did not pay here
(the BLAS's idle threads spin on the other core), so ArrayBackend.step_matmul picks it
where the BLAS has one thread or the weight is small.

The kernel is GCC/Clang vector extensions, not intrinsics, so it builds for any CPU
(``-march=native`` picks the width); backends/compiled_kernel.py compiles and caches it
and says where it is off (no compiler, ``MINIGRAD_CPU_KERNELS=0``): then backends use
BLAS. float32 and float64.
"""
from __future__ import annotations

import ctypes
import functools
from typing import Any, NamedTuple

import numpy

from . import compiled_kernel

SOURCE = r"""
#include <cstdint>
#include <cstring>
namespace minigrad_kernel {
typedef %(T)s T;
static const long HEAD = %(HEAD)d, TYPE_NUM = %(TYPE_NUM)d;
%(VIEW)s
#if defined(__AVX512F__)
enum { VECTOR_BYTES = 64, ROWS = 8 };   // 16 accumulators of 32 registers
#else
enum { VECTOR_BYTES = 32, ROWS = 6 };   // 12 of 16
#endif
typedef T vec __attribute__((vector_size(VECTOR_BYTES)));
enum { LANES = VECTOR_BYTES / sizeof(T), PANEL = 2 * LANES };

static inline vec load(const T* p) { vec v; std::memcpy(&v, p, sizeof v); return v; }
static inline void store(T* p, vec v) { std::memcpy(p, &v, sizeof v); }

// R rows of a times one panel (K x PANEL, row-major) into R rows of c, of which the
// first `cols` columns are real: accumulators stay in registers for the whole of K.
template <int R>
static void block(const T* a, std::intptr_t lda, const T* panel, std::intptr_t depth, T* c,
                  std::intptr_t ldc, std::intptr_t cols) {
    vec lo[R], hi[R];
    for (int r = 0; r < R; ++r) { lo[r] = vec{}; hi[r] = vec{}; }
    for (std::intptr_t k = 0; k < depth; ++k) {
        vec b0 = load(panel + k * PANEL), b1 = load(panel + k * PANEL + LANES);
        for (int r = 0; r < R; ++r) {
            T s = a[r * lda + k];
            lo[r] += s * b0;
            hi[r] += s * b1;
        }
    }
    T row[PANEL];
    for (int r = 0; r < R; ++r) {
        if (cols == PANEL) { store(c + r * ldc, lo[r]); store(c + r * ldc + LANES, hi[r]); }
        else { store(row, lo[r]); store(row + LANES, hi[r]);
               std::memcpy(c + r * ldc, row, cols * sizeof(T)); }
    }
}

// A product's operands; panel_product does every row of a against panel p.
struct Job { const T* a; std::intptr_t rows, lda; const T* packed; std::intptr_t depth, width;
             T* c; std::intptr_t ldc; };

static void panel_product(const Job& j, std::intptr_t p) {
    const T* panel = j.packed + p * j.depth * PANEL;
    std::intptr_t cols = j.width - p * PANEL < PANEL ? j.width - p * PANEL : PANEL, m = 0;
    for (; m + ROWS <= j.rows; m += ROWS)
        block<ROWS>(j.a + m * j.lda, j.lda, panel, j.depth, j.c + m * j.ldc + p * PANEL, j.ldc,
                    cols);
    const T* at = j.a + m * j.lda;
    T* ct = j.c + m * j.ldc + p * PANEL;
    switch (j.rows - m) {  // the last rows: fewer than ROWS
        case 7: block<7>(at, j.lda, panel, j.depth, ct, j.ldc, cols); break;
        case 6: block<6>(at, j.lda, panel, j.depth, ct, j.ldc, cols); break;
        case 5: block<5>(at, j.lda, panel, j.depth, ct, j.ldc, cols); break;
        case 4: block<4>(at, j.lda, panel, j.depth, ct, j.ldc, cols); break;
        case 3: block<3>(at, j.lda, panel, j.depth, ct, j.ldc, cols); break;
        case 2: block<2>(at, j.lda, panel, j.depth, ct, j.ldc, cols); break;
        case 1: block<1>(at, j.lda, panel, j.depth, ct, j.ldc, cols); break;
    }
}

static void product(const Job& j) {
    for (std::intptr_t p = 0; p * PANEL < j.width; ++p) panel_product(j, p);
}
}  // namespace

extern "C" long minigrad_panel_width() { return minigrad_kernel::PANEL; }

// w (rows, cols) into panels of B = w (transpose 0) or w^T (1), each K x PANEL with
// zeros past B's last column. Returns the refused argument, 1 or 2, else 0.
extern "C" int minigrad_pack_panels(const void* ndarray, const char* w, const char* packed,
                                    int transpose) {
    using namespace minigrad_kernel;
    char *wd, *pd;
    std::intptr_t ws, ps, wshape[3] = {-1, 0, 0}, pshape[3] = {-1, 0, 0};
    if (!view(ndarray, w, false, wd, ws, wshape) || wshape[0] != 2) return 1;
    std::intptr_t depth = transpose ? wshape[2] : wshape[1];
    std::intptr_t width = transpose ? wshape[1] : wshape[2];
    std::intptr_t panels = (width + PANEL - 1) / PANEL;
    if (!view(ndarray, packed, true, pd, ps, pshape) || pshape[0] != 1 ||
        pshape[2] != panels * depth * PANEL) return 2;
    const T* src = (const T*)wd;
    T* dst = (T*)pd;
    std::memset(dst, 0, sizeof(T) * panels * depth * PANEL);
    for (std::intptr_t p = 0; p < panels; ++p) {
        T* panel = dst + p * depth * PANEL;
        std::intptr_t cols = width - p * PANEL < PANEL ? width - p * PANEL : PANEL;
        if (transpose)  // B[k, n] = w[n, k]: read along w's rows
            for (std::intptr_t j = 0; j < cols; ++j)
                for (std::intptr_t k = 0; k < depth; ++k)
                    panel[k * PANEL + j] = src[(p * PANEL + j) * ws + k];
        else
            for (std::intptr_t k = 0; k < depth; ++k)
                std::memcpy(panel + k * PANEL, src + k * ws + p * PANEL, cols * sizeof(T));
    }
    return 0;
}

// out (M, N) = a (M, K) @ B, B packed (K, N). Returns the refused argument, 1 to 3.
extern "C" int minigrad_packed_matmul(const void* ndarray, const char* a, const char* packed,
                                      const char* out, long depth, long width) {
    using namespace minigrad_kernel;
    char *ad, *pd, *od;
    std::intptr_t as, ps, os, ashape[3] = {-1, 0, 0}, pshape[3] = {-1, 0, 0},
        oshape[3] = {-1, 0, 0};
    if (!view(ndarray, a, false, ad, as, ashape) || ashape[0] != 2 || ashape[2] != depth)
        return 1;
    if (!view(ndarray, packed, false, pd, ps, pshape)) return 2;
    if (!view(ndarray, out, true, od, os, oshape) || oshape[0] != 2 || oshape[1] != ashape[1]
        || oshape[2] != width) return 3;
    product(Job{(const T*)ad, ashape[1], as, (const T*)pd, depth, width, (T*)od, os});
    return 0;
}
"""


class _Functions(NamedTuple):
    panel: int          # columns per panel
    pack: Any
    matmul: Any


@functools.cache
def _functions(dtype: numpy.dtype) -> _Functions:
    layout = compiled_kernel._layout()
    if layout is None:
        raise RuntimeError("packed_matmul: this NumPy lays out arrays in a way CPU kernels "
                           "do not know (see compiled_kernel.available())")
    source = SOURCE % dict(T=compiled_kernel._TYPES[dtype], HEAD=layout.head,
                           TYPE_NUM=layout.type_nums[dtype], VIEW=compiled_kernel.VIEW)
    width, pack, matmul = (compiled_kernel._build(source, name) for name in (
        "minigrad_panel_width", "minigrad_pack_panels", "minigrad_packed_matmul"))
    width.restype = ctypes.c_long
    pack.argtypes = (ctypes.c_void_p,) * 3 + (ctypes.c_int,)
    matmul.argtypes = (ctypes.c_void_p,) * 4 + (ctypes.c_long,) * 2
    pack.restype = matmul.restype = ctypes.c_int
    return _Functions(width(), pack, matmul)


def available(dtype: Any) -> bool:
    """Whether :class:`PackedMatrix` works for ``dtype`` here (float32 or float64, and
    compiled CPU kernels on)."""
    return numpy.dtype(dtype).char in "fd" and compiled_kernel.available()


class PackedMatrix:
    """``w`` (``transpose``: ``w.T``) as the right operand of many products, packed now.

    Calling it, ``packed(a, out)`` writes ``a @ w`` into ``out`` and returns it. ``a``
    is (M, K) with unit stride along its rows (else copied first); ``out`` must be
    (M, N), writeable, with unit stride along its rows. The packed copy does not follow
    later changes to ``w``."""

    def __init__(self, w: numpy.ndarray, transpose: bool = False) -> None:
        if not isinstance(w, numpy.ndarray) or w.ndim != 2 or w.dtype.char not in "fd":
            raise TypeError(f"PackedMatrix: w must be a 2-D float32 or float64 NumPy array, "
                            f"got {_describe(w)}")
        if not compiled_kernel.available():
            raise RuntimeError("PackedMatrix: compiled CPU kernels are off here (no working "
                               "C++ compiler, or MINIGRAD_CPU_KERNELS=0)")
        self.dtype = w.dtype
        self._functions = _functions(w.dtype)
        self.shape = w.shape[::-1] if transpose else w.shape  # (K, N)
        depth, width = self.shape
        panel = self._functions.panel
        self._packed = numpy.empty(-(-width // panel) * panel * depth, w.dtype)
        if w.size == 0:  # zero rows or columns: all panels are padding
            self._packed.fill(0)
            return
        source = w if w.shape[-1] <= 1 or w.strides[-1] == w.itemsize else w.copy()
        refused = self._functions.pack(_NDARRAY, id(source), id(self._packed), int(transpose))
        if refused:
            raise RuntimeError(f"PackedMatrix: the compiled code refused argument {refused}")

    def __call__(self, a: numpy.ndarray, out: numpy.ndarray) -> numpy.ndarray:
        depth, width = self.shape
        if self._functions.matmul(_NDARRAY, id(a), id(self._packed), id(out), depth, width):
            self._conformed(a, out)
        return out

    def _conformed(self, a: Any, out: Any) -> None:
        """The product for arguments the compiled code refused: ``a`` copied if only its
        strides were wrong, nothing to multiply if either is empty; else say which
        argument is wrong and how."""
        depth, width = self.shape
        if not (isinstance(a, numpy.ndarray) and a.dtype == self.dtype and a.ndim == 2
                and a.shape[1] == depth):
            raise ValueError(f"PackedMatrix: a must be a {self.dtype} NumPy array of shape "
                             f"(M, {depth}), got {_describe(a)}")
        if not (type(out) is numpy.ndarray and out.dtype == self.dtype
                and out.shape == (a.shape[0], width) and out.flags.writeable
                and (out.size == 0 or width == 1 or out.strides[1] == out.itemsize)):
            raise ValueError(f"PackedMatrix: out must be a writeable {self.dtype} NumPy "
                             f"array of shape ({a.shape[0]}, {width}) with unit stride along "
                             f"its rows, got {_describe(out)}")
        if a.size == 0 or out.size == 0:
            out.fill(0)
            return
        a = numpy.ascontiguousarray(a)
        refused = self._functions.matmul(_NDARRAY, id(a), id(self._packed), id(out),
                                         depth, width)
        if refused:
            raise RuntimeError(f"PackedMatrix: the compiled code refused argument {refused} "
                               f"after conforming it")


def _describe(a: Any) -> str:
    if not isinstance(a, numpy.ndarray):
        return type(a).__name__
    return (f"shape {a.shape}, dtype {a.dtype}, strides {a.strides}"
            f"{'' if a.flags.writeable else ', read-only'}")


_NDARRAY = id(numpy.ndarray)
