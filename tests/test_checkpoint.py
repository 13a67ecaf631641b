"""mg.utils.checkpoint: gradients equal to the un-checkpointed run (also with dropout
inside, with mg.grad, with constant inputs), PyTorch's checkpoint_sequential as an
oracle, and the memory claim: a 2,000-step LSTMCell unroll in O(sqrt T) memory."""
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.utils.checkpoint import checkpoint, checkpoint_sequential


def grads(params):
    return [p.grad.numpy().copy() for p in params]


def assert_same(a, b, rtol=1e-12, atol=1e-14):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def mlp(seed=0, p=0.0):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(p), nn.Linear(8, 8),
                         nn.Tanh(), nn.Dropout(p), nn.Linear(8, 3)).double()


def test_gradients_equal_the_plain_run():
    model = mlp()
    x = mg.tensor(np.random.RandomState(0).randn(5, 4), requires_grad=True)

    def loss(use):
        model.zero_grad()
        x.grad = None
        h = checkpoint(model[:4], x) if use else model[:4](x)
        out = model[4:](h)
        (out ** 2).sum().backward()
        return out.numpy(), grads(model.parameters()) + [x.grad.numpy().copy()]

    plain_out, plain = loss(False)
    out, checked = loss(True)
    np.testing.assert_array_equal(out, plain_out)
    assert_same(checked, plain)


def test_parameters_get_gradients_when_no_input_requires_grad():
    model = mlp()
    x = mg.tensor(np.random.RandomState(1).randn(3, 4))  # data: no gradient wanted
    out = checkpoint(model, x)
    assert out.requires_grad and out.grad_fn is not None
    out.sum().backward()
    checked = grads(model.parameters())
    model.zero_grad()
    model(x).sum().backward()
    assert_same(checked, grads(model.parameters()))


def test_dropout_masks_match_because_the_rng_state_is_restored():
    model = mlp(p=0.5)
    x = mg.tensor(np.random.RandomState(2).randn(6, 4), requires_grad=True)

    def run(use, preserve=True):
        mg.manual_seed(7)
        model.zero_grad()
        out = checkpoint(model, x, preserve_rng_state=preserve) if use else model(x)
        (out ** 2).sum().backward()
        after = mg.rand(3).numpy()  # recomputing must not shift the program's random numbers
        return grads(model.parameters()), after

    plain, plain_after = run(False)
    checked, checked_after = run(True)
    assert_same(checked, plain)
    np.testing.assert_array_equal(checked_after, plain_after)
    unpreserved, _ = run(True, preserve=False)  # other masks in the recomputation
    assert any(not np.allclose(a, b) for a, b in zip(unpreserved, plain))


def test_mg_grad_sees_the_closed_over_parameters():
    model = mlp()
    x = mg.tensor(np.random.RandomState(3).randn(2, 4))
    params = list(model.parameters())
    checked = mg.grad((checkpoint(model, x) ** 2).sum(), params)
    plain = mg.grad((model(x) ** 2).sum(), params)
    assert_same([g.numpy() for g in checked], [g.numpy() for g in plain])
    assert all(p.grad is None for p in params)


def test_nested_arguments_keywords_and_tuple_outputs():
    cell = nn.LSTMCell(3, 4).double()
    rng = np.random.RandomState(4)
    xs = mg.tensor(rng.randn(5, 2, 3))
    h0 = mg.tensor(rng.randn(2, 4), requires_grad=True)
    c0 = mg.tensor(rng.randn(2, 4), requires_grad=True)

    def steps(state, inputs, scale=1.0):
        for t in range(inputs.shape[0]):
            state = cell(inputs[t] * scale, state)
        return {"h": state[0], "c": state[1], "steps": inputs.shape[0]}

    def run(use):
        cell.zero_grad()
        h0.grad = c0.grad = None
        out = checkpoint(steps, (h0, c0), xs, scale=0.5) if use else steps((h0, c0), xs, 0.5)
        assert out["steps"] == 5
        (out["h"].sum() + (out["c"] ** 2).sum()).backward()
        return grads(cell.parameters()) + [h0.grad.numpy().copy(), c0.grad.numpy().copy()]

    assert_same(run(True), run(False))


