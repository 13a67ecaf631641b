"""A recurrent step's product ``a @ w``, with ``w`` packed once for a whole sequence.

Why: per time step a recurrent layer multiplies a small ``a`` (batch rows) by the same
weight, T times forward and T times back. BLAS copies ("packs") the weight into its
kernel's layout on every call. Packed once into column panels, the plain loop below
does each product without that copy: h (32, 256) times W_hh^T in 77 µs against OpenBLAS's
123 µs on one thread, 58 against 78 µs on two (README, "CPU kernels", for the command; 2-core
AVX-512 Xeon). Helper threads (as many as the BLAS has: backends/threads.py
``kernel_threads``) share a product's column panels with the caller; they pay only
where OpenBLAS's idle threads do not spin on the other cores (minigrad/blas_spin.py).
ArrayBackend.step_matmul says when a sequence uses it.

An LSTM layer goes further (:func:`lstm_forward`, :func:`lstm_backward`): its whole time
loop is one call each way, the gate arithmetic done on the product's registers as its
epilogue, the batch's rows shared out among the threads (ArrayBackend.sequence_forward
and sequence_backward say when).

The kernel is GCC/Clang vector extensions (and, on x86, the CPU's reciprocal estimate), so
it builds for any CPU (``-march=native`` picks the width), and is compiled and cached by
backends/compiled_kernel.py, which also says where it is off (no compiler,
``MINIGRAD_CPU_KERNELS=0``): then backends use BLAS and the per-step loops. float32 and
float64.
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
#include <type_traits>
#include <pthread.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
%(PRELUDE)s
typedef %(T)s T;
static const long HEAD = %(HEAD)d, TYPE_NUM = %(TYPE_NUM)d;
%(VIEW)s
#if defined(__AVX512F__)
enum { VECTOR_BYTES = 64, ROWS = 8, GATE_ROWS = 6 };  // 16 or 24 accumulators of 32 registers
#else
enum { VECTOR_BYTES = 32, ROWS = 6, GATE_ROWS = 2 };  // 12 or 8 of 16
#endif
typedef T vec __attribute__((vector_size(VECTOR_BYTES)));
enum { LANES = VECTOR_BYTES / sizeof(T), PANEL = 2 * LANES, GATES = 4,
       GATE_PANEL = GATES * LANES };

static inline vec load(const T* p) { vec v; std::memcpy(&v, p, sizeof v); return v; }
static inline void store(T* p, vec v) { std::memcpy(p, &v, sizeof v); }

// R rows of a times one panel of V vectors' width (K x V * LANES, row-major) into
// sums[r][v]: the accumulators stay in registers for the whole of K.
template <int R, int V>
static inline void dot(const T* a, std::intptr_t lda, const T* panel, std::intptr_t depth,
                       vec (&sums)[R][V]) {
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) sums[r][v] = vec{};
    for (std::intptr_t k = 0; k < depth; ++k) {
        vec b[V];
        for (int v = 0; v < V; ++v) b[v] = load(panel + (k * V + v) * LANES);
        for (int r = 0; r < R; ++r) {
            T s = a[r * lda + k];
            for (int v = 0; v < V; ++v) sums[r][v] += s * b[v];
        }
    }
}

// R rows of a times one panel into R rows of c, of which the first `cols` columns are real.
template <int R>
static void block(const T* a, std::intptr_t lda, const T* panel, std::intptr_t depth, T* c,
                  std::intptr_t ldc, std::intptr_t cols) {
    vec sums[R][2];
    dot<R, 2>(a, lda, panel, depth, sums);
    T row[PANEL];
    for (int r = 0; r < R; ++r) {
        if (cols == PANEL) {
            store(c + r * ldc, sums[r][0]);
            store(c + r * ldc + LANES, sums[r][1]);
        } else {
            store(row, sums[r][0]);
            store(row + LANES, sums[r][1]);
            std::memcpy(c + r * ldc, row, cols * sizeof(T));
        }
    }
}

// What a job's units are: a product's column panels; or, for an LSTM layer's forward or
// BPTT loop, groups of batch rows, each taken through every step by one thread (the rows
// of a batch never meet in a recurrent layer, so the threads need not wait for each
// other between steps, and each reads only the states it wrote). Within them, per step
// (and shared per step where W_hh is big, see `sequence`): the forward's gate panels
// (product and gate arithmetic), BPTT's panels of dh (dgates @ W_hh, then the gate
// gradients of the step before), and BPTT's start (only those). Or any other compiled
// kernel's units of work: `task(context, unit)` (minigrad_parallel_for).
enum Mode { PRODUCT, LSTM_FORWARD, LSTM_BACKWARD, LSTM_STEP, LSTM_BACK, LSTM_BACK_START,
            TASK };

// A job's operands: a product's, and an LSTM layer's arrays, row by row (ldstate apart;
// the gates ldacts apart): per step the pointers at its slots, for the whole loop the
// pointers at slot 0 (h, cells, grads) and its shape. The backward reads the gradients
// reaching the states (gh, gc), keeps the carried ones in dh and dc, and writes the gate
// gradients of the step whose activated gates are in acts into dgates.
struct Job { Mode mode; const T* a; std::intptr_t rows, lda; const T* packed;
             std::intptr_t depth, width; T* c; std::intptr_t ldc;
             std::intptr_t hidden, ldacts, ldstate; T* acts; const T* bias; const T* c_prev;
             T* c_new; T* h_new; T* dgates; const T* gh; const T* gc; T* dh; T* dc;
             T* h; T* cells; const T* grad_h; const T* grad_c; T* gates; T* gate_grads;
             std::intptr_t steps, groups; bool reverse;
             void (*task)(const void*, std::intptr_t); const void* context; };

// -- the LSTM step's activations on whole vectors -----------------------------------------
// Per element a step takes three sigmoids and two tanh: computed one element at a time
// they cost more than the step's product. Here e^x = 2^k e^r (k = round(x / ln 2), r's
// Taylor polynomial: to r^7 in float, r^13 in double, each cut below half a unit in the
// last place), with x clamped where 2^k stays a normal number (beyond, the gates are within
// 2^-125 of their limits), and 1 / x from the CPU's reciprocal estimate refined by one
// Newton step (float; double divides). tests/test_packed_lstm.py holds the results to
// NumPy's.
typedef std::conditional<sizeof(T) == 4, std::int32_t, std::int64_t>::type I;
typedef I ivec __attribute__((vector_size(VECTOR_BYTES)));
static const int MANTISSA = sizeof(T) == 4 ? 23 : 52;
static const int EXPONENT_BIAS = sizeof(T) == 4 ? 127 : 1023;
static const T CLAMP = sizeof(T) == 4 ? 87 : 708;
static const T ROUNDER = sizeof(T) == 4 ? 12582912.0 : 6755399441055744.0;  // 1.5 * 2^MANTISSA
static const T LN2_HI = 0.693145751953125, LN2_LO = 1.42860682030941723212e-6;

static inline vec splat(T x) { return vec{} + x; }

// e^x - 1 = (2^k - 1) + 2^k (e^r - 1): returns e^r - 1 and sets scale to 2^k.
static inline vec expm1_parts(vec x, vec& scale) {
    x = x < -CLAMP ? splat(-CLAMP) : x;  // NaN stays NaN (both compare false)
    x = x > CLAMP ? splat(CLAMP) : x;
    vec k = (x * (T)1.4426950408889634 + ROUNDER) - ROUNDER;
    vec r = (x - k * LN2_HI) - k * LN2_LO;
    vec poly = splat(sizeof(T) == 4 ? (T)(1.0 / 5040) : (T)(1.0 / 6227020800.0));
    static const int TERMS = sizeof(T) == 4 ? 7 : 13;
    T factorial = sizeof(T) == 4 ? 5040 : 6227020800.0;
    for (int n = TERMS - 1; n >= 2; --n) { factorial /= n + 1; poly = poly * r + 1 / factorial; }
    ivec bits = (__builtin_convertvector(k, ivec) + EXPONENT_BIAS) << MANTISSA;
    std::memcpy(&scale, &bits, sizeof scale);
    return poly * r * r + r;
}

static inline vec reciprocal(vec x) {
#if defined(__AVX512F__)
    if (sizeof(T) == 4) {  // 14 bits, then 28
        vec y = (vec)_mm512_rcp14_ps((__m512)x);
        return y + y * (1 - x * y);
    }
#elif defined(__AVX__)
    if (sizeof(T) == 4) {  // 12 bits, then 23
        vec y = (vec)_mm256_rcp_ps((__m256)x);
        return y + y * (1 - x * y);
    }
#endif
    return 1 / x;
}

static inline vec sigmoid(vec x) {
    vec scale, part = expm1_parts(-x, scale);
    return reciprocal(1 + scale + scale * part);
}

static inline vec tanh_vec(vec x) {  // tanh |x| = -m / (2 + m), m = e^(-2|x|) - 1
    ivec bits, sign;
    std::memcpy(&bits, &x, sizeof bits);
    sign = bits & ((ivec{} + 1) << (MANTISSA + (sizeof(T) == 4 ? 8 : 11)));
    vec magnitude, scale;
    ivec abs_bits = bits ^ sign;
    std::memcpy(&magnitude, &abs_bits, sizeof magnitude);
    vec part = expm1_parts(-2 * magnitude, scale);
    vec m = (scale - 1) + scale * part;
    vec t = (0 - m) * reciprocal(2 + m);  // not -m: tanh(+0) is +0
    std::memcpy(&bits, &t, sizeof bits);
    bits |= sign;
    std::memcpy(&t, &bits, sizeof t);
    return t;
}

static inline vec part_load(const T* p, std::intptr_t count) {
    if (count == LANES) return load(p);
    T row[LANES] = {};
    std::memcpy(row, p, count * sizeof(T));
    return load(row);
}

static inline void part_store(T* p, vec v, std::intptr_t count) {
    if (count == LANES) { store(p, v); return; }
    T row[LANES];
    store(row, v);
    std::memcpy(p, row, count * sizeof(T));
}

// R rows of an LSTM step on one gate panel (LANES hidden units from `unit`, all four
// gates): h @ W_hh^T in registers, then recurrent_kernels.py's step on them, plus the bias,
// writing the activated gates over the input projection in `acts`.
template <int R>
static void lstm_block(const Job& j, std::intptr_t m, std::intptr_t p) {
    vec sums[R][GATES];
    dot<R, GATES>(j.a + m * j.lda, j.lda, j.packed + p * j.depth * GATE_PANEL, j.depth, sums);
    const std::intptr_t hidden = j.hidden, unit = p * LANES;
    const std::intptr_t cols = hidden - unit < LANES ? hidden - unit : LANES;
    for (int r = 0; r < R; ++r) {
        T* gates = j.acts + (m + r) * j.ldacts + unit;
        vec act[GATES];
        for (int v = 0; v < GATES; ++v)
            act[v] = part_load(gates + v * hidden, cols) +
                     (sums[r][v] + part_load(j.bias + v * hidden + unit, cols));
        act[0] = sigmoid(act[0]);
        act[1] = sigmoid(act[1]);
        act[2] = tanh_vec(act[2]);
        act[3] = sigmoid(act[3]);
        vec c_prev = part_load(j.c_prev + (m + r) * j.ldstate + unit, cols);
        vec c = act[1] * c_prev + act[0] * act[2];
        part_store(j.c_new + (m + r) * j.ldstate + unit, c, cols);
        part_store(j.h_new + (m + r) * j.ldstate + unit, act[3] * tanh_vec(c), cols);
        for (int v = 0; v < GATES; ++v) part_store(gates + v * hidden, act[v], cols);
    }
}

// The gate gradients of one LSTM step, row `row`, `count` units from `unit`, from the
// gradients dh, dc reaching its new state (recurrent_kernels.py's backward body): written
// into dgates; the part of dc that reaches the previous c directly goes to dc.
static inline void lstm_gate_gradients(const Job& j, std::intptr_t row, std::intptr_t unit,
                                       std::intptr_t count, vec dh, vec dc) {
    const T* gates = j.acts + row * j.ldacts + unit;
    const std::intptr_t hidden = j.hidden, at = row * j.ldstate + unit;
    vec in_gate = part_load(gates, count), forget = part_load(gates + hidden, count);
    vec cell = part_load(gates + 2 * hidden, count);
    vec out_gate = part_load(gates + 3 * hidden, count);
    vec tc = tanh_vec(part_load(j.c_new + at, count));
    vec dct = dc + dh * out_gate * (1 - tc * tc);
    T* out = j.dgates + row * j.ldacts + unit;
    part_store(out, dct * cell * in_gate * (1 - in_gate), count);
    part_store(out + hidden, dct * part_load(j.c_prev + at, count) * forget * (1 - forget), count);
    part_store(out + 2 * hidden, dct * in_gate * (1 - cell * cell), count);
    part_store(out + 3 * hidden, dh * tc * out_gate * (1 - out_gate), count);
    part_store(j.dc + at, dct * forget, count);
}

// The next block of the `left` rows: at most `most`, and as even as the blocks can be (32
// rows of at most 6: 6, 6, 5, 5, 5, 5, not five 6s and a 2, whose few accumulators leave
// the multiply-add units waiting on each other).
static inline std::intptr_t block_rows(std::intptr_t left, std::intptr_t most) {
    std::intptr_t blocks = (left + most - 1) / most;
    return (left + blocks - 1) / blocks;
}

// Calls block(std::integral_constant<int, size>()) for a size from 1 to R: the row count of
// a block as a compile-time constant, so that its accumulators stay in registers.
template <int R> struct RowCount {
    template <typename Block> static void call(std::intptr_t size, const Block& block) {
        if (size >= R) block(std::integral_constant<int, R>());
        else RowCount<R - 1>::call(size, block);
    }
};
template <> struct RowCount<1> {
    template <typename Block> static void call(std::intptr_t, const Block& block) {
        block(std::integral_constant<int, 1>());
    }
};

// block(rows as above, first row) for `rows` rows in blocks of at most MOST (block_rows).
template <int MOST, typename Block>
static void each_row_block(std::intptr_t rows, const Block& block) {
    for (std::intptr_t m = 0, size; m < rows; m += size) {
        size = block_rows(rows - m, MOST);
        RowCount<MOST>::call(size, [&](auto count) { block(count, m); });
    }
}

// R rows of a BPTT step on one panel of PANEL hidden units: dh of the previous state =
// dgates @ W_hh plus what reaches that state from outside (gh, gc); then, if there is a
// step before (acts set), its gate gradients on the same units.
template <int R>
static void lstm_back_block(const Job& j, std::intptr_t m, std::intptr_t p) {
    vec sums[R][2];
    dot<R, 2>(j.a + m * j.lda, j.lda, j.packed + p * j.depth * PANEL, j.depth, sums);
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < 2; ++v) {
            std::intptr_t unit = p * PANEL + v * LANES, count = j.hidden - unit;
            if (count <= 0) break;
            if (count > LANES) count = LANES;
            std::intptr_t at = (m + r) * j.ldstate + unit;
            vec dh = sums[r][v] + part_load(j.gh + at, count);
            vec dc = part_load(j.dc + at, count) + part_load(j.gc + at, count);
            part_store(j.dh + at, dh, count);
            if (j.acts) lstm_gate_gradients(j, m + r, unit, count, dh, dc);
            else part_store(j.dc + at, dc, count);
        }
}

static void lstm_back_panel(const Job& j, std::intptr_t p) {
    if (j.mode == LSTM_BACK_START) {  // the last step: gradients from outside only
        for (std::intptr_t row = 0; row < j.rows; ++row)
            for (std::intptr_t unit = p * PANEL; unit < (p + 1) * PANEL && unit < j.hidden;
                 unit += LANES) {
                std::intptr_t count = j.hidden - unit < LANES ? j.hidden - unit : LANES;
                std::intptr_t at = row * j.ldstate + unit;
                lstm_gate_gradients(j, row, unit, count, part_load(j.gh + at, count),
                                    part_load(j.gc + at, count));
            }
        return;
    }
    each_row_block<ROWS>(j.rows, [&](auto count, std::intptr_t m) {
        lstm_back_block<decltype(count)::value>(j, m, p);
    });
}

static void lstm_panel(const Job& j, std::intptr_t p) {
    each_row_block<GATE_ROWS>(j.rows, [&](auto count, std::intptr_t m) {
        lstm_block<decltype(count)::value>(j, m, p);
    });
}

// One panel of a product: every row of a against panel p.
static void panel_product(const Job& j, std::intptr_t p) {
    const T* panel = j.packed + p * j.depth * PANEL;
    std::intptr_t cols = j.width - p * PANEL < PANEL ? j.width - p * PANEL : PANEL, m = 0;
    for (; m + ROWS <= j.rows; m += ROWS)
        block<ROWS>(j.a + m * j.lda, j.lda, panel, j.depth, j.c + m * j.ldc + p * PANEL, j.ldc,
                    cols);
    if (m == j.rows) return;
    RowCount<ROWS - 1>::call(j.rows - m, [&](auto count) {  // the last rows: fewer than ROWS
        block<decltype(count)::value>(j.a + m * j.lda, j.lda, panel, j.depth,
                                      j.c + m * j.ldc + p * PANEL, j.ldc, cols);
    });
}

// Rows [first, last) of group g of `rows`, with `groups` groups.
static inline void rows_of(std::intptr_t g, std::intptr_t groups, std::intptr_t rows,
                           std::intptr_t& first, std::intptr_t& last) {
    first = g * rows / groups;
    last = (g + 1) * rows / groups;
}

static void share(const Job& given, std::intptr_t units, bool worth, int threads);

// An LSTM layer's forward, every step, for one group of batch rows; with `threads` > 1
// (one group: all rows) each step's panels are shared out instead.
static void lstm_forward_rows(const Job& whole, std::intptr_t group, int threads) {
    std::intptr_t first, last, batch = whole.rows, hs = whole.ldstate;
    rows_of(group, whole.groups, batch, first, last);
    Job j = whole;
    j.mode = LSTM_STEP;
    j.rows = last - first;
    std::intptr_t panels = (j.hidden + LANES - 1) / LANES;
    for (std::intptr_t s = 0; s < j.steps; ++s) {
        std::intptr_t t = j.reverse ? j.steps - 1 - s : s, prev = t + j.reverse;
        std::intptr_t next = t + !j.reverse;
        j.a = whole.h + (prev * batch + first) * hs;
        j.c_prev = whole.cells + (prev * batch + first) * hs;
        j.c_new = whole.cells + (next * batch + first) * hs;
        j.h_new = whole.h + (next * batch + first) * hs;
        j.acts = whole.gates + (t * batch + first) * j.ldacts;
        if (threads > 1) share(j, panels, true, threads);
        else for (std::intptr_t p = 0; p < panels; ++p) lstm_panel(j, p);
    }
}

// An LSTM layer's BPTT, every step, for one group of batch rows (`threads`: as above).
static void lstm_backward_rows(const Job& whole, std::intptr_t group, int threads) {
    std::intptr_t first, last, batch = whole.rows, hs = whole.ldstate, xs = whole.ldacts;
    rows_of(group, whole.groups, batch, first, last);
    Job j = whole;
    j.rows = last - first;
    j.dh = whole.dh + first * hs;
    j.dc = whole.dc + first * hs;
    std::intptr_t panels = (j.hidden + PANEL - 1) / PANEL, steps = j.steps, r = j.reverse;
    auto at = [&](const T* base, std::intptr_t slot) {  // this group's rows of a slot
        return base + (slot * batch + first) * hs;
    };
    std::intptr_t t = r ? 0 : steps - 1;  // BPTT's first step: from outside only
    j.mode = LSTM_BACK_START;
    j.acts = whole.gates + (t * batch + first) * xs;
    j.dgates = whole.gate_grads + (t * batch + first) * xs;
    j.c_prev = at(whole.cells, t + r);
    j.c_new = (T*)at(whole.cells, t + 1 - r);
    j.gh = at(whole.grad_h, t + 1 - r);
    j.gc = at(whole.grad_c, t + 1 - r);
    if (threads > 1) share(j, panels, true, threads);
    else for (std::intptr_t p = 0; p < panels; ++p) lstm_back_panel(j, p);
    j.mode = LSTM_BACK;
    for (std::intptr_t s = 0; s < steps; ++s, t += r ? 1 : -1) {
        std::intptr_t before = r ? t + 1 : t - 1;  // the step BPTT takes next, if any
        bool more = s + 1 < steps;
        j.a = whole.gate_grads + (t * batch + first) * xs;
        j.gh = at(whole.grad_h, t + r);
        j.gc = at(whole.grad_c, t + r);
        j.acts = more ? whole.gates + (before * batch + first) * xs : nullptr;
        j.dgates = more ? whole.gate_grads + (before * batch + first) * xs : nullptr;
        j.c_prev = more ? at(whole.cells, before + r) : nullptr;
        j.c_new = more ? (T*)at(whole.cells, before + 1 - r) : nullptr;
        if (threads > 1) share(j, panels, true, threads);
        else for (std::intptr_t p = 0; p < panels; ++p) lstm_back_panel(j, p);
    }
}

static void run(const Job& j, std::intptr_t unit) {
    switch (j.mode) {
        case PRODUCT: panel_product(j, unit); break;
        case LSTM_FORWARD: lstm_forward_rows(j, unit, 1); break;
        case LSTM_BACKWARD: lstm_backward_rows(j, unit, 1); break;
        case LSTM_STEP: lstm_panel(j, unit); break;
        case TASK: j.task(j.context, unit); break;
        default: lstm_back_panel(j, unit); break;
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
// After its last work a helper spins this long (at least 256 pauses, about 10 us), then
// sleeps until the next job: a helper spinning on while OpenBLAS's threads run the next
// GEMM takes a core from them (measured with a loop of bench_lstm.py's LSTM H 128 step at
// 2 threads: median 6.7 ms spinning 50 us, 7.6 ms spinning 400 us, 6.1 ms spinning 10 us;
// the main job's model unchanged at 40 ms).
static const auto SPIN = std::chrono::microseconds(10);
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
            run(job, panel);
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

// Runs a job's `units` (panels or row groups) on up to `threads` threads: shared with the
// helpers if `worth` it and they are free, else all here.
static void share(const Job& given, std::intptr_t units, bool worth, int threads) {
    bool shared = false;
    if (threads > 1 && worth && units > 1 && units <= (std::intptr_t)FIELD)
        shared = !busy.exchange(true);
    if (!shared) {
        for (std::intptr_t u = 0; u < units; ++u) run(given, u);
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
    claims.store((number << 40) | (std::uint64_t)units);  // publishes job
    if (sleepers.load()) {
        std::lock_guard<std::mutex> hold(*sleep_lock);
        wake->notify_all();
    }
    std::intptr_t unit, mine = 0;
    while (claim(true, unit)) {
        run(job, unit);
        ++mine;
    }
    while (helped.load(std::memory_order_acquire) != units - mine) relax();
    busy.store(false, std::memory_order_release);
}

static void product(const Job& given, int threads) {  // threads: the caller's and helpers
    share(given, (given.width + PANEL - 1) / PANEL,
          given.rows * given.depth * given.width >= SHARED_WORK, threads);
}

// An LSTM loop's groups of rows: one per thread, of at least MIN_ROWS rows. But where
// W_hh is bigger than SPLIT_BYTES, too big for every core to keep all of it in its cache,
// each step's panels are shared instead, so that each core keeps its end of the weight
// (measured, 2 cores with 2 MiB of L2 each, B 32: H 256 (1 MiB) by rows 51 against 67 us
// a BPTT step; H 512 (4 MiB) by panels 276 against 293 us, the forward alike).
static const std::intptr_t MIN_ROWS = 4, SPLIT_BYTES = 1 << 20;
static void sequence(Job& whole, int threads) {
    bool worth = whole.steps * whole.rows * whole.depth * whole.width >= SHARED_WORK;
    whole.groups = 1;
    if (threads > 1 && worth &&
        whole.depth * whole.width * (std::intptr_t)sizeof(T) > SPLIT_BYTES) {
        if (whole.mode == LSTM_FORWARD) lstm_forward_rows(whole, 0, threads);
        else lstm_backward_rows(whole, 0, threads);
        return;
    }
    whole.groups = whole.rows / MIN_ROWS < threads ? whole.rows / MIN_ROWS : threads;
    if (whole.groups < 1) whole.groups = 1;
    share(whole, whole.groups, worth, threads);
}
}  // namespace

extern "C" long minigrad_panel_width(int gates) {
    return gates ? minigrad_kernel::GATE_PANEL : minigrad_kernel::PANEL;
}

// w (rows, cols) into panels of B = w (transpose 0) or w^T (1), each K x width with zeros
// past B's last column. Plain panels hold PANEL columns of B in order; gate panels
// (gates 4: B's columns are the four gates of `hidden` units each, as an LSTM's W_hh^T)
// hold LANES units' columns of every gate. Returns the refused argument, 1 or 2, else 0.
extern "C" int minigrad_pack_panels(const void* ndarray, const char* w, const char* packed,
                                    int transpose, int gates) {
    using namespace minigrad_kernel;
    char *wd, *pd;
    std::intptr_t ws, ps, wshape[3] = {-1, 0, 0}, pshape[3] = {-1, 0, 0};
    if (!view(ndarray, w, false, wd, ws, wshape) || wshape[0] != 2) return 1;
    std::intptr_t depth = transpose ? wshape[2] : wshape[1];
    std::intptr_t width = transpose ? wshape[1] : wshape[2];
    if (gates && width %% gates) return 1;
    std::intptr_t hidden = gates ? width / gates : width, step = gates ? LANES : PANEL;
    std::intptr_t panel_width = gates ? GATE_PANEL : PANEL, panels = (hidden + step - 1) / step;
    if (!view(ndarray, packed, true, pd, ps, pshape) || pshape[0] != 1 ||
        pshape[2] != panels * depth * panel_width) return 2;
    const T* src = (const T*)wd;
    T* dst = (T*)pd;
    std::intptr_t columns[GATE_PANEL];  // of B, in panel p; -1: padding
    for (std::intptr_t p = 0; p < panels; ++p) {
        T* panel = dst + p * depth * panel_width;
        for (std::intptr_t j = 0; j < panel_width; ++j) {
            std::intptr_t unit = p * step + (gates ? j %% LANES : j);
            columns[j] = unit < hidden ? (gates ? j / LANES * hidden : 0) + unit : -1;
        }
        // B[k, n], written in order; read across at most GATE_PANEL rows of w at a time
        std::intptr_t along = transpose ? 1 : ws, across = transpose ? ws : 1;
        bool rows = !transpose && !gates && columns[panel_width - 1] >= 0;  // whole rows of w
        for (std::intptr_t k = 0; k < depth; ++k)
            if (rows) std::memcpy(panel + k * panel_width, src + k * ws + columns[0],
                                  panel_width * sizeof(T));
            else
                for (std::intptr_t j = 0; j < panel_width; ++j)  // padding: zeros
                    panel[k * panel_width + j] =
                        columns[j] >= 0 ? src[k * along + columns[j] * across] : T(0);
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
    product(Job{PRODUCT, (const T*)ad, ashape[1], as, (const T*)pd, depth, width, (T*)od, os},
            threads);
    return 0;
}

// task(context, u) for every u in [0, units), on up to `threads` threads (the caller's and
// the helpers): so other compiled kernels (softmax_rows.py's) share this one pool rather
// than start threads of their own.
extern "C" int minigrad_parallel_for(void (*task)(const void*, std::intptr_t),
                                     const void* context, long units, int threads) {
    using namespace minigrad_kernel;
    Job job{TASK};
    job.task = task;
    job.context = context;
    share(job, units, true, threads);
    return 0;
}

// An LSTM layer's time loop: per step, h @ W_hh^T (W_hh^T packed in gate panels) and the
// gate arithmetic, shared with the helper threads panel by panel. acts (T * B, 4H) holds
// the input projection without bias and leaves with the activated gates; h and c
// ((T + 1) * B, H) hold the initial state in slot 0 (slot T in reverse) and get the rest.
// Returns the refused argument, 1 to 5.
extern "C" int minigrad_lstm_forward(const void* ndarray, const char* acts, const char* packed,
                                     const char* bias, const char* h, const char* c,
                                     long steps, long batch, int reverse, int threads) {
    using namespace minigrad_kernel;
    char *xd, *pd, *bd, *hd, *cd;
    std::intptr_t xs, ps, bs, hs, cs, xshape[3] = {-1, 0, 0}, pshape[3] = {-1, 0, 0},
        bshape[3] = {-1, 0, 0}, hshape[3] = {-1, 0, 0}, cshape[3] = {-1, 0, 0};
    if (!view(ndarray, acts, true, xd, xs, xshape) || xshape[0] != 2 ||
        xshape[1] != steps * batch || xshape[2] %% GATES) return 1;
    std::intptr_t hidden = xshape[2] / GATES, panels = (hidden + LANES - 1) / LANES;
    if (!view(ndarray, packed, false, pd, ps, pshape) || pshape[0] != 1 ||
        pshape[2] != panels * hidden * GATE_PANEL) return 2;
    if (!view(ndarray, bias, false, bd, bs, bshape) || bshape[0] != 1 ||
        bshape[2] != xshape[2]) return 3;
    if (!view(ndarray, h, true, hd, hs, hshape) || hshape[0] != 2 ||
        hshape[1] != (steps + 1) * batch || hshape[2] != hidden) return 4;
    if (!view(ndarray, c, true, cd, cs, cshape) || cshape[0] != 2 ||
        cshape[1] != (steps + 1) * batch || cshape[2] != hidden || cs != hs) return 5;
    Job job{LSTM_FORWARD, nullptr, batch, hs, (const T*)pd, hidden, xshape[2], nullptr, 0,
            hidden, xs, hs, nullptr, (const T*)bd};
    job.h = (T*)hd;
    job.cells = (T*)cd;
    job.gates = (T*)xd;
    job.steps = steps;
    job.reverse = reverse != 0;
    sequence(job, threads);
    return 0;
}

// An LSTM layer's BPTT loop, all steps: per step the gate gradients and dgates @ W_hh (W_hh
// packed in plain panels), the first as the second's epilogue on the same units, shared
// with the helper threads panel by panel. acts (T * B, 4H): the activated gates; c
// ((T + 1) * B, H): the cell states; gh, gc (likewise): the gradients reaching each state
// from outside. Writes the gate gradients into dgates (T * B, 4H) and those of the
// initial states into dh, dc (B, H). Returns the refused argument, 1 to 8.
extern "C" int minigrad_lstm_backward(const void* ndarray, const char* acts, const char* c,
                                      const char* gh, const char* gc, const char* packed,
                                      const char* dgates, const char* dh, const char* dc,
                                      long steps, long batch, int reverse, int threads) {
    using namespace minigrad_kernel;
    const char* given[8] = {acts, c, gh, gc, packed, dgates, dh, dc};
    char* data[8];
    std::intptr_t stride[8], shapes[8][3];
    for (int k = 0; k < 8; ++k) {
        shapes[k][0] = -1;
        if (!view(ndarray, given[k], k >= 5, data[k], stride[k], shapes[k])) return k + 1;
    }
    std::intptr_t width = shapes[0][2], hidden = width / GATES;
    std::intptr_t panels = (hidden + PANEL - 1) / PANEL;
    if (shapes[0][0] != 2 || shapes[0][1] != steps * batch || width %% GATES) return 1;
    for (int k = 1; k < 4; ++k)  // c, gh, gc: (T + 1) * B rows of H, one stride
        if (shapes[k][0] != 2 || shapes[k][1] != (steps + 1) * batch || shapes[k][2] != hidden ||
            stride[k] != stride[1]) return k + 1;
    if (shapes[4][0] != 1 || shapes[4][2] != panels * width * PANEL) return 5;
    if (shapes[5][0] != 2 || shapes[5][1] != steps * batch || shapes[5][2] != width ||
        stride[5] != stride[0]) return 6;
    for (int k = 6; k < 8; ++k)
        if (shapes[k][0] != 2 || shapes[k][1] != batch || shapes[k][2] != hidden ||
            stride[k] != stride[1]) return k + 1;
    if (steps == 0) return 0;
    Job job{LSTM_BACKWARD, nullptr, batch, stride[0], (const T*)data[4], width, hidden, nullptr,
            0, hidden, stride[0], stride[1]};
    job.cells = (T*)data[1];
    job.grad_h = (const T*)data[2];
    job.grad_c = (const T*)data[3];
    job.gates = (T*)data[0];
    job.gate_grads = (T*)data[5];
    job.dh = (T*)data[6];
    job.dc = (T*)data[7];
    job.steps = steps;
    job.reverse = reverse != 0;
    sequence(job, threads);
    return 0;
}
"""


