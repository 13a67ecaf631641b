"""Visual question answering in miniature: a CNN looks, an LSTM reads the question, an MLP answers.

Scenes are drawn in code: 24x24 RGB canvases with two to six shapes (square, circle, triangle)
in four colours (red, green, blue, yellow), one shape per cell of a 3x3 grid, with jittered
positions, sizes, brightness and pixel noise. Each scene comes with one question from four
templates, tokenised into words:

    is there a red circle ?          -> yes / no (half of each)
    what colour is the square ?      -> red / green / blue / yellow (exactly one square shown)
    what shape is the blue thing ?   -> square / circle / triangle (exactly one blue shape)
    how many triangles are there ?   -> zero / one / two / three (counts drawn evenly)

The model has the parts of the VQA paper's (Antol et al., 2015), with the fusion done per
region of the image, as attention models do:

    image:    (Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d) x 3, 24x24 -> 3x3: one C-channel
              feature vector per grid cell
    question: Embedding -> LSTM, the output at the last word -> Linear: C gates
    fusion:   each cell's features times the gates (elementwise product), summed over cells
    answer:   Linear -> ReLU -> Linear over the 13 answers

The product lets the question pick the feature channels it asks about ("square", "red
circle", ...) and the sum over cells adds them up (present? how many? which colour?).

A question-only baseline (the same LSTM and answer MLP with the image branch removed) is trained
the same way. It can learn only the answer priors of each template, so the gap between the two
accuracies is what the model gets from looking.

    python examples/vqa.py [--epochs 6] [--train 20000] [--test 1000] [--hidden 128]
                           [--channels 64] [--batch-size 64] [--lr 3e-3] [--seed 0]
                           [--backend numpy|cupy] [--threads 1] [--out runs] [--quick]

The last line is the headline: ``test accuracy X.XX% (question only Y.YY%) on N held-out
questions``.
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
from example_cli import add_run_options, start_run  # noqa: E402

SIZE, CELL = 24, 8                                  # a 3x3 grid of 8x8 cells
COLOURS = {"red": (0.95, 0.15, 0.15), "green": (0.15, 0.8, 0.2),
           "blue": (0.2, 0.35, 1.0), "yellow": (0.95, 0.85, 0.1)}
SHAPES = ("square", "circle", "triangle")
COUNTS = ("zero", "one", "two", "three")
ANSWERS = ("yes", "no") + tuple(COLOURS) + SHAPES + COUNTS
KINDS = ("exists", "colour", "shape", "count")
TEMPLATES = {"exists": "is there a {colour} {shape} ?",
             "colour": "what colour is the {shape} ?",
             "shape": "what shape is the {colour} thing ?",
             "count": "how many {shape}s are there ?"}
PAD = "<pad>"                                       # word id 0, after each question's end
VOCAB = (PAD,) + tuple(sorted({word for template in TEMPLATES.values()
                               for word in template.split() if "{" not in word}
                              | set(COLOURS) | set(SHAPES) | {s + "s" for s in SHAPES}))


def shape_mask(shape: str, cy: float, cx: float, radius: float) -> np.ndarray:
    """Boolean (SIZE, SIZE) mask of one shape centred at (cy, cx), about 2·radius across."""
    y, x = np.mgrid[:SIZE, :SIZE] + 0.5
    if shape == "square":
        return (np.abs(y - cy) <= radius) & (np.abs(x - cx) <= radius)
    if shape == "circle":
        return (y - cy) ** 2 + (x - cx) ** 2 <= (radius + 0.4) ** 2
    top = cy - radius                                # apex up, base 2·radius wide at the bottom
    return (y >= top) & (y <= cy + radius) & (np.abs(x - cx) <= (y - top) / 2 + 0.3)


def draw_scene(rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """A (3, SIZE, SIZE) float32 image and its objects as (colour, shape) pairs; at most three
    of any shape, so every count question has an answer among zero..three."""
    while True:
        objects = [(str(rng.choice(list(COLOURS))), str(rng.choice(SHAPES)))
                   for _ in range(rng.integers(2, 7))]
        if max(sum(s == shape for _, s in objects) for shape in SHAPES) <= 3:
            break
    image = np.zeros((3, SIZE, SIZE))
    for (colour, shape), cell in zip(objects, rng.choice(9, len(objects), replace=False)):
        cy, cx = CELL * (cell // 3 + 0.5), CELL * (cell % 3 + 0.5)
        mask = shape_mask(shape, cy + rng.uniform(-0.6, 0.6), cx + rng.uniform(-0.6, 0.6),
                          rng.uniform(2.4, 3.0))
        image[:, mask] = np.array(COLOURS[colour])[:, None] * rng.uniform(0.75, 1.0)
    image += rng.normal(0.0, 0.05, image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32), objects


def ask(kind: str, objects: list[tuple[str, str]], rng: np.random.Generator
        ) -> Optional[tuple[str, str]]:
    """A (question, answer) of this kind about the scene, or None when the scene has none
    (no shape or colour shown exactly once). Yes/no and counts are drawn evenly."""
    colours = [c for c, _ in objects]
    shapes = [s for _, s in objects]
    if kind == "exists":
        if rng.random() < 0.5:
            colour, shape = objects[rng.integers(len(objects))]
            return TEMPLATES[kind].format(colour=colour, shape=shape), "yes"
        absent = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in objects]
        colour, shape = absent[rng.integers(len(absent))]
        return TEMPLATES[kind].format(colour=colour, shape=shape), "no"
    if kind == "colour":
        single = [s for s in SHAPES if shapes.count(s) == 1]
        if not single:
            return None
        shape = single[rng.integers(len(single))]
        return TEMPLATES[kind].format(shape=shape), colours[shapes.index(shape)]
    if kind == "shape":
        single = [c for c in COLOURS if colours.count(c) == 1]
        if not single:
            return None
        colour = single[rng.integers(len(single))]
        return TEMPLATES[kind].format(colour=colour), shapes[colours.index(colour)]
    target = int(rng.integers(len(COUNTS)))
    matching = [s for s in SHAPES if shapes.count(s) == target] or list(SHAPES)
    shape = matching[rng.integers(len(matching))]
    return TEMPLATES[kind].format(shape=shape), COUNTS[shapes.count(shape)]


def make_dataset(count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``count`` (scene, question, answer) triples, question kinds in equal shares: images
    (N, 3, SIZE, SIZE), word ids (N, T) padded at the end, lengths, answer ids, kind ids."""
    images, questions, answers, kinds = [], [], [], []
    for k in range(count):
        kind = KINDS[k % len(KINDS)]
        qa = None
        while qa is None:                       # a fresh scene until one fits the question
            image, objects = draw_scene(rng)
            qa = ask(kind, objects, rng)
        images.append(image)
        questions.append([VOCAB.index(word) for word in qa[0].split()])
        answers.append(ANSWERS.index(qa[1]))
        kinds.append(KINDS.index(kind))
    lengths = np.array([len(q) for q in questions])
    words = np.zeros((count, lengths.max()), dtype=np.int64)
    for row, question in enumerate(questions):
        words[row, :len(question)] = question
    return {"images": np.stack(images), "words": words, "lengths": lengths,
            "answers": np.array(answers), "kinds": np.array(kinds)}


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU, then 2x2 max pooling halves the grid."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(), nn.MaxPool2d(2))


