"""The primitives PyTorch code needs beyond the core set: elementwise trigonometry,
running sums and products, gather / scatter, einsum, flips, rolls, triangles, diagonals.

Each primitive has a float64 central-difference check on hypothesis-drawn shapes and
values (``GRADIENT_TESTS``, merged into the registry check of test_gradients.py), the
smooth and the structural ones a second-order check, and PyTorch serves as an oracle
for values and gradients (those tests are skipped where PyTorch is absent).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import ops
from test_gradients import F64, away_from_zero, axes_for, check, leaf, shapes, values

# -- strategies ---------------------------------------------------------------------------


def with_zeros(shape, lo=-2.0, hi=2.0):
    """Values of which many are exactly zero (often several in one row): the products'
    gradients there must still be exact."""
    return hnp.arrays(F64, shape, elements=st.one_of(
        st.just(0.0), st.integers(int(4 * lo), int(4 * hi)).map(lambda k: k / 4)))


def small_shapes(min_dims=0):
    return shapes(min_dims=min_dims, max_dims=2, max_side=3)


def an_axis(ndim):
    return st.integers(-ndim, ndim - 1)


@st.composite
def gather_inputs(draw, min_dims=1, negative=True):
    """(x, indices, axis) for take_along_axis: indices of x's rank, any length along the
    axis (repeats likely), the other axes equal to x's or 1 (NumPy broadcasting)."""
    shape = draw(shapes(min_dims=min_dims))
    axis = draw(an_axis(len(shape)))
    n = shape[axis]
    index_shape = tuple(draw(st.integers(1, 4)) if d == axis % len(shape) else
                        draw(st.sampled_from([s, 1]) if negative else st.just(s))
                        for d, s in enumerate(shape))
    low = -n if negative else 0
    indices = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(low, n - 1)))
    return draw(values(shape)), indices, axis


@st.composite
def scatter_inputs(draw, unique=True, max_dims=3):
    """(x, axis, index, src) with PyTorch's constraints: index no larger than src in any
    axis, nor than x in any axis but ``axis``. With ``unique``, no two entries of a row
    along ``axis`` point at one place (scatter is then deterministic)."""
    shape = draw(shapes(min_dims=1, max_dims=max_dims))
    ndim = len(shape)
    axis = draw(an_axis(ndim)) % ndim
    n = shape[axis]
    index_shape = tuple(draw(st.integers(1, n if unique else 4)) if d == axis else
                        draw(st.integers(1, s)) for d, s in enumerate(shape))
    src_shape = tuple(draw(st.integers(k, k + 1)) for k in index_shape)
    if unique:  # the first entries of a random permutation of 0..n-1 per row
        seed = draw(st.integers(0, 2 ** 32 - 1))
        full = index_shape[:axis] + (n,) + index_shape[axis + 1:]
        perms = np.argsort(np.random.default_rng(seed).random(full), axis=axis)
        index = np.take(perms, np.arange(index_shape[axis]), axis=axis)
    else:
        index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, n - 1)))
    return draw(values(shape)), axis, index.astype(np.int64), draw(values(src_shape))


EINSUMS = [  # (subscripts, shapes with letters standing for sizes, "..." for a batch)
    ("ij,jk->ik", ["ij", "jk"]),
    ("ij,jk", ["ij", "jk"]),
    ("bij,bjk->bik", ["bij", "bjk"]),
    ("i,i->", ["i", "i"]),
    ("i,j->ij", ["i", "j"]),
    ("ij->ji", ["ij"]),
    ("ij->", ["ij"]),
    ("ij", ["ij"]),
    ("ii->i", ["ii"]),
    ("ii", ["ii"]),
    ("iij->ji", ["iij"]),
    ("ij,ij->ij", ["1j", "ij"]),
    ("bn,anm,bm->ba", ["bn", "anm", "bm"]),
    ("i,i,i->i", ["i", "i", "i"]),
    ("ij,k->k", ["ij", "k"]),
    ("...ij,...jk->...ik", ["...ij", "...jk"]),
    ("...i,...i", ["...i", "...i"]),
    ("i...->...", ["i..."]),
    ("...ii->...i", ["...ii"]),
    ("ab...,b->...a", ["ab...", "b"]),
]


