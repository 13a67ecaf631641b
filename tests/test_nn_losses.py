"""Losses: every option against PyTorch (values and gradients, float64), float64
gradchecks, numerical stability for huge logits, and the errors bad targets raise."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def leaf(array):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def compare(loss_mg, loss_torch, logits, atol=1e-10):
    """Value and input gradient of a loss of one float input, minigrad vs PyTorch."""
    x, ref_x = leaf(logits), torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    out, ref = loss_mg(x), loss_torch(ref_x)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-8, atol=atol)
    direction = np.random.default_rng(1).standard_normal(ref.shape)
    (out * mg.tensor(direction)).sum().backward()
    (ref * torch.tensor(direction)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), rtol=1e-8, atol=atol)


def class_targets(rng, shape, classes, ignore_index=None):
    t = rng.integers(0, classes, shape)
    if ignore_index is not None:
        t.flat[::3] = ignore_index
    return t


# -- cross-entropy -------------------------------------------------------------------------

@given(batch=st.integers(1, 4), classes=st.integers(2, 5), extra=st.sampled_from([(), (3,)]),
       reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(), ignore=st.booleans(),
       smoothing=st.sampled_from([0.0, 0.1, 0.5]))
def test_cross_entropy_matches_torch(batch, classes, extra, reduction, weighted, ignore,
                                     smoothing):
    rng = np.random.default_rng(batch * 10 + classes)
    logits = rng.standard_normal((batch, classes) + extra) * 3
    target = class_targets(rng, (batch,) + extra, classes, 2 if ignore else None)
    weight = rng.uniform(0.5, 2.0, classes) if weighted else None
    kwargs = dict(ignore_index=2 if ignore else -100, reduction=reduction,
                  label_smoothing=smoothing)
    if ignore and reduction == "mean" and (target == 2).all():
        return  # PyTorch and we both give nan (0/0); nothing to compare
    compare(lambda x: F.cross_entropy(x, mg.tensor(target),
                                      None if weight is None else mg.tensor(weight), **kwargs),
            lambda x: TF.cross_entropy(x, torch.tensor(target),
                                       None if weight is None else torch.tensor(weight),
                                       **kwargs), logits)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_class_probabilities_matches_torch(smoothing, weighted):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((4, 3))
    probs = rng.dirichlet(np.ones(3), 4)
    weight = rng.uniform(0.5, 2, 3) if weighted else None
    compare(lambda x: F.cross_entropy(x, mg.tensor(probs),
                                      None if weight is None else mg.tensor(weight),
                                      label_smoothing=smoothing),
            lambda x: TF.cross_entropy(x, torch.tensor(probs),
                                       None if weight is None else torch.tensor(weight),
                                       label_smoothing=smoothing), logits)


def test_cross_entropy_unbatched_matches_torch():
    logits = np.array([0.5, -1.0, 2.0])
    compare(lambda x: F.cross_entropy(x, mg.tensor(2)),
            lambda x: TF.cross_entropy(x, torch.tensor(2)), logits)


def test_cross_entropy_gradchecks():
    rng = np.random.default_rng(4)
    x = leaf(rng.standard_normal((3, 4)))
    w = mg.tensor(rng.uniform(0.5, 2, 4))
    t = mg.tensor([0, 3, 1])
    assert mg.gradcheck(lambda a: F.cross_entropy(a, t, w, label_smoothing=0.1,
                                                  ignore_index=1), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_for_huge_logits(dtype):
    x = mg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=dtype),
                  requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor([1, 0]), label_smoothing=0.1)
    assert loss.dtype == dtype
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    ref = TF.cross_entropy(torch.tensor(x.numpy(), dtype=torch.float64),
                           torch.tensor([1, 0]), label_smoothing=0.1)
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)


def test_cross_entropy_errors_name_the_problem():
    x = leaf(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"input of shape \(2, 3\) needs a target of shape "
                                         r"\(2,\), got \(3,\)"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, mg.tensor([0, 3]))
        mg.cuda.synchronize()  # on a GPU the index check reports at the next sync
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        F.cross_entropy(x, mg.tensor([-1, 0]))
        mg.cuda.synchronize()
    with pytest.raises(ValueError, match=r"probability targets must have the input's shape"):
        F.cross_entropy(x, mg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, mg.tensor([0, 1]), mg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, mg.tensor([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(x, mg.tensor([0, 1]), label_smoothing=1.5)


def test_cross_entropy_accepts_numpy_and_list_targets():
    x = leaf(np.zeros((2, 3)))
    a = F.cross_entropy(x, np.array([0, 2])).item()
    b = F.cross_entropy(x, [0, 2]).item()
    assert a == b == pytest.approx(np.log(3))


def test_cross_entropy_module_matches_functional():
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((5, 4))
    target = np.array([0, 1, 2, 3, -1])
    weight = rng.uniform(0.5, 2, 4)
    module = nn.CrossEntropyLoss(mg.tensor(weight), ignore_index=-1, label_smoothing=0.05)
    ref = torch.nn.CrossEntropyLoss(torch.tensor(weight), ignore_index=-1,
                                    label_smoothing=0.05)
    compare(lambda x: module(x, mg.tensor(target)), lambda x: ref(x, torch.tensor(target)),
            logits)
    assert list(module.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction must be one of"):
        nn.CrossEntropyLoss(reduction="avg")


# -- NLL -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(reduction, weighted):
    rng = np.random.default_rng(6)
    logp = np.log(rng.dirichlet(np.ones(4), (3, 2)).transpose(0, 2, 1))  # (3, 4, 2)
    target = np.array([[0, 3], [1, -100], [2, 2]])
    weight = rng.uniform(0.5, 2, 4) if weighted else None
    module = nn.NLLLoss(weight, reduction=reduction)
    ref = torch.nn.NLLLoss(None if weight is None else torch.tensor(weight),
                           reduction=reduction)
    compare(lambda x: module(x, mg.tensor(target)), lambda x: ref(x, torch.tensor(target)), logp)


def test_nll_loss_gradchecks_and_rejects_float_targets():
    x = leaf(np.random.default_rng(7).standard_normal((3, 4)))
    assert mg.gradcheck(lambda a: F.nll_loss(a, mg.tensor([1, 0, 3]), reduction="sum"), [x])
    with pytest.raises(TypeError, match="integer class indices, got dtype float"):
        F.nll_loss(x, mg.tensor([1.0, 0.0, 3.0]))


# -- MSE and BCE-with-logits ------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch(reduction):
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    compare(lambda a: nn.MSELoss(reduction)(a, mg.tensor(y)),
            lambda a: torch.nn.MSELoss(reduction=reduction)(a, torch.tensor(y)), x)
    assert mg.gradcheck(lambda a, b: F.mse_loss(a, b), [leaf(x), leaf(y)])


def test_mse_loss_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"input shape \(3,\) and target shape \(3, 1\)"):
        F.mse_loss(leaf(np.zeros(3)), mg.tensor(np.zeros((3, 1))))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits_matches_torch(reduction, weighted, pos_weighted):
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.standard_normal((3, 4)) * 4, [[0.0, 50.0, -50.0, 1e-3]]])
    y = rng.uniform(0, 1, (4, 4))
    w = rng.uniform(0.5, 2, (4, 4)) if weighted else None
    pw = rng.uniform(0.5, 3, 4) if pos_weighted else None
    t = (lambda a: None if a is None else torch.tensor(a))
    m = (lambda a: None if a is None else mg.tensor(a))
    compare(lambda a: nn.BCEWithLogitsLoss(m(w), reduction, m(pw))(a, mg.tensor(y)),
            lambda a: torch.nn.BCEWithLogitsLoss(t(w), reduction=reduction,
                                                 pos_weight=t(pw))(a, torch.tensor(y)), x)


def test_bce_with_logits_gradchecks_including_zero_logit():
    x = leaf([[-2.0, 0.0, 0.7], [3.0, -0.3, 1.5]])
    y = mg.tensor(np.array([[0.0, 1.0, 0.3], [1.0, 0.0, 0.5]]))
    assert mg.gradcheck(lambda a: F.binary_cross_entropy_with_logits(
        a, y, pos_weight=mg.tensor([2.0, 0.5, 1.0])), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_finite_for_huge_logits(dtype):
    logits = np.array([1e4, -1e4, 1e4, -1e4, 88.0, -800.0], dtype=dtype)
    target = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5], dtype=dtype)
    x = mg.tensor(logits, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, mg.tensor(target), reduction="none")
    loss.sum().backward()
    assert loss.dtype == dtype
    ref = TF.binary_cross_entropy_with_logits(torch.tensor(logits, dtype=torch.float64),
                                              torch.tensor(target, dtype=torch.float64),
                                              reduction="none")
    np.testing.assert_allclose(loss.numpy(), ref.numpy(), rtol=1e-6)
    assert np.isfinite(x.grad.numpy()).all()


def test_losses_gradgradcheck():
    rng = np.random.default_rng(10)
    x = leaf(rng.standard_normal((2, 3)))
    assert mg.gradgradcheck(lambda a: F.cross_entropy(a, mg.tensor([2, 0]),
                                                      label_smoothing=0.2), [x])
    y = mg.tensor(rng.uniform(0, 1, (2, 3)))
    assert mg.gradgradcheck(lambda a: F.binary_cross_entropy_with_logits(a, y), [x])


def test_a_loss_weight_that_is_not_numbers_is_refused_by_name():
    with pytest.raises(TypeError, match="BCEWithLogitsLoss: pos_weight must be a tensor of "
                                        "numbers, got 'x'"):
        nn.BCEWithLogitsLoss(pos_weight="x")
    with pytest.raises(TypeError, match="BCELoss: weight must be a tensor of numbers"):
        nn.BCELoss(weight=[1, "a"])
    loss = nn.BCEWithLogitsLoss(pos_weight=[2.0])  # numbers are made a tensor
    compare(lambda x: loss(x, mg.tensor([1.0, 0.0], dtype=mg.float64)),
            lambda x: TF.binary_cross_entropy_with_logits(
                x, torch.tensor([1.0, 0.0], dtype=torch.float64),
                pos_weight=torch.tensor([2.0], dtype=torch.float64)), [0.3, -1.2])


def test_bce_with_logits_names_itself_for_a_weight_on_another_device():
    mg.register_backend("losscuda", lambda: mg.backends.ArrayBackend("losscuda", "losscuda",
                                                                     np))
    weight = mg.ones(2, device="losscuda")
    with pytest.raises(RuntimeError, match=r"two devices, \w+(:\d+)? and losscuda! \(when "
                                           r"checking arguments for "
                                           r"binary_cross_entropy_with_logits\)"):
        nn.BCEWithLogitsLoss(weight=weight)(mg.zeros(2), mg.zeros(2))


def test_ignore_index_with_probability_targets_is_refused_by_name():
    probs = mg.softmax(mg.randn(2, 3), dim=1)
    with pytest.raises(ValueError, match="cross_entropy: ignore_index \\(0\\) is not supported"):
        F.cross_entropy(mg.randn(2, 3), probs, ignore_index=0)
    nn.CrossEntropyLoss()(mg.randn(2, 3), probs)  # the default ignore_index is fine
