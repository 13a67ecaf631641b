"""A recurrent step's product ``a @ w``, with ``w`` packed once for a whole sequence.

Why: per time step a recurrent layer multiplies a small ``a`` (batch rows) by the same
weight, T times forward and T times back. BLAS copies ("packs") the weight into its
kernel's layout on every call. Packed once into column panels, the plain loop below
does each product without that copy: h (32, 256) times W_hh^T in 89 µs against OpenBLAS's
133 µs on one thread, 59 against 84 µs on two (README, "CPU kernels", for the command; 2-core
AVX-512 Xeon). Helper threads (as many as the BLAS has: backends/threads.py
``kernel_threads``) share a product's column panels with the caller; they pay only
where OpenBLAS's idle threads do not spin on the other cores (minigrad/blas_spin.py).
ArrayBackend.step_matmul says when a sequence uses it.

The kernel is GCC/Clang vector extensions, not intrinsics, so it builds for any CPU
(``-march=native`` picks the width), and is compiled and cached by
backends/compiled_kernel.py, which also says where it is off (no compiler,
``MINIGRAD_CPU_KERNELS=0``): then backends use BLAS. float32 and float64.
"""
from __future__ import annotations

import ctypes
import functools
from typing import Any, NamedTuple

import numpy

from . import compiled_kernel, threads

SOURCE = r"""
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <pthread.h>
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

// One panel of the product: every row of a against panel p.
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

// Helper threads share a product's panels with the calling thread, which claims them
// from the front while the helpers claim from the back: each core keeps its end of the
// weight in its cache from step to step, and a helper that a competing process keeps
// off its core only leaves more panels to the caller (none is waited for unless
// claimed). ``claims`` holds a product's number (so a stale claim fails), the next
// panel from the front and the end of the unclaimed ones, 20 bits each.
static const std::uint64_t FIELD = (1u << 20) - 1;
static Job job;                                   // read by helpers only once claimed
static std::atomic<std::uint64_t> claims{0};
static std::atomic<std::intptr_t> helped{0};      // panels the helpers finished
static std::atomic<int> sleepers{0}, allowed{0};  // helpers asleep; helpers to take part
static std::atomic<bool> busy{false};             // one product at a time uses the helpers
static int started = 0;                          // helpers running (touched when busy)
static bool forks_handled = false;
static std::mutex* sleep_lock = new std::mutex;   // never destroyed: helpers outlive exit
static std::condition_variable* wake = new std::condition_variable;
static const auto SPIN = std::chrono::microseconds(300);  // then sleep until the next
// Products smaller than this (multiply-adds) are not shared: waking and waiting cost
// more than they save (measured: the word LM's 20 x 64 x 256 lost time, 32 x 128 x 512 won).
static const std::intptr_t SHARED_WORK = 1 << 20;

static inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static bool claim(bool front, std::intptr_t& panel) {
    std::uint64_t seen = claims.load(std::memory_order_acquire);
    for (;;) {
        std::uint64_t next = (seen >> 20) & FIELD, end = seen & FIELD;
        if (next >= end) return false;
        if (claims.compare_exchange_weak(seen, front ? seen + (1u << 20) : seen - 1,
                                         std::memory_order_acq_rel)) {
            panel = front ? next : end - 1;
            return true;
        }
    }
}

static void helper(int index) {
    auto idle = std::chrono::steady_clock::now();
    for (std::uint32_t spins = 0;; ++spins) {
        std::intptr_t panel;
        if (index < allowed.load(std::memory_order_acquire) && claim(false, panel)) {
            panel_product(job, panel);
            helped.fetch_add(1, std::memory_order_release);
            idle = std::chrono::steady_clock::now();
            continue;
        }
        relax();
        if ((spins & 255) || std::chrono::steady_clock::now() - idle < SPIN) continue;
        std::uint64_t asleep_at = claims.load() >> 40;
        std::unique_lock<std::mutex> hold(*sleep_lock);
        sleepers.fetch_add(1);
        wake->wait(hold, [&] { return claims.load() >> 40 != asleep_at; });
        sleepers.fetch_sub(1);
        idle = std::chrono::steady_clock::now();
    }
}

static void forget_helpers() {  // a forked child has none of its parent's threads
    started = 0;
    sleepers.store(0);
    busy.store(false);
    sleep_lock = new std::mutex;
    wake = new std::condition_variable;
}

static void product(const Job& given, int threads) {  // threads: the caller's and helpers
    std::intptr_t panels = (given.width + PANEL - 1) / PANEL;
    bool shared = false;
    if (threads > 1 && given.rows * given.depth * panels * PANEL >= SHARED_WORK &&
        panels <= (std::intptr_t)FIELD)
        shared = !busy.exchange(true);
    if (!shared) {
        for (std::intptr_t p = 0; p < panels; ++p) panel_product(given, p);
        return;
    }
    if (!forks_handled) forks_handled = pthread_atfork(nullptr, nullptr, forget_helpers) == 0;
    try {
        for (; started < threads - 1; ++started) std::thread(helper, started).detach();
    } catch (...) {  // no more threads to be had: share with those there are
        threads = started + 1;
    }
    job = given;
    helped.store(0, std::memory_order_relaxed);
    allowed.store(threads - 1, std::memory_order_relaxed);
    std::uint64_t number = (claims.load() >> 40) + 1;
    claims.store((number << 40) | (std::uint64_t)panels);  // publishes job
    if (sleepers.load()) {
        std::lock_guard<std::mutex> hold(*sleep_lock);
        wake->notify_all();
    }
    std::intptr_t panel, mine = 0;
    while (claim(true, panel)) {
        panel_product(job, panel);
        ++mine;
    }
    while (helped.load(std::memory_order_acquire) != panels - mine) relax();
    busy.store(false, std::memory_order_release);
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

// out (M, N) = a (M, K) @ B, B packed (K, N), on up to `threads` threads. Returns the
// refused argument, 1 to 3.
extern "C" int minigrad_packed_matmul(const void* ndarray, const char* a, const char* packed,
                                      const char* out, long depth, long width, int threads) {
    using namespace minigrad_kernel;
    char *ad, *pd, *od;
    std::intptr_t as, ps, os, ashape[3] = {-1, 0, 0}, pshape[3] = {-1, 0, 0},
        oshape[3] = {-1, 0, 0};
    if (!view(ndarray, a, false, ad, as, ashape) || ashape[0] != 2 || ashape[2] != depth)
        return 1;
    if (!view(ndarray, packed, false, pd, ps, pshape)) return 2;
    if (!view(ndarray, out, true, od, os, oshape) || oshape[0] != 2 || oshape[1] != ashape[1]
        || oshape[2] != width) return 3;
    product(Job{(const T*)ad, ashape[1], as, (const T*)pd, depth, width, (T*)od, os}, threads);
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
    matmul.argtypes = (ctypes.c_void_p,) * 4 + (ctypes.c_long,) * 2 + (ctypes.c_int,)
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
        if self._functions.matmul(_NDARRAY, id(a), id(self._packed), id(out), depth, width,
                                  threads.kernel_threads()):
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
                                         depth, width, threads.kernel_threads())
        if refused:
            raise RuntimeError(f"PackedMatrix: the compiled code refused argument {refused} "
                               f"after conforming it")


def _describe(a: Any) -> str:
    if not isinstance(a, numpy.ndarray):
        return type(a).__name__
    return (f"shape {a.shape}, dtype {a.dtype}, strides {a.strides}"
            f"{'' if a.flags.writeable else ', read-only'}")


_NDARRAY = id(numpy.ndarray)
