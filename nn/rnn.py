"""Recurrent layers (RNN, LSTM, GRU) and their single-step cells, PyTorch-compatible.

Parameter names, shapes, gate order, formulas, initialisation and return values
are PyTorch's (see design.md "Recurrent layers"), so a PyTorch ``state_dict``
loads unchanged. The layers run each layer and direction as one engine
primitive over the whole sequence (``mg.lstm_sequence`` and friends: one node,
BPTT in one reverse loop, the shared weights' gradients in one GEMM each). The
step-by-step path below is the readable reference, held equal to it by the
tests: the whole input sequence is projected with one matmul, then a step is
one small ``h @ W_hh.T`` plus a handful of elementwise ops, and the tape sums the
per-step gradients of the shared weights. It runs for the cells, when a step
hook watches the states, and when ``fused`` is set to False.
"""
from __future__ import annotations

import math
import sys
from typing import Any, Callable, Optional, Sequence, Union

import minigrad as mg

from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, pack_like, pad_packed_sequence

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU"]

State = tuple  # (h,) or, for the LSTM, (h, c); each (B, H)
StepHook = Callable[["RNNBase", int, int, int, mg.Tensor], None]


# -- one time step of each kind -------------------------------------------------------
# ``xg`` is this step's input projection W_ih x + bias (for RNN/LSTM the bias already
# holds b_ih + b_hh; the GRU needs b_hh apart, inside r * (W_hn h + b_hn)).

def _tanh_step(xg: mg.Tensor, state: State, w_hh_t: mg.Tensor, b_hh: Any) -> State:
    return (mg.addmm(xg, state[0], w_hh_t).tanh(),)


def _relu_step(xg: mg.Tensor, state: State, w_hh_t: mg.Tensor, b_hh: Any) -> State:
    return (mg.addmm(xg, state[0], w_hh_t).relu(),)


def _lstm_step(xg: mg.Tensor, state: State, w_hh_t: mg.Tensor, b_hh: Any) -> State:
    h, c = state
    return mg.lstm_cell(mg.addmm(xg, h, w_hh_t), c)  # the engine's fused i, f, g, o update


def _gru_step(xg: mg.Tensor, state: State, w_hh_t: mg.Tensor, b_hh: Any) -> State:
    h = state[0]
    n = h.shape[-1]
    gh = h @ w_hh_t if b_hh is None else mg.addmm(b_hh, h, w_hh_t)
    rz = (xg + gh)[:, :2 * n].sigmoid()
    cand = (xg[:, 2 * n:] + rz[:, :n] * gh[:, 2 * n:]).tanh()
    return (cand + rz[:, n:] * (h - cand),)  # (1 - z) * n + z * h


# mode -> (number of gates, step, whether b_hh is folded into the input projection)
_KINDS: dict[str, tuple[int, Callable[..., State], bool]] = {
    "RNN_TANH": (1, _tanh_step, True),
    "RNN_RELU": (1, _relu_step, True),
    "LSTM": (4, _lstm_step, True),
    "GRU": (3, _gru_step, False),
}

# mode -> the engine's whole-sequence primitive (one layer, one direction)
_SEQUENCES: dict[str, Callable[..., tuple]] = {
    "RNN_TANH": mg.rnn_tanh_sequence,
    "RNN_RELU": mg.rnn_relu_sequence,
    "LSTM": mg.lstm_sequence,
    "GRU": mg.gru_sequence,
}

_PUBLIC_NAME = {"RNN_TANH": "RNN", "RNN_RELU": "RNN", "LSTM": "LSTM", "GRU": "GRU"}


def _rnn_mode(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}: use 'tanh' or 'relu'")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


def _projection_bias(b_ih: Optional[mg.Tensor], b_hh: Optional[mg.Tensor],
                     fold_hh: bool) -> Optional[mg.Tensor]:
    if b_ih is None:
        return None
    return b_ih + b_hh if fold_hh else b_ih


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


# -- cells ----------------------------------------------------------------------------

