"""Truncated backpropagation through time: detach the carried state between chunks.

Memory must stay flat however many chunks run (each chunk's graph is freed), and
the gradients of every chunk must equal PyTorch's doing the same TBPTT.
"""
import gc
import tracemalloc

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.primitive import Node

try:
    import torch
except ImportError:  # the oracle test is skipped, not failed, without PyTorch
    torch = None

CHUNKS, STEPS, BATCH, FEATURES, HIDDEN = 200, 5, 2, 3, 4


def _live_nodes():
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Node)


def _chunk_loss(model, x, state):
    out, state = model(x, state)
    return (out * out).mean(), state


def test_memory_stays_flat_over_200_chunks():
    model = nn.LSTM(FEATURES, HIDDEN, num_layers=2)
    data = mg.randn(CHUNKS, STEPS, BATCH, FEATURES)
    state = None
    tracemalloc.start()
    try:
        for chunk in range(CHUNKS):
            loss, (h, c) = _chunk_loss(model, data[chunk], state)
            model.zero_grad()
            loss.backward()
            state = (h.detach(), c.detach())
            if chunk == 19:
                nodes_early = _live_nodes()
                bytes_early = tracemalloc.get_traced_memory()[0]
        nodes_late = _live_nodes()
        bytes_late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert nodes_late <= nodes_early
    assert bytes_late - bytes_early < 32 * 1024, (bytes_early, bytes_late)


def test_node_count_would_see_a_growing_graph():
    """The measurement can fail: keeping the graph alive grows the node count."""
    model = nn.RNN(FEATURES, HIDDEN)
    state = None
    counts = []
    for _ in range(3):
        out, state = model(mg.randn(STEPS, BATCH, FEATURES), state)
        out.sum().backward(retain_graph=True)
        counts.append(_live_nodes())
    assert counts[0] < counts[1] < counts[2]


def test_without_detach_the_second_chunk_says_what_to_do():
    model = nn.GRU(FEATURES, HIDDEN)
    out, h = model(mg.randn(STEPS, BATCH, FEATURES))
    out.sum().backward()
    out, h = model(mg.randn(STEPS, BATCH, FEATURES), h)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        out.sum().backward()


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_tbptt_gradients_equal_torch(kind):
    theirs = getattr(torch.nn, kind)(FEATURES, HIDDEN, num_layers=2).double()
    ours = getattr(nn, kind)(FEATURES, HIDDEN, num_layers=2).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    data = np.random.randn(CHUNKS, STEPS, BATCH, FEATURES)
    t_params = dict(theirs.named_parameters())
    t_state = m_state = None
    for chunk in range(CHUNKS):
        m_loss, m_state = _chunk_loss(ours, mg.tensor(data[chunk]), m_state)
        t_loss, t_state = _chunk_loss(theirs, torch.tensor(data[chunk]), t_state)
        ours.zero_grad()
        theirs.zero_grad()
        m_loss.backward()
        t_loss.backward()
        np.testing.assert_allclose(m_loss.item(), t_loss.item(), rtol=1e-10)
        with mg.no_grad(), torch.no_grad():  # plain SGD, so the chunks see moving weights
            for name, p in ours.named_parameters():
                np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(),
                                           rtol=1e-8, atol=1e-12,
                                           err_msg=f"chunk {chunk}: {name}")
                p -= 0.5 * p.grad
                t_params[name] -= 0.5 * t_params[name].grad
        if kind == "LSTM":
            m_state = tuple(s.detach() for s in m_state)
            t_state = tuple(s.detach() for s in t_state)
        else:
            m_state, t_state = m_state.detach(), t_state.detach()
