"""The fused softmax cross-entropy (minigrad/ops/softmax_cross_entropy.py): the path
``F.cross_entropy`` takes for (N, C) logits and class indices, held equal to the composed
path, to PyTorch, and to itself when backward runs twice or is differentiated again.
Gradients against central differences are in test_gradients.py."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F

RNG = np.random.default_rng(7)


def logits_and_targets(rows=6, classes=5, dtype=np.float64, ignored=(2,), ignore_index=-100):
    x = RNG.standard_normal((rows, classes)).astype(dtype) * 3
    target = RNG.integers(0, classes, rows)
    target[list(ignored)] = ignore_index
    return x, target


def loss_and_grad(x, target, **options):
    a = mg.tensor(x, requires_grad=True)
    loss = F.cross_entropy(a, mg.tensor(target), **options)
    (loss.sum() if loss.ndim else loss).backward()
    return loss, a.grad.numpy()


def test_cross_entropy_takes_the_fused_primitive_in_the_common_case():
    x, target = logits_and_targets()
    assert F.cross_entropy(mg.tensor(x, requires_grad=True),
                           mg.tensor(target)).grad_fn.name() == "SoftmaxCrossEntropyBackward"
    composed = F.cross_entropy(mg.tensor(x, requires_grad=True), mg.tensor(target),
                               weight=mg.ones(5, dtype=mg.float64))
    assert composed.grad_fn.name() != "SoftmaxCrossEntropyBackward"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_equals_the_composed_path(reduction):
    x, target = logits_and_targets()
    fused_loss, fused_grad = loss_and_grad(x, target, reduction=reduction)
    # class weights of one take the composed path: same loss, same gradient
    loss, grad = loss_and_grad(x, target, reduction=reduction,
                               weight=mg.ones(5, dtype=mg.float64))
    np.testing.assert_allclose(fused_loss.numpy(), loss.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fused_grad, grad, rtol=1e-12, atol=1e-14)


def test_extreme_logits_stay_finite():
    x = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]], dtype=np.float32)
    loss, grad = loss_and_grad(x, np.array([2, 0]))
    assert np.isfinite(loss.numpy()) and np.isfinite(grad).all()
    np.testing.assert_allclose(loss.numpy(), (2000.0 + np.log(3.0)) / 2, rtol=1e-6)


def test_backward_twice_with_retain_graph_gives_the_same_gradient():
    x, target = logits_and_targets()
    a = mg.tensor(x, requires_grad=True)
    loss = F.cross_entropy(a, mg.tensor(target))
    loss.backward(retain_graph=True)
    first = a.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * first, rtol=1e-14)


def test_bad_targets_are_named():
    x, _ = logits_and_targets()
    with pytest.raises(IndexError, match=r"cross_entropy: target 5 is out of bounds for 5 "):
        F.cross_entropy(mg.tensor(x), mg.tensor([0, 1, 2, 3, 4, 5]))
        mg.cuda.synchronize()  # on a GPU the index check reports at the next sync
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: expected logits \(N, C\) "
                                         r"and N targets, got shapes \(6, 5\) and \(5,\)"):
        mg.ops.softmax_cross_entropy(mg.tensor(x), mg.tensor([0, 1, 2, 3, 4]))
    with pytest.raises(TypeError, match="softmax_cross_entropy: targets must be class indices"):
        mg.ops.softmax_cross_entropy(mg.tensor(x), mg.tensor(np.zeros(6)))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        mg.ops.softmax_cross_entropy(mg.tensor(x), mg.tensor(np.zeros(6, int)), reduction="avg")


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 2e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 3])
def test_against_pytorch(dtype, tolerance, reduction, ignore_index):
    torch = pytest.importorskip("torch")
    x, target = logits_and_targets(rows=9, classes=7, dtype=dtype, ignored=(1, 4),
                                   ignore_index=ignore_index)
    loss, grad = loss_and_grad(x, target, reduction=reduction, ignore_index=ignore_index)
    t = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(t, torch.tensor(target), reduction=reduction,
                                                 ignore_index=ignore_index)
    (expected.sum() if expected.ndim else expected).backward()
    assert loss.dtype == mg.float32 if dtype == np.float32 else loss.dtype == mg.float64
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=tolerance,
                               atol=tolerance)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=tolerance, atol=tolerance)


def test_second_derivative_against_pytorch():
    torch = pytest.importorskip("torch")
    x, target = logits_and_targets(rows=5, classes=4, ignored=(0,))
    a = mg.tensor(x, requires_grad=True)
    (g,) = mg.autograd.grad(F.cross_entropy(a, mg.tensor(target)), [a], create_graph=True)
    (g * g).sum().backward()
    t = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.nn.functional.cross_entropy(t, torch.tensor(target)), [t],
                                create_graph=True)
    (tg * tg).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


EVERY_PATH = [{}, {"weight": np.linspace(0.5, 1.5, 5)}, {"label_smoothing": 0.1}]


@pytest.mark.parametrize("options", EVERY_PATH, ids=["fused", "weighted", "smoothed"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_every_target_ignored_gives_nan_and_no_gradient_quietly(options, create_graph):
    """PyTorch's mean over no targets: nan (0 / 0), and zero gradients, not 0 / 0's nan."""
    x, target = logits_and_targets(ignored=range(6))
    if "weight" in options:
        options = {"weight": mg.tensor(options["weight"])}
    a = mg.tensor(x, requires_grad=True)
    with np.errstate(all="raise"):  # no NumPy warning on the way
        loss = F.cross_entropy(a, mg.tensor(target), **options)
        (grad,) = mg.autograd.grad(loss, [a], create_graph=create_graph)
    assert np.isnan(loss.item()) and loss.dtype == mg.float64
    assert np.array_equal(grad.numpy(), np.zeros_like(x))


@pytest.mark.parametrize("options", EVERY_PATH, ids=["fused", "weighted", "smoothed"])
def test_every_target_ignored_against_pytorch(options):
    torch = pytest.importorskip("torch")
    x, target = logits_and_targets(ignored=range(6))
    a, t = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    mine = {k: mg.tensor(v) if k == "weight" else v for k, v in options.items()}
    theirs = {k: torch.tensor(v) if k == "weight" else v for k, v in options.items()}
    F.cross_entropy(a, mg.tensor(target), **mine).backward()
    expected = torch.nn.functional.cross_entropy(t, torch.tensor(target), **theirs)
    expected.backward()
    assert np.isnan(expected.item())
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
