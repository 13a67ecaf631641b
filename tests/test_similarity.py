"""F.normalize and F.cosine_similarity (nn/similarity.py): gradients against central
differences, values and gradients against PyTorch (near zero vectors too, where the two
floor their norms differently), broadcasting and the errors."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F

F64 = np.float64


def shaped(min_dims=1):
    return hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4)


def arrays(shape, scale=1.0):
    return hnp.arrays(F64, shape, elements=st.floats(-2, 2).filter(lambda v: abs(v) > 0.1)
                      .map(lambda v: v * scale))


def leaf(a):
    return mg.tensor(np.asarray(a, dtype=F64), requires_grad=True)


@given(data=st.data())
def test_normalize_gradchecks(data):
    shape = data.draw(shaped())
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    p = data.draw(st.sampled_from([2.0, 1.0, 3.0]))
    x = data.draw(arrays(shape))
    assert mg.gradcheck(lambda a: F.normalize(a, p=p, dim=dim), [leaf(x)])


@given(data=st.data())
def test_cosine_similarity_gradchecks(data):
    shape = data.draw(shaped())
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x1, x2 = data.draw(arrays(shape)), data.draw(arrays(shape[data.draw(st.integers(
        0, len(shape) - 1)):]))  # x2 may have fewer dims: it broadcasts
    assert mg.gradcheck(lambda a, b: F.cosine_similarity(a, b, dim=dim), [leaf(x1), leaf(x2)])


def test_a_zero_vector_stays_zero_and_scores_zero():
    x = leaf([[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_array_equal(F.normalize(x).numpy(), [[0, 0], [0.6, 0.8]])
    np.testing.assert_array_equal(F.cosine_similarity(x, mg.tensor([1.0, 0.0])).numpy(),
                                  [0.0, 0.6])


def test_errors_name_the_shapes_and_the_dim():
    with pytest.raises(ValueError, match=r"cosine_similarity: x1 of shape \(3, 4\) and x2 of "
                                         r"shape \(3,\) do not broadcast to one shape"):
        F.cosine_similarity(mg.randn(3, 4), mg.randn(3))
    with pytest.raises(IndexError, match="dim 3 is out of range for a tensor of 2 dimensions"):
        F.normalize(mg.randn(3, 4), dim=3)


@given(data=st.data())
def test_against_pytorch(data):
    torch = pytest.importorskip("torch")
    shape = data.draw(shaped())
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    scale = data.draw(st.sampled_from([1.0, 1e-9, 1e-13]))  # norms below the eps too
    x1, x2 = data.draw(arrays(shape, scale)), data.draw(arrays(shape))
    p = data.draw(st.sampled_from([2.0, 1.0, float("inf")]))
    weights = np.random.default_rng(0).standard_normal(shape)
    for mine, theirs in [
            (lambda a, b: F.normalize(a, p=p, dim=dim),
             lambda a, b: torch.nn.functional.normalize(a, p=p, dim=dim)),
            (lambda a, b: F.cosine_similarity(a, b, dim=dim),
             lambda a, b: torch.nn.functional.cosine_similarity(a, b, dim=dim))]:
        a, b = leaf(x1), leaf(x2)
        ta, tb = (torch.tensor(v, requires_grad=True) for v in (x1, x2))
        y, ty = mine(a, b), theirs(ta, tb)
        w = weights.sum(axis=dim) if y.ndim < len(shape) else weights
        (y * mg.tensor(w)).sum().backward()
        (ty * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-300)
        for mg_x, torch_x in ((a, ta), (b, tb)):
            expected = torch_x.grad.numpy() if torch_x.grad is not None else 0 * x1
            got = mg_x.grad.numpy() if mg_x.grad is not None else 0 * x1
            # gradients scale as 1 / |x1|: rounding noise of that size where the exact
            # gradient is 0 (a 1-element normalize)
            atol = 1e-10 / scale
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=atol)


def test_exported():
    assert {"normalize", "cosine_similarity"} <= set(F.__all__)


def test_cosine_similarity_promotes_as_pytorch():
    out = F.cosine_similarity(mg.tensor([[1.0, 3.0]]), mg.tensor([[1, 2]]))
    assert out.dtype == mg.float32
    np.testing.assert_allclose(out.numpy(), [7 / np.sqrt(50)], rtol=1e-6)
    assert F.cosine_similarity(mg.ones(1, 2, dtype=mg.float32),
                               mg.ones(1, 2, dtype=mg.float64)).dtype == mg.float64
    with pytest.raises(TypeError, match="cosine_similarity: needs floating-point tensors, got "
                                        "int64 and int64"):
        F.cosine_similarity(mg.tensor([[1, 2]]), mg.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="cosine_similarity: eps must be non-negative, got -1"):
        F.cosine_similarity(mg.ones(2), mg.ones(2), 0, -1)
