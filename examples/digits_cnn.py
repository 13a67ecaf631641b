"""A LeNet-style CNN on scikit-learn's 8x8 handwritten digits, then transfer by fine-tuning.

Part 1 trains Conv2d -> ReLU -> MaxPool2d (twice) -> Linear -> ReLU -> Linear on a stratified
training split and reports accuracy on held-out images it never saw.

Part 2 is the transfer-learning recipe from the lecture: keep the convolutional "eyes", swap
the classifier "brain". The new task is mirror-written digits (every image flipped left-right).
The convolutional layers are frozen (``requires_grad = False``), the head is replaced by a
freshly initialised one and only the head is trained. The script checks that not one frozen
weight moved, and prints the accuracy on mirrored test digits before and after fine-tuning.

    python examples/digits_cnn.py [--epochs 40] [--finetune-epochs 20] [--batch-size 64]
                                  [--lr 3e-3] [--seed 0] [--backend numpy|cupy] [--threads 1]
                                  [--out runs] [--quick]

The last line is the headline: ``test accuracy X.XX% | fine-tuned (mirrored digits) Y.YY%``.
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
from minigrad.utils.data import DataLoader, TensorDataset  # noqa: E402
from example_cli import LossMeter, add_run_options, start_run  # noqa: E402


def load_split(seed: int, test_size: float = 0.25) -> tuple[np.ndarray, ...]:
    """Digits as float32 (N, 1, 8, 8) images scaled to [0, 1], split stratified by class."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    return tuple(train_test_split(images, digits.target.astype(np.int64), test_size=test_size,
                                  stratify=digits.target, random_state=seed))


def make_head(hidden: int = 64, classes: int = 10) -> nn.Sequential:
    """The classifier on top of the 32x2x2 conv features; replaced when fine-tuning."""
    return nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, hidden), nn.ReLU(),
                         nn.Dropout(0.2), nn.Linear(hidden, classes))


class LeNet(nn.Module):
    """Two conv/pool stages (8x8 -> 4x4 -> 2x2) and a small MLP head."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = make_head()

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.head(self.features(x))


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray,
             batch_size: int = 512) -> float:
    """Fraction of images whose argmax logit is the label (eval mode, no tape)."""
    model.eval()
    correct = 0
    batches = DataLoader(TensorDataset(mg.tensor(images), mg.tensor(labels)), batch_size)
    with mg.no_grad():
        for x, y in batches:
            correct += int((model(x).argmax(1) == y).sum().item())
    model.train()
    return correct / len(images)


def train_step(model: nn.Module, optimizer: mg.optim.Optimizer,
               schedule: mg.optim.lr_scheduler.LRScheduler,
               x: mg.Tensor, y: mg.Tensor) -> mg.Tensor:
    """One minibatch update; returns the loss, left on the device (no ``.item()`` here: it
    would make the CPU wait for the GPU at every step)."""
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    schedule.step()
    return loss


def train(model: nn.Module, images: np.ndarray, labels: np.ndarray, epochs: int,
          batch_size: int, lr: float, rng: np.random.Generator, desc: str) -> list[float]:
    """Adam with cosine decay over the trainable parameters only; returns per-epoch mean loss."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = mg.optim.Adam(params, lr=lr)
    loader = DataLoader(TensorDataset(mg.tensor(images), mg.tensor(labels)), batch_size,
                        shuffle=True,
                        generator=mg.Generator().manual_seed(int(rng.integers(2**31))))
    schedule = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(loader))
    losses, meter = [], LossMeter()
    bar = tqdm(range(epochs), desc=desc, leave=False, file=sys.stderr)
    for _ in bar:
        for x, y in loader:
            meter.add(train_step(model, optimizer, schedule, x, y), weight=len(y))
        losses.append(meter.mean())  # the epoch's mean loss per image: one read per epoch
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return losses


def save_figure(path: str, losses: list[float], ft_losses: list[float],
                model: nn.Module) -> None:
    """Loss curves of both phases and the first layer's 16 learned 3x3 filters."""
    fig, (ax, right) = plt.subplots(1, 2, figsize=(9, 3.6), width_ratios=(2, 1))
    ax.plot(range(1, len(losses) + 1), losses, label="train CNN (digits)")
    ax.plot(range(len(losses) + 1, len(losses) + len(ft_losses) + 1), ft_losses,
            label="fine-tune head (mirrored digits)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.legend()
    weights = model.features[0].weight.numpy()[:, 0]
    mosaic = np.full((15, 15), np.nan)  # 4 x 4 filters of 3 x 3 with one-pixel gaps
    for k in range(16):
        row, col = 4 * (k // 4), 4 * (k % 4)
        mosaic[row:row + 3, col:col + 3] = weights[k] / np.abs(weights[k]).max()
    right.imshow(mosaic, cmap="RdBu_r", vmin=-1, vmax=1)
    right.axis("off")
    fig.suptitle("left: loss per epoch; right: conv1 filters (frozen during fine-tuning)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    """Train, evaluate, fine-tune on mirrored digits; 0 on success."""
    parser = argparse.ArgumentParser(description="LeNet-style CNN on the scikit-learn digits, "
                                                 "then fine-tuning a new head.")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    parser.add_argument("--finetune-epochs", type=int, default=20,
                        help="epochs training the new head (default 20)")
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    add_run_options(parser, "a few epochs only: a smoke test that finishes in seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.finetune_epochs = 4, 3

    start_run(args)
    rng = np.random.default_rng(args.seed)
    x_train, x_test, y_train, y_test = load_split(args.seed)
    print(f"digits: {len(x_train)} training and {len(x_test)} held-out test images (8x8)")

    start = time.perf_counter()
    model = LeNet()
    losses = train(model, x_train, y_train, args.epochs, args.batch_size, args.lr, rng, "train")
    test_acc = accuracy(model, x_test, y_test)
    print(f"CNN: {args.epochs} epochs in {time.perf_counter() - start:.1f}s, final train loss "
          f"{losses[-1]:.4f}, test accuracy {100 * test_acc:.2f}%")

    mirrored_train, mirrored_test = x_train[..., ::-1].copy(), x_test[..., ::-1].copy()
    before = accuracy(model, mirrored_test, y_test)
    for p in model.features.parameters():
        p.requires_grad = False
    frozen = {name: p.numpy().copy() for name, p in model.features.named_parameters()}
    model.head = make_head()
    ft_start = time.perf_counter()
    ft_losses = train(model, mirrored_train, y_train, args.finetune_epochs, args.batch_size,
                      args.lr, rng, "fine-tune")
    ft_acc = accuracy(model, mirrored_test, y_test)
    moved = max(float(np.abs(p.numpy() - frozen[name]).max())
                for name, p in model.features.named_parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"fine-tuning: conv layers frozen, new head ({trainable} of {total} parameters "
          f"trainable), {args.finetune_epochs} epochs in {time.perf_counter() - ft_start:.1f}s")
    print(f"mirrored test digits: {100 * before:.2f}% with the original head, "
          f"{100 * ft_acc:.2f}% after fine-tuning the new head")
    print(f"largest change of a frozen conv weight: {moved:.1e}")

    figure = os.path.join(args.out, "digits_cnn.png")
    save_figure(figure, losses, ft_losses, model)
    print(f"saved {figure}")
    print(f"test accuracy {100 * test_acc:.2f}% | fine-tuned (mirrored digits) "
          f"{100 * ft_acc:.2f}%")
    if moved != 0.0:
        print("FAILED: a frozen weight changed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
