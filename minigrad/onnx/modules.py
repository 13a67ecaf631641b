"""Layers exported as ONNX's own operators, lowered at the module level.

The exporter records a call of these modules as one event (trace.py) and writes it here:
``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (and their cells, as one-step sequences) become
ONNX's ``RNN`` / ``LSTM`` / ``GRU``; ``Conv1d/2d`` ``Conv``; ``MaxPool1d/2d`` ``MaxPool``;
``AvgPool1d/2d`` ``AveragePool``; ``Embedding`` ``Gather``. Lowering the module, not the
primitives it happens to run, keeps the graph to what runtimes optimise and lets every
size (batch, sequence, image) vary.

Recurrent weights keep PyTorch's names as initializers; the graph restacks them into
ONNX's layout (runtimes fold that once at load): per direction, W (G*H, in), R (G*H, H)
and B = [b_ih, b_hh] with the gates reordered -- ONNX's LSTM stacks i, o, f, c where
PyTorch stacks i, f, g, o, and ONNX's GRU z, r, h where PyTorch has r, z, n (with
``linear_before_reset=1``, PyTorch's placement of r).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

import minigrad.nn as nn
from minigrad.nn.utils.rnn import PackedSequence

from .lowering import ModuleOp

__all__ = ["lowering_for"]

ModuleLowering = Callable[[ModuleOp], None]

# (ONNX operator, gate order in PyTorch's stacking, activations per direction)
_RECURRENT = {"LSTM": ("LSTM", [0, 3, 1, 2], None), "GRU": ("GRU", [1, 0, 2], None),
              "RNN_TANH": ("RNN", [0], ["Tanh"]), "RNN_RELU": ("RNN", [0], ["Relu"])}


# -- recurrent layers ------------------------------------------------------------------------

def _gates(op: ModuleOp, name: str, order: list, hidden: int) -> str:
    """Parameter ``name`` (G*H, ...) with its gate blocks in ONNX's order."""
    weight = op.parameter(name)
    if order == list(range(len(order))):
        return weight
    blocks = op.node("Split", [weight, op.graph.ints([hidden] * len(order))],
                     outputs=len(order), axis=0)
    return op.node("Concat", [blocks[i] for i in order], axis=0)


def _stacked(op: ModuleOp, suffixes: list, order: list, hidden: int, bias: bool) -> tuple:
    """ONNX's W, R, B inputs (directions stacked on axis 0) from PyTorch's parameters,
    made once per module and layer however often it runs."""
    memo = ("recurrent weights", id(op.module), tuple(suffixes))
    if memo not in op.graph.memo:
        op.graph.memo[memo] = _restack(op, suffixes, order, hidden, bias)
    return op.graph.memo[memo]


def _restack(op: ModuleOp, suffixes: list, order: list, hidden: int, bias: bool) -> tuple:
    per: dict = {"W": [], "R": [], "B": []}
    for s in suffixes:
        per["W"].append(_gates(op, "weight_ih" + s, order, hidden))
        per["R"].append(_gates(op, "weight_hh" + s, order, hidden))
        if bias:
            per["B"].append(op.node("Concat", [_gates(op, "bias_ih" + s, order, hidden),
                                               _gates(op, "bias_hh" + s, order, hidden)],
                                    axis=0))
    out = []
    for key in ("W", "R", "B"):
        parts = [op.graph.unsqueeze(p, [0], op.scope) for p in per[key]]
        out.append(None if not parts else parts[0] if len(parts) == 1
                   else op.node("Concat", parts, axis=0))
    return tuple(out)


def _recurrent_node(op: ModuleOp, mode: str, x: str, weights: tuple, hidden: int,
                    directions: int, lengths: Optional[str], h0: Optional[str],
                    c0: Optional[str]) -> list:
    """One ONNX RNN/LSTM/GRU node; returns [Y, Y_h] (+ Y_c for an LSTM)."""
    op_type, _, activations = _RECURRENT[mode]
    inputs = [x, *weights, lengths, h0] + ([c0] if op_type == "LSTM" else [])
    while inputs[-1] is None:
        inputs.pop()
    return op.node(op_type, inputs, outputs=3 if op_type == "LSTM" else 2,
                   hidden_size=hidden,
                   direction="bidirectional" if directions == 2 else "forward",
                   activations=None if activations is None else activations * directions,
                   linear_before_reset=1 if op_type == "GRU" else None)


def _mode(m: Any) -> str:
    """The recurrence of a layer or cell, as a key of _RECURRENT."""
    if isinstance(m, (nn.LSTM, nn.LSTMCell)):
        return "LSTM"
    if isinstance(m, (nn.GRU, nn.GRUCell)):
        return "GRU"
    return "RNN_RELU" if m.nonlinearity == "relu" else "RNN_TANH"


