"""nn.functional: gradients against central differences and values/gradients against PyTorch.

Layer-shaped ops (conv, pooling) draw their geometry with hypothesis and compare with
torch.nn.functional in float64; the losses have their own file (test_nn_losses.py).
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def leaf(array):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def oracle(array):
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def assert_same(ours, theirs, atol=1e-10):
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-8, atol=atol)


def compare(fn_mg, fn_torch, *arrays, atol=1e-10):
    """Forward value and the gradient of every input, minigrad vs PyTorch."""
    ours = [leaf(a) for a in arrays]
    theirs = [oracle(a) for a in arrays]
    out, ref = fn_mg(*ours), fn_torch(*theirs)
    assert_same(out, ref, atol)
    direction = np.random.default_rng(1).standard_normal(ref.shape)
    (out * mg.tensor(direction)).sum().backward()
    (ref * torch.tensor(direction)).sum().backward()
    for a, b in zip(ours, theirs):
        assert_same(a.grad, b.grad, atol)


# -- elementwise activations ---------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
def test_activation_matches_torch(name):
    x = np.random.default_rng(0).standard_normal((3, 5)) * 3
    compare(getattr(F, name), getattr(torch, name), x)


def test_gelu_tanh_matches_torch_and_gradchecks():
    x = np.linspace(-5, 5, 23).reshape(23)
    compare(lambda t: F.gelu(t, approximate="tanh"),
            lambda t: TF.gelu(t, approximate="tanh"), x)
    assert mg.gradcheck(lambda t: F.gelu(t, approximate="tanh"), [leaf(x)])


def test_exact_gelu_matches_torch_and_gradchecks():
    x = np.linspace(-5, 5, 23)
    compare(F.gelu, TF.gelu, x)
    assert mg.gradcheck(F.gelu, [leaf(x)])


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(leaf([1.0]), approximate="fast")


# -- softmax family --------------------------------------------------------------------

@given(st.integers(1, 4), st.integers(1, 5), st.integers(-2, 1))
def test_softmax_and_log_softmax_match_torch(rows, cols, axis):
    x = np.random.default_rng(rows * 7 + cols).standard_normal((rows, cols)) * 4
    compare(lambda t: F.softmax(t, axis), lambda t: TF.softmax(t, dim=axis), x)
    compare(lambda t: F.log_softmax(t, axis=axis), lambda t: TF.log_softmax(t, dim=axis), x)


def test_softmax_accepts_pytorch_dim_keyword():
    x = leaf(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(F.softmax(x, dim=0).numpy(), F.softmax(x, axis=0).numpy())
    np.testing.assert_allclose(F.log_softmax(x, dim=0).numpy(), F.log_softmax(x, 0).numpy())
    with pytest.raises(ValueError, match="axis=1 and dim=0"):
        F.softmax(x, axis=1, dim=0)


def test_softmax_gradchecks():
    x = leaf(np.random.default_rng(2).standard_normal((3, 4)))
    assert mg.gradcheck(lambda t: F.softmax(t, axis=1), [x])
    assert mg.gradcheck(lambda t: F.log_softmax(t, axis=0), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_for_huge_logits(dtype):
    x = mg.tensor(np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype),
                  requires_grad=True)
    logp = F.log_softmax(x)
    p = F.softmax(x)
    assert logp.dtype == dtype and p.dtype == dtype
    np.testing.assert_allclose(p.numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)
    np.testing.assert_allclose(logp.numpy()[0, :2], [0.0, -1e4], rtol=1e-6)
    logp.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


# -- linear, dropout, embedding, one_hot, layer_norm -------------------------------------

def test_linear_matches_torch_with_and_without_bias():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    compare(F.linear, TF.linear, x, w, b)
    compare(F.linear, TF.linear, x, w)
    assert mg.gradcheck(F.linear, [leaf(x[0]), leaf(w), leaf(b)])


def test_linear_names_the_mismatched_shapes():
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*shape \(5, 4\).*expected last "
                                         r"dimension 4"):
        F.linear(leaf(np.zeros((2, 3))), leaf(np.zeros((5, 4))))


def test_dropout_keeps_expectation_and_masks_gradient():
    x = mg.ones(200, 100, dtype=np.float64, requires_grad=True)
    y = F.dropout(x, p=0.3, training=True)
    values = y.numpy()
    kept = values != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(values[kept], 1 / 0.7)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), values)


def test_dropout_is_identity_in_eval_and_zero_at_p_one():
    x = leaf(np.ones((3, 3)))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_dropout_follows_the_seed():
    mg.manual_seed(5)
    a = F.dropout(mg.ones(50), 0.5).numpy()
    mg.manual_seed(5)
    b = F.dropout(mg.ones(50), 0.5).numpy()
    np.testing.assert_array_equal(a, b)


def test_embedding_matches_torch_and_accumulates_repeats():
    weight = np.random.default_rng(4).standard_normal((6, 3))
    idx = np.array([[0, 2, 2], [5, 0, 2]])
    compare(lambda w: F.embedding(mg.tensor(idx), w),
            lambda w: TF.embedding(torch.tensor(idx), w), weight)


def test_embedding_padding_idx_gets_no_gradient():
    weight = np.random.default_rng(4).standard_normal((6, 3))
    idx = np.array([1, 3, 1, 0])
    compare(lambda w: F.embedding(mg.tensor(idx), w, padding_idx=1),
            lambda w: TF.embedding(torch.tensor(idx), w, padding_idx=1), weight)
    w = leaf(weight)
    F.embedding(idx, w, padding_idx=-5).sum().backward()  # -5 is row 1
    assert (w.grad.numpy()[1] == 0).all() and (w.grad.numpy()[3] == 1).all()


def test_embedding_rejects_bad_indices():
    w = leaf(np.zeros((4, 2)))
    with pytest.raises(IndexError, match="index 4 is out of range .* 4 rows"):
        F.embedding(mg.tensor([0, 4]), w)
        mg.cuda.synchronize()  # on a GPU the index check reports at the next sync
    with pytest.raises(IndexError, match="index -1"):
        F.embedding(mg.tensor([-1, 2]), w)
        mg.cuda.synchronize()
    with pytest.raises(TypeError, match="must be integers, got dtype float"):
        F.embedding(mg.tensor([0.0]), w)


def test_one_hot_matches_torch():
    idx = np.array([[0, 3], [2, 1]])
    ours = F.one_hot(mg.tensor(idx))
    theirs = TF.one_hot(torch.tensor(idx))
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert F.one_hot(mg.tensor([1]), num_classes=5).shape == (1, 5)
    with pytest.raises(ValueError, match=r"\[0, 3\), got 3"):
        F.one_hot(mg.tensor([0, 3]), num_classes=3)
        mg.cuda.synchronize()  # on a GPU the check reports at the next sync


@given(st.integers(1, 3), st.sampled_from([(4,), (2, 3)]), st.booleans())
def test_layer_norm_matches_torch(batch, shape, affine):
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 2) + shape) * 3 + 1
    if affine:
        w, b = rng.standard_normal(shape), rng.standard_normal(shape)
        compare(lambda t, u, v: F.layer_norm(t, shape, u, v),
                lambda t, u, v: TF.layer_norm(t, shape, u, v), x, w, b)
    else:
        compare(lambda t: F.layer_norm(t, shape), lambda t: TF.layer_norm(t, shape), x)


def test_layer_norm_gradchecks_and_checks_shape():
    rng = np.random.default_rng(6)
    x, w, b = leaf(rng.standard_normal((2, 4))), leaf(rng.standard_normal(4)), \
        leaf(rng.standard_normal(4))
    assert mg.gradcheck(lambda t, u, v: F.layer_norm(t, 4, u, v), [x, w, b])
    with pytest.raises(ValueError, match=r"normalized_shape \(3,\).*shape \(2, 4\)"):
        F.layer_norm(x, 3)


# -- convolution ---------------------------------------------------------------------------

@given(n=st.integers(1, 2), c=st.integers(1, 3), size=st.integers(4, 7),
       k=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 2),
       dilation=st.integers(1, 2), groups=st.sampled_from([1, 2]), bias=st.booleans())
def test_conv2d_matches_torch(n, c, size, k, stride, padding, dilation, groups, bias):
    rng = np.random.default_rng(size * 13 + k)
    c, o = c * groups, 2 * groups
    x = rng.standard_normal((n, c, size, size + 1))
    w = rng.standard_normal((o, c // groups, k, k + 1))
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if dilation * k > size + 2 * padding:
        return
    if bias:
        compare(lambda t, u, v: F.conv2d(t, u, v, **args),
                lambda t, u, v: TF.conv2d(t, u, v, **args), x, w, rng.standard_normal(o))
    else:
        compare(lambda t, u: F.conv2d(t, u, **args), lambda t, u: TF.conv2d(t, u, **args), x, w)


def test_conv2d_gradchecks_with_asymmetric_geometry():
    rng = np.random.default_rng(7)
    x, w, b = leaf(rng.standard_normal((2, 2, 5, 6))), leaf(rng.standard_normal((3, 2, 2, 3))), \
        leaf(rng.standard_normal(3))
    assert mg.gradcheck(lambda t, u, v: F.conv2d(t, u, v, stride=(2, 1), padding=(1, 0),
                                                 dilation=(1, 2)), [x, w, b])


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv2d_named_padding_and_unbatched_input(padding):
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((2, 5, 6)), rng.standard_normal((3, 2, 3, 3))
    compare(lambda t, u: F.conv2d(t, u, padding=padding, dilation=2),
            lambda t, u: TF.conv2d(t, u, padding=padding, dilation=2), x, w)


def test_conv2d_errors_name_shapes():
    x, w = leaf(np.zeros((1, 3, 5, 5))), leaf(np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"\(1, 3, 5, 5\) \(3 channels\).*\(4, 2, 3, 3\)"):
        F.conv2d(x, w)
    with pytest.raises(ValueError, match="3-d .* or 4-d .* got shape \\(5, 5\\)"):
        F.conv2d(leaf(np.zeros((5, 5))), w)
    with pytest.raises(ValueError, match="too small"):
        F.conv2d(leaf(np.zeros((1, 2, 2, 2))), w)
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        F.conv2d(leaf(np.zeros((1, 2, 5, 5))), w, stride=2, padding="same")


def test_conv2d_keeps_float32():
    x = mg.randn(1, 2, 6, 6)
    w = mg.randn(3, 2, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, mg.zeros(3), padding=1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert w.grad.dtype == np.float32


# -- pooling ----------------------------------------------------------------------------

def distinct_values(shape, seed):
    """A random permutation of spaced values: no ties, so max has a unique argument."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) / 7.0 - n / 14


