"""Issue 8's layers against PyTorch (float64: outputs, input and parameter gradients, names,
shapes, reprs), BatchNorm's running statistics over training steps and then in eval,
float64 gradchecks on hypothesis-drawn geometry, and the bad-input messages.

Covers BatchNorm1d/2d/3d, GroupNorm, Conv1d, ConvTranspose2d, MaxPool1d, AvgPool1d,
AdaptiveAvg/MaxPool1d/2d, Embedding(max_norm), EmbeddingBag, Bilinear, Dropout1d/2d.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def leaf(array):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def load_from_torch(ours, theirs):
    """Copy a PyTorch module's state (parameters and buffers) in, via NumPy arrays."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours


def perturb(theirs, torch):
    """Move parameters off their ones/zeros start so that a mix-up would show."""
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn(p.shape, dtype=p.dtype) * 0.5)
    return theirs


def step(ours, theirs, inputs, torch, atol=1e-10):
    """One forward and backward on both: same output, same input and parameter gradients."""
    ms = [mg.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    ts = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    out, ref = ours(*ms), theirs(*ts)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-8, atol=atol)
    direction = np.random.default_rng(1).standard_normal(ref.shape)
    (out * mg.tensor(direction)).sum().backward()
    (ref * torch.tensor(direction)).sum().backward()
    for a, b in zip(ms, ts):
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=atol)
    params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        if params[name].grad is None:
            assert p.grad is None, name
        else:
            np.testing.assert_allclose(p.grad.numpy(), params[name].grad.numpy(), rtol=1e-8,
                                       atol=atol, err_msg=name)
    ours.zero_grad()
    theirs.zero_grad()


def check_against_torch(ours, theirs, *inputs, torch, atol=1e-10):
    """Same parameter names and shapes, same repr, and one step() agreeing."""
    ours.double()
    theirs.double()
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    load_from_torch(ours, theirs)
    step(ours, theirs, inputs, torch, atol)


def gradcheck_module(module, *inputs):
    """Gradcheck w.r.t. the inputs and every parameter (float64): the parameters are
    swapped for plain leaves so that gradcheck can perturb them."""
    module.double()
    named = list(module.named_parameters())
    leaves = [mg.tensor(p.numpy(), requires_grad=True) for _, p in named]

    def through(*args):
        for (name, _), v in zip(named, args[len(inputs):]):
            module._parameters[name] = v
            object.__setattr__(module, name, v)
        return module(*args[:len(inputs)])
    try:
        assert mg.gradcheck(through, list(inputs) + leaves)
    finally:
        for name, p in named:
            module._parameters[name] = p
            object.__setattr__(module, name, p)


# -- BatchNorm ---------------------------------------------------------------------------------

BATCHNORMS = [
    ("BatchNorm1d", (6, 3), {}),
    ("BatchNorm1d", (4, 3, 5), {"momentum": None}),
    ("BatchNorm1d", (4, 3, 5), {"affine": False}),
    ("BatchNorm2d", (4, 3, 3, 2), {}),
    ("BatchNorm2d", (3, 3, 2, 2), {"momentum": 0.5, "eps": 1e-3}),
    ("BatchNorm2d", (3, 3, 2, 2), {"momentum": None, "bias": False}),
    ("BatchNorm2d", (4, 3, 3, 2), {"track_running_stats": False}),
    ("BatchNorm3d", (2, 3, 2, 2, 2), {}),
]


