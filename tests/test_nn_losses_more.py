"""L1, smooth L1, Huber, BCE, KL divergence, cosine-embedding and margin-ranking losses:
every reduction and option against PyTorch (values, input and target gradients, float64),
hypothesis gradchecks away from each loss's kinks, and the errors bad inputs raise."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

REDUCTIONS = ["mean", "sum", "none"]


def leaf(array):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def compare(loss_mg, loss_torch, *arrays, grads=None, atol=1e-10):
    """Value and gradients (of the inputs whose ``grads`` flag is set: all by default) of a
    loss of float arrays, minigrad vs PyTorch."""
    torch = pytest.importorskip("torch")
    grads = grads or [True] * len(arrays)
    ours = [mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=g)
            for a, g in zip(arrays, grads)]
    theirs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=g)
              for a, g in zip(arrays, grads)]
    out, ref = loss_mg(*ours), loss_torch(*theirs)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-8, atol=atol)
    direction = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    (out * mg.tensor(direction)).sum().backward()
    (ref * torch.tensor(direction)).sum().backward()
    for a, b in zip(ours, theirs):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=atol)


def away_from(points, low=0.05, high=3.0):
    """Distances in [low, high] that keep at least ``low`` from every kink in ``points``."""
    return st.floats(low, high).filter(lambda d: all(abs(d - p) > low for p in points))


def differences(shape, points):
    """A strategy for (input, target) whose difference avoids |d| = each of ``points``."""
    size = int(np.prod(shape))
    return st.tuples(
        st.lists(st.floats(-2, 2), min_size=size, max_size=size),
        st.lists(away_from(points), min_size=size, max_size=size),
        st.lists(st.sampled_from([-1.0, 1.0]), min_size=size, max_size=size),
    ).map(lambda t: (np.reshape(t[0], shape),
                     np.reshape(np.add(t[0], np.multiply(t[1], t[2])), shape)))


SHAPES = st.sampled_from([(), (3,), (2, 3), (2, 1, 2)])


# -- L1, smooth L1, Huber ------------------------------------------------------------------

def regression_data(seed=0, shape=(4, 5)):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2
    y = rng.standard_normal(shape) * 2
    y.flat[0] = x.flat[0]  # a zero difference: the kink of |d|
    return x, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_loss_matches_torch(reduction):
    torch = pytest.importorskip("torch")
    compare(lambda a, b: F.l1_loss(a, b, reduction=reduction),
            lambda a, b: torch.nn.functional.l1_loss(a, b, reduction=reduction),
            *regression_data())
    compare(lambda a, b: nn.L1Loss(reduction)(a, b),
            lambda a, b: torch.nn.L1Loss(reduction=reduction)(a, b), *regression_data(1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 3.0])
def test_smooth_l1_loss_matches_torch(reduction, beta):
    torch = pytest.importorskip("torch")
    compare(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
            lambda a, b: torch.nn.functional.smooth_l1_loss(a, b, reduction=reduction,
                                                            beta=beta), *regression_data())
    compare(lambda a, b: nn.SmoothL1Loss(reduction, beta)(a, b),
            lambda a, b: torch.nn.SmoothL1Loss(reduction=reduction, beta=beta)(a, b),
            *regression_data(2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
def test_huber_loss_matches_torch(reduction, delta):
    torch = pytest.importorskip("torch")
    compare(lambda a, b: F.huber_loss(a, b, reduction, delta),
            lambda a, b: torch.nn.functional.huber_loss(a, b, reduction, delta),
            *regression_data())
    compare(lambda a, b: nn.HuberLoss(reduction, delta)(a, b),
            lambda a, b: torch.nn.HuberLoss(reduction, delta)(a, b), *regression_data(3))


def test_regression_losses_at_the_threshold_match_torch():
    """|d| exactly beta (or delta): both branches meet there, value and slope."""
    torch = pytest.importorskip("torch")
    x, y = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 0.0, -1.0, 0.5])
    compare(lambda a, b: F.smooth_l1_loss(a, b, reduction="sum"),
            lambda a, b: torch.nn.functional.smooth_l1_loss(a, b, reduction="sum"), x, y)
    compare(lambda a, b: F.huber_loss(a, b, "none"),
            lambda a, b: torch.nn.functional.huber_loss(a, b, "none"), x, y)


@given(shape=SHAPES, data=st.data(), reduction=st.sampled_from(REDUCTIONS))
def test_l1_loss_gradchecks(shape, data, reduction):
    x, y = data.draw(differences(shape, [0.0]))
    assert mg.gradcheck(lambda a, b: F.l1_loss(a, b, reduction=reduction), [leaf(x), leaf(y)])


@given(shape=SHAPES, data=st.data(), beta=st.sampled_from([0.0, 0.5, 1.5]),
       reduction=st.sampled_from(REDUCTIONS))
def test_smooth_l1_loss_gradchecks(shape, data, beta, reduction):
    x, y = data.draw(differences(shape, [0.0, beta]))
    assert mg.gradcheck(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
                        [leaf(x), leaf(y)])


@given(shape=SHAPES, data=st.data(), delta=st.sampled_from([0.5, 1.0, 2.0]),
       reduction=st.sampled_from(REDUCTIONS))
def test_huber_loss_gradchecks(shape, data, delta, reduction):
    x, y = data.draw(differences(shape, [0.0, delta]))
    assert mg.gradcheck(lambda a, b: F.huber_loss(a, b, reduction, delta), [leaf(x), leaf(y)])
    assert mg.gradgradcheck(lambda a: F.huber_loss(a, mg.tensor(y), "sum", delta), [leaf(x)])


def test_regression_losses_name_bad_arguments():
    x = leaf(np.zeros((3, 2)))
    for loss in (F.l1_loss, F.smooth_l1_loss, F.huber_loss):
        with pytest.raises(ValueError, match=rf"{loss.__name__}: input shape \(3, 2\) and "
                                             r"target shape \(2,\) differ"):
            loss(x, mg.tensor([1.0, 2.0]))
        with pytest.raises(ValueError, match=rf"{loss.__name__}: reduction must be one of"):
            loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be non-negative, got -1"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be positive, got 0"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match="HuberLoss: reduction must be one of"):
        nn.HuberLoss("batchmean")


# -- binary cross-entropy of probabilities ------------------------------------------------

def probabilities(seed, shape=(4, 3)):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.02, 0.98, shape), rng.uniform(0, 1, shape)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (3,), (4, 3)])
def test_binary_cross_entropy_matches_torch(reduction, weight_shape):
    torch = pytest.importorskip("torch")
    x, y = probabilities(0)
    w = None if weight_shape is None else np.random.default_rng(1).uniform(0.5, 2, weight_shape)
    compare(lambda a, b: F.binary_cross_entropy(a, b, None if w is None else mg.tensor(w),
                                                reduction=reduction),
            lambda a, b: torch.nn.functional.binary_cross_entropy(
                a, b, None if w is None else torch.tensor(w), reduction=reduction), x, y)
    module = nn.BCELoss(None if w is None else mg.tensor(w), reduction)
    ref = torch.nn.BCELoss(None if w is None else torch.tensor(w), reduction=reduction)
    compare(module, ref, *probabilities(2))
    assert list(module.state_dict()) == ([] if w is None else ["weight"])


EDGES = (np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 0.5, 1e-13, 1.0 - 1e-9]),
         np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.5, 0.0, 0.3]))


def test_binary_cross_entropy_at_0_and_1_is_floored_with_pytorchs_gradient():
    """log 0 is floored at -100 (so the loss is at most 100), and the input's gradient is
    PyTorch's formula (x - y) / max(x (1 - x), 1e-12): about +-1e12 where a term is floored,
    0 where the input equals a target of 0 or 1; the target's is -logit(x), +-inf at 0 and 1.
    No NumPy warning on the way."""
    x, y = EDGES
    p, q = leaf(x), leaf(y)
    with np.errstate(all="raise"):
        loss = F.binary_cross_entropy(p, q, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.numpy()[:6], [100, 100, 0, 0, 100, np.log(2)], rtol=1e-12)
    eps = float(np.float32(1e-12))
    np.testing.assert_allclose(p.grad.numpy()[:6], [-1 / eps, 1 / eps, 0, 0, -1 / eps, 0],
                               rtol=1e-12)
    np.testing.assert_array_equal(q.grad.numpy()[:4], [np.inf, -np.inf, np.inf, -np.inf])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_cross_entropy_edges_against_pytorch(dtype):
    torch = pytest.importorskip("torch")
    x, y = (a.astype(dtype) for a in EDGES)
    p, q = (mg.tensor(a, requires_grad=True) for a in (x, y))
    tp, tq = (torch.tensor(a, requires_grad=True) for a in (x, y))
    F.binary_cross_entropy(p, q, reduction="sum").backward()
    torch.nn.functional.binary_cross_entropy(tp, tq, reduction="sum").backward()
    np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
    np.testing.assert_array_equal(q.grad.numpy(), tq.grad.numpy())


@given(shape=SHAPES, data=st.data(), weighted=st.booleans(),
       reduction=st.sampled_from(REDUCTIONS))
def test_binary_cross_entropy_gradchecks(shape, data, weighted, reduction):
    size = int(np.prod(shape))
    x = np.reshape(data.draw(st.lists(st.floats(0.05, 0.95), min_size=size, max_size=size)),
                   shape)
    y = np.reshape(data.draw(st.lists(st.floats(0, 1), min_size=size, max_size=size)), shape)
    w = mg.tensor(np.full(shape, 1.5)) if weighted else None
    assert mg.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction),
                        [leaf(x), leaf(y)])


def test_binary_cross_entropy_names_bad_inputs():
    x = leaf([0.2, 0.7])
    for bad in ([0.2, 1.5], [-0.1, 0.5], [float("nan"), 0.5]):
        with pytest.raises(ValueError, match=r"binary_cross_entropy: every element of input "
                                             r"must be a probability in \[0, 1\]"):
            F.binary_cross_entropy(mg.tensor(bad), mg.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"input shape \(2,\) and target shape \(2, 1\) differ"):
        F.binary_cross_entropy(x, mg.tensor([[1.0], [0.0]]))
    with pytest.raises(ValueError, match="BCELoss: reduction must be one of"):
        nn.BCELoss(reduction="batchmean")


# -- KL divergence -------------------------------------------------------------------------

def distributions(seed, shape=(3, 4), zeros=True):
    rng = np.random.default_rng(seed)
    log_q = np.log(rng.dirichlet(np.ones(shape[-1]), shape[:-1]))
    p = rng.dirichlet(np.ones(shape[-1]), shape[:-1])
    if zeros:
        p[0, 1] = 0.0  # 0 · log 0 = 0
    return log_q, p


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # PyTorch's nudge to batchmean
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    torch = pytest.importorskip("torch")
    log_q, p = distributions(0, zeros=not log_target)
    target = np.log(p) if log_target else p
    kwargs = dict(reduction=reduction, log_target=log_target)
    # a zero target's own gradient is NaN in PyTorch (xlogy's 0/0); compare input grads there
    compare(lambda a, b: F.kl_div(a, b, **kwargs),
            lambda a, b: torch.nn.functional.kl_div(a, b, **kwargs), log_q, target,
            grads=[True, log_target])
    log_q, p = distributions(1, zeros=False)
    target = np.log(p) if log_target else p
    compare(nn.KLDivLoss(reduction, log_target), torch.nn.KLDivLoss(**kwargs), log_q, target)


@pytest.mark.parametrize("reduction", ["batchmean", "sum"])
def test_kl_div_broadcasts_and_takes_0d_like_torch(reduction):
    torch = pytest.importorskip("torch")
    log_q, p = distributions(3, zeros=False)
    compare(lambda a, b: F.kl_div(a, b, reduction=reduction),
            lambda a, b: torch.nn.functional.kl_div(a, b, reduction=reduction), log_q, p[0])
    compare(lambda a, b: F.kl_div(a, b, reduction=reduction),  # 'batchmean' of 0-d: the sum
            lambda a, b: torch.nn.functional.kl_div(a, b, reduction=reduction),
            np.array(-1.2), np.array(0.4))


@given(shape=st.sampled_from([(3,), (2, 3), (2, 2, 2)]), data=st.data(),
       log_target=st.booleans(), reduction=st.sampled_from(REDUCTIONS + ["batchmean"]))
def test_kl_div_gradchecks(shape, data, log_target, reduction):
    size = int(np.prod(shape))
    draw = (lambda lo, hi: np.reshape(data.draw(st.lists(st.floats(lo, hi), min_size=size,
                                                         max_size=size)), shape))
    x = draw(-4, 0)
    y = draw(-4, 0) if log_target else draw(0.01, 1)
    assert mg.gradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction,
                                              log_target=log_target), [leaf(x), leaf(y)])


def test_kl_div_names_bad_reductions():
    with pytest.raises(ValueError, match=r"kl_div: reduction must be one of \('mean', 'sum', "
                                         r"'none', 'batchmean'\), got 'avg'"):
        F.kl_div(leaf([-1.0]), mg.tensor([1.0]), reduction="avg")
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be one of"):
        nn.KLDivLoss("avg")
    assert repr(nn.KLDivLoss("batchmean")) == "KLDivLoss(reduction='batchmean')"


# -- cosine embedding and margin ranking ----------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.5])
def test_cosine_embedding_loss_matches_torch(reduction, margin):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x1, x2 = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    x2[1] = 0.0  # a zero vector: cosine 0 thanks to the epsilon
    y = np.array([1, -1, 1, -1, -1, 0])  # a label that is neither 1 nor -1 costs nothing
    compare(lambda a, b: F.cosine_embedding_loss(a, b, mg.tensor(y), margin,
                                                 reduction=reduction),
            lambda a, b: torch.nn.functional.cosine_embedding_loss(
                a, b, torch.tensor(y), margin, reduction=reduction), x1, x2)
    compare(lambda a, b: nn.CosineEmbeddingLoss(margin, reduction)(a, b, mg.tensor(y)),
            lambda a, b: torch.nn.CosineEmbeddingLoss(margin, reduction=reduction)(
                a, b, torch.tensor(y)), x1 + 1, x2)
    for label in (1, -1):  # one unbatched pair, 0-d target
        compare(lambda a, b: F.cosine_embedding_loss(a, b, mg.tensor(label), margin,
                                                     reduction=reduction),
                lambda a, b: torch.nn.functional.cosine_embedding_loss(
                    a, b, torch.tensor(label), margin, reduction=reduction), x1[0], x1[2])


@given(batched=st.booleans(), dim=st.integers(1, 4), data=st.data(),
       margin=st.sampled_from([-0.5, 0.0, 0.5]), reduction=st.sampled_from(REDUCTIONS))
def test_cosine_embedding_loss_gradchecks(batched, dim, data, margin, reduction):
    rows = 3 if batched else 1
    vectors = st.lists(st.floats(-2, 2).filter(lambda v: abs(v) > 0.1), min_size=dim,
                       max_size=dim)
    x1 = np.array([data.draw(vectors) for _ in range(rows)])
    x2 = np.array([data.draw(vectors) for _ in range(rows)])
    y = np.array(data.draw(st.lists(st.sampled_from([1, -1]), min_size=rows, max_size=rows)))
    cos = (x1 * x2).sum(1) / np.sqrt((x1 ** 2).sum(1) * (x2 ** 2).sum(1))
    if np.any((y == -1) & (abs(cos - margin) < 1e-3)):
        return  # on the hinge's kink
    if not batched:
        x1, x2, y = x1[0], x2[0], y[0]
    assert mg.gradcheck(lambda a, b: F.cosine_embedding_loss(a, b, mg.tensor(y), margin,
                                                             reduction=reduction),
                        [leaf(x1), leaf(x2)])


def test_cosine_embedding_loss_names_bad_shapes():
    x = leaf(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"target must be 0-d or 1-d .* got shape \(3, 1\)"):
        F.cosine_embedding_loss(x, x, mg.ones((3, 1)))
    with pytest.raises(ValueError, match=r"a 1-d target needs 2-d inputs, got shapes "
                                         r"\(4,\) and \(4,\)"):
        F.cosine_embedding_loss(x[0], x[0], mg.ones(3))
    with pytest.raises(ValueError, match=r"a 0-d target needs 1-d inputs, got shapes "
                                         r"\(3, 4\) and \(3, 4\)"):
        F.cosine_embedding_loss(x, x, mg.tensor(1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss_matches_torch(reduction, margin):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x1, x2 = rng.standard_normal(8), rng.standard_normal(8)
    y = rng.choice([-1.0, 1.0], 8)
    compare(lambda a, b, c: F.margin_ranking_loss(a, b, c, margin, reduction=reduction),
            lambda a, b, c: torch.nn.functional.margin_ranking_loss(a, b, c, margin,
                                                                    reduction=reduction),
            x1, x2, y)
    compare(lambda a, b: nn.MarginRankingLoss(margin, reduction)(a, b, mg.tensor(y[:3, None])),
            lambda a, b: torch.nn.MarginRankingLoss(margin, reduction=reduction)(
                a, b, torch.tensor(y[:3, None])), x1[:3, None], x2[None, :4])  # broadcasts


@given(shape=SHAPES, data=st.data(), margin=st.sampled_from([0.0, 0.5]),
       reduction=st.sampled_from(REDUCTIONS))
def test_margin_ranking_loss_gradchecks(shape, data, margin, reduction):
    size = int(np.prod(shape))
    x1, x2 = data.draw(differences(shape, [margin, -margin]))
    y = np.reshape(data.draw(st.lists(st.sampled_from([1.0, -1.0]), min_size=size,
                                      max_size=size)), shape)
    assert mg.gradcheck(lambda a, b, c: F.margin_ranking_loss(a, b, c, margin,
                                                              reduction=reduction),
                        [leaf(x1), leaf(x2), leaf(y)])


def test_margin_ranking_loss_names_mismatched_dims():
    with pytest.raises(ValueError, match=r"margin_ranking_loss: input1, input2 and target need "
                                         r"the same number of dims, got shapes \(3,\), \(3,\) "
                                         r"and \(3, 1\)"):
        F.margin_ranking_loss(leaf(np.ones(3)), leaf(np.ones(3)), mg.ones((3, 1)))


def test_losses_gradgradcheck():
    """Second derivatives (create_graph=True) come from the engine as well."""
    rng = np.random.default_rng(6)
    x = leaf(rng.uniform(0.1, 0.9, (2, 3)))
    y = mg.tensor(rng.uniform(0, 1, (2, 3)))
    assert mg.gradgradcheck(lambda a: F.binary_cross_entropy(a, y), [x])
    assert mg.gradgradcheck(lambda a: F.kl_div(a, y, reduction="batchmean"), [x])
    assert mg.gradgradcheck(lambda a: F.smooth_l1_loss(a, y, beta=0.5), [x])
    other = mg.tensor(rng.standard_normal((2, 3)))
    assert mg.gradgradcheck(lambda a: F.cosine_embedding_loss(a, other, mg.tensor([1, -1]),
                                                              -0.9), [x])
