"""nn.Module, part 2 (issue 8): traversal, buffers, tied state dicts, hooks, parameter
containers, Unflatten and the ``nn.modules`` namespace -- each checked against torch.nn by
building the same structure on both sides."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def build(N, lib):
    """The same model on both sides: shared and tied members, buffers (one not
    persistent), an empty parameter slot, and every container."""

    class Block(N.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", lib.zeros(1))
            self.fc = N.Linear(3, 3)
            self.register_buffer("mask", lib.ones(3), persistent=False)
            self.scale = N.Parameter(lib.ones(3))
            self.register_parameter("unused", None)

        def forward(self, x):
            return self.fc(x) * self.scale * self.mask

    class Net(N.Module):
        def __init__(self):
            super().__init__()
            self.emb = N.Embedding(5, 3)
            self.shared = Block()
            self.blocks = N.ModuleList([self.shared, Block(), self.shared])
            self.heads = N.ModuleDict({"a": N.Linear(3, 3), "b": N.Identity()})
            self.gains = N.ParameterList([lib.ones(3), N.Parameter(lib.zeros(3))])
            self.extra = N.ParameterDict({"z": lib.ones(1), "y": N.Parameter(lib.ones(3))})
            self.out = N.Linear(3, 5, bias=False)
            self.out.weight = self.emb.weight  # tied, the language-model way

        def forward(self, tokens):
            h = self.emb(tokens)
            for block in self.blocks:
                h = block(h)
            h = self.heads["b"](self.heads["a"](h)) * self.gains[0] + self.gains[1]
            return self.out(h * self.extra["y"])

    return Net()


def names(pairs):
    return [name for name, _ in pairs]


def to_numpy(state):
    return {k: v.detach().numpy().copy() for k, v in state.items()}


# -- traversal: names and orders as torch's ------------------------------------------------------
def test_names_and_orders_match_torch(torch):
    ours, theirs = build(nn, mg), build(torch.nn, torch)
    for method, kwargs in [("named_modules", {}), ("named_modules", {"remove_duplicate": False}),
                           ("named_modules", {"prefix": "net"}), ("named_children", {}),
                           ("named_parameters", {}),
                           ("named_parameters", {"remove_duplicate": False}),
                           ("named_parameters", {"prefix": "m", "recurse": False}),
                           ("named_buffers", {}), ("named_buffers", {"remove_duplicate": False})]:
        assert names(getattr(ours, method)(**kwargs)) == \
            names(getattr(theirs, method)(**kwargs)), (method, kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict(prefix="model.")) == list(theirs.state_dict(prefix="model."))
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    assert len(list(ours.buffers())) == len(list(theirs.buffers()))


def test_apply_visits_children_before_parents_as_torch(torch):
    visits = []
    for N, lib in ((nn, mg), (torch.nn, torch)):
        model = build(N, lib)
        name_of = {id(m): name for name, m in model.named_modules()}
        order = []
        assert model.apply(lambda m: order.append(name_of[id(m)])) is model
        visits.append(order)
    assert visits[0] == visits[1]
    assert visits[0][-1] == "" and visits[0].index("shared.fc") < visits[0].index("shared")


def test_apply_initialises_weights():
    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)

    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sequential(nn.Linear(3, 1)))
    model.apply(init)
    assert all((m.weight.numpy() == 0.5).all() for m in model.modules()
               if isinstance(m, nn.Linear))


def test_named_modules_memo_and_children_of_a_shared_module():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert names(seq.named_children()) == ["0", "1"]
    assert names(seq.named_modules(remove_duplicate=False)) == ["", "0", "1", "2"]
    assert names(seq.named_modules(memo={shared})) == ["", "1"]


def test_train_recurses_through_children_own_train():
    class KeepsEncoderFrozen(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Dropout(0.5)
            self.decoder = nn.Dropout(0.5)

        def train(self, mode=True):
            super().train(mode)
            self.encoder.eval()
            return self

    model = nn.Sequential(KeepsEncoderFrozen())
    assert model.train() is model
    assert model[0].training and not model[0].encoder.training and model[0].decoder.training
    with pytest.raises(ValueError, match="training mode is expected to be a bool, got 1"):
        model.train(1)


def test_get_submodule_parameter_and_buffer():
    model = build(nn, mg)
    assert model.get_submodule("") is model
    assert model.get_submodule("blocks.1.fc") is model.blocks[1].fc
    assert model.get_parameter("blocks.1.fc.weight") is model.blocks[1].fc.weight
    assert model.get_parameter("out.weight") is model.emb.weight
    assert model.get_buffer("shared.count") is model.shared.count
    with pytest.raises(AttributeError, match=r"get_submodule\('blocks.1.conv.x'\): Block at "
                                             r"'blocks.1' has no attribute 'conv'"):
        model.get_submodule("blocks.1.conv.x")
    with pytest.raises(AttributeError, match=r"'shared.scale' is a Parameter, not a Module"):
        model.get_submodule("shared.scale")
    with pytest.raises(AttributeError, match=r"get_parameter\('shared.count'\): Block has no "
                                             r"parameter 'count' \(it is a Tensor\)"):
        model.get_parameter("shared.count")
    with pytest.raises(AttributeError, match=r"get_buffer\('shared.nope'\): Block has no "
                                             r"buffer 'nope'$"):
        model.get_buffer("shared.nope")


# -- buffers -------------------------------------------------------------------------------------
def test_buffers_persistent_or_not_and_their_moves():
    block = build(nn, mg).shared
    assert names(block.named_buffers()) == ["count", "mask"]
    assert list(block.state_dict()) == ["scale", "count", "fc.weight", "fc.bias"]
    block.register_buffer("steps", mg.zeros(1, dtype="int64"))
    count = block.count
    assert block.double() is block
    assert block.count is count and count.dtype == np.float64 and block.mask.dtype == np.float64
    assert block.steps.dtype == np.int64  # a dtype moves only floating-point tensors
    assert block.half().scale.dtype == np.float16 and block.mask.dtype == np.float16
    block.to(mg.zeros(1, dtype="float32"))
    assert block.fc.weight.dtype == np.float32 and block.count.dtype == np.float32
    block.to(device="cpu", dtype="float64")
    assert block.fc.bias.dtype == np.float64
    assert block.cpu() is block and block.fc.weight.device == mg.device("cpu")
    block.type(mg.float32)  # type() casts every tensor, as torch's
    assert block.steps.dtype == np.float32 and block.count.dtype == np.float32
    assert isinstance(block.scale, nn.Parameter) and block.scale.requires_grad
    with pytest.raises(TypeError, match="only casts to floating-point or complex dtypes, got "
                                        "'int64'"):
        block.to("int64")


def test_buffer_registration_errors():
    m = nn.Linear(2, 2)
    m.register_buffer("running", mg.zeros(2))
    m.running = None  # None may replace a buffer
    assert "running" not in m.state_dict()
    with pytest.raises(KeyError, match='buffer name must not contain "." \\(got "a.b"\\)'):
        m.register_buffer("a.b", mg.zeros(1))
    with pytest.raises(KeyError, match="attribute 'weight' already exists in Linear"):
        m.register_buffer("weight", mg.zeros(1))
    with pytest.raises(TypeError, match="cannot register a list as buffer 'stats'"):
        m.register_buffer("stats", [1.0])
    with pytest.raises(TypeError, match="cannot assign a float to buffer 'running'"):
        m.running = 3.0
    with pytest.raises(TypeError, match="cannot register a Tensor as parameter 'p'"):
        m.register_parameter("p", mg.zeros(1))
    with pytest.raises(KeyError, match="module name must not be the empty string"):
        m.add_module("", nn.ReLU())
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("x", 3)


# -- state dicts: keep_vars, ties both ways ------------------------------------------------------
def test_state_dict_keep_vars_and_destination():
    model = build(nn, mg)
    state = model.state_dict(keep_vars=True)
    assert state["out.weight"] is model.emb.weight is state["emb.weight"]
    assert state["gains.1"] is model.gains[1]
    destination = {"step": 3}
    assert model.state_dict(destination=destination, prefix="m.") is destination
    assert list(destination)[:3] == ["step", "m.emb.weight", "m.shared.scale"]
    detached = model.state_dict()
    assert not detached["emb.weight"].requires_grad


def test_tied_state_dict_loads_from_torch_and_back(torch):
    ours, theirs = build(nn, mg), build(torch.nn, torch)
    result = ours.load_state_dict(to_numpy(theirs.state_dict()))
    assert repr(result) == "<All keys matched successfully>" == repr(
        theirs.load_state_dict(theirs.state_dict()))
    assert ours.out.weight is ours.emb.weight  # still one Parameter
    tokens = np.array([[0, 4, 2], [1, 3, 3]])
    np.testing.assert_allclose(ours(mg.tensor(tokens)).numpy(),
                               theirs(torch.tensor(tokens)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    fresh = build(torch.nn, torch)  # and back: a strict load into torch
    fresh.load_state_dict({k: torch.tensor(v) for k, v in to_numpy(ours.state_dict()).items()})
    assert fresh.out.weight is fresh.emb.weight
    np.testing.assert_array_equal(fresh.emb.weight.detach().numpy(), ours.emb.weight.numpy())


def test_loading_either_tied_name_updates_the_shared_parameter(torch):
    for N, lib in ((nn, mg), (torch.nn, torch)):
        model = build(N, lib)
        for name, other, fill in (("out.weight", "emb.weight", 7.0),
                                  ("emb.weight", "out.weight", -1.0)):
            value = np.full((5, 3), fill, np.float32)
            result = model.load_state_dict({name: lib.tensor(value)}, strict=False)
            assert other in result.missing_keys and name not in result.missing_keys
            np.testing.assert_array_equal(model.out.weight.detach().numpy(), value)
            np.testing.assert_array_equal(model.emb.weight.detach().numpy(), value)


def test_missing_and_unexpected_keys_match_torch(torch):
    state = to_numpy(build(torch.nn, torch).state_dict())
    del state["heads.a.bias"]
    state["heads.c.weight"] = np.zeros(3, np.float32)
    ours = build(nn, mg).load_state_dict(state, strict=False)
    theirs = build(torch.nn, torch).load_state_dict(
        {k: torch.tensor(v) for k, v in state.items()}, strict=False)
    assert ours == (theirs.missing_keys, theirs.unexpected_keys)
    assert repr(ours) == repr(theirs)
    with pytest.raises(KeyError, match="missing keys: 'heads.a.bias'; unexpected keys: "
                                       "'heads.c.weight'"):
        build(nn, mg).load_state_dict(state)


def test_tied_checkpoint_survives_save_and_load(tmp_path):
    model = build(nn, mg)
    with mg.no_grad():
        model.emb.weight += 1.0
        model.shared.count += 5.0
    mg.save(model.state_dict(), tmp_path / "lm.ckpt")
    other = build(nn, mg)
    other.load_state_dict(mg.load(tmp_path / "lm.ckpt"))
    assert other.out.weight is other.emb.weight
    np.testing.assert_array_equal(other.out.weight.numpy(), model.emb.weight.numpy())
    np.testing.assert_array_equal(other.shared.count.numpy(), 5.0)


def test_zero_grad_and_requires_grad_return_values():
    model = build(nn, mg)
    model(mg.tensor([[1, 2]])).sum().backward()
    assert model.emb.weight.grad is not None
    model.zero_grad()  # set_to_none=True is the default, as in PyTorch 2
    assert all(p.grad is None for p in model.parameters())
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())


# -- forward hooks -------------------------------------------------------------------------------
def hooked_mlp(N, lib, log):
    """Every layer logs its pre-hook and hook; the outer one also edits input and output."""
    model = N.Sequential(N.Linear(2, 3), N.Tanh(), N.Linear(3, 1))
    handles = []
    for name, m in model.named_modules():
        label = name or "seq"
        handles.append(m.register_forward_pre_hook(
            lambda mod, args, label=label: log.append(f"pre {label}")))
        handles.append(m.register_forward_hook(
            lambda mod, args, out, label=label: log.append(f"post {label}")))
    handles.append(model.register_forward_pre_hook(lambda mod, args: args[0] * 2))
    handles.append(model.register_forward_hook(lambda mod, args, out: out + 1))
    handles.append(model.register_forward_hook(
        lambda mod, args, out: log.append("first"), prepend=True))
    return model, handles


def test_forward_hooks_fire_in_torch_order_and_edit_values(torch):
    logs, outputs = [], []
    for N, lib in ((nn, mg), (torch.nn, torch)):
        log = []
        model, handles = hooked_mlp(N, lib, log)
        for p in model.parameters():
            p.data = lib.tensor(np.linspace(-1, 1, p.numel(), dtype=np.float32).reshape(p.shape))
        x = lib.tensor(np.array([[0.5, -1.0]], np.float32))
        outputs.append(model(x).detach().numpy())
        for h in handles:
            h.remove()
        outputs.append(model(x).detach().numpy())
        logs.append(log)
    assert logs[0] == logs[1]
    assert logs[0][:3] == ["pre seq", "pre 0", "post 0"] and logs[0][-2:] == ["first", "post seq"]
    np.testing.assert_allclose(outputs[0], outputs[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs[1], outputs[3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(outputs[0], outputs[1])


def test_forward_hooks_with_kwargs_and_always_call():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            if factor < 0:
                raise ValueError("negative factor")
            return x * factor

    m, seen = Scale(), []
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}),
                                with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(kwargs) or out - 1,
                            with_kwargs=True)
    np.testing.assert_array_equal(m(mg.ones(2), factor=2.0).numpy(), 2.0)
    assert seen == [{"factor": 3.0}]

    m, calls = Scale(), []
    m.register_forward_hook(lambda mod, args, out: calls.append(out), always_call=True)
    m.register_forward_hook(lambda mod, args, out: calls.append("not always"))
    with pytest.raises(ValueError, match="negative factor"):
        m(mg.ones(2), factor=-1.0)
    assert calls == [None]
    m.register_forward_pre_hook(lambda mod, args, kwargs: "bad", with_kwargs=True)
    with pytest.raises(RuntimeError, match="must return None or \\(args, kwargs\\), got 'bad'"):
        m(mg.ones(2))


def test_a_removed_hook_is_exactly_the_one_removed():
    m, log = nn.Identity(), []

    def hook(mod, args, out):
        log.append(len(log))

    first, second = m.register_forward_hook(hook), m.register_forward_hook(hook)
    second.remove()
    second.remove()  # removing twice is harmless
    m(mg.ones(1))
    assert log == [0]
    first.remove()
    m(mg.ones(1))
    assert log == [0]


# -- backward hooks ------------------------------------------------------------------------------
def grads_with_backward_hooks(N, lib, edit):
    """A float64 MLP with full backward (pre-)hooks on every layer; returns what the
    hooks saw, in firing order, and the input and weight gradients."""
    rng = np.random.default_rng(1)
    model = N.Sequential(N.Linear(3, 4), N.Tanh(), N.Linear(4, 2)).double()
    for p in model.parameters():
        p.data = lib.tensor(rng.standard_normal(tuple(p.shape)))
    seen = []

    def arrays(grads):
        return [None if g is None else g.detach().numpy().copy() for g in grads]

    for name, m in model.named_modules():
        def hook(mod, grad_input, grad_output, name=name):
            seen.append((name, arrays(grad_input), arrays(grad_output)))
            if edit and name == "1":
                return (grad_input[0] * 0.5,)

        m.register_full_backward_hook(hook)
        m.register_full_backward_pre_hook(lambda mod, go, name=name: seen.append((f"pre {name}",
                                                                                  arrays(go))))
    x = lib.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (model(x) ** 2).sum().backward()
    return seen, x.grad.numpy(), model[0].weight.grad.numpy()


@pytest.mark.parametrize("edit", [False, True])
def test_full_backward_hooks_see_torch_gradients(torch, edit):
    ours = grads_with_backward_hooks(nn, mg, edit)
    theirs = grads_with_backward_hooks(torch.nn, torch, edit)
    assert [event[0] for event in ours[0]] == [event[0] for event in theirs[0]]
    for a, b in zip(ours[0], theirs[0]):
        for ga, gb in zip(a[1:], b[1:]):
            assert len(ga) == len(gb)
            for x, y in zip(ga, gb):
                assert (x is None) == (y is None)
                if x is not None:
                    np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-10)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-10)


def test_backward_hook_entries_for_non_tensors_unused_outputs_and_frozen_inputs(torch):
    seen = []
    for N, lib in ((nn, mg), (torch.nn, torch)):
        class Split(N.Module):
            def forward(self, x, idx, scale, frozen):
                return x[idx] * scale, x.sum(), frozen * 2

        log = []
        m = Split()
        m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
        x = lib.tensor(np.arange(3.0), requires_grad=True)
        a, _, _ = m(x, lib.tensor([0, 2]), 3.0, lib.ones(2))
        a.sum().backward()
        (gi, go), = log
        seen.append(([None if g is None else g.numpy().tolist() for g in gi],
                     [None if g is None else g.numpy().tolist() for g in go]))
    assert seen[0] == seen[1] == ([[3.0, 0.0, 3.0], [0, 0], None, [0.0, 0.0]],
                                  [[1.0, 1.0], None, None])


def test_backward_hook_without_input_gradients_fires_at_the_outputs(torch):
    for N, lib in ((nn, mg), (torch.nn, torch)):
        layer, log = N.Linear(2, 1), []
        layer.register_full_backward_hook(lambda mod, gi, go: log.append((gi, len(go))))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns that it fires at the outputs
            layer(lib.ones(3, 2)).sum().backward()
        assert log == [((None,), 1)]
        assert layer.weight.grad is not None


def test_backward_hooks_fire_once_per_backward_and_stop_when_removed():
    layer, count = nn.Linear(2, 2), []
    handle = layer.register_full_backward_hook(lambda mod, gi, go: count.append(1))
    x = mg.ones(1, 2, requires_grad=True)
    y = layer(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert len(count) == 2
    handle.remove()
    layer(x).sum().backward()
    assert len(count) == 2
    layer.register_full_backward_hook(lambda mod, gi, go: count.append(1))
    with mg.no_grad():  # nothing recorded, nothing to fire
        assert not layer(x).requires_grad
    assert len(count) == 2


def test_backward_hook_returning_the_wrong_count_says_so():
    layer = nn.Linear(2, 2)
    layer.register_full_backward_hook(lambda mod, gi, go: (None, None))
    with pytest.raises(RuntimeError, match="backward hook of Linear returned 2 gradient"
                                           r"\(s\), but the module has 1"):
        layer(mg.ones(1, 2, requires_grad=True)).sum().backward()


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))
def test_observing_backward_hooks_leave_gradients_unchanged(batch, features, out):
    """A hook that returns None changes nothing (float64, against the same net unhooked)."""
    rng = np.random.default_rng(batch * 100 + features * 10 + out)
    net = nn.Sequential(nn.Linear(features, out), nn.Tanh()).double()
    x_value = rng.standard_normal((batch, features))
    plain = []
    for hooked in (False, True):
        if hooked:
            for m in net.modules():
                m.register_full_backward_hook(lambda mod, gi, go: None)
        net.zero_grad()
        x = mg.tensor(x_value, requires_grad=True)
        net(x).sum().backward()
        plain.append((x.grad.numpy(), net[0].weight.grad.numpy()))
    for a, b in zip(*plain):
        np.testing.assert_array_equal(a, b)


# -- parameter containers ------------------------------------------------------------------------
def test_parameter_list(torch):
    ours = nn.ParameterList([mg.ones(2, device="cpu"), nn.Parameter(mg.zeros(3, device="cpu"))])
    theirs = torch.nn.ParameterList([torch.ones(2), torch.nn.Parameter(torch.zeros(3))])
    ours.append(mg.ones(1, 4, device="cpu"))
    theirs.append(torch.ones(1, 4))
    ours += [nn.Parameter(mg.ones(1, device="cpu"))]
    theirs += [torch.nn.Parameter(torch.ones(1))]
    assert all(isinstance(p, nn.Parameter) for p in ours) and len(ours) == 4
    assert ours[-1] is list(ours)[3]
    assert names(ours.named_parameters()) == names(theirs.named_parameters())
    assert len(ours[1:3]) == 2 and ours[1:3][0] is ours[1]
    ours[0] = mg.zeros(5, device="cpu")
    assert isinstance(ours[0], nn.Parameter) and ours[0].shape == (5,)
    assert repr(ours).replace("minigrad.", "torch.") == repr(
        torch.nn.ParameterList([torch.zeros(5)] + list(theirs)[1:]))
    with pytest.raises(IndexError, match="index 4 is out of range for ParameterList of length 4"):
        ours[4]
    with pytest.raises(TypeError, match="takes an iterable of values, got a Tensor"):
        ours.extend(mg.ones(3))
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        ours(mg.ones(1))


def test_parameter_dict(torch):
    values = {"b": np.ones(2, np.float32), "a": np.zeros(3, np.float32)}
    ours = nn.ParameterDict({k: mg.tensor(v, device="cpu") for k, v in values.items()})
    theirs = torch.nn.ParameterDict({k: torch.tensor(v) for k, v in values.items()})
    ours.update([("c", mg.ones(1, device="cpu"))])
    theirs.update([("c", torch.ones(1))])
    assert list(ours) == list(theirs) == ["a", "b", "c"]  # a plain dict goes in sorted
    assert names(ours.named_parameters()) == names(theirs.named_parameters())
    assert repr(ours).replace("minigrad.", "torch.") == repr(theirs)
    assert isinstance(ours["a"], nn.Parameter) and "a" in ours and ours.get("zz") is None
    assert ours.pop("b").shape == (2,) and list(ours.keys()) == ["a", "c"]
    assert ours.popitem()[0] == "c"
    merged = ours | nn.ParameterDict({"d": mg.ones(2)})
    assert list(merged) == ["a", "d"] and merged["a"] is ours["a"]
    assert ours.setdefault("e", mg.ones(1)).shape == (1,)
    with pytest.raises(KeyError, match=r"ParameterDict has no key 'x'; it has \['a', 'e'\]"):
        ours["x"]
    with pytest.raises(TypeError, match="ParameterDict keys must be strings, got int"):
        ours[1] = mg.ones(1)
    with pytest.raises(ValueError, match="element #0 is not a \\(key, value\\) pair"):
        ours.update([("a", mg.ones(1), 3)])
    ours.clear()
    assert len(ours) == 0 and list(ours.parameters()) == []


def test_parameter_containers_print_a_device_other_than_the_cpu(torch):
    """As PyTorch prints a CUDA parameter: the device after the size, and in a dict the
    tensor type (torch.cuda.FloatTensor); the simulated GPU's device is printed too."""
    on_simgpu = [mg.ones(2, device="simgpu"), mg.ones(1, 3, device="simgpu")]
    assert repr(nn.ParameterList(on_simgpu)) == (
        "ParameterList(\n"
        "    (0): Parameter containing: [minigrad.float32 of size 2 (simgpu)]\n"
        "    (1): Parameter containing: [minigrad.float32 of size 1x3 (simgpu)]\n)")
    assert repr(nn.ParameterDict({"w": on_simgpu[0]})) == \
        "ParameterDict(  (w): Parameter containing: [minigrad.FloatTensor of size 2 (simgpu)])"
    if mg.cuda.is_available():
        gpu = nn.ParameterDict({"w": mg.ones(2, device="cuda")})
        assert repr(gpu) == "ParameterDict(  (w): Parameter containing: " \
                            "[minigrad.cuda.FloatTensor of size 2 (cuda:0)])"
        if torch.cuda.is_available():
            theirs = torch.nn.ParameterDict({"w": torch.ones(2, device="cuda")})
            assert repr(gpu).replace("minigrad.", "torch.") == repr(theirs)


