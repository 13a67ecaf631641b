"""The training loop's pieces on bad input: optimizers, learning-rate schedules, data loading,
checkpoints (save/load and load_state_dict).

Each is built and run with hypothesis-drawn arguments, good and bad; when both minigrad and
PyTorch accept a call, the results must agree (parameters after a step, the learning rates
of a schedule, the batches of a loader). Errors must name what was wrong; a state dict's
bad key may be a KeyError, a missing file an OSError.
"""
from __future__ import annotations

import importlib.util
import io
import math
import os
import pickle
import tempfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim
from minigrad.optim import lr_scheduler
from minigrad.utils import data as mgdata
import differences
from harness import Tally, assert_same, checked, outcome, share, to_torch, torch
from strategies import JUNK, NUMBERS, Spec, arguments, call_label, tensors

STATE_ALLOWED = (TypeError, ValueError, IndexError, RuntimeError, KeyError)
# (a checkpoint holding arbitrary objects is refused as torch.load(weights_only=True) does)
# PyTorch's words for an optimizer's arguments, which minigrad's messages share
VOCABULARY = ["learning rate", "epsilon", "beta", "parameter", "optimizer", "momentum",
              "weight_decay", "weight decay", "dampening", "nesterov", "rho", "alpha",
              "lr_decay", "initial_accumulator_value", "group", "Tensors", "factor"]
FILE_ALLOWED = STATE_ALLOWED + (OSError, pickle.UnpicklingError)

# -- optimizers ----------------------------------------------------------------------------

HYPER = st.one_of(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0, -0.1, 1.5, math.nan, math.inf]),
                  NUMBERS, JUNK)
BETAS = st.one_of(st.tuples(HYPER, HYPER), st.just((0.9,)), JUNK)
OPTIMIZERS = {
    "SGD": dict(lr=HYPER, momentum=HYPER, dampening=HYPER, weight_decay=HYPER,
                nesterov=st.booleans(), maximize=st.booleans()),
    "Adam": dict(lr=HYPER, betas=BETAS, eps=HYPER, weight_decay=HYPER, amsgrad=st.booleans()),
    "AdamW": dict(lr=HYPER, betas=BETAS, eps=HYPER, weight_decay=HYPER, amsgrad=st.booleans()),
    "Adagrad": dict(lr=HYPER, lr_decay=HYPER, weight_decay=HYPER, eps=HYPER,
                    initial_accumulator_value=HYPER),
    "RMSprop": dict(lr=HYPER, alpha=HYPER, eps=HYPER, weight_decay=HYPER, momentum=HYPER,
                    centered=st.booleans()),
    "Adadelta": dict(lr=HYPER, rho=HYPER, eps=HYPER, weight_decay=HYPER),
    "Adamax": dict(lr=HYPER, betas=BETAS, eps=HYPER, weight_decay=HYPER),
    "NAdam": dict(lr=HYPER, betas=BETAS, eps=HYPER, weight_decay=HYPER,
                  momentum_decay=HYPER),
    "RAdam": dict(lr=HYPER, betas=BETAS, eps=HYPER, weight_decay=HYPER),
    "LBFGS": dict(lr=HYPER, max_iter=st.integers(-1, 3), history_size=st.integers(-1, 3)),
}


def test_every_optimizer_is_fuzzed():
    assert sorted(set(optim.__all__) - {"Optimizer"}) == sorted(OPTIMIZERS)


@st.composite
def parameter_lists(draw):
    """Parameters as optimizers take them: a list (maybe empty), groups of dicts, or junk;
    gradients NaN, inf, zero or missing."""
    shapes = draw(st.lists(st.sampled_from([(2,), (2, 3), (), (0,)]), min_size=0, max_size=3))
    params = []
    for shape in shapes:
        p = nn.Parameter(draw(tensors(shape=shape, dtype=np.float64, grad=False, device=False)))
        if draw(st.integers(0, 3)):
            p.grad = draw(tensors(shape=shape, dtype=np.float64, grad=False, device=False))
        params.append(p)
    how = draw(st.integers(0, 9))
    if how == 0:
        return draw(JUNK)
    if how == 1 and params:
        return [{"params": params[:1], "lr": draw(HYPER)}, {"params": params[1:]}]
    if how == 2:
        return params + [mg.ones(2)]  # not a leaf that requires grad
    return params


def _torch_params(params):
    """PyTorch's twin of a parameter list (same values and gradients)."""
    def twin(p):
        if not isinstance(p, nn.Parameter):
            return to_torch(p)
        t = torch.nn.Parameter(torch.from_numpy(np.array(p.numpy())))
        if p.grad is not None:
            t.grad = torch.from_numpy(np.array(p.grad.numpy()))
        return t
    if isinstance(params, list):
        return [{**g, "params": [twin(p) for p in g["params"]]} if isinstance(g, dict)
                else twin(g) for g in params]
    return params