@pytest.mark.parametrize("name,shape,kwargs", BATCHNORMS)
def test_batch_norm_matches_torch_over_training_then_eval(name, shape, kwargs):
    """Running statistics after several training steps (momentum, None = cumulative
    average, unbiased variance), then evaluation with them; gradients throughout."""
    torch = pytest.importorskip("torch")
    ours = getattr(nn, name)(3, **kwargs)
    theirs = perturb(getattr(torch.nn, name)(3, **kwargs), torch)
    check_against_torch(ours, theirs, rand(*shape) * 2 + 1, torch=torch)
    for i in range(1, 6):
        step(ours, theirs, [rand(*shape, seed=i) * (i + 1) - i], torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        mine = ours.state_dict()[key]
        assert mine.dtype == value.numpy().dtype, key
        np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=1e-10, err_msg=key)
    ours.eval()
    theirs.eval()
    step(ours, theirs, [rand(*shape, seed=9) * 3], torch)
    if kwargs.get("track_running_stats", True):
        one = (1,) + shape[1:2] + (1,) * (len(shape) - 2)  # a batch of one is fine in eval
        step(ours, theirs, [rand(*one, seed=10)], torch)


def test_batch_norm_functional_matches_torch():
    torch = pytest.importorskip("torch")
    x, w, b = rand(4, 3, 2), rand(3, seed=1), rand(3, seed=2)
    mean, var = rand(3, seed=3), np.abs(rand(3, seed=4)) + 0.5
    ours = [mg.tensor(mean), mg.tensor(var)]
    theirs = [torch.tensor(mean), torch.tensor(var)]
    for training in (True, False):
        xm, xt = leaf(x), torch.tensor(x, requires_grad=True)
        out = F.batch_norm(xm, *ours, mg.tensor(w), mg.tensor(b), training, 0.3, 1e-4)
        ref = torch.nn.functional.batch_norm(xt, *theirs, torch.tensor(w), torch.tensor(b),
                                             training, 0.3, 1e-4)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10)
        for a, c in zip(ours, theirs):
            np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-10)
    out = F.batch_norm(leaf(x), None, None, training=True)
    np.testing.assert_allclose(out.numpy(), torch.nn.functional.batch_norm(
        torch.tensor(x), None, None, training=True).numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_buffers_and_state():
    layer = nn.BatchNorm2d(4)
    assert [n for n, _ in layer.named_buffers()] == ["running_mean", "running_var",
                                                     "num_batches_tracked"]
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.num_batches_tracked.dtype == np.int64 and layer.running_mean.dtype == np.float32
    layer(mg.randn(3, 4, 2, 2))
    layer(mg.randn(3, 4, 2, 2))
    assert layer.num_batches_tracked.item() == 2
    assert not layer.running_mean.requires_grad and layer.running_mean.abs().sum().item() > 0
    layer.double()
    assert layer.running_var.dtype == np.float64 and layer.num_batches_tracked.dtype == np.int64
    layer.reset_running_stats()
    np.testing.assert_array_equal(layer.running_var.numpy(), np.ones(4))
    assert layer.num_batches_tracked.item() == 0
    layer.eval()
    before = layer.running_mean.numpy().copy()
    layer(mg.randn(3, 4, 2, 2, dtype=mg.float64))
    np.testing.assert_array_equal(layer.running_mean.numpy(), before)
    assert layer.num_batches_tracked.item() == 0
    free = nn.BatchNorm1d(3, track_running_stats=False, affine=False)
    assert list(free.state_dict()) == [] and free.running_mean is None


def test_batch_norm_bad_inputs():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                                         r"training, got input size \(1, 3\)"):
        layer(mg.randn(1, 3))
    assert layer.num_batches_tracked.item() == 0  # a failed call changes nothing
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel"):
        nn.BatchNorm2d(3, track_running_stats=False).eval()(mg.randn(1, 3, 1, 1))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D "
                                         r"input of shape \(2, 3, 4, 5\)\)"):
        layer(mg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 3D input"):
        nn.BatchNorm2d(3)(mg.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"running_mean of shape \(3,\) does not fit an input "
                                         r"of shape \(2, 4, 2, 2\) \(4 channels\)"):
        nn.BatchNorm2d(3)(mg.randn(2, 4, 2, 2))
    with pytest.raises(ValueError, match="evaluation .* needs running_mean and running_var"):
        F.batch_norm(mg.randn(2, 3), None, None)


@given(n=st.integers(2, 3), c=st.integers(1, 2), length=st.sampled_from([None, 1, 2]),
       training=st.booleans(), affine=st.booleans())
def test_batch_norm_gradchecks(n, c, length, training, affine):
    shape = (n, c) if length is None else (n, c, length)
    layer = nn.BatchNorm1d(c, affine=affine).double()
    layer.running_mean.copy_(mg.tensor(rand(c, seed=1)))
    layer.running_var.copy_(mg.tensor(rand(c, seed=2) ** 2 + 0.5))
    layer.train(training)
    gradcheck_module(layer, leaf(rand(*shape) * 2))


# -- GroupNorm ----------------------------------------------------------------------------------

@pytest.mark.parametrize("groups,shape,kwargs", [
    (2, (3, 4), {}), (2, (2, 4, 5), {}), (1, (2, 4, 2, 3), {}), (4, (2, 4, 3, 2), {}),
    (2, (2, 4, 3), {"affine": False}), (2, (2, 4, 3), {"bias": False, "eps": 1e-3}),
])
def test_group_norm_matches_torch(groups, shape, kwargs):
    torch = pytest.importorskip("torch")
    theirs = perturb(torch.nn.GroupNorm(groups, 4, **kwargs), torch)
    check_against_torch(nn.GroupNorm(groups, 4, **kwargs), theirs, rand(*shape) * 3 + 1,
                        torch=torch)


@given(n=st.integers(1, 2), groups=st.sampled_from([1, 2]), per_group=st.integers(1, 2),
       length=st.integers(1, 3))
def test_group_norm_gradchecks(n, groups, per_group, length):
    layer = nn.GroupNorm(groups, groups * per_group)
    if per_group * length == 1:
        length = 2  # one value per group normalises to 0 exactly: nothing to check
    gradcheck_module(layer, leaf(rand(n, groups * per_group, length) * 2))


def test_group_norm_bad_inputs():
    with pytest.raises(ValueError, match=r"num_channels \(3\) must be divisible by "
                                         r"num_groups \(2\)"):
        nn.GroupNorm(2, 3)
    with pytest.raises(ValueError, match=r"GroupNorm: expected an input of shape \(N, 4, "
                                         r"...\), got shape \(2, 6\)"):
        nn.GroupNorm(2, 4)(mg.randn(2, 6))
    with pytest.raises(ValueError, match=r"divisible by num_groups, got an input of shape "
                                         r"\(2, 6\) and num_groups=4"):
        F.group_norm(mg.randn(2, 6), 4)


# -- Conv1d and 1-d pooling ----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {}, {"stride": 2, "padding": 1}, {"dilation": 2, "groups": 2, "bias": False},
    {"padding": "same", "dilation": 2}, {"padding": "same"}, {"padding": "valid", "stride": 3},
])
def test_conv1d_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    for k in (3, 4):  # an even kernel with 'same' pads one more on the right
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch's note on 'same' with an even kernel
            check_against_torch(nn.Conv1d(4, 6, k, **kwargs),
                                torch.nn.Conv1d(4, 6, k, **kwargs), rand(2, 4, 9), torch=torch)


