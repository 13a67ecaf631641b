"""Optimizers: step-for-step PyTorch trajectories, parameter groups, freezing, float32,
state dicts (ours and torch's layout) and argument errors."""
import inspect

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim

torch = pytest.importorskip("torch")

RNG = np.random.RandomState(1234)
X = RNG.randn(6, 4)
Y = RNG.uniform(-0.8, 0.8, size=(6, 3))
W0 = RNG.randn(3, 4) * 0.5
B0 = RNG.randn(3) * 0.5
STEPS = 40

# (optimizer name, constructor options, options of the second parameter group)
CONFIGS = [
    ("SGD", dict(lr=0.1), dict(lr=0.03)),
    ("SGD", dict(lr=0.1, momentum=0.9), dict(lr=0.03)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3), dict(lr=0.03)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.03)),
    ("SGD", dict(lr=0.1, weight_decay=0.05), dict(lr=0.03)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.05, maximize=True), dict(lr=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.02, maximize=True),
     dict(lr=0.02, momentum=0.0, nesterov=False)),
    ("Adam", dict(lr=0.05), dict(lr=0.01)),
    ("Adam", dict(lr=0.05, amsgrad=True), dict(lr=0.01)),
    ("Adam", dict(lr=0.05, weight_decay=0.1), dict(lr=0.01)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-4), dict(lr=0.01, betas=(0.5, 0.9))),
    ("Adam", dict(lr=0.02, amsgrad=True, weight_decay=0.1, maximize=True), dict(lr=0.01)),
    ("AdamW", dict(lr=0.05), dict(lr=0.01)),
    ("AdamW", dict(lr=0.05, amsgrad=True), dict(lr=0.01)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3), dict(lr=0.01, weight_decay=0.0)),
    ("AdamW", dict(lr=0.02, weight_decay=0.2, amsgrad=True, maximize=True), dict(lr=0.05)),
    ("RMSprop", dict(lr=0.01), dict(lr=0.003)),
    ("RMSprop", dict(lr=0.01, centered=True), dict(lr=0.003)),
    ("RMSprop", dict(lr=0.01, momentum=0.5), dict(lr=0.003)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True), dict(lr=0.003)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1, alpha=0.9, eps=1e-4), dict(lr=0.003)),
    ("RMSprop", dict(lr=0.005, momentum=0.3, centered=True, maximize=True), dict(lr=0.01)),
    ("Adagrad", dict(lr=0.1), dict(lr=0.03)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05), dict(lr=0.03)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5), dict(lr=0.03)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, eps=1e-3), dict(lr=0.03)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.1, initial_accumulator_value=0.2, weight_decay=0.05,
                     maximize=True), dict(lr=0.1, lr_decay=0.0)),
]
ALL_OPTIONS = {  # every option switched on, for the float32 and resume tests
    "SGD": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adam": dict(lr=0.05, amsgrad=True, weight_decay=0.01),
    "AdamW": dict(lr=0.05, amsgrad=True),
    "RMSprop": dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01),
    "Adagrad": dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01),
}


def mg_loss(w, b):
    return ((mg.tanh(mg.tensor(X) @ w.T + b) - mg.tensor(Y)) ** 2).mean()


def torch_loss(w, b):
    return ((torch.tanh(torch.tensor(X) @ w.T + b) - torch.tensor(Y)) ** 2).mean()


def mg_params(dtype=np.float64):
    return nn.Parameter(mg.tensor(W0.astype(dtype))), nn.Parameter(mg.tensor(B0.astype(dtype)))


def mg_step(opt, w, b):
    opt.zero_grad()
    mg_loss(w, b).backward()
    opt.step()


def torch_step(opt, w, b):
    opt.zero_grad()
    torch_loss(w, b).backward()
    opt.step()


def make_mg(name, w, b, options, second):
    return getattr(optim, name)([{"params": [w]}, {"params": [b], **second}], **options)


@pytest.mark.parametrize("name,options,second", CONFIGS,
                         ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CONFIGS])
def test_trajectory_matches_torch(name, options, second):
    w, b = mg_params()
    tw = torch.tensor(W0, requires_grad=True)
    tb = torch.tensor(B0, requires_grad=True)
    opt = make_mg(name, w, b, options, second)
    topt = getattr(torch.optim, name)([{"params": [tw]}, {"params": [tb], **second}],
                                      foreach=False, **options)
    for step in range(STEPS):
        mg_step(opt, w, b)
        torch_step(topt, tw, tb)
        for ours, theirs in ((w, tw), (b, tb)):
            np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10,
                                       atol=1e-12, err_msg=f"after step {step + 1}")
    assert not np.allclose(w.numpy(), W0)  # the run really moved the parameters


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_defaults_match_torch(name):
    ours = getattr(optim, name)([nn.Parameter(mg.zeros(2))]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
    assert ours == {key: theirs[key] for key in ours}


@pytest.mark.parametrize("name", sorted(ALL_OPTIONS))
def test_float32_stays_float32(name):
    w, b = mg_params(np.float32)
    opt = getattr(optim, name)([w, b], **ALL_OPTIONS[name])
    for _ in range(3):
        mg_step(opt, w, b)
    assert w.dtype == np.float32 and b.dtype == np.float32
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, mg.Tensor):
                assert value.dtype == np.float32


