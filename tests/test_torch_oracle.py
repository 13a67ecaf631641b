"""PyTorch as an oracle: every primitive's value and gradient, float64.

Skipped (not failed) where PyTorch is not installed. Unlike the gradchecks, the
inputs here may sit exactly on kinks and ties (relu/abs at 0, clip at its
bounds, maximum of equal values, max with a repeated maximum): the conventions
there must match PyTorch's too.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg

torch = pytest.importorskip("torch")

F64 = np.float64


def broadcast_shapes(n=2):
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=3, min_side=1,
                                             max_side=4)


def shapes(min_dims=0, max_dims=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4)


def values(shape, lo=-2.0, hi=2.0):
    return hnp.arrays(F64, shape, elements=st.floats(lo, hi, allow_nan=False,
                                                     allow_subnormal=False))


def coarse(shape, lo=-2, hi=2):
    """Few distinct values (halves): ties, zeros and bound hits are frequent."""
    return hnp.arrays(F64, shape, elements=st.integers(2 * lo, 2 * hi).map(lambda k: k / 2))


def axes_for(ndim):
    if ndim == 0:
        return st.just(None)
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                     st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                              unique=True).map(tuple))


@st.composite
def shape_broadcasting_to(draw, target):
    """A shape that broadcasts *to* ``target``: fewer or equal axes, each 1 or target's."""
    kept = draw(st.integers(0, len(target)))
    return tuple(draw(st.sampled_from([1, n])) for n in target[len(target) - kept:])


def torch_dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


def compare(mg_fn, torch_fn, arrays, rtol=1e-10, atol=1e-12):
    """Same values, and same gradients of <v, outputs> for a random v."""
    xs = [mg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs, touts = mg_fn(*xs), torch_fn(*ts)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    touts = list(touts) if isinstance(touts, (list, tuple)) else [touts]
    assert len(outs) == len(touts)
    rng = np.random.default_rng(0)
    total, ttotal = 0.0, 0.0
    for out, tout in zip(outs, touts):
        assert out.shape == tuple(tout.shape)
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=atol)
        v = rng.standard_normal(out.shape)
        total = total + (out * mg.tensor(v, device=out.device)).sum()
        ttotal = ttotal + (tout * torch.tensor(v, dtype=tout.dtype)).sum()
    total.backward()
    ttotal.backward()
    for i, (x, t) in enumerate(zip(xs, ts)):
        expected = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape) if x.grad is None else x.grad.numpy()
        assert got.dtype == F64
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")


# -- one case generator per primitive: data -> (minigrad fn, torch fn, input arrays) ------------

def _binary(mg_fn, torch_fn, make_a=values, make_b=values):
    def case(data):
        bs = data.draw(broadcast_shapes())
        return mg_fn, torch_fn, [data.draw(make_a(bs.input_shapes[0])),
                                 data.draw(make_b(bs.input_shapes[1]))]
    return case


def _unary(mg_fn, torch_fn, make=values):
    def case(data):
        return mg_fn, torch_fn, [data.draw(make(data.draw(shapes())))]
    return case


def _nonzero(shape):
    return hnp.arrays(F64, shape, elements=st.one_of(st.floats(-2, -0.5), st.floats(0.5, 2)))


def _reduction(name, torch_fn, make=values):
    def case(data):
        shape = data.draw(shapes())
        axis = data.draw(axes_for(len(shape)))
        keepdims = data.draw(st.booleans())
        return (lambda x: getattr(mg, name)(x, axis=axis, keepdims=keepdims),
                lambda t: torch_fn(t, dim=torch_dims(axis, len(shape)), keepdim=keepdims),
                [data.draw(make(shape))])
    return case


def _log_softmax_case(data):
    shape = data.draw(shapes())
    dim = data.draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    return (lambda x: mg.log_softmax(x, dim), lambda t: torch.log_softmax(t, dim),
            [data.draw(values(shape, -5.0, 5.0))])


