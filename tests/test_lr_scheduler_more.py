"""Warm-up, composed and cyclic schedules (LinearLR, ConstantLR, PolynomialLR, SequentialLR,
ChainedScheduler, CosineAnnealingWarmRestarts, OneCycleLR, CyclicLR): learning rates and
momenta equal PyTorch's step for step; state dicts resume exactly; torch's errors."""
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim
from minigrad.optim import lr_scheduler

torch = pytest.importorskip("torch")

LRS = (0.1, 0.02)
EPOCHS = 45


def pair(kind="SGD", **options):
    """Two-group optimizers, ours and torch's (SGD with momentum unless told)."""
    if kind == "SGD" and not options:
        options = dict(momentum=0.9)
    groups = [{"params": [nn.Parameter(mg.zeros(2))], "lr": lr} for lr in LRS]
    tgroups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS]
    return getattr(optim, kind)(groups, **options), getattr(torch.optim, kind)(tgroups, **options)


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


class Decay:
    """A callable object: its attributes are state that CyclicLR saves."""

    def __init__(self):
        self.rate = 0.9

    def __call__(self, x):
        return self.rate ** x


# (name, builder taking (lr_scheduler module, optimizer), optimizer kind); builders use
# only names both libraries share, so one builder makes both schedules
SCHEDULES = [
    ("ConstantLR", lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=4), "SGD"),
    ("ConstantLR-defaults", lambda L, o: L.ConstantLR(o), "SGD"),
    ("LinearLR", lambda L, o: L.LinearLR(o, start_factor=0.25, total_iters=7), "SGD"),
    ("LinearLR-decay", lambda L, o: L.LinearLR(o, 1.0, 0.1, total_iters=30), "SGD"),
    ("PolynomialLR", lambda L, o: L.PolynomialLR(o, total_iters=20, power=2.0), "SGD"),
    ("PolynomialLR-defaults", lambda L, o: L.PolynomialLR(o), "SGD"),
    ("WarmRestarts", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=6), "SGD"),
    ("WarmRestarts-Tmult", lambda L, o: L.CosineAnnealingWarmRestarts(o, 5, T_mult=2,
                                                                      eta_min=0.001), "SGD"),
    ("Sequential", lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=5), L.ExponentialLR(o, 0.9),
            L.CosineAnnealingLR(o, T_max=8), L.StepLR(o, 3, gamma=0.5),
            L.MultiStepLR(o, [3, 6])], milestones=[5, 15, 25, 35]), "SGD"),
    ("Sequential-constant-poly", lambda L, o: L.SequentialLR(
        o, [L.ConstantLR(o, factor=0.2, total_iters=10), L.PolynomialLR(o, 30, 1.5)],
        milestones=[8]), "SGD"),
    ("Sequential-of-chained", lambda L, o: L.SequentialLR(
        o, [L.ChainedScheduler([L.LinearLR(o, start_factor=0.5, total_iters=4),
                                L.ExponentialLR(o, 0.95)]),
            L.CosineAnnealingLR(o, T_max=10)], milestones=[12]), "SGD"),
    ("Chained", lambda L, o: L.ChainedScheduler(
        [L.ConstantLR(o, factor=0.5, total_iters=6), L.ExponentialLR(o, 0.95),
         L.MultiStepLR(o, [10, 20, 30])]), "SGD"),
    ("Chained-warmup-cosine", lambda L, o: L.ChainedScheduler(
        [L.LinearLR(o, start_factor=0.2, total_iters=8), L.CosineAnnealingLR(o, 20)],
        optimizer=o), "SGD"),
    ("OneCycle", lambda L, o: L.OneCycleLR(o, max_lr=[0.5, 0.1], total_steps=EPOCHS + 1),
     "SGD"),
    ("OneCycle-linear-3phase-Adam", lambda L, o: L.OneCycleLR(
        o, max_lr=0.5, epochs=9, steps_per_epoch=6, anneal_strategy="linear",
        three_phase=True, pct_start=0.25), "Adam"),
    ("OneCycle-no-momentum", lambda L, o: L.OneCycleLR(
        o, 0.3, total_steps=60, cycle_momentum=False, div_factor=10.0,
        final_div_factor=100.0), "SGD"),
    ("OneCycle-NAdam", lambda L, o: L.OneCycleLR(
        o, 0.3, total_steps=50, base_momentum=[0.8, 0.7], max_momentum=[0.9, 0.95]), "NAdam"),
    ("Cyclic", lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=4, step_size_down=6),
     "SGD"),
    ("Cyclic-triangular2", lambda L, o: L.CyclicLR(o, [0.01, 0.001], [0.1, 0.05],
                                                   step_size_up=5, mode="triangular2"), "SGD"),
    ("Cyclic-exp_range-Adam", lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3,
                                                      mode="exp_range", gamma=0.95), "Adam"),
    ("Cyclic-scale_fn", lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3,
                                                cycle_momentum=False, scale_fn=Decay(),
                                                scale_mode="iterations"), "SGD"),
]