def _closure(params):
    return lambda: sum(((p * p).sum() for p in params), mg.tensor(0.0, dtype=mg.float64))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@given(data=st.data())
@share(1)
def test_optimizer_on_bad_input(name, data):
    params = data.draw(parameter_lists(), label="params")
    options = {k: data.draw(v, label=k) for k, v in OPTIMIZERS[name].items()
               if data.draw(st.booleans())}
    tparams = _torch_params(params) if torch is not None else None
    label = call_label(f"optim.{name}", (params,), options)
    made = checked([name, "params", "lr"] + list(OPTIMIZERS[name]) + VOCABULARY, label,
                   getattr(optim, name), (params,), options)
    theirs = outcome(getattr(torch.optim, name), (tparams,), to_torch(options)) \
        if torch is not None else None
    if theirs is not None and made[0] != theirs[0] and \
            not differences.explain_training(name, made, theirs):
        raise AssertionError(f"{label}\n  here: {made}\n  PyTorch: {theirs}")
    if made[0] != "ok":
        return
    opt = made[1]
    mine = [p for g in opt.param_groups for p in g["params"]]
    step = checked([name, "step", "grad", "closure", "loss"], f"{label}.step()", opt.step,
                   (_closure(mine),) if name == "LBFGS" else ())
    if theirs is None or theirs[0] != "ok":
        return
    topt = theirs[1]
    tparams_flat = [p for g in topt.param_groups for p in g["params"]]
    tstep = outcome(topt.step, (lambda: sum((p * p).sum() for p in tparams_flat),)
                    if name == "LBFGS" else ())
    if step[0] != tstep[0]:
        if not differences.explain_training(name, step, tstep):
            raise AssertionError(f"{label}.step()\n  here: {step}\n  PyTorch: {tstep}")
        return
    if step[0] == "ok":
        Tally.compared += 1
        for i, (p, q) in enumerate(zip(mine, tparams_flat)):
            assert_same(p.detach(), q.detach(), f"{label}.step(): parameter {i}", dtypes=False)
    # a state dict from elsewhere: wrong keys, wrong types, wrong sizes
    bad = data.draw(st.one_of(JUNK, st.just({}), st.just({"state": {}}),
                              st.just({"state": {}, "param_groups": []}),
                              st.just({"state": {0: {}}, "param_groups": [{"params": [9]}]})),
                    label="state dict")
    checked([name, "state", "param_groups", "params", "load_state_dict", "state_dict"],
            f"{label}.load_state_dict({bad!r})", opt.load_state_dict, (bad,),
            allowed=STATE_ALLOWED)


# -- learning-rate schedules ------------------------------------------------------------------

N = "N"
SCHEDULES = {
    "StepLR": "step_size=int gamma=N", "MultiStepLR": "milestones=split gamma=N",
    "ExponentialLR": "gamma=N", "CosineAnnealingLR": "T_max=int eta_min=N",
    "LambdaLR": "lr_lambda=lrfn", "ConstantLR": "factor=N total_iters=int",
    "LinearLR": "start_factor=N end_factor=N total_iters=int",
    "PolynomialLR": "total_iters=int power=N",
    "CosineAnnealingWarmRestarts": "T_0=int T_mult=int eta_min=N",
    "OneCycleLR": "max_lr=N total_steps=int pct_start=N",
    "CyclicLR": "base_lr=N max_lr=N step_size_up=int",
    "ReduceLROnPlateau": "factor=N patience=int threshold=N cooldown=int",
}
NOT_SCHEDULED = {"LRScheduler": "the base class",
                 "SequentialLR": "made of fuzzed schedules", "ChainedScheduler": "as SequentialLR"}


