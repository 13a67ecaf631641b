"""Recurrent layers and cells: gradients through time, PyTorch oracle, input checks."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn

try:
    import torch
except ImportError:  # oracle tests are skipped, not failed, without PyTorch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def _layer_class(mode):
    return {"rnn_tanh": nn.RNN, "rnn_relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[mode]


def _cell_class(mode):
    return {"rnn_tanh": nn.RNNCell, "rnn_relu": nn.RNNCell, "lstm": nn.LSTMCell,
            "gru": nn.GRUCell}[mode]


def _extra(mode):
    return {"nonlinearity": "relu"} if mode == "rnn_relu" else {}


def _flat(result):
    """(output, h) or (output, (h, c)) -> a flat tuple of tensors."""
    out, state = result
    return (out,) + (tuple(state) if isinstance(state, tuple) else (state,))


def _double(x):
    return mg.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)


# -- construction ------------------------------------------------------------------------

@pytest.mark.parametrize("mode,gates", [("rnn_tanh", 1), ("lstm", 4), ("gru", 3)])
def test_parameter_names_shapes_and_init_range(mode, gates):
    m = _layer_class(mode)(5, 7, num_layers=2, bidirectional=True)
    shapes = {n: tuple(p.shape) for n, p in m.named_parameters()}
    expected = {}
    for layer, width in ((0, 5), (1, 14)):
        for suffix in ("", "_reverse"):
            expected[f"weight_ih_l{layer}{suffix}"] = (gates * 7, width)
            expected[f"weight_hh_l{layer}{suffix}"] = (gates * 7, 7)
            expected[f"bias_ih_l{layer}{suffix}"] = (gates * 7,)
            expected[f"bias_hh_l{layer}{suffix}"] = (gates * 7,)
    assert shapes == expected
    bound = 1 / np.sqrt(7)
    for p in m.parameters():
        assert p.dtype == np.float32
        assert np.abs(p.numpy()).max() <= bound
        assert np.abs(p.numpy()).max() > 0.5 * bound


def test_bias_false_has_no_bias_parameters():
    assert [n for n, _ in nn.GRU(3, 4, bias=False).named_parameters()] == \
        ["weight_ih_l0", "weight_hh_l0"]
    assert [n for n, _ in nn.LSTMCell(3, 4, bias=False).named_parameters()] == \
        ["weight_ih", "weight_hh"]


def test_float32_stays_float32():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = mg.randn(5, 2, 3, requires_grad=True)
    out, (h, c) = m(x, lengths=[5, 3])
    assert out.dtype == h.dtype == c.dtype == np.float32
    (out.sum() + h.sum() + c.sum()).backward()
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in m.parameters())


def test_dtype_mismatch_is_refused():
    with pytest.raises(TypeError, match="float64.*float32"):
        nn.GRU(3, 4)(mg.zeros((2, 1, 3), dtype="float64"))


# -- numerical gradients through time (float64) ------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bias", [True, False])
def test_cell_gradcheck(mode, bias):
    cell = _cell_class(mode)(3, 2, bias=bias, **_extra(mode)).double()
    x = mg.randn(2, 3, dtype="float64", requires_grad=True)
    h = mg.randn(2, 2, dtype="float64", requires_grad=True)
    c = mg.randn(2, 2, dtype="float64", requires_grad=True)
    params = list(cell.parameters())
    if mode == "rnn_relu":  # keep pre-activations away from the kink
        x = _double(np.abs(x.numpy()) + 0.5)

    def fn(x, h, c, *_):
        out = cell(x, (h, c)) if mode == "lstm" else cell(x, h)
        return out if isinstance(out, tuple) else (out,)

    assert mg.gradcheck(fn, [x, h, c] + params)


@pytest.mark.parametrize("mode", MODES)
def test_cell_gradcheck_through_time_shares_weights(mode):
    """Four steps of one cell: the weights' gradient is the sum over steps."""
    cell = _cell_class(mode)(2, 3, **_extra(mode)).double()
    xs = mg.randn(4, 2, 2, dtype="float64", requires_grad=True)
    if mode == "rnn_relu":
        xs = _double(np.abs(xs.numpy()) + 0.5)

    def fn(xs, *_):
        state = None
        for t in range(xs.shape[0]):
            state = cell(xs[t], state)
        return state if isinstance(state, tuple) else (state,)

    assert mg.gradcheck(fn, [xs] + list(cell.parameters()))


