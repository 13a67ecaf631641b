"""Every registered primitive's gradient against central differences.

float64 throughout, shapes drawn by hypothesis (mutually broadcastable, 0-d and
size-1 axes included, every side <= 4) and values kept inside each op's domain
and away from its kinks. ``GRADIENT_TESTS`` maps each primitive name to the test
that checks it; ``test_every_primitive_has_a_gradient_test`` fails when a new
primitive is registered without one.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg

F64 = np.float64


# -- strategies ----------------------------------------------------------------------

def broadcast_shapes(n=2, max_dims=3, max_side=4):
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=max_dims,
                                             min_side=1, max_side=max_side)


def shapes(min_dims=0, max_dims=3, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def floats(lo=-2.0, hi=2.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def values(shape, lo=-2.0, hi=2.0):
    return hnp.arrays(F64, shape, elements=floats(lo, hi))


def away_from_zero(shape, lo=0.2, hi=2.0):
    """Values with |x| in [lo, hi]: no kink of relu/abs, no pole of 1/x."""
    return hnp.arrays(F64, shape, elements=st.one_of(floats(-hi, -lo), floats(lo, hi)))


def on_grid(shape, offset=0.0):
    """Multiples of 1/4 plus ``offset``: two grids with offsets 0 and 1/8 never tie."""
    return hnp.arrays(F64, shape, elements=st.integers(-8, 8).map(lambda k: k / 4 + offset))


def distinct(shape):
    """Pairwise distinct values (>= 1/16 apart): max/min have a unique arg."""
    return hnp.arrays(F64, shape, elements=st.integers(-64, 64).map(lambda k: k / 16),
                      unique=True)


def axes_for(ndim):
    """None, an int (possibly negative) or a tuple of distinct axes."""
    if ndim == 0:
        return st.just(None)
    return st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
            lambda axes: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axes]))
    )


@st.composite
def shape_broadcasting_to(draw, target):
    """A shape that broadcasts *to* ``target``: fewer or equal axes, each 1 or target's."""
    kept = draw(st.integers(0, len(target)))
    return tuple(draw(st.sampled_from([1, n])) for n in target[len(target) - kept:])


def leaf(array):
    return mg.tensor(np.asarray(array, dtype=F64), requires_grad=True)


def check(fn, *arrays):
    assert mg.gradcheck(fn, [leaf(a) for a in arrays])


# -- elementwise -----------------------------------------------------------------------

def _binary(data, fn, a_values=values, b_values=values):
    bs = data.draw(broadcast_shapes())
    a = data.draw(a_values(bs.input_shapes[0]))
    b = data.draw(b_values(bs.input_shapes[1]))
    check(fn, a, b)


@given(st.data())
def test_add(data):
    _binary(data, lambda a, b: a + b)


@given(st.data())
def test_subtract(data):
    _binary(data, lambda a, b: a - b)


@given(st.data())
def test_multiply(data):
    _binary(data, lambda a, b: a * b)


@given(st.data())
def test_divide(data):
    _binary(data, lambda a, b: a / b, b_values=lambda s: away_from_zero(s, 0.5, 2.0))


@given(st.data())
def test_power_tensor_exponent(data):
    _binary(data, lambda a, b: a ** b, a_values=lambda s: values(s, 0.5, 2.0),
            b_values=lambda s: values(s, -2.0, 2.0))


@given(shapes(), st.sampled_from([2, 3, -1, 0.5, -1.5, 2.5]), st.data())
def test_power_scalar_exponent(shape, exponent, data):
    x = data.draw(values(shape, 0.3, 2.0) if isinstance(exponent, float)
                  else away_from_zero(shape, 0.3, 2.0))
    check(lambda a: a ** exponent, x)


@given(shapes(), st.data())
def test_power_scalar_base(shape, data):
    check(lambda b: 2.0 ** b, data.draw(values(shape)))


def _unary(data, fn, make=values):
    check(fn, data.draw(make(data.draw(shapes()))))


@given(st.data())
def test_negative(data):
    _unary(data, lambda x: -x)


@given(st.data())
def test_exp(data):
    _unary(data, mg.exp)


@given(st.data())
def test_log(data):
    _unary(data, mg.log, lambda s: values(s, 0.1, 3.0))


