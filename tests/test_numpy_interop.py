"""NumPy functions on tensors: routed to minigrad ops, or refused, never silently detached.

``np.sin(t)``, ``np.sum(t, axis=0)``, ``ndarray * t`` … run as the ``minigrad.ops``
function of the same name (a Tensor on the tape: gradients equal to the op's and to
PyTorch's); a NumPy function minigrad lacks runs in NumPy only where no graph is lost,
and otherwise raises a TypeError that says what to do instead.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import ops

try:  # only the oracle test needs it (and skips without it)
    import torch
except ImportError:
    torch = None

F32, F64 = np.float32, np.float64
SHAPE = (3, 4)


def values(lo=-2.0, hi=2.0, shape=SHAPE):
    return hnp.arrays(F64, shape, elements=st.floats(lo, hi, allow_nan=False,
                                                     allow_subnormal=False))


def positive():
    return values(0.2, 2.0)


def spread():
    """Distinct values: a standard deviation away from 0 (where its gradient is 0/0)."""
    return hnp.arrays(F64, SHAPE, elements=st.floats(-2.0, 2.0, allow_subnormal=False),
                      unique=True)


def needs(*names):
    """Skip a case whose minigrad op another part of the code base has not added yet."""
    missing = [n for n in names if not callable(getattr(ops, n, None))]
    if missing:
        pytest.skip(f"minigrad.ops lacks {missing}")


# name: (NumPy call on tensors, the same through minigrad.ops, torch, input strategies, ops used)
# The NumPy-call side receives the constant array ``c`` (a plain ndarray) as well.
CASES = {
    "exp": (lambda x, c: np.exp(x), lambda x, c: ops.exp(x), lambda x, c: x.exp(),
            [values()], ["exp"]),
    "log": (lambda x, c: np.log(x), lambda x, c: ops.log(x), lambda x, c: x.log(),
            [positive()], ["log"]),
    "sqrt": (lambda x, c: np.sqrt(x), lambda x, c: ops.sqrt(x), lambda x, c: x.sqrt(),
             [positive()], ["sqrt"]),
    "tanh": (lambda x, c: np.tanh(x), lambda x, c: ops.tanh(x), lambda x, c: x.tanh(),
             [values()], ["tanh"]),
    "sin": (lambda x, c: np.sin(x), lambda x, c: ops.sin(x), lambda x, c: x.sin(),
            [values()], ["sin"]),
    "cos": (lambda x, c: np.cos(x), lambda x, c: ops.cos(x), lambda x, c: x.cos(),
            [values()], ["cos"]),
    "absolute": (lambda x, c: np.abs(x), lambda x, c: ops.abs(x), lambda x, c: x.abs(),
                 [positive()], ["abs"]),
    "negative": (lambda x, c: np.negative(x), lambda x, c: ops.negative(x), lambda x, c: -x,
                 [values()], ["negative"]),
    "add": (lambda x, y, c: np.add(x, y), lambda x, y, c: ops.add(x, y),
            lambda x, y, c: x + y, [values(), values()], ["add"]),
    "array_times_tensor": (lambda x, c: c * x, lambda x, c: ops.multiply(c, x),
                           lambda x, c: c * x, [values()], ["multiply"]),
    "array_minus_tensor": (lambda x, c: c - x, lambda x, c: ops.subtract(c, x),
                           lambda x, c: c - x, [values()], ["subtract"]),
    "array_over_tensor": (lambda x, c: c / x, lambda x, c: ops.divide(c, x),
                          lambda x, c: c / x, [positive()], ["divide"]),
    "array_matmul_tensor": (lambda x, c: c.T @ x, lambda x, c: ops.matmul(c.T, x),
                            lambda x, c: c.T @ x, [values()], ["matmul"]),
    "numpy_scalar_times_tensor": (lambda x, c: np.float64(2.5) * x,
                                  lambda x, c: ops.multiply(2.5, x), lambda x, c: 2.5 * x,
                                  [values()], ["multiply"]),
    "power": (lambda x, c: np.power(x, 3.0), lambda x, c: ops.power(x, 3.0),
              lambda x, c: x ** 3.0, [values()], ["power"]),
    "maximum": (lambda x, y, c: np.maximum(x, y), lambda x, y, c: ops.maximum(x, y),
                lambda x, y, c: x.maximum(y), [values(), values()], ["maximum"]),
    "minimum_with_array": (lambda x, c: np.minimum(c, x), lambda x, c: ops.minimum(c, x),
                           lambda x, c: c.minimum(x), [values()], ["minimum"]),
    "matmul": (lambda x, y, c: np.matmul(x, y.T), lambda x, y, c: ops.matmul(x, y.T),
               lambda x, y, c: x @ y.T, [values(), values()], ["matmul"]),
    "sum_axis": (lambda x, c: np.sum(x, axis=0), lambda x, c: ops.sum(x, axis=0),
                 lambda x, c: x.sum(0), [values()], ["sum"]),
    "sum_keepdims": (lambda x, c: np.sum(x, (0, 1), keepdims=True),
                     lambda x, c: ops.sum(x, (0, 1), keepdims=True),
                     lambda x, c: x.sum((0, 1), keepdim=True), [values()], ["sum"]),
    "mean": (lambda x, c: np.mean(x, axis=1), lambda x, c: ops.mean(x, axis=1),
             lambda x, c: x.mean(1), [values()], ["mean"]),
    "max_is_amax": (lambda x, c: np.max(x, axis=1), lambda x, c: ops.max(x, axis=1),
                    lambda x, c: x.amax(1), [values()], ["max"]),
    "amin": (lambda x, c: np.amin(x), lambda x, c: ops.min(x), lambda x, c: x.amin(),
             [values()], ["min"]),
    "var_ddof": (lambda x, c: np.var(x, axis=0, ddof=1), lambda x, c: ops.var(x, 0, ddof=1),
                 lambda x, c: x.var(0, correction=1), [spread()], ["var"]),
    "std_correction": (lambda x, c: np.std(x, correction=1), lambda x, c: ops.std(x, ddof=1),
                       lambda x, c: x.std(correction=1), [spread()], ["std"]),
    "concatenate": (lambda x, y, c: np.concatenate([x, y], axis=1),
                    lambda x, y, c: ops.concatenate([x, y], axis=1),
                    lambda x, y, c: torch.cat([x, y], 1), [values(), values()],
                    ["concatenate"]),
    "stack": (lambda x, y, c: np.stack([x, c, y], axis=-1),
              lambda x, y, c: ops.stack([x, c, y], axis=-1),
              lambda x, y, c: torch.stack([x, c, y], -1), [values(), values()], ["stack"]),
    "reshape": (lambda x, c: np.reshape(x, (4, 3)), lambda x, c: ops.reshape(x, (4, 3)),
                lambda x, c: x.reshape(4, 3), [values()], ["reshape"]),
    "transpose": (lambda x, c: np.transpose(x), lambda x, c: ops.transpose(x),
                  lambda x, c: x.T, [values()], ["transpose"]),
    "transpose_axes": (lambda x, c: np.transpose(x[None], (2, 0, 1)),
                       lambda x, c: ops.transpose(x[None], (2, 0, 1)),
                       lambda x, c: x[None].permute(2, 0, 1), [values()], ["transpose"]),
    "swapaxes": (lambda x, c: np.swapaxes(x, 0, 1), lambda x, c: ops.swapaxes(x, 0, 1),
                 lambda x, c: x.transpose(0, 1), [values()], ["swapaxes"]),
    "expand_dims": (lambda x, c: np.expand_dims(x, 1), lambda x, c: ops.expand_dims(x, 1),
                    lambda x, c: x.unsqueeze(1), [values()], ["expand_dims"]),
    "broadcast_to": (lambda x, c: np.broadcast_to(x, (2, 3, 4)),
                     lambda x, c: ops.broadcast_to(x, (2, 3, 4)),
                     lambda x, c: x.expand(2, 3, 4), [values()], ["broadcast_to"]),
    "split": (lambda x, c: np.split(x, 2, axis=1)[1], lambda x, c: ops.split(x, 2, 1)[1],
              lambda x, c: x.split(2, 1)[1], [values()], ["split"]),
    "pad": (lambda x, c: np.pad(x, 1, constant_values=0.5),
            lambda x, c: ops.pad(x, 1, constant_values=0.5),
            lambda x, c: torch.nn.functional.pad(x, (1, 1, 1, 1), value=0.5),
            [values()], ["pad"]),
    "where": (lambda x, y, c: np.where(c > 0, x, y), lambda x, y, c: ops.where(c > 0, x, y),
              lambda x, y, c: torch.where(c > 0, x, y), [values(), values()], ["where"]),
    "clip": (lambda x, c: np.clip(x, -0.5, 0.75), lambda x, c: ops.clip(x, -0.5, 0.75),
             lambda x, c: x.clamp(-0.5, 0.75), [values()], ["clip"]),
    "clip_keywords": (lambda x, c: np.clip(x, a_min=None, a_max=c),
                      lambda x, c: ops.clip(x, max=c),
                      lambda x, c: x.clamp(max=c), [values()], ["clip"]),
    "copy": (lambda x, c: np.copy(x), lambda x, c: ops.copy(x), lambda x, c: x.clone(),
             [values()], ["copy"]),
    "add_reduce": (lambda x, c: np.add.reduce(x), lambda x, c: ops.sum(x, axis=0),
                   lambda x, c: x.sum(0), [values()], ["sum"]),
    "maximum_reduce": (lambda x, c: np.maximum.reduce(x, axis=1, keepdims=True),
                       lambda x, c: ops.max(x, axis=1, keepdims=True),
                       lambda x, c: x.amax(1, keepdim=True), [values()], ["max"]),
    "multiply_outer": (lambda x, y, c: np.multiply.outer(x[0], y[:, 1]),
                       lambda x, y, c: ops.multiply(ops.reshape(x[0], (4, 1)), y[:, 1]),
                       lambda x, y, c: torch.outer(x[0], y[:, 1]), [values(), values()],
                       ["multiply"]),
    "cumsum": (lambda x, c: np.cumsum(x, axis=1), lambda x, c: ops.cumsum(x, axis=1),
               lambda x, c: x.cumsum(1), [values()], ["cumsum"]),
    "add_accumulate": (lambda x, c: np.add.accumulate(x), lambda x, c: ops.cumsum(x, axis=0),
                       lambda x, c: x.cumsum(0), [values()], ["cumsum"]),
}

def _vjp(out, xs, v):
    (out * mg.tensor(v)).sum().backward()
    return [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_routed_numpy_call_stays_on_the_tape(name, data):
    numpy_fn, ops_fn, _, strategies, op_names = CASES[name]
    needs(*op_names)
    arrays = [data.draw(s) for s in strategies]
    c = data.draw(values())
    xs = [mg.tensor(a, requires_grad=True) for a in arrays]
    out = numpy_fn(*xs, c)
    assert isinstance(out, mg.Tensor) and out.requires_grad and out.dtype == F64
    ys = [mg.tensor(a, requires_grad=True) for a in arrays]
    expected = ops_fn(*ys, c)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    v = np.random.default_rng(1).standard_normal(out.shape)
    for got, want in zip(_vjp(out, xs, v), _vjp(expected, ys, v)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_routed_numpy_call_matches_torch(name, data):
    pytest.importorskip("torch")
    numpy_fn, _, torch_fn, strategies, op_names = CASES[name]
    needs(*op_names)
    arrays = [data.draw(s) for s in strategies]
    c = data.draw(values())
    xs = [mg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = numpy_fn(*xs, c), torch_fn(*ts, torch.tensor(c))
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = np.random.default_rng(1).standard_normal(out.shape)
    (tout * torch.tensor(v)).sum().backward()
    for got, t in zip(_vjp(out, xs, v), ts):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-10, atol=1e-12)


# -- NumPy on the left of an operator ------------------------------------------------------

@pytest.mark.parametrize("expression, dtype", [
    (lambda t: np.ones(3) * t, F64),                     # NumPy's promotion, as t * np.ones(3)
    (lambda t: t * np.ones(3), F64),
    (lambda t: np.ones(3, dtype=F32) * t, F32),
    (lambda t: np.float32(2.0) * t, F32),
    (lambda t: 2.0 * t, F32),
    (lambda t: np.add(t, 1.0), F32),
    (lambda t: np.add(t, np.float32(1.0)), F32),
    (lambda t: np.exp(t), F32),
    (lambda t: np.sum(t), F32),
    (lambda t: np.maximum(t, 0), F32),
    (lambda t: np.sum(t, dtype=F64), F64),
    (lambda t: np.multiply(t, t, dtype=F64), F64),
    (lambda t: np.concatenate([t, t], dtype=F64), F64),
])
def test_results_are_tensors_with_gradient_and_the_right_dtype(expression, dtype):
    t = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    out = expression(t)
    assert isinstance(out, mg.Tensor) and out.requires_grad
    assert out.dtype == dtype
    out.sum().backward()
    assert t.grad is not None and t.grad.dtype == F32


def test_scalar_operands_agree_in_either_order():
    t = mg.tensor([1.0, 2.0], requires_grad=True)
    for scalar in (np.float64(2.0), np.float32(2.0), 2.0, 2):
        assert (scalar * t).dtype == (t * scalar).dtype
        np.testing.assert_array_equal((scalar * t).numpy(), (t * scalar).numpy())


def test_comparisons_with_an_array_on_the_left_give_tensors():
    t = mg.tensor([1.0, 2.0, 3.0])
    result = np.array([2.0, 2.0, 2.0]) < t
    assert isinstance(result, mg.Tensor) and result.dtype == np.bool_
    assert result.numpy().tolist() == [False, False, True]


# -- what has no minigrad counterpart --------------------------------------------------------

def test_unroutable_ufunc_on_a_tensor_that_requires_grad_is_refused():
    t = mg.tensor([1.0, 8.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np\.cbrt\(\) has no minigrad counterpart.*"
                                        r"t\.detach\(\)\.numpy\(\)"):
        np.cbrt(t)


def test_unroutable_function_on_a_tensor_that_requires_grad_is_refused():
    t = mg.tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np\.linalg\.norm\(\) has no minigrad counterpart"):
        np.linalg.norm(t)
    with pytest.raises(TypeError, match=r"np\.multiply\.reduceat\(\).*cut from the graph"):
        np.multiply.reduceat(t, [0])


def test_without_gradients_numpy_computes_on_host_arrays():
    t = mg.tensor([1.0, 8.0])
    result = np.cbrt(t)
    assert type(result) is np.ndarray and result.dtype == F32
    np.testing.assert_allclose(result, [1.0, 2.0])
    assert np.linalg.norm(mg.tensor([3.0, 4.0])) == pytest.approx(5.0)
    needs_grad = mg.tensor([1.0, 8.0], requires_grad=True)
    with mg.no_grad():
        np.testing.assert_allclose(np.cbrt(needs_grad), [1.0, 2.0])


def test_results_that_carry_no_gradient_are_allowed_on_tensors_that_require_grad():
    t = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    assert np.allclose(t, [1.0, -2.0, 3.0])
    assert np.isclose(t, t).all()
    assert np.shape(t) == (3,)
    assert np.ndim(t) == 1
    assert np.count_nonzero(t) == 3
    (indices,) = np.where(t > 0)  # np.where(c) is np.nonzero(c)
    assert list(np.asarray(indices)) == [0, 2]
    assert np.zeros_like(t).tolist() == [0.0, 0.0, 0.0]  # nothing depends on t's values
    assert int(np.argmax(t)) == 2


def test_no_numpy_call_silently_returns_floats_cut_from_the_graph():
    """Whatever minigrad ops exist, a float result is a Tensor on the tape, or refused."""
    t = mg.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    calls = [np.sin, np.cos, np.tan, np.arctan, np.log1p, np.expm1, np.log2, np.log10,
             np.square, np.reciprocal, np.prod, np.add.accumulate,
             np.multiply.reduce, np.trace, np.diagonal, np.tril, np.triu, np.flip, np.ptp,
             np.median, np.sort, np.exp2, np.sinh, np.fmax.reduce,
             lambda x: np.cumsum(x, axis=1), lambda x: np.cumprod(x, axis=0),
             lambda x: np.hypot.outer(x, x),
             lambda x: np.dot(x, x), lambda x: np.einsum("ij->i", x),
             lambda x: np.roll(x, 1), lambda x: np.tile(x, 2), lambda x: np.repeat(x, 2),
             lambda x: np.linalg.inv(x), lambda x: np.fmod(x, 0.3)]
    for call in calls:
        try:
            result = call(t)
        except TypeError as exc:
            assert "detach()" in str(exc)
            continue
        assert isinstance(result, mg.Tensor) and result.requires_grad, call


# -- out=, in-place and ufunc methods ---------------------------------------------------------

def test_out_into_an_array_is_refused_when_it_would_cut_the_graph():
    t = mg.tensor([1.0, 2.0], requires_grad=True)
    target = np.zeros(2, dtype=F32)
    with pytest.raises(TypeError, match=r"np\.add\(\.\.\., out=array\).*drop out="):
        target += t
    with pytest.raises(TypeError, match=r"np\.sum\(\.\.\., out=array\)"):
        np.sum(t, axis=0, out=np.zeros((), dtype=F32))
    target += t.detach()  # no gradient to lose: NumPy writes into its own array
    np.testing.assert_array_equal(target, [1.0, 2.0])


def test_out_into_a_tensor_is_always_refused():
    t, u = mg.tensor([1.0, 2.0]), mg.tensor([0.0, 0.0])
    with pytest.raises(TypeError, match=r"np\.exp\(\.\.\., out=tensor\).*t\[\.\.\.\] = value"):
        np.exp(t, out=u)
    with pytest.raises(TypeError, match=r"out=tensor"):
        np.sum(t, out=u[0])


def test_numpy_in_place_writes_into_a_tensor_are_refused():
    t = mg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"np\.add\.at\(\) would write into a minigrad tensor"):
        np.add.at(t, [0, 0], 1.0)
    with pytest.raises(TypeError, match=r"np\.copyto\(\) would write into"):
        np.copyto(t, np.zeros(3))
    target = np.zeros(3)
    with pytest.raises(TypeError, match=r"np\.copyto\(\) would copy values of a tensor that "
                                        r"requires grad"):
        np.copyto(target, mg.tensor([1.0, 2.0, 3.0], requires_grad=True))
    np.copyto(target, t)
    np.testing.assert_array_equal(target, [1.0, 2.0, 3.0])
    assert t.numpy().tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("call, message", [
    (lambda t: np.reshape(t, (3, 2), order="F"), r"np\.reshape: argument order='F'"),
    (lambda t: np.sum(t, where=np.ones((2, 3), bool)), r"np\.sum: argument where="),
    (lambda t: np.pad(t, 1, mode="reflect"), r"np\.pad: argument mode='reflect'"),
    (lambda t: np.add(t, 1.0, casting="unsafe"), r"np\.add: argument casting='unsafe'"),
    (lambda t: np.add.reduce(t, initial=1.0), r"np\.add\.reduce: argument initial=1\.0"),
])
def test_numpy_arguments_minigrad_cannot_honour_are_refused(call, message):
    t = mg.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match=message):
        call(t)


def test_numpy_defaults_passed_explicitly_are_accepted():
    t = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = np.sum(t, 0, None, None, False)
    out2 = np.add.reduce(t, axis=0, dtype=None, keepdims=False, where=True)
    np.testing.assert_array_equal(out.numpy(), out2.numpy())
    assert np.reshape(t, (3, 2), order="C").shape == (3, 2)
    assert np.pad(t, 1, mode="constant").shape == (4, 5)


# -- explicit conversion stays NumPy's ---------------------------------------------------------

def test_explicit_conversions_give_numpy_arrays_even_when_grad_is_required():
    t = mg.tensor([1.0, 2.0], requires_grad=True)
    for array in (np.asarray(t), np.array(t), t.numpy(), np.asarray(t, dtype=F64)):
        assert type(array) is np.ndarray
        np.testing.assert_array_equal(array, [1.0, 2.0])
    assert np.asarray(t, dtype=F64).dtype == F64
    np.testing.assert_allclose(t, [1.0, 2.0])
    np.testing.assert_array_equal(np.array([t, t]), [[1.0, 2.0], [1.0, 2.0]])