LAYER_CONFIGS = [
    dict(num_layers=2, bidirectional=True, lengths=[3, 1], h0=True),
    dict(num_layers=1, bidirectional=False, batch_first=True, h0=True),
    dict(num_layers=2, bidirectional=False, bias=False),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("config", LAYER_CONFIGS,
                         ids=["2layers-bidir-lengths", "batch_first-h0", "2layers-nobias"])
def test_layer_gradcheck_through_time(mode, config):
    config = dict(config)
    lengths, with_h0 = config.pop("lengths", None), config.pop("h0", False)
    m = _layer_class(mode)(2, 2, **config, **_extra(mode)).double()
    d = 2 if m.bidirectional else 1
    shape = (2, 3, 2) if m.batch_first else (3, 2, 2)
    x = _double(np.random.randn(*shape) + (1.0 if mode == "rnn_relu" else 0.0))
    states = [_double(np.random.rand(d * m.num_layers, 2, 2)) for _ in range(2)]
    inputs = [x] + (states if with_h0 else []) + list(m.parameters())

    def fn(x, *rest):
        hx = None
        if with_h0:
            hx = tuple(rest[:2]) if mode == "lstm" else rest[0]
        return _flat(m(x, hx, lengths=lengths))

    assert mg.gradcheck(fn, inputs)


def test_dropout_between_layers_gradcheck_and_train_eval():
    m = nn.LSTM(2, 3, num_layers=2, dropout=0.5).double()
    x = _double(np.random.randn(3, 2, 2))

    def fn(x, *_):
        mg.manual_seed(7)  # the same dropout mask at every evaluation
        return _flat(m(x))

    assert mg.gradcheck(fn, [x] + list(m.parameters()))
    trained = fn(x)[0].numpy()
    m.eval()
    evaluated = _flat(m(x))[0].numpy()
    assert not np.allclose(trained, evaluated)
    mg.manual_seed(3)
    m.train()
    again = fn(x)[0].numpy()
    np.testing.assert_array_equal(trained, again)


def test_padded_steps_get_no_gradient_and_zero_output():
    m = nn.GRU(3, 4, bidirectional=True).double()
    x = _double(np.random.randn(5, 3, 3))
    out, h = m(x, lengths=mg.tensor([5, 2, 3]))
    (out.sum() + h.sum()).backward()
    o, g = out.numpy(), x.grad.numpy()
    assert np.all(o[2:, 1] == 0) and np.all(o[3:, 2] == 0)
    assert np.all(g[2:, 1] == 0) and np.all(g[3:, 2] == 0)
    assert np.all(g[:2, 1] != 0)


def test_padding_content_does_not_matter():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    x = np.random.randn(6, 2, 3)
    y = x.copy()
    y[4:, 1] = 1e3
    a = _flat(m(mg.tensor(x), lengths=[6, 4]))
    b = _flat(m(mg.tensor(y), lengths=[6, 4]))
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


# -- PyTorch oracle --------------------------------------------------------------------

def _torch_layer(mode, **kw):
    cls = {"rnn_tanh": torch.nn.RNN, "rnn_relu": torch.nn.RNN, "lstm": torch.nn.LSTM,
           "gru": torch.nn.GRU}[mode]
    return cls(**kw, **_extra(mode)).double()


def _copy_weights(ours, theirs):
    ours.double().load_state_dict({k: v.detach().numpy() for k, v in
                                   theirs.state_dict().items()})


def _close(a, b, what):
    np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-9, atol=1e-11,
                               err_msg=what)