class RNNCellBase(Module):
    """Shared parameters and checks of the one-step cells."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool) -> None:
        super().__init__()
        _check_positive("input_size", input_size)
        _check_positive("hidden_size", hidden_size)
        self.mode = mode
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gh = _KINDS[mode][0] * hidden_size
        k = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = Parameter(mg.uniform(-k, k, (gh, input_size)))
        self.weight_hh = Parameter(mg.uniform(-k, k, (gh, hidden_size)))
        if bias:
            self.bias_ih = Parameter(mg.uniform(-k, k, (gh,)))
            self.bias_hh = Parameter(mg.uniform(-k, k, (gh,)))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def extra_repr(self) -> str:
        extra = "" if self.bias else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}{extra}"

    def _check_input(self, x: mg.Tensor) -> bool:
        """Validate ``x`` and say whether it has a batch axis."""
        name = type(self).__name__
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},) (unbatched), got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input with {self.input_size} features on its "
                             f"last axis (input_size={self.input_size}), got shape "
                             f"{tuple(x.shape)}")
        if x.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input has dtype {x.dtype} but the parameters have dtype "
                            f"{self.weight_ih.dtype}; cast one of them (e.g. module.double())")
        return x.ndim == 2

    def _state(self, hx: Optional[mg.Tensor], x: mg.Tensor, batched: bool,
               what: str = "hx") -> mg.Tensor:
        batch = x.shape[0] if batched else 1
        expected = (batch, self.hidden_size) if batched else (self.hidden_size,)
        if hx is None:
            return mg.zeros((batch, self.hidden_size), dtype=x.dtype, device=x.device)
        if tuple(hx.shape) != expected:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {expected}, "
                             f"got shape {tuple(hx.shape)}")
        return hx if batched else hx.reshape(1, self.hidden_size)

    def _step(self, x: mg.Tensor, state: State) -> State:
        _, step, fold = _KINDS[self.mode]
        xg = x @ self.weight_ih.T
        bias = _projection_bias(self.bias_ih, self.bias_hh, fold)
        if bias is not None:
            xg = xg + bias
        return step(xg, state, self.weight_hh.T, None if fold else self.bias_hh)


def _as_batch(x: mg.Tensor, batched: bool) -> mg.Tensor:
    return x if batched else x.reshape(1, x.shape[0])


def _unbatch(h: mg.Tensor, batched: bool) -> mg.Tensor:
    return h if batched else h.reshape(h.shape[-1])


class RNNCell(RNNCellBase):
    """One Elman step: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh") -> None:
        super().__init__(_rnn_mode(nonlinearity), input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, input: mg.Tensor, hx: Optional[mg.Tensor] = None) -> mg.Tensor:
        batched = self._check_input(input)
        h = self._state(hx, input, batched)
        return _unbatch(self._step(_as_batch(input, batched), (h,))[0], batched)


