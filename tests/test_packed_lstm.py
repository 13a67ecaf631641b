"""The LSTM layer's compiled time loops (backends/packed_matmul.py ``lstm_forward`` and
``lstm_backward``) against a plain NumPy LSTM, with and without helper threads, at the
limits of the activations, and where the backend uses them.

The layers' own tests (test_fused_rnn.py: every configuration against the step-by-step
layers; the PyTorch oracle) run through them too wherever the weights are packed."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad.backends import compiled_kernel, get_backend, threads
from minigrad.backends.packed_matmul import lstm_backward, lstm_forward

pytestmark = pytest.mark.skipif(not compiled_kernel.available(),
                                reason="no working C++ compiler here (or MINIGRAD_CPU_KERNELS=0)")

TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def reference_forward(pre, w_hh, bias, h0, c0, reverse):
    """acts (activated gates) and states (2, T + 1, B, H) as sequence.py lays them out."""
    steps, batch, width = pre.shape
    hidden, r = width // 4, int(reverse)
    acts = np.empty_like(pre)
    states = np.empty((2, steps + 1, batch, hidden), pre.dtype)
    states[0, steps * r], states[1, steps * r] = h0, c0
    for t in (range(steps - 1, -1, -1) if r else range(steps)):
        prev, new = t + r, t + 1 - r
        z = pre[t] + bias + states[0, prev] @ w_hh.T
        i, f = _sigmoid(z[:, :hidden]), _sigmoid(z[:, hidden:2 * hidden])
        g, o = np.tanh(z[:, 2 * hidden:3 * hidden]), _sigmoid(z[:, 3 * hidden:])
        states[1, new] = f * states[1, prev] + i * g
        states[0, new] = o * np.tanh(states[1, new])
        acts[t] = np.concatenate([i, f, g, o], axis=1)
    return acts, states


def reference_backward(grads, acts, states, w_hh, reverse):
    steps, _, width = acts.shape
    hidden, r = width // 4, int(reverse)
    dgates = np.empty_like(acts)
    dh, dc = grads[0, steps * (1 - r)].copy(), grads[1, steps * (1 - r)].copy()
    for t in (range(steps) if r else range(steps - 1, -1, -1)):
        prev, new = t + r, t + 1 - r
        i, f, g, o = (acts[t][:, k * hidden:(k + 1) * hidden] for k in range(4))
        tc = np.tanh(states[1, new])
        dct = dc + dh * o * (1 - tc * tc)
        dgates[t] = np.concatenate([dct * g * i * (1 - i), dct * states[1, prev] * f * (1 - f),
                                    dct * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
        dh, dc = dgates[t] @ w_hh + grads[0, prev], dct * f + grads[1, prev]
    return dgates, dh, dc


def _problem(seed, steps, batch, hidden, dtype, scale=0.5):
    r = np.random.default_rng(seed)
    pre = r.standard_normal((steps, batch, 4 * hidden)).astype(dtype)
    w_hh = (r.standard_normal((4 * hidden, hidden)) * scale / np.sqrt(hidden)).astype(dtype)
    bias = r.standard_normal(4 * hidden).astype(dtype)
    h0, c0 = r.standard_normal((2, batch, hidden)).astype(dtype)
    grads = r.standard_normal((2, steps + 1, batch, hidden)).astype(dtype)
    return pre, w_hh, bias, h0, c0, grads


def _check(seed, steps, batch, hidden, dtype, reverse):
    pre, w_hh, bias, h0, c0, grads = _problem(seed, steps, batch, hidden, dtype)
    expected_acts, expected_states = reference_forward(pre, w_hh, bias, h0, c0, reverse)
    acts = pre.copy()
    states = np.full((2, steps + 1, batch, hidden), np.nan, dtype)
    states[0, steps * reverse], states[1, steps * reverse] = h0, c0
    lstm_forward(acts, w_hh, bias, states, reverse)
    np.testing.assert_allclose(acts, expected_acts, **TOLERANCE[dtype])
    np.testing.assert_allclose(states, expected_states, **TOLERANCE[dtype])
    got = lstm_backward(grads, acts, states, w_hh, reverse)
    for mine, theirs in zip(got, reference_backward(grads, acts, states, w_hh, reverse)):
        np.testing.assert_allclose(mine, theirs, **TOLERANCE[dtype])


@given(steps=st.integers(1, 6), batch=st.integers(1, 21), hidden=st.integers(1, 40),
       dtype=st.sampled_from([np.float32, np.float64]), reverse=st.booleans(),
       seed=st.integers(0, 2**16))
def test_loops_equal_a_plain_lstm(steps, batch, hidden, dtype, reverse, seed):
    _check(seed, steps, batch, hidden, dtype, reverse)


@given(steps=st.integers(4, 7), batch=st.integers(8, 40), hidden=st.integers(64, 90),
       helpers=st.integers(1, 3), dtype=st.sampled_from([np.float32, np.float64]),
       reverse=st.booleans(), seed=st.integers(0, 2**16))  # big enough to be shared
def test_loops_shared_by_rows_with_helper_threads_equal_a_plain_lstm(
        steps, batch, hidden, helpers, dtype, reverse, seed):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threads, "kernel_threads", lambda: helpers + 1)
        for _ in range(2):  # again, with the helpers awake
            _check(seed, steps, batch, hidden, dtype, reverse)


@pytest.mark.parametrize("reverse", [False, True])
def test_loops_over_a_weight_too_big_to_split_by_rows_share_each_steps_panels(
        monkeypatch, reverse):
    """float64 W_hh of 4 x 190 x 190 (1.1 MiB): each step's panels go to the threads."""
    monkeypatch.setattr(threads, "kernel_threads", lambda: 2)
    for _ in range(2):
        _check(7, 3, 9, 190, np.float64, reverse)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_at_their_limits_and_nan(dtype):
    """Saturated gates reach 0, 1 and +-1 as NumPy's do; NaN goes through."""
    pre, w_hh, bias, h0, c0, _ = _problem(1, 2, 3, 20, dtype)
    pre[0, 0] = 1e4
    pre[0, 1] = -1e4
    pre[1, 1, :5] = np.inf
    pre[1, 1, 5:10] = -np.inf
    pre[1, 2, 3] = np.nan
    w_hh[:] = 0  # no mixing: each row's limits stay its own
    expected_acts, expected_states = reference_forward(pre, w_hh, bias, h0, c0, False)
    acts, states = pre.copy(), np.empty((2, 3, 3, 20), dtype)
    states[:, 0] = h0, c0
    lstm_forward(acts, w_hh, bias, states, False)
    assert np.array_equal(np.isnan(acts), np.isnan(expected_acts))
    assert np.array_equal(np.isnan(states), np.isnan(expected_states))
    np.testing.assert_allclose(acts, expected_acts, rtol=1e-6, atol=1e-30)  # 0 is 0
    np.testing.assert_allclose(states, expected_states, **TOLERANCE[dtype])