class _Functions(NamedTuple):
    panel: int          # columns per plain panel
    gate_panel: int     # columns per gate panel
    pack: Any
    matmul: Any
    lstm_forward: Any
    lstm_backward: Any
    parallel_for: int   # the address of minigrad_parallel_for


@functools.cache
def _functions(dtype: numpy.dtype) -> _Functions:
    library = compiled_kernel._library(compiled_kernel.typed_source(SOURCE, dtype),
                                       "minigrad_packed_matmul")  # one helper pool
    width, pack, matmul, lstm, back = (getattr(library, f"minigrad_{name}") for name in (
        "panel_width", "pack_panels", "packed_matmul", "lstm_forward", "lstm_backward"))
    width.argtypes, width.restype = (ctypes.c_int,), ctypes.c_long
    pack.argtypes = (ctypes.c_void_p,) * 3 + (ctypes.c_int,) * 2
    matmul.argtypes = (ctypes.c_void_p,) * 4 + (ctypes.c_long,) * 2 + (ctypes.c_int,)
    lstm.argtypes = (ctypes.c_void_p,) * 6 + (ctypes.c_long,) * 2 + (ctypes.c_int,) * 2
    back.argtypes = (ctypes.c_void_p,) * 9 + (ctypes.c_long,) * 2 + (ctypes.c_int,) * 2
    pack.restype = matmul.restype = lstm.restype = back.restype = ctypes.c_int
    parallel_for = ctypes.cast(library.minigrad_parallel_for, ctypes.c_void_p).value
    return _Functions(width(0), width(4), pack, matmul, lstm, back, parallel_for)


