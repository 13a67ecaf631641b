"""One time step of a recurrent layer as one kernel: the fused path on GPU and CPU.

The whole-sequence primitives (minigrad/ops/sequence.py) can do a step's gate arithmetic
in place with the array library's ufuncs: about ten passes forward and twenty back, each
a call whose overhead outweighs its arithmetic on a small batch (on a GPU, a kernel
launch). So a step is one GEMM plus one kernel, as in cuDNN: the bodies below, compiled
by ``cupy.ElementwiseKernel`` on a GPU and by the C++ compiler on the CPU
(backends/compiled_kernel.py, same contract). Their math is the generic step's (same gate
order and formulas); tests/test_recurrent_kernels.py holds the two paths equal.

Names avoid ``i`` (the kernel's loop index) and C keywords; inputs are read-only,
outputs are references that the body may also read (the LSTM and GRU forwards turn the
input projection into the activated gates in place, as the generic steps do).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

_SIGMOID = "1 / (1 + exp(-({x})))"  # exp overflows to inf far below zero: the limit 0


def _sig(x: str) -> str:
    return _SIGMOID.format(x=x)


# kind -> ((step inputs, step outputs, step body), (back inputs, back outputs, back body))
SOURCES: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = {
    "lstm": ((
        "T hw_i, T hw_f, T hw_g, T hw_o, T c_prev",
        "T in_gate, T forget, T cell, T out_gate, T c_new, T h_new",
        f"in_gate = {_sig('in_gate + hw_i')}; forget = {_sig('forget + hw_f')};"
        " cell = tanh(cell + hw_g);"
        f" out_gate = {_sig('out_gate + hw_o')};"
        " c_new = forget * c_prev + in_gate * cell; h_new = out_gate * tanh(c_new);",
    ), (
        "T in_gate, T forget, T cell, T out_gate, T c_prev, T c_new, T dh, T dc",
        "T g_in, T g_forget, T g_cell, T g_out, T dc_prev",
        "T tc = tanh(c_new); T dct = dc + dh * out_gate * (1 - tc * tc);"
        " g_in = dct * cell * in_gate * (1 - in_gate);"
        " g_forget = dct * c_prev * forget * (1 - forget);"
        " g_cell = dct * in_gate * (1 - cell * cell);"
        " g_out = dh * tc * out_gate * (1 - out_gate); dc_prev = dct * forget;",
    )),
    "gru": ((
        "T hw_r, T hw_z, T hw_n, T h_prev",
        "T reset, T update, T cand, T side, T h_new",
        f"reset = {_sig('reset + hw_r')}; update = {_sig('update + hw_z')}; side = hw_n;"
        " cand = tanh(cand + reset * hw_n); h_new = (h_prev - cand) * update + cand;",
    ), (
        "T reset, T update, T cand, T side, T h_prev, T dh",
        "T gx_r, T gx_z, T gx_n, T gh_r, T gh_z, T gh_n, T dh_prev",
        "T dn = (1 - cand * cand) * dh * (1 - update);"
        " gx_r = reset * (1 - reset) * side * dn; gh_r = gx_r;"
        " gx_z = update * (1 - update) * (h_prev - cand) * dh; gh_z = gx_z;"
        " gx_n = dn; gh_n = dn * reset; dh_prev = dh * update;",
    )),
    "rnn_tanh": ((
        "T pre, T hw", "T h_new", "h_new = tanh(pre + hw);",
    ), (
        "T h, T dh", "T gx", "gx = (1 - h * h) * dh;",
    )),
    "rnn_relu": ((
        "T pre, T hw", "T h_new",
        "T s = pre + hw; h_new = (s > 0 || s != s) ? s : (T)0;",  # NaN passes, as maximum
    ), (
        "T h, T dh", "T gx", "gx = dh * (T)(h > 0);",
    )),
}


class FusedStep(NamedTuple):
    """A kind's ``step`` and ``back`` with the signatures of the generic ones."""
    step: Callable
    back: Callable


def _gates(a: Any, count: int) -> list:
    n = a.shape[-1] // count
    return [a[:, k * n:(k + 1) * n] for k in range(count)]


def build(elementwise_kernel: Callable) -> dict[str, FusedStep]:
    """The fused steps, compiled by ``elementwise_kernel(in_params, out_params, body,
    name)``: ``cupy.ElementwiseKernel`` or backends/compiled_kernel.py's."""
    kernels = {kind: tuple(elementwise_kernel(*source, f"minigrad_{kind}_{part}")
                           for source, part in zip(parts, ("step", "back")))
               for kind, parts in SOURCES.items()}
    lstm, gru, tanh, relu = (kernels[k] for k in ("lstm", "gru", "rnn_tanh", "rnn_relu"))

    def lstm_step(xp: Any, a: Any, hw: Any, prev: Any, new: Any, side: Any) -> None:
        lstm[0](*_gates(hw, 4), prev[1], *_gates(a, 4), new[1], new[0])

    def lstm_back(xp: Any, d: list, a: Any, side: Any, prev: Any, new: Any, gx: Any,
                  gh: Any) -> tuple:
        dc_prev = xp.empty(d[1].shape, dtype=d[1].dtype)
        lstm[1](*_gates(a, 4), prev[1], new[1], d[0], d[1], *_gates(gx, 4), dc_prev)
        return None, dc_prev

    def gru_step(xp: Any, a: Any, hw: Any, prev: Any, new: Any, side: Any) -> None:
        gru[0](*_gates(hw, 3), prev[0], *_gates(a, 3), side, new[0])

    def gru_back(xp: Any, d: list, a: Any, side: Any, prev: Any, new: Any, gx: Any,
                 gh: Any) -> tuple:
        dh_prev = xp.empty(d[0].shape, dtype=d[0].dtype)
        gru[1](*_gates(a, 3), side, prev[0], d[0], *_gates(gx, 3), *_gates(gh, 3), dh_prev)
        return (dh_prev,)

    def simple(kernel: tuple) -> FusedStep:
        def step(xp: Any, a: Any, hw: Any, prev: Any, new: Any, side: Any) -> None:
            kernel[0](a, hw, new[0])

        def back(xp: Any, d: list, a: Any, side: Any, prev: Any, new: Any, gx: Any,
                 gh: Any) -> tuple:
            kernel[1](new[0], d[0], gx)
            return (None,)
        return FusedStep(step, back)

    return {"lstm": FusedStep(lstm_step, lstm_back), "gru": FusedStep(gru_step, gru_back),
            "rnn_tanh": simple(tanh), "rnn_relu": simple(relu)}