def _softmax_cross_entropy_case(data):
    rows, classes = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    target = np.array(data.draw(st.lists(st.integers(-1, classes - 1), min_size=rows,
                                         max_size=rows)))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    if reduction == "mean":
        target[0] = max(target[0], 0)  # at least one target: a mean over none is nan
    return (lambda x: mg.ops.softmax_cross_entropy(x, mg.tensor(target), -1, reduction),
            lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(target), ignore_index=-1,
                                                        reduction=reduction),
            [data.draw(values((rows, classes), -5.0, 5.0))])


def _binary_cross_entropy_case(data):
    shape = data.draw(shapes())
    return (mg.ops.binary_cross_entropy,
            lambda t, y: torch.nn.functional.binary_cross_entropy(t, y, reduction="none"),
            [data.draw(values(shape, 0.02, 0.98)), data.draw(values(shape, 0.0, 1.0))])


def _power_case(data):
    if data.draw(st.booleans()):
        return _binary(lambda a, b: a ** b, torch.pow, lambda s: values(s, 0.2, 2.0))(data)
    exponent = data.draw(st.sampled_from([2, 3, -1, 0.5, 1.5, -2.5]))
    make = (lambda s: values(s, 0.2, 2.0)) if isinstance(exponent, float) else _nonzero
    return _unary(lambda x: x ** exponent, lambda t: t ** exponent, make)(data)


def _clip_case(data):
    lo, hi = data.draw(st.sampled_from([(-1.0, 1.0), (None, 0.5), (-0.5, None)]))
    return _unary(lambda x: mg.clip(x, lo, hi), lambda t: torch.clamp(t, lo, hi), coarse)(data)


def _where_case(data):
    bs = data.draw(broadcast_shapes(3))
    cond = data.draw(hnp.arrays(np.bool_, bs.input_shapes[0]))
    return (lambda a, b: mg.where(mg.tensor(cond), a, b),
            lambda a, b: torch.where(torch.tensor(cond), a, b),
            [data.draw(values(bs.input_shapes[1])), data.draw(values(bs.input_shapes[2]))])


def _astype_case(data):
    return (lambda x: mg.astype(x, dtype=np.dtype(np.float32)).astype(F64) * 2.0,
            lambda t: t.to(torch.float32).to(torch.float64) * 2.0,
            [data.draw(values(data.draw(shapes())))])


@st.composite
def _matmul_shapes(draw):
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    ba, bb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2,
                                                    max_side=3)).input_shapes
    return draw(st.sampled_from([((k,), (k,)), ((k,), (k, n)), ((m, k), (k,)), ((m, k), (k, n)),
                                 (ba + (m, k), bb + (k, n)), ((k,), bb + (k, n)),
                                 (ba + (m, k), (k,))]))


def _matmul_case(data):
    sa, sb = data.draw(_matmul_shapes())
    return mg.matmul, torch.matmul, [data.draw(values(sa)), data.draw(values(sb))]


def _reshape_case(data):
    shape = data.draw(shapes())
    size = int(np.prod(shape))
    target = data.draw(st.sampled_from([(size,), (1, size), tuple(reversed(shape)), (-1, 1)]))
    return (lambda x: x.reshape(target), lambda t: t.reshape(target),
            [data.draw(values(shape))])


def _transpose_case(data):
    shape = data.draw(shapes())
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    return (lambda x: mg.permute(x, perm), lambda t: t.permute(perm),
            [data.draw(values(shape))])


def _broadcast_case(data):
    target = data.draw(shapes())
    shape = data.draw(shape_broadcasting_to(target))
    return (lambda x: mg.broadcast_to(x, target), lambda t: torch.broadcast_to(t, target),
            [data.draw(values(shape))])


