"""The GPU's fused recurrent steps (backends/recurrent_kernels.py), checked on the CPU.

CuPy compiles each kernel body with NVRTC; here the same bodies are compiled as C++
(tests/cpu_elementwise_kernel.py) and plugged into a NumPy backend, so the whole layer
(both directions, lengths, initial states, gradients) runs through the fused code and
must agree with the generic in-place steps. On a GPU, tests/test_rnn.py and the fused vs
step-by-step tests run the real kernels.
"""
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad.backends import ArrayBackend
from minigrad.backends.recurrent_kernels import SOURCES, build

from cpu_elementwise_kernel import COMPILER, CpuElementwiseKernel

pytestmark = pytest.mark.skipif(COMPILER is None, reason="no C++ compiler (g++) here")


class FusedCpu(ArrayBackend):
    """NumPy with the GPU's per-step kernels, compiled for the CPU."""

    _kernels: dict = {}

    def recurrent_kernels(self, dtype):
        if not FusedCpu._kernels:
            FusedCpu._kernels.update(build(CpuElementwiseKernel))
        return FusedCpu._kernels if np.dtype(dtype) == np.float64 else {}


mg.register_backend("fusedcpu", lambda: FusedCpu("fusedcpu", "fusedcpu", np))
LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN,
          "rnn_relu": lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k)}


def run(layer, x, lengths, state, device):
    """Outputs, final states and every gradient of one layer on ``device``."""
    layer = layer.to(device)
    x = mg.tensor(x, device=device, requires_grad=True)
    state = None if state is None else tuple(mg.tensor(s, device=device, requires_grad=True)
                                             for s in state)
    if state is not None and not isinstance(layer, nn.LSTM):
        state = state[0]
    out, final = layer(x, state, lengths=lengths)
    finals = final if isinstance(final, tuple) else (final,)
    # a weighting that differs per element, so every gradient path is exercised
    loss = (out * mg.tensor(np.cos(np.arange(out.numel())).reshape(out.shape),
                            device=device)).sum()
    for k, f in enumerate(finals):
        loss = loss + (f * (k + 2)).sum()
    loss.backward()
    grads = [x.grad] + [p.grad for p in layer.parameters()] + \
        ([] if state is None else [s.grad for s in (state if isinstance(state, tuple)
                                                    else (state,))])
    return [t.numpy() for t in (out, *finals, *grads)]


@pytest.mark.parametrize("kind", sorted(SOURCES))
@given(steps=st.integers(1, 5), batch=st.integers(1, 3), width=st.integers(1, 3),
       hidden=st.integers(1, 4), bidirectional=st.booleans(), with_lengths=st.booleans(),
       with_state=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_fused_steps_equal_the_generic_ones(kind, steps, batch, width, hidden, bidirectional,
                                            with_lengths, with_state, seed):
    rng = np.random.default_rng(seed)
    mg.manual_seed(seed)
    layer = LAYERS[kind](width, hidden, num_layers=2, bidirectional=bidirectional).double()
    x = rng.normal(size=(steps, batch, width)) * 2
    lengths = np.sort(rng.integers(1, steps + 1, batch))[::-1].copy() if with_lengths else None
    directions = 2 if bidirectional else 1
    state = tuple(rng.normal(size=(2 * directions, batch, hidden)) for _ in range(2)) \
        if with_state else None
    generic = run(copy.deepcopy(layer), x, lengths, state, "cpu")
    fused = run(layer, x, lengths, state, "fusedcpu")
    for g, f in zip(generic, fused, strict=True):
        np.testing.assert_allclose(f, g, rtol=1e-12, atol=1e-13)


def test_the_stand_in_keeps_cupys_contract():
    """Inputs broadcast, outputs are read and written in place, names are checked."""
    kernel = CpuElementwiseKernel("T x, T y", "T acc", "acc = acc * 2 + x * y;", "demo")
    acc = np.ones((2, 3))
    kernel(np.arange(3.0), np.full((2, 1), 2.0), acc)
    np.testing.assert_array_equal(acc, 2 + 2 * np.arange(3.0)[None].repeat(2, 0))
    with pytest.raises(TypeError, match="2 inputs and 1 outputs"):
        kernel(acc, acc)
