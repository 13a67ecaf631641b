"""nn.utils: parameters_to_vector / vector_to_parameters, parametrizations (weight_norm,
spectral_norm, register_parametrization) and summary -- against PyTorch where it has
the same function, with float64 gradchecks and the error messages."""
import copy
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn.utils import parametrize
from minigrad.nn.utils.parametrizations import _SpectralNorm, _WeightNorm


def torch_twin(ours):
    """The same layer in PyTorch (float64), with our weights copied in."""
    torch = pytest.importorskip("torch")
    kind = type(ours).__name__
    if kind == "Linear":
        theirs = torch.nn.Linear(ours.in_features, ours.out_features)
    else:
        theirs = torch.nn.Conv2d(ours.in_channels, ours.out_channels, ours.kernel_size)
    theirs = theirs.double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    return theirs


def linear(seed=0, shape=(3, 4)):
    mg.manual_seed(seed)
    return nn.Linear(*shape).double()


# -- parameters_to_vector / vector_to_parameters -------------------------------------------

def test_parameters_to_vector_matches_torch():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                               torch.nn.Linear(4, 2)).double()
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                          for k, v in model.state_dict().items()})
    vec = nn.utils.parameters_to_vector(model.parameters())
    tvec = torch.nn.utils.parameters_to_vector(twin.parameters())
    np.testing.assert_array_equal(vec.numpy(), tvec.detach().numpy())
    new = np.random.RandomState(1).randn(vec.shape[0])
    nn.utils.vector_to_parameters(mg.tensor(new), model.parameters())
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new.copy()), twin.parameters())
    for (name, p), (tname, t) in zip(model.named_parameters(), twin.named_parameters()):
        assert name == tname
        np.testing.assert_array_equal(p.numpy(), t.detach().numpy())


@given(shapes=st.lists(st.lists(st.integers(1, 4), min_size=0, max_size=3), min_size=1,
                       max_size=4), seed=st.integers(0, 2 ** 16))
def test_vector_round_trip_property(shapes, seed):
    rng = np.random.RandomState(seed)
    params = [nn.Parameter(mg.tensor(rng.randn(*s))) for s in shapes]
    before = [p for p in params]
    vec = nn.utils.parameters_to_vector(params)
    assert vec.shape == (sum(int(np.prod(s)) for s in shapes),)
    nn.utils.vector_to_parameters(vec * 2.0, params)
    assert all(p is b for p, b in zip(params, before))  # identities kept
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(params).numpy(),
                                  vec.numpy() * 2.0)


def test_parameters_to_vector_is_differentiable():
    a = nn.Parameter(mg.tensor(np.arange(6.0).reshape(2, 3)))
    b = nn.Parameter(mg.tensor(np.array([-1.0, 2.0])))
    (nn.utils.parameters_to_vector([a, b]) ** 2).sum().backward()
    # not bit-equal on a GPU: its float64 pow's derivative can be one ulp off
    np.testing.assert_allclose(a.grad.numpy(), 2 * a.numpy(), rtol=1e-14)
    np.testing.assert_allclose(b.grad.numpy(), 2 * b.numpy(), rtol=1e-14)


def test_vector_to_parameters_copies_and_records_nothing():
    p = nn.Parameter(mg.zeros(2, 2, dtype=np.float64))
    vec = mg.tensor(np.arange(4.0), requires_grad=True)
    nn.utils.vector_to_parameters(vec * 1.0, [p])
    assert p.requires_grad and p.grad_fn is None
    plain = mg.tensor(np.arange(4.0))
    nn.utils.vector_to_parameters(plain, [p])
    plain.zero_()  # a copy: writing into the vector afterwards leaves p alone
    np.testing.assert_array_equal(p.numpy(), [[0.0, 1.0], [2.0, 3.0]])