def _concatenate_case(data):
    base = list(data.draw(shapes(min_dims=1)))
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    arrays = []
    for _ in range(data.draw(st.integers(1, 3))):
        s = list(base)
        s[axis] = data.draw(st.integers(1, 3))
        arrays.append(data.draw(values(tuple(s))))
    return (lambda *xs: mg.concatenate(xs, axis=axis), lambda *ts: torch.cat(ts, dim=axis),
            arrays)


def _stack_case(data):
    shape = data.draw(shapes())
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = [data.draw(values(shape)) for _ in range(data.draw(st.integers(1, 3)))]
    return (lambda *xs: mg.stack(xs, axis=axis), lambda *ts: torch.stack(ts, dim=axis), arrays)


def _pad_case(data):
    shape = data.draw(shapes(min_dims=1))
    widths = [data.draw(st.tuples(st.integers(0, 2), st.integers(0, 2))) for _ in shape]
    value = data.draw(st.sampled_from([0.0, 1.5]))
    flat = [w for pair in reversed(widths) for w in pair]  # torch: last axis first
    return (lambda x: mg.pad(x, widths, constant_values=value),
            lambda t: torch.nn.functional.pad(t, flat, value=value),
            [data.draw(values(shape))])


def _getitem_case(data):
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(values(shape))
    kind = data.draw(st.sampled_from(["basic", "int_array", "int_tensor", "bool_mask"]))
    if kind == "basic":
        # torch has no negative steps: it gathers the same elements by their flat positions
        index = data.draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True))
        positions = torch.tensor(np.arange(x.size).reshape(shape)[index].copy())
        return (lambda a: a[index], lambda t: t.reshape(-1)[positions], [x])
    if kind in ("int_array", "int_tensor"):
        index = tuple(i.astype(np.int64) for i in data.draw(hnp.integer_array_indices(shape)))
        t_index = tuple(torch.tensor(i) for i in index)
        m_index = tuple(mg.tensor(i) for i in index) if kind == "int_tensor" else index
        return lambda a: a[m_index], lambda t: t[t_index], [x]
    mask = data.draw(hnp.arrays(np.bool_, shape))
    return lambda a: a[mg.tensor(mask)], lambda t: t[torch.tensor(mask)], [x]


def _index_add_case(data):
    shape = data.draw(shapes(min_dims=1))
    index = tuple(i.astype(np.int64) for i in data.draw(hnp.integer_array_indices(shape)))
    v = data.draw(values(np.zeros(shape)[index].shape))
    t_index = tuple(torch.tensor(i) for i in index)
    return (lambda a: mg.ops.index_add(shape, index, a),
            lambda t: torch.zeros(shape, dtype=torch.float64).index_put(t_index, t,
                                                                         accumulate=True),
            [v])


def _lstm_cell_case(data):
    batch = data.draw(shapes(max_dims=2))
    hidden = data.draw(st.integers(1, 3))
    gates = data.draw(values(batch + (4 * hidden,), -3.0, 3.0))
    c = data.draw(values(batch + (hidden,)))

    def torch_cell(gt, ct):
        i, f, g, o = torch.split(gt, hidden, dim=-1)
        c_next = torch.sigmoid(f) * ct + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_next), c_next

    return mg.lstm_cell, torch_cell, [gates, c]


def _addmm_case(data):
    m, k, n = (data.draw(st.integers(1, 3)) for _ in range(3))
    bias_shape = data.draw(st.sampled_from([(m, n), (n,), (m, 1)]))
    return (mg.addmm, torch.addmm,
            [data.draw(values(bias_shape)), data.draw(values((m, k))), data.draw(values((k, n)))])


def _to_backend_case(data):
    mg.register_backend("numpy_oracle", lambda: mg.backends.ArrayBackend("numpy_oracle",
                                                                         "cpu_oracle", np))
    return (lambda x: (x.to("numpy_oracle") * 2.0).to("cpu"), lambda t: t.clone() * 2.0,
            [data.draw(values(data.draw(shapes())))])


