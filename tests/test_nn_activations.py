"""Issue 8's activations (SiLU, LeakyReLU, ELU, SELU, Softplus, Hardtanh, Mish, Softsign,
GLU, LogSigmoid, PReLU): modules and F forms against PyTorch in float64 (values, input and
parameter gradients, reprs), finite and exact at extreme inputs, float64 gradchecks on
hypothesis-drawn shapes, ``inplace=True``, and the errors."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

# (name, kwargs) of F forms that take only the input; kinks to keep gradchecks away from
ELEMENTWISE = [
    ("silu", {}, ()), ("leaky_relu", {}, (0.0,)), ("leaky_relu", {"negative_slope": 0.2}, (0.0,)),
    ("elu", {}, (0.0,)), ("elu", {"alpha": 0.5}, (0.0,)), ("selu", {}, (0.0,)),
    ("softplus", {}, (20.0,)), ("softplus", {"beta": 2.0, "threshold": 3.0}, (1.5,)),
    ("hardtanh", {}, (-1.0, 1.0)), ("hardtanh", {"min_val": -0.5, "max_val": 2.0}, (-0.5, 2.0)),
    ("mish", {}, (20.0,)), ("softsign", {}, ()), ("logsigmoid", {}, ()),
]
MODULES = [
    ("SiLU", {}), ("LeakyReLU", {"negative_slope": 0.3}), ("ELU", {"alpha": 1.5}), ("SELU", {}),
    ("Softplus", {"beta": 0.5, "threshold": 4.0}), ("Hardtanh", {"min_val": -2.0, "max_val": 0.5}),
    ("Mish", {}), ("Softsign", {}), ("LogSigmoid", {}), ("GLU", {"dim": 1}), ("PReLU", {}),
    ("PReLU", {"num_parameters": 4, "init": 0.1}),
]


def values(*shape, seed=0, scale=3.0):
    """Normal values plus the awkward ones: exact zeros, the kinks, and huge magnitudes."""
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    special = [0.0, 1.0, -1.0, 25.0, -25.0, 800.0, -800.0, 20.0, 0.5]
    flat = x.reshape(-1)
    flat[:len(special)] = special[:flat.size]
    return x


def compare(ours, theirs, x, torch, params=()):
    """Forward values, the input gradient and the gradients of ``params`` (pairs)."""
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xm), theirs(xt)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    direction = np.random.default_rng(1).standard_normal(ref.shape)
    (out * mg.tensor(direction)).sum().backward()
    (ref * torch.tensor(direction)).sum().backward()
    assert np.isfinite(xm.grad.numpy()).all()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    for p, q in params:
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,kwargs,kinks", ELEMENTWISE)
def test_functional_form_matches_torch(name, kwargs, kinks):
    torch = pytest.importorskip("torch")
    compare(lambda t: getattr(F, name)(t, **kwargs),
            lambda t: getattr(torch.nn.functional, name)(t, **kwargs), values(3, 7), torch)


@pytest.mark.parametrize("name,kwargs", MODULES)
def test_module_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(**kwargs).double(), getattr(torch.nn, name)(**kwargs).double()
    assert repr(ours) == repr(theirs)
    pairs = []
    if name == "PReLU":
        with torch.no_grad():  # distinct slopes per channel, so a mix-up would show
            theirs.weight.copy_(torch.linspace(0.1, 0.7, theirs.weight.numel()))
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
        pairs = [(ours.weight, theirs.weight)]
    compare(ours, theirs, values(2, 4, 3), torch, pairs)


@pytest.mark.parametrize("name,kwargs", [("ReLU", {}), ("SiLU", {}),
                                         ("LeakyReLU", {"negative_slope": 0.2}),
                                         ("ELU", {}), ("SELU", {}), ("Hardtanh", {}),
                                         ("Mish", {})])
def test_inplace_writes_into_the_input_and_keeps_gradients(name, kwargs):
    torch = pytest.importorskip("torch")
    x = values(3, 4)
    leaf_m, leaf_t = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hidden_m, hidden_t = leaf_m * 2.0, leaf_t * 2.0
    out_m = getattr(nn, name)(inplace=True, **kwargs)(hidden_m)
    assert getattr(torch.nn, name)(inplace=True, **kwargs)(hidden_t) is hidden_t
    assert out_m is hidden_m
    np.testing.assert_allclose(hidden_m.numpy(), hidden_t.detach().numpy(), rtol=1e-12)
    hidden_m.sum().backward()
    hidden_t.sum().backward()
    np.testing.assert_allclose(leaf_m.grad.numpy(), leaf_t.grad.numpy(), rtol=1e-12)
    assert "inplace=True" in repr(getattr(nn, name)(inplace=True, **kwargs))


def test_glu_and_prelu_functional_forms_match_torch():
    torch = pytest.importorskip("torch")
    x = values(2, 6, 3)
    for dim in (-1, 1):
        if x.shape[dim] % 2 == 0:
            compare(lambda t: F.glu(t, dim), lambda t: torch.nn.functional.glu(t, dim), x, torch)
    for n in (1, 6):
        w = np.linspace(-0.5, 0.5, n)
        wm, wt = mg.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
        compare(lambda t: F.prelu(t, wm), lambda t: torch.nn.functional.prelu(t, wt), x, torch,
                [(wm, wt)])


def test_extremes_are_finite_and_exact():
    x = mg.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=mg.float64, requires_grad=True)
    ls = F.logsigmoid(x)
    np.testing.assert_allclose(ls.numpy(), [-1000.0, -50.0, -math.log(2), -math.exp(-50), 0.0],
                               rtol=1e-12)
    total = ls.sum() + F.softplus(x).sum() + F.elu(x).sum() + F.mish(x).sum() + F.selu(x).sum()
    total.backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(F.softplus(x).numpy()[[0, 4]], [0.0, 1000.0])


@pytest.mark.parametrize("name", ["silu", "elu", "softplus", "hardtanh", "logsigmoid", "mish",
                                  "softsign", "leaky_relu", "selu"])
def test_float32_stays_float32(name):
    assert getattr(F, name)(mg.randn(3)).dtype == np.float32
    module = {"silu": nn.SiLU(), "mish": nn.Mish(), "selu": nn.SELU()}.get(name)
    if module is not None:
        assert module(mg.randn(3)).dtype == np.float32
    assert nn.PReLU()(mg.randn(2, 3)).dtype == np.float32


def _away_from(kinks, eps=1e-3):
    return lambda a: all(abs(v - k) > eps for v in a.reshape(-1) for k in kinks)


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


@pytest.mark.parametrize("name,kwargs,kinks", ELEMENTWISE)
@given(data=st.data())
def test_functional_form_gradchecks(name, kwargs, kinks, data):
    x = data.draw(hnp.arrays(np.float64, shapes, elements=st.floats(-4, 4)).filter(
        _away_from(kinks)))
    assert mg.gradcheck(lambda t: getattr(F, name)(t, **kwargs),
                        [mg.tensor(x, requires_grad=True)])


@given(half=st.integers(1, 3), rows=st.integers(1, 3), dim=st.sampled_from([0, -1]),
       seed=st.integers(0, 99))
def test_glu_gradchecks(half, rows, dim, seed):
    shape = (2 * half, rows) if dim == 0 else (rows, 2 * half)
    x = np.random.default_rng(seed).standard_normal(shape)
    assert mg.gradcheck(lambda t: F.glu(t, dim), [mg.tensor(x, requires_grad=True)])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3),
       per_channel=st.booleans(), seed=st.integers(0, 99))
def test_prelu_gradchecks_through_input_and_weight(shape, per_channel, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x = np.where(np.abs(x) < 1e-3, 0.5, x)
    n = shape[1] if per_channel and len(shape) >= 2 else 1
    w = rng.uniform(-0.5, 0.5, n)
    assert mg.gradcheck(F.prelu, [mg.tensor(x, requires_grad=True),
                                  mg.tensor(w, requires_grad=True)])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"halving dimension must be even, but dimension 1 .*"
                                         r"shape \(2, 3\) has size 3"):
        F.glu(mg.randn(2, 3), 1)
    with pytest.raises(ValueError, match="glu: does not support 0-d"):
        nn.GLU()(mg.tensor(1.0))
    with pytest.raises(ValueError, match=r"prelu: weight has 2 elements but an input of shape "
                                         r"\(4, 3\) has 3 channels"):
        nn.PReLU(2)(mg.randn(4, 3))
    with pytest.raises(ValueError, match=r"min_val \(1.0\) must not exceed max_val \(0.0\)"):
        nn.Hardtanh(1.0, 0.0)
    with pytest.raises(ValueError, match=r"min_val \(1.0\) must not exceed max_val \(0.0\)"):
        F.hardtanh(mg.randn(2), 1.0, 0.0)


def test_prelu_parameter_and_exports():
    layer = nn.PReLU(3, init=0.5)
    assert [(n, tuple(p.shape)) for n, p in layer.named_parameters()] == [("weight", (3,))]
    np.testing.assert_array_equal(layer.weight.numpy(), [0.5] * 3)
    assert layer.weight.dtype == np.float32
    for name in ("silu", "leaky_relu", "elu", "selu", "softplus", "hardtanh", "mish",
                 "softsign", "glu", "logsigmoid", "prelu"):
        assert name in F.__all__
