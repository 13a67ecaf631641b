"""The table from recorded primitives to ONNX nodes: ``LOWERINGS[name](op) -> output``.

Each entry reads one :class:`~minigrad.onnx.lowering.PrimitiveOp` (operands, parameters,
output shape and dtype in both traces) and adds the nodes that compute the same value.
Operands are cast to the output's dtype where the primitive promoted them (PyTorch's
promotion already happened in the trace: ``x + 1`` of a float32 ``x`` adds a float32 1).
A primitive missing here makes the export fail with its name (see export.py).
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import numpy as np

from .graph import INT64_MAX
from .lowering import PrimitiveOp
from .shapes import runtime_size, slice_bounds, target_shape
from .trace import host, is_array

__all__ = ["LOWERINGS", "CREATIONS"]

Lowering = Callable[[PrimitiveOp], str]
LOWERINGS: dict[str, Lowering] = {}


def lowers(*names: str) -> Callable[[Lowering], Lowering]:
    def register(fn: Lowering) -> Lowering:
        for name in names:
            LOWERINGS[name] = fn
        return fn
    return register


# -- elementwise ---------------------------------------------------------------------------

_UNARY = {"exp": "Exp", "log": "Log", "sqrt": "Sqrt", "tanh": "Tanh", "sigmoid": "Sigmoid",
          "erf": "Erf", "relu": "Relu", "abs": "Abs", "negative": "Neg", "sin": "Sin",
          "cos": "Cos", "tan": "Tan", "arctan": "Atan", "arcsin": "Asin", "arccos": "Acos",
          "sinh": "Sinh", "cosh": "Cosh", "reciprocal": "Reciprocal", "copy": "Identity",
          "to_backend": "Identity"}
_BINARY = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div",
           "power": "Pow", "maximum": "Max", "minimum": "Min", "matmul": "MatMul"}


def _unary(op_type: str, op: PrimitiveOp) -> str:
    return op.node(op_type, [op.input(0, op.dtype)])


def _binary(op_type: str, op: PrimitiveOp) -> str:
    return op.node(op_type, [op.input(0, op.dtype), op.input(1, op.dtype)])


for _name, _type in _UNARY.items():
    LOWERINGS[_name] = partial(_unary, _type)
for _name, _type in _BINARY.items():
    LOWERINGS[_name] = partial(_binary, _type)


@lowers("log1p")
def _log1p(op: PrimitiveOp) -> str:
    return op.node("Log", [op.node("Add", [op.input(0, op.dtype), op.graph.const(1, op.dtype)])])


@lowers("expm1")
def _expm1(op: PrimitiveOp) -> str:
    return op.node("Sub", [op.node("Exp", [op.input(0, op.dtype)]), op.graph.const(1, op.dtype)])


@lowers("clip")
def _clip(op: PrimitiveOp) -> str:
    """Max then Min: the bounds may be numbers or tensors that broadcast."""
    out = op.input(0, op.dtype)
    for param, op_type in (("lo", "Max"), ("hi", "Min")):
        bound = op.params.get(param)
        if bound is not None:
            operand = op.resolve(bound, op.params_b.get(param), f"clip bound {param}")
            out = op.node(op_type, [out, operand.ref(op.dtype, op.scope)])
    return out


@lowers("where")
def _where(op: PrimitiveOp) -> str:
    return op.node("Where", [op.input(0, np.bool_), op.input(1, op.dtype),
                             op.input(2, op.dtype)])


@lowers("astype")
def _astype(op: PrimitiveOp) -> str:
    return op.input(0, op.dtype)


# -- products ----------------------------------------------------------------------------

@lowers("addmm")
def _addmm(op: PrimitiveOp) -> str:
    bias, a, b = (op.input(i, op.dtype) for i in range(3))
    if op.dtype.kind == "f":
        return op.node("Gemm", [a, b, bias])
    return op.node("Add", [op.node("MatMul", [a, b]), bias])


@lowers("einsum")
def _einsum(op: PrimitiveOp) -> str:
    return op.node("Einsum", [op.input(i, op.dtype) for i in range(len(op.inputs))],
                   equation=op.static("spec"))


# -- reductions and scans ------------------------------------------------------------------

_REDUCE = {"sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin",
           "logsumexp": "ReduceLogSumExp", "prod": "ReduceProd"}


def _reduce(op_type: str, op: PrimitiveOp) -> str:
    axis = op.static("axis")
    axes = None if axis is None else [axis] if isinstance(axis, int) else list(axis)
    return op.graph.reduce(op_type, op.input(0, op.dtype), axes, bool(op.params.get("keepdims")),
                           op.scope)


for _name, _type in _REDUCE.items():
    LOWERINGS[_name] = partial(_reduce, _type)


@lowers("log_softmax")
def _log_softmax(op: PrimitiveOp) -> str:
    x, axis = op.input(0, op.dtype), op.static("axis")
    if axis is None:  # a 0-d input: log(softmax) of one element is 0
        return op.node("Sub", [x, x])
    return op.node("LogSoftmax", [x], axis=axis)


@lowers("softmax_cross_entropy")
def _softmax_cross_entropy(op: PrimitiveOp) -> str:
    """F.cross_entropy's fused form: ONNX's own SoftmaxCrossEntropyLoss (same 'mean' over
    the targets not ignored)."""
    return op.node("SoftmaxCrossEntropyLoss", [op.input(0, op.dtype), op.input(1, np.int64)],
                   reduction=op.static("reduction"), ignore_index=int(op.static("ignore_index")))


@lowers("binary_cross_entropy")
def _binary_cross_entropy(op: PrimitiveOp) -> str:
    """F.binary_cross_entropy's elementwise loss, each logarithm floored at -100 (Log gives
    -inf at 0, and Max(-inf, -100) is the floor)."""
    x, y = op.input(0, op.dtype), op.input(1, op.dtype)
    one, floor = op.graph.const(1, op.dtype), op.graph.const(-100, op.dtype)
    log_x = op.node("Max", [op.node("Log", [x]), floor])
    log_rest = op.node("Max", [op.node("Log", [op.node("Sub", [one, x])]), floor])
    terms = op.node("Add", [op.node("Mul", [y, log_x]),
                            op.node("Mul", [op.node("Sub", [one, y]), log_rest])])
    return op.node("Neg", [terms])


@lowers("cumsum")
def _cumsum(op: PrimitiveOp) -> str:
    axis = op.static("axis")
    return op.node("CumSum", [op.input(0, op.dtype), op.graph.const(axis, np.int64)])


@lowers("tril", "triu")
def _triangle(op: PrimitiveOp) -> str:
    return op.node("Trilu", [op.input(0), op.graph.const(op.static("k"), np.int64)],
                   upper=int(op.name == "triu"))


# -- moving elements -----------------------------------------------------------------------

@lowers("reshape")
def _reshape(op: PrimitiveOp) -> str:
    shape, allowzero = target_shape(op, op.params["shape"], op.params_b["shape"], op.inputs[0])
    return op.node("Reshape", [op.input(0), shape], allowzero=allowzero or None)


@lowers("broadcast_to")
def _broadcast_to(op: PrimitiveOp) -> str:
    shape, _ = target_shape(op, op.params["shape"], op.params_b["shape"], op.inputs[0],
                            expand=True)
    return op.node("Expand", [op.input(0), shape])


@lowers("transpose")
def _transpose(op: PrimitiveOp) -> str:
    return op.node("Transpose", [op.input(0)], perm=[int(a) for a in op.static("axes")])


@lowers("concatenate")
def _concatenate(op: PrimitiveOp) -> str:
    return op.node("Concat", [op.input(i, op.dtype) for i in range(len(op.inputs))],
                   axis=int(op.static("axis")))


@lowers("stack")
def _stack(op: PrimitiveOp) -> str:
    axis = int(op.static("axis")) % len(op.shape)
    parts = [op.graph.unsqueeze(op.input(i, op.dtype), [axis], op.scope)
             for i in range(len(op.inputs))]
    return op.node("Concat", parts, axis=axis)


@lowers("pad")
def _pad(op: PrimitiveOp) -> str:
    widths = op.static("pad_width")
    pads = [int(w[0]) for w in widths] + [int(w[1]) for w in widths]
    value = op.params["value"]
    return op.node("Pad", [op.input(0), op.graph.ints(pads),
                           op.graph.const(value, op.dtype)], mode="constant")


@lowers("roll")
def _roll(op: PrimitiveOp) -> str:
    shift, axis = op.static("shift"), op.static("axis")
    x, source = op.input(0), op.inputs[0]
    if axis is None:
        flat = op.node("Reshape", [x, op.graph.ints([-1])])
        rolled = _roll_axis(op, flat, int(shift), 0, int(np.prod(source.shape)),
                            int(np.prod(source.shape_b)))
        return op.node("Reshape", [rolled, op.graph.shape(x, op.scope)])
    shifts = shift if isinstance(shift, tuple) else (shift,)
    axes = axis if isinstance(axis, tuple) else (axis,)
    for s, a in zip(shifts, axes):
        a %= source.ndim
        x = _roll_axis(op, x, int(s), a, source.shape[a], source.shape_b[a])
    return x


def _roll_axis(op: PrimitiveOp, x: str, shift: int, axis: int, n: int, n_b: int) -> str:
    """x rolled by ``shift`` along ``axis``: its last ``shift`` entries, then the rest."""
    if n == 0 or shift % n == 0:
        return x
    s = shift % n
    if s != shift % n_b:
        op.fail(f"rolling by {shift} over an axis whose size changes with the dynamic axes")
    tail = op.node("Slice", [x, op.graph.ints([-s]), op.graph.ints([INT64_MAX]),
                             op.graph.ints([axis])])
    head = op.node("Slice", [x, op.graph.ints([0]), op.graph.ints([-s]), op.graph.ints([axis])])
    return op.node("Concat", [tail, head], axis=axis)


# -- gathering and scattering --------------------------------------------------------------

def _indices(op: PrimitiveOp, what: str) -> str:
    operand = op.resolve(op.params["indices"], op.params_b["indices"], what)
    return operand.ref(np.int64, op.scope)


@lowers("take_along_axis")
def _take_along_axis(op: PrimitiveOp) -> str:
    axis = int(op.static("axis"))
    x_shape, idx_shape = op.inputs[0].shape, np.shape(op.params["indices"])
    if len(x_shape) != len(idx_shape) or any(
            a != b for d, (a, b) in enumerate(zip(x_shape, idx_shape))
            if d != axis % len(x_shape)):
        op.fail(f"indices of shape {idx_shape} broadcast against the input of shape {x_shape}; "
                "ONNX GatherElements needs them equal outside the gathered axis")
    return op.node("GatherElements", [op.input(0), _indices(op, "indices")], axis=axis)


@lowers("scatter")
def _scatter(op: PrimitiveOp) -> str:
    indices = _indices(op, "indices")
    src = op.inputs[1]
    updates = src.ref(op.dtype, op.scope)
    if src.shape != np.shape(op.params["indices"]):
        if src.ndim:
            op.fail(f"a source of shape {src.shape} larger than its indices "
                    f"{np.shape(op.params['indices'])} is not supported")
        updates = op.node("Expand", [updates, op.graph.shape(indices, op.scope)])
    return op.node("ScatterElements", [op.input(0, op.dtype), indices, updates],
                   axis=int(op.static("axis")))


@lowers("add_along_axis")
def _add_along_axis(op: PrimitiveOp) -> str:
    if op.graph.opset < 16:
        op.fail("needs opset 16 or later (ScatterElements with reduction='add')")
    shape, _ = target_shape(op, op.params["shape"], op.params_b["shape"], op.inputs[0])
    zeros = op.node("ConstantOfShape", [shape],
                    value=op.graph.onnx.numpy_helper.from_array(np.zeros(1, op.dtype)))
    return op.node("ScatterElements", [zeros, _indices(op, "indices"), op.input(0, op.dtype)],
                   axis=int(op.static("axis")), reduction="add")


# -- indexing: x[...] ----------------------------------------------------------------------

def _entries(index: Any) -> list:
    entries = list(index) if isinstance(index, tuple) else [index]
    return [np.asarray(e) if isinstance(e, list) else e for e in entries]


def _spread(entries: list, ndim: int) -> list:
    """The index with ``...`` replaced by full slices and trailing axes made explicit."""
    used = sum(e.ndim if is_array(e) and e.dtype == bool else 1 for e in entries
               if e is not None and e is not Ellipsis)
    out: list = []
    for e in entries:
        out.extend([slice(None)] * (ndim - used) if e is Ellipsis else [e])
    if not any(e is Ellipsis for e in entries):
        out.extend([slice(None)] * (ndim - used))
    return out


@lowers("getitem")
def _getitem(op: PrimitiveOp) -> str:
    """Basic slicing (Slice), integers (Gather of a scalar), None (Unsqueeze) and one
    integer index array (Gather along its axis); a constant 1-d boolean mask becomes the
    array of its True positions."""
    x = op.inputs[0]
    a_entries = _spread(_entries(op.params["index"]), x.ndim)
    b_entries = _spread(_entries(op.params_b["index"]), x.ndim)
    if len(a_entries) != len(b_entries):
        op.fail("its index changes form with the dynamic axes")
    starts, ends, axes, steps, ints, arrays, new_axes = [], [], [], [], [], [], []
    axis = out_axis = 0
    for a, b in zip(a_entries, b_entries):
        if a is None:
            new_axes.append(out_axis)
            out_axis += 1
        elif isinstance(a, slice):
            start, end, step = slice_bounds(op, a, b, x.shape[axis], x.shape_b[axis])
            if (start, end, step) != (0, INT64_MAX, 1):
                starts.append(start), ends.append(end), axes.append(axis), steps.append(step)
            axis += 1
            out_axis += 1
        elif is_array(a):
            operand = op.resolve(a, b, "index array")
            if operand.dtype == bool:
                mask = operand.value()
                if mask.ndim != 1:
                    op.fail(f"a {mask.ndim}-d boolean mask index gives a data-dependent shape")
                operand = op.resolve(np.flatnonzero(mask), np.flatnonzero(mask), "mask")
            elif operand.dtype.kind not in "iu":
                op.fail(f"an index array of dtype {operand.dtype}")
            arrays.append((axis, operand))
            axis += 1
            out_axis += operand.ndim
        else:
            i, i_b = int(a), int(b)
            if i != i_b:
                n, n_b = x.shape[axis], x.shape_b[axis]
                if i - n != i_b - n_b:
                    op.fail(f"the integer index {i} moves with the dynamic axes ({i_b})")
                i -= n
            ints.append((axis, i))
            axis += 1
    if len(arrays) > 1 or arrays and ints:
        op.fail("indexing with several index arrays, or index arrays mixed with integers, "
                "is not supported (use one index array with slices)")
    out = op.input(0)
    if axes:
        out = op.node("Slice", [out, op.graph.ints(starts), op.graph.ints(ends),
                                op.graph.ints(axes), op.graph.ints(steps)])
    for axis, operand in arrays:
        out = op.node("Gather", [out, operand.ref(np.int64, op.scope)], axis=axis)
    for axis, i in sorted(ints, reverse=True):
        out = op.node("Gather", [out, op.graph.const(i, np.int64)], axis=axis)
    if new_axes:
        out = op.graph.unsqueeze(out, new_axes, op.scope)
    return out


# -- operations without gradient: comparisons, logic, rounding, arg-reductions ------------

def _common(op: PrimitiveOp) -> np.dtype:
    """The dtype NumPy compared or combined the operands in: a Python number adapts to a
    tensor's dtype unless it is of a higher kind (0.5 against integers is a float)."""
    return np.result_type(*[o.const.item() if o.weak else o.dtype
                            for o in op.inputs if o is not None])