@given(st.data())
def test_sqrt(data):
    _unary(data, mg.sqrt, lambda s: values(s, 0.1, 3.0))


@given(st.data())
def test_tanh(data):
    _unary(data, mg.tanh, lambda s: values(s, -3.0, 3.0))


@given(st.data())
def test_sigmoid(data):
    _unary(data, mg.sigmoid, lambda s: values(s, -6.0, 6.0))


@given(st.data())
def test_erf(data):
    _unary(data, mg.erf, lambda s: values(s, -3.0, 3.0))


@st.composite
def lstm_inputs(draw, max_side=3):
    batch = draw(shapes(max_dims=2, max_side=max_side))
    hidden = draw(st.integers(1, max_side))
    return (draw(values(batch + (4 * hidden,), -3.0, 3.0)),
            draw(values(batch + (hidden,), -2.0, 2.0)))


def _lstm_composed(gates, c):
    hidden = c.shape[-1]
    i, f = mg.sigmoid(gates[..., :hidden]), mg.sigmoid(gates[..., hidden:2 * hidden])
    g, o = mg.tanh(gates[..., 2 * hidden:3 * hidden]), mg.sigmoid(gates[..., 3 * hidden:])
    c_next = f * c + i * g
    return o * mg.tanh(c_next), c_next


@given(lstm_inputs())
def test_lstm_cell(inputs):
    gates, c = inputs
    h, c_next = mg.lstm_cell(mg.tensor(gates), mg.tensor(c))
    h_ref, c_ref = _lstm_composed(mg.tensor(gates), mg.tensor(c))
    np.testing.assert_allclose(h.numpy(), h_ref.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_next.numpy(), c_ref.numpy(), rtol=1e-12, atol=1e-14)
    check(lambda a, b: mg.lstm_cell(a, b), gates, c)


@given(lstm_inputs(max_side=2))
def test_gradgrad_lstm_cell(inputs):
    assert mg.gradgradcheck(lambda a, b: mg.lstm_cell(a, b), [leaf(x) for x in inputs])


@given(st.data())
def test_relu(data):
    _unary(data, mg.relu, away_from_zero)


@given(st.data())
def test_abs(data):
    _unary(data, mg.abs, away_from_zero)


@given(st.data())
def test_maximum(data):
    _binary(data, mg.maximum, on_grid, lambda s: on_grid(s, 0.125))


@given(st.data())
def test_minimum(data):
    _binary(data, mg.minimum, on_grid, lambda s: on_grid(s, 0.125))


@given(shapes(), st.sampled_from([(-1.0, 1.0), (None, 0.5), (-0.5, None), (0.0, 0.0)]),
       st.data())
def test_clip(shape, bounds, data):
    lo, hi = bounds
    x = data.draw(on_grid(shape, 0.125))  # bounds are on the grid: x never sits on one
    check(lambda a: mg.clip(a, lo, hi), x)


@given(st.data())
def test_where(data):
    bs = data.draw(broadcast_shapes(3))
    cond = data.draw(hnp.arrays(np.bool_, bs.input_shapes[0]))
    a = data.draw(values(bs.input_shapes[1]))
    b = data.draw(values(bs.input_shapes[2]))
    check(lambda x, y: mg.where(mg.tensor(cond), x, y), a, b)
    check(lambda x: mg.where(mg.tensor(cond), x, 0.0), a)
    check(lambda y: mg.where(mg.tensor(cond), 1.5, y), b)


@given(shapes(), st.data())
def test_astype(shape, data):
    x = data.draw(values(shape))
    # a float64 -> float64 cast recorded on the tape, then a round trip through float32
    check(lambda a: mg.astype(a, dtype=np.dtype(F64)) * 3.0, x)
    xt = leaf(x)
    # float32 central differences are coarse; the cast is linear, so a large eps is exact
    assert mg.gradcheck(lambda a: (a.astype(np.float32) * 2.0).astype(F64), [xt],
                        eps=1e-2, atol=1e-4)
    y = xt.astype(np.float32)
    assert y.dtype == np.float32
    (y * 2.0).sum().backward()
    assert xt.grad.dtype == np.float64
    np.testing.assert_allclose(xt.grad.numpy(), np.full(shape, 2.0))


