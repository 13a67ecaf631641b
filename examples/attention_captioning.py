"""Show, attend and tell in miniature: an LSTM reads out a row of 3-4 handwritten digits,
looking at one region of the image for every word.

Each image is a 8x32 canvas holding 3 or 4 of scikit-learn's 8x8 digits side by side (a row of
3 starts at a random column), captioned "three one four <eos>". The model is Xu et al.'s (2015)
soft attention captioner:

    CNN encoder:   Conv2d -> ReLU -> MaxPool2d (twice), digits_captioning's convolutions
                   => a 2 x 8 map of 32-wide features: 16 regions, each 4x4 pixels of the image
    LSTM decoder:  before every word, additive attention scores each region against the state h,
                   softmax -> weights alpha over the 16 regions -> context = sum alpha_i a_i;
                   LSTMCell([embedding of the last word; context])
                   -> Dropout -> Linear([h; context]) => next-word logits
    Each region's features get a learned position vector: the decoder must know where it
    read the last digit to look right of it next.

Trained with teacher forcing (padded caption positions are ignored by the loss) and decoded
greedily, or with ``--beam K`` also by beam search (``nn.utils.beam_search``). The same data
train the non-attention captioner of examples/digits_captioning.py (the CNN squeezed into the
LSTM's initial state), so the two compare; the alpha of each generated word is drawn over one
test image of each length (docs/ in a full run). Test rows use held-out digit images only.

    python examples/attention_captioning.py [--epochs 12] [--rows 6000] [--hidden 128]
                                            [--batch-size 64] [--lr 3e-3] [--beam 1]
                                            [--seed 0] [--backend numpy|cupy] [--threads 1]
                                            [--out runs] [--figure PATH] [--quick]

The last line is the headline: ``exact match: attention X.XX%, no attention Y.YY% (N held-out
rows of 3-4 digits)``; with ``--beam K`` each model's beam-search figure follows its greedy one.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from tqdm import tqdm  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from digits_captioning import BOS, EOS, VOCAB, WORDS, Captioner  # noqa: E402
from example_cli import LossMeter, add_run_options, start_run  # noqa: E402

FIGURE = Path(__file__).resolve().parent.parent / "docs" / "attention_captioning.png"
DIGITS = (3, 4)                  # digits per row
WIDTH = 8 * max(DIGITS)          # canvas width in pixels
STEPS = max(DIGITS) + 1          # words decoded: the longest caption and its <eos>
IGNORE = -100                    # target of the positions after <eos>: no loss
GRID = (2, WIDTH // 4)           # the encoder's feature map: one region per 4x4 pixels


def make_rows(images: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` canvases (count, 1, 8, 32) of 3-4 random digits in a row, and their tokens
    (count, STEPS + 1): <bos> digits <eos>, then <eos> inputs (whose targets are IGNORE)."""
    canvases = np.zeros((count, 1, 8, WIDTH), dtype=np.float32)
    tokens = np.full((count, STEPS + 1), EOS)
    lengths = rng.choice(DIGITS, size=count)
    for row, n in enumerate(lengths):
        picks = rng.integers(len(images), size=n)
        start = rng.integers(WIDTH - 8 * n + 1)
        canvases[row, 0, :, start:start + 8 * n] = np.concatenate(images[picks, 0], axis=1)
        tokens[row, 0], tokens[row, 1:n + 1] = BOS, labels[picks]
    return canvases, tokens


def targets_of(tokens: np.ndarray) -> np.ndarray:
    """Next-word targets (count, STEPS): the digits, <eos>, then IGNORE."""
    targets = tokens[:, 1:].copy()
    after_end = np.cumsum(targets == EOS, axis=1) > 1
    targets[after_end] = IGNORE
    return targets


