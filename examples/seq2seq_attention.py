"""Sequence-to-sequence translation with attention: dates as people write them -> ISO 8601.

"march 7, 1994", "7 mar 1994", "tuesday, march 7, 1994", "03/07/1994", "the 7th of march 1994"
... all become "1994-03-07". Character by character:

    encoder:  Embedding -> bidirectional GRU over the input characters (variable lengths)
    decoder:  GRUCell; before each output character it attends to every encoder position
              (dot-product attention over projected encoder states, padding masked out),
              reads the weighted context, and predicts the next character from [state; context]

Training uses teacher forcing on freshly generated dates; evaluation decodes greedily on
held-out dates (none of them ever appears in training, in any format); ``--beam K`` also
decodes them by beam search of width K (``nn.utils.beam_search``). The attention heat map
shows the alignment the decoder learned: the year digits look at the year, the month at the
month name, even when the input order is day-month-year or month-day-year.

    python examples/seq2seq_attention.py [--steps 800] [--batch-size 64] [--hidden 64]
                                         [--lr 3e-3] [--seed 0] [--backend numpy|cupy]
                                         [--threads 1] [--out runs] [--beam 1] [--quick]

The last line is the headline: ``exact match X.XX% on N held-out dates``, with ``--beam K``:
``exact match X.XX% greedy, Y.YY% beam K on N held-out dates``.
"""
from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time
from typing import Callable, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from example_cli import LossMeter, add_run_options, start_run  # noqa: E402

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
FIRST, LAST = datetime.date(1950, 1, 1).toordinal(), datetime.date(2049, 12, 31).toordinal()


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st."""
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


FORMATS: list[Callable[[datetime.date], str]] = [
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1][:3]} {d.day:02d} {d.year}",
    lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
    lambda d: f"{d.day}.{d.month}.{d.year}",
    lambda d: f"the {ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.year} {MONTHS[d.month - 1]} {d.day}",
]
PAD = "\0"
SOURCE_CHARS = PAD + " ,./" + "0123456789" + "abcdefghijklmnopqrstuvwxyz"
SOURCE_INDEX = {c: i for i, c in enumerate(SOURCE_CHARS)}
TARGET_CHARS = "0123456789-"
BOS = len(TARGET_CHARS)            # the decoder's first input
TARGET_LEN = len("1994-03-07")


def random_dates(rng: random.Random, count: int, exclude: frozenset = frozenset()
                 ) -> list[datetime.date]:
    """``count`` uniformly drawn dates in 1950..2049, none of them in ``exclude``."""
    dates: list[datetime.date] = []
    while len(dates) < count:
        day = rng.randint(FIRST, LAST)
        if day not in exclude:
            dates.append(datetime.date.fromordinal(day))
    return dates


def encode(dates: list[datetime.date], texts: list[str]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Padded source ids (B, S), lengths (B,), target ids (B, 10), and the source strings."""
    lengths = np.array([len(t) for t in texts])
    source = np.zeros((len(texts), lengths.max()), dtype=np.int64)
    for row, text in enumerate(texts):
        source[row, :len(text)] = [SOURCE_INDEX[c] for c in text]
    target = np.array([[TARGET_CHARS.index(c) for c in d.isoformat()] for d in dates])
    return source, lengths, target, texts