@given(shapes(), st.data())
def test_copy(shape, data):
    x = data.draw(values(shape))
    check(lambda a: mg.copy(a) * a, x)
    xt = leaf(x)
    c = xt.clone()
    assert c._data is not xt._data and np.shares_memory(c.numpy(), xt.numpy()) is False


# -- matmul -------------------------------------------------------------------------------

@st.composite
def matmul_shapes(draw, max_side=4):
    m, k, n = (draw(st.integers(1, max_side)) for _ in range(3))
    kind = draw(st.sampled_from(["1d@1d", "1d@2d", "2d@1d", "2d@2d", "batched", "1d@batched",
                                 "batched@1d"]))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=1, max_dims=2, min_side=1, max_side=3)).input_shapes
    return {
        "1d@1d": ((k,), (k,)),
        "1d@2d": ((k,), (k, n)),
        "2d@1d": ((m, k), (k,)),
        "2d@2d": ((m, k), (k, n)),
        "batched": (batch_a + (m, k), batch_b + (k, n)),
        "1d@batched": ((k,), batch_b + (k, n)),
        "batched@1d": (batch_a + (m, k), (k,)),
    }[kind]


@st.composite
def addmm_inputs(draw, max_side=3):
    m, k, n = (draw(st.integers(1, max_side)) for _ in range(3))
    bias_shape = draw(st.sampled_from([(m, n), (n,), (1, n), (m, 1), ()]))
    return draw(values(bias_shape)), draw(values((m, k))), draw(values((k, n)))


@given(addmm_inputs())
def test_addmm(inputs):
    c, a, b = inputs
    np.testing.assert_allclose(mg.addmm(mg.tensor(c), mg.tensor(a), mg.tensor(b)).numpy(),
                               c + a @ b, rtol=1e-12, atol=1e-12)
    check(mg.addmm, c, a, b)


@given(addmm_inputs(max_side=2))
def test_gradgrad_addmm(inputs):
    assert mg.gradgradcheck(mg.addmm, [leaf(x) for x in inputs])


def test_addmm_names_both_shapes():
    with pytest.raises(ValueError, match=r"addmm: needs matrices .* \(2, 3\) and \(4, 5\)"):
        mg.addmm(mg.zeros(5), mg.zeros(2, 3), mg.zeros(4, 5))


@given(matmul_shapes(), st.data())
def test_matmul(shapes_, data):
    a = data.draw(values(shapes_[0]))
    b = data.draw(values(shapes_[1]))
    check(mg.matmul, a, b)
    check(lambda x, y: x @ y, a, b)


# -- reductions ----------------------------------------------------------------------------

def _reduction(data, name, make):
    shape = data.draw(shapes())
    axis = data.draw(axes_for(len(shape)))
    keepdims = data.draw(st.booleans())
    x = data.draw(make(shape))
    check(lambda a: getattr(mg, name)(a, axis=axis, keepdims=keepdims), x)
    check(lambda a: getattr(a, name)(axis=axis, keepdims=keepdims), x)


@given(st.data())
def test_sum(data):
    _reduction(data, "sum", values)


@given(st.data())
def test_max(data):
    _reduction(data, "amax", distinct)


@given(st.data())
def test_min(data):
    _reduction(data, "amin", distinct)


@given(st.data())
def test_logsumexp(data):
    _reduction(data, "logsumexp", lambda s: values(s, -5.0, 5.0))


@given(st.data())
def test_log_softmax(data):
    shape = data.draw(shapes(min_dims=0))
    dim = data.draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    x = data.draw(values(shape, -5.0, 5.0))
    check(lambda a: mg.log_softmax(a, dim), x)
    assert mg.gradgradcheck(lambda a: mg.log_softmax(a, dim), [leaf(x)])


@given(st.data())
def test_softmax_cross_entropy(data):
    rows, classes = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x = data.draw(values((rows, classes), -5.0, 5.0))
    target = data.draw(hnp.arrays(np.int64, (rows,), elements=st.integers(-1, classes - 1)))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    if reduction == "mean" and (target == -1).all():
        target[0] = 0  # the mean over no target at all is nan, as in PyTorch

    def loss(a):
        return mg.ops.softmax_cross_entropy(a, mg.tensor(target), -1, reduction)
    check(loss, x)
    assert mg.gradgradcheck(loss, [leaf(x)])