class VQANet(nn.Module):
    """CNN cell features gated by the LSTM's question vector, summed over the cells, then an
    MLP over the answers. Without the image branch (``use_image=False``) the question vector
    goes to the MLP alone: the question-only baseline."""

    def __init__(self, hidden: int = 128, channels: int = 64, embed: int = 32,
                 use_image: bool = True) -> None:
        super().__init__()
        self.use_image = use_image
        if use_image:
            self.cnn = nn.Sequential(
                conv_block(3, 16), conv_block(16, 32), conv_block(32, channels))  # 24 -> 3
            self.gate = nn.Linear(hidden, channels)
        self.embed = nn.Embedding(len(VOCAB), embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.classifier = nn.Sequential(nn.Linear(channels if use_image else hidden, hidden),
                                        nn.ReLU(), nn.Linear(hidden, len(ANSWERS)))

    def forward(self, images: mg.Tensor, words: mg.Tensor, lengths: mg.Tensor) -> mg.Tensor:
        """Answer logits (B, len(ANSWERS)); the question vector is the LSTM's output at each
        question's last word (the padding after it is never read)."""
        outputs, _ = self.lstm(self.embed(words))
        question = outputs[mg.arange(outputs.size(0)), lengths - 1]
        if not self.use_image:
            return self.classifier(question)
        cells = self.cnn(images).flatten(2)                 # (B, channels, 9): one per cell
        fused = (cells * self.gate(question)[:, :, None]).sum(2)
        return self.classifier(fused)


def tensors(data: dict[str, np.ndarray]) -> TensorDataset:
    """What the model reads and answers, as a dataset of (image, words, length, answer)."""
    return TensorDataset(*(mg.tensor(data[key])
                           for key in ("images", "words", "lengths", "answers")))


def predict(model: VQANet, data: dict[str, np.ndarray], batch_size: int = 500) -> np.ndarray:
    """Answer ids for every question (eval mode, no tape)."""
    model.eval()
    with mg.no_grad():
        predicted = [model(images, words, lengths).argmax(1).numpy()
                     for images, words, lengths, _ in DataLoader(tensors(data), batch_size)]
    model.train()
    return np.concatenate(predicted)


def train(model: VQANet, data: dict[str, np.ndarray], epochs: int, batch_size: int, lr: float,
          seed: int, desc: str) -> list[float]:
    """Adam with cosine decay; returns the per-epoch mean training loss."""
    optimizer = mg.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(tensors(data), batch_size, shuffle=True,
                        generator=mg.Generator().manual_seed(seed))
    schedule = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(loader))
    losses = []
    bar = tqdm(total=epochs * len(loader), desc=desc, leave=False, file=sys.stderr)
    for _ in range(epochs):
        total = 0.0
        for images, words, lengths, answers in loader:
            loss = F.cross_entropy(model(images, words, lengths), answers)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(answers)
            bar.update()
        losses.append(total / len(data["answers"]))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()
    return losses