@st.composite
def einsum_inputs(draw, max_side=3):
    subscripts, templates = draw(st.sampled_from(EINSUMS))
    sizes = {c: draw(st.integers(1, max_side)) for c in "abijkmn"}
    sizes["1"] = 1
    batches = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=len(templates), min_dims=0, max_dims=2, max_side=max_side)).input_shapes
    arrays = []
    for template, batch in zip(templates, batches):
        before, _, after = template.partition("...")
        shape = tuple(sizes[c] for c in before) + (batch if "..." in template else ()) + \
            tuple(sizes[c] for c in after)
        arrays.append(draw(values(shape)))
    return subscripts, arrays


# -- elementwise ----------------------------------------------------------------------------

ELEMENTWISE = {  # name: (domain of the gradient checks, PyTorch's function name)
    "sin": (lambda s: values(s, -3.0, 3.0), "sin"),
    "cos": (lambda s: values(s, -3.0, 3.0), "cos"),
    "tan": (lambda s: values(s, -1.3, 1.3), "tan"),
    "arctan": (lambda s: values(s, -3.0, 3.0), "atan"),
    "arcsin": (lambda s: values(s, -0.9, 0.9), "asin"),
    "arccos": (lambda s: values(s, -0.9, 0.9), "acos"),
    "sinh": (values, "sinh"),
    "cosh": (values, "cosh"),
    "log1p": (lambda s: values(s, -0.9, 3.0), "log1p"),
    "expm1": (values, "expm1"),
    "reciprocal": (lambda s: away_from_zero(s, 0.3, 2.0), "reciprocal"),
}


def _elementwise(data, name):
    make, _ = ELEMENTWISE[name]
    check(getattr(ops, name), data.draw(make(data.draw(shapes()))))


@given(st.data())
def test_sin(data):
    _elementwise(data, "sin")


@given(st.data())
def test_cos(data):
    _elementwise(data, "cos")


@given(st.data())
def test_tan(data):
    _elementwise(data, "tan")


@given(st.data())
def test_arctan(data):
    _elementwise(data, "arctan")


@given(st.data())
def test_arcsin(data):
    _elementwise(data, "arcsin")


@given(st.data())
def test_arccos(data):
    _elementwise(data, "arccos")


@given(st.data())
def test_sinh(data):
    _elementwise(data, "sinh")


@given(st.data())
def test_cosh(data):
    _elementwise(data, "cosh")


@given(st.data())
def test_log1p(data):
    _elementwise(data, "log1p")


@given(st.data())
def test_expm1(data):
    _elementwise(data, "expm1")


@given(st.data())
def test_reciprocal(data):
    _elementwise(data, "reciprocal")


# Binary ones, broadcasting; away from (0, 0), where atan2's gradient is 0 by convention
# and hypot's 0/0 (PyTorch's too; tested in test_more_torch_functions.py).
BINARY = {  # name: (domain of each input, PyTorch's function name)
    "arctan2": (lambda s: away_from_zero(s, 0.3, 2.0), "atan2"),
    "hypot": (lambda s: away_from_zero(s, 0.3, 2.0), "hypot"),
    "logaddexp": (lambda s: values(s, -3.0, 3.0), "logaddexp"),
}


def _binary_inputs(data, name):
    make, _ = BINARY[name]
    a_shape, b_shape = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, max_dims=3, max_side=3)).input_shapes
    return [data.draw(make(a_shape)), data.draw(make(b_shape))]


@given(st.data())
def test_arctan2(data):
    check(ops.arctan2, *_binary_inputs(data, "arctan2"))


@given(st.data())
def test_hypot(data):
    check(ops.hypot, *_binary_inputs(data, "hypot"))


@given(st.data())
def test_logaddexp(data):
    check(ops.logaddexp, *_binary_inputs(data, "logaddexp"))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@given(data=st.data())
def test_gradgrad_elementwise(name, data):
    make, _ = ELEMENTWISE[name]
    assert mg.gradgradcheck(getattr(ops, name), [leaf(data.draw(make(data.draw(small_shapes()))))])


# -- running sums and products ------------------------------------------------------------------