@given(st.data())
def test_binary_cross_entropy(data):
    """Inside (0, 1), away from the floors and PyTorch's 1e-12, the rule is the derivative."""
    shape = data.draw(shapes())
    x = data.draw(values(shape, 0.05, 0.95))
    y = data.draw(values(shape, 0.0, 1.0))
    check(lambda a, b: mg.ops.binary_cross_entropy(a, b), x, y)
    assert mg.gradgradcheck(lambda a, b: mg.ops.binary_cross_entropy(a, b), [leaf(x), leaf(y)])


def test_max_ties_share_the_gradient():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x.amax(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = leaf([1.0, -1.0, -1.0])
    y.amin().backward()
    np.testing.assert_allclose(y.grad.numpy(), [0, 0.5, 0.5])


@given(st.data())
def test_mean_var_std(data):
    shape = data.draw(shapes(min_dims=1))
    axis = data.draw(axes_for(len(shape)))
    keepdims = data.draw(st.booleans())
    x = data.draw(distinct(shape))
    check(lambda a: a.mean(axis=axis, keepdims=keepdims), x)
    check(lambda a: a.var(axis=axis, keepdims=keepdims, correction=0), x)
    if np.prod([shape[i] for i in range(len(shape))] if axis is None else
               [shape[a] for a in np.atleast_1d(axis)]) > 1:
        check(lambda a: a.std(axis=axis, keepdims=keepdims), x)  # unbiased: n > 1
        check(lambda a: a.var(axis=axis, keepdims=keepdims), x)


# -- shape ---------------------------------------------------------------------------------

@st.composite
def reshape_target(draw, shape):
    size = int(np.prod(shape))
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    d = draw(st.sampled_from(divisors))
    return draw(st.sampled_from([
        (size,), (1, size), tuple(reversed(shape)), (d, size // d), (size // d, 1, d),
        (-1,), (d, -1)]))


@given(st.data())
def test_reshape(data):
    shape = data.draw(shapes())
    target = data.draw(reshape_target(shape))
    x = data.draw(values(shape))
    check(lambda a: a.reshape(target), x)
    check(lambda a: mg.reshape(a, target) * mg.reshape(a, target), x)


@given(st.data())
def test_transpose(data):
    shape = data.draw(shapes())
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    x = data.draw(values(shape))
    check(lambda a: mg.permute(a, perm), x)
    check(lambda a: a.T, x)
    if len(shape) >= 2:
        check(lambda a: mg.swapaxes(a, 0, -1), x)
        check(lambda a: mg.moveaxis(a, -1, 0), x)


@given(st.data())
def test_broadcast_to(data):
    target = data.draw(shapes())
    shape = data.draw(shape_broadcasting_to(target))
    x = data.draw(values(shape))
    check(lambda a: mg.broadcast_to(a, target), x)
    check(lambda a: a.broadcast_to(target) * 1.5, x)
    check(lambda a: a.expand(*target) * 1.5, x)


@given(st.data())
def test_expand_dims_and_squeeze(data):
    shape = data.draw(shapes(max_dims=3))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    x = data.draw(values(shape))
    check(lambda a: mg.expand_dims(a, axis), x)
    check(lambda a: mg.squeeze(mg.expand_dims(a, axis), axis), x)
    check(lambda a: mg.squeeze(a), x)
    check(lambda a: a.unsqueeze(axis).flatten(), x)


@st.composite
def concat_inputs(draw):
    base = list(draw(shapes(min_dims=1)))
    axis = draw(st.integers(-len(base), len(base) - 1))
    n = draw(st.integers(1, 3))
    shapes_ = []
    for _ in range(n):
        s = list(base)
        s[axis] = draw(st.integers(1, 3))
        shapes_.append(tuple(s))
    return [draw(values(s)) for s in shapes_], axis


@given(concat_inputs())
def test_concatenate(inputs):
    arrays, axis = inputs
    check(lambda *xs: mg.concatenate(xs, axis=axis), *arrays)


@given(st.data())
def test_stack(data):
    shape = data.draw(shapes())
    n = data.draw(st.integers(1, 3))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = [data.draw(values(shape)) for _ in range(n)]
    check(lambda *xs: mg.stack(xs, axis=axis), *arrays)


@given(st.data())
def test_split(data):
    shape = data.draw(shapes(min_dims=1))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    how = data.draw(st.one_of(
        st.sampled_from([d for d in range(1, n + 1) if n % d == 0]),
        st.lists(st.integers(0, n), max_size=3).map(sorted)))
    x = data.draw(values(shape))
    pieces = mg.tensor_split(leaf(x), how, dim=axis)
    np.testing.assert_array_equal(np.concatenate([p.numpy() for p in pieces], axis=axis), x)
    weights = [float(i + 1) for i in range(len(pieces))]
    check(lambda a: mg.concatenate([p * w for p, w in zip(mg.tensor_split(a, how, axis),
                                                          weights)], axis=axis), x)


@given(st.data())
def test_pad(data):
    shape = data.draw(shapes(min_dims=1))
    widths = tuple(data.draw(st.tuples(st.integers(0, 2), st.integers(0, 2))) for _ in shape)
    value = data.draw(st.sampled_from([0.0, -1.5]))
    x = data.draw(values(shape))
    padded = mg.pad(mg.tensor(x), widths, constant_values=value)
    np.testing.assert_array_equal(padded.numpy(), np.pad(x, widths, constant_values=value))
    check(lambda a: mg.pad(a, widths, constant_values=value), x)
    check(lambda a: mg.pad(a, 1), x)


# -- indexing -------------------------------------------------------------------------------

@given(st.data())
def test_getitem(data):
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(values(shape))
    kind = data.draw(st.sampled_from(["basic", "int_array", "int_tensor", "bool_mask"]))
    if kind == "basic":  # slices (negative steps included), ints, None, Ellipsis
        index = data.draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True))
    elif kind == "int_array":  # repeated entries are likely: they must accumulate
        index = data.draw(hnp.integer_array_indices(shape))
    elif kind == "int_tensor":
        arrays = data.draw(hnp.integer_array_indices(shape))
        index = tuple(mg.tensor(i.astype(np.int64)) for i in arrays)
        index = index[0] if len(index) == 1 else index
    else:
        index = mg.tensor(data.draw(hnp.arrays(np.bool_, shape)))
    check(lambda a: a[index], x)