class LSTMCell(RNNCellBase):
    """One LSTM step; ``hx`` is ``(h, c)``; returns ``(h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias)

    def forward(self, input: mg.Tensor, hx: Optional[tuple] = None) -> tuple:
        batched = self._check_input(input)
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError("LSTMCell: hx must be a tuple (h, c)")
        h = self._state(hx[0], input, batched, "h")
        c = self._state(hx[1], input, batched, "c")
        h, c = self._step(_as_batch(input, batched), (h, c))
        return _unbatch(h, batched), _unbatch(c, batched)


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n, with n = tanh(W_in x + b_in + r * (W_hn h + b_hn)))."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__("GRU", input_size, hidden_size, bias)

    def forward(self, input: mg.Tensor, hx: Optional[mg.Tensor] = None) -> mg.Tensor:
        batched = self._check_input(input)
        h = self._state(hx, input, batched)
        return _unbatch(self._step(_as_batch(input, batched), (h,))[0], batched)


# -- multi-layer, optionally bidirectional layers ----------------------------------------

class RNNBase(Module):
    """The time loop shared by RNN, LSTM and GRU.

    ``forward(input, hx=None, lengths=None)``: ``lengths`` (B integers in [1, T])
    makes a variable-length batch: padded steps leave the state unchanged and get
    no gradient, ``h_n`` is each sequence's last real step, padded outputs are zero,
    and the reverse direction starts at each sequence's own last real step.

    ``fused`` (default True): run each layer and direction as one whole-sequence
    primitive; set it False (or register a step hook) for the step-by-step path.
    """

    fused: bool = True

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0) -> None:
        super().__init__()
        _check_positive("input_size", input_size)
        _check_positive("hidden_size", hidden_size)
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if not 0 <= proj_size < hidden_size:
            raise ValueError(f"proj_size has to be a non-negative integer smaller than "
                             f"hidden_size ({hidden_size}), got {proj_size}")
        _check_positive("num_layers", num_layers)
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1], got {dropout!r}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = proj_size
        self._step_hooks: list = []
        out = proj_size or hidden_size  # the width of h (PyTorch's real_hidden_size)
        gh = _KINDS[mode][0] * hidden_size
        k = 1.0 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            width = input_size if layer == 0 else self.num_directions * out
            for suffix in self._suffixes(layer):
                setattr(self, "weight_ih" + suffix, Parameter(mg.uniform(-k, k, (gh, width))))
                setattr(self, "weight_hh" + suffix, Parameter(mg.uniform(-k, k, (gh, out))))
                if bias:
                    setattr(self, "bias_ih" + suffix, Parameter(mg.uniform(-k, k, (gh,))))
                    setattr(self, "bias_hh" + suffix, Parameter(mg.uniform(-k, k, (gh,))))
                if proj_size:  # h_t = W_hr (o * tanh(c_t)), as PyTorch's LSTM
                    setattr(self, "weight_hr" + suffix,
                            Parameter(mg.uniform(-k, k, (proj_size, hidden_size))))

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def flatten_parameters(self) -> None:
        """PyTorch compacts cuDNN's weight buffer here; the weights are used as they are,
        so there is nothing to do (kept so ported code runs)."""

    def _suffixes(self, layer: int) -> list:
        return [f"_l{layer}", f"_l{layer}_reverse"][:self.num_directions]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("proj_size", 0)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s

    def register_step_hook(self, hook: StepHook, with_cell: bool = False) -> mg.RemovableHandle:
        """Call ``hook(module, layer, direction, t, h_t)`` with every step's new hidden
        state during forward (what :mod:`nn.utils.gradient_flow` builds on); for an LSTM
        with ``with_cell=True``, ``hook(module, layer, direction, t, h_t, c_t)`` so the
        cell state can be read too. While a step hook is registered the layer runs the
        step-by-step path (the fused one has no per-step states to show)."""
        if with_cell and self.mode != "LSTM":
            raise ValueError(f"{self._name}: with_cell=True needs an LSTM (only it has a cell "
                             "state)")
        if with_cell:
            def call(module: "RNNBase", layer: int, d: int, t: int, state: State) -> None:
                hook(module, layer, d, t, state[0], state[1])
        else:
            def call(module: "RNNBase", layer: int, d: int, t: int, state: State) -> None:
                hook(module, layer, d, t, state[0])
        self._step_hooks.append(call)
        return mg.RemovableHandle(self._step_hooks, call)

    # -- checks ----------------------------------------------------------------------
    @property
    def _name(self) -> str:
        return _PUBLIC_NAME[self.mode]

    def _check_input(self, x: mg.Tensor) -> bool:
        layout = "(batch, seq, features)" if self.batch_first else "(seq, batch, features)"
        if x.ndim not in (2, 3):
            raise ValueError(f"{self._name}: expected a 3-d input {layout} or a 2-d unbatched "
                             f"input (seq, features) with features={self.input_size}, got "
                             f"shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{self._name}: expected input with {self.input_size} features on "
                             f"its last axis (input_size={self.input_size}), got shape "
                             f"{tuple(x.shape)}")
        weight = self.weight_ih_l0
        if x.dtype != weight.dtype:
            raise TypeError(f"{self._name}: input has dtype {x.dtype} but the parameters have "
                            f"dtype {weight.dtype}; cast one of them (e.g. module.double())")
        return x.ndim == 3

    def _initial(self, hx: Optional[mg.Tensor], batch: int, batched: bool, x: mg.Tensor,
                 what: str) -> list:
        """The initial state as a list of (B, H) tensors, one per (layer, direction)
        (h is proj_size wide when the LSTM projects)."""
        count = self.num_layers * self.num_directions
        size = self.proj_size if self.proj_size and what == "h_0" else self.hidden_size
        if hx is None:
            zero = mg.zeros((batch, size), dtype=x.dtype, device=x.device)
            return [zero] * count
        expected = (count, batch, size) if batched else (count, size)
        if tuple(hx.shape) != expected:
            raise ValueError(f"{self._name}: expected {what} of shape {expected} "
                             f"(num_layers * num_directions, "
                             f"{'batch, ' if batched else ''}hidden_size), got shape "
                             f"{tuple(hx.shape)}")
        if not batched:
            hx = hx.reshape(count, 1, size)
        return [hx[i] for i in range(count)]

    def _masks(self, lengths: Any, steps: int, batch: int, x: mg.Tensor) -> tuple:
        """The lengths as a checked tensor on ``x``'s device, the (T', B, 1) mask of the
        real steps, and how many steps T' need computing.

        Host lengths (a list, a NumPy array, a CPU tensor: the usual case, a batch's
        lengths are known when it is built) are checked on the host, which costs no GPU
        wait, and only the longest's steps are computed. Lengths already on a GPU are
        checked there without waiting for it (a bad one raises at the next host sync),
        and all T steps are computed: finding the longest would mean reading it back."""
        if lengths is None:
            return None, None, steps
        on_gpu = isinstance(lengths, mg.Tensor) and lengths.device.type != "cpu"
        lengths = lengths if isinstance(lengths, mg.Tensor) else mg.tensor(lengths, device="cpu")
        if lengths.dtype.kind not in "iu":
            raise TypeError(f"{self._name}: lengths must be integers, got dtype "
                            f"{lengths.dtype}")
        if tuple(lengths.shape) != (batch,):
            raise ValueError(f"{self._name}: lengths must hold one length per sequence, "
                             f"shape ({batch},), got shape {tuple(lengths.shape)}")
        if on_gpu:
            lengths, longest = lengths.to(x.device), steps
            mg.cuda.check_range(lengths, 1, steps + 1, f"{self._name}: every length must lie "
                                f"in [1, {steps}] (the input has {steps} steps), got a length "
                                "of {bad}", ValueError)
        else:
            shortest, longest = int(lengths.min().item()), int(lengths.max().item())
            if shortest < 1 or longest > steps:
                raise ValueError(f"{self._name}: every length must lie in [1, {steps}] (the "
                                 f"input has {steps} steps), got lengths from {shortest} to "
                                 f"{longest}")
            lengths = lengths.to(x.device)  # a copy to the GPU: no wait
        real = mg.arange(longest, device=x.device).reshape(longest, 1, 1) < \
            lengths.reshape(1, batch, 1)
        return lengths, real, longest

    # -- the forward pass ----------------------------------------------------------------
    def forward(self, input: Union[mg.Tensor, PackedSequence], hx: Any = None,
                lengths: Union[Sequence[int], mg.Tensor, None] = None) -> tuple:
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, lengths)
        batched = self._check_input(input)
        if lengths is not None and not batched:
            raise ValueError(f"{self._name}: lengths needs a batched (3-d) input")
        x = input if batched else input.reshape(input.shape[0], 1, input.shape[1])
        if batched and self.batch_first:
            x = x.swapaxes(0, 1)
        output, final_states = self._run(x, hx, lengths, batched)
        if batched and self.batch_first:
            output = output.swapaxes(0, 1)
        elif not batched:
            output = output.reshape(x.shape[0], output.shape[-1])
        if self.mode == "LSTM":
            return output, (final_states[0], final_states[1])
        return output, final_states[0]

    def _forward_packed(self, packed: PackedSequence, hx: Any, lengths: Any) -> tuple:
        """A PackedSequence in, one out (PyTorch's API), on the padded batch with
        ``lengths=``: the same single time loop. ``hx`` and ``h_n`` are in the batch's
        original order, as in PyTorch."""
        if lengths is not None:
            raise ValueError(f"{self._name}: a PackedSequence carries its own lengths; do not "
                             "pass lengths= as well")
        padded, lens = pad_packed_sequence(packed)
        self._check_input(padded)
        output, final_states = self._run(padded, hx, lens, batched=True)
        out = pack_like(output, packed)
        if self.mode == "LSTM":
            return out, (final_states[0], final_states[1])
        return out, final_states[0]

    def _run(self, x: mg.Tensor, hx: Any, lengths: Any, batched: bool) -> tuple:
        """Every layer and direction over time-major (T, B, I) input: the (T, B, D*H)
        output and the final states [(L*D, B, H), ...] (unbatched: (L*D, H))."""
        steps, batch = x.shape[0], x.shape[1]
        if self.mode == "LSTM":
            if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise ValueError("LSTM: hx must be a tuple (h_0, c_0)")
            h0, c0 = (None, None) if hx is None else hx
            states = list(zip(self._initial(h0, batch, batched, x, "h_0"),
                              self._initial(c0, batch, batched, x, "c_0")))
        else:
            states = [(h,) for h in self._initial(hx, batch, batched, x, "hx")]
        lengths, real, computed = self._masks(lengths, steps, batch, x)
        fused = self.fused and not self._step_hooks and not self.proj_size
        masks = None if fused or real is None else [real[t] for t in range(computed)]
        layer_input = x if computed == steps else x[:computed]
        finals = []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                layer_input = self._drop(layer_input)
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                state = states[layer * self.num_directions + d]
                if fused:
                    out, *final = _SEQUENCES[self.mode](
                        layer_input, *state, *self._weights(suffix), lengths=lengths,
                        reverse=d == 1)
                else:
                    out, final = self._direction(layer_input, layer, d, suffix, state, masks)
                outs.append(out)
                finals.append(final)
            layer_input = outs[0] if len(outs) == 1 else mg.concatenate(outs, axis=2)
        output = layer_input
        if real is not None:
            output = mg.where(real, output, 0)
            if computed < steps:
                output = mg.pad(output, ((0, steps - computed), (0, 0), (0, 0)))
        final_states = [mg.stack([f[i] for f in finals]) for i in range(len(finals[0]))]
        if not batched:
            final_states = [s.reshape(s.shape[0], s.shape[-1]) for s in final_states]
        return output, final_states

    def _drop(self, x: mg.Tensor) -> mg.Tensor:
        """Inverted dropout between layers (training only)."""
        p = self.dropout
        scale = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
        keep = (mg.rand(x.shape, dtype=x.dtype, device=x.device) >= p).astype(x.dtype) * scale
        return x * keep

    def _weights(self, suffix: str) -> tuple:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer and direction. The names are
        interned: CPython's attribute cache keeps a reference to each name looked up, so a
        fresh string per call would hold a little more memory every step for a while."""
        return tuple(getattr(self, sys.intern(name + suffix), None)
                     for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def _direction(self, x: mg.Tensor, layer: int, direction: int, suffix: str,
                   state: State, masks: Optional[list]) -> tuple:
        """Run one layer in one direction over (T, B, width) input, step by step (the
        reference path); (output, final state)."""
        _, step, fold = _KINDS[self.mode]
        w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
        steps, batch, width = x.shape
        xg = x.reshape(steps * batch, width) @ w_ih.T   # the whole sequence in one GEMM
        bias = _projection_bias(b_ih, b_hh, fold)
        if bias is not None:
            xg = xg + bias
        xg = xg.reshape(steps, batch, w_ih.shape[0])
        w_hh_t = w_hh.T
        w_hr = getattr(self, "weight_hr" + suffix, None)
        w_hr_t = None if w_hr is None else w_hr.T
        b_step = None if fold else b_hh
        hooks = self._step_hooks
        hs: list = [None] * steps
        order = range(steps) if direction == 0 else range(steps - 1, -1, -1)
        for t in order:
            new = step(xg[t], state, w_hh_t, b_step)
            if w_hr_t is not None:
                new = (new[0] @ w_hr_t, new[1])
            if masks is not None:  # padded steps keep the old state (and pass no gradient)
                new = tuple(mg.where(masks[t], n, s) for n, s in zip(new, state))
            state = new
            hs[t] = state[0]
            for hook in hooks:
                hook(self, layer, direction, t, state)
        return mg.stack(hs), state


class RNN(RNNBase):
    """Multi-layer Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) (or relu).

    Returns ``(output, h_n)``: output (T, B, D*H) (or (B, T, D*H) with batch_first),
    h_n (D*num_layers, B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False) -> None:
        super().__init__(_rnn_mode(nonlinearity), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Multi-layer LSTM (gates i, f, g, o); ``hx`` is ``(h_0, c_0)``.

    Returns ``(output, (h_n, c_n))``. The additive cell path c' = f*c + i*g is what
    lets gradients survive long spans.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size)


class GRU(RNNBase):
    """Multi-layer GRU (gates r, z, n); returns ``(output, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional)