def torch_step(topt, tsched, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        topt.step()
        tsched.step(*args)


def build(make, opt, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make(lib, opt)


@pytest.mark.parametrize("name,make,kind", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_lr_and_momentum_sequences_match_torch(name, make, kind):
    opt, topt = pair(kind)
    sched = build(make, opt, lr_scheduler)
    tsched = build(make, topt, torch.optim.lr_scheduler)
    for epoch in range(EPOCHS + 1):
        where = f"{name}, epoch {epoch}"
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups],
                                   [g["lr"] for g in topt.param_groups], rtol=1e-13, atol=0,
                                   err_msg=where)
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-13,
                                   atol=0, err_msg=where)
        np.testing.assert_allclose(momenta(opt), momenta(topt), rtol=1e-13, err_msg=where)
        assert getattr(sched, "last_epoch", None) == getattr(tsched, "last_epoch", None)
        opt.step()
        sched.step()
        torch_step(topt, tsched)


def test_sequential_restarts_each_schedule_at_its_milestone():
    opt, _ = pair()
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4)
    decay = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    sched = lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[4])
    lrs = [sched.get_last_lr()[0]]
    for _ in range(6):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs == pytest.approx([0.01, 0.0325, 0.055, 0.0775, 0.1, 0.05, 0.025], rel=1e-12)


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_with_fractional_epochs_match_torch(T_mult):
    """Stepping per batch with ``epoch + i / iters``, and jumping to arbitrary epochs."""
    opt, topt = pair()
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=T_mult, eta_min=1e-3)
    tsched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=3, T_mult=T_mult,
                                                                  eta_min=1e-3)
    iters = 7
    epochs = [e + i / iters for e in range(12) for i in range(iters)] + [30.5, 2.25, 0, 13]
    for epoch in epochs:
        sched.step(epoch)
        torch_step(topt, tsched, epoch)
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-13,
                                   err_msg=f"epoch {epoch}")
        assert (sched.T_cur, sched.T_i, sched.last_epoch) == \
            pytest.approx((tsched.T_cur, tsched.T_i, tsched.last_epoch), rel=1e-13)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        sched.step(-1)


def test_one_cycle_refuses_to_step_past_the_end():
    opt, _ = pair()
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=5)
    for _ in range(5):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 6 times. The specified number of "
                                         "total steps is 5"):
        sched.step()


def test_one_cycle_lr_and_momentum_mirror_each_other():
    opt, _ = pair()
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=100)
    seen = []
    for _ in range(99):
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        sched.step()
    lrs, moms = np.array(seen).T
    assert lrs[0] == pytest.approx(1.0 / 25) and lrs.max() == pytest.approx(1.0)
    assert np.argmax(lrs) == np.argmin(moms) == 29
    assert moms[0] == pytest.approx(0.95) and moms.min() == pytest.approx(0.85)


def run_and_record(sched, opt, steps):
    out = []
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append((sched.get_last_lr(), momenta(opt)))
    return out


@pytest.mark.parametrize("name,make,kind", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_state_dict_resumes_the_schedule(name, make, kind, tmp_path):
    opt, _ = pair(kind)
    sched = build(make, opt, lr_scheduler)
    run_and_record(sched, opt, 12)
    mg.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()},
            tmp_path / "ckpt")
    expected = run_and_record(sched, opt, 12)

    checkpoint = mg.load(tmp_path / "ckpt")
    opt2, _ = pair(kind)
    sched2 = build(make, opt2, lr_scheduler)
    opt2.load_state_dict(checkpoint["optimizer"])
    sched2.load_state_dict(checkpoint["scheduler"])
    assert run_and_record(sched2, opt2, 12) == expected


def test_composite_state_dict_holds_the_children_states():
    opt, _ = pair()
    children = [lr_scheduler.ConstantLR(opt), lr_scheduler.ExponentialLR(opt, 0.9)]
    state = lr_scheduler.ChainedScheduler(children).state_dict()
    assert "optimizer" not in state
    assert [s["last_epoch"] for s in state["_schedulers"]] == [0, 0]
    assert state["_schedulers"][0]["factor"] == pytest.approx(1 / 3)


def test_cyclic_state_dict_keeps_scale_fn_object_state_but_not_functions():
    opt, _ = pair()
    fn = Decay()
    fn.rate = 0.5
    state = lr_scheduler.CyclicLR(opt, 0.01, 0.1, scale_fn=fn).state_dict()
    assert state["_scale_fn_custom"] == {"rate": 0.5}
    other = Decay()
    lr_scheduler.CyclicLR(pair()[0], 0.01, 0.1, scale_fn=other).load_state_dict(state)
    assert other.rate == 0.5
    plain = lr_scheduler.CyclicLR(pair()[0], 0.01, 0.1, scale_fn=lambda x: 1.0)
    assert plain.state_dict()["_scale_fn_custom"] is None