@pytest.mark.parametrize("name", sorted(ALL_OPTIONS))
def test_frozen_parameters_are_not_updated(name):
    w, b = mg_params()
    frozen = nn.Parameter(mg.ones(3, dtype=np.float64), requires_grad=False)
    frozen.grad = mg.ones(3, dtype=np.float64)  # even a stray gradient must not move it
    unused = nn.Parameter(mg.ones(2, dtype=np.float64))  # requires grad, never gets one
    opt = getattr(optim, name)([w, b, frozen, unused], **ALL_OPTIONS[name])
    for _ in range(3):
        mg_step(opt, w, b)
    np.testing.assert_array_equal(frozen.numpy(), np.ones(3))
    np.testing.assert_array_equal(unused.numpy(), np.ones(2))
    assert frozen not in opt.state and unused not in opt.state
    assert not np.allclose(w.numpy(), W0)


def run(opt, w, b, steps):
    for _ in range(steps):
        mg_step(opt, w, b)


@pytest.mark.parametrize("name", sorted(ALL_OPTIONS))
def test_state_dict_resume_gives_identical_steps(name, tmp_path):
    options = ALL_OPTIONS[name]
    w, b = mg_params()
    opt = make_mg(name, w, b, options, dict(lr=0.02))
    run(opt, w, b, 10)
    opt.param_groups[0]["lr"] *= 0.5  # as a scheduler would: must be restored too
    mg.save(opt.state_dict(), tmp_path / "opt.ckpt")
    mg.save({"w": w.detach(), "b": b.detach()}, tmp_path / "params.ckpt")
    run(opt, w, b, 5)

    params = mg.load(tmp_path / "params.ckpt")
    w2, b2 = nn.Parameter(params["w"]), nn.Parameter(params["b"])
    resumed = make_mg(name, w2, b2, options, dict(lr=0.02))
    resumed.load_state_dict(mg.load(tmp_path / "opt.ckpt"))
    assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    run(resumed, w2, b2, 5)
    np.testing.assert_array_equal(w2.numpy(), w.numpy())
    np.testing.assert_array_equal(b2.numpy(), b.numpy())


def test_loaded_state_is_a_copy():
    w, b = mg_params()
    opt = optim.SGD([w, b], lr=0.1, momentum=0.9)
    run(opt, w, b, 2)
    w2, b2 = mg_params()
    other = optim.SGD([w2, b2], lr=0.1, momentum=0.9)
    other.load_state_dict(opt.state_dict())
    assert other.state[w2]["momentum_buffer"] is not opt.state[w]["momentum_buffer"]
    np.testing.assert_array_equal(other.state[w2]["momentum_buffer"].numpy(),
                                  opt.state[w]["momentum_buffer"].numpy())


def _torch_state_dict_as_arrays(sd):
    return {"state": {i: {k: v.numpy() if isinstance(v, torch.Tensor) else v
                          for k, v in s.items()} for i, s in sd["state"].items()},
            "param_groups": sd["param_groups"]}


