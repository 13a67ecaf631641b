"""Pickling and copying: tensors, Parameters, modules and optimizers survive pickle.dumps /
loads and copy.deepcopy with their class, values, dtype, shape and requires_grad; a backend
travels by name; deepcopy copies .grad and refuses non-leaves as PyTorch does; objects
shared inside one copy (tied weights) stay shared."""
import copy
import pickle
import pickletools

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.backends import ArrayBackend


def pickled(obj):
    return pickle.loads(pickle.dumps(obj))


COPIES = {"pickle": pickled, "deepcopy": copy.deepcopy}
ARRAYS = {
    "float32": np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
    "float64": np.linspace(-1, 1, 5),
    "int64": np.array([[1, -2], [3, 2 ** 40]], dtype=np.int64),
    "int32": np.arange(4, dtype=np.int32),
    "bool": np.array([True, False, True]),
    "0-d": np.array(2.5, dtype=np.float64),
    "empty": np.zeros((0, 3), dtype=np.float32),
}


def assert_same_tensor(copied, original):
    assert type(copied) is type(original)
    assert copied is not original
    assert copied.dtype == original.dtype and copied.shape == original.shape
    assert copied.device == original.device and copied.backend is original.backend
    assert copied.requires_grad == original.requires_grad
    assert copied.is_leaf
    np.testing.assert_array_equal(copied.numpy(), original.numpy())


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("kind", ARRAYS)
def test_tensor_round_trip(how, kind):
    original = mg.tensor(ARRAYS[kind])
    copied = COPIES[how](original)
    assert_same_tensor(copied, original)
    assert not np.shares_memory(copied.numpy(), original.numpy())  # its own memory


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_requires_grad_survives_and_the_copy_is_a_working_leaf(how, dtype):
    original = mg.tensor(np.array([1.0, 2.0, 3.0], dtype=dtype), requires_grad=True)
    copied = COPIES[how](original)
    assert_same_tensor(copied, original)
    (copied * copied).sum().backward()
    np.testing.assert_array_equal(copied.grad.numpy(), [2.0, 4.0, 6.0])
    assert original.grad is None


@pytest.mark.parametrize("how", COPIES)
def test_parameter_keeps_its_class(how):
    for requires_grad in (True, False):
        p = nn.Parameter(mg.randn(2, 3), requires_grad=requires_grad)
        copied = COPIES[how](p)
        assert isinstance(copied, nn.Parameter)
        assert_same_tensor(copied, p)


class Tagged(mg.Tensor):
    """A subclass with a slot of its own (module level, so pickle finds it by name)."""

    __slots__ = ("tag",)


@pytest.mark.parametrize("how", COPIES)
def test_subclass_attributes_travel(how):
    p = nn.Parameter(mg.ones(2))
    p.note = {"lr_scale": 0.5}
    copied = COPIES[how](p)
    assert copied.note == {"lr_scale": 0.5} and copied.note is not p.note
    t = Tagged(np.ones(3))
    t.tag = "embedding"
    copied = COPIES[how](t)
    assert type(copied) is Tagged and copied.tag == "embedding"


def test_deepcopy_copies_grad_and_pickle_drops_it_as_pytorch_does():
    p = nn.Parameter(mg.ones(3))
    (p * 3).sum().backward()
    copied = copy.deepcopy(p)
    assert copied.grad is not None and copied.grad is not p.grad
    np.testing.assert_array_equal(copied.grad.numpy(), [3.0, 3.0, 3.0])
    with mg.no_grad():
        copied.grad.zero_()
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, 3.0, 3.0])  # independent
    assert pickled(p).grad is None


def test_deepcopy_of_a_non_leaf_that_requires_grad_is_refused():
    x = mg.ones(2, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"Only Tensors created explicitly by the user "
                                           r"\(graph leaves\) support the deepcopy protocol"):
        copy.deepcopy(y)
    detached = copy.deepcopy(y.detach())
    assert detached.is_leaf and not detached.requires_grad
    np.testing.assert_array_equal(detached.numpy(), [2.0, 2.0])


def test_pickle_of_a_non_leaf_gives_a_leaf_as_pytorch_does():
    x = mg.ones(2, requires_grad=True)
    copied = pickled(x * 2)
    assert copied.is_leaf and copied.requires_grad
    np.testing.assert_array_equal(copied.numpy(), [2.0, 2.0])


def test_hooks_do_not_travel():
    """As in PyTorch: a hook is code bound to this process (here a lambda, which pickle
    could not even store); the copy starts without hooks."""
    x = mg.ones(2, requires_grad=True)
    x.register_hook(lambda g: g * 100)
    for how in COPIES.values():
        copied = how(x)
        copied.sum().backward()
        np.testing.assert_array_equal(copied.grad.numpy(), [1.0, 1.0])


def test_copy_copy_shares_the_array_as_pytorch_does():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    shallow = copy.copy(x)
    assert shallow is not x and shallow.requires_grad and type(shallow) is mg.Tensor
    np.testing.assert_array_equal(shallow.numpy(), [1.0, 2.0])
    if x.device == "cpu":
        assert np.shares_memory(shallow.numpy(), x.numpy())


