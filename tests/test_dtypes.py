"""Float32 stays float32, forward and backward; mg.tensor's dtype rules."""
import numpy as np
import pytest

import minigrad as mg

F32 = np.dtype(np.float32)

# Each expression mixes a float32 tensor with Python scalars (NumPy 2's NEP 50 makes a
# float64 *NumPy* scalar, e.g. from np.log(2.0) inside a rule, promote; these must not).
EXPRESSIONS = {
    "mul_scalar": lambda x: x * 2.5,
    "rmul_scalar": lambda x: 2.5 * x,
    "add_scalar": lambda x: x + 0.1,
    "rsub_scalar": lambda x: 1.0 - x,
    "div_scalar": lambda x: x / 3.0,
    "rdiv_scalar": lambda x: 2.0 / x,
    "pow_int": lambda x: x ** 2,
    "pow_float": lambda x: x ** 1.5,
    "pow_negative": lambda x: x ** -0.5,
    "rpow": lambda x: 2.0 ** x,
    "sqrt": lambda x: mg.sqrt(x),
    "exp_log": lambda x: mg.log(mg.exp(x) + 1.0),
    "tanh": lambda x: mg.tanh(x * 0.5),
    "sigmoid": lambda x: mg.sigmoid(x),
    "relu": lambda x: mg.relu(x - 1.0),
    "abs": lambda x: mg.abs(x - 1.0),
    "where_zero": lambda x: mg.where(x > 1.0, x, 0),
    "where_float": lambda x: mg.where(x > 1.0, 0.5, x),
    "maximum_scalar": lambda x: mg.maximum(x, 1.0),
    "minimum_scalar": lambda x: mg.minimum(0.75, x),
    "clip": lambda x: mg.clip(x, 0.6, 1.2),
    "mean": lambda x: x.mean(),
    "mean_axis": lambda x: x.mean(axis=0),
    "var": lambda x: x.var(axis=1),
    "std": lambda x: x.std(),
    "sum": lambda x: x.sum(axis=1, keepdims=True) * 0.5,
    "max": lambda x: x.amax(axis=0),
    "max_dim": lambda x: x.max(dim=0).values,
    "min": lambda x: x.min(),
    "logsumexp": lambda x: mg.logsumexp(x, axis=1),
    "matmul": lambda x: x @ x.T,
    "getitem": lambda x: x[[0, 0, 1]] * 2.0,
    "pad": lambda x: mg.pad(x, 1, constant_values=0.5),
    "concatenate": lambda x: mg.concatenate([x, x * 2.0], axis=1),
    "stack": lambda x: mg.stack([x, x.reshape(3, 2).T * 1.5], axis=-1),
    "softmax_like": lambda x: mg.exp(x - x.amax(axis=1, keepdims=True)) /
                              mg.exp(x - x.amax(axis=1, keepdims=True)).sum(axis=1, keepdims=True),
    "broadcast": lambda x: mg.broadcast_to(x, (4, 2, 3)) * np.float32(0.5),
}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_float32_stays_float32_forward_and_backward(name):
    x = mg.tensor([[0.5, 1.25, 2.0], [1.5, 0.75, 1.1]], requires_grad=True)
    assert x.dtype == F32
    y = EXPRESSIONS[name](x)
    assert y.dtype == F32, f"forward of {name} gave {y.dtype}"
    seen = []
    y.register_hook(lambda g: seen.append(g.dtype))
    (y * 1.5).sum().backward()
    assert x.grad.dtype == F32, f"backward of {name} gave {x.grad.dtype}"
    assert seen == [F32]
    assert np.all(np.isfinite(x.grad.numpy()))


def test_float32_second_order_stays_float32():
    x = mg.tensor([0.5, 1.5], requires_grad=True)
    (g,) = mg.grad((mg.tanh(x) * 2.0 + x ** 3 / 3.0).sum(), x, create_graph=True)
    assert g.dtype == F32
    (h,) = mg.grad((g * 0.5).sum(), x)
    assert h.dtype == F32


def test_float64_stays_float64():
    x = mg.tensor(np.array([0.5, 1.5]), requires_grad=True)
    assert x.dtype == np.float64
    y = (mg.sigmoid(x) * 2.5 + 1.0 / x).mean()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64


def test_float32_with_a_float64_tensor_promotes_as_numpy_does():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == F32 and b.grad.dtype == np.float64  # each grad has its input's dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_large_inputs(dtype):
    values = np.array([-1000.0, -50.0, -5.0, 0.0, 5.0, 50.0, 1000.0], dtype=dtype)
    x = mg.tensor(values, requires_grad=True)
    with np.errstate(over="raise", invalid="raise"):
        y = mg.sigmoid(x)
        y.sum().backward()
    expected = np.exp(-np.logaddexp(0.0, -values.astype(np.float64)))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(x.grad.numpy(), expected * (1 - expected), rtol=1e-5, atol=1e-7)
    assert y.dtype == dtype and x.grad.dtype == dtype


# -- mg.tensor's dtype rules -----------------------------------------------------------------

@pytest.mark.parametrize("data, expected", [
    (1.5, np.float32),
    ([1.0, 2.0], np.float32),
    ([[1.0], [2]], np.float32),
    ((0.5, 0.25), np.float32),
    (np.array([1.0, 2.0]), np.float64),
    (np.array([1.0, 2.0], dtype=np.float32), np.float32),
    (np.array([1.0], dtype=np.float16), np.float16),
    (np.float64(2.0), np.float64),
    (3, np.int64),
    ([1, 2, 3], np.int64),
    (np.array([1, 2], dtype=np.int32), np.int32),
    (True, np.bool_),
    ([True, False], np.bool_),
])
def test_tensor_dtype_rules(data, expected):
    t = mg.tensor(data)
    assert t.dtype == expected
    assert isinstance(t.dtype, np.dtype)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_explicit_dtype_wins_and_tensor_copies():
    assert mg.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert mg.tensor(1.5, dtype="float64").dtype == np.float64
    assert mg.tensor([1.7, 2.2], dtype=mg.int64).numpy().tolist() == [1, 2]
    source = np.array([1.0, 2.0])
    t = mg.tensor(source)
    source[0] = 10.0
    assert t.numpy()[0] == 1.0  # a copy, not a view
    u = mg.tensor(t, dtype=np.float32)
    assert u.dtype == F32 and t.dtype == np.float64


def test_factories_default_to_float32():
    for t in (mg.zeros(2, 3), mg.ones((2,)), mg.randn(2), mg.rand(3), mg.full((2,), 1.5),
              mg.empty(1), mg.linspace(0, 1, 3), mg.eye(2), mg.arange(0.0, 1.0, 0.5)):
        assert t.dtype == F32, t
    assert mg.arange(3).dtype == np.int64
    assert mg.zeros_like(mg.tensor(np.zeros(2))).dtype == np.float64
    assert mg.randn(2, dtype=np.float64).dtype == np.float64


def test_to_and_astype_change_dtypes():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    d = x.to(np.float64)
    assert d.dtype == np.float64 and d.requires_grad
    assert x.double().dtype == np.float64 and x.float() is x
    assert x.to("float64").dtype == np.float64
    (d * 2.0).sum().backward()
    assert x.grad.dtype == F32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    assert mg.tensor([1.9]).long().dtype == np.int64
