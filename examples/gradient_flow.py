"""Vanishing and exploding gradients, measured: ||dL/dh_t|| against the time step t.

Each network reads T steps of random input, and the loss looks only at the last hidden
state, L = <v, h_(T-1)> averaged over the batch, with the same fixed v for every model,
so dL/dh_(T-1) is identical everywhere and the curves differ only in how each
architecture carries that gradient back in time. ``nn.utils.gradient_flow`` hooks every
step's hidden state and records the norm of the gradient that reaches it.

- vanilla RNN, small W_hh (PyTorch's default init, spectral radius ~0.6): each step
  multiplies the gradient by diag(tanh') W_hh^T, so it shrinks geometrically: vanishing.
- vanilla RNN, large W_hh (Gaussian, gain 3): the same product grows: exploding.
- the same large RNN with the gradient clipped in the backward pass: a hook rescales
  dL/dh_t to norm <= 1 at every step (Mikolov's / Graves's clipping), so it cannot blow
  up. The table also shows the usual remedy, ``clip_grad_norm_`` on the parameters.
- LSTM and GRU: the additive state update c' = f*c + ... (GRU: h' = z*h + ...) passes
  the gradient back multiplied by the forget gate f (GRU: the update gate z). At
  PyTorch's default init f ~ 0.5, so it still decays, though far slower than through the
  small RNN; the "+bias" variants add --gate-bias to that gate's bias (the forget-bias
  trick of Gers et al. 2000 and Jozefowicz et al. 2015), f ~ 0.95, and the gradient
  survives all T steps.

Everything runs in float64 so that even the vanishing curves stay above underflow.

    python examples/gradient_flow.py                 # T = 100, figure in runs/
    python examples/gradient_flow.py --steps 200 --gain 2
    python examples/gradient_flow.py --quick
"""
from __future__ import annotations

import argparse
import math
import pathlib
import sys
from typing import Optional

import minigrad as mg
import minigrad.nn as nn


def clip_norm_hook(max_norm: float):
    """A tensor hook that rescales an incoming gradient to norm <= max_norm."""
    def hook(grad: mg.Tensor) -> mg.Tensor:
        return grad * mg.minimum(max_norm / ((grad * grad).sum().sqrt() + 1e-12), 1.0)
    return hook


def build(kind: str, hidden: int, inputs: int, gain: float, gate_bias: float) -> nn.RNNBase:
    """One float64 recurrent layer; 'rnn-large' redraws W_hh as N(0, gain^2 / hidden),
    '+bias' adds ``gate_bias`` to the LSTM forget / GRU update gate (both rows H..2H)."""
    if kind.startswith("rnn"):
        layer = nn.RNN(inputs, hidden).double()
        if kind != "rnn-small":
            layer.weight_hh_l0.data = (mg.randn(hidden, hidden, dtype=mg.float64)
                                       * (gain / math.sqrt(hidden)))
        return layer
    layer = {"lstm": nn.LSTM, "gru": nn.GRU}[kind.split("+")[0]](inputs, hidden).double()
    if kind.endswith("+bias"):
        bias = layer.bias_ih_l0.numpy().copy()
        bias[hidden:2 * hidden] += gate_bias
        layer.bias_ih_l0.data = mg.tensor(bias)
    return layer


def measure(kind: str, x: mg.Tensor, v: mg.Tensor, gain: float, gate_bias: float,
            clip: float) -> tuple[list[float], float, float]:
    """||dL/dh_t|| for t = 0..T-1, and the parameter-gradient norm before and after
    ``clip_grad_norm_(clip)``."""
    layer = build(kind, v.shape[0], x.shape[-1], gain, gate_bias)
    if kind.endswith("clipped"):  # registered before the recorder, so it sees the clipped one
        layer.register_step_hook(
            lambda module, lyr, direction, t, h: h.register_hook(clip_norm_hook(1.0)))
    with nn.utils.gradient_flow(layer) as flow:
        output, _ = layer(x)
        ((output[-1] * v).sum(axis=1)).mean().backward()
    before = nn.utils.clip_grad_norm_(layer.parameters(), clip).item()
    after = math.sqrt(sum((p.grad * p.grad).sum().item() for p in layer.parameters()))
    return flow.norms(), before, after