def _states(op: ModuleOp, mode: str, hx_a: Any, hx_b: Any) -> tuple:
    """(h0, c0) operands from ``hx`` (None where not given)."""
    if hx_a is None:
        return None, None
    if mode == "LSTM":
        if not isinstance(hx_a, (tuple, list)) or len(hx_a) != 2:
            op.fail("an LSTM's hx must be a tuple (h_0, c_0)")
        return (op.value(hx_a[0], hx_b[0], "h_0"), op.value(hx_a[1], hx_b[1], "c_0"))
    return op.value(hx_a, hx_b, "h_0"), None


def _recurrent(op: ModuleOp) -> None:
    """A multi-layer RNN/LSTM/GRU: one ONNX operator per layer (both directions in one),
    time-major in between, the final states of all layers concatenated."""
    m = op.module
    if getattr(m, "proj_size", 0):
        op.fail("an LSTM with proj_size has no ONNX LSTM equivalent", unsupported=True)
    if m.training and m.dropout and m.num_layers > 1:
        op.fail("dropout between layers in training mode cannot be exported (call "
                "model.eval() or export with the default training=TrainingMode.EVAL)")
    x_a, x_b = op.argument(0, "input")
    if isinstance(x_a, PackedSequence):
        op.fail("a PackedSequence input cannot be exported; pass the padded batch and "
                "lengths= instead", unsupported=True)
    x_in = op.value(x_a, x_b, "input")
    batched = x_in.ndim == 3
    x = x_in.ref(scope=op.scope)                     # as (T, B, I):
    if not batched:
        x = op.graph.unsqueeze(x, [1], op.scope)
    elif m.batch_first:
        x = op.node("Transpose", [x], perm=[1, 0, 2])
    mode = _mode(m)
    states = []                                      # (L*D, B, H) each
    for s in _states(op, mode, *op.argument(1, "hx")):
        ref = None if s is None else s.ref(x_in.dtype, op.scope)
        states.append(ref if ref is None or batched else
                      op.graph.unsqueeze(ref, [1], op.scope))
    lengths_a, lengths_b = op.argument(2, "lengths")
    lengths = None if lengths_a is None else \
        op.value(lengths_a, lengths_b, "lengths").ref(np.int32, op.scope)
    H, D, L = m.hidden_size, m.num_directions, m.num_layers
    finals: list = [[], []]                          # per layer: Y_h (, Y_c)
    for layer in range(L):
        weights = _stacked(op, [f"_l{layer}", f"_l{layer}_reverse"][:D], _RECURRENT[mode][1],
                           H, m.bias)
        starts = [s if s is None or L == 1 else op.node(
            "Slice", [s, op.graph.ints([layer * D]), op.graph.ints([(layer + 1) * D]),
                      op.graph.ints([0])]) for s in states]
        y, *ends = _recurrent_node(op, mode, x, weights, H, D, lengths, *starts)
        if D == 1:                                   # Y (T, D, B, H) -> (T, B, D*H)
            x = op.graph.squeeze(y, [1], op.scope)
        else:
            x = op.node("Reshape", [op.node("Transpose", [y], perm=[0, 2, 1, 3]),
                                    op.graph.ints([0, 0, -1])])
        for k, end in enumerate(ends):
            finals[k].append(end)
    if not batched:
        x = op.graph.squeeze(x, [1], op.scope)
    elif m.batch_first:
        x = op.node("Transpose", [x], perm=[1, 0, 2])
    op.bind(op.output[0], op.output_b[0], x)
    ends = [f[0] if len(f) == 1 else op.node("Concat", f, axis=0) for f in finals if f]
    if not batched:
        ends = [op.graph.squeeze(f, [1], op.scope) for f in ends]
    if mode == "LSTM":
        op.bind(op.output[1][0], op.output_b[1][0], ends[0])
        op.bind(op.output[1][1], op.output_b[1][1], ends[1])
    else:
        op.bind(op.output[1], op.output_b[1], ends[0])


def _cell(op: ModuleOp) -> None:
    """A cell is a one-step, one-layer sequence: (B, I) -> (1, B, I) and back."""
    m = op.module
    mode = _mode(m)
    x_in = op.value(*op.argument(0, "input"), "input")
    batched = x_in.ndim == 2
    lead = [0] if batched else [0, 1]
    x = op.graph.unsqueeze(x_in.ref(scope=op.scope), lead, op.scope)
    h0, c0 = _states(op, mode, *op.argument(1, "hx"))
    refs = [None if s is None else op.graph.unsqueeze(s.ref(x_in.dtype, op.scope), lead,
                                                      op.scope) for s in (h0, c0)]
    order = _RECURRENT[mode][1]
    weights = _stacked(op, [""], order, m.hidden_size, m.bias)
    outs = _recurrent_node(op, mode, x, weights, m.hidden_size, 1, None, *refs)
    finals = [op.graph.squeeze(s, lead, op.scope) for s in outs[1:]]
    if mode == "LSTM":
        op.bind(op.output[0], op.output_b[0], finals[0])
        op.bind(op.output[1], op.output_b[1], finals[1])
    else:
        op.bind(op.output, op.output_b, finals[0])


