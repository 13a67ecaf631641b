"""Whole-sequence recurrent primitives: equal to the step-by-step layers, differentiable
twice, flat in memory under truncated BPTT.

``nn.RNN/LSTM/GRU`` run each layer and direction as one primitive
(``mg.lstm_sequence`` and friends); ``fused = False`` forces the step-by-step
reference path. The two must agree (float64, 1e-12) on outputs, final states and
every gradient, for every configuration. ``GRADIENT_TESTS`` is merged into the
registry check of test_gradients.py.
"""
import gc
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
import minigrad.nn as nn
from minigrad.primitive import Node

F64 = np.float64
MODES = ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"]
SEQUENCES = {"LSTM": mg.lstm_sequence, "GRU": mg.gru_sequence,
             "RNN_TANH": mg.rnn_tanh_sequence, "RNN_RELU": mg.rnn_relu_sequence}
GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _layer(mode, *args, **kwargs):
    if mode.startswith("RNN"):
        return nn.RNN(*args, nonlinearity=mode[4:].lower(), **kwargs)
    return getattr(nn, mode)(*args, **kwargs)


def _values(shape, lo=-2.0, hi=2.0):
    return hnp.arrays(F64, shape, elements=st.floats(lo, hi, allow_nan=False,
                                                     allow_subnormal=False))


def _leaf(array, requires_grad=True):
    return mg.tensor(np.asarray(array, dtype=F64), requires_grad=requires_grad)


# -- fused == step by step -----------------------------------------------------------------

@st.composite
def configurations(draw, mode):
    layers = draw(st.integers(1, 2))
    steps, batch = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    width, hidden = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    directions = draw(st.sampled_from([1, 2]))
    batch_first = draw(st.booleans())
    config = dict(mode=mode, layers=layers, hidden=hidden, width=width,
                  bidirectional=directions == 2, batch_first=batch_first,
                  bias=draw(st.booleans()),
                  dropout=draw(st.sampled_from([0.0, 0.5])) if layers == 2 else 0.0,
                  x_grad=draw(st.booleans()))
    shape = (batch, steps, width) if batch_first else (steps, batch, width)
    config["x"] = draw(_values(shape))
    if draw(st.booleans()):
        config["lengths"] = draw(st.lists(st.integers(1, steps), min_size=batch,
                                          max_size=batch))
    if draw(st.booleans()):
        state = (layers * directions, batch, hidden)
        config["hx"] = [draw(_values(state)) for _ in range(2 if mode == "LSTM" else 1)]
    out_shape = shape[:2] + (directions * hidden,)
    config["weights"] = [draw(_values(out_shape))] + [
        draw(_values((layers * directions, batch, hidden)))
        for _ in range(2 if mode == "LSTM" else 1)]
    return config


def _run(model, config, fused):
    """Outputs, final states and every gradient (parameters, input, initial state)."""
    model.fused = fused
    model.zero_grad()
    x = _leaf(config["x"], config["x_grad"])
    hx = [_leaf(h) for h in config.get("hx", [])]
    state = None if not hx else (tuple(hx) if config["mode"] == "LSTM" else hx[0])
    mg.manual_seed(1)  # the same dropout masks on both paths
    out, final = model(x, state, lengths=config.get("lengths"))
    finals = list(final) if config["mode"] == "LSTM" else [final]
    results = [out] + finals
    loss = sum((r * mg.tensor(w)).sum() for r, w in zip(results, config["weights"]))
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    grads.update(x=x.grad, **{f"hx{k}": h.grad for k, h in enumerate(hx)})
    return [r.numpy() for r in results], {k: None if g is None else g.numpy()
                                          for k, g in grads.items()}


@pytest.mark.parametrize("mode", MODES)
@given(data=st.data())
def test_fused_equals_step_by_step(mode, data):
    config = data.draw(configurations(mode))
    model = _layer(mode, config["width"], config["hidden"], num_layers=config["layers"],
                   bias=config["bias"], batch_first=config["batch_first"],
                   dropout=config["dropout"], bidirectional=config["bidirectional"]).double()
    fused_results, fused_grads = _run(model, config, fused=True)
    ref_results, ref_grads = _run(model, config, fused=False)
    for got, expected in zip(fused_results, ref_results):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert fused_grads.keys() == ref_grads.keys()
    for name, expected in ref_grads.items():
        got = fused_grads[name]
        assert (got is None) == (expected is None), name
        if expected is not None:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
