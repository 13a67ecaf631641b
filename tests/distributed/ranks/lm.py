"""A small LSTM language model and its data, shared by the DDP rank scripts."""
import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

VOCAB, STEPS, ROWS = 11, 6, 4  # ROWS: the global batch, split across ranks


class LM(nn.Module):
    """Embedding -> LSTM (its weights reused at every time step) -> Linear."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 5)
        self.lstm = nn.LSTM(5, hidden)
        self.head = nn.Linear(hidden, VOCAB)

    def forward(self, ids):
        out, _ = self.lstm(self.embed(ids))
        return self.head(out.reshape(-1, out.shape[-1]))


def build(seed: int, dtype) -> LM:
    mg.manual_seed(seed)
    model = LM()
    return model.double() if dtype == "float64" else model


def batch(step: int):
    """(inputs, targets) of the whole global batch at ``step``: (STEPS, ROWS) each."""
    ids = np.random.default_rng(step).integers(0, VOCAB, size=(STEPS + 1, ROWS))
    return ids[:-1], ids[1:]


def loss_of(model, x, y):
    return F.cross_entropy(model(mg.tensor(x)), mg.tensor(y.reshape(-1)))


def rows(a, rank: int, world: int):
    per = a.shape[1] // world
    return a[:, rank * per:(rank + 1) * per]
