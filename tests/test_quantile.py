"""quantile and nanquantile: values and gradients against PyTorch for every interpolation,
dims, keepdim, one level or a 1-d tensor of levels, rows with NaN; gradients against central
differences (float64); the method forms; and the errors."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg

F64 = np.float64
INTERPOLATIONS = ["linear", "lower", "higher", "midpoint", "nearest"]


def shapes(min_dims=0):
    return hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4)


def leaf(a):
    return mg.tensor(np.asarray(a, dtype=F64), requires_grad=True)


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@given(data=st.data())
def test_quantile_matches_torch(name, data):
    torch = pytest.importorskip("torch")
    shape = data.draw(shapes())
    values = st.one_of(st.sampled_from([np.nan, 1.0, -2.0, 0.5]), st.floats(-5, 5))
    a = data.draw(hnp.arrays(F64, shape, elements=values))
    dim = data.draw(st.one_of(st.none(), st.integers(-max(len(shape), 1),
                                                     max(len(shape), 1) - 1)))
    keepdim = data.draw(st.booleans())
    interpolation = data.draw(st.sampled_from(INTERPOLATIONS))
    levels = st.floats(0, 1)
    if data.draw(st.booleans()):
        q = theirs_q = data.draw(st.one_of(levels, st.sampled_from([0.0, 0.5, 1.0])))
    else:
        qs = np.asarray(data.draw(st.lists(levels, min_size=0, max_size=3)), dtype=F64)
        q, theirs_q = mg.tensor(qs), torch.tensor(qs)
    x, tx = leaf(a), torch.tensor(a, requires_grad=True)
    ours = getattr(mg, name)(x, q, dim, keepdim, interpolation=interpolation)
    theirs = getattr(torch, name)(tx, theirs_q, dim, keepdim, interpolation=interpolation)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    if len(np.unique(a)) < a.size:
        return  # which of equal elements (or NaNs) is read is each library's sort's choice
    weights = np.random.default_rng(0).standard_normal(ours.shape)
    (ours * mg.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@given(data=st.data())
def test_quantile_gradchecks(data):
    shape = data.draw(shapes(min_dims=1))
    # distinct and far apart next to the finite differences' steps: the order is fixed
    a = data.draw(hnp.arrays(F64, shape, elements=st.integers(-50, 50), unique=True)) / 10
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    q = data.draw(st.floats(0, 1))
    interpolation = data.draw(st.sampled_from(INTERPOLATIONS))
    assert mg.gradcheck(lambda t: mg.quantile(t, q, dim, interpolation=interpolation),
                        [leaf(a)])
    assert mg.gradcheck(lambda t: t.nanquantile(mg.tensor([0.1, q], dtype=mg.float64)),
                        [leaf(a)])


def test_quantile_reads_between_the_sorted_elements():
    x = mg.tensor([1.0, 5.0, 2.0, 8.0])                    # sorted: 1 2 5 8, ranks 0..3
    assert x.quantile(0.5).item() == 3.5
    q = mg.tensor([0.0, 0.25, 1.0])
    np.testing.assert_allclose(mg.quantile(x, q).numpy(), [1.0, 1.75, 8.0])
    for interpolation, want in (("lower", 2.0), ("higher", 5.0), ("midpoint", 3.5),
                                ("nearest", 5.0)):          # rank 1.5: half to even is 2
        assert mg.quantile(x, 0.5, interpolation=interpolation).item() == want
    rows = mg.tensor([[1.0, np.nan, 3.0], [4.0, 2.0, 6.0]])
    np.testing.assert_array_equal(rows.quantile(0.5, 1).numpy(), [np.nan, 4.0])
    np.testing.assert_array_equal(rows.nanquantile(0.5, 1).numpy(), [2.0, 4.0])
    assert rows.quantile(q, 1, keepdim=True).shape == (3, 2, 1)
    assert rows.nanquantile(0.5, keepdim=True).shape == (1, 1)


def test_quantile_gradient_goes_to_the_elements_read():
    x = mg.tensor([1.0, 5.0, 2.0, 8.0], requires_grad=True)
    mg.quantile(x, 0.4).backward()                          # rank 1.2: 0.8 of 2, 0.2 of 5
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.2, 0.8, 0.0])


def test_quantile_errors_name_what_is_wrong():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match=r"quantile: q must be in the range \[0, 1\], got 1.5"):
        mg.quantile(x, 1.5)
    with pytest.raises(ValueError, match=r"nanquantile: q must be in the range \[0, 1\], got nan"):
        mg.nanquantile(x, float("nan"))
    with pytest.raises(ValueError, match="quantile: q must be a number or a 1-d tensor"):
        mg.quantile(x, mg.tensor([[0.5]]))
    with pytest.raises(TypeError, match="quantile: q must have the input's dtype float32, got "
                                        "float64"):
        mg.quantile(x, mg.tensor([0.5], dtype=mg.float64))
    with pytest.raises(TypeError, match="quantile: q must be a number or a tensor, got list"):
        mg.quantile(x, [0.5])
    with pytest.raises(TypeError, match="quantile: the input must be float32 or float64, got "
                                        "int64"):
        mg.quantile(mg.tensor([1, 2]), 0.5)
    with pytest.raises(ValueError, match="quantile: interpolation must be one of linear, "
                                         "lower, higher, midpoint, nearest, got 'mean'"):
        mg.quantile(x, 0.5, interpolation="mean")
    with pytest.raises(ValueError, match="quantile: the input is empty"):
        mg.quantile(mg.zeros(0), 0.5)
    with pytest.raises(IndexError, match="quantile"):
        mg.quantile(x, 0.5, dim=2)