def test_unbatched_input_and_float32_agree_too(mode):
    model = _layer(mode, 3, 4, num_layers=2, bidirectional=True)
    x = mg.randn(5, 3)
    results = []
    for fused in (True, False):
        model.fused = fused
        out, final = model(x)
        results.append([out] + (list(final) if mode == "LSTM" else [final]))
    for got, expected in zip(*results):
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def _names(tensor):
    """The grad_fn names of every node behind ``tensor`` (iteratively)."""
    names, todo, seen = [], [tensor.grad_fn], set()
    while todo:
        fn = todo.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        names.append(fn.name())
        todo.extend(f for f, _ in fn.next_functions)
    return names


def test_each_layer_and_direction_is_one_node():
    model = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    out, (h, c) = model(mg.randn(6, 2, 3))
    names = _names(out.sum() + h.sum() + c.sum())
    assert names.count("LstmSequenceBackward") == 4
    assert "LstmCellBackward" not in names and "AddmmBackward" not in names
    model.fused = False
    out, _ = model(mg.randn(6, 2, 3))
    assert _names(out).count("LstmCellBackward") == 4 * 6


def test_step_hooks_take_the_step_by_step_path():
    model = nn.GRU(3, 4, num_layers=2)
    seen = []
    handle = model.register_step_hook(lambda m, layer, d, t, h: seen.append((layer, t)))
    out, _ = model(mg.randn(5, 2, 3))
    assert seen == [(layer, t) for layer in range(2) for t in range(5)]
    assert "GruSequenceBackward" not in _names(out)
    handle.remove()
    assert "GruSequenceBackward" in _names(model(mg.randn(5, 2, 3))[0])


# -- the primitives themselves: gradcheck and gradgradcheck -----------------------------

@st.composite
def sequence_cases(draw, mode, max_steps=3):
    steps, batch = draw(st.integers(1, max_steps)), draw(st.integers(1, 2))
    width, hidden = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    gates = GATES[mode] * hidden
    shapes = [(steps, batch, width)] + [(batch, hidden)] * (2 if mode == "LSTM" else 1) + \
        [(gates, width), (gates, hidden)]
    if draw(st.booleans()):
        shapes += [(gates,), (gates,)]
    low = 0.2 if mode == "RNN_RELU" else 0.0  # relu: keep away from its kink
    arrays = [draw(_values(s, -1.5, 1.5)) for s in shapes]
    if low:  # positive inputs, initial states and weights: no pre-activation near 0
        arrays = [np.where(np.abs(a) < low, low, np.abs(a)) for a in arrays]
    lengths = None
    if draw(st.booleans()):
        lengths = draw(st.lists(st.integers(0, steps), min_size=batch, max_size=batch))
    return arrays, lengths, draw(st.booleans())


def _sequence_fn(mode, arrays, lengths, reverse):
    states = 2 if mode == "LSTM" else 1
    with_bias = len(arrays) == 5 + states  # x, states, w_ih, w_hh, b_ih, b_hh

    def fn(x, *rest):
        initial, weights = rest[:states], rest[states:]
        return SEQUENCES[mode](x, *initial, *weights[:2],
                               *(weights[2:] if with_bias else (None, None)),
                               lengths=lengths, reverse=reverse)
    return fn


@pytest.mark.parametrize("mode", MODES)
@given(data=st.data())
def test_sequence_gradcheck(mode, data):
    arrays, lengths, reverse = data.draw(sequence_cases(mode))
    assert mg.gradcheck(_sequence_fn(mode, arrays, lengths, reverse),
                        [_leaf(a) for a in arrays])


@pytest.mark.parametrize("mode", MODES)
@given(data=st.data())
def test_sequence_gradgradcheck(mode, data):
    arrays, lengths, reverse = data.draw(sequence_cases(mode, max_steps=2))
    assert mg.gradgradcheck(_sequence_fn(mode, arrays, lengths, reverse),
                            [_leaf(a) for a in arrays])


@pytest.mark.parametrize("mode", MODES)
@given(data=st.data())
def test_recorded_rule_equals_the_in_place_one(mode, data):
    """create_graph=True runs the rule's recorded twin: same first derivatives."""
    arrays, lengths, reverse = data.draw(sequence_cases(mode, max_steps=4))
    inputs = [_leaf(a) for a in arrays]
    outs = _sequence_fn(mode, arrays, lengths, reverse)(*inputs)
    rng = np.random.default_rng(0)
    directions = [mg.tensor(rng.standard_normal(o.shape)) for o in outs]
    in_place = mg.grad(outs, inputs, directions, retain_graph=True)
    recorded = mg.grad(outs, inputs, directions, create_graph=True)
    for i, (a, b) in enumerate(zip(in_place, recorded)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=f"input {i}")