def plot(curves: dict[str, list[float]], path: pathlib.Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, norms in curves.items():  # one colour per family, variants dashed
        ax.plot(range(len(norms)), norms, label=name, color=COLOURS[name.split("+")[0]],
                linestyle="--" if name.endswith(("clipped", "+bias")) else "-")
    ax.set_yscale("log")
    ax.set_xlabel("time step t (the loss is read at the last step)")
    ax.set_ylabel(r"$\|\partial L / \partial h_t\|$")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


COLOURS = {"rnn-small": "C0", "rnn-large": "C3", "rnn-large-clipped": "C1", "lstm": "C2",
           "gru": "C4"}
KINDS = ["rnn-small", "rnn-large", "rnn-large-clipped", "lstm", "lstm+bias", "gru", "gru+bias"]


def main(argv: Optional[list[str]] = None) -> int:
    """Measure every model, print the table, save the plot; the last line is the headline."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=100, help="T, the sequence length")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--inputs", type=int, default=8, help="input features per step")
    p.add_argument("--input-scale", type=float, default=0.1,
                   help="std of the inputs (small keeps tanh out of saturation)")
    p.add_argument("--gain", type=float, default=3.0, help="W_hh gain of the large RNN")
    p.add_argument("--gate-bias", type=float, default=3.0,
                   help="added to the LSTM forget / GRU update gate bias of the +bias models")
    p.add_argument("--clip", type=float, default=1.0, help="clip_grad_norm_ max norm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=mg.backends.BACKEND_CHOICES,
                   default=mg.backends.default_backend_name())
    p.add_argument("--out", default="runs", help="directory for the PNG")
    p.add_argument("--quick", action="store_true", help="a short smoke run")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.hidden = 40, 32
    mg.set_backend(args.backend)
    mg.manual_seed(args.seed)

    x = mg.randn(args.steps, args.batch, args.inputs, dtype=mg.float64) * args.input_scale
    v = mg.randn(args.hidden, dtype=mg.float64)
    v = v * (args.batch ** 0.5 / (v * v).sum().sqrt())  # so ||dL/dh_(T-1)|| = 1 everywhere
    curves, rows = {}, []
    for kind in KINDS:
        mg.manual_seed(args.seed + 1)            # the same weights where the kinds agree
        norms, before, after = measure(kind, x, v, args.gain, args.gate_bias, args.clip)
        curves[kind] = norms
        rows.append((kind, norms[-1], norms[len(norms) // 2], norms[0], before, after))

    t = args.steps
    print(f"||dL/dh_t|| through T = {t} steps (hidden {args.hidden}, batch {args.batch}, "
          f"float64)")
    print(f"{'model':<18} {'t=T-1':>7} {f't={t // 2}':>10} {'t=0':>10} {'|grad W|':>10} "
          f"{'clipped':>8}")
    for kind, last, middle, first, before, after in rows:
        print(f"{kind:<18} {last:>7.3g} {middle:>10.3g} {first:>10.3g} {before:>10.3g} "
              f"{after:>8.3g}")
    print(f"(|grad W|: the parameters' gradient norm; 'clipped': after "
          f"clip_grad_norm_(max_norm={args.clip}))")

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figure = out / "gradient_flow.png"
    plot(curves, figure, f"gradient flow back through {t} steps")
    print(f"plot: {figure}")
    print("||dL/dh_0|| (||dL/dh_(T-1)|| = 1): " +
          ", ".join(f"{kind} {first:.2g}" for kind, _, _, first, _, _ in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
