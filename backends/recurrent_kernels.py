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
    """A kind's fused steps, bound to one sequence's arrays before its loop.

    ``bind_step(xp, acts, hw, states, side)`` returns ``step(t, prev, new)``: step t, from
    state slot ``prev`` to slot ``new`` (sequence.py's layout). ``bind_back(xp, acts,
    side, states, gx, gh)`` returns ``back(t, prev, new, d)``, which writes step t's gate
    gradients and returns the direct parts of the previous states' gradients, as the
    generic ``back`` does. Binding splits the gates once per sequence: per step only
    integer indexing is left (slicing eleven views cost more than a small step's math)."""
    bind_step: Callable
    bind_back: Callable


def _gates(a: Any, count: int) -> list:
    """The ``count`` gate blocks along the last axis, as views (any leading axes)."""
    n = a.shape[-1] // count
    return [a[..., k * n:(k + 1) * n] for k in range(count)]


def build(elementwise_kernel: Callable) -> dict[str, FusedStep]:
    """The fused steps, compiled by ``elementwise_kernel(in_params, out_params, body,
    name)``: ``cupy.ElementwiseKernel`` or backends/compiled_kernel.py's."""
    kernels = {kind: tuple(elementwise_kernel(*source, f"minigrad_{kind}_{part}")
                           for source, part in zip(parts, ("step", "back")))
               for kind, parts in SOURCES.items()}
    lstm, gru, tanh, relu = (kernels[k] for k in ("lstm", "gru", "rnn_tanh", "rnn_relu"))

    def spares(xp: Any, states: Any) -> list:
        """Two (B, H) buffers for a gradient carried to the previous step, used by turns
        (``t & 1``): a step never overwrites the carried gradient it reads."""
        return [xp.empty(states.shape[2:], dtype=states.dtype) for _ in range(2)]

    def lstm_bind_step(xp: Any, acts: Any, hw: Any, states: Any, side: Any) -> Callable:
        (hi, hf, hg, ho), (ai, af, ag, ao) = _gates(hw, 4), _gates(acts, 4)
        h, c = states[0], states[1]
        kernel = lstm[0]

        def step(t: int, prev: int, new: int) -> None:
            kernel(hi, hf, hg, ho, c[prev], ai[t], af[t], ag[t], ao[t], c[new], h[new])
        return step

    def lstm_bind_back(xp: Any, acts: Any, side: Any, states: Any, gx: Any,
                       gh: Any) -> Callable:
        (ai, af, ag, ao), (gi, gf, gg, go), c = _gates(acts, 4), _gates(gx, 4), states[1]
        kernel, carried = lstm[1], spares(xp, states)

        def back(t: int, prev: int, new: int, d: list) -> tuple:
            dc_prev = carried[t & 1]
            kernel(ai[t], af[t], ag[t], ao[t], c[prev], c[new], d[0], d[1],
                   gi[t], gf[t], gg[t], go[t], dc_prev)
            return None, dc_prev
        return back

    def gru_bind_step(xp: Any, acts: Any, hw: Any, states: Any, side: Any) -> Callable:
        (hr, hz, hn), (ar, az, an), h = _gates(hw, 3), _gates(acts, 3), states[0]
        kernel = gru[0]

        def step(t: int, prev: int, new: int) -> None:
            kernel(hr, hz, hn, h[prev], ar[t], az[t], an[t], side[t], h[new])
        return step

    def gru_bind_back(xp: Any, acts: Any, side: Any, states: Any, gx: Any,
                      gh: Any) -> Callable:
        (ar, az, an), h = _gates(acts, 3), states[0]
        (xr, xz, xn), (yr, yz, yn) = _gates(gx, 3), _gates(gh, 3)
        kernel, carried = gru[1], spares(xp, states)

        def back(t: int, prev: int, new: int, d: list) -> tuple:
            dh_prev = carried[t & 1]
            kernel(ar[t], az[t], an[t], side[t], h[prev], d[0], xr[t], xz[t], xn[t],
                   yr[t], yz[t], yn[t], dh_prev)
            return (dh_prev,)
        return back

    def simple(kernel: tuple) -> FusedStep:
        def bind_step(xp: Any, acts: Any, hw: Any, states: Any, side: Any) -> Callable:
            forward, h = kernel[0], states[0]

            def step(t: int, prev: int, new: int) -> None:
                forward(acts[t], hw, h[new])
            return step

        def bind_back(xp: Any, acts: Any, side: Any, states: Any, gx: Any,
                      gh: Any) -> Callable:
            backward, h = kernel[1], states[0]

            def back(t: int, prev: int, new: int, d: list) -> tuple:
                backward(h[new], d[0], gx[t])
                return (None,)
            return back
        return FusedStep(bind_step, bind_back)

    return {"lstm": FusedStep(lstm_bind_step, lstm_bind_back),
            "gru": FusedStep(gru_bind_step, gru_bind_back),
            "rnn_tanh": simple(tanh), "rnn_relu": simple(relu)}