@st.composite
def running_inputs(draw, make=values, max_dims=3):
    shape = draw(shapes(max_dims=max_dims))
    axis = draw(st.one_of(st.none(), an_axis(len(shape)) if shape else st.just(0)))
    return draw(make(shape)), axis


@given(running_inputs())
def test_cumsum(inputs):
    x, axis = inputs
    np.testing.assert_allclose(ops.cumsum(mg.tensor(x), axis).numpy(),
                               np.cumsum(x, axis).reshape(np.shape(x) if axis is not None else -1))
    check(lambda a: ops.cumsum(a, axis), x)


@given(running_inputs(with_zeros))
def test_cumprod(inputs):
    x, axis = inputs
    np.testing.assert_allclose(ops.cumprod(mg.tensor(x), axis).numpy(),
                               np.cumprod(x, axis).reshape(np.shape(x) if axis is not None else -1))
    check(lambda a: ops.cumprod(a, axis), x)


@given(running_inputs(max_dims=2))
def test_gradgrad_cumsum(inputs):
    x, axis = inputs
    assert mg.gradgradcheck(lambda a: ops.cumsum(a * a, axis), [leaf(x)])


@given(running_inputs(with_zeros, max_dims=2))
def test_gradgrad_cumprod(inputs):
    x, axis = inputs
    assert mg.gradgradcheck(lambda a: ops.cumprod(a, axis), [leaf(x)])


@given(st.data())
def test_prod(data):
    shape = data.draw(shapes())
    axis = data.draw(axes_for(len(shape)))
    keepdims = data.draw(st.booleans())
    x = data.draw(with_zeros(shape))
    np.testing.assert_allclose(ops.prod(mg.tensor(x), axis, keepdims).numpy(),
                               np.prod(x, axis=axis, keepdims=keepdims))
    check(lambda a: ops.prod(a, axis, keepdims), x)


@given(st.data())
def test_gradgrad_prod(data):
    shape = data.draw(small_shapes())
    axis = data.draw(axes_for(len(shape)))
    assert mg.gradgradcheck(lambda a: ops.prod(a, axis), [leaf(data.draw(with_zeros(shape)))])


def test_long_running_product_has_exact_gradient():
    """Many zeros along a long axis: the scan rule stays exact where dividing would not."""
    rng = np.random.default_rng(1)
    x = rng.choice([0.0, 0.5, -1.0, 2.0], size=(2, 37))
    assert mg.gradcheck(lambda a: ops.cumprod(a, 1), [leaf(x)])
    assert mg.gradcheck(lambda a: ops.prod(a, 1), [leaf(x)])


# -- gather and scatter -------------------------------------------------------------------------

@given(gather_inputs())
def test_take_along_axis(inputs):
    x, indices, axis = inputs
    np.testing.assert_array_equal(ops.take_along_axis(mg.tensor(x), indices, axis).numpy(),
                                  np.take_along_axis(x, indices, axis))
    check(lambda a: ops.take_along_axis(a, indices, axis), x)
    check(lambda a: ops.take_along_axis(a, mg.tensor(indices), axis) ** 2, x)


@given(gather_inputs(negative=False))
def test_gradgrad_take_along_axis(inputs):
    x, indices, axis = inputs
    assert mg.gradgradcheck(lambda a: ops.take_along_axis(a * a, indices, axis), [leaf(x)])


def test_take_along_axis_repeated_indices_accumulate():
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    ops.take_along_axis(x, np.array([[0, 0, 2, 0], [1, 1, 1, 1]]), 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0, 0.0, 1.0], [0.0, 4.0, 0.0]])


@given(scatter_inputs(unique=False))
def test_add_along_axis(inputs):
    x, axis, index, src = inputs
    v = src[tuple(slice(0, n) for n in index.shape)]
    expected = np.zeros(x.shape)
    for position in np.ndindex(*index.shape):
        target = list(position)
        target[axis] = index[position]
        expected[tuple(target)] += v[position]
    np.testing.assert_allclose(ops.add_along_axis(x.shape, index, mg.tensor(v), axis).numpy(),
                               expected)
    check(lambda a: ops.add_along_axis(x.shape, index, a, axis), v)