def test_conv1d_unbatched_input_matches_torch():
    torch = pytest.importorskip("torch")
    check_against_torch(nn.Conv1d(2, 3, 2), torch.nn.Conv1d(2, 3, 2), rand(2, 5), torch=torch)


@given(c=st.integers(1, 2), length=st.integers(3, 5), k=st.integers(1, 3),
       stride=st.integers(1, 2), padding=st.integers(0, 1), dilation=st.integers(1, 2))
def test_conv1d_gradchecks(c, length, k, stride, padding, dilation):
    if dilation * (k - 1) + 1 > length + 2 * padding:
        k = 1
    layer = nn.Conv1d(c, 2, k, stride=stride, padding=padding, dilation=dilation)
    gradcheck_module(layer, leaf(rand(1, c, length)))


@pytest.mark.parametrize("ours,theirs", [
    ("MaxPool1d(2)", "MaxPool1d(2)"),
    ("MaxPool1d(3, 2, 1, ceil_mode=True)", "MaxPool1d(3, 2, 1, ceil_mode=True)"),
    ("MaxPool1d(2, 1, 0, 2)", "MaxPool1d(2, 1, 0, 2)"),
    ("AvgPool1d(2)", "AvgPool1d(2)"),
    ("AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False)",
     "AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False)"),
    ("AvgPool1d(3, padding=1)", "AvgPool1d(3, padding=1)"),
])
def test_pooling_1d_matches_torch(ours, theirs):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).permutation(2 * 3 * 9).reshape(2, 3, 9) / 5.0  # no ties
    check_against_torch(eval("nn." + ours), eval("torch.nn." + theirs), x, torch=torch)
    check_against_torch(eval("nn." + ours), eval("torch.nn." + theirs), x[0], torch=torch)