@given(st.data())
def test_getitem_negative_step_slices(data):
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(values(shape))
    step = data.draw(st.integers(-3, -1))
    index = (slice(None, None, step),) * len(shape)
    np.testing.assert_array_equal(mg.tensor(x)[index].numpy(), x[index])
    check(lambda a: a[index], x)


def test_getitem_repeated_indices_accumulate():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0, 0.0])
    y = leaf(np.arange(6.0).reshape(3, 2))
    idx = mg.tensor(np.array([2, 2, 1]))
    (y[idx] * mg.tensor(np.array([[1.0], [10.0], [100.0]]))).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 0], [100, 100], [11, 11]])
    z = leaf(np.arange(9.0).reshape(3, 3))
    z[np.array([0, 0, 2]), np.array([1, 1, 0])].sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [[0, 2, 0], [0, 0, 0], [1, 0, 0]])


@given(st.data())
def test_index_add(data):
    shape = data.draw(shapes(min_dims=1))
    index = data.draw(hnp.integer_array_indices(shape))
    v_shape = np.zeros(shape)[index].shape
    v = data.draw(values(v_shape))
    expected = np.zeros(shape)
    np.add.at(expected, index, v)
    np.testing.assert_allclose(mg.ops.index_add(shape, index, mg.tensor(v)).numpy(), expected)
    check(lambda a: mg.ops.index_add(shape, index, a), v)


# -- device transfer ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def second_numpy_backend():
    mg.register_backend("numpy2", lambda: mg.backends.ArrayBackend("numpy2", "cpu2", np))
    return mg.get_backend("numpy2")


@given(shapes(), st.data())
def test_to_backend(second_numpy_backend, shape, data):
    x = data.draw(values(shape))
    moved = leaf(x).to("numpy2")
    assert moved.device == "cpu2"
    check(lambda a: (a.to("numpy2") ** 2).to("cpu"), x)
    check(lambda a: mg.to_backend(a, target=second_numpy_backend,
                                  source=a.backend) * 3.0, x)


# -- the registry -----------------------------------------------------------------------------