@given(scatter_inputs(unique=False, max_dims=2))
def test_gradgrad_add_along_axis(inputs):
    x, axis, index, src = inputs
    v = src[tuple(slice(0, n) for n in index.shape)]
    assert mg.gradgradcheck(lambda a: ops.add_along_axis(x.shape, index, a * a, axis), [leaf(v)])


@given(scatter_inputs())
def test_scatter(inputs):
    x, axis, index, src = inputs
    check(lambda a, b: ops.scatter(a, axis, index, b), x, src)
    check(lambda a: ops.scatter(a, axis, mg.tensor(index), 1.5), x)
    check(lambda a, v: ops.scatter(a, axis, index, v), x, np.array(0.7))  # a 0-d value
    assert mg.gradgradcheck(lambda a, b: ops.scatter(a * a, axis, index, b * a.sum()),
                            [leaf(x), leaf(src)])


@given(scatter_inputs(unique=False))
def test_scatter_add(inputs):
    x, axis, index, src = inputs
    check(lambda a, b: ops.scatter_add(a, axis, index, b), x, src)


# -- einsum ---------------------------------------------------------------------------------

@given(einsum_inputs())
def test_einsum(inputs):
    subscripts, arrays = inputs
    np.testing.assert_allclose(ops.einsum(subscripts, *[mg.tensor(a) for a in arrays]).numpy(),
                               np.einsum(subscripts, *arrays), rtol=1e-12, atol=1e-12)
    check(lambda *xs: ops.einsum(subscripts, *xs), *arrays)


@given(einsum_inputs(max_side=2))
def test_gradgrad_einsum(inputs):
    subscripts, arrays = inputs
    if len(arrays) == 1:  # linear in its one operand: square it to have a second derivative
        assert mg.gradgradcheck(lambda x: ops.einsum(subscripts, x * x), [leaf(arrays[0])])
    else:
        assert mg.gradgradcheck(lambda *xs: ops.einsum(subscripts, *xs),
                                [leaf(a) for a in arrays])


def test_einsum_large_operands_take_the_optimized_path():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 40, 50)), rng.normal(size=(3, 50, 30))
    ta, tb = leaf(a), leaf(b)
    out = ops.einsum("bij,bjk->bik", ta, tb)
    g = rng.normal(size=out.shape)
    (out * mg.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-12)
    np.testing.assert_allclose(ta.grad.numpy(), g @ b.transpose(0, 2, 1), rtol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), a.transpose(0, 2, 1) @ g, rtol=1e-12)


def test_einsum_takes_the_operands_as_one_list_too():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(ops.einsum("ij, jk", [mg.tensor(a), mg.tensor(b)]).numpy(), a @ b)


# -- flips, rolls, triangles, diagonals ----------------------------------------------------------

@given(st.data())
def test_flip(data):
    shape = data.draw(shapes())
    axis = data.draw(axes_for(len(shape)))
    x = data.draw(values(shape))
    np.testing.assert_array_equal(ops.flip(mg.tensor(x), axis).numpy(), np.flip(x, axis))
    check(lambda a: ops.flip(a, axis), x)


@st.composite
def roll_inputs(draw):
    shape = draw(shapes())
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"] if ndim else ["none"]))
    if kind == "none":
        return shape, draw(st.integers(-5, 5)), None
    if kind == "int":
        return shape, draw(st.integers(-5, 5)), draw(an_axis(ndim))
    axes = tuple(draw(st.lists(an_axis(ndim), min_size=1, max_size=3)))
    return shape, tuple(draw(st.integers(-5, 5)) for _ in axes), axes


@given(roll_inputs(), st.data())
def test_roll(inputs, data):
    shape, shift, axis = inputs
    x = data.draw(values(shape))
    np.testing.assert_array_equal(ops.roll(mg.tensor(x), shift, axis).numpy(),
                                  np.roll(x, shift, axis))
    check(lambda a: ops.roll(a, shift, axis), x)


@st.composite
def matrix_inputs(draw, max_dims=4):
    return draw(values(draw(shapes(min_dims=2, max_dims=max_dims)))), draw(st.integers(-3, 3))


@given(matrix_inputs())
def test_tril(inputs):
    x, k = inputs
    np.testing.assert_array_equal(ops.tril(mg.tensor(x), k).numpy(), np.tril(x, k))
    check(lambda a: ops.tril(a, k), x)