def parallel_for() -> int:
    """The address of ``minigrad_parallel_for(task, context, units, threads)``, which runs
    another compiled kernel's units of work on this module's helper threads (one pool for
    every kernel); 0 where compiled kernels are off."""
    if not compiled_kernel.available():
        return 0
    return _functions(numpy.dtype(numpy.float32)).parallel_for


def _pack(functions: _Functions, w: numpy.ndarray, transpose: bool, gates: int) -> numpy.ndarray:
    """``w`` (``transpose``: ``w.T``) in plain panels, or in gate panels (``gates``: 4)."""
    depth, width = w.shape[::-1] if transpose else w.shape
    panel = functions.gate_panel if gates else functions.panel
    units = width // gates if gates else width
    per_panel = panel // gates if gates else panel
    packed = compiled_kernel.aligned_empty(-(-units // per_panel) * panel * depth, w.dtype)
    if w.size == 0:  # zero rows or columns: all panels are padding
        packed.fill(0)
        return packed
    source = w if w.shape[-1] <= 1 or w.strides[-1] == w.itemsize else w.copy()
    refused = functions.pack(_NDARRAY, id(source), id(packed), int(transpose), gates)
    if refused:
        raise RuntimeError(f"packed_matmul: the compiled packing refused argument {refused}")
    return packed


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
        self._packed = _pack(self._functions, w, transpose, gates=0)

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


def lstm_forward(acts: numpy.ndarray, w_hh: numpy.ndarray, bias: numpy.ndarray,
                 states: numpy.ndarray, reverse: bool = False) -> None:
    """An LSTM layer's whole time loop in one compiled call (minigrad/ops/sequence.py's
    layout): per step ``h @ W_hh^T`` with the gate arithmetic as its epilogue, no Python
    between steps, and the batch's rows shared out among the threads. ``acts`` (T, B, 4H)
    is the input projection without bias, turned into the activated gates; ``bias`` (4H,)
    is b_ih + b_hh; ``states`` (2, T + 1, B, H) holds the initial (h, c) in slot 0 (slot
    T with ``reverse``) and receives the others."""
    steps, batch, hidden = _lstm_arrays("lstm_forward", acts, w_hh, states, bias=bias)
    functions = _functions(acts.dtype)
    flat, h, c = _rows(acts), _rows(states[0]), _rows(states[1])
    packed = _pack(functions, w_hh, transpose=True, gates=4)
    refused = functions.lstm_forward(_NDARRAY, id(flat), id(packed), id(bias), id(h), id(c),
                                     steps, batch, int(reverse), threads.kernel_threads())
    if refused:
        raise RuntimeError(f"lstm_forward: the compiled code refused argument {refused}")


def lstm_backward(grads: numpy.ndarray, acts: numpy.ndarray, states: numpy.ndarray,
                  w_hh: numpy.ndarray, reverse: bool = False) -> tuple:
    """The BPTT loop of :func:`lstm_forward`'s layer in one compiled call: per step the
    gate gradients and ``dgates @ W_hh``, the first as the second's epilogue. ``grads``
    (2, T + 1, B, H) reaches the states from outside, ``acts`` holds the activated gates.
    Returns (dgates (T, B, 4H), dh0, dc0)."""
    steps, batch, hidden = _lstm_arrays("lstm_backward", acts, w_hh, states, grads=grads)
    functions = _functions(acts.dtype)
    dgates = compiled_kernel.aligned_empty(acts.shape, acts.dtype)
    dh, dc = numpy.empty((batch, hidden), acts.dtype), numpy.empty((batch, hidden), acts.dtype)
    flat = [_rows(a) for a in (acts, states[1], numpy.ascontiguousarray(grads[0]),
                               numpy.ascontiguousarray(grads[1]), dgates)]
    packed = _pack(functions, w_hh, transpose=False, gates=0)
    refused = functions.lstm_backward(
        _NDARRAY, *map(id, flat[:4]), id(packed), id(flat[4]), id(dh), id(dc), steps, batch,
        int(reverse), threads.kernel_threads())
    if refused:
        raise RuntimeError(f"lstm_backward: the compiled code refused argument {refused}")
    return dgates, dh, dc


def _lstm_arrays(name: str, acts: Any, w_hh: Any, states: Any, **others: Any) -> tuple:
    """(steps, batch, hidden), once every array has its shape, the dtype of ``acts`` and
    contiguous rows; else an error that names the first that has not."""
    if not (isinstance(acts, numpy.ndarray) and acts.ndim == 3 and acts.shape[2] % 4 == 0
            and acts.dtype.char in "fd" and acts.flags.c_contiguous):
        raise ValueError(f"{name}: acts must be a contiguous float32 or float64 array of "
                         f"shape (steps, batch, 4 * hidden), got {_describe(acts)}")
    steps, batch, width = acts.shape
    hidden = width // 4
    shapes = dict(w_hh=(width, hidden), states=(2, steps + 1, batch, hidden),
                  bias=(width,), grads=(2, steps + 1, batch, hidden))
    for what, a in dict(w_hh=w_hh, states=states, **others).items():
        if not (isinstance(a, numpy.ndarray) and a.shape == shapes[what]
                and a.dtype == acts.dtype):
            raise ValueError(f"{name}: {what} must be a {acts.dtype} array of shape "
                             f"{shapes[what]} for acts of shape {acts.shape}, got "
                             f"{_describe(a)}")
    if not states.flags.c_contiguous:
        raise ValueError(f"{name}: states must be contiguous, got {_describe(states)}")
    return steps, batch, hidden


def _rows(a: numpy.ndarray) -> numpy.ndarray:
    """``a`` seen as 2-D, (everything else, last axis): a view, never a copy."""
    flat = a.view()
    flat.shape = (-1, a.shape[-1])
    return flat


def _describe(a: Any) -> str:
    if not isinstance(a, numpy.ndarray):
        return type(a).__name__
    return (f"shape {a.shape}, dtype {a.dtype}, strides {a.strides}"
            f"{'' if a.flags.writeable else ', read-only'}")


_NDARRAY = compiled_kernel._NDARRAY  # the ndarray type the kernels check for