GRADIENT_TESTS = {
    "lstm_sequence": test_sequence_gradcheck,
    "gru_sequence": test_sequence_gradcheck,
    "rnn_tanh_sequence": test_sequence_gradcheck,
    "rnn_relu_sequence": test_sequence_gradcheck,
}


def test_outputs_and_final_states():
    x, h0, c0 = mg.randn(4, 2, 3), mg.randn(2, 5), mg.randn(2, 5)
    w_ih, w_hh = mg.randn(20, 3), mg.randn(20, 5)
    out, h, c = mg.lstm_sequence(x, h0, c0, w_ih, w_hh)
    assert out.shape == (4, 2, 5) and h.shape == c.shape == (2, 5)
    np.testing.assert_array_equal(h.numpy(), out[-1].numpy())
    out, h, c = mg.lstm_sequence(x, h0, c0, w_ih, w_hh, reverse=True)
    np.testing.assert_array_equal(h.numpy(), out[0].numpy())
    out, h, c = mg.lstm_sequence(x, h0, c0, w_ih, w_hh, lengths=[4, 0])
    np.testing.assert_array_equal(out[:, 1].numpy(), np.broadcast_to(h0[1].numpy(), (4, 5)))
    np.testing.assert_array_equal(c[1].numpy(), c0[1].numpy())


def test_backward_twice_needs_retain_graph_and_then_doubles():
    x, h0 = _leaf(np.ones((3, 2, 2))), _leaf(np.zeros((2, 3)))
    w_ih, w_hh = _leaf(np.full((9, 2), 0.1)), _leaf(np.full((9, 3), -0.2))
    out, h = mg.gru_sequence(x, h0, w_ih, w_hh)
    loss = out.sum() + h.sum()
    loss.backward(retain_graph=True)
    first = w_hh.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(w_hh.grad.numpy(), 2 * first, rtol=1e-14)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_errors_name_the_shapes():
    x, h0 = mg.randn(4, 2, 3), mg.randn(2, 5)
    with pytest.raises(ValueError, match=r"expected w_hh of shape \(15, 5\).*got shape"):
        mg.gru_sequence(x, h0, mg.randn(15, 3), mg.randn(12, 5))
    with pytest.raises(ValueError, match=r"expected c0 of shape \(2, 5\)"):
        mg.lstm_sequence(x, h0, mg.randn(3, 5), mg.randn(20, 3), mg.randn(20, 5))
    with pytest.raises(ValueError, match=r"expected b_hh of shape \(5,\).*got None"):
        mg.rnn_tanh_sequence(x, h0, mg.randn(5, 3), mg.randn(5, 5), mg.randn(5))
    with pytest.raises(ValueError, match=r"\(steps, batch, features\).*\(2, 3\)"):
        mg.rnn_relu_sequence(mg.randn(2, 3), h0, mg.randn(5, 3), mg.randn(5, 5))
    with pytest.raises(TypeError, match="h0 has dtype float64 but x has float32"):
        mg.rnn_tanh_sequence(x, h0.double(), mg.randn(5, 3), mg.randn(5, 5))
    with pytest.raises(ValueError, match=r"lengths must be 2 integers"):
        mg.rnn_tanh_sequence(x, h0, mg.randn(5, 3), mg.randn(5, 5), lengths=[1, 2, 3])


# -- truncated BPTT through the fused path: flat memory -------------------------------------

def _live_nodes():
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Node)


def _array_bytes():
    """Bytes of live NumPy array buffers (NumPy traces them in its own domain; Python's
    object free lists, which fill up for a while, are left out)."""
    only_arrays = tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)
    return sum(t.size for t in tracemalloc.take_snapshot().filter_traces([only_arrays]).traces)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_tbptt_over_200_chunks_stays_flat(mode):
    model = _layer(mode, 3, 4, num_layers=2, bidirectional=True)
    assert model.fused
    data = mg.randn(200, 5, 2, 3)
    state = None
    tracemalloc.start()
    try:
        for chunk in range(200):
            out, state = model(data[chunk], state)
            model.zero_grad()
            ((out * out).mean() + (state[0] if mode == "LSTM" else state).sum()).backward()
            state = tuple(s.detach() for s in state) if mode == "LSTM" else state.detach()
            if chunk == 19:
                nodes_early, bytes_early = _live_nodes(), _array_bytes()
        nodes_late, bytes_late = _live_nodes(), _array_bytes()
    finally:
        tracemalloc.stop()
    assert nodes_late <= nodes_early
    assert bytes_late <= bytes_early, (bytes_early, bytes_late)
