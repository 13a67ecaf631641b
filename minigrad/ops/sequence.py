"""A recurrent layer's whole time loop as one primitive (one per kind), as cuDNN does.

Step by step, a layer of T steps records about 5T nodes, each allocating, and
backward walks them one by one. Here the forward projects the whole input with
one GEMM, then per step does one ``h @ W_hh^T`` into a preallocated buffer and
the gate arithmetic in place: one fused kernel where the backend has one
(backends/recurrent_kernels.py: on a GPU, and on the CPU where a C++ compiler works),
else NumPy's ufuncs. The joint gradient rule runs BPTT in one reverse loop (per step:
the elementwise gate derivatives and one ``dgates @ W_hh``) and then gets ``dW_ih``,
``dW_hh``, ``dx`` and the biases with one GEMM or sum each over all T steps. Where the
backend runs a kind's whole loop in one call (``sequence_forward``/``sequence_backward``:
the LSTM on the CPU, backends/packed_matmul.py), the loops above are that call. Gate
order and biases are PyTorch's (design.md "Recurrent layers").

Layout: the output holds every state, (S, T+1, B, H) with S = 2 (h, c) for the
LSTM and 1 otherwise; slot 0 (slot T when running in reverse) is the initial
state, so step t reads its previous state from one slot and writes the next.
What backward needs besides (the activated gates, and the GRU's W_hn h + b_hn)
the forward leaves in a :class:`_Reserve` passed as an input
(cuDNN's "reserve space"), released with the node's other saved inputs. With
``create_graph=True`` the rule recomputes those from the inputs and the output
instead, in recorded operations, so it can be differentiated again.

``lengths``: steps at or beyond a sequence's length keep its state (their output
repeats it) and get no gradient, exactly like the step-by-step layers.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, NamedTuple, Optional

from ..backends.threads import tick
from ..primitive import joint_primitive

# -- one step of each kind, in place on arrays (the forward) --------------------------
# ``a`` is this step's input projection (B, G*H), turned in place into the activated
# gates; ``hw`` is h @ W_hh^T (plus b_hh for the GRU); ``prev``/``new`` are (S, B, H)
# views of the states before and after; ``side`` a (B, H) slot for backward (GRU).


def _sigmoid_(xp: Any, a: Any) -> None:
    """The backend's sigmoid, 1 / (1 + exp(-x)), computed in place."""
    xp.subtract(0, a, out=a)  # not negative(out=): NumPy 2.4 reads an (n, 1) float32 view wrong
    xp.exp(a, out=a)  # overflows to inf far below zero: the result is the right limit 0
    a += 1
    xp.reciprocal(a, out=a)


def _lstm_step(xp: Any, a: Any, hw: Any, prev: Any, new: Any, side: Any) -> None:
    n = prev.shape[-1]
    a += hw
    xp.tanh(a[:, 2 * n:3 * n], out=a[:, 2 * n:3 * n])
    _sigmoid_(xp, a[:, :2 * n])
    _sigmoid_(xp, a[:, 3 * n:])
    c = new[1]
    xp.multiply(a[:, n:2 * n], prev[1], out=c)          # c' = f * c + i * g
    c += a[:, :n] * a[:, 2 * n:3 * n]
    h = new[0]
    xp.tanh(c, out=h)
    h *= a[:, 3 * n:]                                   # h' = o * tanh(c')


def _gru_step(xp: Any, a: Any, hw: Any, prev: Any, new: Any, side: Any) -> None:
    n = prev.shape[-1]
    rz = a[:, :2 * n]
    rz += hw[:, :2 * n]
    _sigmoid_(xp, rz)
    side[...] = hw[:, 2 * n:]                           # W_hn h + b_hn, for backward
    cand = a[:, 2 * n:]
    cand += rz[:, :n] * side                            # n = tanh(x_n + r * (W_hn h + b_hn))
    xp.tanh(cand, out=cand)
    h = new[0]
    h[...] = prev[0]                                    # h' = n + z * (h - n)
    h -= cand
    h *= rz[:, n:]
    h += cand


def _tanh_step(xp: Any, a: Any, hw: Any, prev: Any, new: Any, side: Any) -> None:
    a += hw
    xp.tanh(a, out=new[0])


def _relu_step(xp: Any, a: Any, hw: Any, prev: Any, new: Any, side: Any) -> None:
    a += hw
    xp.maximum(a, 0, out=new[0])