@given(length=st.integers(2, 6), k=st.integers(1, 3), stride=st.integers(1, 2),
       padding=st.integers(0, 1), ceil_mode=st.booleans(), seed=st.integers(0, 99))
def test_pooling_1d_gradchecks(length, k, stride, padding, ceil_mode, seed):
    padding = min(padding, k // 2)
    k = min(k, length + 2 * padding)
    x = leaf(np.random.default_rng(seed).permutation(2 * length).reshape(1, 2, length) / 3.0)
    assert mg.gradcheck(lambda t: F.max_pool1d(t, k, stride, padding, ceil_mode=ceil_mode), [x])
    assert mg.gradcheck(lambda t: F.avg_pool1d(t, k, stride, padding, ceil_mode), [x])


def test_conv1d_and_pooling_1d_bad_inputs():
    with pytest.raises(ValueError, match=r"conv1d: expected a 2-d \(C, L\) or 3-d \(N, C, L\) "
                                         r"input, got shape \(1, 2, 3, 4\)"):
        nn.Conv1d(2, 2, 2)(mg.randn(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"conv1d: input of shape \(1, 3, 5\) \(3 channels\) "
                                         r"does not fit a weight of shape \(2, 2, 2\)"):
        nn.Conv1d(2, 2, 2)(mg.randn(1, 3, 5))
    with pytest.raises(ValueError, match=r"Conv1d: in_channels \(3\) .* divisible by groups"):
        nn.Conv1d(3, 4, 2, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv1d(mg.randn(1, 2, 5), mg.randn(2, 2, 3), padding="same", stride=2)
    with pytest.raises(ValueError, match=r"too small for kernel_size=4, dilation=2"):
        F.conv1d(mg.randn(1, 2, 5), mg.randn(2, 2, 4), dilation=2)
    with pytest.raises(ValueError, match=r"max_pool1d: padding should be at most half of the "
                                         r"kernel size, got padding=2 and kernel_size=3"):
        nn.MaxPool1d(3, padding=2)(mg.randn(1, 2, 5))
    with pytest.raises(ValueError, match=r"avg_pool1d: expected a 2-d \(C, L\) or 3-d"):
        nn.AvgPool1d(2)(mg.randn(5))
    with pytest.raises(ValueError, match="kernel_size must be an int or a 1-tuple"):
        F.max_pool1d(mg.randn(1, 2, 5), (2, 2))


# -- adaptive pooling ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 3, (2, None), (7, 5), (4, 3), (5, 2), (None, 4)])
def test_adaptive_pooling_2d_matches_torch(size):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).permutation(2 * 3 * 7 * 5).reshape(2, 3, 7, 5) / 7.0
    for name in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        check_against_torch(getattr(nn, name)(size), getattr(torch.nn, name)(size), x,
                            torch=torch)
        check_against_torch(getattr(nn, name)(size), getattr(torch.nn, name)(size), x[0],
                            torch=torch)
    for batch in (x, x[0]):
        values, idx = nn.AdaptiveMaxPool2d(size, return_indices=True)(mg.tensor(batch))
        ref_values, ref_idx = torch.nn.AdaptiveMaxPool2d(size, return_indices=True)(
            torch.tensor(batch))
        np.testing.assert_array_equal(values.numpy(), ref_values.numpy())
        np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())
        assert idx.dtype == np.int64


@pytest.mark.parametrize("size", [1, 2, 3, 4, 9])
def test_adaptive_pooling_1d_matches_torch(size):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).permutation(2 * 3 * 9).reshape(2, 3, 9) / 7.0
    for name in ("AdaptiveAvgPool1d", "AdaptiveMaxPool1d"):
        check_against_torch(getattr(nn, name)(size), getattr(torch.nn, name)(size), x,
                            torch=torch)
    values, idx = F.adaptive_max_pool1d(mg.tensor(x), size, return_indices=True)
    ref = torch.nn.functional.adaptive_max_pool1d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), ref[1].numpy())


