"""Image captioning in miniature: a CNN looks at two handwritten digits, an LSTM says them.

Each image is two 8x8 scikit-learn digits side by side (8x16); its caption is the two digits as
words, e.g. "three seven". The architecture is the lecture's show-and-tell model:

    CNN encoder:  Conv2d -> ReLU -> MaxPool2d (twice) -> Linear  => initial LSTM state (h0, c0)
    LSTM decoder: Embedding(word) -> LSTMCell -> Linear          => next-word logits

Training uses teacher forcing: the decoder reads "<bos> three seven" and is taught to predict
"three seven <eos>". At test time it decodes greedily, feeding back its own argmax word until
"<eos>" (with ``--beam K``, also by beam search of width K: ``nn.utils.beam_search``). Test
pairs are built only from held-out digit images, so every test image is new.

    python examples/digits_captioning.py [--epochs 12] [--pairs 6000] [--hidden 128]
                                         [--batch-size 64] [--lr 3e-3] [--seed 0]
                                         [--backend numpy|cupy] [--threads 1] [--out runs]
                                         [--beam 1] [--quick]

The last line is the headline: ``caption exact-match accuracy X.XX% (N held-out pairs)``, with
``--beam K``: ``caption exact-match accuracy X.XX% greedy, Y.YY% beam K (N held-out pairs)``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
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
from example_cli import LossMeter, add_run_options, start_run  # noqa: E402

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
BOS, EOS = len(WORDS), len(WORDS) + 1
VOCAB = WORDS + ["<bos>", "<eos>"]
MAX_WORDS = 4  # greedy decoding stops here if <eos> never comes


def make_pairs(images: np.ndarray, labels: np.ndarray, count: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random side-by-side pairs: images (count, 1, 8, 16), tokens (count, 4) holding
    <bos> left right <eos>."""
    left, right = rng.integers(len(images), size=(2, count))
    pictures = np.concatenate([images[left], images[right]], axis=-1)
    tokens = np.stack([np.full(count, BOS), labels[left], labels[right], np.full(count, EOS)], 1)
    return pictures, tokens