def _compare_layer(mode, kw, x, h0=None, c0=None, lengths=None):
    """Run both frameworks on the same weights and inputs; compare outputs and grads."""
    theirs = _torch_layer(mode, **kw)
    ours = _layer_class(mode)(**kw, **_extra(mode))
    _copy_weights(ours, theirs)
    tx = torch.tensor(x, requires_grad=True)
    mx = _double(x)
    t_states = [torch.tensor(s, requires_grad=True) for s in (h0, c0) if s is not None]
    m_states = [_double(s) for s in (h0, c0) if s is not None]
    pack = lengths is not None
    t_in = torch.nn.utils.rnn.pack_padded_sequence(
        tx, torch.tensor(lengths), batch_first=kw.get("batch_first", False),
        enforce_sorted=False) if pack else tx
    if mode == "lstm":
        t_hx = tuple(t_states) if t_states else None
        m_hx = tuple(m_states) if m_states else None
    else:
        t_hx = t_states[0] if t_states else None
        m_hx = m_states[0] if m_states else None
    t_res = theirs(t_in, t_hx)
    t_flat = list(_flat(t_res)) if mode == "lstm" else [t_res[0], t_res[1]]
    if pack:
        steps = x.shape[1] if kw.get("batch_first") else x.shape[0]
        t_flat[0] = torch.nn.utils.rnn.pad_packed_sequence(
            t_flat[0], batch_first=kw.get("batch_first", False), total_length=steps)[0]
    m_flat = _flat(ours(mx, m_hx, lengths=lengths))
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(t.shape) for t in t_flat]
    sum(((t * torch.tensor(w)).sum() for t, w in zip(t_flat, weights))).backward()
    sum(((m * mg.tensor(w)).sum() for m, w in zip(m_flat, weights))).backward()
    for i, (m, t) in enumerate(zip(m_flat, t_flat)):
        assert tuple(m.shape) == tuple(t.shape)
        _close(m.numpy(), t, f"result {i}")
    _close(mx.grad.numpy(), tx.grad, "input gradient")
    for i, (m, t) in enumerate(zip(m_states, t_states)):
        _close(m.grad.numpy(), t.grad, f"initial state {i} gradient")
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad.numpy(), t_params[name].grad, f"gradient of {name}")
    return m_flat


@needs_torch
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,with_h0,with_lengths",
                         list(itertools.product([1, 2], [False, True], [False, True],
                                                [False, True], [False, True])))
def test_layer_matches_torch(mode, num_layers, bidirectional, batch_first, with_h0,
                             with_lengths):
    steps, batch, features, hidden = 5, 3, 4, 3
    d = 2 if bidirectional else 1
    shape = (batch, steps, features) if batch_first else (steps, batch, features)
    x = np.random.randn(*shape)
    h0 = np.random.randn(d * num_layers, batch, hidden) if with_h0 else None
    c0 = np.random.randn(d * num_layers, batch, hidden) if with_h0 and mode == "lstm" else None
    lengths = [5, 2, 4] if with_lengths else None
    kw = dict(input_size=features, hidden_size=hidden, num_layers=num_layers,
              bidirectional=bidirectional, batch_first=batch_first)
    out = _compare_layer(mode, kw, x, h0, c0, lengths)[0].numpy()
    if with_lengths:
        padded = out[1, 2:] if batch_first else out[2:, 1]
        assert np.all(padded == 0)


@needs_torch
@pytest.mark.parametrize("mode", MODES)
@given(lengths=st.lists(st.integers(1, 4), min_size=1, max_size=4),
       bidirectional=st.booleans())
def test_random_lengths_match_torch(mode, lengths, bidirectional):
    x = np.random.default_rng(len(lengths)).standard_normal((4, len(lengths), 2))
    kw = dict(input_size=2, hidden_size=3, num_layers=2, bidirectional=bidirectional)
    _compare_layer(mode, kw, x, lengths=lengths)


@needs_torch
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_unbatched_matches_torch(mode, bidirectional, with_h0):
    d = 2 if bidirectional else 1
    x = np.random.randn(5, 3)
    h0 = np.random.randn(2 * d, 4) if with_h0 else None
    c0 = np.random.randn(2 * d, 4) if with_h0 and mode == "lstm" else None
    kw = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=bidirectional,
              batch_first=True)  # ignored for unbatched input, as in PyTorch
    out = _compare_layer(mode, kw, x, h0, c0)
    assert out[0].shape == (5, d * 4) and out[1].shape == (2 * d, 4)


@needs_torch
@pytest.mark.parametrize("mode", MODES)
def test_bias_false_matches_torch(mode):
    kw = dict(input_size=3, hidden_size=4, num_layers=2, bias=False)
    _compare_layer(mode, kw, np.random.randn(4, 2, 3))


@needs_torch
@pytest.mark.parametrize("mode", MODES)
def test_dropout_in_eval_mode_matches_torch(mode):
    theirs = _torch_layer(mode, input_size=3, hidden_size=4, num_layers=3, dropout=0.5).eval()
    ours = _layer_class(mode)(3, 4, num_layers=3, dropout=0.5, **_extra(mode)).eval()
    _copy_weights(ours, theirs)
    x = np.random.randn(4, 2, 3)
    for m, t in zip(_flat(ours(mg.tensor(x))), _flat(theirs(torch.tensor(x)))):
        _close(m.numpy(), t, "eval output")