ERRORS = [  # (builder, exception, message): torch raises the same for the same arguments
    (lambda L, o: L.ConstantLR(o, factor=1.5), ValueError,
     "Constant multiplicative factor expected to be between 0 and 1."),
    (lambda L, o: L.LinearLR(o, start_factor=0), ValueError,
     "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."),
    (lambda L, o: L.LinearLR(o, end_factor=1.5), ValueError,
     "Ending multiplicative factor expected to be between 0 and 1."),
    (lambda L, o: L.SequentialLR(o, [], milestones=[]), ValueError,
     "SequentialLR expects at least one scheduler, but got no scheduler."),
    (lambda L, o: L.SequentialLR(o, [L.ConstantLR(o), L.ConstantLR(o)], milestones=[]),
     ValueError, "Sequential Schedulers expects number of schedulers provided to be one "
                 "more than the number of milestone points, but got number of schedulers 2 "
                 "and the number of milestones to be equal to 0"),
    (lambda L, o: L.SequentialLR(o, [L.ReduceLROnPlateau(o)], milestones=[]), ValueError,
     "SequentialLR does not support `ReduceLROnPlateau` scheduler"),
    (lambda L, o: L.SequentialLR(o, [object()], milestones=[]), TypeError,
     "SequentialLR at index 0 should have `optimizer` as its attribute."),
    (lambda L, o: L.ChainedScheduler([]), ValueError,
     "ChainedScheduler expects at least one scheduler to be chained, but got no scheduler."),
    (lambda L, o: L.ChainedScheduler([L.ConstantLR(o), L.ReduceLROnPlateau(o)]), ValueError,
     "but got one at index 1 in the given schedulers sequence."),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0), ValueError,
     "Expected positive integer T_0, but got 0"),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2.5), ValueError,
     "Expected positive integer T_0, but got 2.5"),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=0), ValueError,
     "Expected integer T_mult >= 1, but got 0"),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, eta_min="0"), ValueError,
     "Expected float or int eta_min"),
    (lambda L, o: L.OneCycleLR(o, 0.1), ValueError,
     r"You must define either total_steps OR \(epochs AND steps_per_epoch\)"),
    (lambda L, o: L.OneCycleLR(o, 0.1, total_steps=0), ValueError,
     "Expected positive integer total_steps, but got 0"),
    (lambda L, o: L.OneCycleLR(o, 0.1, epochs=-1, steps_per_epoch=2), ValueError,
     "Expected positive integer epochs, but got -1"),
    (lambda L, o: L.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=0), ValueError,
     "Expected positive integer steps_per_epoch, but got 0"),
    (lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), ValueError,
     "Expected float between 0 and 1 pct_start, but got 1.5"),
    (lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
    (lambda L, o: L.OneCycleLR(o, [0.1], total_steps=10), ValueError,
     "max_lr must have the same length as optimizer.param_groups. max_lr has 1 values, "
     "param_groups has 2."),
    (lambda L, o: L.CyclicLR(o, 0.01, 0.1, mode="sawtooth"), ValueError,
     "mode is invalid and scale_fn is None"),
    (lambda L, o: L.CyclicLR(o, [0.1, 0.1, 0.1], 0.5), ValueError,
     "base_lr must have the same length as optimizer.param_groups"),
    (lambda L, o: L.OneCycleLR([], 0.1, total_steps=10), TypeError, "list is not an Optimizer"),
]


@pytest.mark.parametrize("make,error,message", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_errors_use_torch_wording(make, error, message):
    opt, topt = pair()
    with pytest.raises(error, match=message):
        build(make, opt, lr_scheduler)
    with pytest.raises(error, match=message):
        build(make, topt, torch.optim.lr_scheduler)


def test_cycling_momentum_needs_an_optimizer_with_momentum():
    opt, topt = pair("Adadelta", lr=1.0)
    message = "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
    for lib, o in ((lr_scheduler, opt), (torch.optim.lr_scheduler, topt)):
        with pytest.raises(ValueError, match=message):
            lib.OneCycleLR(o, 0.1, total_steps=10)
        with pytest.raises(ValueError, match=message):
            lib.CyclicLR(o, 0.01, 0.1)
    lr_scheduler.CyclicLR(opt, 0.01, 0.1, cycle_momentum=False)  # fine without cycling


def test_schedules_of_another_optimizer_are_refused():
    opt, _ = pair()
    other, _ = pair()
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same "
                                         "optimizer, but got scheduler ConstantLR at index 1"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ConstantLR(opt),
                                        lr_scheduler.ConstantLR(other)], milestones=[3])
    with pytest.raises(ValueError, match="ChainedScheduler expects all schedulers"):
        lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(opt),
                                       lr_scheduler.ConstantLR(other)])
