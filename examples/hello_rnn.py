"""The lecture classic: a vanilla RNN learns to spell "hello".

Vocabulary [h, e, l, o]. By teacher forcing the network reads h, e, l, l and is
trained to predict the next characters e, l, l, o. The interesting bit is the
two l's: after the first l comes l, after the second comes o, so the answer
depends on what the hidden state remembers, not on the current input alone.

Everything is written with raw engine ops (tensor, @, tanh, logsumexp,
indexing) and a hand-written SGD loop, so every line of backprop-through-time
is the engine's tape at work: the three weight matrices are reused at every
time step and receive the sum of their per-step gradients.

    python examples/hello_rnn.py [--hidden 16] [--steps 300] [--lr 0.1] [--seed 0]
                                 [--backend numpy|cupy]

Exits with status 1 if the sampled text is not "hello" at the end.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Optional

import minigrad as mg

VOCAB = ["h", "e", "l", "o"]
INDEX = {ch: i for i, ch in enumerate(VOCAB)}
WORD = "hello"


def init_params(hidden: int, vocab: int) -> dict[str, mg.Tensor]:
    """Small random weights (scaled by 1/sqrt(fan-in)) so tanh starts in its linear range."""
    def param(*shape: int, scale: float) -> mg.Tensor:
        return (mg.randn(*shape) * scale).requires_grad_()

    return {
        "W_xh": param(vocab, hidden, scale=1.0),               # one row per input character
        "W_hh": param(hidden, hidden, scale=hidden ** -0.5),
        "b_h": mg.zeros(hidden, requires_grad=True),
        "W_hy": param(hidden, vocab, scale=hidden ** -0.5),
        "b_y": mg.zeros(vocab, requires_grad=True),
    }


def step(p: dict[str, mg.Tensor], h: mg.Tensor, char: int) -> tuple[mg.Tensor, mg.Tensor]:
    """One RNN step: h' = tanh(x W_xh + h W_hh + b_h), logits = h' W_hy + b_y.

    Multiplying a one-hot x by W_xh just selects a row, so we index instead.
    """
    h = (p["W_xh"][char] + h @ p["W_hh"] + p["b_h"]).tanh()
    return h, h @ p["W_hy"] + p["b_y"]


def sequence_loss(p: dict[str, mg.Tensor], inputs: list[int], targets: list[int],
                  hidden: int) -> tuple[mg.Tensor, list[int]]:
    """Mean softmax cross-entropy over the unrolled sequence, and the argmax predictions."""
    h = mg.zeros(hidden)
    total = None
    predictions = []
    for char, target in zip(inputs, targets):
        h, logits = step(p, h, char)
        nll = logits.logsumexp() - logits[target]  # -log softmax(logits)[target], stable
        total = nll if total is None else total + nll
        predictions.append(int(logits.numpy().argmax()))
    return total / len(inputs), predictions


def sample(p: dict[str, mg.Tensor], first: str, length: int, hidden: int) -> str:
    """Greedy generation: feed each predicted character back in as the next input."""
    with mg.no_grad():
        h = mg.zeros(hidden)
        char = INDEX[first]
        out = first
        for _ in range(length - 1):
            h, logits = step(p, h, char)
            char = int(logits.numpy().argmax())
            out += VOCAB[char]
    return out


def main(argv: Optional[list[str]] = None) -> int:
    """Train by teacher forcing, print progress and the sample; 0 if it learned "hello"."""
    parser = argparse.ArgumentParser(description="A vanilla RNN learns 'hello' (raw minigrad ops).")
    parser.add_argument("--hidden", type=int, default=16, help="hidden units (default 16)")
    parser.add_argument("--steps", type=int, default=300, help="SGD steps (default 300)")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", choices=mg.backends.BACKEND_CHOICES,
                        default=mg.backends.default_backend_name(),
                        help="array backend: numpy (CPU), cupy (NVIDIA GPU) or simgpu (simulated "
                             "GPU); default: $MINIGRAD_BACKEND, else numpy")
    args = parser.parse_args(argv)

    mg.set_backend(args.backend)
    mg.manual_seed(args.seed)
    inputs = [INDEX[c] for c in WORD[:-1]]   # h e l l
    targets = [INDEX[c] for c in WORD[1:]]   # e l l o
    params = init_params(args.hidden, len(VOCAB))

    start = time.perf_counter()
    loss_value = float("nan")
    for it in range(1, args.steps + 1):
        loss, predictions = sequence_loss(params, inputs, targets, args.hidden)
        loss.backward()
        with mg.no_grad():  # plain SGD: p <- p - lr * dL/dp, then clear the gradient
            for p in params.values():
                p -= args.lr * p.grad
                p.grad = None
        loss_value = loss.item()
        if it == 1 or it % max(1, args.steps // 10) == 0 or it == args.steps:
            guessed = "".join(VOCAB[i] for i in predictions)
            print(f"step {it:4d}  loss {loss_value:.4f}  reads 'hell' -> predicts '{guessed}'")
    elapsed = time.perf_counter() - start

    text = sample(params, WORD[0], len(WORD), args.hidden)
    print(f"sampled from 'h': {text}   (trained {args.steps} steps in {elapsed:.2f}s "
          f"on {args.backend})")
    if text != WORD:
        print(f"FAILED: expected {WORD!r}, final loss {loss_value:.4f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