# -- one step of BPTT, in place on arrays (plain backward) -------------------------------
# ``d`` holds the gradients reaching the states after the step (read only); ``a`` and
# ``side`` are what the forward left; the gate pre-activations' gradients are written
# into ``gx`` (input side: W_ih, b_ih, x) and ``gh`` (W_hh side; the same row unless
# the GRU). Returns, per state, the part of the previous state's gradient that does
# not go through W_hh (or None). Each has a recorded twin below; the tests hold them equal.

def _lstm_back(xp: Any, d: list, a: Any, side: Any, prev: Any, new: Any, gx: Any,
               gh: Any) -> tuple:
    dh, dc = d
    batch, n = dh.shape
    tc = xp.tanh(new[1])
    i, f, g, o = a[:, :n], a[:, n:2 * n], a[:, 2 * n:3 * n], a[:, 3 * n:]
    gi, gf, gg, go = gx[:, :n], gx[:, n:2 * n], gx[:, 2 * n:3 * n], gx[:, 3 * n:]
    xp.subtract(1, a, out=gx)
    gx *= a                                   # s * (1 - s) of the sigmoid gates
    xp.multiply(g, g, out=gg)
    xp.subtract(1, gg, out=gg)                # 1 - g^2
    gi *= g
    gf *= prev[1]
    gg *= i
    go *= tc
    dc_total = tc * tc                        # dc + dh * o * (1 - tanh(c')^2)
    xp.subtract(1, dc_total, out=dc_total)
    dc_total *= o
    dc_total *= dh
    dc_total += dc
    ifg = gx.reshape(batch, 4, n)[:, :3]
    xp.multiply(ifg, dc_total[:, None], out=ifg)
    go *= dh
    dc_total *= f
    return None, dc_total


def _gru_back(xp: Any, d: list, a: Any, ghn: Any, prev: Any, new: Any, gx: Any,
              gh: Any) -> tuple:
    (dh,) = d
    n = dh.shape[-1]
    r, z, cand = a[:, :n], a[:, n:2 * n], a[:, 2 * n:]
    grz, gr, gz, gn = gx[:, :2 * n], gx[:, :n], gx[:, n:2 * n], gx[:, 2 * n:]
    xp.multiply(cand, cand, out=gn)
    xp.subtract(1, gn, out=gn)
    gn *= dh
    gn *= 1 - z                               # dn = dh * (1 - z) * (1 - n^2)
    xp.subtract(1, a[:, :2 * n], out=grz)
    grz *= a[:, :2 * n]                       # r * (1 - r), z * (1 - z)
    gr *= ghn
    gr *= gn
    hz = prev[0] - cand
    hz *= dh
    gz *= hz
    gh[:, :2 * n] = grz
    xp.multiply(gn, r, out=gh[:, 2 * n:])     # W_hn h + b_hn is scaled by r
    return (dh * z,)


def _tanh_back(xp: Any, d: list, a: Any, side: Any, prev: Any, new: Any, gx: Any,
               gh: Any) -> tuple:
    xp.multiply(new[0], new[0], out=gx)
    xp.subtract(1, gx, out=gx)
    gx *= d[0]
    return (None,)


def _relu_back(xp: Any, d: list, a: Any, side: Any, prev: Any, new: Any, gx: Any,
               gh: Any) -> tuple:
    xp.multiply(d[0], new[0] > 0, out=gx)
    return (None,)


# -- the same in recorded operations (create_graph=True) --------------------------------
# What the forward left is recomputed from the inputs and the output's states, for all
# T steps at once (no loop); ``prevs``/``news`` are the (S, T, B, H) states before and
# after each step. One step's gradients return (gx, gh, direct) as the in-place twins do.

def _lstm_recompute(xp: Any, x: Any, prevs: Any, news: Any, w_ih: Any, w_hh: Any,
                    b_ih: Any, b_hh: Any) -> tuple:
    n = w_hh.shape[1]
    pre = _projection(xp, x, w_ih, None if b_ih is None else b_ih + b_hh) + \
        xp.matmul(prevs[0], w_hh.T)
    acts = xp.concatenate([xp.sigmoid(pre[..., :2 * n]), xp.tanh(pre[..., 2 * n:3 * n]),
                           xp.sigmoid(pre[..., 3 * n:])], axis=-1)
    return acts, None