def by_kind(predicted: np.ndarray, data: dict[str, np.ndarray]) -> str:
    """Accuracy per question kind, e.g. ``exists 98.0%, colour 97.2%, ...``."""
    right = predicted == data["answers"]
    return ", ".join(f"{kind} {100 * right[data['kinds'] == k].mean():.1f}%"
                     for k, kind in enumerate(KINDS))


def save_figure(path: str, data: dict[str, np.ndarray], predicted: np.ndarray,
                blind: np.ndarray, shown: int = 8) -> None:
    """The first test scenes with their questions, the model's answer and the question-only
    baseline's (red where wrong), and the true answer."""
    fig, axes = plt.subplots(2, shown // 2, figsize=(2.7 * (shown // 2), 7.4))
    for k, ax in enumerate(axes.ravel()):
        question = " ".join(VOCAB[w] for w in data["words"][k, :data["lengths"][k]])
        truth = ANSWERS[data["answers"][k]]
        ax.imshow(data["images"][k].transpose(1, 2, 0), interpolation="nearest")
        ax.set_title(question, fontsize=9)
        lines = (("model", ANSWERS[predicted[k]]), ("question only", ANSWERS[blind[k]]),
                 ("true", truth))
        for row, (who, answer) in enumerate(lines):
            ax.text(0.0, -0.04 - 0.1 * row, f"{who}: {answer}", fontsize=9, va="top",
                    transform=ax.transAxes, color="black" if answer == truth else "red")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("held-out scenes: answers of the CNN+LSTM model and of the question-only "
                 "baseline (red: wrong)", fontsize=10)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.1, wspace=0.1, hspace=0.5)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    """Generate scenes, train the VQA model and the question-only baseline; 0 on success."""
    parser = argparse.ArgumentParser(description="Visual question answering on synthetic "
                                                 "scenes of coloured shapes, against a "
                                                 "question-only baseline.")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs (default 6)")
    parser.add_argument("--train", type=int, default=20000,
                        help="training questions, one scene each (default 20000)")
    parser.add_argument("--test", type=int, default=1000,
                        help="held-out questions on fresh scenes (default 1000)")
    parser.add_argument("--hidden", type=int, default=128,
                        help="LSTM and answer-MLP width (default 128)")
    parser.add_argument("--channels", type=int, default=64,
                        help="CNN feature channels per cell = question gates (default 64)")
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    add_run_options(parser, "a short run on fewer scenes: a smoke test that finishes in seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.train, args.test = 3, 1500, 200

    start_run(args)
    rng = np.random.default_rng(args.seed)
    train_data, test_data = make_dataset(args.train, rng), make_dataset(args.test, rng)
    print(f"scenes: {args.train} training and {args.test} held-out (24x24 RGB, one question "
          f"each); {len(VOCAB)} words, {len(ANSWERS)} answers")

    results = {}
    for name, use_image in (("image+question", True), ("question only", False)):
        mg.manual_seed(args.seed)
        model = VQANet(args.hidden, args.channels, use_image=use_image)
        start = time.perf_counter()
        losses = train(model, train_data, args.epochs, args.batch_size, args.lr, args.seed, name)
        predicted = predict(model, test_data)
        results[name] = predicted
        print(f"{name:>14}: {args.epochs} epochs in {time.perf_counter() - start:.1f}s, final "
              f"train loss {losses[-1]:.4f}, test accuracy "
              f"{100 * (predicted == test_data['answers']).mean():.2f}% "
              f"({by_kind(predicted, test_data)})")

    figure = os.path.join(args.out, "vqa.png")
    save_figure(figure, test_data, results["image+question"], results["question only"])
    print(f"saved {figure}")
    seen, blind = ((results[name] == test_data["answers"]).mean()
                   for name in ("image+question", "question only"))
    print(f"test accuracy {100 * seen:.2f}% (question only {100 * blind:.2f}%) on {args.test} "
          f"held-out questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