def test_vector_errors_name_the_problem():
    p = nn.Parameter(mg.zeros(2, 3))
    with pytest.raises(TypeError, match="expected a minigrad Tensor, but got: ndarray"):
        nn.utils.vector_to_parameters(np.zeros(6), [p])
    with pytest.raises(ValueError, match=r"expected a 1-D vector, got shape \(2, 3\)"):
        nn.utils.vector_to_parameters(mg.zeros(2, 3), [p])
    with pytest.raises(ValueError, match=r"has 5 elements, too few for parameter 0 of "
                                         r"shape \(2, 3\)"):
        nn.utils.vector_to_parameters(mg.zeros(5), [p])
    with pytest.raises(ValueError, match="got no parameters"):
        nn.utils.parameters_to_vector([])


# -- weight_norm -----------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [0, 1, None, -2])
def test_weight_norm_matches_torch(dim):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.parametrizations import weight_norm as torch_weight_norm
    ours = linear()
    theirs = torch_weight_norm(torch_twin(ours), dim=dim)
    nn.utils.weight_norm(ours, dim=dim)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-14)
    x = np.random.RandomState(0).randn(5, 3)
    out = ours(mg.tensor(x))
    tout = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    for (name, p), (tname, t) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_weight_norm_on_conv_and_loading_a_torch_checkpoint():
    torch = pytest.importorskip("torch")
    from torch.nn.utils.parametrizations import weight_norm as torch_weight_norm
    mg.manual_seed(3)
    theirs = torch_weight_norm(torch_twin(nn.Conv2d(2, 3, 3).double()))
    ours = nn.utils.weight_norm(nn.Conv2d(2, 3, 3).double())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert ours.parametrizations.weight.original0.shape == (3, 1, 1, 1)
    x = np.random.RandomState(1).randn(2, 2, 5, 5)
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_weight_norm_gradcheck(shape, data):
    dim = data.draw(st.sampled_from([None] + list(range(len(shape)))))
    rng = np.random.RandomState(data.draw(st.integers(0, 2 ** 16)))
    v = rng.randn(*shape) + np.sign(rng.randn(*shape)) * 0.5  # away from a zero norm
    norm = _WeightNorm(dim)
    g = norm.right_inverse(mg.tensor(v))[0].numpy() * rng.uniform(0.5, 2.0)
    assert mg.gradcheck(lambda g_, v_: norm(g_, v_),
                        (mg.tensor(g, requires_grad=True), mg.tensor(v, requires_grad=True)))


def test_weight_norm_keeps_the_weight_and_trains_g_and_v():
    ours = linear()
    before = ours.weight.numpy().copy()
    nn.utils.weight_norm(ours)
    np.testing.assert_allclose(ours.weight.numpy(), before, rtol=1e-14)
    assert [n for n, _ in ours.named_parameters()] == [
        "bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    assert type(ours).__name__ == "ParametrizedLinear" and isinstance(ours, nn.Linear)
    with pytest.raises(IndexError, match=r"dim 2 is out of range for 'weight' of shape"):
        nn.utils.weight_norm(linear(), dim=2)


# -- spectral_norm ----------------------------------------------------------------------------

def spectral_pair(make_ours, dim=None, n_power_iterations=1):
    pytest.importorskip("torch")
    from torch.nn.utils.parametrizations import spectral_norm as torch_spectral_norm
    ours = make_ours()
    theirs = torch_spectral_norm(torch_twin(ours), n_power_iterations=n_power_iterations,
                                 dim=dim)
    nn.utils.spectral_norm(ours, n_power_iterations=n_power_iterations, dim=dim)
    state = {k: v.numpy().copy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)  # the same starting u and v: the iterations then agree
    return ours, theirs


@pytest.mark.parametrize("make, dim, x_shape", [
    (lambda: linear(shape=(4, 6)), None, (3, 4)),
    (lambda: linear(shape=(5, 2)), 1, (3, 5)),
    (lambda: nn.Conv2d(2, 3, 2).double(), None, (2, 2, 4, 4)),
])
def test_spectral_norm_matches_torch_over_training_steps(make, dim, x_shape):
    torch = pytest.importorskip("torch")
    ours, theirs = spectral_pair(make, dim=dim, n_power_iterations=2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.RandomState(0)
    for step in range(4):
        if step == 3:  # eval: the power iteration stops, u and v stay
            ours.eval()
            theirs.eval()
        x = rng.randn(*x_shape)
        ours.zero_grad()
        theirs.zero_grad()
        out, tout = ours(mg.tensor(x)), theirs(torch.from_numpy(x))
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10)
        (out ** 2).sum().backward()
        (tout ** 2).sum().backward()
        for (name, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=name)
        for key, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(),
                                       rtol=1e-10, atol=1e-13, err_msg=key)