class AttentionCaptioner(nn.Module):
    """CNN feature map + LSTM decoder with soft (additive) attention over its regions."""

    def __init__(self, hidden: int, embed: int = 32, channels: int = 32, attend: int = 64,
                 dropout: float = 0.3) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),          # 16 x 4 x 16
            nn.Conv2d(16, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))   # 32 x 2 x 8
        # a learned vector per region, added to its features: convolutions see what is in a
        # region, not where it is, and the decoder must know where it read to go on from there
        self.position = nn.Parameter(0.1 * mg.randn(GRID[0] * GRID[1], channels))
        self.init_h = nn.Linear(channels, hidden)    # h0, c0 from the mean region
        self.init_c = nn.Linear(channels, hidden)
        self.key = nn.Linear(channels, attend)       # W_a a_i, once per image
        self.query = nn.Linear(hidden, attend)       # W_h h, once per word
        self.score = nn.Linear(attend, 1)            # w . tanh(W_a a_i + W_h h)
        self.embed = nn.Embedding(len(VOCAB), embed)
        self.cell = nn.LSTMCell(embed + channels, hidden)
        self.dropout = nn.Dropout(dropout)           # without it, it memorises the train digits
        self.out = nn.Linear(hidden + channels, len(VOCAB))

    def encode(self, images: mg.Tensor) -> tuple[mg.Tensor, ...]:
        """The decoder's start state: (h0, c0, regions (B, 16, C), their keys (B, 16, A))."""
        maps = self.encoder(images)
        regions = maps.flatten(2).transpose(1, 2) + self.position
        mean = regions.mean(1)
        return self.init_h(mean).tanh(), self.init_c(mean), regions, self.key(regions)

    def decode(self, words: mg.Tensor, state: tuple[mg.Tensor, ...]
               ) -> tuple[mg.Tensor, tuple[mg.Tensor, ...], mg.Tensor]:
        """One word: (logits, new state, attention weights (B, 16)). The attention reads the
        state before the word, so it chooses where to look for the word it is about to say."""
        h, c, regions, keys = state
        scores = self.score((keys + self.query(h).unsqueeze(1)).tanh()).squeeze(2)
        alpha = F.softmax(scores, -1)
        context = (alpha.unsqueeze(1) @ regions).squeeze(1)
        h, c = self.cell(mg.cat([self.embed(words), context], 1), (h, c))
        return self.out(self.dropout(mg.cat([h, context], 1))), (h, c, regions, keys), alpha

    def forward(self, images: mg.Tensor, inputs: np.ndarray) -> mg.Tensor:
        """Teacher forcing: logits (T, B, vocab) for each position of the given input words."""
        state = self.encode(images)
        logits = []
        for t in range(inputs.shape[1]):
            out, state, _ = self.decode(mg.tensor(inputs[:, t]), state)
            logits.append(out)
        return mg.stack(logits)

    def step(self, state: tuple[mg.Tensor, ...], words: mg.Tensor
             ) -> tuple[mg.Tensor, tuple[mg.Tensor, ...]]:
        """Beam search's step: log-probabilities of the next word, and the new state."""
        out, state, _ = self.decode(words, state)
        return F.log_softmax(out, -1), state

    def caption(self, images: mg.Tensor, beam: int = 1
                ) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """(B, STEPS) word ids padded with <eos> after the end, and the attention weights
        (B, STEPS, 16) of greedy decoding (None for beam search, beam > 1)."""
        with mg.no_grad():
            state = self.encode(images)
            if beam > 1:
                return nn.utils.beam_search(self.step, state, BOS, beam_width=beam,
                                            max_length=STEPS, end_token=EOS
                                            ).sequences.numpy(), None
            word, words, alphas = mg.full((images.shape[0],), BOS, dtype=mg.int64), [], []
            for _ in range(STEPS):
                out, state, alpha = self.decode(word, state)
                word = out.argmax(1)
                words.append(word.numpy())
                alphas.append(alpha.numpy())
        result = np.stack(words, axis=1)
        result[np.cumsum(result == EOS, axis=1) > 0] = EOS
        return result, np.stack(alphas, axis=1)