def written(dates: list[datetime.date], rng: random.Random
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Each date in a randomly chosen human format, encoded."""
    return encode(dates, [rng.choice(FORMATS)(d) for d in dates])


class Translator(nn.Module):
    """Bidirectional GRU encoder, GRUCell decoder with dot-product attention."""

    def __init__(self, hidden: int, embed: int = 32) -> None:
        super().__init__()
        self.source_embed = nn.Embedding(len(SOURCE_CHARS), embed, padding_idx=0)
        self.encoder = nn.GRU(embed, hidden, batch_first=True, bidirectional=True)
        memory = 2 * hidden                       # forward and backward states side by side
        self.bridge = nn.Linear(memory, memory)   # final encoder states -> decoder's h0
        self.key = nn.Linear(memory, memory, bias=False)
        self.target_embed = nn.Embedding(BOS + 1, embed)
        self.cell = nn.GRUCell(embed + memory, memory)
        self.combine = nn.Linear(2 * memory, memory)
        self.out = nn.Linear(memory, len(TARGET_CHARS))

    def encode(self, source: np.ndarray, lengths: np.ndarray
               ) -> tuple[mg.Tensor, mg.Tensor, mg.Tensor, mg.Tensor]:
        """Encoder states (B, S, 2H), their keys, the padding bias (B, S) and h0 (B, 2H)."""
        states, h_n = self.encoder(self.source_embed(mg.tensor(source)), lengths=lengths)
        h0 = self.bridge(mg.concatenate([h_n[0], h_n[1]], axis=1)).tanh()
        padding = np.where(np.arange(source.shape[1]) < lengths[:, None], 0.0, -1e9)
        return states, self.key(states), mg.tensor(padding.astype(np.float32)), h0

    def attend(self, h: mg.Tensor, states: mg.Tensor, keys: mg.Tensor, padding: mg.Tensor
               ) -> tuple[mg.Tensor, mg.Tensor]:
        """Context (B, 2H) = softmax(keys . h) weighted sum of the states; and the weights."""
        batch, steps = padding.shape
        scores = (keys @ h.reshape(batch, -1, 1)).reshape(batch, steps) + padding
        weights = F.softmax(scores, axis=-1)
        return (weights.reshape(batch, 1, steps) @ states).reshape(batch, -1), weights

    def step(self, previous: np.ndarray, h: mg.Tensor, memory: tuple
             ) -> tuple[mg.Tensor, mg.Tensor, mg.Tensor]:
        """One output character: (logits, new state, attention weights)."""
        states, keys, padding = memory
        context, weights = self.attend(h, states, keys, padding)
        h = self.cell(mg.concatenate([self.target_embed(mg.tensor(previous)), context], axis=1), h)
        hidden = self.combine(mg.concatenate([h, context], axis=1)).tanh()
        return self.out(hidden), h, weights

    def forward(self, source: np.ndarray, lengths: np.ndarray, target: np.ndarray) -> mg.Tensor:
        """Teacher forcing: logits (10, B, classes), reading <bos> then the true characters."""
        states, keys, padding, h = self.encode(source, lengths)
        previous = np.full(len(source), BOS)
        logits = []
        for t in range(TARGET_LEN):
            out, h, _ = self.step(previous, h, (states, keys, padding))
            logits.append(out)
            previous = target[:, t]
        return mg.stack(logits)

    def translate(self, source: np.ndarray, lengths: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Greedy decoding: the ISO strings and the attention weights (B, 10, S)."""
        with mg.no_grad():
            states, keys, padding, h = self.encode(source, lengths)
            previous = np.full(len(source), BOS)
            chars, attention = [], []
            for _ in range(TARGET_LEN):
                out, h, weights = self.step(previous, h, (states, keys, padding))
                previous = out.numpy().argmax(axis=1)
                chars.append(previous)
                attention.append(weights.numpy())
        text = ["".join(TARGET_CHARS[c] for c in row) for row in np.stack(chars, axis=1)]
        return text, np.stack(attention, axis=1)

    def translate_beam(self, source: np.ndarray, lengths: np.ndarray, beam: int) -> list[str]:
        """Beam search of width ``beam``: the ISO strings. The encoder's memory rides in the
        beam state, so each beam's row of it follows the beam."""
        def step(state: tuple, previous: mg.Tensor) -> tuple[mg.Tensor, tuple]:
            h, *memory = state
            out, h, _ = self.step(previous, h, tuple(memory))
            return F.log_softmax(out, -1), (h, *memory)

        with mg.no_grad():
            states, keys, padding, h = self.encode(source, lengths)
            best = nn.utils.beam_search(step, (h, states, keys, padding), BOS, beam_width=beam,
                                        max_length=TARGET_LEN, end_token=None).sequences
        return ["".join(TARGET_CHARS[c] for c in row) for row in best.numpy()]


def train_step(model: Translator, optimizer: mg.optim.Optimizer,
               schedule: mg.optim.lr_scheduler.LRScheduler, source: np.ndarray,
               lengths: np.ndarray, target: np.ndarray) -> mg.Tensor:
    """One teacher-forced update on a batch; returns the loss per character, left on the
    device (no ``.item()``: no wait for the GPU)."""
    logits = model(source, lengths, target)
    loss = F.cross_entropy(logits.reshape(-1, len(TARGET_CHARS)),
                           mg.tensor(target.T.reshape(-1)))
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    schedule.step()
    return loss


def evaluate(model: Translator, data: tuple, batch_size: int = 500, beam: int = 1
             ) -> tuple[float, list[str]]:
    """Exact-match accuracy of greedy translations (beam > 1: beam search of that width) of
    held-out data, and the translations."""
    source, lengths, target, _ = data
    model.eval()
    predicted: list[str] = []
    for i in range(0, len(source), batch_size):
        width = lengths[i:i + batch_size].max()
        batch = source[i:i + batch_size, :width], lengths[i:i + batch_size]
        predicted += model.translate(*batch)[0] if beam == 1 else \
            model.translate_beam(*batch, beam)
    model.train()
    truth = ["".join(TARGET_CHARS[c] for c in row) for row in target]
    return float(np.mean([p == t for p, t in zip(predicted, truth)])), predicted


def save_heatmaps(path: str, model: Translator, date: datetime.date,
                  formats: tuple = (4, 7, 5)) -> None:
    """Attention weights (output character x input character): one held-out date, three ways."""
    source, lengths, _, texts = encode([date] * len(formats), [FORMATS[i](date) for i in formats])
    model.eval()
    predicted, attention = model.translate(source, lengths)
    model.train()
    fig, axes = plt.subplots(1, len(formats), figsize=(4.2 * len(formats), 3.4))
    for k, ax in enumerate(axes):
        text = texts[k]
        ax.imshow(attention[k, :, :len(text)], cmap="viridis", aspect="auto", vmin=0, vmax=1)
        ax.set_xticks(range(len(text)), [c if c != " " else "_" for c in text], fontsize=7)
        ax.set_yticks(range(TARGET_LEN), list(predicted[k]), fontsize=7)
        ax.set_title(f'"{text}"', fontsize=8)
    fig.suptitle("attention: each output character (rows) over the input characters", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    """Train with teacher forcing on fresh dates, evaluate greedily on held-out ones."""
    parser = argparse.ArgumentParser(description="Encoder-decoder with attention translates "
                                                 "human-written dates to ISO 8601.")
    parser.add_argument("--steps", type=int, default=800, help="training steps (default 800)")
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument("--hidden", type=int, default=64,
                        help="encoder GRU size per direction (default 64)")
    parser.add_argument("--test-size", type=int, default=1000,
                        help="held-out dates to evaluate (default 1000)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    parser.add_argument("--beam", type=int, default=1,
                        help="also decode by beam search of this width and report both "
                             "(default 1: greedy only)")
    parser.add_argument("--log-every", type=int, default=10,
                        help="show the mean training loss every this many steps (default 10)")
    add_run_options(parser, "a short run: a smoke test that finishes in seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.test_size = 60, 200

    start_run(args)
    rng = random.Random(args.seed)
    test_dates = random_dates(rng, args.test_size)
    held_out = frozenset(d.toordinal() for d in test_dates)
    test = written(test_dates, rng)
    print(f"dates in {len(FORMATS)} formats -> ISO 8601; {args.test_size} held-out dates, "
          f"training on fresh dates that exclude them, e.g. "
          f"\"{test[3][0]}\" -> \"{test_dates[0].isoformat()}\"")

    model = Translator(args.hidden)
    optimizer = mg.optim.Adam(model.parameters(), lr=args.lr)
    schedule = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)
    start = time.perf_counter()
    bar = tqdm(range(1, args.steps + 1), desc="train", leave=False, file=sys.stderr)
    meter = LossMeter()
    for it in bar:
        source, lengths, target, _ = written(random_dates(rng, args.batch_size, held_out), rng)
        meter.add(train_step(model, optimizer, schedule, source, lengths, target))
        evaluating = it % max(1, args.steps // 5) == 0
        if it % args.log_every == 0 or evaluating:  # the losses stay on the device till now
            loss = meter.mean()                      # their mean since the last read
            bar.set_postfix(loss=f"{loss:.4f}")
            if evaluating:
                tqdm.write(f"step {it:5d}  loss/char {loss:.4f}  "
                           f"held-out exact match {100 * evaluate(model, test)[0]:.1f}%")
    bar.close()
    elapsed = time.perf_counter() - start

    accuracy, predicted = evaluate(model, test)
    for k in range(4):
        print(f"  \"{test[3][k]}\" -> {predicted[k]}"
              f"{'' if predicted[k] == test_dates[k].isoformat() else '  (wrong)'}")
    figure = os.path.join(args.out, "seq2seq_attention.png")
    save_heatmaps(figure, model, test_dates[0])
    print(f"trained {args.steps} steps in {elapsed:.1f}s "
          f"({1000 * elapsed / args.steps:.0f} ms/step) on {args.backend}; saved {figure}")
    beam = "" if args.beam == 1 else \
        f" greedy, {100 * evaluate(model, test, beam=args.beam)[0]:.2f}% beam {args.beam}"
    print(f"exact match {100 * accuracy:.2f}%{beam} on {args.test_size} held-out dates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
