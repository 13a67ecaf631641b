"""CTC loss against PyTorch (values and gradients, float64) on random batches with varied
lengths, repeated labels, any blank, both target layouts, every reduction and
zero_infinity; hypothesis gradchecks on raw scores; and the errors malformed input raises."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

REDUCTIONS = ["mean", "sum", "none"]


def frames_needed(target):
    """The fewest frames an alignment of ``target`` takes: one per label, plus a blank
    between each pair of equal neighbours."""
    return len(target) + int(np.sum(target[1:] == target[:-1]))


def random_batch(seed, feasible=True):
    """Logits (T, N, C), padded targets (with garbage past each length), concatenated
    targets, input and target lengths, and a blank; labels repeat often. Unless
    ``feasible``, some inputs are too short for their targets."""
    rng = np.random.default_rng(seed)
    frames, batch, classes = rng.integers(6, 14), rng.integers(1, 5), rng.integers(3, 7)
    blank = int(rng.integers(0, classes))
    labels = [c for c in range(classes) if c != blank]
    targets, in_lens = [], []
    for n in range(batch):
        target = rng.choice(labels, rng.integers(0 if feasible or n else 1, 6))
        if len(target) > 1 and rng.random() < 0.5:
            target[1] = target[0]
        need = frames_needed(target)
        if feasible and need > frames:
            target = target[:frames // 2]
            need = frames_needed(target)
        targets.append(target)
        low = need if feasible else max(need - 3, 0)  # else often too short
        in_lens.append(int(rng.integers(low, min(need + 3, frames) + 1)))
    # the longest input fills T; else the first is one frame too short
    in_lens[0] = int(frames) if feasible else frames_needed(targets[0]) - 1
    width = max(len(t) for t in targets) + 2
    padded = rng.integers(-5, classes + 5, (batch, width))  # ignored past the lengths
    for n, t in enumerate(targets):
        padded[n, :len(t)] = t
    concatenated = np.concatenate([np.asarray(t, dtype=np.int64) for t in targets])
    logits = rng.standard_normal((frames, batch, classes)) * 2
    return logits, padded, concatenated, in_lens, [len(t) for t in targets], blank


def losses(logits, targets, in_lens, tg_lens, **kwargs):
    """Ours and PyTorch's loss of log_softmax(logits), with the logits as leaves."""
    torch = pytest.importorskip("torch")
    x = mg.tensor(logits, requires_grad=True)
    ref_x = torch.tensor(logits, requires_grad=True)
    ours = F.ctc_loss(F.log_softmax(x, axis=-1), mg.tensor(targets), mg.tensor(in_lens),
                      mg.tensor(tg_lens), **kwargs)
    theirs = torch.nn.functional.ctc_loss(ref_x.log_softmax(-1), torch.tensor(targets),
                                          torch.tensor(in_lens), torch.tensor(tg_lens),
                                          **kwargs)
    return (x, ours), (ref_x, theirs)