_COMPARE = {"less": "Less", "less_equal": "LessOrEqual", "greater": "Greater",
            "greater_equal": "GreaterOrEqual", "equal": "Equal"}


def _compare(op_type: str, op: PrimitiveOp) -> str:
    dtype = _common(op)
    return op.node(op_type, [op.input(0, dtype), op.input(1, dtype)])


for _name, _type in _COMPARE.items():
    LOWERINGS[_name] = partial(_compare, _type)


@lowers("not_equal")
def _not_equal(op: PrimitiveOp) -> str:
    return op.node("Not", [_compare("Equal", op)])


@lowers("logical_and", "logical_or")
def _logical(op: PrimitiveOp) -> str:
    return op.node("And" if op.name == "logical_and" else "Or",
                   [op.input(0, np.bool_), op.input(1, np.bool_)])


@lowers("logical_not")
def _logical_not(op: PrimitiveOp) -> str:
    return op.node("Not", [op.input(0, np.bool_)])


@lowers("bitwise_and", "bitwise_or", "bitwise_xor", "invert")
def _bitwise(op: PrimitiveOp) -> str:
    """&, |, ^, ~: ONNX's logical operators on bools, its Bitwise* (opset 18) on integers."""
    logical, bitwise = {"bitwise_and": ("And", "BitwiseAnd"), "bitwise_or": ("Or", "BitwiseOr"),
                        "bitwise_xor": ("Xor", "BitwiseXor"),
                        "invert": ("Not", "BitwiseNot")}[op.name]
    if op.dtype == np.bool_:
        return op.node(logical, [op.input(i, np.bool_) for i in range(len(op.inputs))])
    if op.graph.opset < 18:
        op.fail(f"needs opset 18 or later ({bitwise} on {op.dtype} tensors)")
    return op.node(bitwise, [op.input(i, op.dtype) for i in range(len(op.inputs))])