class Captioner(nn.Module):
    """CNN encoder whose features become the LSTM decoder's initial (h, c). ``width``: the
    images' width in pixels (8 per digit), ``max_words``: the longest caption decoded."""

    def __init__(self, hidden: int, embed: int = 32, width: int = 16,
                 max_words: int = MAX_WORDS) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 16 x 4 x 8
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 32 x 2 x 4
            nn.Flatten(), nn.Linear(32 * 2 * (width // 4), 2 * hidden))
        self.embed = nn.Embedding(len(VOCAB), embed)
        self.cell = nn.LSTMCell(embed, hidden)
        self.out = nn.Linear(hidden, len(VOCAB))
        self.hidden = hidden
        self.max_words = max_words

    def initial_state(self, images: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """Split the encoder's output into h0 (squashed like an LSTM output) and c0."""
        features = self.encoder(images)
        return features[:, :self.hidden].tanh(), features[:, self.hidden:]

    def forward(self, images: mg.Tensor, inputs: np.ndarray) -> mg.Tensor:
        """Teacher forcing: logits (T, B, vocab) for each position of the given input words."""
        state = self.initial_state(images)
        logits = []
        for t in range(inputs.shape[1]):
            state = self.cell(self.embed(mg.tensor(inputs[:, t])), state)
            logits.append(self.out(state[0]))
        return mg.stack(logits)

    def step(self, state: tuple[mg.Tensor, mg.Tensor], words: mg.Tensor
             ) -> tuple[mg.Tensor, tuple[mg.Tensor, mg.Tensor]]:
        """One decoding step for beam search: next-word log-probabilities and the new state."""
        state = self.cell(self.embed(words), state)
        return F.log_softmax(self.out(state[0]), -1), state

    def caption(self, images: mg.Tensor, beam: int = 1) -> np.ndarray:
        """Greedy decoding (beam > 1: beam search of that width): (B, max_words) word ids, each
        row padded with <eos> after its end."""
        with mg.no_grad():
            state = self.initial_state(images)
            if beam > 1:
                return nn.utils.beam_search(self.step, state, BOS, beam_width=beam,
                                            max_length=self.max_words, end_token=EOS
                                            ).sequences.numpy()
            word = np.full(images.shape[0], BOS)
            words = []
            for _ in range(self.max_words):
                state = self.cell(self.embed(mg.tensor(word)), state)
                word = self.out(state[0]).numpy().argmax(axis=1)
                words.append(word)
        result = np.stack(words, axis=1)
        ended = np.cumsum(result == EOS, axis=1) > 0
        result[ended] = EOS
        return result


def train_step(model: Captioner, optimizer: mg.optim.Optimizer,
               schedule: mg.optim.lr_scheduler.LRScheduler, pictures: mg.Tensor,
               tokens: np.ndarray) -> mg.Tensor:
    """One teacher-forced update on a batch of images and their (B, 4) caption tokens;
    returns the loss per word, left on the device (no ``.item()``: no wait for the GPU)."""
    logits = model(pictures, tokens[:, :-1])
    targets = mg.tensor(tokens[:, 1:].T.reshape(-1))
    loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), targets)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    schedule.step()
    return loss


def exact_match(model: Captioner, images: np.ndarray, tokens: np.ndarray,
                batch_size: int = 500, beam: int = 1) -> tuple[float, np.ndarray]:
    """Fraction of captions (greedy, or beam search of width ``beam``) equal to the reference
    ("left right <eos>"), and the captions."""
    model.eval()
    captions = np.concatenate([model.caption(mg.tensor(images[i:i + batch_size]), beam)
                               for i in range(0, len(images), batch_size)])
    model.train()
    reference = np.concatenate([tokens[:, 1:], np.full((len(tokens), 1), EOS)], axis=1)
    return float((captions == reference).all(axis=1).mean()), captions


def words_of(caption: np.ndarray) -> str:
    """Word ids up to the first <eos> as text."""
    return " ".join(VOCAB[w] for w in caption if w != EOS) if EOS in caption else \
        " ".join(VOCAB[w] for w in caption) + " ..."


def save_grid(path: str, images: np.ndarray, captions: np.ndarray, tokens: np.ndarray,
              rows: int = 4, cols: int = 4) -> None:
    """Held-out images with their generated captions (red where the caption is wrong)."""
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 1.45 * rows))
    for k, ax in enumerate(axes.ravel()):
        text = words_of(captions[k])
        truth = f"{WORDS[tokens[k, 1]]} {WORDS[tokens[k, 2]]}"
        ax.imshow(images[k, 0], cmap="gray_r")
        right = text == truth
        ax.set_title(text if right else f"{text} (is {truth})", fontsize=8,
                     color="black" if right else "red")
        ax.axis("off")
    fig.suptitle("greedy captions of held-out digit pairs", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    """Train the captioner with teacher forcing, decode greedily on held-out pairs; 0 on success."""
    parser = argparse.ArgumentParser(description="CNN encoder + LSTM decoder captions pairs of "
                                                 "handwritten digits.")
    parser.add_argument("--epochs", type=int, default=12, help="training epochs (default 12)")
    parser.add_argument("--pairs", type=int, default=6000,
                        help="fresh random training pairs per epoch (default 6000)")
    parser.add_argument("--test-pairs", type=int, default=1000,
                        help="held-out pairs to evaluate (default 1000)")
    parser.add_argument("--hidden", type=int, default=128, help="LSTM hidden size (default 128)")
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    parser.add_argument("--beam", type=int, default=1,
                        help="also decode by beam search of this width and report both "
                             "(default 1: greedy only)")
    add_run_options(parser, "a short run: a smoke test that finishes in seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.pairs, args.test_pairs = 3, 2000, 300

    start_run(args)
    rng = np.random.default_rng(args.seed)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, stratify=digits.target, random_state=args.seed)
    test_images, test_tokens = make_pairs(x_test, y_test, args.test_pairs, rng)
    print(f"captions of 8x16 digit pairs: training pairs drawn from {len(x_train)} digit images, "
          f"{args.test_pairs} test pairs from {len(x_test)} held-out ones")

    model = Captioner(args.hidden)
    optimizer = mg.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * -(-args.pairs // args.batch_size)
    schedule = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    start = time.perf_counter()
    bar = tqdm(total=steps, desc="train", leave=False, file=sys.stderr)
    meter = LossMeter()
    for epoch in range(1, args.epochs + 1):
        pictures, tokens = make_pairs(x_train, y_train, args.pairs, rng)
        for i in range(0, args.pairs, args.batch_size):
            batch = tokens[i:i + args.batch_size]
            meter.add(train_step(model, optimizer, schedule,
                                 mg.tensor(pictures[i:i + args.batch_size]), batch),
                      weight=len(batch))
            bar.update()
        epoch_loss = meter.mean()  # the epoch's mean loss per word: one read per epoch
        bar.set_postfix(loss=f"{epoch_loss:.4f}")
        if epoch == 1 or epoch % max(1, args.epochs // 4) == 0 or epoch == args.epochs:
            held_out = exact_match(model, test_images, test_tokens)[0]
            tqdm.write(f"epoch {epoch:3d}  loss/word {epoch_loss:.4f}  "
                       f"held-out exact match {100 * held_out:.1f}%")
    bar.close()
    elapsed = time.perf_counter() - start

    acc, captions = exact_match(model, test_images, test_tokens)
    for k in range(3):
        print(f"  [{WORDS[test_tokens[k, 1]]} {WORDS[test_tokens[k, 2]]}] -> "
              f"\"{words_of(captions[k])}\"")
    figure = os.path.join(args.out, "digits_captions.png")
    save_grid(figure, test_images, captions, test_tokens)
    print(f"trained {args.epochs} epochs ({steps} steps) in {elapsed:.1f}s on {args.backend}; "
          f"saved {figure}")
    beam = "" if args.beam == 1 else \
        f" greedy, {100 * exact_match(model, test_images, test_tokens, beam=args.beam)[0]:.2f}% " \
        f"beam {args.beam}"
    print(f"caption exact-match accuracy {100 * acc:.2f}%{beam} "
          f"({len(test_images)} held-out pairs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
