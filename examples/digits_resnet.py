"""Why ResNets have skip connections and batch norm: four networks of equal depth on 8x8 digits.

The same 9-convolution network is trained four ways on scikit-learn's digits:

    plain                conv -> ReLU, nine times
    plain + BN           conv -> BatchNorm2d -> ReLU
    residual             the convs paired into blocks whose input is added back: relu(x + F(x))
    residual + BN        both: the ResNet recipe

Layout (the ResNet paper's, in miniature): a stem conv (1 -> 16 channels, 8x8), two blocks at
16 channels and 8x8, two at 32 channels and 4x4 (the first halves the grid with stride 2), then
AdaptiveAvgPool2d(1) -> Linear(32, 10). The residual networks' shortcut across the stride-2
block subsamples the grid and pads the new channels with zeros (the paper's option A), so a
residual network has exactly the parameters of its plain twin, created from the same seed: only
the skips differ. Layers keep PyTorch's default initialisation. Every network sees the
same minibatches (SGD with momentum, cosine-decayed learning rate).

The plot shows training loss and test accuracy per epoch for all four. Without batch norm the
plain stack's signal shrinks layer by layer, and so does the gradient on the way back (each
network's line prints the stem convolution's gradient norm on the first step): it learns slowly
or not at all. The identity path of the residual network carries the signal and the gradient
through the depth; batch norm rescales every layer's output, which rescues even the plain stack.

    python examples/digits_resnet.py [--epochs 20] [--width 16] [--batch-size 64] [--lr 0.05]
                                     [--seed 0] [--backend numpy|cupy] [--threads 1]
                                     [--out runs] [--quick]

The last line is the headline: ``test accuracy: plain A% | plain+BN B% | residual C% |
residual+BN D%``.
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
from tqdm import tqdm  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad.utils.data import DataLoader, TensorDataset  # noqa: E402
from digits_cnn import accuracy, load_split  # noqa: E402
from example_cli import add_run_options, start_run  # noqa: E402

VARIANTS = (("plain", False, False), ("plain+BN", False, True),
            ("residual", True, False), ("residual+BN", True, True))


def conv_bn(c_in: int, c_out: int, stride: int, batch_norm: bool) -> nn.Sequential:
    """3x3 convolution, then BatchNorm2d (which makes the conv's bias redundant) or nothing."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1,
                                   bias=not batch_norm),
                         nn.BatchNorm2d(c_out) if batch_norm else nn.Identity())


class Block(nn.Module):
    """Two convolutions, relu(F(x) + x) when residual, relu(F(x)) when plain."""

    def __init__(self, c_in: int, c_out: int, stride: int, residual: bool,
                 batch_norm: bool) -> None:
        super().__init__()
        self.residual, self.stride, self.extra = residual, stride, c_out - c_in
        self.conv1 = conv_bn(c_in, c_out, stride, batch_norm)
        self.conv2 = conv_bn(c_out, c_out, 1, batch_norm)

    def shortcut(self, x: mg.Tensor) -> mg.Tensor:
        """Identity; across a stride-2 block, every other pixel and zeros for new channels."""
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.extra:
            x = mg.cat([x, x.new_zeros((x.size(0), self.extra, x.size(2), x.size(3)))], 1)
        return x

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        return F.relu(out + self.shortcut(x) if self.residual else out)


class DigitsNet(nn.Module):
    """Stem, two stages of two blocks (8x8 then 4x4), global average pool, linear classifier."""

    def __init__(self, residual: bool, batch_norm: bool, width: int = 16) -> None:
        super().__init__()
        self.stem = conv_bn(1, width, 1, batch_norm)
        self.blocks = nn.Sequential(
            Block(width, width, 1, residual, batch_norm),
            Block(width, width, 1, residual, batch_norm),
            Block(width, 2 * width, 2, residual, batch_norm),
            Block(2 * width, 2 * width, 1, residual, batch_norm))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, 10)

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        features = self.pool(self.blocks(F.relu(self.stem(x))))
        return self.fc(features.flatten(1))