@given(h=st.integers(1, 5), w=st.integers(1, 5), oh=st.integers(1, 4), ow=st.integers(1, 4),
       seed=st.integers(0, 99))
def test_adaptive_pooling_gradchecks(h, w, oh, ow, seed):
    x = leaf(np.random.default_rng(seed).permutation(2 * h * w).reshape(1, 2, h, w) / 3.0)
    assert mg.gradcheck(lambda t: F.adaptive_avg_pool2d(t, (oh, ow)), [x])
    assert mg.gradcheck(lambda t: F.adaptive_max_pool2d(t, (oh, ow)), [x])
    line = leaf(rand(2, h * w, seed=seed))
    assert mg.gradcheck(lambda t: F.adaptive_avg_pool1d(t, oh), [line])


def test_adaptive_pooling_bad_inputs():
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected a 3-d \(C, H, W\) or "
                                         r"4-d \(N, C, H, W\) input, got shape \(2, 3\)"):
        nn.AdaptiveAvgPool2d(1)(mg.randn(2, 3))
    with pytest.raises(ValueError, match=r"output_size must be an int or a tuple of 2, got "
                                         r"\(1, 2, 3\)"):
        F.adaptive_max_pool2d(mg.randn(1, 2, 3, 3), (1, 2, 3))
    with pytest.raises(ValueError, match="output_size must be positive, got 0"):
        nn.AdaptiveAvgPool1d(0)(mg.randn(1, 2, 3))


# -- ConvTranspose2d -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {}, {"stride": 2}, {"stride": 2, "padding": 1, "output_padding": 1},
    {"stride": (3, 2), "padding": (2, 0), "output_padding": (2, 1), "dilation": (1, 2)},
    {"groups": 2, "stride": 2, "dilation": 2, "output_padding": 1, "bias": False},
    {"padding": (2, 1)},
])
def test_conv_transpose2d_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    check_against_torch(nn.ConvTranspose2d(4, 6, (3, 2), **kwargs),
                        torch.nn.ConvTranspose2d(4, 6, (3, 2), **kwargs), rand(2, 4, 5, 4),
                        torch=torch)


def test_conv_transpose2d_output_size_and_unbatched_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double(), \
        torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    load_from_torch(ours, theirs)
    x = rand(1, 3, 4, 5)
    for size in [(7, 9), (8, 10), (1, 2, 8, 9)]:
        out = ours(mg.tensor(x), output_size=size)
        ref = theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10)
    check_against_torch(nn.ConvTranspose2d(3, 2, 2), torch.nn.ConvTranspose2d(3, 2, 2),
                        rand(3, 2, 2), torch=torch)


def test_conv_transpose2d_inverts_conv2d_shapes():
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    up = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = mg.randn(1, 2, 8, 7)
    assert up(conv(x), output_size=x.shape).shape == x.shape


@given(c=st.integers(1, 2), h=st.integers(1, 3), k=st.integers(1, 3), stride=st.integers(1, 2),
       padding=st.integers(0, 1), dilation=st.integers(1, 2), extra=st.integers(0, 1),
       groups=st.sampled_from([1, 2]))