@needs_torch
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_hx", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(mode, batched, with_hx, bias):
    cls = {"rnn_tanh": torch.nn.RNNCell, "rnn_relu": torch.nn.RNNCell,
           "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[mode]
    theirs = cls(3, 4, bias=bias, **_extra(mode)).double()
    ours = _cell_class(mode)(3, 4, bias=bias, **_extra(mode))
    _copy_weights(ours, theirs)
    lead = (2,) if batched else ()
    x = np.random.randn(*lead, 3)
    states = [np.random.randn(*lead, 4) for _ in range(2 if mode == "lstm" else 1)]
    tx, mx = torch.tensor(x, requires_grad=True), _double(x)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    ms = [_double(s) for s in states]
    if mode == "lstm":
        t_out = theirs(tx, tuple(ts) if with_hx else None)
        m_out = ours(mx, tuple(ms) if with_hx else None)
    else:
        t_out = (theirs(tx, ts[0] if with_hx else None),)
        m_out = (ours(mx, ms[0] if with_hx else None),)
    weights = [np.random.randn(*t.shape) for t in t_out]
    sum((t * torch.tensor(w)).sum() for t, w in zip(t_out, weights)).backward()
    sum((m * mg.tensor(w)).sum() for m, w in zip(m_out, weights)).backward()
    for m, t in zip(m_out, t_out):
        assert tuple(m.shape) == tuple(t.shape)
        _close(m.numpy(), t, "cell output")
    _close(mx.grad.numpy(), tx.grad, "input gradient")
    if with_hx:
        for m, t in zip(ms, ts):
            _close(m.grad.numpy(), t.grad, "state gradient")
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad.numpy(), t_params[name].grad, f"gradient of {name}")


# -- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_wrong_input_rank_names_shapes(cls):
    m = cls(4, 3)
    with pytest.raises(ValueError, match=r"3-d input .*features=4.*got shape \(2, 3, 4, 1\)"):
        m(mg.zeros((2, 3, 4, 1)))
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        m(mg.zeros(4))


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_wrong_feature_size_names_shapes(cls):
    with pytest.raises(ValueError, match=r"expected input with 4 features .*got shape "
                                         r"\(5, 2, 3\)"):
        cls(4, 3)(mg.zeros((5, 2, 3)))


def test_wrong_initial_state_shape():
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 2, 3\).*got shape \(1, 2, 3\)"):
        nn.LSTM(4, 3, num_layers=2)(mg.zeros((5, 2, 4)), (mg.zeros((1, 2, 3)),
                                                          mg.zeros((2, 2, 3))))
    with pytest.raises(ValueError, match=r"hx of shape \(2, 2, 3\).*got shape \(2, 3\)"):
        nn.GRU(4, 3, bidirectional=True)(mg.zeros((5, 2, 4)), mg.zeros((2, 3)))
    with pytest.raises(ValueError, match="tuple"):
        nn.LSTM(4, 3)(mg.zeros((5, 2, 4)), mg.zeros((1, 2, 3)))


@pytest.mark.parametrize("lengths,pattern", [
    ([6, 2], r"\[1, 5\].*from 2 to 6"),
    ([0, 2], r"\[1, 5\].*from 0 to 2"),
    ([-1, 3], r"\[1, 5\].*from -1 to 3"),
    ([2, 2, 2], r"one length per sequence, shape \(2,\), got shape \(3,\)"),
    ([2.0, 3.0], "integers"),
])
def test_bad_lengths_are_refused(lengths, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        nn.LSTM(4, 3)(mg.zeros((5, 2, 4)), lengths=lengths)


def test_lengths_need_a_batch():
    with pytest.raises(ValueError, match="batched"):
        nn.RNN(4, 3)(mg.zeros((5, 4)), lengths=[5])


def test_cell_bad_input():
    with pytest.raises(ValueError, match=r"\(batch, 4\).*got shape \(1, 2, 4\)"):
        nn.GRUCell(4, 3)(mg.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"4 features.*got shape \(2, 5\)"):
        nn.RNNCell(4, 3)(mg.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"h of shape \(2, 3\), got shape \(3,\)"):
        nn.LSTMCell(4, 3)(mg.zeros((2, 4)), (mg.zeros(3), mg.zeros((2, 3))))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size"):
        nn.LSTM(3, 0)
