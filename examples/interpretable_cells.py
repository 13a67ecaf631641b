"""Which LSTM cells track what: "Visualizing and Understanding Recurrent Networks" on the main job.

Karpathy, Johnson & Fei-Fei (2015) found single cells of character-level LSTMs that follow
the text's structure: one is on inside quotes, one counts the position in the line. This
does the same for examples/char_lstm.py's model (a checkpoint, or a short run of it trained
here): it records every cell state c_t over validation text (an LSTM step hook with
``with_cell=True``), correlates each cell with features of the text -- inside quotes or
brackets (the plays' _italic stage directions_ count as brackets), position in the line,
speaker-name lines (all capitals), end of sentence -- reports the best cell for each, colours
the text by that cell's c_t (an HTML page and a PNG), and measures how many cells and
gates saturate (gates below 0.1 or above 0.9, |tanh c| above 0.9, more than half of the time).

    python examples/interpretable_cells.py --checkpoint runs/char_lstm.npz  # the main job's LSTM
    python examples/interpretable_cells.py           # trains a short one first (about 4 minutes)
    python examples/interpretable_cells.py --quick   # a 30-second smoke run

The last line printed gives each feature's best correlation and the saturated fractions.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import sys
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import minigrad as mg  # noqa: E402
import char_lstm  # noqa: E402
from example_cli import add_run_options, start_run  # noqa: E402

FIGURE = Path(__file__).resolve().parent.parent / "docs" / "interpretable_cells.png"
FEATURES = ("inside quotes/brackets", "position in line", "speaker-name line",
            "end of sentence")
OPENING, CLOSING = "([{", ")]}"
SATURATED = 0.1  # a gate below this is left-saturated, above 1 - this right-saturated


# -- the text's features -------------------------------------------------------------------

def text_features(text: str) -> dict[str, np.ndarray]:
    """Per character, what the state after reading it could know: inside "quotes", (brackets)
    or _underscores_ (Markdown italics: the plays' stage directions; an underscore between
    two word characters is part of a name); the column in the line; whether the line's
    letters are all capitals; and whether a sentence has ended (. ! ?) with no letter since."""
    inside, column, capitals, ended = (np.zeros(len(text)) for _ in range(4))
    quoted = italic = False
    depth, col, sentence_over = 0, 0, False

    def word(i: int) -> bool:
        return 0 <= i < len(text) and (text[i].isalnum() or text[i] == "_")

    for i, ch in enumerate(text):
        before = quoted or italic or depth > 0
        if ch == '"':
            quoted = not quoted
        elif ch == "_" and not (word(i - 1) and word(i + 1)):
            italic = not italic
        elif ch in OPENING:
            depth += 1
        elif ch in CLOSING:
            depth = max(depth - 1, 0)
        inside[i] = before or quoted or italic or depth > 0  # delimiters included
        column[i] = col
        col = 0 if ch == "\n" else col + 1
        if ch.isalpha():
            sentence_over = False
        elif ch in ".!?":
            sentence_over = True
        ended[i] = sentence_over
    start = 0
    for line in text.split("\n"):  # the line and its newline
        letters = [c for c in line if c.isalpha()]
        capitals[start:start + len(line) + 1] = len(letters) >= 2 and all(
            c.isupper() for c in letters)
        start += len(line) + 1
    return dict(zip(FEATURES, (inside, column, capitals, ended)))


def correlations(states: np.ndarray, feature: np.ndarray) -> Optional[np.ndarray]:
    """Pearson correlation of every column of (T, N) ``states`` with ``feature`` (T,); None
    when the feature is constant over the text; 0 for a constant cell."""
    f = feature - feature.mean()
    if not f.any():
        return None
    s = states - states.mean(axis=0)
    scale = np.sqrt((s * s).sum(axis=0) * (f * f).sum())
    r = np.zeros(states.shape[1])
    np.divide(f @ s, scale, out=r, where=scale > 0)
    return r


# -- the model's states ----------------------------------------------------------------------

def load_model(path: str) -> tuple[char_lstm.CharModel, char_lstm.Vocabulary]:
    """A char_lstm.py checkpoint's model (an LSTM) and vocabulary."""
    ckpt = mg.load(path)
    config = json.loads(ckpt["config"])
    if config["cell"] != "lstm":
        raise SystemExit(f"{path} holds a {config['cell']}: cell states need an LSTM")
    vocab = char_lstm.Vocabulary(ckpt["vocab"])
    model = char_lstm.CharModel(len(vocab), config["embed"], config["hidden"], config["layers"],
                                "lstm", config["dropout"])
    model.load_state_dict(ckpt["model"])
    return model.eval(), vocab


