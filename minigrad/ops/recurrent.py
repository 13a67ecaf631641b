"""The LSTM cell update as one primitive.

Composed from primitives, one LSTM step is about a dozen recorded operations,
each a Python-level node and a temporary per direction. Fused, it is one node
whose forward and gradient rules do the same array work in a few passes. The
rules are written with ``xp`` like every other, so they are differentiable again
(``create_graph=True``) and checked against the composed version in the tests.
"""
from typing import Any

from ..primitive import joint_primitive


def _gates(xp, gates, hidden):
    """Activated gates (i, f, g, o) from the pre-activations laid out [i f g o]."""
    s = xp.sigmoid(gates)
    return (s[..., :hidden], s[..., hidden:2 * hidden],
            xp.tanh(gates[..., 2 * hidden:3 * hidden]), s[..., 3 * hidden:])


def _forward(xp, gates, c):
    """Writes h' and c' straight into one (..., 2H) buffer (forward runs on arrays)."""
    hidden = c.shape[-1]
    i, f, g, o = _gates(xp, gates, hidden)
    out = xp.empty(c.shape[:-1] + (2 * hidden,), dtype=xp.result_type(gates, c))
    h_next, c_next = out[..., :hidden], out[..., hidden:]
    xp.multiply(f, c, out=c_next)
    c_next += i * g
    xp.tanh(c_next, out=h_next)
    h_next *= o
    return out


def _gradients(xp, grad, y, gates, c):
    """(dL/dgates, dL/dc), sharing the recomputed gate activations."""
    hidden = c.shape[-1]
    i, f, g, o = _gates(xp, gates, hidden)
    tc = xp.tanh(y[..., hidden:])
    grad_h = grad[..., :hidden]
    dc = grad[..., hidden:] + grad_h * o * (1 - tc * tc)  # directly, and through h'
    dgates = xp.concatenate([dc * g * i * (1 - i),
                             dc * c * f * (1 - f),
                             dc * i * (1 - g * g),
                             grad_h * tc * o * (1 - o)], axis=-1)
    return dgates, dc * f


_lstm_cell = joint_primitive("lstm_cell", _forward, _gradients)


def lstm_cell(gates: Any, c: Any) -> tuple:
    """One LSTM update from gate pre-activations ``gates`` (..., 4H) laid out [i f g o]
    and the cell state ``c`` (..., H): returns ``(h', c')`` with c' = f*c + i*g and
    h' = o*tanh(c')."""
    hidden = c.shape[-1]
    if gates.shape[-1] != 4 * hidden or tuple(gates.shape[:-1]) != tuple(c.shape[:-1]):
        raise ValueError(f"lstm_cell: gates of shape {tuple(gates.shape)} do not fit a cell "
                         f"state of shape {tuple(c.shape)} (gates need 4 * {hidden} features)")
    both = _lstm_cell(gates, c)
    return both[..., :hidden], both[..., hidden:]