def assert_same(ours, theirs, rtol=1e-9, atol=1e-10):
    """Values, then the logits' gradients along a random direction."""
    torch = pytest.importorskip("torch")
    (x, out), (ref_x, ref) = ours, theirs
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    direction = np.random.default_rng(1).uniform(0.5, 1.5, tuple(ref.shape))
    (out * mg.tensor(direction)).sum().backward()
    (ref * torch.tensor(direction)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_matches_torch_on_random_batches(seed, layout, reduction):
    logits, padded, concatenated, in_lens, tg_lens, blank = random_batch(seed)
    targets = padded if layout == "padded" else concatenated
    assert_same(*losses(logits, targets, in_lens, tg_lens, blank=blank, reduction=reduction))


def test_ctc_matches_torch_on_a_long_sequence():
    rng = np.random.default_rng(7)
    logits = rng.standard_normal((120, 3, 20)) * 3
    targets = rng.integers(1, 20, (3, 40))
    targets[:, 5:9] = 4  # a run of repeats
    assert_same(*losses(logits, targets, [120, 100, 90], [40, 31, 12]), rtol=1e-8)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_targets_longer_than_the_input_with_zero_infinity_match_torch(seed, reduction):
    """Samples with no alignment cost 0 and get no gradient; the rest are unchanged."""
    logits, padded, _, in_lens, tg_lens, blank = random_batch(seed + 10, feasible=False)
    assert_same(*losses(logits, padded, in_lens, tg_lens, blank=blank, reduction=reduction,
                        zero_infinity=True))


def test_ctc_targets_longer_than_the_input_are_an_error_unless_zero_infinity():
    """A target with more labels than its input has frames can have no alignment at all: a
    malformed batch, refused clearly (PyTorch returns inf); zero_infinity=True keeps
    PyTorch's 0 for such samples."""
    logits = mg.tensor(np.random.default_rng(8).standard_normal((5, 2, 4)))
    targets = mg.tensor(np.array([[1, 2, 3], [2, 3, 0]]))
    with pytest.raises(ValueError, match=r"ctc_loss: target 0 has 3 labels but its input has "
                                         r"only 2 frames; pass zero_infinity=True"):
        F.ctc_loss(logits, targets, [2, 5], [3, 2])
    out = F.ctc_loss(logits, targets, [2, 5], [3, 2], reduction="none", zero_infinity=True)
    assert out.numpy()[0] == 0.0 and np.isfinite(out.numpy()[1])


def test_ctc_targets_infeasible_through_repeats_cost_inf_like_torch():
    """As in PyTorch, a target that fits its frames only without the blanks its repeated
    labels need is an infinite loss. Its gradient here is 0, where PyTorch's is NaN; the
    other samples' gradients agree."""
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(8).standard_normal((5, 3, 4))
    targets = np.array([[1, 1, 0], [2, 2, 0], [2, 3, 0]])  # [1, 1] needs 3 frames
    in_lens, tg_lens = [2, 2, 5], [2, 2, 2]
    (x, out), (ref_x, ref) = losses(logits, targets, in_lens, tg_lens, reduction="none")
    np.testing.assert_array_equal(out.numpy()[:2], [np.inf, np.inf])
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10)
    out.sum().backward()
    ref.sum().backward()
    assert np.isnan(ref_x.grad.numpy()[:, :2]).any()
    np.testing.assert_array_equal(x.grad.numpy()[:, :2], 0.0)
    np.testing.assert_allclose(x.grad.numpy()[:, 2], ref_x.grad.numpy()[:, 2], atol=1e-12)
    assert F.ctc_loss(mg.tensor(logits), mg.tensor(targets), in_lens, tg_lens).item() == np.inf
    assert torch.isinf(torch.nn.functional.ctc_loss(torch.tensor(logits),
                                                    torch.tensor(targets), in_lens, tg_lens))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_ctc_gradient_wrt_log_probs_is_torchs_minus_exp_log_probs(reduction):
    """PyTorch's backward returns exp(log_probs) - posterior (the gradient for logits under a
    log_softmax); ours is the derivative with respect to log_probs, -posterior. They differ
    by exp(log_probs) times each sample's upstream gradient, on its frames only."""
    torch = pytest.importorskip("torch")
    logits, padded, _, in_lens, tg_lens, blank = random_batch(3)
    log_probs = np.log(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True))
    x = mg.tensor(log_probs, requires_grad=True)
    ref_x = torch.tensor(log_probs, requires_grad=True)
    F.ctc_loss(x, mg.tensor(padded), in_lens, tg_lens, blank, reduction).backward()
    torch.nn.functional.ctc_loss(ref_x, torch.tensor(padded), in_lens, tg_lens, blank,
                                 reduction).backward()
    frames, batch, _ = log_probs.shape
    upstream = np.ones(batch)
    if reduction == "mean":
        upstream = 1.0 / (batch * np.maximum(tg_lens, 1))
    on_frame = np.arange(frames)[:, None] < np.array(in_lens)[None, :]
    shift = np.exp(log_probs) * (upstream * on_frame)[:, :, None]
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy() - shift, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_unbatched_matches_torch(reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    logits = rng.standard_normal((7, 5))
    target = np.array([3, 3, 1, 4])
    ref = torch.nn.functional.ctc_loss(torch.tensor(logits).log_softmax(-1),
                                       torch.tensor(target), torch.tensor(6), torch.tensor(4),
                                       reduction=reduction)
    log_probs = F.log_softmax(mg.tensor(logits), axis=-1)
    for in_len, tg_len in [(mg.tensor(6), mg.tensor(4)), (mg.tensor([6]), mg.tensor([4])),
                           (6, 4), ((6,), (4,))]:
        for targets in (target, target[None]):  # 1-d, or padded (1, S)
            out = F.ctc_loss(log_probs, mg.tensor(targets), in_len, tg_len,
                             reduction=reduction)
            assert out.shape == ()
            np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-12)


