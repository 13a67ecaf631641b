"""nn.Module: registration and PyTorch's dotted names, traversal, modes, gradients,
state dicts (strict loading and its errors), dtype moves, repr and freezing."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

torch = pytest.importorskip("torch")


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(mg.ones(4))
        self.register_buffer("steps", mg.zeros(1, dtype="int64"))
        self.register_buffer("running", mg.zeros(4))
        self.plain = 7  # an ordinary attribute: not registered

    def forward(self, x):
        return self.fc(x).tanh() * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(4, 2, bias=False)

    def forward(self, x):
        return self.head(self.drop(self.block(x)))


def test_registration_and_dotted_names():
    net = Net()
    assert list(dict(net.named_parameters())) == [
        "block.scale", "block.fc.weight", "block.fc.bias", "head.weight"]
    assert len(list(net.parameters())) == 4
    assert list(dict(net.named_buffers())) == ["block.steps", "block.running"]
    assert "plain" not in dict(net.block.named_parameters())
    assert list(dict(net.block.named_parameters(recurse=False))) == ["scale"]


def test_names_match_pytorch_for_the_same_architecture():
    ours = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3),
                                                                   nn.LayerNorm(3)))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Sequential(
        torch.nn.Linear(3, 3), torch.nn.LayerNorm(3)))
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_children_and_modules():
    net = Net()
    assert [type(m).__name__ for m in net.children()] == ["Block", "Dropout", "Linear"]
    assert [name for name, _ in net.named_modules()] == [
        "", "block", "block.fc", "drop", "head"]
    assert len(list(net.modules())) == 5


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(list(seq.parameters())) == 2


def test_train_and_eval_reach_every_submodule():
    net = Net()
    assert net.training and net.drop.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    x = mg.randn(5, 3)
    np.testing.assert_array_equal(net(x).numpy(), net(x).numpy())  # no dropout in eval
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad():
    net = Net()
    net(mg.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all((p.grad.numpy() == 0).all() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_frozen_parameters_get_no_gradient():
    net = Net()
    net.block.requires_grad_(False)
    net.head.weight.requires_grad = True
    net(mg.randn(2, 3)).sum().backward()
    assert all(p.grad is None for p in net.block.parameters())
    assert net.head.weight.grad is not None


def test_frozen_layer_is_not_updated_by_a_training_step():
    net = Net().eval()
    net.block.fc.weight.requires_grad = False
    before = net.block.fc.weight.numpy().copy()
    net(mg.randn(4, 3)).sum().backward()
    with mg.no_grad():
        for p in net.parameters():
            if p.grad is not None:
                p -= 0.1 * p.grad
    np.testing.assert_array_equal(net.block.fc.weight.numpy(), before)


def test_state_dict_round_trip():
    a, b = Net(), Net()
    with mg.no_grad():
        a.block.running[...] = 3.0
    state = a.state_dict()
    assert list(state) == ["block.scale", "block.steps", "block.running", "block.fc.weight",
                           "block.fc.bias", "head.weight"]  # PyTorch's order
    assert not any(v.requires_grad for v in state.values())
    b.load_state_dict(state)
    x = mg.randn(3, 3)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    np.testing.assert_array_equal(b.block.running.numpy(), 3.0)
    b.load_state_dict({k: v.numpy() for k, v in state.items()})  # NumPy arrays work too


def test_load_state_dict_keeps_parameter_identity_and_dtype():
    net = Net()
    weight = net.head.weight
    state = {k: v.numpy().astype(np.float64) for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    assert net.head.weight is weight and weight.dtype == np.float32
    assert weight.requires_grad


def test_strict_load_names_missing_and_unexpected_keys():
    net = Net()
    state = dict(net.state_dict())
    del state["head.weight"]
    state["head.bias"] = np.zeros(2)
    with pytest.raises(KeyError, match=r"missing keys: 'head.weight'.*unexpected keys: "
                                       r"'head.bias'"):
        net.load_state_dict(state)
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["head.weight"] and result.unexpected_keys == ["head.bias"]


def test_shape_mismatch_names_key_and_both_shapes_and_loads_nothing():
    net = Net()
    before = net.block.scale.numpy().copy()
    state = {k: v.numpy() + 1 for k, v in net.state_dict().items()}
    state["head.weight"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"size mismatch for 'head.weight': the checkpoint has "
                                         r"shape \(3, 4\), this model has shape \(2, 4\)"):
        net.load_state_dict(state)
    np.testing.assert_array_equal(net.block.scale.numpy(), before)


def test_load_pytorch_state_dict():
    ours = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_dtype_moves():
    net = Net()
    assert net.double() is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.block.running.dtype == np.float64
    assert net.block.steps.dtype == np.int64  # integer buffers keep their type
    assert net(mg.randn(2, 3, dtype="float64")).dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    net.to(mg.float64)
    assert net.head.weight.dtype == np.float64
    net.to("float32")
    assert net.head.weight.dtype == np.float32
    assert isinstance(net.head.weight, nn.Parameter) and net.head.weight.requires_grad


def test_repr_nests_like_pytorch():
    net = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.1)\n"
        "  )\n"
        ")")


def test_assignment_errors():
    net = Net()
    with pytest.raises(TypeError, match="cannot assign a Tensor to parameter 'scale'"):
        net.block.scale = mg.ones(4)

    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_calling_a_module_without_forward_says_what_to_define():
    class Holder(nn.Module):
        pass

    with pytest.raises(TypeError, match=r"Holder is a Module without a forward\(\) method"):
        Holder()(1)