def _floats(op: PrimitiveOp) -> str:
    dtype = op.inputs[0].dtype
    return op.input(0, dtype if dtype.kind == "f" else np.float32)


@lowers("isnan")
def _isnan(op: PrimitiveOp) -> str:
    return op.node("IsNaN", [_floats(op)])


@lowers("isinf")
def _isinf(op: PrimitiveOp) -> str:
    return op.node("IsInf", [_floats(op)])


@lowers("isfinite")
def _isfinite(op: PrimitiveOp) -> str:
    x = _floats(op)
    return op.node("Not", [op.node("Or", [op.node("IsNaN", [x]), op.node("IsInf", [x])])])


@lowers("sign", "floor", "ceil", "round")
def _rounding(op: PrimitiveOp) -> str:
    if op.params.get("decimals", 0):
        op.fail("rounding to decimals is not supported", unsupported=True)
    return op.node(op.name.capitalize(), [op.input(0, op.dtype)])


@lowers("argmax", "argmin")
def _arg_extremum(op: PrimitiveOp) -> str:
    axis, keepdims = op.static("axis"), bool(op.params.get("keepdims", False))
    x = op.input(0)
    if axis is None:
        x, axis = op.node("Reshape", [x, op.graph.ints([-1])]), 0
    out = op.node("ArgMax" if op.name == "argmax" else "ArgMin", [x], axis=int(axis),
                  keepdims=int(keepdims))
    if keepdims and len(op.shape) != 1 and op.params.get("axis") is None:
        out = op.node("Reshape", [out, op.graph.ints(op.shape)])
    return op.graph.cast(out, np.int64, op.dtype, op.scope)