def test_every_schedule_is_fuzzed():
    missing = set(lr_scheduler.__all__) - set(SCHEDULES) - set(NOT_SCHEDULED)
    assert not missing, f"give these schedules a spec: {sorted(missing)}"


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@given(data=st.data())
@share(1)
def test_schedule_on_bad_input(name, data):
    spec = Spec.parse(SCHEDULES[name])
    required = {k: v for k, v in spec.keywords.items()
                if k in ("step_size", "milestones", "gamma", "T_max", "lr_lambda", "T_0",
                         "max_lr", "base_lr")}
    _, kwargs = data.draw(arguments(spec), label="options")
    for k, kind in required.items():  # the required ones are always given (maybe bad)
        if k not in kwargs:
            kwargs[k] = data.draw(arguments(Spec(keywords={k: kind}))).__getitem__(1).get(
                k, 0.5 if kind == N else 2)
    junk_optimizer = data.draw(st.integers(0, 9)) == 0
    p = nn.Parameter(mg.ones(2))
    opt = data.draw(JUNK) if junk_optimizer else optim.SGD([p], lr=0.1, momentum=0.9)
    label = call_label(f"lr_scheduler.{name}", (opt,), kwargs)
    made = checked([name, "optimizer", "lr"] + list(spec.keywords) + VOCABULARY, label,
                   getattr(lr_scheduler, name), (opt,), kwargs)
    if torch is None:
        return
    tp = torch.nn.Parameter(torch.ones(2))
    topt = opt if junk_optimizer else torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    theirs = outcome(getattr(torch.optim.lr_scheduler, name), (topt,), to_torch(kwargs))
    if made[0] != theirs[0]:
        if not differences.explain_training(name, made, theirs):
            raise AssertionError(f"{label}\n  here: {made}\n  PyTorch: {theirs}")
        return
    if made[0] != "ok":
        return
    metrics = data.draw(st.lists(NUMBERS, min_size=6, max_size=6), label="metrics")
    for i, metric in enumerate(metrics):
        args = (metric,) if name == "ReduceLROnPlateau" else ()
        ours = checked([name, "step", "metrics", "lr"], f"{label}.step() #{i}", made[1].step,
                       args)
        got = outcome(theirs[1].step, args)
        if ours[0] != got[0]:
            if not differences.explain_training(name, ours, got):
                raise AssertionError(f"{label}.step() #{i}\n  here: {ours}\n  PyTorch: {got}")
            return
        if ours[0] != "ok":
            return
        assert_same(np.array(_lrs(opt), dtype=np.float64),
                    np.array(_lrs(topt), dtype=np.float64), f"{label}: lr after {i + 1} steps")
    Tally.compared += 1


# -- data loading ------------------------------------------------------------------------------

# (DataLoader(sampler=3) and collate_fn='x' are left out: minigrad/utils/data answers them
# with Python's own TypeErrors, outside the files this suite may fix; see the report.)
LOADER = Spec.parse("batch_size=int shuffle=bool drop_last=bool num_workers=int")


@given(data=st.data())
@share(1)
def test_dataloader_on_bad_input(data):
    n = data.draw(st.integers(0, 5), label="n")
    lengths = [n, n if data.draw(st.integers(0, 4)) else data.draw(st.integers(0, 5))]
    xs = [np.arange(m * 2, dtype=np.float32).reshape(m, 2) for m in lengths]
    made = checked(["TensorDataset", "size", "length", "tensors"], "TensorDataset(...)",
                   mgdata.TensorDataset, tuple(mg.tensor(x) for x in xs))
    if made[0] != "ok":
        return
    _, kwargs = data.draw(arguments(LOADER), label="loader options")
    if kwargs.get("num_workers") not in (None, 0, -1):  # no worker processes in a fuzz run
        del kwargs["num_workers"]
    label = call_label("DataLoader", ("dataset",), kwargs)

    def batches(loader_class, dataset, options):
        return [tuple(np.array(t) for t in b) for b in loader_class(dataset, **options)]
    ours = checked(["DataLoader", "batch_size", "shuffle", "sampler", "drop_last",
                    "num_workers", "collate_fn", "batch", "num_samples"] + list(kwargs),
                   label, batches,
                   (mgdata.DataLoader, made[1], kwargs))
    if torch is None or kwargs.get("shuffle"):
        return
    tds = torch.utils.data.TensorDataset(*(torch.from_numpy(x) for x in xs))
    theirs = outcome(batches, (torch.utils.data.DataLoader, tds, kwargs))
    if ours[0] != theirs[0]:
        if not differences.explain_training("DataLoader", ours, theirs):
            raise AssertionError(f"{label}\n  here: {ours}\n  PyTorch: {theirs}")
        return
    if ours[0] == "ok":
        Tally.compared += 1
        assert_same(ours[1], theirs[1], label)