def test_conv_transpose2d_gradchecks(c, h, k, stride, padding, dilation, extra, groups):
    extra = min(extra, max(stride, dilation) - 1)
    if (h - 1) * stride - 2 * padding + dilation * (k - 1) + extra + 1 < 1:
        padding = 0
    layer = nn.ConvTranspose2d(c * groups, 2 * groups, (k, 2), stride=stride, padding=padding,
                               output_padding=extra, dilation=dilation, groups=groups)
    gradcheck_module(layer, leaf(rand(1, c * groups, h, 2)))


def test_conv_transpose2d_bad_inputs():
    with pytest.raises(ValueError, match=r"input of shape \(1, 3, 4, 4\) \(3 channels\) does "
                                         r"not fit a weight of shape \(4, 2, 3, 3\)"):
        nn.ConvTranspose2d(4, 2, 3)(mg.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"output_padding must be smaller than either stride "
                                         r"or dilation, got output_padding=\(1, 1\)"):
        nn.ConvTranspose2d(2, 2, 3, output_padding=1)(mg.randn(1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"requested an output size of \(9, 9\), but valid "
                                         r"sizes range from \(7, 7\) to \(8, 8\)"):
        nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)(mg.randn(1, 2, 4, 4),
                                                          output_size=(9, 9))
    with pytest.raises(ValueError, match="only padding_mode='zeros' is supported"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"gives an output of size \(3, -1\)"):
        F.conv_transpose2d(mg.randn(1, 2, 3, 1), mg.randn(2, 2, 1, 1), padding=(0, 1))


# -- Embedding(max_norm) and EmbeddingBag --------------------------------------------------------

@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_embedding_max_norm_renormalises_the_table_as_torch(norm_type):
    torch = pytest.importorskip("torch")
    ours = nn.Embedding(10, 3, max_norm=1.5, norm_type=norm_type)
    theirs = torch.nn.Embedding(10, 3, max_norm=1.5, norm_type=norm_type)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(rand(10, 3) * 2))
    check_against_torch(ours, theirs, np.array([[1, 2, 2], [9, 0, 1]]), torch=torch)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-12)
    norms = np.linalg.norm(ours.weight.numpy(), ord=norm_type, axis=1)
    assert (norms[[0, 1, 2, 9]] <= 1.5 + 1e-9).all()
    np.testing.assert_allclose(ours.weight.numpy()[3:9], rand(10, 3)[3:9] * 2,  # untouched
                               rtol=1e-6)  # (the float32 start)


def test_embedding_max_norm_functional_and_from_pretrained():
    table = np.array([[3.0, 4.0], [0.3, 0.4]])
    weight = mg.tensor(table.copy(), requires_grad=True)
    out = F.embedding(mg.tensor([0, 1, 0]), weight, max_norm=1.0)
    np.testing.assert_allclose(out.numpy()[0], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(weight.numpy()[1], [0.3, 0.4])
    frozen = nn.Embedding.from_pretrained(table, max_norm=2.0)
    frozen(mg.tensor([0]))
    np.testing.assert_allclose(np.linalg.norm(frozen.weight.numpy()[0]), 2.0, rtol=1e-6)
    assert repr(frozen) == "Embedding(2, 2, max_norm=2.0)"


BAGS = [
    ("sum", {}), ("mean", {}), ("max", {}), ("sum", {"padding_idx": 4}),
    ("mean", {"padding_idx": 4}), ("max", {"padding_idx": 4}),
    ("mean", {"include_last_offset": True}), ("max", {"max_norm": 1.0}),
]


@pytest.mark.parametrize("mode,kwargs", BAGS)
def test_embedding_bag_matches_torch(mode, kwargs):
    torch = pytest.importorskip("torch")
    ours = nn.EmbeddingBag(10, 3, mode=mode, **kwargs)
    theirs = torch.nn.EmbeddingBag(10, 3, mode=mode, **kwargs)
    indices = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 4])
    offsets = np.array([0, 2, 2, 6, 10] if kwargs.get("include_last_offset") else [0, 2, 2, 6])
    check_against_torch(ours, theirs, indices, offsets, torch=torch)  # an empty bag included
    check_against_torch(ours, theirs, indices[:9].reshape(3, 3), torch=torch)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-12)