def test_spectral_norm_estimates_the_largest_singular_value():
    ours = nn.utils.spectral_norm(linear(shape=(6, 5)), n_power_iterations=5)
    for _ in range(20):
        weight = ours.weight
    assert np.linalg.svd(weight.numpy(), compute_uv=False)[0] == pytest.approx(1.0, abs=1e-6)


def test_spectral_norm_of_a_vector_normalizes_it():
    pytest.importorskip("torch")
    from torch.nn.utils.parametrizations import spectral_norm as torch_spectral_norm
    ours = linear()
    theirs = torch_spectral_norm(torch_twin(ours), name="bias")
    nn.utils.spectral_norm(ours, name="bias")
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "weight", "parametrizations.bias.original"]
    np.testing.assert_allclose(ours.bias.numpy(), theirs.bias.detach().numpy(), rtol=1e-14)


def test_spectral_norm_gradcheck():
    rng = np.random.RandomState(0)
    mg.manual_seed(0)
    w = mg.tensor(rng.randn(4, 3), requires_grad=True)
    norm = _SpectralNorm(w, n_power_iterations=3).eval()  # fixed u, v: a smooth function
    assert mg.gradcheck(lambda w_: norm(w_), (w,))


def test_spectral_norm_errors():
    with pytest.raises(IndexError, match=r"expected to be in range of \[-2, 1\] but got 2"):
        nn.utils.spectral_norm(linear(), dim=2)
    with pytest.raises(ValueError, match="n_power_iterations to be positive.*got "
                                         "n_power_iterations=0"):
        nn.utils.spectral_norm(linear(), n_power_iterations=0)
    with pytest.raises(ValueError, match="Linear has no parameter or buffer named 'kernel'"):
        nn.utils.spectral_norm(linear(), name="kernel")


# -- register_parametrization ------------------------------------------------------------------

class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)

    def right_inverse(self, a):
        return a.triu()


class Scale(nn.Module):
    def forward(self, x):
        return 3.0 * x

    def right_inverse(self, y):
        return y / 3.0


class RankOne(nn.Module):
    def forward(self, x, y):
        return mg.outer(x, y)

    def right_inverse(self, z):
        return z[:, 0].clone(), z[0].clone()


