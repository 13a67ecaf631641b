"""Saved arrays are released by backward, and training loops do not leak graph nodes."""
import gc
import weakref

import numpy as np

import minigrad as mg
from minigrad.primitive import Node


def live_nodes():
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Node)


def _graph(with_unsaved=False):
    x = mg.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3), requires_grad=True)
    h = x * 2.0            # an intermediate no rule reads: tanh's rule uses its output
    t = mg.tanh(h)         # saved (as tanh's output, and by the multiply below)
    e = mg.exp(t)          # exp's rule uses its output e
    loss = (e * t).sum()
    refs = [weakref.ref(t._data), weakref.ref(e._data)]
    if with_unsaved:
        return x, loss, refs, weakref.ref(h._data)
    return x, loss, refs


def test_saved_arrays_are_released_after_backward():
    x, loss, refs = _graph()
    assert all(r() is not None for r in refs)  # the graph keeps them alive before backward
    loss.backward()
    assert [r() is None for r in refs] == [True, True]
    assert x.grad is not None and loss._node.args is None


def test_values_no_rule_reads_are_not_kept_alive_by_the_graph():
    x, loss, refs, unsaved = _graph(with_unsaved=True)
    gc.collect()
    assert unsaved() is None          # x * 2.0 is gone already: only its shape was needed
    assert all(r() is not None for r in refs)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), _expected_grad(x.numpy()))


def _expected_grad(x):
    t = np.tanh(2 * x)
    return (np.exp(t) * t + np.exp(t)) * (1 - t * t) * 2


def test_retain_graph_keeps_the_saved_arrays_until_the_last_backward():
    x, loss, refs = _graph()
    loss.backward(retain_graph=True)
    assert all(r() is not None for r in refs)
    loss.backward()
    assert all(r() is None for r in refs)


def test_mg_grad_releases_too():
    x, loss, refs = _graph()
    mg.grad(loss, x)
    assert all(r() is None for r in refs)


def test_thousand_training_steps_leave_no_growing_number_of_nodes():
    rng = np.random.default_rng(0)
    W = mg.tensor(rng.normal(size=(4, 4)) * 0.3, requires_grad=True)
    b = mg.tensor(np.zeros(4), requires_grad=True)
    xs = mg.tensor(rng.normal(size=(8, 4)))
    baseline = live_nodes()
    counts = []
    for step in range(1000):
        h = xs
        for _ in range(3):                      # a small recurrent-ish stack, W reused
            h = mg.tanh(h @ W + b)
        loss = (h * h).mean()
        loss.backward()
        with mg.no_grad():
            W -= 0.01 * W.grad
            b -= 0.01 * b.grad
        W.grad = None
        b.grad = None
        if step in (99, 999):
            counts.append(live_nodes() - baseline)
    # the last iteration's loss is still referenced: its graph may be alive, nothing more
    assert counts[1] <= counts[0] <= 12, counts
    del h, loss
    assert live_nodes() - baseline == 0


def test_graphs_are_freed_by_reference_counting_alone():
    """No reference cycles: nodes vanish as soon as the outputs go, without the collector."""
    baseline = live_nodes()
    gc.disable()
    try:
        x = mg.tensor(np.ones(3), requires_grad=True)
        for _ in range(200):
            loss = (mg.exp(x) * x).sum()
            loss.backward()
        nodes_now = sum(1 for o in gc.get_objects() if type(o) is Node)
        del loss
        nodes_after = sum(1 for o in gc.get_objects() if type(o) is Node)
    finally:
        gc.enable()
    assert nodes_now - baseline <= 3
    assert nodes_after - baseline == 0


def test_truncated_bptt_with_detach_keeps_memory_flat():
    W = mg.tensor(np.eye(3) * 0.5, requires_grad=True)
    h = mg.tensor(np.zeros(3))
    x = mg.tensor(np.ones(3))
    sizes = []
    for chunk in range(30):
        for _ in range(5):
            h = mg.tanh(W @ h + x)
        loss = h.sum()
        loss.backward()
        h = h.detach()
        del loss
        if chunk in (4, 29):
            sizes.append(live_nodes())
    assert sizes[1] <= sizes[0], sizes


def test_a_node_keeps_the_arrays_its_rules_read_not_the_input_tensors():
    """A product saves both inputs' values; the intermediate Tensor objects themselves may
    go (create_graph puts the arrays back on the tape through the node's edges)."""
    x = mg.tensor(np.linspace(0.5, 1.5, 6).reshape(2, 3), requires_grad=True)
    h = x * 3.0
    y = h * h
    tensor_ref, array_ref = weakref.ref(h), weakref.ref(h._data)
    del h
    gc.collect()
    assert tensor_ref() is None and array_ref() is not None
    (g,) = mg.grad(y.sum(), x, create_graph=True)  # d/dx (3x)^2 = 18 x
    np.testing.assert_allclose(g.numpy(), 18 * x.numpy(), rtol=1e-6)
    (gg,) = mg.grad(g.sum(), x)  # and again through the rebuilt inputs: 18
    np.testing.assert_allclose(gg.numpy(), np.full((2, 3), 18.0), rtol=1e-6)
