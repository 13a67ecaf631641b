"""A character-level Transformer language model of Shakespeare: the LSTM's rival.

Decoder-only, GPT style: token embedding + learned position embedding -> pre-norm blocks of
causal self-attention and a feed-forward net (``nn.TransformerEncoderLayer`` with
``norm_first=True`` under ``generate_square_subsequent_mask``) -> LayerNorm -> Linear. The
same text, vocabulary and validation split (the last 5 %) as the main job,
examples/char_lstm.py, and about the same wall-clock budget, so the two validation losses
compare. AdamW, a linear warm-up then cosine decay (``SequentialLR`` of ``LinearLR`` and
``CosineAnnealingLR``), gradient clipping, training on random windows of ``--context``
characters. The final validation loss (nats/char) covers the whole validation split with
overlapping windows, so every character is predicted from at least ``--context``/2 earlier
ones (the LSTM carries its state through the split). Then a sample, and the attention
weights of one head on a stretch of validation text, saved as a figure (docs/ in a full run).

    python examples/char_transformer.py              # full run (~8 minutes on 2 cores)
    python examples/char_transformer.py --quick      # a 30-second smoke run

The last line printed is ``final val loss X.XXX``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from char_lstm import Vocabulary, shakespeare_text  # noqa: E402
from example_cli import add_run_options, start_run  # noqa: E402

FIGURE = Path(__file__).resolve().parent.parent / "docs" / "char_transformer_attention.png"


class CharTransformer(nn.Module):
    """ids (B, T) -> next-character logits (B, T, vocab); position t sees positions <= t."""

    def __init__(self, vocab: int, d_model: int, heads: int, layers: int, feedforward: int,
                 context: int, dropout: float) -> None:
        super().__init__()
        self.context = context
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(context, d_model)
        for table in (self.tokens, self.positions):    # small, as GPT: blocks dominate at first
            nn.init.normal_(table.weight, std=0.02)
        self.dropout = nn.Dropout(dropout)
        # ReLU, not GPT's GELU: on the CPU, GELU's extra elementwise passes cost nearly a third of
        # the forward time, which buys more steps than GELU buys loss at this size
        block = nn.TransformerEncoderLayer(d_model, heads, feedforward, dropout,
                                           activation="relu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, nn.LayerNorm(d_model),
                                            enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, ids: mg.Tensor) -> mg.Tensor:
        steps = ids.shape[1]
        if steps > self.context:
            raise ValueError(f"{steps} positions exceed the context of {self.context}")
        x = self.tokens(ids) + self.positions(mg.arange(steps))
        mask = nn.Transformer.generate_square_subsequent_mask(steps, dtype=x.dtype)
        return self.head(self.blocks(self.dropout(x), mask=mask, is_causal=True))


def random_windows(ids: np.ndarray, batch: int, context: int, rng: np.random.Generator
                   ) -> tuple[mg.Tensor, mg.Tensor]:
    """``batch`` random stretches of ``context`` characters and their next characters."""
    starts = rng.integers(0, len(ids) - context, size=batch)
    rows = ids[starts[:, None] + np.arange(context + 1)]
    return mg.tensor(rows[:, :-1]), mg.tensor(rows[:, 1:])


@mg.no_grad()
def evaluate(model: CharTransformer, ids: np.ndarray, batch: int,
             max_chars: Optional[int] = None) -> float:
    """Mean cross-entropy (nats/char). Windows overlap by half: the first scores all its
    positions, each later one only its second half, so every character after the first
    window has at least context/2 characters of history (the last < context/2 go unscored)."""
    model.eval()
    if max_chars is not None:
        ids = ids[:max_chars + 1]
    context, stride = model.context, model.context // 2
    starts = np.arange(0, len(ids) - context, stride)
    total, count = 0.0, 0
    for first in range(0, len(starts), batch):
        chunk = starts[first:first + batch]
        rows = ids[chunk[:, None] + np.arange(context + 1)]
        logits = model(mg.tensor(rows[:, :-1]))
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                 mg.tensor(rows[:, 1:].reshape(-1)), reduction="none")
        losses = losses.reshape(len(chunk), context).numpy()
        scored = np.zeros(losses.shape, dtype=bool)
        scored[:, context - stride:] = True
        scored[chunk == 0] = True
        total += float(losses[scored].sum())
        count += int(scored.sum())
    model.train()
    return total / count


@mg.no_grad()
def sample(model: CharTransformer, vocab: Vocabulary, prompt: str, length: int,
           temperature: float, rng: np.random.Generator) -> str:
    """Draw each next character from softmax(logits / temperature) given the last
    ``context`` characters (the prompt follows a paragraph break, as in training text)."""
    model.eval()
    ids = list(vocab.encode("\n\n" + prompt))
    for _ in range(length):
        window = np.array(ids[-model.context:]).reshape(1, -1)
        z = model(mg.tensor(window))[0, -1].numpy().astype(np.float64) / max(temperature, 1e-6)
        p = np.exp(z - z.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    model.train()
    return prompt + vocab.decode(ids[len(prompt) + 2:])


@mg.no_grad()
def attention_map(model: CharTransformer, ids: np.ndarray, layer: int, head: int) -> np.ndarray:
    """One head's attention weights (T, T) on ``ids``: a forward pre-hook catches the
    block's input, which is layer-normed (pre-norm) and put through the block's own
    self-attention again, this time asking for per-head weights."""
    block = model.blocks.layers[layer]
    seen = {}
    handle = block.register_forward_pre_hook(lambda module, args: seen.update(x=args[0]))
    model.eval()
    model(mg.tensor(ids.reshape(1, -1)))
    model.train()
    handle.remove()
    x = block.norm1(seen["x"])
    mask = nn.Transformer.generate_square_subsequent_mask(len(ids), dtype=x.dtype)
    _, weights = block.self_attn(x, x, x, attn_mask=mask, need_weights=True,
                                 average_attn_weights=False)
    return weights[0, head].numpy()


def save_attention_figure(path: str, weights: np.ndarray, text: str, layer: int,
                          head: int) -> None:
    shown = [{"\n": "\u23ce", " ": "\u2423"}.get(c, c) for c in text]
    size = 3 + 0.12 * len(text)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(weights, cmap="viridis", vmin=0, vmax=weights.max())
    ax.set_xticks(range(len(text)), shown, fontsize=6)
    ax.set_yticks(range(len(text)), shown, fontsize=6)
    ax.set_xlabel("attended-to character (key)")
    ax.set_ylabel("predicting after this character (query)")
    ax.set_title(f"char-Transformer on validation text: layer {layer}, head {head}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> float:
    """Train on random windows for --steps (or --time-limit), report, sample, draw."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--layers", type=int, default=3, help="Transformer blocks")
    parser.add_argument("--d-model", type=int, default=128, help="width of the residual stream")
    parser.add_argument("--heads", type=int, default=4, help="attention heads per block")
    parser.add_argument("--feedforward", type=int, default=512, help="feed-forward width")
    parser.add_argument("--context", type=int, default=64, help="characters per window")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=32, help="windows per step")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup", type=int, default=100, help="linear warm-up steps")
    parser.add_argument("--clip", type=float, default=1.0, help="max global gradient norm")
    parser.add_argument("--steps", type=int, default=1400, help="training steps")
    parser.add_argument("--time-limit", type=float, default=8.5,
                        help="stop training after this many minutes even if steps remain")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--eval-chars", type=int, default=20_000,
                        help="validation characters used at intervals")
    parser.add_argument("--val-chars", type=int, default=None,
                        help="validation characters for the final loss (default: all)")
    parser.add_argument("--prompt", default="ROMEO")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--sample-length", type=int, default=300)
    parser.add_argument("--map-layer", type=int, default=-1,
                        help="block whose attention is drawn (-1: the last)")
    parser.add_argument("--map-head", type=int, default=0, help="head drawn")
    parser.add_argument("--figure", default=None,
                        help=f"attention figure (default: {FIGURE.relative_to(FIGURE.parents[1])}"
                             f"; with --quick, in --out)")
    add_run_options(parser, "tiny model, few steps: a smoke test (explicit options still win)")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(layers=1, d_model=32, heads=2, feedforward=64, context=32,
                            batch=16, steps=80, warmup=10, eval_every=40, eval_chars=2_000,
                            val_chars=20_000, sample_length=60)
    args = parser.parse_args(argv)
    start_run(args)
    rng = np.random.default_rng(args.seed)

    text = shakespeare_text()
    vocab = Vocabulary(text)
    ids = vocab.encode(text)
    split = int(len(ids) * 0.95)                     # char_lstm.py's split
    train, val = ids[:split], ids[split:]
    model = CharTransformer(len(vocab), args.d_model, args.heads, args.layers,
                            args.feedforward, args.context, args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{len(text):,} characters, vocabulary {len(vocab)}; {args.layers} blocks x "
          f"{args.d_model} wide, {args.heads} heads, context {args.context}: {n_params:,} "
          f"parameters; backend {args.backend}", flush=True)

    optimizer = mg.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    warmup = min(args.warmup, args.steps - 1)
    schedule = mg.optim.lr_scheduler.SequentialLR(optimizer, [
        mg.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / max(warmup, 1),
                                       total_iters=warmup),
        mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps - warmup,
                                                eta_min=args.lr / 10),
    ], milestones=[warmup])

    start = time.perf_counter()
    recent, step = [], 0
    bar = tqdm(total=args.steps, desc="train", unit="step", leave=False, file=sys.stderr)
    while step < args.steps:
        x, y = random_windows(train, args.batch, args.context, rng)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        schedule.step()
        step += 1
        recent.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{recent[-1]:.3f}")
        minutes = (time.perf_counter() - start) / 60
        if step % args.eval_every == 0 or step == args.steps:
            tqdm.write(f"step {step:5d}  train {np.mean(recent):.3f}  "
                       f"val {evaluate(model, val, args.batch, args.eval_chars):.3f}  "
                       f"lr {schedule.get_last_lr()[0]:.2e}  {minutes:.1f} min")
            recent = []
        if minutes > args.time_limit:
            tqdm.write(f"stopping at step {step}: --time-limit {args.time_limit} min reached")
            break
    bar.close()
    elapsed = time.perf_counter() - start
    weights_path = os.path.join(args.out, "char_transformer.npz")
    mg.save(model.state_dict(), weights_path)
    print(f"trained {step} steps in {elapsed / 60:.1f} min ({1000 * elapsed / step:.0f} "
          f"ms/step); weights in {weights_path}; sample:", flush=True)
    print("-" * 60)
    print(sample(model, vocab, args.prompt, args.sample_length, args.temperature, rng))
    print("-" * 60)

    speaker = text.index("**", split)              # a speaker's name and line, unseen in training
    stretch = text[speaker:speaker + min(args.context, 64)]
    layer = args.map_layer % args.layers
    weights = attention_map(model, vocab.encode(stretch), layer, args.map_head)
    figure = args.figure or (os.path.join(args.out, FIGURE.name) if args.quick else str(FIGURE))
    save_attention_figure(figure, weights, stretch, layer, args.map_head)
    print(f"attention of layer {layer}, head {args.map_head} on {stretch[:30]!r}... "
          f"saved to {figure}")
    final = evaluate(model, val, args.batch, args.val_chars)
    scope = "all" if args.val_chars is None else f"the first {args.val_chars:,}"
    print(f"validation: {scope} of {len(val):,} characters")
    print(f"final val loss {final:.3f}")
    return final


if __name__ == "__main__":
    result = main()
    sys.exit(0 if math.isfinite(result) else 1)