# -- tensors made by factories whose size follows a dynamic axis ----------------------------
# (with a static size the driver folds them into constants; these run only when it varies)

CREATIONS = ("zeros", "ones", "full", "arange")


def _sizes(shape: Any) -> tuple:
    return tuple(int(n) for n in np.atleast_1d(shape))


@lowers("zeros", "ones", "full")
def _filled(op: PrimitiveOp) -> str:
    value = {"zeros": 0, "ones": 1}.get(op.name)
    if value is None:
        value = op.inputs[1].value().item()
    for out in (op.output, op.output_b):
        array = host(out)
        if not np.array_equal(array, np.full(array.shape, value, array.dtype),
                              equal_nan=array.dtype.kind == "f"):
            op.fail("a tensor made by a factory (mg.zeros, mg.full_like...) was then "
                    "written in place; it cannot be exported with a dynamic size")
    shape = op.inputs[0]
    target, _ = target_shape(op, _sizes(shape.const), _sizes(shape.const_b), None)
    fill = op.graph.onnx.numpy_helper.from_array(np.full(1, value, dtype=op.dtype))
    return op.node("ConstantOfShape", [target], value=fill)


@lowers("arange")
def _arange(op: PrimitiveOp) -> str:
    start, end, step = (op.inputs[i] for i in range(3))
    if start.is_const and step.is_const and start.value().size == step.value().size == 1:
        limit = runtime_size(op, int(end.const), int(end.const_b))
        if limit is not None:
            limit = op.graph.cast(op.graph.squeeze(limit, [0], op.scope), np.int64, op.dtype,
                                  op.scope)
            return op.node("Range", [start.ref(op.dtype), limit, step.ref(op.dtype)])
    op.fail(f"mg.arange's end ({end.const}, here {end.const_b} with the dynamic axes grown) "
            "is not the size of an input axis")