@given(size=st.integers(3, 7), k=st.integers(1, 3), stride=st.integers(1, 3),
       padding=st.integers(0, 1), dilation=st.integers(1, 2), ceil_mode=st.booleans())
def test_max_pool2d_matches_torch(size, k, stride, padding, dilation, ceil_mode):
    if 2 * padding > k or dilation * (k - 1) + 1 > size + 2 * padding:
        return
    x = distinct_values((2, 2, size, size + 1), size + k)
    args = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    compare(lambda t: F.max_pool2d(t, k, **args), lambda t: TF.max_pool2d(t, k, **args), x)


@given(size=st.integers(3, 7), k=st.integers(1, 3), stride=st.integers(1, 3),
       padding=st.integers(0, 1), ceil_mode=st.booleans(), include=st.booleans(),
       override=st.sampled_from([None, 3]))
def test_avg_pool2d_matches_torch(size, k, stride, padding, ceil_mode, include, override):
    if 2 * padding > k or k > size + 2 * padding:
        return
    x = np.random.default_rng(size).standard_normal((2, 1, size + 1, size))
    args = dict(stride=stride, padding=padding, ceil_mode=ceil_mode,
                count_include_pad=include, divisor_override=override)
    compare(lambda t: F.avg_pool2d(t, k, **args), lambda t: TF.avg_pool2d(t, k, **args), x)