def test_embedding_bag_per_sample_weights_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.EmbeddingBag(6, 2, mode="sum").double(), \
        torch.nn.EmbeddingBag(6, 2, mode="sum").double()
    load_from_torch(ours, theirs)
    idx, off, psw = np.array([0, 5, 2, 2, 1]), np.array([0, 3]), rand(5)
    pm, pt = leaf(psw), torch.tensor(psw, requires_grad=True)
    out = ours(mg.tensor(idx), mg.tensor(off), per_sample_weights=pm)
    ref = theirs(torch.tensor(idx), torch.tensor(off), per_sample_weights=pt)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(pm.grad.numpy(), pt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)


@given(mode=st.sampled_from(["sum", "mean", "max"]), sizes=st.lists(st.integers(0, 3),
       min_size=1, max_size=3), weighted=st.booleans(), seed=st.integers(0, 99))
def test_embedding_bag_gradchecks(mode, sizes, weighted, seed):
    rng = np.random.default_rng(seed)
    indices = mg.tensor(rng.permutation(6)[:sum(sizes)] if sum(sizes) <= 6 else
                        rng.integers(0, 6, sum(sizes)))
    offsets = mg.tensor(np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64))
    table = leaf(rng.standard_normal((6, 2)))
    if weighted and mode == "sum":
        psw = leaf(rng.standard_normal(sum(sizes)))
        assert mg.gradcheck(lambda w, p: F.embedding_bag(indices, w, offsets, mode="sum",
                                                         per_sample_weights=p), [table, psw])
    else:
        assert mg.gradcheck(lambda w: F.embedding_bag(indices, w, offsets, mode=mode), [table])


def test_embedding_bag_bad_inputs_and_from_pretrained():
    bag = nn.EmbeddingBag(5, 2)
    with pytest.raises(ValueError, match="a 1-d input needs offsets"):
        bag(mg.tensor([1, 2]))
    with pytest.raises(ValueError, match="offsets must be None when input is 2-d"):
        bag(mg.tensor([[1, 2]]), mg.tensor([0]))
    with pytest.raises(ValueError, match=r"offsets\[0\] must be 0 .* got 1"):
        bag(mg.tensor([1, 2, 3]), mg.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"offsets must be non-decreasing and at most the input "
                                         r"length 3, got \[0, 2, 1\]"):
        bag(mg.tensor([1, 2, 3]), mg.tensor([0, 2, 1]))
    with pytest.raises(ValueError, match="per_sample_weights is only supported for mode='sum', "
                                         "got mode='mean'"):
        bag(mg.tensor([1, 2]), mg.tensor([0]), per_sample_weights=mg.ones(2))
    with pytest.raises(ValueError, match=r"per_sample_weights of shape \(3,\) must have the "
                                         r"input's shape \(2,\)"):
        F.embedding_bag(mg.tensor([1, 2]), bag.weight, mg.tensor([0]), mode="sum",
                        per_sample_weights=mg.ones(3))
    with pytest.raises(IndexError, match="index 7 is out of range for an embedding table of 5"):
        bag(mg.tensor([1, 7]), mg.tensor([0]))
        mg.cuda.synchronize()  # on a GPU the index check reports at the next sync
    with pytest.raises(ValueError, match="mode must be one of"):
        nn.EmbeddingBag(5, 2, mode="median")
    with pytest.raises(ValueError, match="sparse=True are not supported"):
        nn.EmbeddingBag(5, 2, sparse=True)
    frozen = nn.EmbeddingBag.from_pretrained(rand(4, 2), mode="sum")
    assert not frozen.weight.requires_grad
    np.testing.assert_allclose(frozen(mg.tensor([[0, 3]])).numpy(), rand(4, 2)[[0, 3]].sum(0)[None])