@pytest.fixture
def fresh_backend():
    """A NumPy backend under its own name, registered anew for each test."""
    mg.register_backend("numpy_pickle", lambda: ArrayBackend("numpy_pickle", "dev_pickle", np))
    return mg.get_backend("numpy_pickle")


def test_the_backend_travels_by_name(fresh_backend):
    t = mg.tensor([1.0, 2.0], device="numpy_pickle")
    data = pickle.dumps(t)
    globals_used = {arg for op, arg, _ in pickletools.genops(data)
                    if op.name in ("GLOBAL", "STACK_GLOBAL") or isinstance(arg, str)}
    assert "numpy_pickle" in globals_used
    assert not any("ArrayBackend" in str(name) for name in globals_used)
    # Registering the name again makes a new backend object: the tensor finds that one.
    mg.register_backend("numpy_pickle", lambda: ArrayBackend("numpy_pickle", "dev_pickle", np))
    copied = pickle.loads(data)
    assert copied.backend is mg.get_backend("numpy_pickle") is not fresh_backend
    assert copied.device == "dev_pickle"
    np.testing.assert_array_equal(copied.numpy(), [1.0, 2.0])


def test_deepcopy_stays_on_the_same_backend(fresh_backend):
    t = mg.tensor([1.0, 2.0], device="numpy_pickle", requires_grad=True)
    assert copy.deepcopy(t).backend is fresh_backend


class Tied(nn.Module):
    """A language model's embedding and output layers sharing one weight matrix."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, tokens):
        return self.out(self.embed(tokens))


@pytest.mark.parametrize("how", COPIES)
def test_tied_weights_stay_tied(how):
    model = Tied()
    copied = COPIES[how](model)
    assert copied.out.weight is copied.embed.weight
    assert copied.embed.weight is not model.embed.weight
    with mg.no_grad():
        copied.embed.weight.zero_()
    assert not np.any(copied.out.weight.numpy())
    assert np.any(model.out.weight.numpy())


@pytest.mark.parametrize("how", COPIES)
def test_shared_tensor_in_a_container_stays_one_object(how):
    w = mg.ones(2, requires_grad=True)
    a, b = COPIES[how]([w, {"again": w}])
    assert a is b["again"] and a is not w


def _modules():
    return {
        "Linear": (nn.Linear(4, 3), lambda: mg.randn(2, 4)),
        "LSTM": (nn.LSTM(4, 3, num_layers=2), lambda: mg.randn(5, 2, 4)),
        "GRU": (nn.GRU(4, 3, bidirectional=True, batch_first=True), lambda: mg.randn(2, 5, 4)),
        "Sequential": (nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.5),
                                     nn.Linear(8, 2)).eval(), lambda: mg.randn(3, 4)),
    }


def _flat(out):
    """The arrays of a module's output, however nested ((output, (h, c)) for an LSTM)."""
    if isinstance(out, mg.Tensor):
        return [out.numpy()]
    return [a for item in out for a in _flat(item)]


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("name", ["Linear", "LSTM", "GRU", "Sequential"])
def test_module_copy_computes_the_same_with_independent_parameters(how, name):
    module, make_input = _modules()[name]
    copied = COPIES[how](module)
    assert type(copied) is type(module) and copied.training == module.training
    x = make_input()
    for ours, theirs in zip(_flat(copied(x)), _flat(module(x))):
        np.testing.assert_array_equal(ours, theirs)
    pairs = list(zip(copied.named_parameters(), module.named_parameters()))
    assert len(pairs) == len(list(module.parameters())) > 0
    for (name_c, p_c), (name_m, p_m) in pairs:
        assert name_c == name_m and isinstance(p_c, nn.Parameter)
        assert p_c is not p_m and p_c.requires_grad
        assert not np.shares_memory(p_c.numpy(), p_m.numpy())
    before = [p.numpy().copy() for p in module.parameters()]
    _flat_sum(copied(x)).backward()
    with mg.no_grad():
        for p in copied.parameters():
            p += 1.0
    for p, value in zip(module.parameters(), before):
        assert p.grad is None
        np.testing.assert_array_equal(p.numpy(), value)


def _flat_sum(out):
    if isinstance(out, mg.Tensor):
        return out.sum()
    total = None
    for item in out:
        part = _flat_sum(item)
        total = part if total is None else total + part
    return total


@pytest.mark.parametrize("how", COPIES)
def test_model_and_optimizer_copied_together_stay_connected(how):
    model = nn.Linear(3, 2)
    opt = mg.optim.Adam(model.parameters(), lr=0.1)
    model(mg.randn(4, 3)).sum().backward()
    opt.step()
    model2, opt2 = COPIES[how]((model, opt))
    assert opt2.param_groups[0]["params"][0] is model2.weight
    assert set(map(id, opt2.state)) == {id(p) for p in model2.parameters()}
    before = model.weight.numpy().copy()
    opt2.zero_grad()
    model2(mg.randn(4, 3)).sum().backward()
    opt2.step()
    np.testing.assert_array_equal(model.weight.numpy(), before)
    assert not np.array_equal(model2.weight.numpy(), before)
    assert opt.state[model.weight]["step"] == 1 and opt2.state[model2.weight]["step"] == 2