def test_ctc_takes_lengths_as_tensors_tuples_and_lists():
    logits, padded, _, in_lens, tg_lens, blank = random_batch(4)
    log_probs = F.log_softmax(mg.tensor(logits), axis=-1)
    results = [F.ctc_loss(log_probs, mg.tensor(padded), a, b, blank, "none").numpy()
               for a, b in [(mg.tensor(in_lens), mg.tensor(tg_lens)),
                            (mg.tensor(in_lens, dtype=mg.int32), mg.tensor(tg_lens)),
                            (tuple(in_lens), tuple(tg_lens)), (in_lens, tg_lens),
                            (np.array(in_lens), np.array(tg_lens))]]
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


def test_ctc_empty_targets_and_empty_inputs_match_torch():
    """An empty target costs -log P(all blanks); an empty input with an empty target
    costs 0, and with a non-empty one 0 under zero_infinity (as PyTorch)."""
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(10).standard_normal((4, 4, 3))
    targets = np.array([[1, 2], [0, 0], [2, 2], [1, 0]])
    in_lens, tg_lens = [4, 3, 0, 0], [2, 0, 0, 1]
    (x, out), (ref_x, ref) = losses(logits, targets, in_lens, tg_lens, blank=0,
                                    reduction="none", zero_infinity=True)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12)
    assert out.numpy()[2] == 0.0 and out.numpy()[3] == 0.0
    assert_same(*losses(logits, targets, in_lens, tg_lens, zero_infinity=True))
    assert_same(*losses(logits, np.zeros((4, 0), np.int64), in_lens, [0] * 4))
    assert_same(*losses(logits, np.zeros(0, np.int64), in_lens, [0] * 4, reduction="sum"))