@given(matrix_inputs())
def test_triu(inputs):
    x, k = inputs
    np.testing.assert_array_equal(ops.triu(mg.tensor(x), k).numpy(), np.triu(x, k))
    check(lambda a: ops.triu(a, k), x)


@st.composite
def diagonal_inputs(draw):
    shape = draw(shapes(min_dims=2))
    ndim = len(shape)
    axis1 = draw(an_axis(ndim))
    axis2 = draw(an_axis(ndim).filter(lambda a: a % ndim != axis1 % ndim))
    return draw(values(shape)), draw(st.integers(-3, 3)), axis1, axis2


@given(diagonal_inputs())
def test_diagonal(inputs):
    x, offset, axis1, axis2 = inputs
    np.testing.assert_array_equal(ops.diagonal(mg.tensor(x), offset, axis1, axis2).numpy(),
                                  np.diagonal(x, offset, axis1, axis2))
    check(lambda a: ops.diagonal(a, offset, axis1, axis2), x)


STRUCTURE_SECOND_ORDER = {
    "flip": lambda x: ops.flip(x * x, 1),
    "roll": lambda x: ops.roll(x * x, (1, -2), (0, 1)),
    "tril": lambda x: ops.tril(x * x, -1),
    "triu": lambda x: ops.triu(x * x),
    "diagonal": lambda x: ops.diagonal(x * x, 1),
}


@pytest.mark.parametrize("name", sorted(STRUCTURE_SECOND_ORDER))
def test_gradgrad_structure(name):
    x = leaf(np.arange(12.0).reshape(3, 4) / 4 - 1)
    assert mg.gradgradcheck(STRUCTURE_SECOND_ORDER[name], [x])


# -- float32 stays float32 --------------------------------------------------------------------

