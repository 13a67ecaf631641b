"""Layers as modules: parameter names and shapes as PyTorch's, a PyTorch state_dict loads
and gives the same outputs and gradients (float64), float64 gradchecks through the
parameters, containers, and a small LeNet that actually learns."""
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")


def load_from_torch(ours, theirs):
    """Copy a PyTorch module's weights in, the way users do: via numpy arrays."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours


def check_against_torch(ours, theirs, x, atol=1e-10):
    """Same names and shapes, same output, same input and parameter gradients."""
    ours.double()
    theirs.double()
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    load_from_torch(ours, theirs)
    xm = mg.tensor(x, requires_grad=x.dtype.kind == "f")
    xt = torch.tensor(x, requires_grad=x.dtype.kind == "f")
    out, ref = ours(xm), theirs(xt)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-8, atol=atol)
    direction = np.random.default_rng(0).standard_normal(ref.shape)
    (out * mg.tensor(direction)).sum().backward()
    (ref * torch.tensor(direction)).sum().backward()
    if x.dtype.kind == "f":
        np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(),
                                   rtol=1e-8, atol=atol, err_msg=name)


def gradcheck_module(module, x):
    """Gradcheck w.r.t. the input and every parameter (float64): the parameters are
    swapped for plain leaves so that gradcheck can perturb them."""
    module.double()
    named = list(module.named_parameters())
    leaves = [mg.tensor(p.numpy(), requires_grad=True) for _, p in named]

    def through(inp, *values):
        for (name, _), v in zip(named, values):
            _set(module, name, v)
        return module(inp)
    try:
        assert mg.gradcheck(through, [x] + leaves)
    finally:
        for name, p in named:
            _set(module, name, p)


def _set(module, dotted, value):
    *path, leaf = dotted.split(".")
    for part in path:
        module = getattr(module, part)
    module._parameters[leaf] = value
    object.__setattr__(module, leaf, value)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# -- Linear / Identity ---------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias):
    check_against_torch(nn.Linear(4, 3, bias=bias), torch.nn.Linear(4, 3, bias=bias),
                        rand(2, 5, 4))


def test_linear_gradchecks_through_its_parameters():
    gradcheck_module(nn.Linear(3, 2), mg.tensor(rand(4, 3), requires_grad=True))


def test_linear_repr_and_float32_default():
    layer = nn.Linear(4, 3, bias=False)
    assert repr(layer) == "Linear(in_features=4, out_features=3, bias=False)"
    assert layer.weight.dtype == np.float32 and layer.bias is None
    assert layer(mg.randn(2, 4)).dtype == np.float32
    assert nn.Linear(2, 2, dtype=mg.float64).weight.dtype == np.float64


def test_identity_passes_through():
    x = mg.randn(3)
    assert nn.Identity(54, unused="x")(x) is x


# -- Embedding -------------------------------------------------------------------------------

@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx):
    ours = nn.Embedding(6, 3, padding_idx=padding_idx)
    theirs = torch.nn.Embedding(6, 3, padding_idx=padding_idx)
    if padding_idx is not None:
        assert (ours.weight.numpy()[padding_idx] == 0).all()
    check_against_torch(ours, theirs, np.array([[0, 2, 5], [2, 2, 1]]))
    assert repr(ours).startswith("Embedding(6, 3")


def test_embedding_from_pretrained_freezes_by_default():
    table = rand(4, 2)
    frozen = nn.Embedding.from_pretrained(mg.tensor(table))
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(mg.tensor([3])).numpy(), table[3:4])
    trainable = nn.Embedding.from_pretrained(table, freeze=False)
    trainable(mg.tensor([1, 1])).sum().backward()
    np.testing.assert_array_equal(trainable.weight.grad.numpy()[1], [2, 2])
    with pytest.raises(ValueError, match=r"must be 2-d .* got shape \(4,\)"):
        nn.Embedding.from_pretrained(mg.tensor(np.zeros(4)))


def test_embedding_rejects_bad_padding_idx():
    with pytest.raises(ValueError, match="padding_idx 5 must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=5)


# -- Dropout ------------------------------------------------------------------------------------

def test_dropout_module_obeys_train_and_eval():
    layer = nn.Dropout(0.5)
    x = mg.ones(1000)
    assert (layer(x).numpy() == 0).any()
    layer.eval()
    assert layer(x) is x
    assert repr(layer) == "Dropout(p=0.5)"
    with pytest.raises(ValueError, match="but got -0.1"):
        nn.Dropout(-0.1)


# -- LayerNorm ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,affine,bias", [((4,), True, True), ((2, 3), True, False),
                                               ((3,), False, True)])
def test_layer_norm_matches_torch(shape, affine, bias):
    theirs = torch.nn.LayerNorm(shape, elementwise_affine=affine, bias=bias)
    if affine:
        with torch.no_grad():  # move away from the ones/zeros start so the check is real
            for p in theirs.parameters():
                p.add_(torch.randn(p.shape))
    check_against_torch(nn.LayerNorm(shape, elementwise_affine=affine, bias=bias), theirs,
                        rand(2, *shape) * 3 + 1)


def test_layer_norm_initialisation_and_gradcheck():
    layer = nn.LayerNorm(3)
    np.testing.assert_array_equal(layer.weight.numpy(), np.ones(3))
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(3))
    gradcheck_module(layer, mg.tensor(rand(2, 3), requires_grad=True))


# -- Conv2d, pooling, Flatten ---------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(stride=2, padding=1),
    dict(padding=(2, 1), dilation=(2, 1), bias=False),
    dict(groups=2, stride=(1, 2)),
    dict(padding="same", dilation=2),
    dict(stride=(3, 2), bias=False),  # tiling windows (the reshape path), cropping a row
])
def test_conv2d_matches_torch(kwargs):
    check_against_torch(nn.Conv2d(4, 6, (3, 2), **kwargs), torch.nn.Conv2d(4, 6, (3, 2), **kwargs),
                        rand(2, 4, 7, 6))


def test_conv2d_gradchecks_and_repr():
    layer = nn.Conv2d(2, 2, 2, stride=2, padding=1)
    gradcheck_module(layer, mg.tensor(rand(1, 2, 3, 3), requires_grad=True))
    assert repr(layer) == "Conv2d(2, 2, kernel_size=(2, 2), stride=(2, 2), padding=(1, 1))"
    with pytest.raises(ValueError, match=r"in_channels \(3\) .* divisible by groups \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_pooling_modules_match_torch():
    x = np.random.default_rng(1).permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 5.0
    for ours, theirs in [
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False),
         torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
        (nn.AvgPool2d(2, ceil_mode=True), torch.nn.AvgPool2d(2, ceil_mode=True)),
    ]:
        check_against_torch(ours, theirs, x)


def test_flatten_matches_torch():
    check_against_torch(nn.Flatten(), torch.nn.Flatten(), rand(2, 3, 4))
    check_against_torch(nn.Flatten(0, 1), torch.nn.Flatten(0, 1), rand(2, 3, 4))


# -- activations -----------------------------------------------------------------------------

@pytest.mark.parametrize("ours,theirs", [
    (nn.ReLU(), torch.nn.ReLU()), (nn.Tanh(), torch.nn.Tanh()),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
])
def test_activation_modules_match_torch(ours, theirs):
    check_against_torch(ours, theirs, rand(3, 4) * 3)


def test_activation_reprs_and_gelu_check():
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.Softmax(0)) == "Softmax(dim=0)"
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("erf")


# -- containers ------------------------------------------------------------------------------

def test_sequential_names_and_matches_torch():
    ours = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    check_against_torch(ours, theirs, rand(3, 4))
    assert list(dict(ours.named_parameters())) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_from_ordered_dict_indexing_and_slicing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(OrderedDict([("fc1", a), ("act", b), ("fc2", c)]))
    assert list(dict(seq.named_parameters())) == ["fc1.weight", "fc1.bias", "fc2.weight",
                                                   "fc2.bias"]
    assert seq[0] is a and seq[-1] is c and len(seq) == 3
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert head(mg.randn(4, 2)).shape == (4, 3)
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Sigmoid"]
    with pytest.raises(IndexError, match="index 5 is out of range for Sequential of length 3"):
        seq[5]
    with pytest.raises(TypeError, match="holds Modules only, got int"):
        nn.Sequential(nn.ReLU(), 3)


def test_module_list_registers_and_renumbers():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])

    model = Stack()
    assert len(list(model.parameters())) == 6
    assert "layers.2.bias" in dict(model.named_parameters())
    model.layers.insert(0, nn.Linear(2, 2, bias=False))
    names = list(dict(model.named_parameters()))
    assert names[0] == "layers.0.weight" and "layers.3.bias" in names
    model.layers += [nn.Identity()]
    assert len(model.layers) == 5 and isinstance(model.layers[-1], nn.Identity)
    sub = model.layers[1:3]
    assert isinstance(sub, nn.ModuleList) and len(sub) == 2
    model.layers[0] = nn.Tanh()
    del model.layers[0]
    assert list(dict(model.layers.named_children())) == ["0", "1", "2", "3"]


def test_module_dict_behaves_like_a_dict():
    blocks = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(blocks) == ["enc", "dec"] and "enc" in blocks and len(blocks) == 2
    assert list(dict(blocks.named_parameters()))[:2] == ["enc.weight", "enc.bias"]
    blocks["act"] = nn.ReLU()
    assert [k for k, _ in blocks.items()] == ["enc", "dec", "act"]
    popped = blocks.pop("act")
    assert isinstance(popped, nn.ReLU) and "act" not in blocks
    with pytest.raises(KeyError, match="no module 'act'"):
        blocks["act"]
    blocks.clear()
    assert len(blocks) == 0 and list(blocks.parameters()) == []


# -- a LeNet on 8x8 "digits" -----------------------------------------------------------------

def make_lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 12, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(12 * 2 * 2, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10))


def test_lenet_matches_torch():
    ours = make_lenet().eval()
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 12, 3, padding=1), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(48, 32), torch.nn.ReLU(), torch.nn.Dropout(0.1),
        torch.nn.Linear(32, 10)).eval()
    check_against_torch(ours, theirs, rand(3, 1, 8, 8), atol=1e-9)


def test_lenet_learns_noisy_digit_prototypes():
    """Ten noisy 8x8 binary prototypes; SGD with momentum (written out here, so this test
    depends on nothing but the layers) must fit them."""
    rng = np.random.default_rng(0)
    prototypes = rng.uniform(0, 1, (10, 1, 8, 8)) > 0.6
    labels = rng.integers(0, 10, 400)
    images = prototypes[labels] + rng.normal(0, 0.3, (400, 1, 8, 8))
    x, y = mg.tensor(images.astype(np.float32)), mg.tensor(labels)
    model = make_lenet()
    velocity = [mg.zeros_like(p) for p in model.parameters()]
    losses = []
    for epoch in range(15):
        for start in range(0, 400, 50):
            loss = F.cross_entropy(model(x[start:start + 50]), y[start:start + 50])
            model.zero_grad()
            loss.backward()
            with mg.no_grad():
                for p, v in zip(model.parameters(), velocity):
                    v *= 0.9
                    v += p.grad
                    p -= 0.1 * v
            losses.append(loss.item())
    model.eval()
    accuracy = (model(x).argmax(axis=1).numpy() == labels).mean()
    assert np.mean(losses[-8:]) < 0.25 * np.mean(losses[:8])
    assert accuracy > 0.9


# -- found by the fuzz suite (tests/fuzz) -------------------------------------------------------

@pytest.mark.parametrize("make, size", [
    (nn.AdaptiveMaxPool1d, None), (nn.AdaptiveAvgPool1d, None), (nn.AdaptiveMaxPool1d, (None,)),
    (nn.AdaptiveAvgPool1d, True), (nn.AdaptiveAvgPool2d, None), (nn.AdaptiveMaxPool2d, (1, True)),
])
def test_adaptive_pooling_refuses_a_bare_none_and_bools_as_output_size(make, size):
    with pytest.raises(ValueError, match=r"adaptive_(max|avg)_pool[12]d: output_size must be an "
                                         r"int or a tuple of [12], got"):
        make(size)(mg.zeros(1, 2, 3))


def test_adaptive_pooling_keeps_a_dim_for_none_inside_a_pair():
    x = np.arange(12.0).reshape(1, 3, 4)
    check_against_torch(nn.AdaptiveMaxPool2d((None, 2)), torch.nn.AdaptiveMaxPool2d((None, 2)),
                        x)


@pytest.mark.parametrize("train, match", [
    (True, "batch_norm: eps must be positive during training, but got -1"),
    (False, "batch_norm: eps must be non-negative, but got -1")])
def test_batch_norm_refuses_a_negative_eps_as_pytorch(train, match):
    layer = nn.BatchNorm2d(2, eps=-1).train(train)
    with pytest.raises(ValueError, match=match):
        layer(mg.zeros(2, 2, 2, 2))
    with pytest.raises(ValueError, match="eps must be"):
        torch.nn.BatchNorm2d(2, eps=-1).train(train)(torch.zeros(2, 2, 2, 2))


def test_batch_norm_takes_a_zero_eps_in_evaluation():
    check_against_torch(nn.BatchNorm2d(2, eps=0).eval(), torch.nn.BatchNorm2d(2, eps=0).eval(),
                        np.arange(16.0).reshape(2, 2, 2, 2))


@pytest.mark.parametrize("make", [
    lambda: nn.MaxPool2d(1, stride=2 ** 63), lambda: nn.MaxPool2d((1, 2 ** 63)),
    lambda: nn.MaxPool1d(1, stride=2 ** 63), lambda: nn.AvgPool2d(1, padding=-2 ** 63 - 1)])
def test_pooling_sizes_beyond_int64_are_refused(make):
    with pytest.raises(ValueError, match=r"(stride|kernel_size|padding) must fit in int64"):
        make()(mg.zeros(1, 1, 1))


@pytest.mark.parametrize("src, tgt", [((3,), (3,)), ((), (2, 3)), ((2, 1, 1, 3), (2, 1, 1, 3))])
def test_transformer_needs_2d_or_3d_src_and_tgt(src, tgt):
    model = nn.Transformer(3, 1, 1, 1, 4)
    with pytest.raises(RuntimeError, match=r"Transformer: src and tgt must be 2-d \(unbatched\) "
                                           r"or 3-d \(batched\), got shapes"):
        model(mg.zeros(*src), mg.zeros(*tgt))


@pytest.mark.parametrize("layers, match", [(0, "must be positive, got 0"),
                                           (-1, "must be positive, got -1"),
                                           (2 ** 63, "must fit in int64")])
def test_transformer_stacks_need_a_sane_number_of_layers(layers, match):
    """PyTorch builds a stack of 0 layers but fails when it runs (it reads layers[0]);
    2**63 layers would never finish copying."""
    with pytest.raises(ValueError, match="Transformer: TransformerEncoder: num_layers " + match):
        nn.Transformer(2, 1, layers, 1, 4)
    with pytest.raises(ValueError, match="TransformerDecoder: num_layers " + match):
        nn.TransformerDecoder(nn.TransformerDecoderLayer(2, 1, 4), layers)
