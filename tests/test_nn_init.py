"""nn.init and the layers' default initialisation: PyTorch's formulas, checked through the
bounds and moments of large samples, in place, unrecorded, and reproducible by seed."""
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn import init

torch = pytest.importorskip("torch")


def param(*shape, dtype=np.float32):
    return nn.Parameter(mg.zeros(*shape, dtype=dtype))


@pytest.mark.parametrize("name,arg", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                      ("tanh", None), ("relu", None), ("leaky_relu", None),
                                      ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain_matches_torch(name, arg):
    assert init.calculate_gain(name, arg) == pytest.approx(torch.nn.init.calculate_gain(name, arg))


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_init_is_in_place_unrecorded_and_keeps_dtype():
    p = param(3, 4, dtype=np.float64)
    array_before = p.numpy()
    out = init.normal_(p)
    assert out is p and p.is_leaf and p.requires_grad and p.grad is None
    assert p.dtype == np.float64
    if p.device == "cpu":  # .numpy() of a GPU tensor is a fresh host copy
        assert np.shares_memory(array_before, p.numpy())
    assert p.numpy().std() > 0


def test_uniform_and_normal_moments():
    u = init.uniform_(param(200, 200), -2.0, 3.0).numpy()
    assert u.min() >= -2.0 and u.max() < 3.0
    assert u.mean() == pytest.approx(0.5, abs=0.03)
    n = init.normal_(param(200, 200), 1.5, 0.5).numpy()
    assert n.mean() == pytest.approx(1.5, abs=0.01)
    assert n.std() == pytest.approx(0.5, rel=0.02)


def test_constant_zeros_ones():
    p = param(2, 3)
    assert (init.constant_(p, 0.25).numpy() == 0.25).all()
    assert (init.ones_(p).numpy() == 1).all()
    assert (init.zeros_(p).numpy() == 0).all()


def test_xavier_bounds_and_std():
    fan_in, fan_out = 30 * 9, 20 * 9  # a (20, 30, 3, 3) conv weight
    a = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    w = init.xavier_uniform_(param(20, 30, 3, 3), gain=2.0).numpy()
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.98 * a
    w = init.xavier_normal_(param(200, 300)).numpy()
    assert w.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_matches_pytorch_scale(mode):
    shape = (40, 50, 3, 3)
    fan = 50 * 9 if mode == "fan_in" else 40 * 9
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fan)
    w = init.kaiming_uniform_(param(*shape), mode=mode, nonlinearity="relu").numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    ref = torch.nn.init.kaiming_uniform_(torch.empty(shape), mode=mode, nonlinearity="relu")
    assert w.std() == pytest.approx(ref.std().item(), rel=0.03)
    w = init.kaiming_normal_(param(*shape), mode=mode).numpy()
    assert w.std() == pytest.approx(math.sqrt(2.0 / fan), rel=0.03)


def test_fan_errors():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(5,\)\)"):
        init.xavier_uniform_(param(5))
    with pytest.raises(ValueError, match="mode 'fan_avg' is not supported"):
        init.kaiming_uniform_(param(2, 2), mode="fan_avg")


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 2)])
def test_orthogonal(shape):
    w = init.orthogonal_(param(*shape, dtype=np.float64), gain=2.0).numpy()
    flat = w.reshape(shape[0], -1) / 2.0
    if flat.shape[0] >= flat.shape[1]:
        np.testing.assert_allclose(flat.T @ flat, np.eye(flat.shape[1]), atol=1e-12)
    else:
        np.testing.assert_allclose(flat @ flat.T, np.eye(flat.shape[0]), atol=1e-12)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(param(3))


def test_init_follows_the_seed():
    mg.manual_seed(11)
    a = nn.Linear(5, 4).weight.numpy().copy()
    mg.manual_seed(11)
    b = nn.Linear(5, 4).weight.numpy()
    np.testing.assert_array_equal(a, b)


# -- the layers' defaults (PyTorch's) -----------------------------------------------------

def assert_uniform_bound(values, bound):
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.9 * bound  # fills the range, not a narrower one
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)


def test_linear_default_init():
    layer = nn.Linear(64, 300)
    assert_uniform_bound(layer.weight.numpy(), 1 / 8)
    assert_uniform_bound(layer.bias.numpy(), 1 / 8)


def test_conv2d_default_init():
    layer = nn.Conv2d(8, 64, 3, groups=2)
    fan_in = 4 * 9
    assert_uniform_bound(layer.weight.numpy(), 1 / math.sqrt(fan_in))
    assert np.abs(layer.bias.numpy()).max() <= 1 / math.sqrt(fan_in)


def test_embedding_and_layer_norm_default_init():
    table = nn.Embedding(300, 100).weight.numpy()
    assert table.mean() == pytest.approx(0, abs=0.03)  # 5 sigma for 30000 draws
    assert table.std() == pytest.approx(1, rel=0.02)
    norm = nn.LayerNorm((2, 3))
    assert (norm.weight.numpy() == 1).all() and (norm.bias.numpy() == 0).all()
