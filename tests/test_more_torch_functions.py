"""atan2, hypot, logaddexp, median, nanmedian, dist, cdist, F.pairwise_distance and the
nn.CosineSimilarity / nn.PairwiseDistance modules: gradients against central differences
(float64, hypothesis-drawn shapes), values, indices and gradients against PyTorch, dtypes,
broadcasting, the method and in-place forms, and the errors. The primitives' own gradient
and oracle tests (arctan2, hypot, logaddexp) are in test_gradients_torch_ops.py."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

F64 = np.float64


def arrays(shape, low=-3.0, high=3.0, away_from_zero=0.0):
    elements = st.floats(low, high).filter(lambda v: abs(v) >= away_from_zero)
    return hnp.arrays(F64, shape, elements=elements)


def shapes(min_dims=0):
    return hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4)


def leaf(a):
    return mg.tensor(np.asarray(a, dtype=F64), requires_grad=True)


def host(t):
    return np.asarray(t.detach().cpu().numpy())


def test_atan2_quadrants_and_aliases():
    y = mg.tensor([1.0, 1.0, -1.0, -1.0, 0.0])
    x = mg.tensor([1.0, -1.0, -1.0, 1.0, -1.0])
    want = np.arctan2(y.numpy(), x.numpy())
    for got in (mg.atan2(y, x), mg.arctan2(y, x), y.atan2(x), y.arctan2(x)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
        assert got.dtype == mg.float32


def test_dtypes_follow_pytorch():
    torch = pytest.importorskip("torch")
    i = np.array([1, -2, 3])
    f32, f64 = np.array([0.5, 2.0, -1.0], "f4"), np.array([0.5, 2.0, -1.0])
    cases = [(i, i), (i, f32), (f32, f64), (f32, 2.0), (i, 2)]
    for a, b in cases:
        ours = mg.atan2(mg.tensor(a), mg.tensor(b) if isinstance(b, np.ndarray) else b)
        theirs = torch.atan2(torch.tensor(a), torch.tensor(b) if isinstance(b, np.ndarray)
                             else torch.tensor(b))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (a.dtype, b)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    assert mg.hypot(mg.tensor(f32), mg.tensor(f64)).dtype == mg.float64
    assert mg.logaddexp(mg.tensor(f32), 1.0).dtype == mg.float32
    # PyTorch's take tensors only: a number is taken as tensor(number), a 0-d float32
    assert mg.hypot(mg.tensor(0.0, dtype=mg.float16), 1.5).dtype == mg.float32
    assert mg.hypot(mg.zeros(2, dtype=mg.float16), 1.5).dtype == mg.float16


@pytest.mark.parametrize("name", ["hypot", "logaddexp"])
def test_hypot_and_logaddexp_refuse_integers_as_pytorch(name):
    with pytest.raises(TypeError, match=f"{name}: needs floating-point tensors, got int64"):
        getattr(mg, name)(mg.tensor([1, 2]), mg.tensor([3, 4]))


def test_in_place_forms():
    a = mg.tensor([3.0, -1.0])
    assert a.hypot_(mg.tensor([4.0, 0.0])) is a
    np.testing.assert_allclose(a.numpy(), [5.0, 1.0])
    b = mg.tensor([1.0, -1.0])
    b.atan2_(mg.tensor([0.0, 0.0]))
    np.testing.assert_allclose(b.numpy(), [np.pi / 2, -np.pi / 2], rtol=1e-6)
    c = mg.tensor([0.0])
    c.arctan2_(mg.tensor([-1.0]))
    np.testing.assert_allclose(c.numpy(), [np.pi], rtol=1e-6)


# -- median and nanmedian --------------------------------------------------------------

def test_median_is_the_lower_middle_value():
    x = mg.tensor([[4.0, 1.0, 3.0, 2.0], [5.0, 7.0, 6.0, 8.0]])
    assert x.median().item() == 4.0                    # of 8 elements: the 4th smallest
    values, indices = x.median(1)
    np.testing.assert_array_equal(values.numpy(), [2.0, 6.0])
    np.testing.assert_array_equal(indices.numpy(), [3, 2])
    assert indices.dtype == mg.int64
    kept = mg.median(x, dim=0, keepdim=True)
    assert kept.values.shape == (1, 4) and kept.indices.shape == (1, 4)
    np.testing.assert_array_equal(kept.values.numpy(), [[4.0, 1.0, 3.0, 2.0]])
    assert mg.median(mg.tensor([3, 1, 2])).item() == 2  # integers too
    assert mg.median(mg.tensor(5.0), 0) == (mg.tensor(5.0), mg.tensor(0))


@pytest.mark.parametrize("name", ["median", "nanmedian"])
def test_median_of_bool_is_refused_as_in_pytorch(name):
    x = mg.tensor([True, False, True])
    for args in ((), (0,)):
        with pytest.raises(TypeError, match=f"{name}: not implemented for bool tensors"):
            getattr(mg, name)(x, *args)
    torch = pytest.importorskip("torch")
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        getattr(torch, name)(torch.tensor([True, False, True]))


@pytest.mark.parametrize("name", ["median", "nanmedian"])
@given(data=st.data())
def test_median_matches_torch_with_nans(name, data):
    torch = pytest.importorskip("torch")
    shape = data.draw(shapes(min_dims=1))
    values = st.one_of(st.sampled_from([np.nan, 1.0, -2.0]), st.floats(-5, 5))
    a = data.draw(hnp.arrays(F64, shape, elements=values))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = data.draw(st.booleans())
    ours = getattr(mg, name)(mg.tensor(a), dim, keepdim)
    theirs = getattr(torch, name)(torch.tensor(a), dim, keepdim)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    assert ours.indices.shape == tuple(theirs.indices.shape)
    # ties may be resolved to another index than PyTorch's: the index must hold the value
    at = ours.indices.numpy() if keepdim else np.expand_dims(ours.indices.numpy(), dim)
    picked = np.take_along_axis(a, at, axis=dim)
    want = theirs.values.numpy() if keepdim else np.expand_dims(theirs.values.numpy(), dim)
    np.testing.assert_array_equal(picked, want)
    whole = getattr(mg, name)(mg.tensor(a))
    np.testing.assert_array_equal(whole.numpy(), getattr(torch, name)(torch.tensor(a)).numpy())


@given(data=st.data())
def test_median_gradchecks(data):
    shape = data.draw(shapes(min_dims=1))
    # distinct and far apart next to the finite differences' steps: the order is fixed
    a = data.draw(hnp.arrays(F64, shape, elements=st.integers(-50, 50), unique=True)) / 10
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    assert mg.gradcheck(lambda t: mg.median(t, dim).values, [leaf(a)])
    assert mg.gradcheck(lambda t: t.median(), [leaf(a)])


def test_median_gradient_goes_to_the_chosen_element():
    x = leaf([[1.0, 9.0, 5.0]])
    x.median(1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0, 1.0]])


def test_median_of_nothing():
    assert np.isnan(mg.median(mg.zeros(0)).item())
    assert np.isnan(mg.tensor([np.nan, np.nan]).nanmedian().item())
    with pytest.raises(ValueError, match="median: dim 1 has size 0"):
        mg.zeros(2, 0).median(1)
    with pytest.raises(ValueError, match="median: the input is empty"):
        mg.median(mg.zeros(0, dtype=mg.int64))
    with pytest.raises(IndexError, match="median"):
        mg.zeros(2, 3).median(2)


# -- dist, pairwise_distance and the modules ----------------------------------------------

@pytest.mark.parametrize("p", [2, 1, 3.5, 0, float("inf"), -float("inf")])
def test_dist_matches_torch(p):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    ours = mg.dist(mg.tensor(a), mg.tensor(b), p)
    np.testing.assert_allclose(ours.item(), torch.dist(torch.tensor(a), torch.tensor(b), p),
                               rtol=1e-12)
    assert mg.tensor(a).dist(mg.tensor(b), p).item() == ours.item()


@given(data=st.data())
def test_dist_gradchecks(data):
    shape = data.draw(shapes(min_dims=1))
    a = data.draw(arrays(shape))
    b = data.draw(arrays(shape))
    p = data.draw(st.sampled_from([2, 1.5, 3]))
    if np.any(np.abs(a - b) < 0.1):  # |a - b| is not differentiable at 0
        return
    assert mg.gradcheck(lambda s, t: mg.dist(s, t, p), [leaf(a), leaf(b)])


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("shapes_", [((5, 3), (5, 3)), ((5, 3), (3,)), ((4,), (4,))])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_matches_torch(p, shapes_, keepdim):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=shapes_[0]), rng.normal(size=shapes_[1])
    b.flat[0] = a.flat[0] if b.shape == a.shape else b.flat[0]  # an equal pair of elements
    ours_a, ours_b = leaf(a), leaf(b)
    theirs_a = torch.tensor(a, requires_grad=True)
    theirs_b = torch.tensor(b, requires_grad=True)
    ours = nn.PairwiseDistance(p, keepdim=keepdim)(ours_a, ours_b)
    theirs = torch.nn.PairwiseDistance(p, keepdim=keepdim)(theirs_a, theirs_b)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(host(ours), theirs.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(host(ours_a.grad), theirs_a.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(ours_b.grad), theirs_b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_equal_vectors_have_a_distance_with_a_gradient():
    a = leaf([[1.0, 2.0]])
    F.pairwise_distance(a, mg.tensor([[1.0, 2.0]], dtype=mg.float64)).sum().backward()
    assert np.all(np.isfinite(a.grad.numpy())) and np.all(a.grad.numpy() > 0)


@given(data=st.data())
def test_pairwise_distance_gradchecks(data):
    shape = data.draw(shapes(min_dims=1))
    a = data.draw(arrays(shape))
    b = a + data.draw(arrays(shape, away_from_zero=0.1))  # no pair of equal vectors
    assert mg.gradcheck(lambda s, t: F.pairwise_distance(s, t), [leaf(a), leaf(b)])


def test_cosine_similarity_module_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    for dim in (1, -1, 0):
        ours = nn.CosineSimilarity(dim=dim)(mg.tensor(a), mg.tensor(b))
        theirs = torch.nn.CosineSimilarity(dim=dim)(torch.tensor(a), torch.tensor(b))
        np.testing.assert_allclose(host(ours), theirs.numpy(), rtol=1e-12)


def test_modules_keep_pytorch_attributes_and_reprs():
    cos, dist = nn.CosineSimilarity(dim=2, eps=1e-6), nn.PairwiseDistance(p=1.0, keepdim=True)
    assert (cos.dim, cos.eps) == (2, 1e-6)
    assert (dist.norm, dist.eps, dist.keepdim) == (1.0, 1e-6, True)
    assert repr(cos) == "CosineSimilarity()" and repr(dist) == "PairwiseDistance()"
    assert list(cos.parameters()) == [] and list(dist.parameters()) == []


def test_pairwise_distance_of_numbers_as_pytorch():
    out = F.pairwise_distance(mg.tensor(3.0), mg.tensor(0.0), p=1)
    assert out.shape == () and out.item() == pytest.approx(3.0 + 1e-6)
    assert F.pairwise_distance(mg.tensor(0.0), mg.tensor(0.0), keepdim=True).shape == ()
    assert F.pairwise_distance(mg.tensor(0.0), mg.tensor([1.0, 2.0]), keepdim=True).shape == (1,)


def test_pairwise_distance_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)|\(4,\).*\(3,\)|broadcast"):
        F.pairwise_distance(mg.zeros(3), mg.zeros(4))


def test_logaddexp_gradient_where_the_sum_rounds():
    a = mg.tensor(1e30, requires_grad=True)  # float32: 1e30 + log 2 rounds to 1e30
    mg.logaddexp(a, mg.tensor(1e30)).backward()
    assert a.grad.item() == 0.5


def test_logaddexp_does_not_overflow():
    a, b = leaf([800.0, -800.0]), leaf([1.0, -801.0])
    out = mg.logaddexp(a, b)
    np.testing.assert_allclose(out.numpy(), [800.0, np.logaddexp(-800.0, -801.0)], rtol=1e-15)
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1 / (1 + np.exp(-1.0))], rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), [np.exp(1.0 - 800.0), 1 / (1 + np.exp(1.0))],
                               rtol=1e-12)


def test_gradients_at_the_origin_as_pytorch():
    """atan2 has no derivative at (0, 0): 0 there, as PyTorch; hypot's is NaN in both."""
    a, b = leaf([0.0, 0.0]), leaf([0.0, 1.0])
    mg.atan2(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 0.0])
    c, d = leaf([0.0]), leaf([0.0])
    mg.hypot(c, d).sum().backward()
    assert np.isnan(c.grad.numpy()).all() and np.isnan(d.grad.numpy()).all()