# -- convolution, pooling, embedding ---------------------------------------------------------

def _tuple(value: Any, n: int) -> list:
    return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value)] * n


def _spatial(op: ModuleOp, n: int) -> tuple:
    """The input as a batched (N, C, *spatial) value, and whether it was unbatched."""
    x_in = op.value(*op.argument(0, "input"), "input")
    x = x_in.ref(scope=op.scope)
    unbatched = x_in.ndim == n + 1
    return (op.graph.unsqueeze(x, [0], op.scope) if unbatched else x), unbatched


def _finish(op: ModuleOp, y: str, unbatched: bool) -> None:
    op.bind(op.output, op.output_b, op.graph.squeeze(y, [0], op.scope) if unbatched else y)


def _conv(op: ModuleOp) -> None:
    m = op.module
    n = len(m.kernel_size)
    kernel, dilation = _tuple(m.kernel_size, n), _tuple(m.dilation, n)
    if m.padding == "valid":
        begin = end = [0] * n
    elif m.padding == "same":
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        begin = [t // 2 for t in totals]
        end = [t - b for t, b in zip(totals, begin)]
    else:
        begin = end = _tuple(m.padding, n)
    x, unbatched = _spatial(op, n)
    bias = None if m.bias is None else op.parameter("bias")
    y = op.node("Conv", [x, op.parameter("weight"), bias], kernel_shape=kernel,
                strides=_tuple(m.stride, n), pads=begin + end, dilations=dilation,
                group=int(m.groups))
    _finish(op, y, unbatched)


def _max_pool(op: ModuleOp) -> None:
    m = op.module
    n = 2 if isinstance(m, nn.MaxPool2d) else 1
    if getattr(m, "return_indices", False):
        op.fail("return_indices=True is not supported", unsupported=True)
    x, unbatched = _spatial(op, n)
    pads = _tuple(m.padding, n)
    y = op.node("MaxPool", [x], kernel_shape=_tuple(m.kernel_size, n),
                strides=_tuple(m.stride, n), pads=pads + pads,
                dilations=_tuple(m.dilation, n), ceil_mode=int(m.ceil_mode))
    _finish(op, y, unbatched)


def _avg_pool(op: ModuleOp) -> None:
    m = op.module
    n = 2 if isinstance(m, nn.AvgPool2d) else 1
    x, unbatched = _spatial(op, n)
    pads = _tuple(m.padding, n)
    y = op.node("AveragePool", [x], kernel_shape=_tuple(m.kernel_size, n),
                strides=_tuple(m.stride, n), pads=pads + pads, ceil_mode=int(m.ceil_mode),
                count_include_pad=int(m.count_include_pad))
    _finish(op, y, unbatched)


def _embedding(op: ModuleOp) -> None:
    if op.module.max_norm is not None:
        op.fail("max_norm renormalises the table in place during forward; it cannot be "
                "exported", unsupported=True)
    indices = op.value(*op.argument(0, "input"), "indices").ref(np.int64, op.scope)
    op.bind(op.output, op.output_b,
            op.node("Gather", [op.parameter("weight"), indices], axis=0))


def _avg_pool_fits(m: Any) -> bool:
    """ONNX's AveragePool has no divisor_override; such pools run as primitives instead."""
    return getattr(m, "divisor_override", None) is None


# (class, lowering, extra condition): a subclass that overrides forward is traced instead
_MODULES: list = [
    (nn.RNN, _recurrent, None), (nn.LSTM, _recurrent, None), (nn.GRU, _recurrent, None),
    (nn.RNNCell, _cell, None), (nn.LSTMCell, _cell, None), (nn.GRUCell, _cell, None),
    (nn.Conv2d, _conv, None), (nn.Conv1d, _conv, None),
    (nn.MaxPool2d, _max_pool, None), (nn.MaxPool1d, _max_pool, None),
    (nn.AvgPool2d, _avg_pool, _avg_pool_fits), (nn.AvgPool1d, _avg_pool, _avg_pool_fits),
    (nn.Embedding, _embedding, None),
]


def lowering_for(module: Any) -> Optional[ModuleLowering]:
    """How ``module`` is exported as a whole, or None: its primitives are traced."""
    for cls, lowering, fits in _MODULES:
        if isinstance(module, cls) and type(module).forward is cls.forward and (
                fits is None or fits(module)):
            return lowering
    return None