def captions_of(model: nn.Module, images: np.ndarray, beam: int, batch_size: int = 500
                ) -> np.ndarray:
    """Either model's captions (B, STEPS): greedy, or beam search of width ``beam``."""
    model.eval()
    rows = []
    for i in range(0, len(images), batch_size):
        caption = model.caption(mg.tensor(images[i:i + batch_size]), beam)
        rows.append(caption[0] if isinstance(caption, tuple) else caption)
    model.train()
    return np.concatenate(rows)


def exact_match(model: nn.Module, images: np.ndarray, tokens: np.ndarray, beam: int = 1
                ) -> float:
    """Fraction of captions equal to the reference digits and <eos>."""
    return float((captions_of(model, images, beam) == tokens[:, 1:]).all(axis=1).mean())


def text_of(caption: np.ndarray) -> str:
    """Word ids up to the first <eos> as text."""
    end = list(caption).index(EOS) if EOS in caption else len(caption)
    return " ".join(WORDS[w] for w in caption[:end])


def train_step(model: nn.Module, optimizer: mg.optim.Optimizer,
               schedule: mg.optim.lr_scheduler.LRScheduler, images: mg.Tensor,
               tokens: np.ndarray, targets: np.ndarray) -> mg.Tensor:
    """One teacher-forced update: either model reads ``tokens`` (B, STEPS) and is taught
    ``targets`` (B, STEPS); returns the loss per word, left on the device (no ``.item()``:
    no wait for the GPU)."""
    logits = model(images, tokens)
    loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), mg.tensor(targets.T.reshape(-1)),
                           ignore_index=IGNORE)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    schedule.step()
    return loss