GRADIENT_TESTS = {
    "softmax_cross_entropy": test_softmax_cross_entropy,
    "binary_cross_entropy": test_binary_cross_entropy,
    "add": test_add,
    "subtract": test_subtract,
    "multiply": test_multiply,
    "divide": test_divide,
    "negative": test_negative,
    "power": test_power_tensor_exponent,
    "exp": test_exp,
    "log": test_log,
    "sqrt": test_sqrt,
    "tanh": test_tanh,
    "sigmoid": test_sigmoid,
    "erf": test_erf,
    "lstm_cell": test_lstm_cell,
    "relu": test_relu,
    "abs": test_abs,
    "maximum": test_maximum,
    "minimum": test_minimum,
    "clip": test_clip,
    "where": test_where,
    "astype": test_astype,
    "copy": test_copy,
    "matmul": test_matmul,
    "addmm": test_addmm,
    "sum": test_sum,
    "max": test_max,
    "min": test_min,
    "logsumexp": test_logsumexp,
    "log_softmax": test_log_softmax,
    "reshape": test_reshape,
    "transpose": test_transpose,
    "broadcast_to": test_broadcast_to,
    "concatenate": test_concatenate,
    "stack": test_stack,
    "pad": test_pad,
    "getitem": test_getitem,
    "index_add": test_index_add,
    "to_backend": test_to_backend,
}


def test_every_primitive_has_a_gradient_test():
    import sys

    from test_fused_rnn import GRADIENT_TESTS as SEQUENCE_TESTS
    from test_gradients_torch_ops import GRADIENT_TESTS as TORCH_OPS_TESTS
    modules = (GRADIENT_TESTS, TORCH_OPS_TESTS, SEQUENCE_TESTS)
    names = [name for tests in modules for name in tests]
    both = sorted({name for name in names if names.count(name) > 1})
    assert not both, f"primitives with a gradient test in two modules: {both}"
    tests = {name: test for tests in modules for name, test in tests.items()}
    registered = set(mg.primitives)
    missing = sorted(registered - set(tests))
    assert not missing, f"primitives without a gradient test: {missing}"
    stale = sorted(set(tests) - registered)
    assert not stale, f"gradient tests for primitives that are not registered: {stale}"
    for name, test in tests.items():  # each a collected test of the module that names it
        module = sys.modules[test.__module__]
        assert getattr(module, test.__name__, None) is test, name
        assert test.__name__.startswith("test_"), name


# -- second order ---------------------------------------------------------------------------------

def small_broadcast_shapes(n=2):
    return broadcast_shapes(n, max_dims=2, max_side=3)


def small_shapes(min_dims=0):
    return shapes(min_dims=min_dims, max_dims=2, max_side=3)


SECOND_ORDER_BINARY = {
    "add": (lambda a, b: a + b, values, values),
    "subtract": (lambda a, b: a - b, values, values),
    "multiply": (lambda a, b: a * b, values, values),
    "divide": (lambda a, b: a / b, values, lambda s: away_from_zero(s, 0.5, 2.0)),
    "power": (lambda a, b: a ** b, lambda s: values(s, 0.5, 2.0), values),
    "maximum": (mg.maximum, on_grid, lambda s: on_grid(s, 0.125)),
    "minimum": (mg.minimum, on_grid, lambda s: on_grid(s, 0.125)),
}

SECOND_ORDER_UNARY = {
    "negative": (lambda x: -x, values),
    "power_scalar": (lambda x: x ** 3, values),
    "power_scalar_fractional": (lambda x: x ** 1.5, lambda s: values(s, 0.3, 2.0)),
    "exp": (mg.exp, values),
    "log": (mg.log, lambda s: values(s, 0.2, 3.0)),
    "sqrt": (mg.sqrt, lambda s: values(s, 0.2, 3.0)),
    "tanh": (mg.tanh, values),
    "sigmoid": (mg.sigmoid, lambda s: values(s, -4.0, 4.0)),
    "erf": (mg.erf, values),
    "relu": (lambda x: mg.relu(x) * x, away_from_zero),
    "abs": (lambda x: mg.abs(x) * x, away_from_zero),
    "clip": (lambda x: mg.clip(x, -1.0, 1.0) * x, lambda s: on_grid(s, 0.125)),
    "astype": (lambda x: mg.astype(x, dtype=np.dtype(F64)) ** 2, values),
    "copy": (lambda x: mg.copy(x) * x, values),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER_BINARY))