FLOAT32_CASES = {
    **{name: (lambda f: lambda x: f(x))(getattr(ops, name)) for name in ELEMENTWISE},
    "cumsum": lambda x: ops.cumsum(x, 1),
    "cumprod": lambda x: ops.cumprod(x, 0),
    "prod": lambda x: ops.prod(x, 1),
    "take_along_axis": lambda x: ops.take_along_axis(x, np.array([[0, 1], [1, 1]]), 1),
    "add_along_axis": lambda x: ops.add_along_axis((2, 4), np.array([[0, 1], [1, 1]]), x[:, :2], 1),
    "scatter": lambda x: ops.scatter(x, 1, np.array([[2], [0]]), 0.5),
    "scatter_add": lambda x: ops.scatter_add(x, 0, np.array([[1, 0]]), x),
    "einsum": lambda x: ops.einsum("ij,kj->ik", x, x),
    "flip": lambda x: ops.flip(x, 0),
    "roll": lambda x: ops.roll(x, 1),
    "tril": lambda x: ops.tril(x),
    "triu": lambda x: ops.triu(x, 1),
    "diagonal": lambda x: ops.diagonal(x),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_float32_stays_float32(name):
    x = mg.tensor(np.array([[0.3, -0.2, 0.5, 0.1], [0.4, 0.25, -0.6, 0.7]], dtype=np.float32),
                  requires_grad=True)
    out = FLOAT32_CASES[name](x)
    assert out.dtype == np.float32, name
    out.sum().backward()
    assert x.grad.dtype == np.float32, name


# -- errors -----------------------------------------------------------------------------------

def test_scatter_errors_name_the_shapes_and_the_dim():
    x = mg.zeros((3, 4))
    with pytest.raises(ValueError, match=r"index of shape \(2, 5\) is larger than the "
                                         r"tensor of shape \(3, 4\) in dimension 1 \(only dim 0"):
        ops.scatter(x, 0, np.zeros((2, 5), dtype=np.int64), mg.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"index of shape \(2, 2\) is larger than the "
                                         r"source of shape \(1, 2\) in dimension 0"):
        ops.scatter_add(x, 1, np.zeros((2, 2), dtype=np.int64), mg.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"index \(2,\), tensor \(3, 4\).*same number of dim"):
        ops.scatter(x, 1, np.zeros(2, dtype=np.int64), 1.0)
    with pytest.raises(ValueError, match=r"scatter: axis 2 is out of range .* dimension 2"):
        ops.scatter(x, 2, np.zeros((1, 1), dtype=np.int64), 1.0)
    with pytest.raises(TypeError, match=r"indices must be integers, got dtype float64"):
        ops.scatter(x, 0, np.zeros((1, 1)), 1.0)
    with pytest.raises(TypeError, match=r"source's dtype float64 differs .* float32"):
        ops.scatter_add(x, 0, np.zeros((1, 1), dtype=np.int64), mg.zeros((1, 1), dtype=F64))


def test_take_along_axis_errors_name_the_shapes():
    x = mg.zeros((3, 4))
    with pytest.raises(ValueError, match=r"indices of shape \(2,\) .* tensor of shape \(3, 4\)"):
        ops.take_along_axis(x, np.zeros(2, dtype=np.int64), 1)
    with pytest.raises(ValueError, match=r"\(2, 2\) do not broadcast .* \(3, 4\) in axis 0"):
        ops.take_along_axis(x, np.zeros((2, 2), dtype=np.int64), 1)
    with pytest.raises(TypeError, match=r"indices must be integers"):
        ops.take_along_axis(x, mg.zeros((3, 1)), 1)


@pytest.mark.parametrize("subscripts, shapes_, message", [
    ("ij,jk->ik", [(2, 3)], r"names 2 operand\(s\) but 1 were given"),
    ("ij->i", [(2, 3, 4)], r"operand 0 has shape \(2, 3, 4\) \(3 dimensions\) but 'ij'"),
    ("ij,jk->ik", [(2, 3), (4, 5)], r"subscript 'j' has size 3 in one operand and 4 in "
                                    r"operand 1"),
    ("ij->k", [(2, 3)], r"output subscript 'k' of 'ij->k' does not appear"),
    ("ij->ii", [(2, 2)], r"output subscript 'i' appears more than once"),
    ("i1->i", [(2, 2)], r"invalid subscript '1'"),
    ("i->i->i", [(2,)], r"more than one '->'"),
    ("...i,...i", [(2, 3), (4, 3)], r"an ellipsis axis has size 2 in one operand and 4"),
])
def test_einsum_errors(subscripts, shapes_, message):
    with pytest.raises(ValueError, match=message):
        ops.einsum(subscripts, *[mg.zeros(s) for s in shapes_])


def test_structure_errors():
    with pytest.raises(ValueError, match=r"tril: needs a tensor of at least 2 dim.*\(3,\)"):
        ops.tril(mg.zeros(3))
    with pytest.raises(ValueError, match=r"diagonal: axis1 and axis2 are the same dimension"):
        ops.diagonal(mg.zeros((2, 2)), 0, 1, -1)
    with pytest.raises(ValueError, match=r"axis 2 is out of bounds"):
        ops.diagonal(mg.zeros((2, 2)), 0, 0, 2)


# -- the registry: merged into test_gradients.test_every_primitive_has_a_gradient_test ---------

GRADIENT_TESTS = {
    "sin": test_sin,
    "cos": test_cos,
    "tan": test_tan,
    "arctan": test_arctan,
    "arcsin": test_arcsin,
    "arccos": test_arccos,
    "sinh": test_sinh,
    "cosh": test_cosh,
    "log1p": test_log1p,
    "expm1": test_expm1,
    "reciprocal": test_reciprocal,
    "arctan2": test_arctan2,
    "hypot": test_hypot,
    "logaddexp": test_logaddexp,
    "cumsum": test_cumsum,
    "cumprod": test_cumprod,
    "prod": test_prod,
    "take_along_axis": test_take_along_axis,
    "add_along_axis": test_add_along_axis,
    "scatter": test_scatter,
    "einsum": test_einsum,
    "roll": test_roll,
    "tril": test_tril,
    "triu": test_triu,
}


# -- PyTorch as the oracle ----------------------------------------------------------------------

def compare(torch, mg_fn, torch_fn, arrays, rtol=1e-10, atol=1e-12, second_order=False):
    """Same values, same gradients of <v, out>, and (``second_order``) the same
    derivative of <w, gradient>, for fixed random v and w."""
    xs = [leaf(a) for a in arrays]
    ts = [torch.tensor(np.asarray(a, dtype=F64), requires_grad=True) for a in arrays]
    out, tout = mg_fn(*xs), torch_fn(*ts)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=atol)
    rng = np.random.default_rng(0)
    v = rng.standard_normal(out.shape)
    grads = mg.grad((out * mg.tensor(v)).sum(), xs, create_graph=second_order,
                    allow_unused=True)
    tgrads = torch.autograd.grad((tout * torch.tensor(v)).sum(), ts,
                                 create_graph=second_order, allow_unused=True)
    for i, (g, tg) in enumerate(zip(grads, tgrads)):
        expected = np.zeros(xs[i].shape) if tg is None else tg.detach().numpy()
        got = np.zeros(xs[i].shape) if g is None else g.numpy()
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
    if second_order:
        ws = [rng.standard_normal(x.shape) for x in xs]
        terms = [(g * mg.tensor(w)).sum() for g, w in zip(grads, ws)
                 if g is not None and g.requires_grad]
        tterms = [(g * torch.tensor(w)).sum() for g, w in zip(tgrads, ws)
                  if g is not None and g.requires_grad]
        hv = mg.grad(sum(terms), xs, allow_unused=True) if terms else [None] * len(xs)
        thv = torch.autograd.grad(sum(tterms), ts, allow_unused=True) if tterms else \
            [None] * len(ts)
        for i, (h, th) in enumerate(zip(hv, thv)):
            expected = np.zeros(xs[i].shape) if th is None else th.numpy()
            got = np.zeros(xs[i].shape) if h is None else h.numpy()
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol,
                                       err_msg=f"second derivative, input {i}")


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@given(data=st.data())
def test_elementwise_matches_torch(name, data):
    torch = pytest.importorskip("torch")
    make, torch_name = ELEMENTWISE[name]
    x = data.draw(make(data.draw(shapes())))
    compare(torch, getattr(ops, name), getattr(torch, torch_name), [x], second_order=True)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_elementwise_matches_torch(name, data):
    torch = pytest.importorskip("torch")
    compare(torch, getattr(ops, name), getattr(torch, BINARY[name][1]),
            _binary_inputs(data, name), second_order=True)


