"""The fused recurrent steps (backends/recurrent_kernels.py): the GPU's kernel bodies,
compiled for the CPU (backends/compiled_kernel.py), against NumPy's generic steps.

The NumPy backend runs the compiled steps wherever a C++ compiler works;
``MINIGRAD_CPU_KERNELS=0`` gives the generic in-place steps. The whole layer (both
directions, lengths, initial states, gradients) must agree between the two. On a GPU,
tests/test_rnn.py and the fused vs step-by-step tests run the CuPy kernels.
"""
import contextlib
import copy
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad.backends import compiled_kernel, get_backend
from minigrad.backends.recurrent_kernels import SOURCES

pytestmark = pytest.mark.skipif(not compiled_kernel.available(),
                                reason="no working C++ compiler here (or MINIGRAD_CPU_KERNELS=0)")


LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN,
          "rnn_relu": lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k)}


@contextlib.contextmanager
def cpu_kernels(on):
    """The compiled steps (on) or NumPy's generic ones, checked to be the ones in use."""
    kept = os.environ.get("MINIGRAD_CPU_KERNELS")
    os.environ["MINIGRAD_CPU_KERNELS"] = "1" if on else "0"
    try:
        assert bool(get_backend("numpy").recurrent_kernels(np.float64)) == on
        yield
    finally:
        if kept is None:
            del os.environ["MINIGRAD_CPU_KERNELS"]
        else:
            os.environ["MINIGRAD_CPU_KERNELS"] = kept


def run(layer, x, lengths, state, compiled):
    """Outputs, final states and every gradient of one layer."""
    dtype = layer.weight_ih_l0.dtype
    x = mg.tensor(x.astype(dtype), requires_grad=True, device="cpu")
    state = None if state is None else tuple(
        mg.tensor(s.astype(dtype), requires_grad=True, device="cpu") for s in state)
    if state is not None and not isinstance(layer, nn.LSTM):
        state = state[0]
    with cpu_kernels(compiled):
        out, final = layer(x, state, lengths=lengths)
        finals = final if isinstance(final, tuple) else (final,)
        # a weighting that differs per element, so every gradient path is exercised
        weights = np.cos(np.arange(out.numel())).reshape(out.shape).astype(dtype)
        loss = (out * mg.tensor(weights, device="cpu")).sum()
        for k, f in enumerate(finals):
            loss = loss + (f * (k + 2)).sum()
        loss.backward()
    grads = [x.grad] + [p.grad for p in layer.parameters()] + \
        ([] if state is None else [s.grad for s in (state if isinstance(state, tuple)
                                                    else (state,))])
    return [t.numpy() for t in (out, *finals, *grads)]


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("kind", sorted(SOURCES))
@given(steps=st.integers(1, 5), batch=st.integers(1, 3), width=st.integers(1, 3),
       hidden=st.integers(1, 4), bidirectional=st.booleans(), with_lengths=st.booleans(),
       with_state=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_fused_steps_equal_the_generic_ones(dtype, tolerance, kind, steps, batch, width,
                                            hidden, bidirectional, with_lengths, with_state,
                                            seed):
    rng = np.random.default_rng(seed)
    mg.manual_seed(seed)
    layer = LAYERS[kind](width, hidden, num_layers=2,
                         bidirectional=bidirectional).to(dtype).to("cpu")
    x = rng.normal(size=(steps, batch, width)) * 2
    lengths = np.sort(rng.integers(1, steps + 1, batch))[::-1].copy() if with_lengths else None
    directions = 2 if bidirectional else 1
    state = tuple(rng.normal(size=(2 * directions, batch, hidden)) for _ in range(2)) \
        if with_state else None
    generic = run(copy.deepcopy(layer), x, lengths, state, compiled=False)
    fused = run(layer, x, lengths, state, compiled=True)
    for g, f in zip(generic, fused, strict=True):
        np.testing.assert_allclose(f, g, rtol=tolerance, atol=tolerance)


def test_a_broadcast_output_gradient_reaches_the_compiled_steps():
    """``out.sum().backward()`` hands the primitive a broadcast gradient (zero strides):
    the compiled backward takes it as CuPy's does."""
    layer = nn.LSTM(3, 4).double().to("cpu")
    x = mg.tensor(np.random.default_rng(0).normal(size=(5, 2, 3)), requires_grad=True,
                  device="cpu")
    grads = []
    for compiled in (False, True):
        with cpu_kernels(compiled):
            x.grad = None
            out, (h, c) = layer(x)
            (out.sum() + c.sum()).backward()
            grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-14)