# -- reprs, Identity, Unflatten ------------------------------------------------------------------
def test_reprs_match_torch(torch):
    for N in (nn, torch.nn):
        class Custom(N.Module):
            def __init__(self, N=N):
                super().__init__()
                self.fc = N.Linear(1, 1)

            def extra_repr(self):
                return "a=1\nb=2"

        N.Custom = Custom
    try:
        for make in (lambda N: N.ModuleList([N.Linear(2, 2) for _ in range(3)] + [N.ReLU()]),
                     lambda N: N.ModuleList([]),
                     lambda N: N.Sequential(N.Custom(), N.ModuleList([N.Identity()] * 2)),
                     lambda N: N.Unflatten(1, (2, 5)),
                     lambda N: N.Identity()):
            assert repr(make(nn)) == repr(make(torch.nn))
    finally:
        del nn.Custom, torch.nn.Custom


def test_unflatten_matches_torch(torch):
    x = np.arange(24.0).reshape(2, 12)
    for dim, sizes in ((1, (3, 4)), (-1, [2, -1, 3]), (0, (1, 2))):
        np.testing.assert_array_equal(nn.Unflatten(dim, sizes)(mg.tensor(x)).numpy(),
                                      torch.nn.Unflatten(dim, sizes)(torch.tensor(x)).numpy())
    model = nn.Sequential(nn.Flatten(), nn.Unflatten(1, (3, 4)))
    assert model(mg.tensor(x.reshape(2, 3, 4))).shape == (2, 3, 4)
    with pytest.raises(TypeError, match="unflattened_size must be a tuple or list of ints, got "
                                        "12"):
        nn.Unflatten(1, 12)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