def test_pooling_gradchecks_and_unbatched():
    x = leaf(distinct_values((2, 5, 5), 3))
    assert mg.gradcheck(lambda t: F.max_pool2d(t, 3, stride=2, padding=1), [x])
    assert mg.gradcheck(lambda t: F.avg_pool2d(t, 2, stride=1, padding=1,
                                               count_include_pad=False), [x])
    assert F.max_pool2d(x, 2).shape == (2, 2, 2)


def test_pooling_rejects_oversized_padding():
    with pytest.raises(ValueError, match=r"at most half .* padding=\(2, 2\) and "
                                         r"kernel_size=\(2, 2\)"):
        F.max_pool2d(leaf(np.zeros((1, 1, 4, 4))), 2, padding=2)


def test_max_pool_of_large_values_stays_finite():
    x = mg.tensor(np.full((1, 1, 4, 4), -1e30), requires_grad=True)
    y = F.max_pool2d(x, 3, stride=1, padding=1)
    assert np.isfinite(y.numpy()).all()
    assert math.isclose(y.numpy().max(), -1e30)


# -- second order: everything is composed of primitives, so create_graph works through it -----

@pytest.mark.parametrize("fn,shapes", [
    (lambda a, b: F.conv2d(a, b, padding=1, stride=(1, 2)), [(1, 2, 4, 4), (2, 2, 2, 2)]),
    (lambda a: F.avg_pool2d(a, 2, padding=1, count_include_pad=False), [(1, 1, 3, 4)]),
    (lambda a: F.layer_norm(a, 3), [(2, 3)]),
    (lambda a: F.gelu(a, approximate="tanh"), [(4,)]),
    (lambda a: F.log_softmax(a, axis=0), [(3, 2)]),
])
def test_gradgradcheck(fn, shapes):
    rng = np.random.default_rng(0)
    assert mg.gradgradcheck(fn, [leaf(rng.standard_normal(s)) for s in shapes])