@given(data=st.data())
def test_gradgrad_binary(name, data):
    fn, make_a, make_b = SECOND_ORDER_BINARY[name]
    bs = data.draw(small_broadcast_shapes())
    a = data.draw(make_a(bs.input_shapes[0]))
    b = data.draw(make_b(bs.input_shapes[1]))
    assert mg.gradgradcheck(fn, [leaf(a), leaf(b)])


@pytest.mark.parametrize("name", sorted(SECOND_ORDER_UNARY))
@given(data=st.data())
def test_gradgrad_unary(name, data):
    fn, make = SECOND_ORDER_UNARY[name]
    x = data.draw(make(data.draw(small_shapes())))
    assert mg.gradgradcheck(fn, [leaf(x)])


@given(st.data())
def test_gradgrad_where(data):
    bs = data.draw(small_broadcast_shapes(3))
    cond = mg.tensor(data.draw(hnp.arrays(np.bool_, bs.input_shapes[0])))
    a = data.draw(values(bs.input_shapes[1]))
    b = data.draw(values(bs.input_shapes[2]))
    assert mg.gradgradcheck(lambda x, y: mg.where(cond, x * y, y * y), [leaf(a), leaf(b)])


@given(matmul_shapes(max_side=3), st.data())
def test_gradgrad_matmul(shapes_, data):
    a = data.draw(values(shapes_[0]))
    b = data.draw(values(shapes_[1]))
    assert mg.gradgradcheck(mg.matmul, [leaf(a), leaf(b)])


@pytest.mark.parametrize("name", ["sum", "amax", "amin", "logsumexp"])
@given(data=st.data())
def test_gradgrad_reductions(name, data):
    shape = data.draw(small_shapes())
    axis = data.draw(axes_for(len(shape)))
    keepdims = data.draw(st.booleans())
    x = data.draw(distinct(shape))
    # squared, so that the second derivative of a linear-by-parts reduction is not zero
    assert mg.gradgradcheck(lambda a: getattr(mg, name)(a, axis=axis, keepdims=keepdims) ** 2,
                            [leaf(x)])
    assert mg.gradgradcheck(lambda a: getattr(mg, name)(a, axis=axis, keepdims=keepdims),
                            [leaf(x)])


def test_gradcheck_catches_a_wrong_rule():
    """The checker itself can fail: a primitive with a deliberately wrong rule is caught."""
    from minigrad.primitive import REGISTRY, primitive
    try:
        wrong = primitive("_wrong_square_for_test", lambda xp, x: x * x,
                          lambda xp, g, y, x: g * x)  # should be 2 * g * x
        with pytest.raises(mg.GradcheckError, match=r"analytic .* vs numeric"):
            mg.gradcheck(lambda a: wrong(a), [leaf([1.0, 2.0])])
    finally:
        REGISTRY.pop("_wrong_square_for_test", None)


SECOND_ORDER_SHAPE_OPS = {
    "getitem": lambda x: x[[0, 0, -1]] * x[::-1][:3],
    "getitem_mask": lambda x: x[mg.tensor(np.array([True, False, True, True]))] ** 2,
    "index_add": lambda x: mg.ops.index_add((3,), np.array([0, 2, 2, 1]), x * x),
    "reshape": lambda x: x.reshape(2, 2) @ x.reshape(2, 2),
    "transpose": lambda x: x.reshape(2, 2).T * x.reshape(2, 2),
    "broadcast_to": lambda x: mg.broadcast_to(x, (3, 4)) * x,
    "concatenate": lambda x: mg.concatenate([x * x, x[:2]]),
    "stack": lambda x: mg.stack([x * x, x], axis=1),
    "pad": lambda x: mg.pad(x * x, (1, 2)),
    "to_backend": lambda x: (x.to("numpy2") ** 2).to("cpu"),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER_SHAPE_OPS))
def test_gradgrad_shape_ops(second_numpy_backend, name):
    x = leaf([0.5, -1.0, 2.0, 1.5])
    assert mg.gradgradcheck(SECOND_ORDER_SHAPE_OPS[name], [x])