def test_an_unused_output_and_integer_outputs():
    w = nn.Parameter(mg.tensor(np.array([1.0, -2.0, 3.0])))

    def fn(x):
        return x * w, (x * w).argmax(), x + 1.0

    x = mg.tensor(np.array([0.5, 1.5, -1.0]))
    a, index, b = checkpoint(fn, x)
    assert not index.requires_grad and int(index) == 0
    (a * a).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.numpy() * x.numpy() ** 2)
    assert not b.requires_grad  # depends on no tensor that requires grad


@given(rows=st.integers(1, 3), cols=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_gradcheck_through_checkpoint(rows, cols, seed):
    rng = np.random.RandomState(seed)
    x = mg.tensor(rng.randn(rows, cols), requires_grad=True)
    w = mg.tensor(rng.randn(cols, cols), requires_grad=True)

    def block(x_, w_):
        return (x_ @ w_).tanh() * x_.sigmoid()

    assert mg.gradcheck(lambda x_, w_: checkpoint(block, x_, w_), (x, w))


def test_under_no_grad_it_is_the_plain_call():
    model = mlp()
    with mg.no_grad():
        out = checkpoint(model, mg.ones(1, 4, dtype=np.float64))
    assert out.grad_fn is None and not out.requires_grad


def test_higher_order_gradients_are_refused():
    w = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = checkpoint(lambda v: (v ** 3).sum(), w)
    with pytest.raises(RuntimeError, match="checkpoint does not support create_graph=True"):
        mg.grad(y, w, create_graph=True)


def test_an_input_changed_in_place_before_backward_is_reported():
    w = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = mg.tensor(np.array([3.0, 4.0]))
    y = checkpoint(lambda a, b: (a * b).sum(), w, x)
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_checkpoint_sequential_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint_sequential as torch_sequential
    model = mlp()
    twin = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Dropout(0.0),
                               torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Dropout(0.0),
                               torch.nn.Linear(8, 3)).double()
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                          for k, v in model.state_dict().items()})
    x = np.random.RandomState(5).randn(4, 4)
    for segments in (1, 2, 3):
        model.zero_grad()
        twin.zero_grad()
        xt = torch.from_numpy(x).requires_grad_()
        out = checkpoint_sequential(model, segments, mg.tensor(x))
        tout = torch_sequential(twin, segments, xt, use_reentrant=False)
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12)
        (out ** 2).sum().backward()
        (tout ** 2).sum().backward()
        for p, t in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_checkpoint_sequential_errors():
    with pytest.raises(ValueError, match=r"segments must be between 1 and the number of "
                                         r"functions \(7\), got 8"):
        checkpoint_sequential(mlp(), 8, mg.ones(1, 4, dtype=np.float64))
    with pytest.raises(ValueError, match="Unexpected keyword arguments: debug"):
        checkpoint_sequential(mlp(), 2, mg.ones(1, 4, dtype=np.float64), debug=True)


def test_full_bptt_through_2000_steps_in_sqrt_t_memory():
    """The issue's claim, measured by allocation peak (tracemalloc), not by time: the
    checkpointed unroll keeps sqrt(T) boundaries and one segment's graph alive."""
    T, B, H = 2000, 2, 4
    every = int(math.sqrt(T))
    mg.manual_seed(0)
    cell = nn.LSTMCell(3, H).double()
    xs = mg.tensor(np.random.RandomState(6).randn(T, B, 3))

    def steps(state, inputs):
        for t in range(inputs.shape[0]):
            state = cell(inputs[t], state)
        return state

    def peak_and_grads(segment):
        cell.zero_grad()
        state = (mg.zeros(B, H, dtype=np.float64), mg.zeros(B, H, dtype=np.float64))
        tracemalloc.start()
        try:
            for start in range(0, T, segment or T):
                chunk = xs[start:start + (segment or T)]
                state = checkpoint(steps, state, chunk) if segment else steps(state, chunk)
            (state[0].sum() + F.mse_loss(state[1], mg.zeros_like(state[1]))).backward()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return peak, grads(cell.parameters())

    full_peak, full = peak_and_grads(None)
    checked_peak, checked = peak_and_grads(every)
    assert_same(checked, full, rtol=1e-12, atol=1e-15)
    assert checked_peak < full_peak / 5, (checked_peak, full_peak)