def test_unflatten_gradcheck(a, b, c):
    x = mg.tensor(np.random.default_rng(a + 3 * b + 9 * c).standard_normal((a, b * c)),
                  requires_grad=True)
    layer = nn.Unflatten(1, (b, c))
    assert mg.gradcheck(lambda t: layer(t) * mg.arange(b * c, dtype="float64").reshape(b, c),
                        (x,))


def test_parameter_without_data_is_empty_as_in_torch(torch):
    assert nn.Parameter().shape == tuple(torch.nn.Parameter().shape) == (0,)
    assert nn.Parameter().requires_grad


def test_identity_passes_anything_through():
    x = mg.ones(2)
    assert nn.Identity(54, unused="yes")(x) is x


# -- the nn.modules namespace --------------------------------------------------------------------
def test_nn_modules_namespace_serves_the_same_classes():
    from minigrad.nn.modules.activation import ReLU
    from minigrad.nn.modules.container import ParameterDict, Sequential
    from minigrad.nn.modules.conv import Conv2d
    from minigrad.nn.modules.dropout import Dropout
    from minigrad.nn.modules.linear import Linear
    from minigrad.nn.modules.loss import CrossEntropyLoss
    from minigrad.nn.modules.module import Module
    from minigrad.nn.modules.normalization import LayerNorm
    from minigrad.nn.modules.pooling import MaxPool2d
    from minigrad.nn.modules.rnn import LSTM
    from minigrad.nn.modules.sparse import Embedding

    assert (ReLU, ParameterDict, Sequential, Conv2d, Dropout, Linear, CrossEntropyLoss, Module,
            LayerNorm, MaxPool2d, LSTM, Embedding) == (
        nn.ReLU, nn.ParameterDict, nn.Sequential, nn.Conv2d, nn.Dropout, nn.Linear,
        nn.CrossEntropyLoss, nn.Module, nn.LayerNorm, nn.MaxPool2d, nn.LSTM, nn.Embedding)
    assert nn.modules.Linear is nn.Linear and nn.modules.flatten.Unflatten is nn.Unflatten
    assert "Dropout" in nn.modules.dropout.__all__ and "Dropout" in dir(nn.modules.dropout)
    namespace = {}
    exec("from minigrad.nn.modules.linear import *", namespace)
    assert namespace["Identity"] is nn.Identity
    exec("from minigrad.nn.modules import *", namespace)
    assert namespace["Embedding"] is nn.Embedding and namespace["Module"] is nn.Module


def test_nn_modules_namespace_sees_classes_added_later(monkeypatch):
    with pytest.raises(AttributeError, match="'minigrad.nn.modules.batchnorm' has no attribute "
                                             "'LazyBatchNorm3d': PyTorch has it there"):
        nn.modules.batchnorm.LazyBatchNorm3d
    with pytest.raises(AttributeError, match="has no attribute 'Sandwich'"):
        nn.modules.batchnorm.Sandwich

    class LazyBatchNorm3d(nn.Module):
        pass

    monkeypatch.setattr(nn, "LazyBatchNorm3d", LazyBatchNorm3d, raising=False)
    from minigrad.nn.modules.batchnorm import LazyBatchNorm3d as served
    assert served is LazyBatchNorm3d and "LazyBatchNorm3d" in nn.modules.batchnorm.__all__