@mg.no_grad()
def record_states(model: char_lstm.CharModel, ids: np.ndarray, warmup: np.ndarray,
                  chunk: int = 250) -> tuple[list, list, list]:
    """h_t and c_t of every layer after each character of ``ids``, read as one stream after
    ``warmup``: two lists of (T, hidden) arrays, one per layer, and each layer's h before
    the first character."""
    model.eval()
    _, state = model(mg.tensor(warmup.reshape(-1, 1))) if len(warmup) else (None, None)
    hidden, layers = model.rnn.hidden_size, model.rnn.num_layers
    h0 = [np.zeros(hidden)] * layers if state is None else list(state[0].numpy()[:, 0])
    hs, cs = ([[] for _ in range(layers)] for _ in range(2))

    def keep(module: object, layer: int, direction: int, t: int, h: mg.Tensor,
             c: mg.Tensor) -> None:
        hs[layer].append(h.numpy()[0])
        cs[layer].append(c.numpy()[0])

    handle = model.rnn.register_step_hook(keep, with_cell=True)
    try:
        for start in tqdm(range(0, len(ids), chunk), desc="recording c_t", unit="chunk",
                          leave=False, file=sys.stderr):
            _, state = model(mg.tensor(ids[start:start + chunk].reshape(-1, 1)), state)
    finally:
        handle.remove()
    return [np.stack(h) for h in hs], [np.stack(c) for c in cs], h0


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@mg.no_grad()
def gates(model: char_lstm.CharModel, ids: np.ndarray, hs: list, h0: list) -> list:
    """Per layer, the gates at every step recomputed from the weights, the layer's input and
    the recorded h_{t-1} (PyTorch's order i, f, g, o): {"input", "forget", "cell", "output"}
    (T, hidden) arrays; ``h0`` holds each layer's h before the first character."""
    x = model.embed(mg.tensor(ids)).numpy()
    out = []
    for layer, h in enumerate(hs):
        w = {name: getattr(model.rnn, f"{name}_l{layer}").detach().numpy()
             for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        previous = np.vstack([h0[layer][None], h[:-1]])
        z = x @ w["weight_ih"].T + w["bias_ih"] + previous @ w["weight_hh"].T + w["bias_hh"]
        i, f, g, o = np.split(z, 4, axis=1)
        out.append({"input": sigmoid(i), "forget": sigmoid(f), "cell": np.tanh(g),
                    "output": sigmoid(o)})
        x = h
    return out


def saturation(cs: list, gate_values: list) -> dict[str, np.ndarray]:
    """Per unit (all layers), the fraction of steps it is saturated: "cells" (|tanh c| > 0.9)
    and, per gate, "<gate> left" (< 0.1) and "<gate> right" (> 0.9)."""
    result = {"cells": np.concatenate([(np.abs(np.tanh(c)) > 1 - SATURATED).mean(0)
                                       for c in cs])}
    for gate in ("input", "forget", "output"):
        values = np.concatenate([g[gate] for g in gate_values], axis=1)
        result[f"{gate} left"] = (values < SATURATED).mean(0)
        result[f"{gate} right"] = (values > 1 - SATURATED).mean(0)
    return result


# -- pictures ------------------------------------------------------------------------------

def window(text: str, feature: np.ndarray, size: int) -> slice:
    """About ``size`` characters from the start of a line, two lines before the feature
    first changes after the first 200 characters (where the text shows it best)."""
    changes = np.flatnonzero(np.diff(feature[200:]) > 0) + 201
    at = int(changes[0]) if len(changes) and feature.max() <= 1 else min(200, len(text))
    start = text.rfind("\n", 0, at) + 1
    for _ in range(2):
        start = text.rfind("\n", 0, max(start - 1, 0)) + 1
    end = text.find("\n", start + size)
    return slice(start, len(text) if end < 0 else end)


COLOURS = plt.get_cmap("coolwarm")


def scaled(c: np.ndarray) -> np.ndarray:
    """A cell's c_t mapped to [-1, 1] over its own range (1st to 99th percentile): cells
    that track a feature often sit far from 0 and vary by less than tanh would show."""
    low, high = np.percentile(c, [1, 99])
    return np.clip(2 * (c - low) / max(high - low, 1e-12) - 1, -1, 1)


def write_html(path: str, text: str, panels: list) -> None:
    """The text with each character's background coloured by the cell's activation."""
    parts = ["<!doctype html><meta charset='utf-8'><title>interpretable LSTM cells</title>",
             "<style>pre{font:13px/1.35 monospace;white-space:pre-wrap}</style>"]
    for title, span, activation in panels:
        parts.append(f"<h3>{html.escape(title)}</h3><pre>")
        for ch, a in zip(text[span], activation):
            r, g, b, _ = COLOURS(0.5 + 0.5 * a)
            parts.append(f"<span style='background:rgb({r * 255:.0f},{g * 255:.0f},"
                         f"{b * 255:.0f})'>{html.escape(ch)}</span>")
        parts.append("</pre>")
    Path(path).write_text("".join(parts), encoding="utf-8")


def draw(path: str, text: str, panels: list, saturated: dict, width: int = 64,
         rows: int = 14) -> None:
    """The same coloured text as the HTML page, one panel per feature, and the gates'
    saturation: fraction of steps below 0.1 against above 0.9, one dot per unit."""
    fig = plt.figure(figsize=(15, 0.2 * rows * max(len(panels), 3) + 1))
    outer = fig.add_gridspec(1, 2, width_ratios=[3.2, 1], wspace=0.12)
    left = outer[0].subgridspec(max(len(panels), 1), 1, hspace=0.25)
    right = outer[1].subgridspec(3, 1, hspace=0.55)
    for k, (title, span, activation) in enumerate(panels):
        ax = fig.add_subplot(left[k])
        image = np.ones((rows, width, 3))
        row = col = 0
        for ch, a in zip(text[span], activation):
            if row == rows:
                break
            if ch != "\n":
                image[row, col] = COLOURS(0.5 + 0.5 * a)[:3]
                ax.text(col, row, ch, ha="center", va="center", family="monospace", size=9)
                col += 1
            if ch == "\n" or col == width:
                row, col = row + 1, 0
        ax.imshow(image, aspect="auto", interpolation="nearest")
        ax.set_title(title, size=10, loc="left")
        ax.axis("off")
    for k, gate in enumerate(("input", "forget", "output")):
        ax = fig.add_subplot(right[k])
        ax.scatter(saturated[f"{gate} left"], saturated[f"{gate} right"], s=6, alpha=0.5)
        ax.plot([0, 1], [1, 0], color="0.8", lw=0.8)
        ax.set(xlim=(-0.02, 1), ylim=(-0.02, 1))
        ax.set_title(f"{gate} gates: share of steps", size=10)
        ax.set_xlabel("< 0.1", size=9, labelpad=1)
        ax.set_ylabel("> 0.9", size=9, labelpad=1)
    fig.savefig(path, dpi=75, bbox_inches="tight")
    plt.close(fig)


# -- the program -----------------------------------------------------------------------------

def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None,
                   help="a checkpoint of examples/char_lstm.py (an LSTM); without it a short "
                        "run of char_lstm.py trains one into --out first")
    p.add_argument("--data", default="shakespeare",
                   help="the text (char_lstm.py's --data); its validation split is analysed")
    p.add_argument("--steps", type=int, default=1000, help="training steps of the short run")
    p.add_argument("--time-limit", type=float, default=3.0,
                   help="minutes the short run may train")
    p.add_argument("--layers", type=int, default=2, help="LSTM layers of the short run")
    p.add_argument("--hidden", type=int, default=256, help="cells per layer of the short run")
    p.add_argument("--embed", type=int, default=64, help="embedding size of the short run")
    p.add_argument("--chars", type=int, default=20000,
                   help="validation characters whose cell states are recorded")
    p.add_argument("--show", type=int, default=700, help="characters shown per feature")
    p.add_argument("--figure", default=None,
                   help=f"PNG (default: {FIGURE.relative_to(FIGURE.parents[1])}; with --quick, "
                        "in --out)")
    add_run_options(p, "a small LSTM, a short training, fewer characters: a smoke run")
    if p.parse_known_args(argv)[0].quick:
        p.set_defaults(steps=120, time_limit=0.3, layers=1, hidden=64, embed=16, chars=2500,
                       show=500)
    return p.parse_args(argv)