@given(running_inputs(lambda s: with_zeros(s, -1.5, 1.5), max_dims=2))
def test_cumsum_cumprod_match_torch(inputs):
    torch = pytest.importorskip("torch")
    x, axis = inputs
    flat = axis is None
    dim = 0 if flat else axis

    def prepare(t):
        return t.reshape(-1) if flat else t

    compare(torch, lambda a: ops.cumsum(a, axis), lambda t: torch.cumsum(prepare(t), dim), [x])
    compare(torch, lambda a: ops.cumprod(a, axis), lambda t: torch.cumprod(prepare(t), dim), [x],
            second_order=True)


@pytest.mark.parametrize("x", [
    [0.0, 2.0, 3.0], [2.0, 0.0, 3.0, 0.0, 4.0], [0.0, 0.0, 0.0], [1.5, 2.0, 0.0],
    [[0.0, 2.0, 0.0, 3.0], [1.0, 0.0, 0.0, 0.0], [2.0, 3.0, 4.0, 0.0]],
])
def test_products_at_zeros_match_torch(x):
    """One zero, several zeros, only zeros, a zero last: first and second derivatives."""
    torch = pytest.importorskip("torch")
    compare(torch, lambda a: ops.cumprod(a, -1), lambda t: torch.cumprod(t, -1), [x],
            second_order=True)
    compare(torch, lambda a: ops.prod(a, -1), lambda t: torch.prod(t, -1), [x],
            second_order=True)
    compare(torch, lambda a: ops.prod(a), lambda t: torch.prod(t), [x], second_order=True)


@given(st.data())
def test_prod_matches_torch(data):
    torch = pytest.importorskip("torch")
    shape = data.draw(shapes(max_dims=2))
    x = data.draw(with_zeros(shape, -1.5, 1.5))
    if shape and data.draw(st.booleans()):
        axis = data.draw(an_axis(len(shape)))
        keepdims = data.draw(st.booleans())
        compare(torch, lambda a: ops.prod(a, axis, keepdims),
                lambda t: torch.prod(t, axis, keepdim=keepdims), [x], second_order=True)
    else:
        compare(torch, ops.prod, torch.prod, [x], second_order=True)