def _sequence_case(mode):
    """One layer, one direction of torch.nn.LSTM/GRU/RNN run on our inputs as its weights
    (the reverse direction as the forward one over the flipped sequence)."""
    def case(data):
        steps, batch, width, hidden = (data.draw(st.integers(1, 3)) for _ in range(4))
        gates = {"lstm": 4, "gru": 3}.get(mode, 1) * hidden
        count = 2 if mode == "lstm" else 1
        reverse = data.draw(st.booleans())
        shapes = [(steps, batch, width)] + [(batch, hidden)] * count + \
            [(gates, width), (gates, hidden), (gates,), (gates,)]
        layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(mode, torch.nn.RNN)
        extra = {"nonlinearity": mode[4:]} if mode.startswith("rnn") else {}
        layer = layer(width, hidden, **extra).double()

        def torch_fn(x, *rest):
            names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
            state = tuple(s[None] for s in rest[:count])
            out, final = torch.func.functional_call(
                layer, dict(zip(names, rest[count:])),
                (x.flip(0) if reverse else x, state if count == 2 else state[0]))
            finals = final if count == 2 else (final,)
            return (out.flip(0) if reverse else out,) + tuple(f[0] for f in finals)

        inputs = [data.draw(values(s)) for s in shapes]
        if mode == "rnn_relu":
            assume(_clear_of_relu_kinks(*inputs, reverse))
        return (lambda *xs: getattr(mg, f"{mode}_sequence")(*xs, reverse=reverse), torch_fn,
                inputs)
    return case


def _clear_of_relu_kinks(x, h, w_ih, w_hh, b_ih, b_hh, reverse):
    """Whether every pre-activation of a relu RNN is clear of 0. At 0 the gradient's side
    of the kink depends on how the sum was rounded, and PyTorch sums in another order (the
    drawn values find exact cancellations: x twice, w_hh = -1, b_hh = 1)."""
    for x_t in (x[::-1] if reverse else x):
        pre = x_t @ w_ih.T + b_ih + b_hh + h @ w_hh.T
        if np.min(np.abs(pre)) < 1e-9:
            return False
        h = np.maximum(pre, 0)
    return True


ORACLE = {
    "add": _binary(mg.add, torch.add),
    "subtract": _binary(mg.subtract, torch.sub),
    "multiply": _binary(mg.multiply, torch.mul),
    "divide": _binary(mg.divide, torch.div, values, _nonzero),
    "negative": _unary(mg.negative, torch.neg),
    "power": _power_case,
    "exp": _unary(mg.exp, torch.exp),
    "log": _unary(mg.log, torch.log, lambda s: values(s, 0.05, 3.0)),
    "sqrt": _unary(mg.sqrt, torch.sqrt, lambda s: values(s, 0.05, 3.0)),
    "tanh": _unary(mg.tanh, torch.tanh, lambda s: values(s, -4.0, 4.0)),
    "sigmoid": _unary(mg.sigmoid, torch.sigmoid, lambda s: values(s, -8.0, 8.0)),
    "erf": _unary(mg.erf, torch.erf, lambda s: values(s, -3.0, 3.0)),
    "lstm_cell": _lstm_cell_case,
    "relu": _unary(mg.relu, torch.relu, coarse),
    "abs": _unary(mg.abs, torch.abs, coarse),
    "maximum": _binary(mg.maximum, torch.maximum, coarse, coarse),
    "minimum": _binary(mg.minimum, torch.minimum, coarse, coarse),
    "clip": _clip_case,
    "where": _where_case,
    "astype": _astype_case,
    "copy": _unary(mg.copy, torch.clone),
    "matmul": _matmul_case,
    "addmm": _addmm_case,
    "sum": _reduction("sum", torch.sum),
    "max": _reduction("amax", torch.amax, coarse),
    "min": _reduction("amin", torch.amin, coarse),
    "logsumexp": _reduction("logsumexp", torch.logsumexp, lambda s: values(s, -5.0, 5.0)),
    "log_softmax": _log_softmax_case,
    "softmax_cross_entropy": _softmax_cross_entropy_case,
    "binary_cross_entropy": _binary_cross_entropy_case,
    "reshape": _reshape_case,
    "transpose": _transpose_case,
    "broadcast_to": _broadcast_case,
    "concatenate": _concatenate_case,
    "stack": _stack_case,
    "pad": _pad_case,
    "getitem": _getitem_case,
    "index_add": _index_add_case,
    "to_backend": _to_backend_case,
    "lstm_sequence": _sequence_case("lstm"),
    "gru_sequence": _sequence_case("gru"),
    "rnn_tanh_sequence": _sequence_case("rnn_tanh"),
    "rnn_relu_sequence": _sequence_case("rnn_relu"),
}