def test_norms_of_complex_tensors_are_real_as_pytorch():
    torch = pytest.importorskip("torch")
    a = np.array([1j, 1 + 0j, 3 - 4j])
    for p in (2, 1, 3, float("inf"), 0):
        ours, theirs = mg.norm(mg.tensor(a), p), torch.norm(torch.tensor(a), p)
        assert ours.dtype == mg.float64
        np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    assert mg.dist(mg.tensor(a), mg.tensor(0)).item() == pytest.approx(np.sqrt(27))


# -- cdist ----------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf"), 0.0])
@pytest.mark.parametrize("shapes_", [((3, 4), (5, 4)), ((2, 30, 3), (1, 7, 3)), ((4, 2), (4, 2))])
def test_cdist_matches_torch_values_and_gradients(p, shapes_):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=shapes_[0]), rng.normal(size=shapes_[1])
    if a.shape == b.shape:
        b[1] = a[1]  # a pair at distance 0: no derivative there, 0 in both libraries
    ours_a, ours_b = leaf(a), leaf(b)
    theirs_a = torch.tensor(a, requires_grad=True)
    theirs_b = torch.tensor(b, requires_grad=True)
    ours, theirs = mg.cdist(ours_a, ours_b, p), torch.cdist(theirs_a, theirs_b, p)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(host(ours), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    weights = rng.normal(size=ours.shape)
    (theirs * torch.tensor(weights)).sum().backward()
    if p == 0:  # a count: PyTorch's gradient is zero, minigrad records none
        assert not ours.requires_grad and not theirs_a.grad.any() and not theirs_b.grad.any()
        return
    (ours * mg.tensor(weights)).sum().backward()
    np.testing.assert_allclose(host(ours_a.grad), theirs_a.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(ours_b.grad), theirs_b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"])
def test_cdist_compute_modes_agree(mode):
    rng = np.random.default_rng(5)
    a, b = mg.tensor(rng.normal(size=(6, 3))), mg.tensor(rng.normal(size=(4, 3)))
    np.testing.assert_allclose(mg.cdist(a, b, compute_mode=mode).numpy(),
                               mg.cdist(a, b).numpy(), rtol=1e-12)


@given(data=st.data())
def test_cdist_gradchecks(data):
    rows_a, rows_b, width = (data.draw(st.integers(1, 4)) for _ in range(3))
    p = data.draw(st.sampled_from([2.0, 1.0, 3.0]))
    # points on a coarse grid plus a small offset: no two coordinates equal, no zero distance
    a = data.draw(hnp.arrays(F64, (rows_a, width), elements=st.integers(-9, 9))) / 3 + 0.01
    b = data.draw(hnp.arrays(F64, (rows_b, width), elements=st.integers(-9, 9))) / 3 - 0.01
    mode = data.draw(st.sampled_from(["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"]))
    assert mg.gradcheck(lambda s, t: mg.cdist(s, t, p, mode), [leaf(a), leaf(b)])


def test_cdist_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match=r"cdist: x1 must have at least 2 dims, got shape \(4,\)"):
        mg.cdist(mg.zeros(4), mg.zeros(5, 4))
    with pytest.raises(ValueError, match="cdist: x1 and x2 must have the same number of "
                                         "columns, got 4 and 3"):
        mg.cdist(mg.zeros(3, 4), mg.zeros(5, 3))
    with pytest.raises(ValueError, match="cdist: p must be a non-negative number, got -1"):
        mg.cdist(mg.zeros(3, 4), mg.zeros(5, 4), p=-1)
    with pytest.raises(ValueError, match="cdist: compute_mode must be one of"):
        mg.cdist(mg.zeros(3, 4), mg.zeros(5, 4), compute_mode="fast")
    with pytest.raises(TypeError, match="cdist: x2 must be a floating-point tensor, got int64"):
        mg.cdist(mg.zeros(3, 4), mg.zeros(5, 4, dtype=mg.int64))