def test_custom_parametrization_matches_torch_and_chains():
    torch = pytest.importorskip("torch")
    tp = torch.nn.utils.parametrize

    class TorchSymmetric(torch.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(0, 1)

        def right_inverse(self, a):
            return a.triu()

    ours = linear(shape=(4, 4))
    theirs = torch_twin(ours)
    original = ours.weight
    parametrize.register_parametrization(ours, "weight", Symmetric())
    tp.register_parametrization(theirs, "weight", TorchSymmetric())
    assert ours.parametrizations.weight.original is original  # optimizers keep seeing it
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    parametrize.register_parametrization(ours, "weight", Scale())  # chained, applied last
    w = ours.weight.numpy()
    np.testing.assert_allclose(w, w.T)
    np.testing.assert_allclose(w, 3 * theirs.weight.detach().numpy())
    ours.weight = mg.tensor(np.full((4, 4), 6.0))  # right_inverse of both, last first
    np.testing.assert_allclose(ours.parametrizations.weight.original.numpy(),
                               np.triu(np.full((4, 4), 2.0)))
    np.testing.assert_allclose(ours.weight.numpy(), np.full((4, 4), 6.0))


def test_gradients_flow_into_the_originals():
    ours = linear(shape=(3, 3))
    parametrize.register_parametrization(ours, "weight", Symmetric())
    x = mg.tensor(np.random.RandomState(0).randn(2, 3))
    assert mg.gradcheck(lambda a: nn.functional.linear(x, Symmetric()(a)),
                        (mg.tensor(np.random.RandomState(1).randn(3, 3), requires_grad=True),))
    ours(x).sum().backward()
    grad = ours.parametrizations.weight.original.grad.numpy()
    np.testing.assert_allclose(np.tril(grad, -1), 0.0)  # the lower half is not used


def test_several_originals_and_removal():
    ours = linear(shape=(3, 4))
    parametrize.register_parametrization(ours, "weight", RankOne(), unsafe=True)
    plist = ours.parametrizations.weight
    assert [n for n, _ in plist.named_parameters()] == ["original0", "original1"]
    assert parametrize.is_parametrized(ours) and parametrize.is_parametrized(ours, "weight")
    assert not parametrize.is_parametrized(ours, "bias")
    value = ours.weight.numpy().copy()
    with pytest.raises(ValueError, match="leave_parametrized=False: it is computed from "
                                         r"several tensors \(original0..original1\)"):
        parametrize.remove_parametrizations(ours, "weight", leave_parametrized=False)
    parametrize.remove_parametrizations(ours, "weight")
    assert type(ours) is nn.Linear and not hasattr(ours, "parametrizations")
    assert isinstance(ours.weight, nn.Parameter)
    np.testing.assert_array_equal(ours.weight.numpy(), value)
    assert [n for n, _ in ours.named_parameters()] == ["bias", "weight"]


def test_remove_keeps_the_original_parameter_object():
    ours = linear(shape=(3, 3))
    original = ours.weight
    parametrize.register_parametrization(ours, "weight", Scale())
    assert parametrize.type_before_parametrizations(ours) is nn.Linear
    parametrize.remove_parametrizations(ours, "weight", leave_parametrized=False)
    assert ours.weight is original and type(ours) is nn.Linear
    parametrize.register_parametrization(ours, "weight", Scale())
    parametrize.remove_parametrizations(ours, "weight")
    assert ours.weight is original
    np.testing.assert_allclose(original.numpy() / 3.0, ours.weight.numpy() / 3.0)


def test_parametrizing_a_buffer_keeps_it_a_buffer():
    module = nn.Module()
    module.register_buffer("mask", mg.tensor(np.eye(3)))
    parametrize.register_parametrization(module, "mask", Scale())
    assert list(module.state_dict()) == ["parametrizations.mask.original"]
    assert not list(module.parameters())
    np.testing.assert_allclose(module.mask.numpy(), np.eye(3))  # right_inverse, then forward
    np.testing.assert_allclose(module.parametrizations.mask.original.numpy(), np.eye(3) / 3)


def test_cached_computes_once():
    calls = []

    class Counting(Scale):
        def forward(self, x):
            calls.append(1)
            return super().forward(x)

    ours = parametrize.register_parametrization(linear(), "weight", Counting(), unsafe=True)
    calls.clear()
    with parametrize.cached():
        first, second = ours.weight, ours.weight
    assert first is second and len(calls) == 1
    ours.weight
    assert len(calls) == 2


def test_copying_and_pickling_a_parametrized_module():
    ours = nn.utils.weight_norm(linear())
    replica = copy.deepcopy(ours)
    assert type(replica) is type(ours)
    np.testing.assert_array_equal(replica.weight.numpy(), ours.weight.numpy())
    assert replica.parametrizations.weight.original1 is not ours.parametrizations.weight.original1
    with pytest.raises(RuntimeError, match="cannot be pickled: save its state_dict"):
        pickle.dumps(ours)


def test_parametrization_errors():
    class Flatten(nn.Module):
        def forward(self, x):
            return x.reshape(-1)

    class Half(nn.Module):
        def forward(self, x):
            return x.astype(np.float32)

    with pytest.raises(ValueError, match=r"has shape \(12,\), but the original has shape "
                                         r"\(4, 3\); pass unsafe=True"):
        parametrize.register_parametrization(linear(), "weight", Flatten())
    with pytest.raises(ValueError, match="has dtype float32, but the original has dtype "
                                         "float64"):
        parametrize.register_parametrization(linear(), "weight", Half())
    with pytest.raises(ValueError, match="Linear has no parameter, buffer or parametrized "
                                         "tensor named 'kernel'"):
        parametrize.register_parametrization(linear(), "kernel", Scale())
    with pytest.raises(ValueError, match="Linear has no parametrization on 'weight'"):
        parametrize.remove_parametrizations(linear(), "weight")
    with pytest.raises(TypeError, match="a parametrization is a Module, got function"):
        parametrize.register_parametrization(linear(), "weight", lambda x: x)
    ours = parametrize.register_parametrization(linear(), "weight", Flatten(), unsafe=True)
    with pytest.raises(RuntimeError, match="Flatten does not implement right_inverse"):
        ours.weight = mg.zeros(4, 3, dtype=np.float64)


# -- summary ------------------------------------------------------------------------------------

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.cell = nn.LSTMCell(4, 5)
        self.head = nn.utils.weight_norm(nn.Linear(5, 3))
        self.drop = nn.Dropout(0.5)
        self.spare = nn.Linear(2, 2)
        self.scale = nn.Parameter(mg.ones(3))

    def forward(self, tokens):
        state = None
        for t in range(tokens.shape[1]):
            state = self.cell(self.embed(tokens[:, t]), state)
        return self.head(self.drop(state[0])) * self.scale


def test_summary_lists_shapes_and_parameter_counts():
    model = Tagger().train()
    table = nn.utils.summary(model, mg.tensor(np.zeros((2, 6), dtype=np.int64)))
    rows = {row.name: row for row in table.rows}
    assert [r.name for r in table.rows] == ["", "embed", "cell", "head", "drop", "spare"]
    assert rows[""].type == "Tagger" and rows[""].output_shape == (2, 3)
    assert rows[""].params == 3
    assert rows["embed"].output_shape == (2, 4) and rows["embed"].calls == 6
    assert rows["cell"].output_shape == ((2, 5), (2, 5))
    assert rows["cell"].params == 4 * 5 * (4 + 5) + 2 * 4 * 5
    assert rows["head"].type == "ParametrizedLinear" and rows["head"].params == 3 + 15 + 3
    assert rows["spare"].output_shape is None and rows["spare"].calls == 0
    assert table.total_params == sum(p.numel() for p in model.parameters()) == 290
    text = str(table)
    for expected in ["Layer (type)", "Output shape", "Param #", "Tagger", "[2, 3]",
                     "cell (LSTMCell) [6 calls]", "([2, 5], [2, 5])", "spare (Linear)", "--",
                     "Total params: 290", "Trainable params: 290", "Non-trainable params: 0"]:
        assert expected in text, expected
    assert repr(table) == text


def test_summary_changes_no_state_and_leaves_no_hooks():
    model = Tagger().train()
    model.embed.requires_grad_(False)
    model.head.eval()
    state = mg.get_rng_state()
    table = nn.utils.summary(model, (mg.tensor(np.zeros((1, 2), dtype=np.int64)),))
    assert table.trainable_params == table.total_params - 40
    assert "Non-trainable params: 40" in str(table)
    assert mg.get_rng_state() == state  # dropout did not draw: the run was in eval mode
    assert model.training and model.drop.training and not model.head.training
    assert all(not m._forward_hooks for m in model.modules())


def test_summary_of_a_sequential_and_bad_input():
    torch = pytest.importorskip("torch")
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    table = nn.utils.summary(seq, mg.ones(5, 3))
    assert [r.params for r in table.rows] == [0, 16, 0, 10]
    assert table.total_params == sum(p.numel() for p in twin.parameters())
    assert [r.output_shape for r in table.rows[1:]] == [(5, 4), (5, 4), (5, 2)]
    with pytest.raises(TypeError, match="summary takes an nn.Module, got function"):
        nn.utils.summary(lambda x: x, mg.ones(1))
