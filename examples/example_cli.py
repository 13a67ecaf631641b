"""The command-line options the examples share, the set-up they imply, and their loss meter."""
from __future__ import annotations

import argparse
import os

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg


def add_run_options(parser: argparse.ArgumentParser, quick_help: str) -> None:
    """--seed, --backend, --threads, --out and --quick."""
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", choices=mg.backends.BACKEND_CHOICES,
                        default=mg.backends.default_backend_name(),
                        help="array backend: numpy (CPU), cupy (NVIDIA GPU) or simgpu (simulated "
                             "GPU); default: $MINIGRAD_BACKEND, else numpy")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads (default 1: these matrices are too small to split, "
                             "and idle threads spin on a busy machine)")
    parser.add_argument("--out", default="runs", help="output directory (default runs/)")
    parser.add_argument("--quick", action="store_true", help=quick_help)


def start_run(args: argparse.Namespace) -> None:
    """Apply the shared options: BLAS threads, backend, seed, output directory."""
    threadpool_limits(args.threads)
    mg.set_backend(args.backend)
    mg.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)


class LossMeter:
    """Training losses (and any other per-step values) kept on the device until a
    logging point reads them all in one transfer.

    ``loss.item()`` at every step makes the CPU wait for the GPU to finish that step
    before it may queue the next one. ``add`` keeps the detached value where it is;
    ``read``/``mean`` cost one wait per logging point, and that wait also reports any
    out-of-range index the device found since (so a bad index still raises, a little
    later, instead of wrapping around silently)."""

    def __init__(self) -> None:
        self._steps: list = []      # one device vector per step
        self._weights: list = []    # e.g. the batch size, for a mean per example

    def __len__(self) -> int:
        return len(self._steps)

    def add(self, *values: mg.Tensor, weight: float = 1.0) -> None:
        """Keep this step's values (0-d tensors, the loss first) on the device."""
        self._steps.append(mg.stack([v.detach().reshape(()) for v in values]))
        self._weights.append(weight)

    def read(self) -> np.ndarray:
        """The kept steps' values as a host array (steps, values); the meter starts afresh."""
        rows = mg.stack(self._steps).numpy() if self._steps else np.zeros((0, 1))
        self._steps, self._weights = [], []
        return rows

    def mean(self) -> float:
        """The weighted mean of the kept losses (NaN if there are none); starts afresh."""
        weights = np.asarray(self._weights, dtype=np.float64)
        losses = self.read()[:, 0]
        return float(weights @ losses / weights.sum()) if len(losses) else float("nan")