@pytest.mark.parametrize("name", sorted(ALL_OPTIONS))
def test_state_dict_layout_matches_torch_and_loads_torch_state(name):
    options = ALL_OPTIONS[name]
    w, b = mg_params()
    tw = torch.tensor(W0, requires_grad=True)
    tb = torch.tensor(B0, requires_grad=True)
    flags = dict(foreach=False) if "foreach" in \
        inspect.signature(getattr(optim, name)).parameters else {}  # as torch's below
    opt = make_mg(name, w, b, dict(options, **flags), dict(lr=0.02))
    topt = getattr(torch.optim, name)([{"params": [tw]}, {"params": [tb], "lr": 0.02}],
                                      foreach=False, **options)
    for _ in range(3):
        mg_step(opt, w, b)
        torch_step(topt, tw, tb)
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert [g["params"] for g in ours["param_groups"]] == \
        [g["params"] for g in theirs["param_groups"]] == [[0], [1]]
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for index, state in theirs["state"].items():
        assert sorted(ours["state"][index]) == sorted(state)
        for key, value in state.items():
            np.testing.assert_allclose(np.asarray(ours["state"][index][key]),
                                       value.numpy(), rtol=1e-10, atol=1e-14)
    for group, tgroup in zip(ours["param_groups"], theirs["param_groups"]):
        assert group == {key: tgroup[key] for key in group}

    # a fresh minigrad optimizer resumes from torch's state and follows torch's trajectory
    w2, b2 = nn.Parameter(mg.tensor(tw.detach().numpy())), \
        nn.Parameter(mg.tensor(tb.detach().numpy()))
    resumed = make_mg(name, w2, b2, options, dict(lr=0.02))
    resumed.load_state_dict(_torch_state_dict_as_arrays(theirs))
    for _ in range(5):
        mg_step(resumed, w2, b2)
        torch_step(topt, tw, tb)
    np.testing.assert_allclose(w2.numpy(), tw.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_state_is_float32_after_loading_float64_state():
    w, b = mg_params()
    opt = optim.Adam([w, b], lr=0.01)
    run(opt, w, b, 2)
    w32, b32 = mg_params(np.float32)
    opt32 = optim.Adam([w32, b32], lr=0.01)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[w32]["exp_avg"].dtype == np.float32
    run(opt32, w32, b32, 2)
    assert w32.dtype == np.float32


def test_load_state_dict_errors_name_the_problem():
    w, b = mg_params()
    opt = optim.Adam([w, b])
    run(opt, w, b, 1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="1 parameter groups, this optimizer has 2"):
        optim.Adam([{"params": [w]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="2 parameters, this optimizer has 1"):
        optim.Adam([w]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(3, 4\), but "
                                         r"the parameter has shape \(3,\)"):
        optim.Adam([b, w]).load_state_dict(sd)
    with pytest.raises(KeyError, match="'param_groups'"):
        optim.Adam([w, b]).load_state_dict({"state": {}})
    bad = {"state": {7: {}}, "param_groups": sd["param_groups"]}
    with pytest.raises(KeyError, match="parameter index 7"):
        optim.Adam([w, b]).load_state_dict(bad)


def test_constructor_errors():
    p = nn.Parameter(mg.zeros(2))
    cases = [
        (lambda: optim.SGD([p], lr=-1.0), "Invalid learning rate: -1.0"),
        (lambda: optim.SGD([p], momentum=-0.5), "Invalid momentum value: -0.5"),
        (lambda: optim.SGD([p], weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda: optim.SGD([p], nesterov=True), "Nesterov momentum requires a momentum"),
        (lambda: optim.SGD([p], momentum=0.9, dampening=0.1, nesterov=True),
         "zero dampening"),
        (lambda: optim.Adam([p], betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
        (lambda: optim.Adam([p], betas=(0.9, -0.1)), "index 1: -0.1"),
        (lambda: optim.Adam([p], eps=-1e-8), "Invalid epsilon value"),
        (lambda: optim.Adagrad([p], lr_decay=-1), "Invalid lr_decay value: -1"),
        (lambda: optim.Adagrad([p], initial_accumulator_value=-1),
         "Invalid initial_accumulator_value value"),
        (lambda: optim.RMSprop([p], alpha=-1), "Invalid alpha value: -1"),
        (lambda: optim.SGD([], lr=0.1), "empty parameter list"),
        (lambda: optim.SGD([p, p]), "same parameter twice"),
        (lambda: optim.SGD([{"params": [p]}, {"params": [p]}]), "more than one parameter group"),
        (lambda: optim.SGD([p * 2]), "non-leaf"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({p})
    with pytest.raises(TypeError, match="only optimize Tensors, but one of the params is a "
                                        "ndarray"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p)


def test_add_param_group_and_defaults():
    w, b = mg_params()
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert len(opt.param_groups[1]["params"]) == 1 and opt.param_groups[1]["params"][0] is b
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="'params'"):
        opt.add_param_group({"lr": 0.1})


def test_zero_grad_and_closure():
    w, b = mg_params()
    opt = optim.SGD([w, b], lr=0.1)
    mg_loss(w, b).backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros_like(W0))
    opt.zero_grad()
    assert w.grad is None

    def closure():
        opt.zero_grad()
        loss = mg_loss(w, b)
        loss.backward()
        return loss

    with mg.no_grad():  # the closure records its graph even when called under no_grad
        loss = opt.step(closure)
    assert isinstance(loss, mg.Tensor) and not np.allclose(w.numpy(), W0)


def test_repr_lists_groups():
    w, b = mg_params()
    text = repr(optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1))
    assert text.startswith("SGD (") and "Parameter Group 1" in text and "lr: 0.5" in text


def test_step_between_forward_and_backward_keeps_the_forward_values():
    """A step swaps in new parameter arrays; the graph keeps the values it used, so
    backward still gives the gradient of the forward that ran (never a mix)."""
    w, b = mg_params()
    opt = optim.SGD([w, b], lr=0.1)
    mg_loss(w, b).backward()
    loss = mg_loss(w, b)
    opt.step()
    w_ref, b_ref = mg_params()
    mg_loss(w_ref, b_ref).backward()
    w.grad = b.grad = None
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), w_ref.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), b_ref.grad.numpy(), rtol=1e-12)
