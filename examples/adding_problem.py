"""The adding problem (Hochreiter & Schmidhuber 1997): a test of long-range memory.

Each sequence has T steps of two inputs: a random value in [0, 1) and a marker that
is 1 at exactly two steps (one in the first half, one in the second) and 0 elsewhere.
The target, read after the last step, is the sum of the two marked values. Always
answering 1 scores the variance of a sum of two uniforms, MSE = 1/6 ~ 0.167; to beat
that the network must carry a value across up to T steps. At T = 100 the LSTM and
GRU, whose additive state updates let gradients survive, get far below the baseline;
the vanilla RNN, whose gradients vanish through a hundred tanh steps, stays there.

    python examples/adding_problem.py                    # rnn, lstm and gru, T = 100
    python examples/adding_problem.py --models lstm --steps 3000
    python examples/adding_problem.py --quick            # a short smoke run

``adding_batch``, ``Regressor`` and ``train`` are shared with examples/custom_cell.py.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Callable, Optional

import numpy as np

import minigrad as mg
import minigrad.nn as nn

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is a nicety, not a requirement
    tqdm = None

BASELINE = 1.0 / 6.0   # MSE of always answering 1: Var(U + U') = 2/12
LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def adding_batch(batch: int, steps: int, rng: np.random.Generator,
                 dtype: np.dtype = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (steps, batch, 2) = (value, marker) and targets (batch, 1)."""
    values = rng.random((steps, batch))
    markers = np.zeros((steps, batch))
    columns = np.arange(batch)
    markers[rng.integers(0, steps // 2, batch), columns] = 1.0
    markers[rng.integers(steps // 2, steps, batch), columns] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)
    y = (values * markers).sum(axis=0, keepdims=True).T.astype(dtype)
    return x, y


def build_layer(name: str, hidden: int, forget_bias: float) -> nn.Module:
    """A one-layer rnn/lstm/gru reading the 2 features. ``forget_bias`` raises the LSTM's
    forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015 recommend 1) so that it
    starts out remembering; at PyTorch's init (0, f ~ 0.5) the LSTM sits on the 0.167
    plateau for ~800 steps before it finds the solution."""
    layer = LAYERS[name](2, hidden)
    if name == "lstm" and forget_bias:
        bias = layer.bias_ih_l0.numpy().copy()
        bias[hidden:2 * hidden] += forget_bias
        layer.bias_ih_l0.data = mg.tensor(bias)
    return layer


class Regressor(nn.Module):
    """A recurrent module reading (T, B, 2), then a linear read-out of the last output."""

    def __init__(self, recurrent: nn.Module, hidden: int) -> None:
        super().__init__()
        self.recurrent = recurrent
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        output, _ = self.recurrent(x)
        return self.head(output[-1])


def log(message: str) -> None:
    """Print above the progress bar (if any), flushed so that a piped log shows progress."""
    (tqdm.write if tqdm else print)(message)
    sys.stdout.flush()


def mse(prediction: mg.Tensor, target: mg.Tensor) -> mg.Tensor:
    diff = prediction - target
    return (diff * diff).mean()


def train(model: nn.Module, steps: int, seq_len: int, batch: int, lr: float, clip: float,
          test: tuple[np.ndarray, np.ndarray], eval_every: int, rng: np.random.Generator,
          label: str = "") -> list[tuple[int, float]]:
    """Adam with global-norm clipping on fresh batches; returns [(step, test MSE), ...]."""
    optimizer = mg.optim.Adam(model.parameters(), lr=lr)
    x_test, y_test = mg.tensor(test[0]), mg.tensor(test[1])

    def evaluate() -> float:
        with mg.no_grad():
            return mse(model(x_test), y_test).item()

    history = [(0, evaluate())]
    bar = tqdm(range(1, steps + 1), desc=label, unit="step", leave=False,
               disable=None) if tqdm else range(1, steps + 1)
    for step in bar:
        x, y = adding_batch(batch, seq_len, rng)
        optimizer.zero_grad()
        loss = mse(model(mg.tensor(x)), mg.tensor(y))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            history.append((step, evaluate()))
            if tqdm:
                bar.set_postfix(test_mse=f"{history[-1][1]:.4f}")
            if len(history) % 5 == 1:
                log(f"  {label} step {step}: test MSE {history[-1][1]:.4f}")
    return history


def plot_curves(curves: dict[str, list[tuple[int, float]]], path: pathlib.Path,
                title: str) -> None:
    """Test MSE against training step, log scale, with the always-1 baseline."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for name, history in curves.items():
        steps, values = zip(*history)
        ax.plot(steps, values, label=name)
    ax.axhline(BASELINE, color="grey", linestyle="--", label="always answer 1 (0.167)")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("test MSE")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(results: dict[str, tuple[list[tuple[int, float]], int, float]]) -> str:
    """The table: final and best test MSE, parameters, training time per model."""
    lines = [f"{'model':<8} {'params':>7} {'final MSE':>10} {'best MSE':>9} "
             f"{'vs 0.167':>8} {'time':>7}"]
    for name, (history, params, seconds) in results.items():
        final, best = history[-1][1], min(v for _, v in history)
        lines.append(f"{name:<8} {params:>7} {final:>10.4f} {best:>9.4f} "
                     f"{final / BASELINE:>7.1%} {seconds:>6.1f}s")
    return "\n".join(lines)


def add_common_args(p: argparse.ArgumentParser, steps: int) -> None:
    """Options shared with examples/custom_cell.py."""
    p.add_argument("--seq-len", type=int, default=100, help="T, the sequence length")
    p.add_argument("--hidden", type=int, default=32, help="hidden units")
    p.add_argument("--steps", type=int, default=steps, help="training steps (batches)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    p.add_argument("--clip", type=float, default=1.0, help="clip_grad_norm_ max norm")
    p.add_argument("--test-size", type=int, default=500, help="held-out sequences")
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=mg.backends.BACKEND_CHOICES,
                   default=mg.backends.default_backend_name())
    p.add_argument("--out", default="runs", help="directory for the PNG")
    p.add_argument("--quick", action="store_true", help="a short smoke run (<= 30 s)")


def apply_quick(args: argparse.Namespace) -> None:
    if args.quick:
        args.seq_len, args.steps, args.hidden, args.batch = 30, 40, 16, 32
        args.test_size, args.eval_every = 200, 10


def run_models(args: argparse.Namespace,
               builders: dict[str, Callable[[], nn.Module]]) -> dict:
    """Train each model on the same test set; each sees its own seeded batch stream."""
    test = adding_batch(args.test_size, args.seq_len, np.random.default_rng(args.seed + 10**6))
    results = {}
    for name, build in builders.items():
        mg.manual_seed(args.seed)
        model = build()
        params = sum(p.numel() for p in model.parameters())
        start = time.perf_counter()
        history = train(model, args.steps, args.seq_len, args.batch, args.lr, args.clip,
                        test, args.eval_every, np.random.default_rng(args.seed), name)
        results[name] = (history, params, time.perf_counter() - start)
        log(f"{name}: test MSE {history[-1][1]:.4f} after {args.steps} steps "
            f"({results[name][2]:.1f}s)")
    return results


def run_and_report(args: argparse.Namespace, builders: dict[str, Callable[[], nn.Module]],
                   figure_name: str, title: str) -> dict:
    """Train every model, print the table and save the curves under ``args.out``."""
    print(f"adding problem: T={args.seq_len}, hidden {args.hidden}, {args.steps} steps of "
          f"batch {args.batch}, Adam lr {args.lr}, clip {args.clip}; baseline MSE {BASELINE:.3f}")
    results = run_models(args, builders)
    print(report(results))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figure = out / figure_name
    plot_curves({k: v[0] for k, v in results.items()}, figure, title)
    print(f"curves: {figure}")
    return results


def main(argv: Optional[list[str]] = None) -> int:
    """Train the chosen models, print the table, save the curves; last line: the headline."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--models", nargs="+", choices=sorted(LAYERS), default=["rnn", "lstm", "gru"])
    p.add_argument("--forget-bias", type=float, default=0.0,
                   help="added to the LSTM forget-gate bias at init")
    add_common_args(p, steps=1000)
    args = p.parse_args(argv)
    apply_quick(args)
    mg.set_backend(args.backend)

    builders = {name: (lambda name=name: Regressor(build_layer(name, args.hidden,
                                                               args.forget_bias), args.hidden))
                for name in args.models}
    results = run_and_report(args, builders, "adding_problem.png",
                             f"adding problem, T = {args.seq_len}")
    print("final test MSE " + ", ".join(f"{k} {v[0][-1][1]:.4f}" for k, v in results.items())
          + f" (baseline {BASELINE:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