def train_short_run(args: argparse.Namespace) -> str:
    """Train with examples/char_lstm.py itself (same model, data, split and schedule)."""
    path = os.path.join(args.out, "interpretable_cells_lstm.npz")
    print(f"no --checkpoint: training a {args.layers}x{args.hidden} LSTM with char_lstm.py "
          f"for {args.steps} steps (at most {args.time_limit} min)", flush=True)
    char_lstm.main(["--data", args.data, "--steps", str(args.steps), "--time-limit",
                    str(args.time_limit), "--layers", str(args.layers), "--hidden",
                    str(args.hidden), "--embed", str(args.embed), "--seed", str(args.seed),
                    "--backend", args.backend, "--eval-every", str(max(args.steps // 4, 1)),
                    "--checkpoint", path, "--checkpoint-every", str(args.steps), "--prompt",
                    "", "--sample-length", "200", "--plot",
                    os.path.join(args.out, "interpretable_cells_loss.png")])
    return path


def main(argv: Optional[list] = None) -> dict:
    """Returns, per feature, (layer, cell, r) of the best cell (None if the text lacks it)."""
    args = parse_args(argv)
    start_run(args)
    path = args.checkpoint or train_short_run(args)
    model, vocab = load_model(path)
    text = char_lstm.training_text(args.data)
    split = int(len(text) * 0.95)  # char_lstm.py's validation split
    text, before = text[split:split + args.chars], text[max(split - 500, 0):split]
    try:
        ids, warmup = vocab.encode(text), vocab.encode(before)
    except ValueError as error:
        raise SystemExit(f"{path} was trained on another text than --data {args.data}: {error}")
    hs, cs, h0 = record_states(model, ids, warmup)
    hidden = model.rnn.hidden_size
    states = np.concatenate(cs, axis=1)
    print(f"{path}: {len(hs)} layers x {hidden} cells; {len(text):,} validation characters "
          f"of --data {args.data}")

    best, panels = {}, []
    for name, feature in text_features(text).items():
        r = correlations(states, feature)
        if r is None:
            best[name] = None
            print(f"  {name:24s} absent from the text")
            continue
        k = int(np.argmax(np.abs(r)))
        best[name] = (k // hidden + 1, k % hidden, float(r[k]))
        print(f"  {name:24s} layer {k // hidden + 1} cell {k % hidden:4d}  r = {r[k]:+.3f}")
        span = window(text, feature, args.show)
        panels.append((f"{name}: layer {k // hidden + 1}, cell {k % hidden} (r = {r[k]:+.2f})",
                       span, scaled(states[:, k])[span]))

    saturated = saturation(cs, gates(model, ids, hs, h0))
    often = {key: float((v > 0.5).mean()) for key, v in saturated.items()}
    gate_units = float(np.mean([(saturated[f"{g} left"] > 0.5) | (saturated[f"{g} right"] > 0.5)
                                for g in ("input", "forget", "output")]))
    print("saturated more than half of the time: cells {:.0%}; ".format(often["cells"]) + ", "
          .join(f"{g} gates {often[g + ' left']:.0%} < 0.1, {often[g + ' right']:.0%} > 0.9"
                for g in ("input", "forget", "output")))

    page = os.path.join(args.out, "interpretable_cells.html")
    write_html(page, text, panels)
    figure = args.figure or (os.path.join(args.out, FIGURE.name) if args.quick else str(FIGURE))
    draw(figure, text, panels, saturated)
    print(f"text coloured by each best cell's c_t (blue: low, red: high): {page}, {figure}")
    print("best cells: " + ", ".join(
        f"{name} " + ("absent" if b is None else f"r = {b[2]:+.2f} (L{b[0]} #{b[1]})")
        for name, b in best.items()) + f"; saturated: cells {often['cells']:.0%}, "
        f"gates {gate_units:.0%}")
    return best


if __name__ == "__main__":
    main()
