"""Learning-rate schedules: the lr sequence of every scheduler equals PyTorch's; state dicts
resume a schedule exactly; bad arguments are refused with clear messages."""
import math
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim
from minigrad.optim import lr_scheduler

torch = pytest.importorskip("torch")

LRS = (0.1, 0.02)


def warmup(epoch):
    return min(1.0, (epoch + 1) / 5) * 0.9 ** epoch


class Halving:
    """A callable object: its attributes are state that LambdaLR saves."""

    def __init__(self):
        self.rate = 0.5

    def __call__(self, epoch):
        return self.rate ** (epoch // 3)


SCHEDULES = [
    ("StepLR", dict(step_size=3)),
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=warmup)),
    ("LambdaLR", dict(lr_lambda=[warmup, lambda epoch: 1.0 / (epoch + 1)])),
]


def pair(n_groups=2):
    groups = [{"params": [nn.Parameter(mg.zeros(2))], "lr": lr} for lr in LRS[:n_groups]]
    tgroups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr}
               for lr in LRS[:n_groups]]
    return optim.SGD(groups, lr=0.5), torch.optim.SGD(tgroups, lr=0.5)


def torch_step(topt, tsched, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        topt.step()
        tsched.step(*args)


@pytest.mark.parametrize("name,kwargs", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_lr_sequence_matches_torch(name, kwargs):
    opt, topt = pair()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)
    for epoch in range(30):
        opt.step()
        sched.step()
        torch_step(topt, tsched)
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-13,
                                   atol=0, err_msg=f"epoch {epoch + 1}")
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
    assert sched.last_epoch == tsched.last_epoch == 30


def test_schedulers_chain_like_torch():
    opt, topt = pair()
    ours = [lr_scheduler.ExponentialLR(opt, 0.9), lr_scheduler.StepLR(opt, 4, gamma=0.5)]
    theirs = [torch.optim.lr_scheduler.ExponentialLR(topt, 0.9),
              torch.optim.lr_scheduler.StepLR(topt, 4, gamma=0.5)]
    for _ in range(12):
        for s in ours:
            s.step()
        for s in theirs:
            torch_step(topt, s)
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups],
                                   [g["lr"] for g in topt.param_groups], rtol=1e-13)


PLATEAU = [
    dict(),
    dict(patience=2, factor=0.5),
    dict(mode="max", patience=1, threshold=0.05),
    dict(patience=1, threshold_mode="abs", threshold=0.1, cooldown=2),
    dict(mode="max", threshold_mode="abs", patience=0, min_lr=[0.01, 0.005], factor=0.3),
    dict(patience=0, min_lr=0.02, eps=1e-3),
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(k) for k in PLATEAU])
def test_reduce_on_plateau_matches_torch(kwargs):
    rng = np.random.RandomState(0)
    metrics = np.concatenate([np.linspace(1.0, 0.5, 6), 0.5 + 0.01 * rng.randn(14),
                              np.linspace(0.5, 0.3, 5), np.full(15, 0.3)])
    opt, topt = pair()
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    reductions = 0
    for epoch, metric in enumerate(metrics):
        before = sched.get_last_lr()
        sched.step(mg.tensor(metric))  # a 0-d tensor metric works, as in PyTorch
        torch_step(topt, tsched, float(metric))
        assert sched.get_last_lr() == tsched.get_last_lr(), f"epoch {epoch + 1}"
        assert sched.num_bad_epochs == tsched.num_bad_epochs
        assert sched.in_cooldown == tsched.in_cooldown
        reductions += sched.get_last_lr() != before
    assert reductions > 0  # the sequence really exercises the cuts


@pytest.mark.parametrize("name,kwargs", SCHEDULES[:6] + [("LambdaLR", dict(lr_lambda=Halving()))],
                         ids=[s[0] for s in SCHEDULES[:6]] + ["LambdaLR-object"])
def test_state_dict_resumes_the_schedule(name, kwargs, tmp_path):
    opt, _ = pair()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    if name == "LambdaLR":
        kwargs["lr_lambda"].rate = 0.25
    for _ in range(8):
        sched.step()
    mg.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()},
            tmp_path / "ckpt")
    expected = []
    for _ in range(8):
        sched.step()
        expected.append(sched.get_last_lr())

    checkpoint = mg.load(tmp_path / "ckpt")
    opt2, _ = pair()
    if name == "LambdaLR":
        kwargs = dict(lr_lambda=Halving())
    sched2 = getattr(lr_scheduler, name)(opt2, **kwargs)
    opt2.load_state_dict(checkpoint["optimizer"])
    sched2.load_state_dict(checkpoint["scheduler"])
    got = []
    for _ in range(8):
        sched2.step()
        got.append(sched2.get_last_lr())
    assert got == expected


def test_lambda_state_dict_skips_plain_functions():
    opt, _ = pair()
    sched = lr_scheduler.LambdaLR(opt, [warmup, Halving()])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"rate": 0.5}] and "optimizer" not in state


def test_plateau_state_dict_round_trip(tmp_path):
    opt, _ = pair()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for metric in (1.0, 0.9, 0.95, 0.97):
        sched.step(metric)
    mg.save(sched.state_dict(), tmp_path / "plateau")
    other = lr_scheduler.ReduceLROnPlateau(pair()[0], patience=1)
    other.load_state_dict(mg.load(tmp_path / "plateau"))
    assert (other.best, other.num_bad_epochs, other.last_epoch) == (0.9, 0, 4)
    assert other.get_last_lr() == sched.get_last_lr()


def test_resume_with_last_epoch_uses_initial_lr():
    opt, topt = pair()
    for group, tgroup in zip(opt.param_groups, topt.param_groups):
        group["initial_lr"] = tgroup["initial_lr"] = group["lr"]
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=10, last_epoch=4)
    for _ in range(6):
        sched.step()
        torch_step(topt, tsched)
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-13)


def test_errors():
    opt, _ = pair()
    with pytest.raises(KeyError, match=r"'initial_lr' is not specified in param_groups\[0\]"):
        lr_scheduler.StepLR(opt, 3, last_epoch=5)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.ExponentialLR([], 0.9)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [warmup])
    with pytest.raises(ValueError, match="step_size must be a positive integer, got 0"):
        lr_scheduler.StepLR(opt, 0)
    with pytest.raises(ValueError, match="T_max must be positive"):
        lr_scheduler.CosineAnnealingLR(opt, 0)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'up'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="threshold_mode"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="pct")


def test_plateau_after_add_param_group():
    opt, _ = pair(1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0])
    opt.add_param_group({"params": [nn.Parameter(mg.zeros(1))], "lr": 0.3})
    sched.step(1.0)
    with pytest.raises(RuntimeError, match="2 parameter groups but ReduceLROnPlateau has 1"):
        sched.step(2.0)
    scalar = lr_scheduler.ReduceLROnPlateau(pair(1)[0], patience=0)
    scalar.optimizer.add_param_group({"params": [nn.Parameter(mg.zeros(1))], "lr": 0.3})
    scalar.step(1.0)
    scalar.step(2.0)
    assert scalar.get_last_lr() == pytest.approx([0.01, 0.03])
    assert math.isfinite(scalar.best)
