"""The operators' and elementwise methods' short paths (Primitive.binary, .unary) give
exactly what the general Primitive.__call__ gives, for any inputs: values, dtypes, the
tape, gradients and errors; and they really are taken for float tensors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import nn
from minigrad import ops
from minigrad.primitive import Primitive

BINARY = [ops.add, ops.subtract, ops.multiply, ops.divide]
UNARY = [ops.tanh, ops.exp, ops.negative, ops.sigmoid, ops.sqrt, ops.abs]
DTYPES = [np.float32, np.float64, np.int64, np.bool_, np.complex64]


def make(kind, dtype, grad, seed):
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.5, 2.0, (2, 3))
    if kind == "tensor":
        t = mg.tensor(values.astype(dtype))
        return t.requires_grad_(grad and t.dtype.kind in "fc")
    if kind == "parameter":
        return nn.Parameter(mg.tensor(values.astype(np.float32)))
    if kind == "row":  # broadcasts against (2, 3)
        return mg.tensor(values[:1].astype(dtype)).requires_grad_(grad and dtype == np.float64)
    if kind == "wrong shape":
        return mg.tensor(values[:, :2].astype(np.float32))
    return {"float": 0.75, "int": 3, "complex": 1 + 2j, "array": values.astype(np.float64),
            "list": [1.0, 2.0, 3.0], "none": None, "str": "x"}[kind]


def outcome(call):
    """What a call gives: its error's type and message, or the result's observable state."""
    try:
        out = call()
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        return ("error", type(exc), str(exc))
    state = (out.dtype, tuple(out.shape), out.requires_grad, type(out.grad_fn).__name__,
             out.grad_fn.name() if out.grad_fn is not None else None)
    return ("value", state, out)


def assert_same(short, general, leaves):
    a, b = outcome(short), outcome(general)
    assert a[:2] == b[:2]
    if a[0] == "error":
        assert a[2] == b[2]
        return
    np.testing.assert_array_equal(a[2].numpy(), b[2].numpy())
    if a[2].requires_grad and a[2].dtype.kind == "f":
        grads = []
        for out in (a[2], b[2]):
            found = mg.grad(out.sum(), leaves, allow_unused=True)
            grads.append([None if g is None else g.numpy() for g in found])
        for g1, g2 in zip(*grads):
            assert (g1 is None) == (g2 is None)
            if g1 is not None:
                np.testing.assert_array_equal(g1, g2)


KINDS = ["tensor", "parameter", "row", "wrong shape", "float", "int", "complex", "array",
         "list", "none", "str"]


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(BINARY), left=st.sampled_from(["tensor", "parameter", "float"]),
       right=st.sampled_from(KINDS), dtypes=st.tuples(*[st.sampled_from(DTYPES)] * 2),
       grads=st.tuples(st.booleans(), st.booleans()), seed=st.integers(0, 3))
def test_binary_is_the_general_call(op, left, right, dtypes, grads, seed):
    x = make(left, dtypes[0], grads[0], seed)
    y = make(right, dtypes[1], grads[1], seed + 1)
    leaves = [v for v in (x, y) if isinstance(v, mg.Tensor) and v.requires_grad]
    with np.errstate(all="ignore"):
        assert_same(lambda: op.binary(x, y), lambda: op(x, y), leaves)


@settings(max_examples=100, deadline=None)
@given(op=st.sampled_from(UNARY), kind=st.sampled_from(["tensor", "parameter", "float",
                                                        "list", "none"]),
       dtype=st.sampled_from(DTYPES), grad=st.booleans(), seed=st.integers(0, 3))
def test_unary_is_the_general_call(op, kind, dtype, grad, seed):
    x = make(kind, dtype, grad, seed)
    leaves = [x] if isinstance(x, mg.Tensor) and x.requires_grad else []
    with np.errstate(all="ignore"):
        assert_same(lambda: op.unary(x), lambda: op(x), leaves)


def test_no_grad_records_nothing_on_the_short_paths():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.no_grad():
        for out in (x * x, x + 0.5, x.tanh(), -x):
            assert out.grad_fn is None and not out.requires_grad


def test_operators_and_methods_on_float_tensors_skip_the_general_call(monkeypatch):
    x = mg.tensor([[0.5, 1.0]], requires_grad=True)
    w = mg.tensor([[2.0, 3.0]])

    def general(*args, **kwargs):
        raise AssertionError("the general Primitive.__call__ was used")
    monkeypatch.setattr(Primitive, "__call__", general)
    y = ((x * w + x) / w - 0.5) * 2.0
    y = 1.0 - (0.5 + 3.0 * (2.0 / (y + 4.0)))  # a float on the left: the reflected operators
    z = (-y).tanh().sigmoid().exp().log()
    monkeypatch.undo()
    z.sum().backward()
    expected = mg.tensor([[0.5, 1.0]], requires_grad=True)
    ref = ((expected * w + expected) / w - 0.5) * 2.0
    ref = (-(1.0 - (0.5 + 3.0 * (2.0 / (ref + 4.0))))).tanh().sigmoid()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected.grad.numpy(), rtol=1e-6)


def test_errors_still_name_the_op_and_the_shapes():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"^multiply: .*\(input shapes \(2, 3\) and \(2, 2\)\)"):
        x * mg.tensor(np.ones((2, 2)))