def train(model: nn.Module, name: str, digits: tuple, args: argparse.Namespace,
          rng: np.random.Generator, test: tuple) -> float:
    """Teacher forcing with Adam and a cosine schedule; returns the seconds it took."""
    x_train, y_train = digits
    optimizer = mg.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * -(-args.rows // args.batch_size)
    schedule = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    start = time.perf_counter()
    bar = tqdm(total=steps, desc=name, leave=False, file=sys.stderr)
    meter = LossMeter()
    for epoch in range(1, args.epochs + 1):
        images, tokens = make_rows(x_train, y_train, args.rows, rng)
        targets = targets_of(tokens)
        for i in range(0, args.rows, args.batch_size):
            rows = slice(i, i + args.batch_size)
            meter.add(train_step(model, optimizer, schedule, mg.tensor(images[rows]),
                                 tokens[rows, :-1], targets[rows]),
                      weight=len(tokens[rows]))
            bar.update()
        epoch_loss = meter.mean()  # the epoch's mean loss per word: one read per epoch
        bar.set_postfix(loss=f"{epoch_loss:.4f}")
        if epoch == 1 or epoch % max(1, args.epochs // 4) == 0 or epoch == args.epochs:
            tqdm.write(f"{name:>12} epoch {epoch:3d}  loss/word {epoch_loss:.4f}  "
                       f"held-out exact match {100 * exact_match(model, *test):.1f}%")
    bar.close()
    return time.perf_counter() - start


def save_attention(path: str, model: AttentionCaptioner, images: np.ndarray) -> None:
    """Each test image (a column) and, below it, the weights alpha of every generated word
    over the image's regions, as a heat map on the digits."""
    model.eval()
    captions, alphas = model.caption(mg.tensor(images))
    model.train()
    rows = STEPS + 1
    fig, axes = plt.subplots(rows, len(images), figsize=(3.2 * len(images), 0.95 * rows))
    for col in range(len(images)):
        axes[0, col].imshow(images[col, 0], cmap="gray_r")
        axes[0, col].set_title(f'"{text_of(captions[col])}"', fontsize=9)
        ended = False
        for t in range(STEPS):
            ax = axes[t + 1, col]
            if ended:
                ax.axis("off")
                continue
            weights = alphas[col, t].reshape(GRID)
            glow = np.zeros(GRID + (4,))                  # orange, opaque where alpha peaks
            glow[..., :3] = (1.0, 0.45, 0.0)
            glow[..., 3] = 0.8 * weights / weights.max()
            ax.imshow(images[col, 0], cmap="gray_r")
            ax.imshow(glow, extent=(-0.5, WIDTH - 0.5, 7.5, -0.5), interpolation="nearest")
            ax.set_ylabel(VOCAB[captions[col, t]], rotation=0, ha="right", va="center",
                          fontsize=9)
            ended = captions[col, t] == EOS
        for ax in axes[:, col]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("where the decoder looks before each word (alpha over 2 x 8 regions, orange)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    """Train the attention captioner and the non-attention one on the same rows; 0 on success."""
    parser = argparse.ArgumentParser(description="Show, attend and tell: an LSTM with soft "
                                                 "attention over CNN regions reads out rows "
                                                 "of 3-4 handwritten digits.")
    parser.add_argument("--epochs", type=int, default=12, help="training epochs (default 12)")
    parser.add_argument("--rows", type=int, default=6000,
                        help="fresh random training rows per epoch (default 6000)")
    parser.add_argument("--test-rows", type=int, default=1000,
                        help="held-out rows to evaluate (default 1000)")
    parser.add_argument("--hidden", type=int, default=128, help="LSTM hidden size (default 128)")
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    parser.add_argument("--beam", type=int, default=1,
                        help="also decode by beam search of this width and report both "
                             "(default 1: greedy only)")
    parser.add_argument("--figure", default=None,
                        help=f"attention figure (default: {FIGURE.relative_to(FIGURE.parents[1])}"
                             f"; with --quick, in --out)")
    add_run_options(parser, "a short run: a smoke test that finishes in seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.rows, args.test_rows = 2, 1000, 200

    start_run(args)
    rng = np.random.default_rng(args.seed)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, stratify=digits.target, random_state=args.seed)
    test = make_rows(x_test, y_test, args.test_rows, rng)
    print(f"captions of 8x{WIDTH} rows of {DIGITS[0]}-{DIGITS[1]} digits: training rows drawn "
          f"from {len(x_train)} digit images, {args.test_rows} test rows from {len(x_test)} "
          f"held-out ones")

    attention = AttentionCaptioner(args.hidden)
    plain = Captioner(args.hidden, width=WIDTH, max_words=STEPS)
    results = []
    for name, model in (("attention", attention), ("no attention", plain)):
        seconds = train(model, name, (x_train, y_train), args, rng, test)
        greedy = exact_match(model, *test)
        line = f"{name} {100 * greedy:.2f}%"
        if args.beam > 1:
            line += f" (beam {args.beam}: {100 * exact_match(model, *test, args.beam):.2f}%)"
        results.append(line)
        print(f"{name}: trained {args.epochs} epochs in {seconds:.1f}s on {args.backend}; "
              f"held-out exact match {100 * greedy:.2f}%")

    captions = captions_of(attention, test[0], 1)
    for k in range(3):
        truth = text_of(test[1][k, 1:])
        print(f"  [{truth}] -> \"{text_of(captions[k])}\"")
    lengths = (test[1] != EOS).sum(1) - 1                 # digits per row (<bos> not counted)
    shown = [int(np.flatnonzero(lengths == n)[0]) for n in DIGITS]
    figure = args.figure or (os.path.join(args.out, FIGURE.name) if args.quick else str(FIGURE))
    save_attention(figure, attention, test[0][shown])
    print(f"attention maps of test rows {shown} saved to {figure}")
    print(f"exact match: {', '.join(results)} ({args.test_rows} held-out rows of "
          f"{DIGITS[0]}-{DIGITS[1]} digits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
