"""nn.utils.gradient_flow: ||dL/dh_t|| per time step, recorded with tensor hooks."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn


def _vanilla_rnn(scale, steps=10, hidden=8, input_scale=1.0):
    """An Elman RNN whose recurrent matrix is `scale` times an orthogonal matrix."""
    rnn = nn.RNN(3, hidden).double()
    q, _ = np.linalg.qr(np.random.randn(hidden, hidden))
    state = {k: v.numpy() for k, v in rnn.state_dict().items()}
    state["weight_hh_l0"] = scale * q
    state["bias_ih_l0"] = state["bias_hh_l0"] = np.zeros(hidden)
    rnn.load_state_dict(state)
    x = mg.tensor(input_scale * np.random.randn(steps, 2, 3))
    return rnn, x


def _last_step_norms(rnn, x):
    with nn.utils.gradient_flow(rnn) as flow:
        out, _ = rnn(x)
        out[-1].sum().backward()  # the loss sees only the last step
    return np.array(flow.norms())


def test_small_recurrent_weights_vanish_toward_early_steps():
    norms = _last_step_norms(*_vanilla_rnn(0.3))
    assert len(norms) == 10
    assert np.all(np.diff(norms) > 0)          # each step back loses gradient
    assert norms[0] < 1e-3 * norms[-1]


def test_large_recurrent_weights_explode_toward_early_steps():
    # tiny inputs keep tanh in its linear range, so |dh_t/dh_(t-1)| ~ 2
    norms = _last_step_norms(*_vanilla_rnn(2.0, input_scale=1e-6))
    assert np.all(np.diff(norms) < 0)          # each step back gains gradient
    assert norms[0] > 100 * norms[-1]


def test_norms_equal_the_gradients_of_a_hand_written_loop():
    rnn, x = _vanilla_rnn(0.9)
    cell = nn.RNNCell(3, 8).double()
    cell.load_state_dict({k[:-3]: v for k, v in rnn.state_dict().items()})
    recorded = _last_step_norms(rnn, x)
    h, hs = None, []
    for t in range(x.shape[0]):
        h = cell(x[t], h)
        h.retain_grad()
        hs.append(h)
    h.sum().backward()
    expected = [np.linalg.norm(h.grad.numpy()) for h in hs]
    np.testing.assert_allclose(recorded, expected, rtol=1e-12)


def test_watch_in_a_cell_loop():
    cell = nn.LSTMCell(3, 4)
    flow = nn.utils.GradientFlowRecorder()
    state = None
    for t in range(5):
        state = cell(mg.randn(2, 3), state)
        flow.watch(state[0], t)
    state[1].sum().backward()  # the last h does not reach the loss: no gradient
    norms = flow.norms()
    assert len(norms) == 5 and norms[-1] is None and all(n > 0 for n in norms[:-1])


def test_every_layer_and_direction_is_recorded():
    model = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    with nn.utils.gradient_flow(model) as flow:
        out, (h, c) = model(mg.randn(6, 2, 3))
        out.sum().backward()
    assert flow.keys() == [("", layer, d) for layer in (0, 1) for d in (0, 1)]
    for layer in (0, 1):
        for d in (0, 1):
            norms = flow.norms(layer=layer, direction=d)
            assert len(norms) == 6 and all(n is not None and n > 0 for n in norms)


def test_hooks_are_removed_on_exit_and_clear_empties():
    rnn = nn.GRU(3, 4)
    with nn.utils.gradient_flow(rnn) as flow:
        out, _ = rnn(mg.randn(4, 1, 3))
    out.sum().backward()
    before = flow.norms()
    out, _ = rnn(mg.randn(7, 1, 3))
    out.sum().backward()
    assert flow.norms() == before and len(before) == 4
    flow.clear()
    assert flow.keys() == []


def test_no_grad_forward_records_nothing():
    rnn = nn.RNN(3, 4)
    with nn.utils.gradient_flow(rnn) as flow, mg.no_grad():
        rnn(mg.randn(4, 1, 3))
    assert flow.keys() == []


def test_several_recurrent_modules_need_a_name():
    model = nn.Module()
    model.encoder = nn.GRU(3, 4)
    model.decoder = nn.RNN(4, 4)
    with nn.utils.gradient_flow(model) as flow:
        out, _ = model.decoder(model.encoder(mg.randn(3, 1, 3))[0])
        out.sum().backward()
    with pytest.raises(ValueError, match="decoder.*encoder.*module="):
        flow.norms()
    assert len(flow.norms(module="encoder")) == 3
    with pytest.raises(KeyError, match="layer 1"):
        flow.norms(layer=1, module="encoder")


def test_a_module_without_recurrent_layers_is_refused():
    with pytest.raises(ValueError, match="no recurrent layer"):
        with nn.utils.gradient_flow(nn.Module()):
            pass