def _gru_recompute(xp: Any, x: Any, prevs: Any, news: Any, w_ih: Any, w_hh: Any,
                   b_ih: Any, b_hh: Any) -> tuple:
    n = w_hh.shape[1]
    gh = xp.matmul(prevs[0], w_hh.T)
    if b_hh is not None:
        gh = gh + b_hh
    xg = _projection(xp, x, w_ih, b_ih)
    rz = xp.sigmoid(xg[..., :2 * n] + gh[..., :2 * n])
    ghn = gh[..., 2 * n:]
    cand = xp.tanh(xg[..., 2 * n:] + rz[..., :n] * ghn)
    return xp.concatenate([rz, cand], axis=-1), ghn


def _rnn_recompute(*args: Any) -> tuple:
    return None, None  # the derivative reads the output itself


def _lstm_grads(xp: Any, d: tuple, a: Any, side: Any, prev: Any, new: Any) -> tuple:
    dh, dc = d
    n = dh.shape[-1]
    tc = xp.tanh(new[1])
    i, f, g, o = a[:, :n], a[:, n:2 * n], a[:, 2 * n:3 * n], a[:, 3 * n:]
    dc = dc + dh * o * (1 - tc * tc)  # directly, and through h' = o * tanh(c')
    gates = xp.concatenate([dc * g * i * (1 - i), dc * prev[1] * f * (1 - f),
                            dc * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
    return gates, gates, (None, dc * f)


def _gru_grads(xp: Any, d: tuple, a: Any, ghn: Any, prev: Any, new: Any) -> tuple:
    (dh,) = d
    n = dh.shape[-1]
    r, z, cand = a[:, :n], a[:, n:2 * n], a[:, 2 * n:]
    dn = dh * (1 - z) * (1 - cand * cand)
    dr = dn * ghn * r * (1 - r)
    dz = dh * (prev[0] - cand) * z * (1 - z)
    return (xp.concatenate([dr, dz, dn], axis=1), xp.concatenate([dr, dz, dn * r], axis=1),
            (dh * z,))


def _tanh_grads(xp: Any, d: tuple, a: Any, side: Any, prev: Any, new: Any) -> tuple:
    h = new[0]
    gates = d[0] * (1 - h * h)
    return gates, gates, (None,)


def _relu_grads(xp: Any, d: tuple, a: Any, side: Any, prev: Any, new: Any) -> tuple:
    gates = d[0] * (new[0] > 0)
    return gates, gates, (None,)


class _Kind(NamedTuple):
    name: str
    gates: int              # G: W_ih is (G*H, input), W_hh (G*H, H)
    states: int             # S: 1 (h) or 2 (h, c)
    fold_bias: bool         # b_hh joins the input projection (all but the GRU)
    keeps_gates: bool       # backward reads the activated gates (T, B, G*H) ...
    keeps_side: bool        # ... and a (T, B, H) side array
    step: Callable          # forward, in place
    back: Callable          # one BPTT step, in place
    recompute: Callable     # (acts, side), recorded
    grads: Callable         # one BPTT step, recorded


_KINDS = {kind.name: kind for kind in (
    _Kind("lstm", 4, 2, True, True, False, _lstm_step, _lstm_back, _lstm_recompute,
          _lstm_grads),
    _Kind("gru", 3, 1, False, True, True, _gru_step, _gru_back, _gru_recompute, _gru_grads),
    _Kind("rnn_tanh", 1, 1, True, False, False, _tanh_step, _tanh_back, _rnn_recompute,
          _tanh_grads),
    _Kind("rnn_relu", 1, 1, True, False, False, _relu_step, _relu_back, _rnn_recompute,
          _relu_grads),
)}


def _bind_step(kind: _Kind, xp: Any, acts: Any, hw: Any, states: Any, side: Any) -> Callable:
    """The generic step bound to one sequence's arrays, called as a fused one is
    (backends/recurrent_kernels.py ``FusedStep``): ``step(t, prev, new)``."""
    def step(t: int, prev: int, new: int) -> None:
        kind.step(xp, acts[t], hw, states[:, prev], states[:, new],
                  None if side is None else side[t])
    return step


def _bind_back(kind: _Kind, xp: Any, acts: Any, side: Any, states: Any, gx: Any,
               gh: Any) -> Callable:
    """The generic BPTT step, bound likewise: ``back(t, prev, new, d)``."""
    def back(t: int, prev: int, new: int, d: list) -> tuple:
        return kind.back(xp, d, None if acts is None else acts[t],
                         None if side is None else side[t], states[:, prev], states[:, new],
                         gx[t], gh[t])
    return back


class _Reserve:
    """What a forward leaves for its backward: (activated gates, side array), each or
    both None. Never differentiated (see the module docstring)."""

    __slots__ = ("arrays",)

    def __init__(self) -> None:
        self.arrays: tuple = (None, None)


# -- the primitive: forward and joint gradient rule shared by the kinds ----------------

def _projection(xp: Any, x: Any, w_ih: Any, bias: Any) -> Any:
    """x (T, B, I) @ W_ih^T + bias for all T steps in one GEMM: (T, B, G*H)."""
    steps, batch, width = x.shape
    xg = xp.matmul(xp.reshape(x, (steps * batch, width)), w_ih.T)
    if bias is not None:
        xg = xg + bias
    return xp.reshape(xg, (steps, batch, w_ih.shape[0]))


def _order(steps: int, reverse: int) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _forward(kind: _Kind, xp: Any, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
             mask: Any, reserve: _Reserve, *initial: Any, reverse: bool = False,
             input_grad: bool = True) -> Any:
    steps, batch, width = x.shape
    hidden = w_hh.shape[1]
    r = int(reverse)  # step t goes from state slot t + r to slot t + 1 - r
    acts = xp.aligned_empty((steps, batch, w_ih.shape[0]), xp.result_type(x, w_ih))
    xp.matmul(xp.reshape(x, (steps * batch, width)), w_ih.T,
              out=xp.reshape(acts, (steps * batch, w_ih.shape[0])))
    states = xp.aligned_empty((kind.states, steps + 1, batch, hidden), acts.dtype)
    for k, state in enumerate(initial):
        states[k, steps * r] = state
    whole = xp.sequence_forward(kind.name, w_hh) if mask is None and acts.size else None
    if whole is not None:  # the loop in one call; the bias joins each step's product
        tick()
        bias = b_ih + b_hh if b_ih is not None else xp.zeros(w_hh.shape[0], dtype=acts.dtype)
        whole(acts, w_hh, bias, states, reverse)
        reserve.arrays = (acts, None)
        return states
    if b_ih is not None:
        acts += b_ih + b_hh if kind.fold_bias else b_ih
    step_bias = None if kind.fold_bias else b_hh
    side = xp.empty((steps, batch, hidden), dtype=acts.dtype) if kind.keeps_side else None
    hw = xp.empty((batch, w_hh.shape[0]), dtype=acts.dtype)
    recur = xp.step_matmul(w_hh, transpose=True)  # h @ W_hh^T, W_hh prepared once
    fused = xp.recurrent_kernels(acts.dtype).get(kind.name)  # one kernel per step
    step = (fused.bind_step if fused else partial(_bind_step, kind))(xp, acts, hw, states, side)
    hs = states[0]
    with xp._overflow_is_fine():
        for t in _order(steps, r):
            tick()  # BLAS threads follow the machine's load (backends/threads.py)
            prev, new = t + r, t + 1 - r
            recur(hs[prev], hw)
            if step_bias is not None:
                hw += step_bias
            step(t, prev, new)
            if mask is not None:  # padded steps keep the state
                for k in range(kind.states):
                    states[k, new] = xp.where(mask[t], states[k, new], states[k, prev])
    reserve.arrays = (acts if kind.keeps_gates else None, side)
    return states


def _bptt_in_place(kind: _Kind, xp: Any, g: Any, out: Any, w_hh: Any, mask: Any,
                   reserve: _Reserve, r: int) -> tuple:
    """The reverse loop on arrays: (dgates input side, W_hh side, initial states' grads)."""
    steps, batch = out.shape[1] - 1, out.shape[2]
    acts, side = reserve.arrays
    whole = xp.sequence_backward(kind.name, w_hh) if mask is None else None
    if whole is not None:  # the loop in one call
        tick()
        dgx, *initial = whole(g, acts, out, w_hh, reverse=bool(r))
        return dgx, dgx, tuple(initial)
    dgx = xp.empty((steps, batch, w_hh.shape[0]), dtype=out.dtype)
    # the W_hh side differs from the input side only in the GRU (r scales W_hn h + b_hn)
    dgh = dgx if kind.fold_bias else xp.empty(dgx.shape, dtype=out.dtype)
    d = [g[k, steps * (1 - r)] for k in range(kind.states)]  # reaching the last states
    fused = xp.recurrent_kernels(out.dtype).get(kind.name)
    back = (fused.bind_back if fused else partial(_bind_back, kind))(xp, acts, side, out, dgx,
                                                                      dgh)
    recur = xp.step_matmul(w_hh)  # dgates @ W_hh, W_hh prepared once
    # by turns (t & 1): a step's product never overwrites the gradient it reads
    products = [xp.empty((batch, w_hh.shape[1]), dtype=out.dtype) for _ in range(2)]
    for t in reversed(_order(steps, r)):
        tick()
        prev, new = t + r, t + 1 - r
        direct = back(t, prev, new, d)
        if mask is not None:  # padded rows: no gate gradient, the state's passes through
            keep = mask[t]
            xp.multiply(dgx[t], keep, out=dgx[t])
            if dgh is not dgx:
                xp.multiply(dgh[t], keep, out=dgh[t])
        carry = [recur(dgh[t], products[t & 1]), *direct[1:]]
        if direct[0] is not None:
            carry[0] += direct[0]
        if mask is not None:
            carry = [xp.where(keep, c, dk) for c, dk in zip(carry, d)]
        for k, c in enumerate(carry):
            c += g[k, prev]
        d = carry
    return dgx, dgh, tuple(d)


def _bptt_recorded(kind: _Kind, xp: Any, g: Any, out: Any, x: Any, w_ih: Any, w_hh: Any,
                   b_ih: Any, b_hh: Any, mask: Any, r: int) -> tuple:
    """The same loop in recorded operations, so that it is differentiable again."""
    steps = x.shape[0]
    acts, side = kind.recompute(xp, x, out[:, r:steps + r], out[:, 1 - r:steps + 1 - r],
                                w_ih, w_hh, b_ih, b_hh)
    rows_x, rows_h = [None] * steps, [None] * steps
    d = tuple(g[k, steps * (1 - r)] for k in range(kind.states))
    for t in reversed(_order(steps, r)):
        prev, new = t + r, t + 1 - r
        gx, gh, direct = kind.grads(xp, d, None if acts is None else acts[t],
                                    None if side is None else side[t], out[:, prev], out[:, new])
        if mask is not None:
            keep = mask[t]
            gx, gh = (gx * keep,) * 2 if gh is gx else (gx * keep, gh * keep)
        carry = (xp.matmul(gh, w_hh),) + direct[1:]
        if direct[0] is not None:
            carry = (carry[0] + direct[0],) + carry[1:]
        if mask is not None:
            carry = tuple(xp.where(keep, c, dk) for c, dk in zip(carry, d))
        d = tuple(c + g[k, prev] for k, c in enumerate(carry))
        rows_x[t], rows_h[t] = gx, gh
    dgx = xp.stack(rows_x)
    return dgx, dgx if rows_h[0] is rows_x[0] else xp.stack(rows_h), d


def _backward(kind: _Kind, xp: Any, g: Any, out: Any, x: Any, w_ih: Any, w_hh: Any,
              b_ih: Any, b_hh: Any, mask: Any, reserve: _Reserve, *initial: Any,
              reverse: bool = False, input_grad: bool = True) -> tuple:
    from .. import ops  # the recorded namespace (create_graph)
    r = int(reverse)
    if xp is ops:
        dgx, dgh, dstates = _bptt_recorded(kind, xp, g, out, x, w_ih, w_hh, b_ih, b_hh, mask, r)
    else:
        dgx, dgh, dstates = _bptt_in_place(kind, xp, g, out, w_hh, mask, reserve, r)
    steps, width = x.shape[0], x.shape[-1]
    flat_x, flat_h = (xp.reshape(a, (-1, a.shape[-1])) for a in (dgx, dgh))
    dx = xp.reshape(xp.matmul(flat_x, w_ih), x.shape) if input_grad else None
    dw_ih = xp.matmul(flat_x.T, xp.reshape(x, (-1, width)))
    dw_hh = xp.matmul(flat_h.T, xp.reshape(out[0, r:steps + r], (-1, w_hh.shape[1])))
    db_ih = db_hh = None
    if b_ih is not None:
        total = partial(xp.sum, axis=0) if xp is ops else xp.sum_rows
        db_ih = total(flat_x)
        db_hh = db_ih if dgh is dgx else total(flat_h)
    return (dx, dw_ih, dw_hh, db_ih, db_hh, None, None) + tuple(dstates)


_PRIMITIVES = {name: joint_primitive(f"{name}_sequence", partial(_forward, kind),
                                     partial(_backward, kind))
               for name, kind in _KINDS.items()}


# -- the functions ----------------------------------------------------------------------

def _real_steps(x: Any, lengths: Any) -> Any:
    """(T, B, 1) booleans: True where step t of sequence b is real (t < lengths[b])."""
    lengths = lengths.to(x.device) if isinstance(lengths, Tensor) else \
        tensor(lengths, device=x.device)
    steps, batch = x.shape[0], x.shape[1]
    if lengths.dtype.kind not in "iu" or tuple(lengths.shape) != (batch,):
        raise ValueError(f"lengths must be {batch} integers (one per sequence), got shape "
                         f"{tuple(lengths.shape)} and dtype {lengths.dtype}")
    backend = x._backend
    return backend.arange(steps).reshape(steps, 1, 1) < lengths._data.reshape(1, batch, 1)


def _sequence(name: str, x: Any, initial: tuple, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
              lengths: Any, reverse: bool) -> tuple:
    kind = _KINDS[name]
    fn = f"{name}_sequence"
    if x.ndim != 3 or x.shape[0] == 0:
        raise ValueError(f"{fn}: x must be (steps, batch, features) with at least one step, "
                         f"got shape {tuple(x.shape)}")
    steps, batch, width = x.shape
    hidden = w_hh.shape[-1]
    expected = {"w_ih": (kind.gates * hidden, width), "w_hh": (kind.gates * hidden, hidden)}
    if b_ih is not None or b_hh is not None:
        expected.update(b_ih=(kind.gates * hidden,), b_hh=(kind.gates * hidden,))
    expected.update(zip(("h0", "c0"), [(batch, hidden)] * kind.states))
    given = dict(w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh, **dict(zip(("h0", "c0"), initial)))
    for what, shape in expected.items():
        value = given[what]
        if value is None or tuple(value.shape) != shape:
            got = "None" if value is None else f"shape {tuple(value.shape)}"
            raise ValueError(f"{fn}: expected {what} of shape {shape} for x of shape "
                             f"{tuple(x.shape)} and hidden size {hidden}, got {got}")
        if value.dtype != x.dtype:
            raise TypeError(f"{fn}: {what} has dtype {value.dtype} but x has {x.dtype}")
    mask = None if lengths is None else _real_steps(x, lengths)
    out = _PRIMITIVES[name](x, w_ih, w_hh, b_ih, b_hh, mask, _Reserve(), *initial,
                            reverse=bool(reverse),
                            input_grad=bool(getattr(x, "requires_grad", False)))
    r = int(bool(reverse))
    return (out[0, 1 - r:steps + 1 - r],) + tuple(out[k, steps * (1 - r)]
                                                  for k in range(kind.states))


def lstm_sequence(x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Optional[Any] = None,
                  b_hh: Optional[Any] = None, lengths: Any = None,
                  reverse: bool = False) -> tuple:
    """One LSTM layer, one direction, over x (T, B, I) from (h0, c0) (B, H) each, with
    weights laid out as PyTorch's (gates i, f, g, o): returns ``(output, h_n, c_n)``,
    output (T, B, H). ``reverse`` runs from the last step to the first; ``lengths``
    (B integers) marks steps from each length on as padding (state kept, no gradient)."""
    return _sequence("lstm", x, (h0, c0), w_ih, w_hh, b_ih, b_hh, lengths, reverse)


def gru_sequence(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Optional[Any] = None,
                 b_hh: Optional[Any] = None, lengths: Any = None, reverse: bool = False) -> tuple:
    """One GRU layer (gates r, z, n), one direction: returns ``(output, h_n)`` (see
    :func:`lstm_sequence` for the arguments)."""
    return _sequence("gru", x, (h0,), w_ih, w_hh, b_ih, b_hh, lengths, reverse)


def rnn_tanh_sequence(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Optional[Any] = None,
                      b_hh: Optional[Any] = None, lengths: Any = None,
                      reverse: bool = False) -> tuple:
    """One Elman layer, h' = tanh(W_ih x + b_ih + W_hh h + b_hh): ``(output, h_n)``."""
    return _sequence("rnn_tanh", x, (h0,), w_ih, w_hh, b_ih, b_hh, lengths, reverse)


def rnn_relu_sequence(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Optional[Any] = None,
                      b_hh: Optional[Any] = None, lengths: Any = None,
                      reverse: bool = False) -> tuple:
    """One Elman layer with relu instead of tanh: ``(output, h_n)``."""
    return _sequence("rnn_relu", x, (h0,), w_ih, w_hh, b_ih, b_hh, lengths, reverse)


from ..tensor import Tensor, tensor  # noqa: E402  (defined before the ops load)
