"""NAdam, RAdam, Adamax, Adadelta and LBFGS: step-for-step PyTorch trajectories (several
parameter shapes, parameter groups, weight decay), LBFGS iterates with and without the
strong-Wolfe line search, state dicts that resume identically, argument errors."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim

torch = pytest.importorskip("torch")

RNG = np.random.RandomState(4321)
X = RNG.randn(6, 4)
Y = RNG.uniform(-0.8, 0.8, size=(6, 3))
INITIAL = (RNG.randn(3, 4) * 0.5, RNG.randn(3) * 0.5, RNG.randn(2, 1, 3), np.array(0.7))
STEPS = 40

# (optimizer name, constructor options, options of the second parameter group); chosen
# where the dynamics do not amplify rounding (torch against itself with one parameter
# nudged by 1 ulp stays within 1e-11 over the 40 steps)
CONFIGS = [
    ("NAdam", dict(lr=0.05), dict(lr=0.01)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1), dict(lr=0.01)),
    ("NAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True), dict(lr=0.05)),
    ("NAdam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-4, momentum_decay=0.01, maximize=True),
     dict(lr=0.05, betas=(0.5, 0.9))),
    ("RAdam", dict(lr=0.05), dict(lr=0.01)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1), dict(lr=0.01)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True), dict(lr=0.01)),
    ("RAdam", dict(lr=0.02, betas=(0.8, 0.9), eps=1e-4, maximize=True),
     dict(lr=0.05, betas=(0.5, 0.99))),  # rho_t > 5 from step 6 in group 0, later in 1
    ("Adamax", dict(lr=0.05), dict(lr=0.01)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1), dict(lr=0.01)),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-3, maximize=True),
     dict(lr=0.05, weight_decay=0.05)),
    ("Adadelta", dict(), dict(lr=0.3)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1), dict(lr=0.3)),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, maximize=True), dict(lr=2.0, rho=0.95)),
]
ALL_OPTIONS = {  # every option switched on, for the float32 and resume tests
    "NAdam": dict(lr=0.05, weight_decay=0.01, decoupled_weight_decay=True),
    "RAdam": dict(lr=0.05, weight_decay=0.01, betas=(0.8, 0.9)),
    "Adamax": dict(lr=0.05, weight_decay=0.01),
    "Adadelta": dict(lr=0.5, weight_decay=0.01),
}


def loss_of(lib, w, b, c, s):
    """A small regression plus terms on a 3-d and a 0-d parameter."""
    fit = ((lib.tanh(lib.tensor(X) @ w.T + b) - lib.tensor(Y)) ** 2).mean()
    return fit + (lib.tanh(c) ** 2).sum() * 0.1 + (s - 0.2) ** 2


def mg_params(dtype=np.float64):
    return [nn.Parameter(mg.tensor(value.astype(dtype))) for value in INITIAL]


def torch_params():
    return [torch.tensor(value, requires_grad=True) for value in INITIAL]


def groups(params, second):
    return [{"params": params[:1]}, {"params": params[1:], **second}]


def make_mg(name, params, options, second=None):
    return getattr(optim, name)(groups(params, second or dict(lr=0.02)), **options)


def make_torch(name, params, options, second=None):
    return getattr(torch.optim, name)(groups(params, second or dict(lr=0.02)), foreach=False,
                                      **options)


def step(opt, params, lib):
    opt.zero_grad()
    loss_of(lib, *params).backward()
    opt.step()


def run(opt, params, steps, lib=mg):
    for _ in range(steps):
        step(opt, params, lib)


def assert_close(params, tparams, **where):
    for ours, theirs in zip(params, tparams):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=str(where))


@pytest.mark.parametrize("name,options,second", CONFIGS,
                         ids=[f"{c[0]}-{'-'.join(c[1]) or 'defaults'}" for c in CONFIGS])
def test_trajectory_matches_torch(name, options, second):
    params, tparams = mg_params(), torch_params()
    opt = make_mg(name, params, options, second)
    topt = make_torch(name, tparams, options, second)
    for i in range(STEPS):
        step(opt, params, mg)
        step(topt, tparams, torch)
        assert_close(params, tparams, step=i + 1)
    for ours, start in zip(params, INITIAL):
        assert not np.allclose(ours.numpy(), start)  # every shape really moved


@pytest.mark.parametrize("name", sorted(ALL_OPTIONS) + ["LBFGS"])
def test_defaults_match_torch(name):
    ours = getattr(optim, name)([nn.Parameter(mg.zeros(2))]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
    assert ours == theirs


@pytest.mark.parametrize("name", sorted(ALL_OPTIONS))
def test_compatibility_flags_are_accepted_and_change_nothing(name):
    params, flagged_params = mg_params(), mg_params()
    opt = make_mg(name, params, ALL_OPTIONS[name])
    flagged = make_mg(name, flagged_params, dict(ALL_OPTIONS[name], foreach=True,
                                                 differentiable=True, capturable=True))
    run(opt, params, 5)
    run(flagged, flagged_params, 5)
    for ours, theirs in zip(params, flagged_params):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", sorted(ALL_OPTIONS))
def test_float32_stays_float32(name):
    params = mg_params(np.float32)
    run(make_mg(name, params, ALL_OPTIONS[name]), params, 3)
    assert all(p.dtype == np.float32 for p in params)


def test_nadam_keeps_its_momentum_product_like_torch():
    """torch keeps mu_product in float32 (the default dtype) even for float64 parameters:
    so do we, also after a state dict cast it to float64 on loading."""
    params, tparams = mg_params(), torch_params()
    opt, topt = make_mg("NAdam", params, {}), make_torch("NAdam", tparams, {})
    run(opt, params, 3)
    run(topt, tparams, 3, torch)
    mu_product = opt.state[params[0]]["mu_product"]
    assert mu_product.dtype == np.float32 and mu_product.shape == ()
    assert mu_product.item() == topt.state[tparams[0]]["mu_product"].item()
    resumed_params = mg_params()
    resumed = make_mg("NAdam", resumed_params, {})
    resumed.load_state_dict(opt.state_dict())
    run(resumed, resumed_params, 1)
    assert resumed.state[resumed_params[0]]["mu_product"].dtype == np.float32


@pytest.mark.parametrize("name", sorted(ALL_OPTIONS))
def test_state_dict_resume_gives_identical_steps(name, tmp_path):
    options = ALL_OPTIONS[name]
    params = mg_params()
    opt = make_mg(name, params, options)
    run(opt, params, 10)
    opt.param_groups[0]["lr"] *= 0.5  # as a scheduler would: must be restored too
    mg.save(opt.state_dict(), tmp_path / "opt.ckpt")
    mg.save([p.detach() for p in params], tmp_path / "params.ckpt")
    run(opt, params, 5)

    restored = [nn.Parameter(p) for p in mg.load(tmp_path / "params.ckpt")]
    resumed = make_mg(name, restored, options)
    resumed.load_state_dict(mg.load(tmp_path / "opt.ckpt"))
    assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    run(resumed, restored, 5)
    for ours, theirs in zip(restored, params):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def _as_arrays(state_dict):
    return {"state": {i: {k: v.numpy() if isinstance(v, torch.Tensor) else v
                          for k, v in s.items()} for i, s in state_dict["state"].items()},
            "param_groups": state_dict["param_groups"]}


@pytest.mark.parametrize("name", sorted(ALL_OPTIONS))
def test_state_dict_layout_matches_torch_and_loads_torch_state(name):
    options = ALL_OPTIONS[name]
    params, tparams = mg_params(), torch_params()
    opt, topt = make_mg(name, params, options), make_torch(name, tparams, options)
    run(opt, params, 3)
    run(topt, tparams, 3, torch)
    ours, theirs = opt.state_dict(), topt.state_dict()
    for group, tgroup in zip(ours["param_groups"], theirs["param_groups"]):
        assert group == dict(tgroup, foreach=None)  # the torch side asked for foreach=False
    assert sorted(ours["state"]) == sorted(theirs["state"]) == [0, 1, 2, 3]
    for index, state in theirs["state"].items():
        assert sorted(ours["state"][index]) == sorted(state)
        for key, value in state.items():
            np.testing.assert_allclose(np.asarray(ours["state"][index][key]), value.numpy(),
                                       rtol=1e-10, atol=1e-14)

    # a fresh minigrad optimizer resumes from torch's state and follows torch's path
    params2 = [nn.Parameter(mg.tensor(t.detach().numpy().copy())) for t in tparams]
    resumed = make_mg(name, params2, options)
    resumed.load_state_dict(_as_arrays(theirs))
    for i in range(5):
        step(resumed, params2, mg)
        step(topt, tparams, torch)
        assert_close(params2, tparams, step=i + 1)


ERRORS = [  # (optimizer, arguments, message): torch refuses them with the same words
    ("NAdam", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("NAdam", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    ("NAdam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("NAdam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("NAdam", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("NAdam", dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
    ("RAdam", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("RAdam", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    ("RAdam", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    ("Adamax", dict(lr=-2.0), "Invalid learning rate: -2.0"),
    ("Adamax", dict(betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
    ("Adamax", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adadelta", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adadelta", dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    ("LBFGS", dict(lr=-1.0), "Invalid learning rate: -1.0"),
]


@pytest.mark.parametrize("name,kwargs,message", ERRORS,
                         ids=[f"{e[0]}-{e[2]}" for e in ERRORS])
def test_constructor_errors_use_torch_wording(name, kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        getattr(optim, name)([nn.Parameter(mg.zeros(2))], **kwargs)
    with pytest.raises(ValueError, match=f"^{message}$"):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)


def test_lbfgs_argument_errors():
    p = nn.Parameter(mg.zeros(2))
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options "
                                         r"\(parameter groups\)"):
        optim.LBFGS([{"params": [p]}, {"params": [nn.Parameter(mg.zeros(1))]}])
    opt = optim.LBFGS([p])
    with pytest.raises(ValueError, match="per-parameter options"):
        opt.add_param_group({"params": [nn.Parameter(mg.zeros(1))]})
    with pytest.raises(ValueError, match="only 'strong_wolfe' is supported as line_search_fn, "
                                         "got 'armijo'"):
        optim.LBFGS([p], line_search_fn="armijo")
    with pytest.raises(TypeError, match="closure"):
        opt.step()


# -- LBFGS -------------------------------------------------------------------------------
ROSEN_START = (np.array([1.3, 0.6]), np.array([[-0.2, 1.3], [0.7, 1.4]]))


def rosenbrock(lib, a, b):
    """The chained Rosenbrock function of the 6 numbers in ``a`` and ``b`` (minimum 0 at
    all ones)."""
    x = lib.cat([a, b.reshape(-1)])
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def closure_for(opt, params, lib):
    def closure():
        opt.zero_grad()
        loss = rosenbrock(lib, *params)
        loss.backward()
        return loss
    return closure


def rosen_params(lib=mg):
    if lib is torch:
        return [torch.tensor(v, requires_grad=True) for v in ROSEN_START]
    return [nn.Parameter(mg.tensor(v)) for v in ROSEN_START]


LBFGS_CONFIGS = [
    dict(),
    dict(lr=0.5, max_iter=5),
    dict(history_size=3, max_iter=7, tolerance_change=1e-6),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=3, max_iter=7),
    dict(line_search_fn="strong_wolfe", max_iter=4, max_eval=6, tolerance_change=1e-5),
    dict(line_search_fn="strong_wolfe", lr=0.1, tolerance_grad=1e-5),  # growing steps
    dict(line_search_fn="strong_wolfe", lr=3.0),  # too long: the bracket shrinks
    dict(line_search_fn="strong_wolfe", max_iter=3, max_eval=3),  # out of evaluations
]


@pytest.mark.parametrize("options", LBFGS_CONFIGS, ids=[str(o) for o in LBFGS_CONFIGS])
def test_lbfgs_iterates_match_torch(options):
    params, tparams = rosen_params(), rosen_params(torch)
    opt, topt = optim.LBFGS(params, **options), torch.optim.LBFGS(tparams, **options)
    for i in range(12):
        loss = opt.step(closure_for(opt, params, mg))
        tloss = topt.step(closure_for(topt, tparams, torch))
        assert isinstance(loss, mg.Tensor)
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-7, abs=1e-9)
        ours, theirs = opt.state[params[0]], topt.state[tparams[0]]
        assert (ours["func_evals"], ours["n_iter"]) == (theirs["func_evals"], theirs["n_iter"])
        for p, t in zip(params, tparams):
            # torch's dot products run in MKL, ours in NumPy's BLAS: the last bits differ
            np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=0, atol=1e-7,
                                       err_msg=f"step {i + 1}")


def test_lbfgs_with_strong_wolfe_reaches_the_minimum():
    params = rosen_params()
    opt = optim.LBFGS(params, line_search_fn="strong_wolfe")
    closure = closure_for(opt, params, mg)
    start = closure().item()
    for _ in range(10):
        opt.step(closure)
    assert rosenbrock(mg, *params).item() < 1e-9 < start
    np.testing.assert_allclose(np.concatenate([p.numpy().ravel() for p in params]),
                               np.ones(6), atol=1e-4)


def test_lbfgs_stops_at_once_where_the_gradient_vanishes():
    params = [nn.Parameter(mg.ones(2, dtype=np.float64)),
              nn.Parameter(mg.ones(2, 2, dtype=np.float64))]
    opt = optim.LBFGS(params)
    loss = opt.step(closure_for(opt, params, mg))
    assert loss.item() == 0.0
    assert opt.state[params[0]] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(params[1].numpy(), np.ones((2, 2)))


def test_lbfgs_leaves_parameters_without_gradient_alone_and_closure_gets_grad_mode():
    a, b = rosen_params()
    unused = nn.Parameter(mg.tensor(np.array([3.0, -2.0])))
    opt = optim.LBFGS([a, unused, b], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = rosenbrock(mg, a, b)
        assert loss.requires_grad  # recorded although step() runs under no_grad
        loss.backward()
        return loss

    with mg.no_grad():
        for _ in range(3):
            opt.step(closure)
    np.testing.assert_array_equal(unused.numpy(), [3.0, -2.0])
    assert rosenbrock(mg, a, b).item() < rosenbrock(mg, *rosen_params()).item()


def test_lbfgs_float32_stays_float32():
    params = [nn.Parameter(mg.tensor(v.astype(np.float32))) for v in ROSEN_START]
    opt = optim.LBFGS(params, line_search_fn="strong_wolfe", max_iter=5)
    for _ in range(3):
        opt.step(closure_for(opt, params, mg))
    assert all(p.dtype == np.float32 for p in params)
    state = opt.state[params[0]]
    assert state["d"].dtype == np.float32 and state["old_dirs"][0].dtype == np.float32


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_dict_resume_gives_identical_steps(line_search_fn, tmp_path):
    options = dict(line_search_fn=line_search_fn, max_iter=4, history_size=3)
    params = rosen_params()
    opt = optim.LBFGS(params, **options)
    for _ in range(2):
        opt.step(closure_for(opt, params, mg))
    mg.save(opt.state_dict(), tmp_path / "opt.ckpt")
    mg.save([p.detach() for p in params], tmp_path / "params.ckpt")
    for _ in range(3):
        opt.step(closure_for(opt, params, mg))

    restored = [nn.Parameter(p) for p in mg.load(tmp_path / "params.ckpt")]
    resumed = optim.LBFGS(restored, **options)
    resumed.load_state_dict(mg.load(tmp_path / "opt.ckpt"))
    for _ in range(3):
        resumed.step(closure_for(resumed, restored, mg))
    for ours, theirs in zip(restored, params):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert resumed.state[restored[0]]["func_evals"] == opt.state[params[0]]["func_evals"]


def _lbfgs_state_as_arrays(state_dict):
    def convert(value):
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value.numpy() if isinstance(value, torch.Tensor) else value
    return {"state": {i: {k: convert(v) for k, v in s.items()}
                      for i, s in state_dict["state"].items()},
            "param_groups": state_dict["param_groups"]}


def test_lbfgs_resumes_from_torch_state():
    options = dict(line_search_fn="strong_wolfe", history_size=4)
    tparams = rosen_params(torch)
    topt = torch.optim.LBFGS(tparams, **options)
    topt.step(closure_for(topt, tparams, torch))
    params = [nn.Parameter(mg.tensor(t.detach().numpy().copy())) for t in tparams]
    opt = optim.LBFGS(params, **options)
    opt.load_state_dict(_lbfgs_state_as_arrays(topt.state_dict()))
    assert opt.state[params[0]]["n_iter"] == topt.state[tparams[0]]["n_iter"]
    for _ in range(3):
        opt.step(closure_for(opt, params, mg))
        topt.step(closure_for(topt, tparams, torch))
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=0, atol=1e-7)