def test_tanh_keeps_relative_accuracy_near_zero():
    """g = tanh(z) for tiny z: no cancellation (1 - e^-2z would lose it all)."""
    z = np.array([1e-30, -1e-30, 1e-8, -1e-7, 3e-4, 0.0, -0.0, 0.3], np.float32)
    pre = np.zeros((1, len(z), 4), np.float32)
    pre[0, :, 2] = z
    acts, states = pre.copy(), np.zeros((2, 2, len(z), 1), np.float32)
    lstm_forward(acts, np.zeros((4, 1), np.float32), np.zeros(4, np.float32), states)
    np.testing.assert_allclose(acts[0, :, 2], np.tanh(z), rtol=3e-7, atol=0)


def test_bad_arguments_name_what_is_wrong():
    pre, w_hh, bias, h0, c0, grads = _problem(0, 3, 2, 5, np.float64)
    states = np.zeros((2, 4, 2, 5))
    with pytest.raises(ValueError, match=r"lstm_forward: bias must be a float64 array of "
                                         r"shape \(20,\) for acts of shape \(3, 2, 20\), "
                                         r"got shape \(19,\)"):
        lstm_forward(pre.copy(), w_hh, bias[:19], states)
    with pytest.raises(ValueError, match=r"lstm_forward: states must be .* \(2, 4, 2, 5\) "
                                         r".* got shape \(2, 3, 2, 5\)"):
        lstm_forward(pre.copy(), w_hh, bias, np.zeros((2, 3, 2, 5)))
    with pytest.raises(ValueError, match="lstm_forward: w_hh must be a float32 array .* "
                                         "dtype float64"):
        lstm_forward(pre.astype(np.float32), w_hh, bias.astype(np.float32),
                     states.astype(np.float32))
    with pytest.raises(ValueError, match=r"acts must be a contiguous .* \(steps, batch, "
                                         r"4 \* hidden\), got shape \(3, 2, 19\)"):
        lstm_forward(pre[..., :19].copy(), w_hh, bias, states)
    with pytest.raises(ValueError, match="acts must be a contiguous"):
        lstm_forward(pre[:, ::-1], w_hh, bias, states)
    with pytest.raises(ValueError, match=r"lstm_backward: grads must be .* got shape "
                                         r"\(2, 3, 2, 5\)"):
        lstm_backward(grads[:, :3], pre, states, w_hh)


def test_the_backend_runs_lstm_loops_where_it_packs_the_weight(monkeypatch):
    backend = get_backend("numpy")
    w = np.ones((4 * 16, 16), np.float32)
    assert backend.sequence_forward("lstm", w) is lstm_forward
    assert backend.sequence_backward("lstm", w) is lstm_backward
    assert backend.sequence_forward("gru", w) is None  # GRU and RNN loop step by step
    monkeypatch.setenv("MINIGRAD_CPU_KERNELS", "0")
    assert backend.sequence_forward("lstm", w) is None
    assert backend.sequence_backward("lstm", w) is None