@given(data=st.data())
@share(1)
def test_dataset_helpers_on_bad_input(data):
    dataset = mgdata.TensorDataset(mg.arange(6.0).reshape(3, 2))
    # (numbers only: random_split(ds, None), Subset(ds, None)[0] and
    # WeightedRandomSampler({}) answer with Python's own TypeErrors, from minigrad/utils/data,
    # outside the files this suite may fix; see the report.)
    lengths = data.draw(st.lists(st.one_of(st.integers(-1, 4),
                                           st.sampled_from([0.5, 0.25, 1.5])), max_size=3),
                        label="lengths")
    checked(["random_split", "lengths", "sum", "fractions"], f"random_split(ds, {lengths!r})",
            mgdata.random_split, (dataset, lengths))
    indices = data.draw(st.lists(st.integers(-5, 5), max_size=3))
    subset = checked(["Subset", "indices"], f"Subset(ds, {indices!r})", mgdata.Subset,
                     (dataset, indices))
    if subset[0] == "ok":
        checked(["Subset", "index", "indices", "TensorDataset", "getitem", "range"],
                f"Subset(ds, {indices!r})[...]", lambda s: [s[i] for i in range(len(s))],
                (subset[1],))
    # (no ints beyond int64: RandomSampler(num_samples=2**63) overflows inside
    # minigrad/utils/data; see the report)
    n = data.draw(st.one_of(st.integers(-1, 4), st.sampled_from([None, 1.5, "x"])),
                  label="num_samples")
    weights = data.draw(st.lists(st.sampled_from([0.5, 1.0, 0.0, -1.0, math.nan]), max_size=3))
    for sampler, args in (("RandomSampler", (dataset,)), ("WeightedRandomSampler", (weights,)),
                          ("BatchSampler", (range(5),))):
        options = {"num_samples": n} if sampler != "BatchSampler" else {
            "batch_size": n, "drop_last": data.draw(st.booleans())}
        built = checked([sampler, "num_samples", "weights", "batch_size", "sampler",
                         "drop_last"], call_label(sampler, args, options),
                        getattr(mgdata, sampler), args, options)
        if built[0] == "ok":
            checked([sampler, "num_samples", "weights", "batch_size"], f"list({sampler})",
                    list, (built[1],))


# -- checkpoints --------------------------------------------------------------------------------

@st.composite
def state_dicts(draw, model):
    """A model's state dict, damaged: a key missing or extra, a shape, a dtype or a value
    type wrong."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    how = draw(st.integers(0, 6))
    key = draw(st.sampled_from(sorted(state)))
    if how == 0:
        del state[key]
    elif how == 1:
        state["extra.weight"] = mg.ones(2)
    elif how == 2:
        state[key] = mg.ones(tuple(s + 1 for s in state[key].shape) or (2,))
    elif how == 3:
        state[key] = state[key].long()
    elif how == 4:
        state[key] = draw(JUNK)
    elif how == 5:
        return draw(JUNK)
    return state


@given(data=st.data())
@share(1)
def test_load_state_dict_on_bad_input(data):
    model = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state = data.draw(state_dicts(model), label="state dict")
    strict = data.draw(st.booleans(), label="strict")
    result = checked(["load_state_dict", "state_dict", "key", "size", "shape", "dtype",
                      "Sequential", "missing", "unexpected"],
                     f"load_state_dict({state!r}, strict={strict})", model.load_state_dict,
                     (state,), {"strict": strict}, allowed=STATE_ALLOWED)
    if result[0] == "error":  # nothing half-loaded
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), before[k], err_msg=f"{k} changed")


@given(data=st.data())
@share(1)
def test_save_and_load_on_bad_input(data):
    obj = data.draw(st.one_of(st.just({"w": mg.ones(2)}), JUNK, st.just({"f": len}),
                              st.just([mg.ones(2), {"x": 1}]), st.just(mg.ones(3))),
                    label="object")
    # safetensors only where its optional package is (the README's test command lacks it)
    fmt = data.draw(st.sampled_from(["minigrad", "minigrad", "pickle", None] + (
        ["safetensors"] if importlib.util.find_spec("safetensors") else [])))
    kwargs = {} if fmt == "minigrad" else {"format": fmt}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ckpt.pt")
        target = data.draw(st.sampled_from([path, io.BytesIO(), os.path.join(folder, "no",
                                                                             "x.pt"), None]),
                           label="file")
        saved = checked(["save", "format", "path", "file", "object", "state dict", "tensor",
                         "safetensors", "serializ", "pickle"],
                        call_label("mg.save", (obj, target), kwargs), mg.save, (obj, target),
                        kwargs, allowed=FILE_ALLOWED)
        source = data.draw(st.sampled_from(["saved", "garbage", "truncated", "missing",
                                            "junk"]), label="source")
        if source == "garbage" or source == "truncated" and saved[0] != "ok":
            with open(path, "wb") as f:
                f.write(b"\x00\x01not a checkpoint" * 3)
        elif source == "truncated" and isinstance(target, str) and os.path.exists(target):
            with open(target, "rb") as f:
                content = f.read()
            with open(path, "wb") as f:
                f.write(content[:len(content) // 2])
        where = {"missing": os.path.join(folder, "absent.pt"),
                 "junk": data.draw(JUNK)}.get(source, path)
        if source == "saved" and isinstance(target, io.BytesIO):
            target.seek(0)
            where = target
        checked(["load", "file", "path", "checkpoint", "format", "zip", "archive", "pickle",
                 "safetensors", "truncated", "corrupt", "header", "npz", "not a", "No such"],
                call_label("mg.load", (where,), {}), mg.load, (where,), allowed=FILE_ALLOWED)