def test_every_primitive_has_an_oracle():
    from test_gradients_torch_ops import ORACLE_TESTS  # oracles of the PyTorch-layer primitives
    covered = set(ORACLE) | set(ORACLE_TESTS)
    assert sorted(set(mg.primitives) - covered) == []
    assert sorted(covered - set(mg.primitives)) == []


@pytest.mark.parametrize("name", sorted(ORACLE))
@given(data=st.data())
def test_primitive_matches_torch(name, data):
    mg_fn, torch_fn, arrays = ORACLE[name](data)
    rtol = 1e-6 if name == "astype" else 1e-10
    compare(mg_fn, torch_fn, arrays, rtol=rtol)


# -- composites built on the primitives ----------------------------------------------------------

@given(st.data())
def test_mean_var_std_match_torch(data):
    shape = data.draw(shapes(min_dims=1))
    axis = data.draw(axes_for(len(shape)))
    keepdims = data.draw(st.booleans())
    x = data.draw(hnp.arrays(F64, shape, elements=st.integers(-64, 64).map(lambda k: k / 16),
                             unique=True))
    dims = torch_dims(axis, len(shape))
    compare(lambda a: a.mean(axis=axis, keepdims=keepdims),
            lambda t: t.mean(dim=dims, keepdim=keepdims), [x])
    compare(lambda a: a.var(axis=axis, keepdims=keepdims, correction=0),
            lambda t: t.var(dim=dims, keepdim=keepdims, unbiased=False), [x])
    if x.size > 1 and np.prod([shape[d] for d in np.atleast_1d(dims)]) > 1:
        compare(lambda a: a.std(axis=axis, keepdims=keepdims),
                lambda t: t.std(dim=dims, keepdim=keepdims), [x], rtol=1e-8)
        compare(lambda a: a.var(axis=axis, keepdims=keepdims),
                lambda t: t.var(dim=dims, keepdim=keepdims), [x])


@given(st.data())
def test_split_squeeze_expand_dims_match_torch(data):
    shape = data.draw(shapes(min_dims=1))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    sections = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    x = data.draw(values(shape))
    compare(lambda a: mg.split(a, n // sections, axis=axis),
            lambda t: torch.split(t, n // sections, dim=axis), [x])
    compare(lambda a: mg.squeeze(mg.expand_dims(a, axis) * 2.0),
            lambda t: torch.squeeze(torch.unsqueeze(t, axis) * 2.0), [x])


def test_a_recurrence_matches_torch():
    rng = np.random.default_rng(0)
    W, U = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=(3, 4)) * 0.5
    xs = rng.normal(size=(6, 2, 3))

    def run(lib, W, U, xs):
        h = None
        for t in range(6):
            pre = xs[t] @ U if h is None else xs[t] @ U + h @ W
            h = lib.tanh(pre)
        return (h * h).sum() + lib.sigmoid(h).sum()

    compare(lambda W_, U_, x_: run(mg, W_, U_, x_), lambda W_, U_, x_: run(torch, W_, U_, x_),
            [W, U, xs])