@given(gather_inputs(negative=False))
def test_take_along_axis_matches_torch_gather(inputs):
    torch = pytest.importorskip("torch")
    x, indices, axis = inputs
    compare(torch, lambda a: ops.take_along_axis(a, indices, axis),
            lambda t: torch.gather(t, axis, torch.tensor(indices)), [x], second_order=True)


@given(scatter_inputs())
def test_scatter_matches_torch(inputs):
    torch = pytest.importorskip("torch")
    x, axis, index, src = inputs
    src = src[tuple(slice(0, n) for n in index.shape)]  # torch's backward needs this shape
    t_index = torch.tensor(index)
    compare(torch, lambda a, b: ops.scatter(a, axis, index, b),
            lambda a, b: torch.scatter(a, axis, t_index, b), [x, src])
    compare(torch, lambda a: ops.scatter(a, axis, index, -0.5),
            lambda a: torch.scatter(a, axis, t_index, -0.5), [x])


@given(scatter_inputs(unique=False))
def test_scatter_add_and_add_along_axis_match_torch(inputs):
    torch = pytest.importorskip("torch")
    x, axis, index, src = inputs
    src = src[tuple(slice(0, n) for n in index.shape)]  # torch's backward needs this shape
    compare(torch, lambda a, b: ops.scatter_add(a, axis, index, b),
            lambda a, b: torch.scatter_add(a, axis, torch.tensor(index), b), [x, src])
    compare(torch, lambda b: ops.add_along_axis(x.shape, index, b, axis),
            lambda b: torch.zeros(x.shape, dtype=b.dtype).scatter_add(axis, torch.tensor(index),
                                                                       b), [src])


@given(einsum_inputs())
def test_einsum_matches_torch(inputs):
    torch = pytest.importorskip("torch")
    subscripts, arrays = inputs
    compare(torch, lambda *xs: ops.einsum(subscripts, *xs),
            lambda *ts: torch.einsum(subscripts, *ts), arrays, second_order=True)


@given(st.data())
def test_flip_roll_match_torch(data):
    torch = pytest.importorskip("torch")
    shape, shift, axis = data.draw(roll_inputs())
    x = data.draw(values(shape))
    compare(torch, lambda a: ops.roll(a, shift, axis), lambda t: torch.roll(t, shift, axis), [x])
    dims = data.draw(st.lists(an_axis(len(shape)), unique_by=lambda a: a % len(shape))
                     if shape else st.just([]))
    compare(torch, lambda a: ops.flip(a, tuple(dims)), lambda t: torch.flip(t, dims), [x])


@given(matrix_inputs(), st.data())
def test_triangles_and_diagonals_match_torch(inputs, data):
    torch = pytest.importorskip("torch")
    x, k = inputs
    compare(torch, lambda a: ops.tril(a, k), lambda t: torch.tril(t, k), [x])
    compare(torch, lambda a: ops.triu(a, k), lambda t: torch.triu(t, k), [x])
    x, offset, axis1, axis2 = data.draw(diagonal_inputs())
    compare(torch, lambda a: ops.diagonal(a, offset, axis1, axis2),
            lambda t: torch.diagonal(t, offset, axis1, axis2), [x])


# Which oracle test covers each primitive (merged into test_torch_oracle's registry check).
ORACLE_TESTS = {
    **{name: test_elementwise_matches_torch for name in ELEMENTWISE},
    **{name: test_binary_elementwise_matches_torch for name in BINARY},
    "cumsum": test_cumsum_cumprod_match_torch,
    "cumprod": test_cumsum_cumprod_match_torch,
    "prod": test_prod_matches_torch,
    "take_along_axis": test_take_along_axis_matches_torch_gather,
    "add_along_axis": test_scatter_add_and_add_along_axis_match_torch,
    "scatter": test_scatter_matches_torch,
    "einsum": test_einsum_matches_torch,
    "roll": test_flip_roll_match_torch,
    "tril": test_triangles_and_diagonals_match_torch,
    "triu": test_triangles_and_diagonals_match_torch,
}


def test_every_new_primitive_has_an_oracle_test():
    assert set(ORACLE_TESTS) == set(GRADIENT_TESTS)