def test_ctc_with_impossible_classes_matches_torch_where_torch_is_finite():
    """log p = -inf (a class masked out) counts as unreachable; the gradient there is 0,
    where PyTorch's is NaN."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    log_probs = np.log(rng.dirichlet(np.ones(4), (6, 2)))
    log_probs[:, :, 3] = -np.inf
    log_probs[2, 1] = [0.0, -np.inf, -np.inf, -np.inf]
    targets, in_lens, tg_lens = np.array([[1, 2, 2], [2, 1, 0]]), [6, 5], [3, 2]
    x = mg.tensor(log_probs, requires_grad=True)
    ref_x = torch.tensor(log_probs, requires_grad=True)
    out = F.ctc_loss(x, mg.tensor(targets), in_lens, tg_lens, reduction="sum")
    ref = torch.nn.functional.ctc_loss(ref_x, torch.tensor(targets), in_lens, tg_lens,
                                       reduction="sum")
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-12)
    out.backward()
    ref.backward()
    on_frame = (np.arange(6)[:, None] < np.array(in_lens))[:, :, None]
    expected = ref_x.grad.numpy() - np.exp(log_probs) * on_frame
    finite = np.isfinite(expected)
    assert not finite.all() and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy()[finite], expected[finite], atol=1e-12)
    np.testing.assert_array_equal(x.grad.numpy()[np.isneginf(log_probs)], 0.0)


def test_ctc_keeps_float32():
    torch = pytest.importorskip("torch")
    logits, padded, _, in_lens, tg_lens, blank = random_batch(5)
    logits = logits.astype(np.float32)
    x = mg.tensor(logits, requires_grad=True)
    out = F.ctc_loss(F.log_softmax(x, axis=-1), mg.tensor(padded), in_lens, tg_lens, blank)
    out.backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    ref_x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    ref = torch.nn.functional.ctc_loss(ref_x.log_softmax(-1), torch.tensor(padded), in_lens,
                                       tg_lens, blank)
    ref.backward()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), atol=1e-5)


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_module_matches_torch(zero_infinity):
    torch = pytest.importorskip("torch")
    logits, padded, concatenated, in_lens, tg_lens, blank = random_batch(6)
    module = nn.CTCLoss(blank, "sum", zero_infinity)
    ref_module = torch.nn.CTCLoss(blank, "sum", zero_infinity)
    x = mg.tensor(logits, requires_grad=True)
    ref_x = torch.tensor(logits, requires_grad=True)
    out = module(F.log_softmax(x, axis=-1), mg.tensor(concatenated), in_lens, tg_lens)
    ref = ref_module(ref_x.log_softmax(-1), torch.tensor(concatenated), torch.tensor(in_lens),
                     torch.tensor(tg_lens))
    assert_same((x, out), (ref_x, ref))
    assert repr(module) == "CTCLoss(reduction='sum')"
    assert list(module.state_dict()) == []


@given(frames=st.integers(1, 5), batch=st.integers(1, 3), classes=st.integers(2, 4),
       data=st.data(), layout=st.sampled_from(["padded", "concatenated"]),
       reduction=st.sampled_from(REDUCTIONS))
def test_ctc_gradchecks(frames, batch, classes, data, layout, reduction):
    """On raw scores, not normalised: the true derivative of the alpha recursion."""
    blank = data.draw(st.integers(0, classes - 1))
    label = st.integers(0, classes - 1).filter(lambda c: c != blank)
    targets = [data.draw(st.lists(label, max_size=3)) for _ in range(batch)]
    in_lens = [data.draw(st.integers(1 if n == 0 else 0, frames)) for n in range(batch)]
    tg_lens = [len(t) for t in targets]
    if layout == "padded":
        labels = mg.tensor([t + [blank] * (3 - len(t)) for t in targets])
    else:
        labels = mg.tensor(sum(targets, []), dtype=mg.int64)
    scores = mg.tensor(np.random.default_rng(frames * batch).standard_normal(
        (frames, batch, classes)), requires_grad=True)
    assert mg.gradcheck(lambda s: F.ctc_loss(s, labels, in_lens, tg_lens, blank, reduction,
                                             zero_infinity=True), [scores])


def test_ctc_gradgradchecks():
    scores = mg.tensor(np.random.default_rng(12).standard_normal((4, 2, 3)), requires_grad=True)
    assert mg.gradgradcheck(lambda s: F.ctc_loss(F.log_softmax(s, axis=-1),
                                                 mg.tensor([[1, 1], [2, 0]]), [4, 3], [2, 1]),
                            [scores])


def test_ctc_names_malformed_input():
    log_probs = F.log_softmax(mg.randn(6, 2, 4), axis=-1)
    targets, in_lens, tg_lens = mg.tensor([[1, 2, 2], [3, 1, 0]]), [6, 5], [3, 2]
    cases = [
        (ValueError, r"input_lengths must be at most the input's length T=6, got 7",
         dict(input_lengths=[7, 5])),
        (ValueError, r"padded targets must have shape \(2, S\) with S at least the longest "
                     r"target length 4, got \(2, 3\)", dict(target_lengths=[4, 2])),
        (ValueError, r"padded targets must have shape \(2, S\) .* got \(1, 3\)",
         dict(targets=targets[:1])),
        (ValueError, r"concatenated targets must hold sum\(target_lengths\) = 5 labels, "
                     r"got 4", dict(targets=mg.tensor([1, 2, 2, 3]))),
        (ValueError, r"targets must be padded \(N, S\) or concatenated .* got shape "
                     r"\(1, 2, 3\)", dict(targets=targets.unsqueeze(0))),
        (ValueError, r"target_lengths must have one entry per batch element \(2\), got 1",
         dict(target_lengths=[3])),
        (ValueError, r"input_lengths must have one entry per batch element \(2\), got 3",
         dict(input_lengths=mg.tensor([6, 5, 4]))),
        (ValueError, r"target_lengths must be non-negative, got -1",
         dict(target_lengths=[-1, 2])),
        (ValueError, r"input_lengths must be non-negative, got -2", dict(input_lengths=[-2, 5])),
        (TypeError, r"input_lengths must hold integers, got dtype float32",
         dict(input_lengths=mg.tensor([6.0, 5.0]))),
        (TypeError, r"target_lengths must hold integers, got \[3.0, 2.0\]",
         dict(target_lengths=[3.0, 2.0])),
        (TypeError, r"targets must hold integer class indices, got dtype float32",
         dict(targets=mg.tensor([[1.0, 2.0, 2.0], [3.0, 1.0, 0.0]]))),
        (IndexError, r"target label 4 is out of bounds for 4 classes",
         dict(targets=mg.tensor([[1, 4, 2], [3, 1, 0]]))),
        (IndexError, r"target label -1 is out of bounds for 4 classes",
         dict(targets=mg.tensor([[1, 2, 2], [-1, 1, 0]]))),
        (ValueError, r"blank=4 is not a class index in \[0, 4\)", dict(blank=4)),
        (ValueError, r"reduction must be one of \('mean', 'sum', 'none'\), got 'avg'",
         dict(reduction="avg")),
        (ValueError, r"log_probs must be \(T, N, C\), or \(T, C\) unbatched, got shape "
                     r"\(6, 2, 4, 1\)", dict(log_probs=log_probs.unsqueeze(-1))),
    ]
    for error, message, change in cases:
        args = dict(log_probs=log_probs, targets=targets, input_lengths=in_lens,
                    target_lengths=tg_lens)
        args.update(change)
        with pytest.raises(error, match="ctc_loss: " + message):
            F.ctc_loss(**args)
    with pytest.raises(ValueError, match="CTCLoss: reduction must be one of"):
        nn.CTCLoss(reduction="batchmean")