# -- Bilinear --------------------------------------------------------------------------------------

@pytest.mark.parametrize("bias,lead", [(True, (3,)), (False, (2, 3)), (True, ())])
def test_bilinear_matches_torch(bias, lead):
    torch = pytest.importorskip("torch")
    check_against_torch(nn.Bilinear(4, 2, 5, bias=bias), torch.nn.Bilinear(4, 2, 5, bias=bias),
                        rand(*lead, 4), rand(*lead, 2, seed=1), torch=torch)


@given(n=st.integers(1, 3), in1=st.integers(1, 3), in2=st.integers(1, 3), out=st.integers(1, 2))
def test_bilinear_gradchecks(n, in1, in2, out):
    gradcheck_module(nn.Bilinear(in1, in2, out), leaf(rand(n, in1)), leaf(rand(n, in2, seed=1)))


def test_bilinear_bad_inputs():
    with pytest.raises(ValueError, match=r"inputs of shapes \(2, 3\) and \(3, 2\) do not fit a "
                                         r"weight of shape \(4, 3, 2\)"):
        nn.Bilinear(3, 2, 4)(mg.randn(2, 3), mg.randn(3, 2))


# -- Dropout1d / Dropout2d ------------------------------------------------------------------------

@pytest.mark.parametrize("module,shape", [(nn.Dropout1d(0.4), (50, 8, 6)),
                                          (nn.Dropout1d(0.4), (400, 6)),
                                          (nn.Dropout2d(0.4), (50, 8, 3, 2))])
def test_channel_dropout_zeroes_whole_channels(module, shape):
    x = mg.ones(shape, dtype=mg.float64, requires_grad=True)
    out = module(x)
    plane = out.numpy().reshape(shape[:len(shape) - (2 if len(shape) == 4 else 1)] + (-1,))
    assert set(np.unique(plane)) <= {0.0, 1 / 0.6}
    assert (plane == plane[..., :1]).all()  # a channel is dropped or kept as a whole
    assert 0.3 < (plane[..., 0] == 0).mean() < 0.5
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.numpy())
    module.eval()
    assert module(x) is x


def test_channel_dropout_edges_inplace_and_reprs():
    torch = pytest.importorskip("torch")
    x = mg.randn(2, 3, 4)
    assert F.dropout1d(x, 0.0) is x and (F.dropout1d(x, 1.0).numpy() == 0).all()
    y = mg.randn(2, 3, 4) * 1.0
    assert F.dropout1d(y, 0.5, inplace=True) is y
    for p in (0.5, 0.2):
        assert repr(nn.Dropout1d(p)) == repr(torch.nn.Dropout1d(p))
        assert repr(nn.Dropout2d(p, inplace=True)) == repr(torch.nn.Dropout2d(p, inplace=True))
    with pytest.warns(UserWarning, match="read as \\(N, C, L\\)"):
        out = F.dropout2d(mg.ones(40, 5, 3), 0.5).numpy()
    assert (out == out[..., :1]).all()


def test_channel_dropout_bad_inputs():
    with pytest.raises(ValueError, match=r"dropout1d: expected a 2-d \(C, L\) or 3-d "
                                         r"\(N, C, L\) input, got shape \(2, 3, 4, 5\)"):
        nn.Dropout1d()(mg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"dropout2d: expected a 3-d or 4-d .* got shape \(3,"
                                         r" 4\)"):
        nn.Dropout2d()(mg.randn(3, 4))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="between 0 and 1, but got -0.5"):
        F.dropout1d(mg.randn(2, 3), -0.5)


def test_new_layers_are_exported():
    for name in ("batch_norm", "group_norm", "conv1d", "conv_transpose2d", "max_pool1d",
                 "avg_pool1d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
                 "adaptive_max_pool2d", "embedding_bag", "bilinear", "dropout1d", "dropout2d"):
        assert name in F.__all__
    from minigrad.nn.modules.batchnorm import BatchNorm2d
    assert BatchNorm2d is nn.BatchNorm2d
