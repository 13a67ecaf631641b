"""Gradient clipping against PyTorch: the returned norm, the clipped gradients, the
untouched case below the threshold, non-finite norms, and no host synchronisation."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (), (2, 1, 3)]


def grads_pair(scale=1.0, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    arrays = [np.asarray(rng.randn(*shape) * scale, dtype=dtype) for shape in SHAPES]
    ours, theirs = [], []
    for a in arrays:
        p = nn.Parameter(mg.tensor(np.zeros_like(a)))
        p.grad = mg.tensor(a)
        t = torch.zeros(a.shape, dtype=torch.from_numpy(a).dtype, requires_grad=True)
        t.grad = torch.from_numpy(a.copy())
        ours.append(p)
        theirs.append(t)
    return ours, theirs


def assert_grads_equal(ours, theirs, rtol=1e-12):
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5, -math.inf, 0.0])
def test_clip_grad_norm_matches_torch(norm_type):
    ours, theirs = grads_pair(scale=3.0)
    norm = clip_grad_norm_(ours, max_norm=1.5, norm_type=norm_type)
    tnorm = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type,
                                           foreach=False)
    assert isinstance(norm, mg.Tensor) and norm.shape == ()
    np.testing.assert_allclose(norm.numpy(), tnorm.numpy(), rtol=1e-12)
    assert_grads_equal(ours, theirs)


@given(scale=st.floats(1e-3, 1e3), max_norm=st.floats(1e-2, 1e2),
       norm_type=st.sampled_from([1.0, 2.0, math.inf, 2.5]), seed=st.integers(0, 2 ** 16))
def test_clip_grad_norm_matches_torch_property(scale, max_norm, norm_type, seed):
    ours, theirs = grads_pair(scale=scale, seed=seed)
    norm = clip_grad_norm_(ours, max_norm, norm_type)
    tnorm = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type, foreach=False)
    np.testing.assert_allclose(norm.numpy(), tnorm.numpy(), rtol=1e-12)
    assert_grads_equal(ours, theirs)
    total = np.linalg.norm(np.concatenate([p.grad.numpy().ravel() for p in ours]), norm_type)
    assert total <= max_norm * (1 + 1e-9)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_below_threshold_leaves_gradients_unchanged(norm_type):
    ours, _ = grads_pair(scale=0.01)
    before = [p.grad.numpy().copy() for p in ours]
    norm = clip_grad_norm_(ours, max_norm=100.0, norm_type=norm_type)
    assert float(norm) < 100.0
    for p, b in zip(ours, before):
        np.testing.assert_array_equal(p.grad.numpy(), b)


def test_norm_is_the_square_root_not_the_square():
    p = nn.Parameter(mg.zeros(2, dtype=np.float64))
    p.grad = mg.tensor(np.array([3.0, 4.0]))
    assert float(clip_grad_norm_([p], max_norm=6.0)) == pytest.approx(5.0)
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, 4.0])  # 5 < 6 (but 25 > 6)
    clip_grad_norm_([p], max_norm=1.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)


def test_gradients_are_clipped_in_place():
    ours, _ = grads_pair(scale=3.0)
    held = ours[0].grad
    clip_grad_norm_(ours, max_norm=0.1)
    assert ours[0].grad is held
    np.testing.assert_allclose(float(clip_grad_norm_(ours, max_norm=1e9)), 0.1, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # inf * 0, as in PyTorch
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nonfinite_norm(bad):
    ours, theirs = grads_pair()
    ours[0].grad = mg.tensor(np.full((3, 4), bad))
    theirs[0].grad = torch.full((3, 4), bad, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"total norm of order 2.0 .* is non-finite.*"
                                           r"error_if_nonfinite=False"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    norm = clip_grad_norm_(ours, 1.0)  # allowed: scaled as PyTorch scales it
    tnorm = torch.nn.utils.clip_grad_norm_(theirs, 1.0, foreach=False)
    np.testing.assert_array_equal(norm.numpy(), tnorm.numpy())
    assert_grads_equal(ours, theirs)


def test_no_host_synchronisation(monkeypatch):
    """The clipping path never reads a value back: reading one here raises."""
    ours, _ = grads_pair(scale=3.0)

    def forbidden(*args, **kwargs):
        raise AssertionError("clip_grad_norm_ read a tensor value on the host")

    for name in ("item", "numpy", "__bool__", "__float__", "tolist", "__array__"):
        monkeypatch.setattr(mg.Tensor, name, forbidden)
    norm = clip_grad_norm_(ours, max_norm=0.5)
    monkeypatch.undo()
    assert float(norm) > 0.5


def test_parameters_without_grad_and_edge_inputs():
    ours, theirs = grads_pair(scale=3.0)
    no_grad = nn.Parameter(mg.ones(4, dtype=np.float64))
    norm = clip_grad_norm_(ours + [no_grad], 1.0)
    tnorm = torch.nn.utils.clip_grad_norm_(theirs, 1.0, foreach=False)
    np.testing.assert_allclose(norm.numpy(), tnorm.numpy(), rtol=1e-12)
    assert no_grad.grad is None
    single = nn.Parameter(mg.zeros(3, dtype=np.float64))
    single.grad = mg.tensor(np.array([1.0, 2.0, 2.0]))
    assert float(clip_grad_norm_(single, 1.0)) == pytest.approx(3.0)  # a lone tensor
    assert float(clip_grad_norm_([no_grad], 1.0)) == 0.0
    assert float(clip_grad_norm_(iter(ours), 1.0)) > 0  # any iterable, as in PyTorch


def test_float32_stays_float32():
    ours, _ = grads_pair(scale=3.0, dtype=np.float32)
    norm = clip_grad_norm_(ours, 1.0)
    assert norm.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in ours)
    clip_grad_value_(ours, 0.1)
    assert all(p.grad.dtype == np.float32 for p in ours)


@pytest.mark.parametrize("clip_value", [0.5, 2.0, 10.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = grads_pair(scale=3.0)
    held = ours[0].grad
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value, foreach=False)
    assert_grads_equal(ours, theirs, rtol=0)
    assert ours[0].grad is held
    assert max(float(np.abs(p.grad.numpy()).max()) for p in ours) <= clip_value