def train(model: nn.Module, data: tuple[np.ndarray, ...], epochs: int, batch_size: int,
          lr: float, seed: int, desc: str) -> tuple[list[float], list[float], float]:
    """SGD (momentum 0.9, weight decay 5e-4, cosine decay); per-epoch mean training loss and
    test accuracy, and the stem's gradient norm on the first step: how much of the learning
    signal reaches the bottom layer of the untrained network."""
    x_train, x_test, y_train, y_test = data
    optimizer = mg.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    loader = DataLoader(TensorDataset(mg.tensor(x_train), mg.tensor(y_train)), batch_size,
                        shuffle=True, generator=mg.Generator().manual_seed(seed))
    schedule = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(loader))
    losses, accuracies, first_gradient = [], [], None
    bar = tqdm(range(epochs), desc=desc, leave=False, file=sys.stderr)
    for _ in bar:
        total = 0.0
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            if first_gradient is None:
                first_gradient = model.stem[0].weight.grad.norm().item()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(y)
        losses.append(total / len(x_train))
        accuracies.append(accuracy(model, x_test, y_test))
        bar.set_postfix(loss=f"{losses[-1]:.4f}", test=f"{100 * accuracies[-1]:.1f}%")
    return losses, accuracies, first_gradient


def save_figure(path: str, curves: dict[str, tuple[list[float], list[float], float]]) -> None:
    """Training loss (log scale) and test accuracy per epoch, one line per variant."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    styles = {"plain": ("tab:red", "--"), "plain+BN": ("tab:red", "-"),
              "residual": ("tab:blue", "--"), "residual+BN": ("tab:blue", "-")}
    for name, (losses, accuracies, _) in curves.items():
        color, line = styles[name]
        epochs = range(1, len(losses) + 1)
        left.plot(epochs, losses, color=color, linestyle=line, label=name)
        right.plot(epochs, [100 * a for a in accuracies], color=color, linestyle=line,
                   label=name)
    left.set(xlabel="epoch", ylabel="training cross-entropy", yscale="log")
    right.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 100))
    right.legend(loc="lower right")
    fig.suptitle("9 conv layers on 8x8 digits: plain vs residual, with and without batch norm")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    """Train the four variants, plot their curves; 0 on success."""
    parser = argparse.ArgumentParser(description="Plain vs residual, with vs without batch "
                                                 "norm: four 9-conv networks on the digits.")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per network (default 20)")
    parser.add_argument("--width", type=int, default=16,
                        help="channels of the first stage; the second has twice (default 16)")
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument("--lr", type=float, default=0.05,
                        help="SGD peak learning rate (default 0.05)")
    add_run_options(parser, "2 epochs per network: a smoke test that finishes in seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 2

    start_run(args)
    data = load_split(args.seed)
    print(f"digits: {len(data[0])} training and {len(data[1])} held-out test images (8x8)")
    curves = {}
    for name, residual, batch_norm in VARIANTS:
        mg.manual_seed(args.seed)                  # same initial weights for plain and residual
        model = DigitsNet(residual, batch_norm, args.width)
        start = time.perf_counter()
        curves[name] = train(model, data, args.epochs, args.batch_size, args.lr, args.seed, name)
        losses, accuracies, first_gradient = curves[name]
        print(f"{name:>12}: {sum(p.numel() for p in model.parameters())} parameters, "
              f"stem gradient norm at step 1 {first_gradient:.1e}, {args.epochs} epochs in "
              f"{time.perf_counter() - start:.1f}s, final train loss {losses[-1]:.4f}, "
              f"test accuracy {100 * accuracies[-1]:.2f}%")

    figure = os.path.join(args.out, "digits_resnet.png")
    save_figure(figure, curves)
    print(f"saved {figure}")
    print("test accuracy: " + " | ".join(f"{name} {100 * acc[-1]:.2f}%"
                                         for name, (_, acc, _) in curves.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
