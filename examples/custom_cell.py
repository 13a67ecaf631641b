"""A new recurrent cell in ten lines: MUT1 (Jozefowicz, Zaremba & Sutskever 2015).

MUT1 is one of the architectures found by evolutionary search over GRU-like cells:

    z  = sigm(W_xz x + b_z)
    r  = sigm(W_xr x + W_hr h + b_r)
    h' = tanh(W_hh (r * h) + tanh(x) + b_h) * z + h * (1 - z)

Written with minigrad ops it needs no backward pass: the tape differentiates it, which
this program verifies with ``mg.gradcheck`` (float64, central differences, through three
unrolled steps, for the inputs, the state and every weight) before training it on the
adding problem of examples/adding_problem.py (T = 100, baseline MSE 0.167).

The cell adds tanh(x) to a hidden-sized vector, so its input has the hidden width; the
layer below embeds the two adding-problem features with one Linear first.

    python examples/custom_cell.py                   # gradcheck, then train MUT1
    python examples/custom_cell.py --compare gru     # and a GRU beside it
    python examples/custom_cell.py --quick
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Optional

import minigrad as mg
import minigrad.nn as nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from adding_problem import (BASELINE, LAYERS, Regressor, add_common_args,  # noqa: E402
                            apply_quick, run_and_report)


class MUT1Cell(nn.Module):
    """One MUT1 step on (B, H) inputs and state."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.x_zr = nn.Linear(size, 2 * size)          # W_xz, W_xr and b_z, b_r
        self.h_r = nn.Linear(size, size, bias=False)   # W_hr
        self.h_h = nn.Linear(size, size)               # W_hh and b_h

    def forward(self, x: mg.Tensor, h: mg.Tensor) -> mg.Tensor:
        zr = self.x_zr(x)
        z = zr[:, :self.size].sigmoid()
        r = (zr[:, self.size:] + self.h_r(h)).sigmoid()
        candidate = (self.h_h(r * h) + x.tanh()).tanh()
        return candidate * z + h * (1 - z)


class MUT1(nn.Module):
    """A MUT1 layer over (T, B, input_size): embed every step in one GEMM, then loop.

    Returns ``(output, h_n)`` like ``nn.GRU``: output (T, B, H), h_n (B, H).
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.embed = nn.Linear(input_size, hidden_size)
        self.cell = MUT1Cell(hidden_size)

    def forward(self, x: mg.Tensor, h: Optional[mg.Tensor] = None) -> tuple:
        steps, batch, _ = x.shape
        e = self.embed(x)
        if h is None:
            h = mg.zeros((batch, self.cell.size), dtype=e.dtype)
        outputs = []
        for t in range(steps):
            h = self.cell(e[t], h)
            outputs.append(h)
        return mg.stack(outputs), h


def check_gradients(size: int = 4, batch: int = 3, steps: int = 3) -> bool:
    """gradcheck MUT1 unrolled ``steps`` times: inputs, initial state and all weights."""
    cell = MUT1Cell(size).double()
    xs = mg.randn(steps, batch, size, dtype=mg.float64, requires_grad=True)
    h0 = mg.randn(batch, size, dtype=mg.float64, requires_grad=True)
    weights = list(cell.parameters())

    def unrolled(xs: mg.Tensor, h: mg.Tensor, *params: mg.Tensor) -> mg.Tensor:
        for t in range(steps):          # ``params`` are the cell's own: gradcheck nudges them
            h = cell(xs[t], h)
        return h

    return mg.gradcheck(unrolled, [xs, h0, *weights], eps=1e-6, atol=1e-7, rtol=1e-5,
                        raise_exception=False)


def main(argv: Optional[list[str]] = None) -> int:
    """Gradcheck the cell, train it (and any --compare layers); last line: the headline."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--compare", nargs="*", choices=sorted(LAYERS), default=[],
                   help="built-in layers to train beside MUT1")
    add_common_args(p, steps=1000)
    args = p.parse_args(argv)
    apply_quick(args)
    mg.set_backend(args.backend)
    mg.manual_seed(args.seed)

    n_weights = sum(w.numel() for w in MUT1Cell(4).parameters())
    ok = check_gradients()
    print(f"gradcheck MUT1 (float64, 3 unrolled steps, inputs + state + {n_weights} weights): "
          f"{'passed' if ok else 'FAILED'}")
    if not ok:
        return 1

    builders = {"mut1": lambda: Regressor(MUT1(2, args.hidden), args.hidden)}
    builders.update({name: (lambda layer=LAYERS[name]: Regressor(layer(2, args.hidden),
                                                                 args.hidden))
                     for name in args.compare})
    results = run_and_report(args, builders, "custom_cell.png",
                             f"MUT1 on the adding problem, T = {args.seq_len}")
    print(f"MUT1 final test MSE {results['mut1'][0][-1][1]:.4f} (baseline {BASELINE:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
